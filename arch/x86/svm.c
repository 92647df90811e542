// SPDX-License-Identifier: MIT
/*
 * The AMD SVM backend of the vCPU layer (include/dyad/vcpu.h). The guest-physical space is the
 * VMM's address space: nCR3 is the process's root pair + 4096, the odd half of the pair.
 *
 * Isolation: every I/O port and every MSR exits except the MSRs switched around each entry
 * (VMSAVE/VMLOAD: FS/GS bases, KERNEL_GS_BASE, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*; the list is
 * vx86_msr_pass). EFER (whose SVME the guest must not see), PAT and the TSC exit and are
 * emulated here with the x86 layer's rules. The guest's x87/SSE/AVX state, XCR0, PKRU and
 * DR0-DR3 are switched once per run call by the x86 layer (vx86_state_*); XSETBV exits where
 * the CPU intercepts it (AMD hardware, Bochs) and takes effect at the next entry; #AC and #DB
 * exit and are reflected, so an exception loop in delivery cannot hold the CPU.
 *
 * Rules SVM leaves to software: V_INTR_MASKING keeps host interrupts away from the guest's IF
 * and CR8; VMRUN runs with GIF clear and the host's IF set, so a host interrupt is an INTR
 * exit taken at STGI and a spinning guest never starves the host. An event whose delivery an
 * exit cut short (EXITINTINFO) is re-injected before anything else. External interrupts go in
 * through EVENTINJ with the interrupt window, except under QEMU's TCG, which delivered EVENTINJ
 * interrupts twice: there they go through V_IRQ (see inject()).
 *
 * NMIs (DYAD_VCPU_NMI) go in through EVENTINJ. SVM keeps no NMI blocking for the guest (V_NMI
 * would, on CPUs that have it; neither emulator does), so it is kept here: from the injection
 * the guest is in its handler and its IRET is intercepted. At that exit the IRET has not run
 * yet, so the guest goes on with RFLAGS.TF set and #DB intercepted: the single-step trap right
 * after the IRET ends the blocking, and only then can the next NMI go in (one delivered at the
 * IRET itself would land on the handler's own frame). An NMI that waits for an STI / MOV SS
 * shadow, or behind another event, goes in at the next entry.
 *
 * No NRIP save under QEMU TCG: the length of an instruction the kernel skips is decoded from
 * its bytes (prefixes, then the expected opcode). TLB: each vCPU has its own ASID; its nested
 * TLB is flushed (TLB_CONTROL, by ASID where the CPU can) at the next VMRUN only when the pair
 * took a right from the odd half since the last flush (pmap_guest_tlb_gen moved), after a
 * nested page fault on a present entry, and when the ASIDs wrapped (a new generation).
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/svm.h>
#include <arch/x86/trap.h>
#include <arch/x86/vcpu_x86.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/string.h>
#include <dyad/vcpu.h>

#define CPUID_EXT1_ECX_SVM BIT(2)
#define IOPM_ORDER 2 /* 12 KiB used */
#define MSRPM_ORDER 1 /* 8 KiB */
#define PAT_DEFAULT 0x0007040600070406ULL
#define DR6_BS BIT(14)

struct svm_vcpu {
	struct vmcb *vmcb;
	paddr_t vmcb_pa;
	struct svm_gprs gprs;
	struct vx86_state state; /* FPU, XCR0, PKRU, debug registers: the x86 layer's */
	u64 exit_rip; /* the RIP reported at the last exit */
	bool loaded; /* the guest's registers are in the VMCB and gprs, not in run->regs */
	u64 reinject; /* EXITINTINFO to deliver first, 0: none */
	u64 asid_gen; /* the generation of asid_cpu's ASIDs its ASID is from */
	u32 asid_cpu; /* the CPU whose ASID space its ASID is from */
	u64 migrations; /* VMRUNs on another CPU than the last one */
	u64 tlb_gen; /* pmap_guest_tlb_gen() last flushed for */
	bool flush; /* flush this ASID's nested TLB before the next VMRUN */
	bool window; /* V_IRQ armed for the interrupt window (EVENTINJ delivery) */
	u8 virq; /* external interrupt handed to the CPU through V_IRQ, not yet taken; 0: none */
	bool virq_armed; /* V_IRQ set for virq at the last VMRUN */
	bool nmi_masked; /* the guest's NMI handler runs: from the injection to its IRET's end */
	bool nmi_step; /* TF set at the guest's IRET: the next #DB exit ends nmi_masked */
	bool nmi_step_tf; /* the guest's own TF was set at that IRET: the #DB is also its */
	bool nmi_injected; /* this VMRUN injects the latched NMI */
	paddr_t block_pa; /* the struct svm_block this lives in */
};

/* One block of SVM_BLOCK_ORDER per vCPU: the FPU images and the state above. */
struct svm_block {
	u8 guest_fpu[PAGE_SIZE]; /* XSAVE (or FXSAVE) image, 64-byte aligned */
	u8 host_fpu[PAGE_SIZE]; /* the VMM's registers while the guest runs */
	struct svm_vcpu sv;
};
#define SVM_BLOCK_ORDER 2
_Static_assert(sizeof(struct svm_block) <= (PAGE_SIZE << SVM_BLOCK_ORDER), "svm_block");

static struct {
	bool nrips, flush_by_asid;
	bool irq_by_virq; /* QEMU's TCG: external interrupts through V_IRQ (see inject()) */
	u32 nasid;
	paddr_t iopm, msrpm;
	bool enabled;
} svm;

/*
 * Per CPU: the host save area (VM_HSAVE_PA) and the VMSAVE/VMLOAD area of the host, and the
 * CPU's own ASID space. ASIDs tag one CPU's TLB only, so each CPU hands out its own, in
 * generations: when they run out the generation moves on and the next VMRUN of each vCPU on
 * that CPU takes a new one with a flush of all ASIDs. A vCPU that comes to another CPU takes
 * an ASID there in the same way: nothing it cached on an earlier stay can be used.
 */
static struct {
	paddr_t hsave, host_area;
	u32 next_asid;
	u64 asid_gen;
	bool on;
} svm_cpus[SMP_MAX_CPUS];

static inline void clgi(void)
{
	__asm__ volatile("clgi" : : : "memory");
}

static inline void stgi(void)
{
	__asm__ volatile("stgi" : : : "memory");
}

static bool svm_detect(void)
{
	u32 a, b, c, d, max_ext;
	const char *missing = NULL;

	cpuid(0x80000000, 0, &max_ext, &b, &c, &d);
	if (max_ext >= 0x80000001)
		cpuid(0x80000001, 0, &a, &b, &c, &d);
	else
		c = 0;
	if (!(c & CPUID_EXT1_ECX_SVM) || max_ext < 0x8000000a) {
		missing = "SVM (CPUID 0x80000001 ECX[2])";
	} else if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
		missing = "SVM: disabled by firmware (VM_CR.SVMDIS)";
	} else {
		cpuid(0x8000000a, 0, &a, &b, &c, &d);
		svm.nasid = b;
		svm.nrips = d & SVM_FEATURE_NRIPS;
		svm.flush_by_asid = d & SVM_FEATURE_FLUSH_BY_ASID;
		if (!(d & SVM_FEATURE_NPT))
			missing = "nested paging (CPUID 0x8000000A EDX[0])";
		else if (b < 2)
			missing = "a guest ASID (CPUID 0x8000000A EBX < 2)";
	}
	if (missing) {
		printf("svm: missing %s\n", missing);
		return false;
	}
	vx86_init();
	printf("svm: SVM with nested paging, %u ASIDs, nrip-save=%d flush-by-asid=%d xsave=%d\n",
	       svm.nasid, svm.nrips, svm.flush_by_asid, fpu_xsave_enabled());
	if (!cpu_features.qemu_tcg)
		return true;
	/* QEMU's TCG delivers an EVENTINJ interrupt twice: see inject(). */
	svm.irq_by_virq = true;
	printf("svm: QEMU TCG: external interrupts go in through V_IRQ, not EVENTINJ\n");
	/*
	 * QEMU's TCG (7.2) clears a bit of its first CPU's hidden flags from the thread of any CPU
	 * that restores x87 state (FXRSTOR, XRSTOR, FRSTOR, FLDENV) with a plain read-modify-write.
	 * The same word holds that CPU's nested-paging switch, which its #VMEXIT clears and VMRUN
	 * sets: a write that lands in between restores the old word, and the host then walks its
	 * own page tables through the guest's (a triple fault), or a guest runs without nested
	 * paging. Guests therefore stay off the boot CPU there (docs/smp.md).
	 */
	sched_exclude_guests(0);
	printf("svm: QEMU TCG: guests run on CPUs other than the boot CPU\n");
	return true;
}

/* The MSRPM's two bits (read, write) of @msr; every MSR outside its ranges always exits. */
static void msrpm_pass(u8 *pm, u32 msr)
{
	u32 base = msr < 0x2000 ? 0 : msr >= 0xc0000000 && msr < 0xc0002000 ? 0x800 : 0x1000;
	u32 n = msr & 0x1fff;

	pm[base + n / 4] &= (u8) ~(3u << ((n % 4) * 2));
}

/* EFER.SVME and the host save area on this CPU (an IPI function). */
static void svm_enable_cpu(void *arg)
{
	unsigned cpu = this_cpu_id();

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, svm_cpus[cpu].hsave);
	svm_cpus[cpu].on = true;
}

static void svm_disable_cpu(void *arg)
{
	unsigned cpu = this_cpu_id();

	if (rdmsr(MSR_EFER) & EFER_SVME) {
		wrmsr(MSR_VM_HSAVE_PA, 0);
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_SVME);
	}
	svm_cpus[cpu].on = false;
}

static void svm_disable(void);

/* SVM on every online CPU (the first VM's creation): the shared maps, each CPU's areas. */
static int svm_enable(void)
{
	unsigned cpu;

	if (svm.enabled)
		return 0;
	svm.iopm = pmem_alloc(IOPM_ORDER);
	svm.msrpm = pmem_alloc(MSRPM_ORDER);
	svm.enabled = true;
	if (!svm.iopm || !svm.msrpm) {
		svm_disable();
		return -ENOMEM;
	}
	for_each_cpu (cpu, smp_online_mask()) {
		svm_cpus[cpu].hsave = pmem_alloc_zeroed(0);
		svm_cpus[cpu].host_area = pmem_alloc_zeroed(0);
		if (!svm_cpus[cpu].hsave || !svm_cpus[cpu].host_area) {
			svm_disable();
			return -ENOMEM;
		}
	}
	memset(pmem_va(svm.iopm), 0xff, PAGE_SIZE << IOPM_ORDER);
	memset(pmem_va(svm.msrpm), 0xff, PAGE_SIZE << MSRPM_ORDER);
	for (unsigned i = 0; i < vx86_msr_pass_count; i++)
		msrpm_pass(pmem_va(svm.msrpm), vx86_msr_pass[i]);
	smp_call_mask(smp_online_mask(), svm_enable_cpu, NULL);
	return 0;
}

static void svm_disable(void)
{
	if (!svm.enabled)
		return;
	smp_call_mask(smp_online_mask(), svm_disable_cpu, NULL);
	for (unsigned cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
		if (svm_cpus[cpu].hsave)
			pmem_free(svm_cpus[cpu].hsave, 0);
		if (svm_cpus[cpu].host_area)
			pmem_free(svm_cpus[cpu].host_area, 0);
		svm_cpus[cpu].hsave = svm_cpus[cpu].host_area = 0;
	}
	if (svm.iopm)
		pmem_free(svm.iopm, IOPM_ORDER);
	if (svm.msrpm)
		pmem_free(svm.msrpm, MSRPM_ORDER);
	svm.iopm = svm.msrpm = 0;
	svm.enabled = false;
}

/*
 * A fresh ASID from CPU @cpu's space; when they run out, a new generation starts with a flush
 * of all of them (on that CPU). Interrupts off: the vCPU runs on @cpu next.
 */
static void asid_assign(struct svm_vcpu *sv, unsigned cpu)
{
	typeof(svm_cpus[0]) *c = &svm_cpus[cpu];

	if (c->next_asid == 0 || c->next_asid >= svm.nasid) {
		c->next_asid = 1;
		c->asid_gen++;
	}
	sv->vmcb->control.asid = c->next_asid++;
	sv->asid_gen = c->asid_gen;
	sv->asid_cpu = cpu;
	sv->vmcb->control.tlb_control = SVM_TLB_FLUSH_ALL;
}

static struct vmcb_seg seg_flat(u16 sel, u16 attrib)
{
	return (struct vmcb_seg){ .selector = sel, .attrib = attrib, .limit = 0xffff };
}

static int svm_create(struct vcpu *v)
{
	paddr_t pa = pmem_alloc_zeroed(0);
	paddr_t block_pa = pmem_alloc_zeroed(SVM_BLOCK_ORDER);

	if (!pa || !block_pa) {
		if (pa)
			pmem_free(pa, 0);
		if (block_pa)
			pmem_free(block_pa, SVM_BLOCK_ORDER);
		return -ENOMEM;
	}
	struct svm_block *block = pmem_va(block_pa);
	struct svm_vcpu *sv = &block->sv;
	*sv = (struct svm_vcpu){ .vmcb = pmem_va(pa), .vmcb_pa = pa, .block_pa = block_pa };
	struct vmcb_control *c = &sv->vmcb->control;
	struct vmcb_save *s = &sv->vmcb->save;

	c->intercept_misc1 = SVM_INTERCEPT_INTR | SVM_INTERCEPT_NMI | SVM_INTERCEPT_SMI |
			     SVM_INTERCEPT_INIT | SVM_INTERCEPT_CPUID | SVM_INTERCEPT_INVD |
			     SVM_INTERCEPT_HLT | SVM_INTERCEPT_INVLPGA | SVM_INTERCEPT_IOIO |
			     SVM_INTERCEPT_MSR | SVM_INTERCEPT_SHUTDOWN;
	c->intercept_misc2 = SVM_INTERCEPT2_VMRUN | SVM_INTERCEPT2_VMMCALL | SVM_INTERCEPT2_VMLOAD |
			     SVM_INTERCEPT2_VMSAVE | SVM_INTERCEPT2_STGI | SVM_INTERCEPT2_CLGI |
			     SVM_INTERCEPT2_SKINIT | SVM_INTERCEPT2_WBINVD |
			     SVM_INTERCEPT2_MONITOR | SVM_INTERCEPT2_MWAIT |
			     SVM_INTERCEPT2_MWAIT_COND | SVM_INTERCEPT2_XSETBV;
	/* #AC and #DB exit: a fault in their own delivery must not loop inside the CPU. */
	c->intercept_exceptions = BIT(VX86_T_AC) | BIT(T_DB);
	c->iopm_base_pa = svm.iopm;
	c->msrpm_base_pa = svm.msrpm;
	c->int_ctl = SVM_V_INTR_MASKING;
	c->nested_ctl = SVM_NESTED_NP_ENABLE;
	c->nested_cr3 = pmap_guest_root(&v->vm->proc->pmap); /* the odd half of the root pair */
	sv->tlb_gen = pmap_guest_tlb_gen(&v->vm->proc->pmap);
	asid_assign(sv, this_cpu_id());

	/* The reset state: real mode at f000:fff0, as a CPU leaves INIT. */
	s->cs = (struct vmcb_seg){
		.selector = 0xf000, .attrib = 0x9b, .limit = 0xffff, .base = 0xffff0000
	};
	s->ds = s->es = s->fs = s->gs = s->ss = seg_flat(0, 0x93);
	s->ldtr = seg_flat(0, 0x82);
	s->tr = seg_flat(0, 0x8b);
	s->gdtr.limit = s->idtr.limit = 0xffff;
	s->cr0 = 0x60000010; /* CD, NW, ET */
	s->efer = EFER_SVME;
	s->rflags = RFLAGS_FIXED;
	s->rip = 0xfff0;
	s->dr6 = 0xffff0ff0;
	s->dr7 = 0x400;
	s->g_pat = PAT_DEFAULT;

	vx86_state_init(&sv->state, block->guest_fpu, block->host_fpu);
	v->hw = sv;
	return 0;
}

static void svm_destroy(struct vcpu *v)
{
	struct svm_vcpu *sv = v->hw;

	pmap_guest_detach(&v->vm->proc->pmap);
	pmem_free(sv->vmcb_pa, 0);
	pmem_free(sv->block_pa, SVM_BLOCK_ORDER);
	v->hw = NULL;
}

/* ---- entering the guest ------------------------------------------------------------------ */

static bool nmi_open(const struct svm_vcpu *sv);

static bool guest_interruptible(const struct vmcb *vmcb)
{
	return (vmcb->save.rflags & RFLAGS_IF) && !(vmcb->control.int_state & 1);
}

static void window_open(struct svm_vcpu *sv)
{
	struct vmcb_control *c = &sv->vmcb->control;

	if (sv->window)
		return;
	c->int_ctl |= SVM_V_IRQ | SVM_V_IGN_TPR | (0xfULL << SVM_V_INTR_PRIO_SHIFT);
	c->intercept_misc1 |= SVM_INTERCEPT_VINTR;
	sv->window = true;
}

static void window_close(struct svm_vcpu *sv)
{
	sv->vmcb->control.int_ctl &=
		~(SVM_V_IRQ | SVM_V_IGN_TPR | (0xfULL << SVM_V_INTR_PRIO_SHIFT));
	sv->vmcb->control.intercept_misc1 &= ~SVM_INTERCEPT_VINTR;
	sv->window = false;
}

/*
 * What goes into EVENTINJ ahead of the VMM's event, on both delivery paths: an event cut short
 * at the last exit, else the latched NMI when the guest can take it and the VMM has no exception
 * waiting. True if it filled EVENTINJ.
 */
static bool inject_first(struct vcpu *v, struct svm_vcpu *sv, const struct dyad_event *ev)
{
	struct vmcb_control *c = &sv->vmcb->control;

	if (sv->reinject) {
		c->event_inj = sv->reinject;
		sv->reinject = 0;
		return true;
	}
	if ((!ev->pending || ev->type != DYAD_EVENT_EXCEPTION) && nmi_open(sv) &&
	    vcpu_nmi_take(v)) {
		c->event_inj = SVM_EVT_VALID | SVM_EVT_TYPE_NMI | T_NMI;
		c->intercept_misc1 |= SVM_INTERCEPT_IRET;
		sv->nmi_masked = true;
		sv->nmi_injected = true;
		return true;
	}
	return false;
}

/*
 * EVENTINJ for this entry where EVENTINJ delivers interrupts once (hardware, Bochs): a
 * cut-short event first; then the VMM's exception; then the latched NMI when the guest can take
 * it; then the VMM's external interrupt only when the guest can take it (else the interrupt
 * window is armed: V_IRQ with the VINTR intercept exits as soon as it can). No window inside an
 * STI / MOV SS shadow (QEMU's VMRUN ignores int_state, so one armed there was taken before the
 * shadowed instruction): an event that waits for a shadow goes in at the next exit.
 */
static void inject_eventinj(struct vcpu *v, struct svm_vcpu *sv, struct dyad_run *run)
{
	struct vmcb_control *c = &sv->vmcb->control;
	struct dyad_event *ev = &run->inject;
	bool shadow = c->int_state & 1;

	if (shadow)
		window_close(sv);
	if (inject_first(v, sv, ev))
		return;
	if (!sv->nmi_masked && vcpu_nmi_latched(v) && (sv->vmcb->save.rflags & RFLAGS_IF) &&
	    !shadow)
		window_open(sv); /* behind the VMM's exception: VINTR once IF = 1 again */
	if (!ev->pending)
		return;
	if (ev->type == DYAD_EVENT_EXTINT && !guest_interruptible(sv->vmcb)) {
		if (!shadow)
			window_open(sv);
		return;
	}
	c->event_inj = SVM_EVT_VALID | ev->vector |
		       (ev->type == DYAD_EVENT_EXTINT ? SVM_EVT_TYPE_INTR : SVM_EVT_TYPE_EXCEPTION);
	/* Real mode pushes no error code. */
	if (ev->has_error_code && (sv->vmcb->save.cr0 & 1))
		c->event_inj |= SVM_EVT_ERR_VALID | ((u64)ev->error_code << 32);
	ev->pending = 0;
}

/*
 * V_IRQ delivers virq when the guest's RFLAGS.IF = 1 (V_IGN_TPR: the VMM's APIC has judged the
 * priority), without a VINTR exit. Not inside an STI / MOV SS shadow: QEMU's VMRUN ignores the
 * VMCB's int_state, so an interrupt armed at an entry inside a shadow was taken before the
 * shadowed instruction (the SMP test guest's injection stress caught it at the WRMSR after STI
 * and after MOV SS); it waits for the next entry outside the shadow.
 */
static void virq_set(struct svm_vcpu *sv, bool shadow)
{
	struct vmcb_control *c = &sv->vmcb->control;

	c->int_ctl &= ~(SVM_V_IRQ | SVM_V_IGN_TPR | (0xfULL << SVM_V_INTR_PRIO_SHIFT) |
			(0xffULL << SVM_V_INTR_VECTOR_SHIFT));
	sv->virq_armed = sv->virq && !shadow;
	if (sv->virq_armed)
		c->int_ctl |= SVM_V_IRQ | SVM_V_IGN_TPR | (0xfULL << SVM_V_INTR_PRIO_SHIFT) |
			      ((u64)sv->virq << SVM_V_INTR_VECTOR_SHIFT);
}

/* Whether the guest can take an NMI now: not in its handler, not in an STI / MOV SS shadow. */
static bool nmi_open(const struct svm_vcpu *sv)
{
	return !sv->nmi_masked && !(sv->vmcb->control.int_state & 1);
}

/*
 * The events of this entry under QEMU's TCG, with interrupts and GIF off. EVENTINJ: an
 * exception or NMI cut short first; then the VMM's exception; then the latched NMI when the guest
 * can take it. An NMI that waits (for its handler's IRET: the IRET intercept; for a shadow or
 * another event) goes in at a later entry. External interrupts never go through EVENTINJ: QEMU's
 * TCG delivers an EVENTINJ interrupt inside VMRUN but leaves it as the CPU's pending exception, and
 * delivers it a second time when its loop next stops for an exit request (a timer, a kick, a
 * round-robin slice): the stress saw fixed IPIs and timer interrupts taken twice, the second at
 * the handler's first instruction with IF = 0, at entries where the kernel had injected each
 * once and re-injected nothing. So the VMM's interrupt (or one cut short) is handed to V_IRQ,
 * which the CPU takes itself as soon as RFLAGS.IF allows, after any EVENTINJ event; the VMM's
 * request is done then, and the kernel keeps the vector until the CPU has taken it.
 */
static void inject(struct vcpu *v, struct svm_vcpu *sv, struct dyad_run *run)
{
	struct vmcb_control *c = &sv->vmcb->control;
	struct dyad_event *ev = &run->inject;

	c->event_inj = 0;
	sv->nmi_injected = false;
	if (!svm.irq_by_virq) {
		inject_eventinj(v, sv, run);
		return;
	}
	if (ev->pending && ev->type == DYAD_EVENT_EXTINT && !sv->virq) {
		sv->virq = ev->vector;
		ev->pending = 0;
	}
	virq_set(sv, c->int_state & 1);
	if (inject_first(v, sv, ev))
		return;
	if (!ev->pending || ev->type != DYAD_EVENT_EXCEPTION)
		return;
	c->event_inj = SVM_EVT_VALID | SVM_EVT_TYPE_EXCEPTION | ev->vector;
	/* Real mode pushes no error code. */
	if (ev->has_error_code && (sv->vmcb->save.cr0 & 1))
		c->event_inj |= SVM_EVT_ERR_VALID | ((u64)ev->error_code << 32);
	ev->pending = 0;
}

/* The TF of an NMI's IRET step is the kernel's: the VMM never sees it. */
static u64 step_tf(const struct svm_vcpu *sv)
{
	return sv->nmi_step && !sv->nmi_step_tf ? RFLAGS_TF : 0;
}

static void regs_in(struct svm_vcpu *sv, const struct dyad_regs *r)
{
	struct vmcb_save *s = &sv->vmcb->save;
	struct svm_gprs *g = &sv->gprs;

	s->rax = r->rax;
	s->rsp = r->rsp;
	s->rip = r->rip;
	s->rflags = r->rflags | RFLAGS_FIXED | step_tf(sv);
	*g = (struct svm_gprs){ .rbx = r->rbx,
				.rcx = r->rcx,
				.rdx = r->rdx,
				.rsi = r->rsi,
				.rdi = r->rdi,
				.rbp = r->rbp,
				.r8 = r->r8,
				.r9 = r->r9,
				.r10 = r->r10,
				.r11 = r->r11,
				.r12 = r->r12,
				.r13 = r->r13,
				.r14 = r->r14,
				.r15 = r->r15 };
}

static void regs_out(struct svm_vcpu *sv, struct dyad_run *run)
{
	sv->loaded = false;
	const struct vmcb_save *s = &sv->vmcb->save;
	const struct svm_gprs *g = &sv->gprs;

	run->regs = (struct dyad_regs){ .rax = s->rax,
					.rbx = g->rbx,
					.rcx = g->rcx,
					.rdx = g->rdx,
					.rsi = g->rsi,
					.rdi = g->rdi,
					.rbp = g->rbp,
					.rsp = s->rsp,
					.r8 = g->r8,
					.r9 = g->r9,
					.r10 = g->r10,
					.r11 = g->r11,
					.r12 = g->r12,
					.r13 = g->r13,
					.r14 = g->r14,
					.r15 = g->r15,
					.rip = s->rip,
					.rflags = s->rflags & ~step_tf(sv) };
	run->if_flag = !!(s->rflags & RFLAGS_IF);
	run->interrupt_shadow = sv->vmcb->control.int_state & 1;
	run->nmi_state = sv->nmi_masked ? DYAD_NMI_BLOCKED : 0;
	sv->exit_rip = s->rip;
}

/* ---- instruction lengths ----------------------------------------------------------------- */

static bool is_legacy_prefix(u8 b)
{
	return b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x2e ||
	       b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65;
}

/*
 * The length of the instruction at the guest's RIP, which the exit says is @op (@oplen
 * bytes): NRIP when the CPU saves it, else its bytes decoded (prefixes, REX in 64-bit code,
 * then @op). 0 when the bytes do not show @op.
 */
static unsigned insn_length(struct vcpu *v, const u8 *op, unsigned oplen)
{
	struct svm_vcpu *sv = v->hw;
	u8 b[15];
	unsigned n, i = 0;

	if (svm.nrips && sv->vmcb->control.next_rip > sv->vmcb->save.rip)
		return (unsigned)(sv->vmcb->control.next_rip - sv->vmcb->save.rip);
	n = vcpu_fetch(v, b, sizeof(b));
	while (i < n && is_legacy_prefix(b[i]))
		i++;
	if (i < n && (sv->vmcb->save.cs.attrib & BIT(9)) && (b[i] & 0xf0) == 0x40)
		i++;
	if (i + oplen > n || memcmp(b + i, op, oplen))
		return 0;
	return i + oplen;
}

static const u8 op_cpuid[] = { 0x0f, 0xa2 }, op_hlt[] = { 0xf4 }, op_rdmsr[] = { 0x0f, 0x32 },
		op_wrmsr[] = { 0x0f, 0x30 }, op_vmmcall[] = { 0x0f, 0x01, 0xd9 },
		op_xsetbv[] = { 0x0f, 0x01, 0xd1 }, op_invd[] = { 0x0f, 0x08 },
		op_wbinvd[] = { 0x0f, 0x09 };

/* Skips the instruction the kernel emulated; false if its length is unknown. */
static bool skip(struct vcpu *v, const u8 *op, unsigned oplen)
{
	struct svm_vcpu *sv = v->hw;
	unsigned len = insn_length(v, op, oplen);

	if (!len)
		return false;
	sv->vmcb->save.rip += len;
	sv->vmcb->control.int_state &= ~1ULL;
	return true;
}

static void inject_exception(struct svm_vcpu *sv, unsigned vector, bool error_code)
{
	sv->reinject = SVM_EVT_VALID | SVM_EVT_TYPE_EXCEPTION | vector |
		       (error_code && (sv->vmcb->save.cr0 & 1) ? SVM_EVT_ERR_VALID : 0);
}

/* ---- exits ------------------------------------------------------------------------------- */

static int internal(struct dyad_run *run, const struct vmcb_control *c)
{
	run->exit.internal.hw_reason = c->exit_code;
	run->exit.internal.info[0] = c->exit_info_1;
	run->exit.internal.info[1] = c->exit_info_2;
	run->exit_reason = DYAD_EXIT_INTERNAL;
	return VCPU_EXIT_USER;
}

static int user_exit(struct vcpu *v, unsigned reason, const u8 *op, unsigned oplen)
{
	v->run->exit_reason = reason;
	v->run->insn_len = (u8)insn_length(v, op, oplen);
	return VCPU_EXIT_USER;
}

/* The MSRs the kernel keeps but cannot pass through: EFER (SVME hidden), PAT, TSC. */
static int msr_kernel(struct vcpu *v, u32 index, bool write, u64 value, u64 *out);

static int exit_msr(struct vcpu *v)
{
	struct svm_vcpu *sv = v->hw;
	struct dyad_run *run = v->run;
	bool write = sv->vmcb->control.exit_info_1 & 1;
	u32 index = (u32)sv->gprs.rcx;
	u64 value = (sv->gprs.rdx << 32) | (u32)sv->vmcb->save.rax, out = 0;
	int err = msr_kernel(v, index, write, value, &out);

	if (err == -ENOENT) {
		run->exit.msr.index = index;
		run->exit.msr.value = write ? value : 0;
		return user_exit(v, write ? DYAD_EXIT_WRMSR : DYAD_EXIT_RDMSR,
				 write ? op_wrmsr : op_rdmsr, 2);
	}
	run->stats.exits[DYAD_STAT_MSR_KERNEL]++;
	if (err) {
		inject_exception(sv, T_GP, true);
		return VCPU_EXIT_RESUME;
	}
	if (!write) {
		sv->vmcb->save.rax = (u32)out;
		sv->gprs.rdx = out >> 32;
	}
	if (!skip(v, write ? op_wrmsr : op_rdmsr, 2))
		return internal(run, &sv->vmcb->control);
	return VCPU_EXIT_RESUME;
}

/* Puts the guest's FPU registers, XCR0, PKRU and debug registers back in their image. */
static void state_to_host(struct svm_vcpu *sv)
{
	if (!sv->state.loaded)
		return;
	irq_disable();
	vx86_state_to_host(&sv->state);
	irq_enable();
}

/*
 * An intercepted XSETBV: the new XCR0 takes effect at the next entry, when the state moves in
 * again with the components it names (the old ones are saved first, with the old XCR0).
 */
static int exit_xsetbv(struct vcpu *v)
{
	struct svm_vcpu *sv = v->hw;
	u64 value = (sv->gprs.rdx << 32) | (u32)sv->vmcb->save.rax;

	v->run->stats.exits[DYAD_STAT_XSETBV]++;
	if (!vx86_xcr0_valid((u32)sv->gprs.rcx, value)) {
		inject_exception(sv, T_GP, true);
		return VCPU_EXIT_RESUME;
	}
	if (!skip(v, op_xsetbv, 3))
		return internal(v->run, &sv->vmcb->control);
	state_to_host(sv);
	sv->state.xcr0 = value;
	return VCPU_EXIT_RESUME;
}

/*
 * An intercepted #AC or #DB goes back to the guest at once (its DR6 is already written by the
 * CPU). The exit itself is the point: the host runs between two deliveries.
 */
static int exit_exception(struct vcpu *v, unsigned vector)
{
	struct svm_vcpu *sv = v->hw;

	/*
	 * The trap after the NMI handler's IRET (or, if the IRET faulted into the guest, after
	 * it ran again once that handler returned to it): the handler is over. Unless the guest
	 * single-steps itself, the #DB is the kernel's: DR6.BS goes (Bochs does not set it).
	 */
	if (vector == T_DB && sv->nmi_step) {
		sv->nmi_step = false;
		sv->nmi_masked = false;
		if (!sv->nmi_step_tf) {
			sv->vmcb->save.dr6 &= ~DR6_BS;
			v->run->stats.exits[DYAD_STAT_INTR_WINDOW]++;
			return VCPU_EXIT_RESUME;
		}
	}
	v->run->stats.exits[DYAD_STAT_EXCEPTION]++;
	if (!sv->reinject) /* an event cut short by the exception goes first; it raises it again */
		inject_exception(sv, vector, vx86_vector_has_error_code(vector));
	return VCPU_EXIT_RESUME;
}

static int exit_ioio(struct vcpu *v)
{
	struct svm_vcpu *sv = v->hw;
	struct dyad_run *run = v->run;
	u64 info = sv->vmcb->control.exit_info_1;
	unsigned size = (info >> SVM_IOIO_SIZE_SHIFT) & 7;

	memset(&run->exit.io, 0, sizeof(run->exit.io));
	run->exit.io.port = (u16)(info >> SVM_IOIO_PORT_SHIFT);
	run->exit.io.size = size == 4 ? 4 : size == 2 ? 2 : 1;
	run->exit.io.direction = (info & SVM_IOIO_IN) ? DYAD_IO_IN : DYAD_IO_OUT;
	run->exit.io.string = !!(info & SVM_IOIO_STR);
	run->exit.io.rep = !!(info & SVM_IOIO_REP);
	if (!run->exit.io.string && run->exit.io.direction == DYAD_IO_OUT)
		run->exit.io.value = (u32)sv->vmcb->save.rax &
				     (u32)((1ULL << (8 * run->exit.io.size)) - 1);
	run->exit_reason = DYAD_EXIT_IO;
	run->insn_len = (u8)(sv->vmcb->control.exit_info_2 - sv->vmcb->save.rip);
	return VCPU_EXIT_USER;
}

static int exit_npf(struct vcpu *v, struct vcpu_exit *out)
{
	struct svm_vcpu *sv = v->hw;
	u64 err = sv->vmcb->control.exit_info_1;

	out->kind = VCPU_EXIT_GUEST_FAULT;
	out->gpa = sv->vmcb->control.exit_info_2;
	out->access = (err & SVM_NPF_ID)  ? DYAD_ACCESS_EXEC
		      : (err & SVM_NPF_W) ? DYAD_ACCESS_WRITE
					  : DYAD_ACCESS_READ;
	out->entry_allowed = false; /* kern/vcpu.c judges from the pair */
	/* A fault on a present entry may come from a stale nested TLB entry: flush it. */
	if (err & SVM_NPF_P)
		sv->flush = true;
	return VCPU_EXIT_GUEST_FAULT;
}

static int handle_exit(struct vcpu *v, struct vcpu_exit *out)
{
	struct svm_vcpu *sv = v->hw;
	struct dyad_run *run = v->run;
	struct vmcb_control *c = &sv->vmcb->control;
	u64 *stats = run->stats.exits;

	/* QEMU stores VMEXIT_INVALID (-1) as a 32-bit value. */
	if ((u32)c->exit_code == (u32)SVM_EXIT_INVALID)
		c->exit_code = SVM_EXIT_INVALID;
	switch (c->exit_code) {
	case SVM_EXIT_INTR:
		/* Past the VMM's deadline the run loop reports this exit as DYAD_EXIT_DEADLINE and
		 * counts it there: one exit, one reason (as VMX's preemption-timer exit). */
		if (!run->deadline_tsc || rdtsc() < run->deadline_tsc)
			stats[DYAD_STAT_EXTINT]++;
		return VCPU_EXIT_RESUME;
	case SVM_EXIT_NMI:
		stats[DYAD_STAT_NMI]++;
		return VCPU_EXIT_RESUME;
	case SVM_EXIT_SMI:
	case SVM_EXIT_INIT:
		stats[DYAD_STAT_OTHER]++;
		return VCPU_EXIT_RESUME;
	case SVM_EXIT_VINTR: /* the interrupt window (EVENTINJ delivery only) */
		stats[DYAD_STAT_INTR_WINDOW]++;
		window_close(sv);
		return VCPU_EXIT_RESUME;
	case SVM_EXIT_IRET:
		/* The NMI handler's IRET, not yet run: step over it (see the top of the file). */
		stats[DYAD_STAT_INTR_WINDOW]++;
		c->intercept_misc1 &= ~SVM_INTERCEPT_IRET;
		if (!sv->nmi_step) {
			sv->nmi_step = true;
			sv->nmi_step_tf = sv->vmcb->save.rflags & RFLAGS_TF;
			sv->vmcb->save.rflags |= RFLAGS_TF;
		}
		return VCPU_EXIT_RESUME;
	case SVM_EXIT_CPUID:
		return user_exit(v, DYAD_EXIT_CPUID, op_cpuid, 2);
	case SVM_EXIT_HLT:
		if (!(sv->vmcb->save.rflags & RFLAGS_IF) && !(vcpu_nmi_latched(v) && nmi_open(sv)))
			return user_exit(v, DYAD_EXIT_HLT, op_hlt, 1);
		if (!(sv->vmcb->save.rflags & RFLAGS_IF)) {
			/* An NMI ends the HLT: its handler returns past it. */
			stats[DYAD_STAT_OTHER]++;
			if (!skip(v, op_hlt, 1))
				return internal(run, c);
			return VCPU_EXIT_RESUME;
		}
		if (!skip(v, op_hlt, 1))
			return internal(run, c);
		/* An interrupt waiting in V_IRQ (HLT exits before it is taken) ends the HLT. */
		return sv->virq ? VCPU_EXIT_RESUME : VCPU_EXIT_HALT;
	case SVM_EXIT_IOIO:
		return exit_ioio(v);
	case SVM_EXIT_MSR:
		return exit_msr(v);
	case SVM_EXIT_XSETBV:
		return exit_xsetbv(v);
	case SVM_EXIT_EXCP_BASE + T_DB:
	case SVM_EXIT_EXCP_BASE + VX86_T_AC:
		return exit_exception(v, (unsigned)(c->exit_code - SVM_EXIT_EXCP_BASE));
	case SVM_EXIT_VMMCALL:
		return user_exit(v, DYAD_EXIT_HYPERCALL, op_vmmcall, 3);
	case SVM_EXIT_SHUTDOWN:
		run->exit_reason = DYAD_EXIT_SHUTDOWN;
		run->insn_len = 0;
		return VCPU_EXIT_USER;
	case SVM_EXIT_NPF:
		return exit_npf(v, out);
	case SVM_EXIT_INVD:
	case SVM_EXIT_WBINVD:
		/*
		 * Caches are the host's: nothing to do, but never run them for the guest. Either
		 * opcode for either exit: QEMU's TCG reports INVD as a WBINVD exit (its translator
		 * tests the wrong opcode bit), and skipping only 0f 09 there ended the VM.
		 */
		stats[DYAD_STAT_OTHER]++;
		if (!skip(v, op_wbinvd, 2) && !skip(v, op_invd, 2))
			return internal(run, c);
		return VCPU_EXIT_RESUME;
	case SVM_EXIT_VMRUN:
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
	case SVM_EXIT_STGI:
	case SVM_EXIT_CLGI:
	case SVM_EXIT_SKINIT:
	case SVM_EXIT_INVLPGA:
	case SVM_EXIT_MONITOR:
	case SVM_EXIT_MWAIT:
	case SVM_EXIT_MWAIT_COND:
		/* The guest sees no SVM and no MONITOR: #UD, as on a CPU without them. */
		stats[DYAD_STAT_OTHER]++;
		inject_exception(sv, T_UD, false);
		return VCPU_EXIT_RESUME;
	case SVM_EXIT_INVALID:
		run->exit.fail.hw_reason = c->exit_code;
		run->exit.fail.qualification = 0;
		run->exit_reason = DYAD_EXIT_FAIL_ENTRY;
		run->insn_len = 0;
		return VCPU_EXIT_USER;
	default:
		run->insn_len = 0;
		return internal(run, c);
	}
}

static int svm_enter(struct vcpu *v, struct vcpu_exit *out)
{
	struct svm_vcpu *sv = v->hw;
	struct dyad_run *run = v->run;
	struct vmcb_control *c = &sv->vmcb->control;

	/* Registers come from the run page once per run call; kernel-handled exits keep them. */
	if (!sv->loaded) {
		if (run->regs.rip != sv->exit_rip)
			c->int_state &= ~1ULL; /* the VMM moved past the instruction */
		regs_in(sv, &run->regs);
		sv->loaded = true;
	}
	run->exit_reason = DYAD_EXIT_NONE;

	irq_disable();
	clgi();
	/*
	 * A kick whose IPI came before irq_disable() was taken in the host: this look sees its
	 * latch. One whose IPI comes later is held by GIF = 0 and ends the guest at once as an
	 * INTR exit. The same holds for an NMI request, which inject() takes here.
	 */
	if (vcpu_entry_cancelled(v)) {
		stgi();
		irq_enable();
		out->kind = VCPU_EXIT_CANCEL;
		return 0;
	}
	inject(v, sv, run);
	unsigned cpu = this_cpu_id();
	/*
	 * The pair's rule, checked with interrupts and GIF off right before VMRUN: a right taken
	 * from the odd half since the last flush (the generation moved), a fault on a present
	 * entry, ASIDs that wrapped, or a move to another CPU, and the nested TLB is flushed at
	 * this VMRUN. This CPU joins the pmap's guest_cpus first: a shootdown that misses it
	 * bumped the generation before this read (pmap.h, SEVERAL CPUS).
	 */
	pmap_guest_enter(&v->vm->proc->pmap, cpu);
	u64 gen = pmap_guest_tlb_gen(&v->vm->proc->pmap);
	if (sv->asid_cpu != cpu) {
		/* The x86 layer's state lives in the CPU: a move with it loaded is a kernel bug. */
		BUG_ON(sv->state.loaded);
		sv->migrations++;
	}
	if (gen != sv->tlb_gen || sv->flush || sv->asid_cpu != cpu ||
	    sv->asid_gen != svm_cpus[cpu].asid_gen) {
		if (sv->asid_cpu != cpu || sv->asid_gen != svm_cpus[cpu].asid_gen)
			asid_assign(sv, cpu);
		else
			c->tlb_control = svm.flush_by_asid ? SVM_TLB_FLUSH_ASID : SVM_TLB_FLUSH_ALL;
		sv->flush = false;
		sv->tlb_gen = gen;
	}
	/* The kernel uses none of it: the guest's stays loaded until RUN returns (svm_sync). */
	if (!sv->state.loaded)
		vx86_state_to_guest(&sv->state);
	irq_enable(); /* GIF = 0 holds host interrupts until STGI; IF = 1 makes them INTR exits */
	svm_vmrun(sv->vmcb_pa, &sv->gprs, svm_cpus[cpu].host_area);
	irq_disable();
	stgi();
	irq_enable(); /* a host interrupt that ended the guest is taken here */

	c->tlb_control = 0;
	run->insn_len = 0;
	/* V_IRQ is clear once the CPU took the interrupt (or began to: EXITINTINFO below). */
	u8 armed = sv->virq_armed ? sv->virq : 0;
	if (armed && !(c->int_ctl & SVM_V_IRQ))
		sv->virq = 0;
	if (c->exit_int_info & SVM_EVT_VALID) {
		u64 type = c->exit_int_info & SVM_EVT_TYPE_MASK;
		u8 vector = (u8)(c->exit_int_info & SVM_EVT_VECTOR_MASK);
		/*
		 * Hardware exceptions and interrupts are redelivered; anything else restarts. An
		 * interrupt goes back to V_IRQ; QEMU reports a V_IRQ delivery cut short as an
		 * exception with its vector (and leaves V_IRQ set): one of 32 and above, or the
		 * vector armed, is the interrupt. Re-injected as an exception as well, vector
		 * 0x14 was taken twice (/bin/vm's injection test).
		 */
		if (svm.irq_by_virq &&
		    (type == SVM_EVT_TYPE_INTR ||
		     (type == SVM_EVT_TYPE_EXCEPTION && (vector >= 32 || vector == armed))))
			sv->virq = vector;
		else if (type == SVM_EVT_TYPE_INTR || type == SVM_EVT_TYPE_NMI ||
			 type == SVM_EVT_TYPE_EXCEPTION)
			sv->reinject = c->exit_int_info &
				       (SVM_EVT_VECTOR_MASK | SVM_EVT_TYPE_MASK |
					SVM_EVT_ERR_VALID | SVM_EVT_VALID | (0xffffffffULL << 32));
	}
	if (sv->nmi_injected && (u32)c->exit_code == (u32)SVM_EXIT_INVALID) {
		sv->nmi_masked = false; /* VMRUN refused the state: nothing was delivered */
		c->intercept_misc1 &= ~SVM_INTERCEPT_IRET;
		vcpu_nmi_untake(v);
	}
	out->kind = handle_exit(v, out);
	return 0;
}

/* ---- state ------------------------------------------------------------------------------- */

static void seg_out(const struct vmcb_seg *s, struct dyad_segment *d)
{
	u16 a = s->attrib;

	*d = (struct dyad_segment){ .base = s->base,
				    .limit = s->limit,
				    .selector = s->selector,
				    .type = a & 0xf,
				    .s = (a >> 4) & 1,
				    .dpl = (a >> 5) & 3,
				    .present = (a >> 7) & 1,
				    .avl = (a >> 8) & 1,
				    .l = (a >> 9) & 1,
				    .db = (a >> 10) & 1,
				    .g = (a >> 11) & 1,
				    .unusable = !((a >> 7) & 1) };
}

static void seg_in(struct vmcb_seg *s, const struct dyad_segment *d)
{
	s->base = d->base;
	s->limit = d->limit;
	s->selector = d->selector;
	s->attrib = (u16)((d->type & 0xf) | (d->s & 1) << 4 | (d->dpl & 3) << 5 |
			  (d->present && !d->unusable) << 7 | (d->avl & 1) << 8 | (d->l & 1) << 9 |
			  (d->db & 1) << 10 | (d->g & 1) << 11);
}

static int svm_get_sregs(struct vcpu *v, struct dyad_sregs *r)
{
	const struct vmcb *vmcb = ((struct svm_vcpu *)v->hw)->vmcb;
	const struct vmcb_save *s = &vmcb->save;

	memset(r, 0, sizeof(*r));
	seg_out(&s->cs, &r->cs);
	seg_out(&s->ds, &r->ds);
	seg_out(&s->es, &r->es);
	seg_out(&s->fs, &r->fs);
	seg_out(&s->gs, &r->gs);
	seg_out(&s->ss, &r->ss);
	seg_out(&s->tr, &r->tr);
	seg_out(&s->ldtr, &r->ldt);
	r->gdt = (struct dyad_dtable){ .base = s->gdtr.base, .limit = (u16)s->gdtr.limit };
	r->idt = (struct dyad_dtable){ .base = s->idtr.base, .limit = (u16)s->idtr.limit };
	r->cr0 = s->cr0;
	r->cr2 = s->cr2;
	r->cr3 = s->cr3;
	r->cr4 = s->cr4;
	r->cr8 = vmcb->control.int_ctl & SVM_V_TPR_MASK;
	r->efer = s->efer & ~EFER_SVME;
	return 0;
}

/*
 * Loads the VMM's state as given: VMRUN checks it and refuses bad state with an entry-failure
 * exit. Only what the host relies on is enforced: EFER.SVME stays set, unknown EFER bits are
 * refused, the CPL follows SS.DPL.
 */
static int svm_set_sregs(struct vcpu *v, const struct dyad_sregs *r)
{
	struct vmcb *vmcb = ((struct svm_vcpu *)v->hw)->vmcb;
	struct vmcb_save *s = &vmcb->save;

	if (r->efer & ~VX86_EFER_GUEST)
		return -EINVAL;
	seg_in(&s->cs, &r->cs);
	seg_in(&s->ds, &r->ds);
	seg_in(&s->es, &r->es);
	seg_in(&s->fs, &r->fs);
	seg_in(&s->gs, &r->gs);
	seg_in(&s->ss, &r->ss);
	seg_in(&s->tr, &r->tr);
	seg_in(&s->ldtr, &r->ldt);
	s->gdtr.base = r->gdt.base;
	s->gdtr.limit = r->gdt.limit;
	s->idtr.base = r->idt.base;
	s->idtr.limit = r->idt.limit;
	s->cr0 = r->cr0;
	s->cr2 = r->cr2;
	s->cr3 = r->cr3;
	s->cr4 = r->cr4;
	s->efer = r->efer | EFER_SVME;
	s->cpl = (r->cr0 & 1) ? r->ss.dpl & 3 : 0;
	vmcb->control.int_ctl = (vmcb->control.int_ctl & ~SVM_V_TPR_MASK) | (r->cr8 & 0xf);
	return 0;
}

static int msr_kernel(struct vcpu *v, u32 index, bool write, u64 value, u64 *out)
{
	struct svm_vcpu *sv = v->hw;
	struct vmcb_save *s = &sv->vmcb->save;

	switch (index) {
	case DYAD_MSR_EFER:
		if (!write) {
			*out = s->efer & ~EFER_SVME;
			return 0;
		}
		if (!vx86_efer_write(s->efer & ~EFER_SVME, value, s->cr0, &value))
			return -EINVAL;
		s->efer = value | EFER_SVME;
		return 0;
	case DYAD_MSR_PAT:
		if (!write) {
			*out = s->g_pat;
			return 0;
		}
		if (vx86_msr_check(DYAD_MSR_PAT, value))
			return -EINVAL;
		s->g_pat = value;
		return 0;
	case DYAD_MSR_TSC:
		if (write)
			sv->vmcb->control.tsc_offset = value - rdtsc();
		else
			*out = rdtsc() + sv->vmcb->control.tsc_offset;
		return 0;
	default:
		return -ENOENT;
	}
}

/* The MSRs VMLOAD / VMRUN switch: where each lives in the VMCB. */
#define SAVE(field) ((u32)__builtin_offsetof(struct vmcb, save.field))
static const struct vx86_msr_slot svm_msrs[] = {
	{ DYAD_MSR_SYSENTER_CS, SAVE(sysenter_cs) },
	{ DYAD_MSR_SYSENTER_ESP, SAVE(sysenter_esp) },
	{ DYAD_MSR_SYSENTER_EIP, SAVE(sysenter_eip) },
	{ DYAD_MSR_STAR, SAVE(star) },
	{ DYAD_MSR_LSTAR, SAVE(lstar) },
	{ DYAD_MSR_CSTAR, SAVE(cstar) },
	{ DYAD_MSR_SFMASK, SAVE(sfmask) },
	{ DYAD_MSR_FS_BASE, SAVE(fs.base) },
	{ DYAD_MSR_GS_BASE, SAVE(gs.base) },
	{ DYAD_MSR_KERNEL_GS_BASE, SAVE(kernel_gs_base) },
};
#undef SAVE

static u64 *svm_msr_slot(struct vcpu *v, u32 index)
{
	const struct vx86_msr_slot *m = vx86_msr_find(svm_msrs, ARRAY_SIZE(svm_msrs), index);

	return m ? (u64 *)((u8 *)((struct svm_vcpu *)v->hw)->vmcb + m->where) : NULL;
}

static int svm_get_msr(struct vcpu *v, u32 index, u64 *value)
{
	u64 *slot = svm_msr_slot(v, index);

	if (!slot)
		return msr_kernel(v, index, false, 0, value);
	*value = *slot;
	return 0;
}

/* Values VMLOAD or the guest's own use would fault on are refused (vx86_msr_check). */
static int svm_set_msr(struct vcpu *v, u32 index, u64 value)
{
	u64 *slot = svm_msr_slot(v, index);
	u64 ignored;

	if (vx86_msr_check(index, value))
		return -EINVAL;
	if (index == DYAD_MSR_EFER) {
		/* The VMM sets state as a whole: LME may change with paging on; LMA stays. */
		struct vmcb_save *s = &((struct svm_vcpu *)v->hw)->vmcb->save;

		s->efer = (value & ~EFER_LMA) | (s->efer & EFER_LMA) | EFER_SVME;
		return 0;
	}
	if (!slot)
		return msr_kernel(v, index, true, value, &ignored);
	*slot = value;
	return 0;
}

static void svm_paging(struct vcpu *v, struct vcpu_paging *out)
{
	const struct vmcb_save *s = &((struct svm_vcpu *)v->hw)->vmcb->save;
	bool long_code = (s->efer & EFER_LMA) && (s->cs.attrib & BIT(9));

	*out = (struct vcpu_paging){ .cr0 = s->cr0,
				     .cr3 = s->cr3,
				     .cr4 = s->cr4,
				     .efer = s->efer,
				     .cs_base = long_code ? 0 : s->cs.base,
				     .rip = s->rip };
	/* SVM keeps no PDPTE registers: PAE paging reads them from CR3, as the guest's CPU did. */
	if ((s->cr0 & CR0_PG) && (s->cr4 & CR4_PAE) && !(s->efer & EFER_LMA)) {
		struct pmap_leaf leaf;
		struct proc *p = v->vm->proc;
		u64 at = s->cr3 & 0xffffffe0ULL;
		if (pmap_lookup(&p->pmap, at & PAGE_MASK, &leaf) == 0 &&
		    (leaf.flags & PMAP_VISIBLE))
			memcpy(out->pdpte, (u8 *)pmem_va(leaf.pa + (at - leaf.va)), 32);
	}
}

static void svm_sync(struct vcpu *v)
{
	struct svm_vcpu *sv = v->hw;

	if (sv->loaded)
		regs_out(sv, v->run);
	state_to_host(sv);
}

const struct vcpu_backend svm_backend = {
	.name = "svm",
	.detect = svm_detect,
	.enable = svm_enable,
	.disable = svm_disable,
	.create = svm_create,
	.destroy = svm_destroy,
	.enter = svm_enter,
	.get_sregs = svm_get_sregs,
	.set_sregs = svm_set_sregs,
	.get_msr = svm_get_msr,
	.set_msr = svm_set_msr,
	.paging = svm_paging,
	.sync = svm_sync,
	.nmi_ok = NULL, /* EVENTINJ and the IRET intercept are in every SVM */
};
