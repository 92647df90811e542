// SPDX-License-Identifier: MIT
/*
 * The Intel VMX backend: detection, VMXON/VMXOFF, building and tearing down a VMCS, and the
 * guest state the VMM reads and writes. Entering the guest and translating its exits is
 * vmx_run.c; which controls a VMCS gets is decided in vmx_caps.c.
 *
 * A vCPU's EPTP is its VMM's root pair + 4096 (pmap_eptp): the guest-physical space is the
 * VMM's address space, and the guest reaches only what the VMM mapped guest-visible.
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/gdt.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/tlb.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/string.h>

#include "vmx_priv.h"

#define FEATURE_CONTROL_LOCKED BIT(0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX BIT(2)
#define AR_UNUSABLE BIT(16)
#define PAT_DEFAULT 0x0007040600070406ULL

struct vmx_caps vmx_caps;
struct vmx_config vmx_config;
u64 vmx_host_star, vmx_host_lstar, vmx_host_cstar, vmx_host_sfmask;

/*
 * Per CPU: its VMXON region (allocated while VMX is enabled) and the VMCS it has current.
 * VMX is on on every online CPU between vmx_enable() and vmx_disable() (vmx_enabled).
 */
static struct {
	paddr_t vmxon;
	paddr_t vmcs_current;
	bool on;
} vmx_cpus[SMP_MAX_CPUS];
static bool vmx_enabled;
static u16 vpid_next;

extern const u8 vmx_exit[];

/* ---- detection ---------------------------------------------------------------------------- */

/* Locks IA32_FEATURE_CONTROL (per CPU) with VMX outside SMX allowed, if the firmware did not. */
static u64 feature_control_unlock(void)
{
	u64 fc = rdmsr(MSR_FEATURE_CONTROL);

	if (!(fc & FEATURE_CONTROL_LOCKED)) {
		fc |= FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
		wrmsr(MSR_FEATURE_CONTROL, fc);
	}
	return fc;
}

static bool vmx_detect(void)
{
	char missing[VMX_WHY_MAX], dropped[VMX_WHY_MAX];
	u64 fc;

	if (!cpu_features.vmx) {
		printf("vmx: no VMX\n");
		return false;
	}
	fc = feature_control_unlock();
	if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
		printf("vmx: no VMX: IA32_FEATURE_CONTROL is locked with VMX off\n");
		return false;
	}
	vmx_caps_read(&vmx_caps);
	if (vmx_config_decide(&vmx_caps, &vmx_config, missing, dropped)) {
		printf("vmx: unusable, missing: %s\n", missing);
		return false;
	}
	vx86_init();
	printf("vmx: ready, EPT%s%s%s, %s%s%s, guest FPU by %s\n",
	       vmx_config.have & VMX_HAVE_EPT_2M ? " 2M" : "",
	       vmx_config.have & VMX_HAVE_EPT_1G ? " 1G" : "",
	       vmx_config.have & VMX_HAVE_EPT_AD ? " A/D" : "",
	       dropped[0] ? "without " : "every wanted control", dropped,
	       vmx_config.have & VMX_HAVE_PREEMPT ? ", preemption timer" : "",
	       fpu_xsave_enabled() ? "XSAVE" : "FXSAVE");
	return true;
}

/* ---- VMX on and off ----------------------------------------------------------------------- */

#define INVEPT_ALL 2

static void invept(u64 type, u64 eptp)
{
	struct {
		u64 eptp, reserved;
	} desc = { eptp, 0 };

	__asm__ volatile("invept %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

static bool fixed_ok(u64 v, u64 fixed0, u64 fixed1)
{
	return (v & fixed0) == fixed0 && (v & ~fixed1) == 0;
}

/*
 * VMXON on this CPU, with its preallocated region (an IPI function: interrupts off). Sets
 * *@arg to -EIO if the CPU refuses; the region stays allocated for vmx_disable() to free.
 */
static void vmx_enable_cpu(void *arg)
{
	unsigned cpu = this_cpu_id();
	u64 cr0 = read_cr0() | CR0_NE, cr4 = read_cr4() | CR4_VMXE, old_cr4 = read_cr4();
	paddr_t region = vmx_cpus[cpu].vmxon;
	bool fail;

	if (vmx_cpus[cpu].on)
		return;
	if (!(feature_control_unlock() & FEATURE_CONTROL_VMX_OUTSIDE_SMX) ||
	    !fixed_ok(cr0, vmx_caps.cr0_fixed0, vmx_caps.cr0_fixed1) ||
	    !fixed_ok(cr4, vmx_caps.cr4_fixed0, vmx_caps.cr4_fixed1)) {
		__atomic_store_n((int *)arg, -EIO, __ATOMIC_RELAXED);
		return;
	}
	/* NE is a fixed-1 bit of VMX operation: x87 errors are reported natively. */
	write_cr0(cr0);
	write_cr4(cr4);
	__asm__ volatile("vmxon %1; setna %0" : "=qm"(fail) : "m"(region) : "cc", "memory");
	if (fail) {
		write_cr4(old_cr4);
		__atomic_store_n((int *)arg, -EIO, __ATOMIC_RELAXED);
		return;
	}
	vmx_cpus[cpu].on = true;
	vmx_cpus[cpu].vmcs_current = 0;
	pmap_vmx_operation(true);
	/* EPT translations may survive VMXOFF: none from an earlier VMX session may be used. */
	if (vmx_caps.ept_vpid & EPT_CAP_INVEPT_ALL)
		invept(INVEPT_ALL, 0);
}

/* VMXOFF on this CPU if it is on (an IPI function). */
static void vmx_disable_cpu(void *arg)
{
	unsigned cpu = this_cpu_id();

	if (!vmx_cpus[cpu].on)
		return;
	pmap_vmx_operation(false);
	__asm__ volatile("vmxoff" : : : "cc", "memory");
	write_cr4(read_cr4() & ~CR4_VMXE);
	vmx_cpus[cpu].on = false;
	vmx_cpus[cpu].vmcs_current = 0;
}

static void vmx_disable(void);

/*
 * VMX operation on every online CPU (the first VM's creation): a VMXON region each, then one
 * call IPI that runs VMXON everywhere. All or nothing: a CPU that refuses turns it off again
 * on all of them.
 */
static int vmx_enable(void)
{
	unsigned cpu;
	int err = 0;

	if (vmx_enabled)
		return 0;
	for_each_cpu (cpu, smp_online_mask()) {
		paddr_t region = pmem_alloc_zeroed(0);

		if (!region) {
			vmx_disable();
			return -ENOMEM;
		}
		*(u32 *)pmem_va(region) = VMX_BASIC_REVISION(vmx_caps.basic);
		vmx_cpus[cpu].vmxon = region;
	}
	vmx_enabled = true;
	smp_call_mask(smp_online_mask(), vmx_enable_cpu, &err);
	if (err) {
		printf("vmx: VMXON failed on a CPU (or its fixed bits refuse the host's CR0/CR4)\n");
		vmx_disable();
		return err;
	}
	vmx_host_star = rdmsr(MSR_STAR);
	vmx_host_lstar = rdmsr(MSR_LSTAR);
	vmx_host_cstar = rdmsr(MSR_CSTAR);
	vmx_host_sfmask = rdmsr(MSR_SFMASK);
	return 0;
}

static void vmx_disable(void)
{
	unsigned cpu;

	if (vmx_enabled)
		smp_call_mask(smp_online_mask(), vmx_disable_cpu, NULL);
	vmx_enabled = false;
	for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++)
		if (vmx_cpus[cpu].vmxon) {
			pmem_free(vmx_cpus[cpu].vmxon, 0);
			vmx_cpus[cpu].vmxon = 0;
		}
}

/* ---- the VMCS ------------------------------------------------------------------------------- */

static void vmcs_init_host(void);

/* A VPID no vCPU got since the last wrap (never 0: that is the host's). */
static u16 vpid_alloc(void)
{
	u16 old = __atomic_load_n(&vpid_next, __ATOMIC_RELAXED), new;

	do
		new = old % 0xffff + 1;
	while (!__atomic_compare_exchange_n(&vpid_next, &old, new, false, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED));
	return new;
}

/* VMCLEAR on this CPU: @pa's state goes to memory, its launch state to clear. */
static bool vmcs_clear(paddr_t pa)
{
	unsigned cpu = this_cpu_id();
	bool fail;

	__asm__ volatile("vmclear %1; setna %0" : "=qm"(fail) : "m"(pa) : "cc", "memory");
	if (vmx_cpus[cpu].vmcs_current == pa)
		vmx_cpus[cpu].vmcs_current = 0;
	return !fail;
}

/* VMCLEAR of the vCPU @arg on the CPU its VMCS is active on (a call IPI there). */
static void vmcs_clear_call(void *arg)
{
	struct vmx_vcpu *x = arg;

	if (!vmcs_clear(x->vmcs))
		panic("vmx: VMCLEAR of a vCPU's VMCS failed on CPU %u", this_cpu_id());
}

/*
 * Makes @x's VMCS active on x->cpu no more: VMCLEAR there (through an IPI when that is another
 * CPU). Call with interrupts on when x->cpu may be another CPU.
 */
static void vmcs_release(struct vmx_vcpu *x)
{
	if (x->cpu == VMX_NO_CPU)
		return;
	if (x->cpu == this_cpu_id())
		vmcs_clear_call(x);
	else if (!smp_call_on(x->cpu, vmcs_clear_call, x))
		panic("vmx: the CPU %u holding a VMCS is not online", x->cpu);
	x->cpu = VMX_NO_CPU;
	x->launched = false; /* after VMCLEAR only VMLAUNCH enters */
}

/*
 * THE MIGRATION RULE. A VMCS is active on at most one CPU. vmx_load() on another CPU than the
 * one it was last current on first VMCLEARs it there (vmcs_release), then VMPTRLDs it here and
 * rewrites the host state that differs per CPU (TR, GDTR, IDTR, GS base: vmcs_init_host), and
 * gives the vCPU a fresh VPID so that no guest-linear translation it left in this CPU's TLB
 * on an earlier stay is used. Second-stage translations are the pmap's business: a CPU that
 * is not in the pmap's guest_cpus holds none of them (pmap.h, SEVERAL CPUS).
 * Guest MSRs and FPU state must not be loaded (guest_loaded: vmx_sync first): they live in
 * the CPU, and a move with them loaded is a kernel bug.
 */
void vmx_load(struct vmx_vcpu *x)
{
	unsigned cpu = this_cpu_id();

	if (x->cpu != cpu) {
		bool moved = x->cpu != VMX_NO_CPU;

		BUG_ON(x->guest_loaded);
		vmcs_release(x);
		__asm__ volatile("vmptrld %0" : : "m"(x->vmcs) : "cc", "memory");
		vmx_cpus[cpu].vmcs_current = x->vmcs;
		x->cpu = cpu;
		x->migrations += moved;
		vmcs_init_host();
		if (x->vpid) {
			x->vpid = vpid_alloc();
			vmcs_write(VMCS_VPID, x->vpid);
		}
		return;
	}
	if (vmx_cpus[cpu].vmcs_current == x->vmcs)
		return;
	__asm__ volatile("vmptrld %0" : : "m"(x->vmcs) : "cc", "memory");
	vmx_cpus[cpu].vmcs_current = x->vmcs;
}

/* The host bits of CR0/CR4 (fixed by VMX; CR4.VMXE hidden): the guest sees the shadow. */
static u64 cr0_owned(void)
{
	return (u32)((vmx_caps.cr0_fixed0 & ~(CR0_PE | CR0_PG)) | ~vmx_caps.cr0_fixed1);
}

static u64 cr4_owned(void)
{
	return (u32)(vmx_caps.cr4_fixed0 | ~vmx_caps.cr4_fixed1) | CR4_VMXE;
}

bool vmx_cr0_real(u64 val, u64 *real)
{
	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) ||
	    ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	*real = (val | (vmx_caps.cr0_fixed0 & ~(CR0_PE | CR0_PG))) & vmx_caps.cr0_fixed1;
	return true;
}

bool vmx_cr4_real(u64 val, u64 *real)
{
	if ((val >> 32) || (val & CR4_VMXE) || (val & ~vmx_caps.cr4_fixed1))
		return false;
	*real = val | vmx_caps.cr4_fixed0;
	return true;
}

u64 vmx_guest_cr0(void)
{
	u64 own = cr0_owned();

	return (vmcs_read(VMCS_GUEST_CR0) & ~own) | (vmcs_read(VMCS_CR0_SHADOW) & own);
}

u64 vmx_guest_cr4(void)
{
	u64 own = cr4_owned();

	return (vmcs_read(VMCS_GUEST_CR4) & ~own) | (vmcs_read(VMCS_CR4_SHADOW) & own);
}

/* LMA follows LME and paging, and the IA-32e entry control follows LMA (SDM 26.3.1.1). */
void vmx_set_efer(struct vmx_vcpu *x, u64 efer, u64 cr0)
{
	if ((efer & EFER_LME) && (cr0 & CR0_PG))
		efer |= EFER_LMA;
	else if (!(cr0 & CR0_PG))
		efer &= ~EFER_LMA;
	x->entry_ctls = (efer & EFER_LMA) ? x->entry_ctls | ENTRY_IA32E
					  : x->entry_ctls & ~ENTRY_IA32E;
	vmcs_write(VMCS_ENTRY_CTLS, x->entry_ctls);
	vmcs_write(VMCS_GUEST_EFER, efer);
}

/* MSRs the guest reads and writes without an exit: each is switched around every entry. */
static void msr_bitmap_init(u8 *bm)
{
	memset(bm, 0xff, PAGE_SIZE);
	/* The x86 layer's list, and PAT: VMX loads it on entry and saves it on exit. */
	for (unsigned i = 0; i <= vx86_msr_pass_count; i++) {
		u32 m = i < vx86_msr_pass_count ? vx86_msr_pass[i] : DYAD_MSR_PAT;
		u32 base = m >= 0xc0000000 ? 1024 : 0, bit = m & 0x1fff;

		bm[base + bit / 8] &= ~(1 << (bit % 8)); /* read */
		bm[base + 2048 + bit / 8] &= ~(1 << (bit % 8)); /* write */
	}
	/*
	 * Reading the TSC is harmless (the offset applies); writing it sets the offset. EFER
	 * exits both ways: the kernel keeps LMA and the IA-32e entry control in step with it.
	 */
	bm[DYAD_MSR_TSC / 8] &= ~(1 << (DYAD_MSR_TSC % 8));
}

/* The base of the TSS the GDT's TR descriptor names (VM exits reload TR from the VMCS). */
static u64 host_tr_base(void)
{
	struct {
		u16 limit;
		u64 base;
	} __packed gdtr;

	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	const u64 *d = (const u64 *)(gdtr.base + GDT_TSS);
	return ((d[0] >> 16) & 0xffffff) | (((d[0] >> 56) & 0xff) << 24) | (d[1] << 32);
}

static void vmcs_init_host(void)
{
	struct {
		u16 limit;
		u64 base;
	} __packed dt;

	vmcs_write(VMCS_HOST_CS_SEL, GDT_KERNEL_CS);
	vmcs_write(VMCS_HOST_SS_SEL, GDT_KERNEL_DS);
	vmcs_write(VMCS_HOST_DS_SEL, GDT_KERNEL_DS);
	vmcs_write(VMCS_HOST_ES_SEL, GDT_KERNEL_DS);
	vmcs_write(VMCS_HOST_FS_SEL, 0);
	vmcs_write(VMCS_HOST_GS_SEL, 0);
	vmcs_write(VMCS_HOST_TR_SEL, GDT_TSS);
	vmcs_write(VMCS_HOST_TR_BASE, host_tr_base());
	__asm__ volatile("sgdt %0" : "=m"(dt));
	vmcs_write(VMCS_HOST_GDTR_BASE, dt.base);
	__asm__ volatile("sidt %0" : "=m"(dt));
	vmcs_write(VMCS_HOST_IDTR_BASE, dt.base);
	vmcs_write(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
	vmcs_write(VMCS_HOST_SYSENTER_CS, 0);
	vmcs_write(VMCS_HOST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_HOST_SYSENTER_EIP, 0);
	vmcs_write(VMCS_HOST_PAT, rdmsr(MSR_PAT));
	vmcs_write(VMCS_HOST_EFER, rdmsr(MSR_EFER));
	vmcs_write(VMCS_HOST_CR0, read_cr0());
	vmcs_write(VMCS_HOST_CR4, read_cr4());
	vmcs_write(VMCS_HOST_RIP, (u64)vmx_exit);
}

/* The architectural reset state, at CS:IP 0:0 in real mode; the VMM sets what it needs. */
static void vmcs_init_guest(struct vmx_vcpu *x)
{
	u64 cr0, cr4;

	for (unsigned s = 0; s < SEG_COUNT; s++) {
		u32 ar = s == SEG_CS ? 0x9b : s == SEG_LDTR ? 0x82 : s == SEG_TR ? 0x8b : 0x93;

		vmcs_write(VMCS_GUEST_SEL(s), 0);
		vmcs_write(VMCS_GUEST_BASE(s), 0);
		vmcs_write(VMCS_GUEST_LIMIT(s), 0xffff);
		vmcs_write(VMCS_GUEST_AR(s), ar);
	}
	vmcs_write(VMCS_GUEST_GDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_IDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, 0xffff);
	vmx_cr0_real(0x10, &cr0); /* ET */
	vmx_cr4_real(0, &cr4);
	vmcs_write(VMCS_GUEST_CR0, cr0);
	vmcs_write(VMCS_CR0_SHADOW, 0x10);
	vmcs_write(VMCS_CR0_MASK, cr0_owned());
	vmcs_write(VMCS_GUEST_CR4, cr4);
	vmcs_write(VMCS_CR4_SHADOW, 0);
	vmcs_write(VMCS_CR4_MASK, cr4_owned());
	vmcs_write(VMCS_GUEST_CR3, 0);
	vmcs_write(VMCS_GUEST_DR7, 0x400);
	vmcs_write(VMCS_GUEST_RFLAGS, 2);
	vmcs_write(VMCS_GUEST_PAT, PAT_DEFAULT);
	vmx_set_efer(x, 0, 0);
	vmcs_write(VMCS_GUEST_DEBUGCTL, 0);
	vmcs_write(VMCS_LINK_POINTER, ~0ULL);
	vmcs_write(VMCS_GUEST_ACTIVITY, 0);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_PENDING_DBG, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_CS, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_ESP, 0);
	vmcs_write(VMCS_GUEST_SYSENTER_EIP, 0);
}

static void vmcs_init_controls(struct vmx_vcpu *x)
{
	const struct vmx_config *c = &vmx_config;

	x->proc_ctls = c->ctls[VMX_PROC];
	x->entry_ctls = c->ctls[VMX_ENTRY];
	vmcs_write(VMCS_PIN_CTLS, c->ctls[VMX_PIN]);
	vmcs_write(VMCS_PROC_CTLS, x->proc_ctls);
	vmcs_write(VMCS_PROC2_CTLS, c->ctls[VMX_PROC2]);
	vmcs_write(VMCS_EXIT_CTLS, c->ctls[VMX_EXIT]);
	vmcs_write(VMCS_ENTRY_CTLS, x->entry_ctls);
	/* #UD for VMMCALL (see vmx_run.c); #AC and #DB so that no delivery loop holds the CPU. */
	vmcs_write(VMCS_EXCEPTION_BITMAP, BIT(T_UD) | BIT(T_DB) | BIT(VX86_T_AC));
	vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	vmcs_write(VMCS_MSR_BITMAP, x->msr_bitmap);
	vmcs_write(VMCS_TSC_OFFSET, 0);
	vmcs_write(VMCS_EPTP, x->eptp);
	if (c->have & VMX_HAVE_VPID)
		vmcs_write(VMCS_VPID, x->vpid);
	if (c->have & VMX_HAVE_TPR_SHADOW) {
		vmcs_write(VMCS_VAPIC_PAGE, x->vapic);
		vmcs_write(VMCS_TPR_THRESHOLD, 0);
	}
}

static void vmx_free(struct vmx_vcpu *x)
{
	paddr_t pages[] = { x->vmcs, x->msr_bitmap, x->vapic, x->fpu, x->host_fpu };

	for (unsigned i = 0; i < ARRAY_SIZE(pages); i++)
		if (pages[i])
			pmem_free(pages[i], 0);
	pmem_free(x->self, 0);
}

static int vmx_create(struct vcpu *v)
{
	paddr_t self = pmem_alloc_zeroed(0);
	struct vmx_vcpu *x;

	if (!vmx_enabled) {
		if (self)
			pmem_free(self, 0);
		return -ENODEV;
	}
	if (!self)
		return -ENOMEM;
	x = pmem_va(self);
	x->self = self;
	x->cpu = VMX_NO_CPU;
	x->vmcs = pmem_alloc_zeroed(0);
	x->msr_bitmap = pmem_alloc(0);
	x->fpu = pmem_alloc(0);
	x->host_fpu = pmem_alloc(0);
	if (vmx_config.have & VMX_HAVE_TPR_SHADOW)
		x->vapic = pmem_alloc_zeroed(0);
	if (!x->vmcs || !x->msr_bitmap || !x->fpu || !x->host_fpu ||
	    (!x->vapic && (vmx_config.have & VMX_HAVE_TPR_SHADOW))) {
		vmx_free(x);
		return -ENOMEM;
	}
	*(u32 *)pmem_va(x->vmcs) = VMX_BASIC_REVISION(vmx_caps.basic);
	msr_bitmap_init(pmem_va(x->msr_bitmap));
	vx86_state_init(&x->state, pmem_va(x->fpu), pmem_va(x->host_fpu));
	if (vmx_config.have & VMX_HAVE_VPID)
		x->vpid = vpid_alloc();
	/* Attaches the pmap: from now on taking a right from the EPT runs INVEPT (and this once). */
	x->eptp = pmap_eptp(&v->vm->proc->pmap);

	if (!vmcs_clear(x->vmcs)) {
		vmx_free(x);
		return -EIO;
	}
	vmx_load(x);
	vmcs_init_controls(x);
	vmcs_init_host();
	vmcs_init_guest(x);
	v->hw = x;
	return 0;
}

static void vmx_destroy(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;

	if (!x)
		return;
	/* Every DYAD_VCPU_RUN ends with vmx_sync(): no guest state is loaded here. */
	vmcs_release(x);
	/* The last INVEPT for this EPTP: afterwards the pmap needs none (and VMX may go off). */
	pmap_guest_detach(&v->vm->proc->pmap);
	vmx_free(x);
	v->hw = NULL;
}

/* ---- guest state for the VMM ------------------------------------------------------------- */

static void seg_get(unsigned s, struct dyad_segment *g)
{
	u32 ar = vmcs_read(VMCS_GUEST_AR(s));

	*g = (struct dyad_segment){
		.base = vmcs_read(VMCS_GUEST_BASE(s)),
		.limit = vmcs_read(VMCS_GUEST_LIMIT(s)),
		.selector = vmcs_read(VMCS_GUEST_SEL(s)),
		.type = ar & 15,
		.s = (ar >> 4) & 1,
		.dpl = (ar >> 5) & 3,
		.present = (ar >> 7) & 1,
		.avl = (ar >> 12) & 1,
		.l = (ar >> 13) & 1,
		.db = (ar >> 14) & 1,
		.g = (ar >> 15) & 1,
		.unusable = (ar >> 16) & 1,
	};
}

static void seg_set(unsigned s, const struct dyad_segment *g)
{
	u32 ar = (g->type & 15) | (g->s & 1) << 4 | (g->dpl & 3) << 5 | (g->present & 1) << 7 |
		 (g->avl & 1) << 12 | (g->l & 1) << 13 | (g->db & 1) << 14 | (g->g & 1) << 15 |
		 (g->unusable ? AR_UNUSABLE : 0);

	vmcs_write(VMCS_GUEST_BASE(s), g->base);
	vmcs_write(VMCS_GUEST_LIMIT(s), g->limit);
	vmcs_write(VMCS_GUEST_SEL(s), g->selector);
	vmcs_write(VMCS_GUEST_AR(s), ar);
}

/* struct dyad_sregs lists cs ds es fs gs ss tr ldt; the VMCS numbers ES CS SS DS FS GS LDTR TR. */
static struct dyad_segment *sregs_seg(struct dyad_sregs *s, unsigned i)
{
	struct dyad_segment *map[SEG_COUNT] = {
		[SEG_ES] = &s->es, [SEG_CS] = &s->cs, [SEG_SS] = &s->ss,    [SEG_DS] = &s->ds,
		[SEG_FS] = &s->fs, [SEG_GS] = &s->gs, [SEG_LDTR] = &s->ldt, [SEG_TR] = &s->tr,
	};
	return map[i];
}

static u64 guest_cr8(struct vmx_vcpu *x)
{
	if (x->vapic)
		return ((u8 *)pmem_va(x->vapic))[0x80] >> 4;
	return x->cr8;
}

static int vmx_get_sregs(struct vcpu *v, struct dyad_sregs *s)
{
	struct vmx_vcpu *x = v->hw;

	vmx_load(x);
	for (unsigned i = 0; i < SEG_COUNT; i++)
		seg_get(i, sregs_seg(s, i));
	s->gdt = (struct dyad_dtable){ .base = vmcs_read(VMCS_GUEST_GDTR_BASE),
				       .limit = vmcs_read(VMCS_GUEST_GDTR_LIMIT) };
	s->idt = (struct dyad_dtable){ .base = vmcs_read(VMCS_GUEST_IDTR_BASE),
				       .limit = vmcs_read(VMCS_GUEST_IDTR_LIMIT) };
	s->cr0 = vmx_guest_cr0();
	s->cr2 = x->cr2;
	s->cr3 = vmcs_read(VMCS_GUEST_CR3);
	s->cr4 = vmx_guest_cr4();
	s->cr8 = guest_cr8(x);
	s->efer = vmcs_read(VMCS_GUEST_EFER);
	return 0;
}

static int vmx_set_sregs(struct vcpu *v, const struct dyad_sregs *s)
{
	struct vmx_vcpu *x = v->hw;
	struct dyad_sregs copy = *s;
	u64 cr0, cr4;

	/* Bits the CPU cannot hold at all are refused; anything else is the entry's to judge. */
	if (!vmx_cr0_real(s->cr0, &cr0) || !vmx_cr4_real(s->cr4, &cr4) || s->cr8 > 15)
		return -EINVAL;
	vmx_load(x);
	for (unsigned i = 0; i < SEG_COUNT; i++)
		seg_set(i, sregs_seg(&copy, i));
	vmcs_write(VMCS_GUEST_GDTR_BASE, s->gdt.base);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, s->gdt.limit);
	vmcs_write(VMCS_GUEST_IDTR_BASE, s->idt.base);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, s->idt.limit);
	vmcs_write(VMCS_GUEST_CR0, cr0);
	vmcs_write(VMCS_CR0_SHADOW, s->cr0);
	vmcs_write(VMCS_GUEST_CR4, cr4);
	vmcs_write(VMCS_CR4_SHADOW, s->cr4);
	vmcs_write(VMCS_GUEST_CR3, s->cr3);
	x->cr2 = s->cr2;
	if (x->vapic)
		((u8 *)pmem_va(x->vapic))[0x80] = s->cr8 << 4;
	else
		x->cr8 = s->cr8;
	vmx_set_efer(x, s->efer, cr0);
	return 0;
}

/*
 * The MSRs the VMCS or the vCPU's state holds: a VMCS field encoding, or (VMX_IN_VCPU) the
 * offset of a u64 in struct vmx_vcpu for the MSRs vmx_run.c swaps itself.
 */
#define VMX_IN_VCPU BIT(31)
#define IN_VCPU(f) (VMX_IN_VCPU | (u32)__builtin_offsetof(struct vmx_vcpu, f))
static const struct vx86_msr_slot vmx_msrs[] = {
	{ DYAD_MSR_SYSENTER_CS, VMCS_GUEST_SYSENTER_CS },
	{ DYAD_MSR_SYSENTER_ESP, VMCS_GUEST_SYSENTER_ESP },
	{ DYAD_MSR_SYSENTER_EIP, VMCS_GUEST_SYSENTER_EIP },
	{ DYAD_MSR_PAT, VMCS_GUEST_PAT },
	{ DYAD_MSR_FS_BASE, VMCS_GUEST_BASE(SEG_FS) },
	{ DYAD_MSR_GS_BASE, VMCS_GUEST_BASE(SEG_GS) },
	{ DYAD_MSR_EFER, VMCS_GUEST_EFER },
	{ DYAD_MSR_STAR, IN_VCPU(star) },
	{ DYAD_MSR_LSTAR, IN_VCPU(lstar) },
	{ DYAD_MSR_CSTAR, IN_VCPU(cstar) },
	{ DYAD_MSR_SFMASK, IN_VCPU(sfmask) },
	{ DYAD_MSR_KERNEL_GS_BASE, IN_VCPU(kernel_gs_base) },
};
#undef IN_VCPU

static int vmx_get_msr(struct vcpu *v, u32 index, u64 *value)
{
	struct vmx_vcpu *x = v->hw;
	const struct vx86_msr_slot *m = vx86_msr_find(vmx_msrs, ARRAY_SIZE(vmx_msrs), index);

	vmx_load(x);
	if (index == DYAD_MSR_TSC)
		*value = rdtsc() + vmcs_read(VMCS_TSC_OFFSET);
	else if (!m)
		return -ENOENT;
	else if (m->where & VMX_IN_VCPU)
		*value = *(u64 *)((u8 *)x + (m->where & ~VMX_IN_VCPU));
	else
		*value = vmcs_read(m->where);
	return 0;
}

/* Values the VMCS or a ring-0 WRMSR in vmx_run.c would refuse are refused (vx86_msr_check). */
static int vmx_set_msr(struct vcpu *v, u32 index, u64 value)
{
	struct vmx_vcpu *x = v->hw;
	const struct vx86_msr_slot *m = vx86_msr_find(vmx_msrs, ARRAY_SIZE(vmx_msrs), index);

	if (index != DYAD_MSR_TSC && !m)
		return -ENOENT;
	if (vx86_msr_check(index, value))
		return -EINVAL;
	vmx_load(x);
	if (index == DYAD_MSR_TSC)
		vmcs_write(VMCS_TSC_OFFSET, value - rdtsc());
	else if (index == DYAD_MSR_EFER)
		vmx_set_efer(x, value, vmx_guest_cr0());
	else if (m->where & VMX_IN_VCPU)
		*(u64 *)((u8 *)x + (m->where & ~VMX_IN_VCPU)) = value;
	else
		vmcs_write(m->where, value);
	return 0;
}

static void vmx_paging(struct vcpu *v, struct vcpu_paging *out)
{
	vmx_load(v->hw);
	out->cr0 = vmx_guest_cr0();
	out->cr3 = vmcs_read(VMCS_GUEST_CR3);
	out->cr4 = vmx_guest_cr4();
	out->efer = vmcs_read(VMCS_GUEST_EFER);
	out->cs_base = vmcs_read(VMCS_GUEST_BASE(SEG_CS));
	out->rip = v->run->regs.rip;
	for (unsigned i = 0; i < 4; i++)
		out->pdpte[i] = vmcs_read(VMCS_GUEST_PDPTE(i));
}

/* NMI injection needs virtual NMIs and NMI-window exiting (vmx_caps.c). */
static bool vmx_nmi_ok(void)
{
	return vmx_config.have & VMX_HAVE_VNMI;
}

const struct vcpu_backend vmx_backend = {
	.name = "vmx",
	.detect = vmx_detect,
	.enable = vmx_enable,
	.disable = vmx_disable,
	.create = vmx_create,
	.destroy = vmx_destroy,
	.enter = vmx_enter,
	.get_sregs = vmx_get_sregs,
	.set_sregs = vmx_set_sregs,
	.get_msr = vmx_get_msr,
	.set_msr = vmx_set_msr,
	.paging = vmx_paging,
	.sync = vmx_sync,
	.nmi_ok = vmx_nmi_ok,
};
