// SPDX-License-Identifier: MIT
/*
 * One entry into a VMX guest and the translation of its exit (struct vcpu_exit and the run
 * page). What the CPU does not switch is switched here with interrupts off: CR2 around every
 * entry; the SYSCALL MSRs, KERNEL_GS_BASE and the x86 layer's state (FPU and XCR0, PKRU,
 * DR0-DR3, DR6) once per run call.
 * Exits the backend can finish (host interrupts, the interrupt window, XSETBV, owned CR bits,
 * the TSC offset) return VCPU_EXIT_RESUME; the rest go to kern/vcpu.c.
 */
#include <arch/x86/asm.h>
#include <arch/x86/fpu.h>
#include <arch/x86/pmap.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/proc.h>
#include <dyad/string.h>
#include <dyad/time.h>

#include "vmx_priv.h"

#define PREEMPT_MAX 0xffffffffULL

static inline void write_cr2_raw(u64 v)
{
	__asm__ volatile("mov %0, %%cr2" : : "r"(v));
}

static void stat(struct dyad_run *run, unsigned which)
{
	run->stats.exits[which]++;
}

/* Queues an exception that the kernel raises for the guest (it goes before anything else). */
static void raise_exception(struct vmx_vcpu *x, unsigned vector, bool has_error, u32 error)
{
	if (x->event_info)
		return; /* an event cut short goes first; delivering it raises this one again */
	x->event_info = vector | INTR_TYPE_HW_EXC << 8 | INTR_INFO_VALID;
	if (has_error && (vmcs_read(VMCS_GUEST_CR0) & CR0_PE))
		x->event_info |= INTR_INFO_HAS_ERROR;
	x->event_error = error;
	x->event_len = 0;
}

/* Whether the guest can take an NMI now: virtual-NMI blocking and the STI / MOV SS shadows. */
static bool nmi_open(u32 block)
{
	return (vmx_config.have & VMX_HAVE_VNMI) &&
	       !(block & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS | INTERRUPTIBILITY_NMI));
}

/*
 * Chooses the event of this entry, with interrupts off: an event cut short, the VMM's
 * exception, the latched NMI, the VMM's interrupt, in that order. Arms interrupt-window exiting
 * when the interrupt must wait and NMI-window exiting when the NMI must: the CPU's virtual-NMI
 * blocking lasts from the NMI's delivery to the end of the guest's next IRET.
 */
static void prepare_events(struct vcpu *v, struct vmx_vcpu *x, struct dyad_run *run)
{
	u32 block = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY);
	const struct dyad_event *e = &run->inject;
	u32 info = 0, proc;

	/* The VMM emulated the exiting instruction: the STI / MOV SS shadow ended with it. */
	if (run->regs.rip != x->exit_rip &&
	    (block & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))) {
		block &= ~(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS);
		vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, block);
	}
	x->run_event = false;
	x->nmi_event = false;
	if (x->event_info) {
		info = x->event_info;
		vmcs_write(VMCS_ENTRY_EXC_ERROR, x->event_error);
		vmcs_write(VMCS_ENTRY_INSN_LEN, x->event_len);
		x->event_info = 0;
		/* An NMI cut short is not blocking yet; VM entry refuses to inject it if it were. */
		if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI && (block & INTERRUPTIBILITY_NMI))
			vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, block & ~INTERRUPTIBILITY_NMI);
	} else if (e->pending && e->type == DYAD_EVENT_EXCEPTION) {
		info = e->vector | INTR_TYPE_HW_EXC << 8 | INTR_INFO_VALID;
		if (e->has_error_code && (vmcs_read(VMCS_GUEST_CR0) & CR0_PE)) {
			info |= INTR_INFO_HAS_ERROR;
			vmcs_write(VMCS_ENTRY_EXC_ERROR, e->error_code);
		}
		x->run_event = true;
	} else if (nmi_open(block) && vcpu_nmi_take(v)) {
		info = T_NMI | INTR_TYPE_NMI << 8 | INTR_INFO_VALID;
		x->nmi_event = true;
	} else if (e->pending && (run->regs.rflags & RFLAGS_IF) &&
		   !(block & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))) {
		info = e->vector | INTR_TYPE_EXTINT << 8 | INTR_INFO_VALID;
		x->run_event = true;
	}
	vmcs_write(VMCS_ENTRY_INTR_INFO, info);

	proc = e->pending && !x->run_event ? x->proc_ctls | PROC_INTR_WINDOW
					   : x->proc_ctls & ~PROC_INTR_WINDOW;
	proc &= ~PROC_NMI_WINDOW;
	if ((vmx_config.have & VMX_HAVE_VNMI) && vcpu_nmi_latched(v))
		proc |= PROC_NMI_WINDOW;
	if (proc != x->proc_ctls) {
		x->proc_ctls = proc;
		vmcs_write(VMCS_PROC_CTLS, proc);
	}
}

/*
 * The preemption timer ends the entry at the VMM's deadline, and an entry with the guest's
 * RFLAGS.IF = 0 after one host timer period at most. External-interrupt exiting should end such
 * an entry at the first host interrupt whatever the guest's IF; Bochs's VMX model (2.7) does
 * not: it re-evaluates interrupt masking while it loads the guest's RFLAGS, before it counts
 * the CPU as in VMX non-root, so with IF = 0 on both sides of the entry every host interrupt
 * stays pending until the guest sets IF or something else exits. A guest spinning with IF = 0
 * then held off this CPU's timer and the call IPIs of TLB shootdowns (smp_call_mask() panics
 * after 10 s). The bound makes the exit come anyway; the interrupt is taken when vmx_enter()
 * enables interrupts again. On a CPU without the defect it costs one exit per timer period
 * of a guest that keeps IF = 0.
 */
static void prepare_timer(struct dyad_run *run)
{
	u64 now, ticks = PREEMPT_MAX, if_off_max = (tsc_hz / TIMER_HZ) >> vmx_config.preempt_shift;

	if (!(vmx_config.have & VMX_HAVE_PREEMPT))
		return;
	if (run->deadline_tsc) {
		now = rdtsc();
		ticks = run->deadline_tsc > now
				? (run->deadline_tsc - now) >> vmx_config.preempt_shift
				: 0;
	}
	if (!(run->regs.rflags & RFLAGS_IF) && ticks > if_off_max)
		ticks = if_off_max;
	if (ticks > PREEMPT_MAX)
		ticks = PREEMPT_MAX;
	vmcs_write(VMCS_PREEMPT_TIMER, ticks);
}

/*
 * The VMM's registers are live while it is in the kernel: the MSRs VMX does not switch are
 * swapped, and the x86 layer sets the VMM's FPU, PKRU and debug registers aside for the guest's.
 */
static void switch_to_guest(struct vmx_vcpu *x)
{
	x->host_kgs = rdmsr(MSR_KERNEL_GS_BASE);
	wrmsr(MSR_STAR, x->star);
	wrmsr(MSR_LSTAR, x->lstar);
	wrmsr(MSR_CSTAR, x->cstar);
	wrmsr(MSR_SFMASK, x->sfmask);
	wrmsr(MSR_KERNEL_GS_BASE, x->kernel_gs_base);
	vx86_state_to_guest(&x->state);
}

static void switch_to_host(struct vmx_vcpu *x)
{
	vx86_state_to_host(&x->state);
	x->star = rdmsr(MSR_STAR);
	x->lstar = rdmsr(MSR_LSTAR);
	x->cstar = rdmsr(MSR_CSTAR);
	x->sfmask = rdmsr(MSR_SFMASK);
	x->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
	wrmsr(MSR_STAR, vmx_host_star);
	wrmsr(MSR_LSTAR, vmx_host_lstar);
	wrmsr(MSR_CSTAR, vmx_host_cstar);
	wrmsr(MSR_SFMASK, vmx_host_sfmask);
	wrmsr(MSR_KERNEL_GS_BASE, x->host_kgs);
}

/* Hands @vector to the host's handler through its IDT gate, as if it had arrived in the host. */
static void host_int(unsigned vector)
{
	void (*stub)(void) = (void (*)(void))(vmx_int_stubs + 4 * vector);

	stub();
}

/* ---- exits --------------------------------------------------------------------------------- */

/* Moves RIP past the exiting instruction, which also ends an STI / MOV SS shadow. */
static void skip_insn(struct vmx_vcpu *x, struct dyad_run *run)
{
	u32 block = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY);

	run->regs.rip += vmcs_read(VMCS_EXIT_INSN_LEN);
	x->exit_rip = run->regs.rip;
	if (block & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))
		vmcs_write(VMCS_GUEST_INTERRUPTIBILITY,
			   block & ~(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
}

static void to_vmm(struct dyad_run *run, struct vcpu_exit *out, unsigned reason, unsigned len)
{
	out->kind = VCPU_EXIT_USER;
	run->exit_reason = reason;
	run->insn_len = len;
}

/* The general register a CR-access or similar exit names (SDM table 27-3 numbering). */
static unsigned long *gpr(struct dyad_run *run, unsigned n)
{
	static const u8 slot[16] = { 0, 2, 3, 1, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15 };

	return &((unsigned long *)&run->regs)[slot[n & 15]];
}

static void exit_io(struct dyad_run *run, struct vcpu_exit *out, u64 q)
{
	unsigned size = (q & 7) + 1;

	to_vmm(run, out, DYAD_EXIT_IO, vmcs_read(VMCS_EXIT_INSN_LEN));
	run->exit.io.port = q >> 16;
	run->exit.io.size = size;
	run->exit.io.direction = (q & BIT(3)) ? DYAD_IO_IN : DYAD_IO_OUT;
	run->exit.io.string = !!(q & BIT(4));
	run->exit.io.rep = !!(q & BIT(5));
	run->exit.io.value = 0;
	if (run->exit.io.direction == DYAD_IO_OUT && !run->exit.io.string)
		run->exit.io.value = run->regs.rax &
				     (size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1);
}

static void exit_ept(struct dyad_run *run, struct vcpu_exit *out, u64 q)
{
	u32 access = (q & 7), allowed = (q >> 3) & 7; /* R W X, in the same bit order as DYAD_ */

	out->kind = VCPU_EXIT_GUEST_FAULT;
	out->gpa = vmcs_read(VMCS_GUEST_PHYS_ADDR);
	out->access = access;
	out->entry_allowed = access && (allowed & access) == access;
	run->insn_len = 0; /* undefined for EPT violations: the VMM decodes */
}

/* MOV to CR0 / CR4 changing a bit the host owns: the shadow takes the guest's value. */
static bool emulate_cr_write(struct vmx_vcpu *x, unsigned cr, u64 val)
{
	u64 real, old;

	if (cr == 4) {
		if (!vmx_cr4_real(val, &real))
			return false;
		vmcs_write(VMCS_GUEST_CR4, real);
		vmcs_write(VMCS_CR4_SHADOW, val);
		return true;
	}
	if (!vmx_cr0_real(val, &real))
		return false;
	old = vmcs_read(VMCS_GUEST_CR0);
	if (!(old & CR0_PG) && (val & CR0_PG) && (vmcs_read(VMCS_GUEST_EFER) & EFER_LME) &&
	    !(vmcs_read(VMCS_GUEST_CR4) & CR4_PAE))
		return false; /* long mode needs PAE */
	vmcs_write(VMCS_GUEST_CR0, real);
	vmcs_write(VMCS_CR0_SHADOW, val);
	if ((old ^ val) & CR0_PG)
		vmx_set_efer(x, vmcs_read(VMCS_GUEST_EFER), real);
	return true;
}

static void exit_cr(struct vmx_vcpu *x, struct dyad_run *run, struct vcpu_exit *out, u64 q)
{
	unsigned cr = q & 15, type = (q >> 4) & 3;
	unsigned long *reg = gpr(run, q >> 8);

	if (type == 0 && (cr == 0 || cr == 4)) {
		if (!emulate_cr_write(x, cr, *reg)) {
			raise_exception(x, T_GP, true, 0);
			stat(run, DYAD_STAT_CR);
			return;
		}
	} else if (type == 0 && cr == 8 && !x->vapic) {
		if (*reg > 15) {
			raise_exception(x, T_GP, true, 0);
			stat(run, DYAD_STAT_CR);
			return;
		}
		x->cr8 = *reg;
	} else if (type == 1 && cr == 8 && !x->vapic) {
		*reg = x->cr8;
	} else {
		to_vmm(run, out, DYAD_EXIT_INTERNAL, 0);
		run->exit.internal.hw_reason = EXIT_CR_ACCESS;
		run->exit.internal.info[0] = q;
		return;
	}
	skip_insn(x, run);
	stat(run, DYAD_STAT_CR);
}

/*
 * A #DB exit leaves DR6 as it was (SDM 27.1): the qualification's B0-B3, BD and BS go into the
 * guest's DR6, which is in the CPU, before the #DB is reflected; BD clears DR7.GD as delivery
 * would.
 */
static void reflect_db(struct vmx_vcpu *x, u64 q, u32 info)
{
	u64 dr6;

	if (x->event_info)
		return; /* an event cut short goes first; delivering it raises the #DB again */
	__asm__ volatile("mov %%db6, %0" : "=r"(dr6));
	dr6 |= q & 0x600f;
	__asm__ volatile("mov %0, %%db6" : : "r"(dr6));
	if (q & BIT(13))
		vmcs_write(VMCS_GUEST_DR7, vmcs_read(VMCS_GUEST_DR7) & ~BIT(13));
	raise_exception(x, T_DB, false, 0);
	/* ICEBP (INT1): a privileged software exception, delivered past the instruction. */
	if (INTR_INFO_TYPE(info) == INTR_TYPE_PRIV_SW_EXC) {
		x->event_info = T_DB | INTR_TYPE_PRIV_SW_EXC << 8 | INTR_INFO_VALID;
		x->event_len = vmcs_read(VMCS_EXIT_INSN_LEN);
	}
}

/*
 * An exception or NMI exit: host NMIs; #UD (VMMCALL); #DB and #AC, reflected at once: their
 * exit is there so that a fault in their own delivery cannot loop inside the CPU.
 */
static void exit_exception(struct vcpu *v, struct vmx_vcpu *x, struct dyad_run *run,
			   struct vcpu_exit *out)
{
	u32 info = vmcs_read(VMCS_EXIT_INTR_INFO);

	if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI) {
		stat(run, DYAD_STAT_NMI);
		host_int(T_NMI);
		return;
	}
	if (INTR_INFO_VECTOR(info) == T_DB || INTR_INFO_VECTOR(info) == VX86_T_AC) {
		if (INTR_INFO_VECTOR(info) == T_DB)
			reflect_db(x, vmcs_read(VMCS_EXIT_QUAL), info);
		else
			raise_exception(x, VX86_T_AC, true, 0);
		stat(run, DYAD_STAT_EXCEPTION);
		return;
	}
	if (INTR_INFO_VECTOR(info) == T_UD) {
		static const u8 vmmcall[3] = { 0x0f, 0x01, 0xd9 };
		u8 insn[3];

		/* AMD's VMMCALL is a hypercall here too: a VMM need not know the vendor. */
		if (vcpu_fetch(v, insn, 3) == 3 && !memcmp(insn, vmmcall, 3)) {
			to_vmm(run, out, DYAD_EXIT_HYPERCALL, 3);
			return;
		}
		raise_exception(x, T_UD, false, 0);
		stat(run, DYAD_STAT_EXCEPTION);
		return;
	}
	to_vmm(run, out, DYAD_EXIT_INTERNAL, 0);
	run->exit.internal.hw_reason = EXIT_EXCEPTION_NMI;
	run->exit.internal.info[0] = info;
	run->exit.internal.info[1] = vmcs_read(VMCS_EXIT_INTR_ERROR);
}

/* A guest WRMSR to EFER, by the x86 layer's rule; false: the guest gets #GP. */
static bool efer_write(struct vmx_vcpu *x, u64 v)
{
	u64 cr0 = vmcs_read(VMCS_GUEST_CR0);

	if (!vx86_efer_write(vmcs_read(VMCS_GUEST_EFER), v, cr0, &v))
		return false;
	vmx_set_efer(x, v, cr0);
	return true;
}

static void exit_msr(struct vmx_vcpu *x, struct dyad_run *run, struct vcpu_exit *out, bool write)
{
	u32 index = run->regs.rcx;
	u64 value = (run->regs.rdx << 32) | (u32)run->regs.rax;

	if (write && index == DYAD_MSR_TSC) {
		vmcs_write(VMCS_TSC_OFFSET, value - rdtsc());
		skip_insn(x, run);
		stat(run, DYAD_STAT_MSR_KERNEL);
		return;
	}
	if (index == DYAD_MSR_EFER) {
		if (!write) {
			value = vmcs_read(VMCS_GUEST_EFER);
			run->regs.rax = (u32)value;
			run->regs.rdx = value >> 32;
		} else if (!efer_write(x, value)) {
			raise_exception(x, T_GP, true, 0);
			stat(run, DYAD_STAT_MSR_KERNEL);
			return;
		}
		skip_insn(x, run);
		stat(run, DYAD_STAT_MSR_KERNEL);
		return;
	}
	to_vmm(run, out, write ? DYAD_EXIT_WRMSR : DYAD_EXIT_RDMSR, vmcs_read(VMCS_EXIT_INSN_LEN));
	run->exit.msr.index = index;
	run->exit.msr.value = write ? value : 0;
}

static void exit_failed_entry(struct dyad_run *run, struct vcpu_exit *out, u64 reason, u64 qual)
{
	to_vmm(run, out, DYAD_EXIT_FAIL_ENTRY, 0);
	run->exit.fail.hw_reason = reason;
	run->exit.fail.qualification = qual;
}

static void translate(struct vcpu *v, struct vmx_vcpu *x, struct dyad_run *run,
		      struct vcpu_exit *out, u32 reason)
{
	u64 q = vmcs_read(VMCS_EXIT_QUAL);

	if (reason & EXIT_REASON_ENTRY_FAILED) {
		exit_failed_entry(run, out, reason, q);
		return;
	}
	switch (reason & 0xffff) {
	case EXIT_EXCEPTION_NMI:
		exit_exception(v, x, run, out);
		break;
	case EXIT_EXTINT:
		/* Acknowledged on exit; its handler runs through the host's IDT gate. */
		stat(run, DYAD_STAT_EXTINT);
		host_int(INTR_INFO_VECTOR(vmcs_read(VMCS_EXIT_INTR_INFO)));
		break;
	case EXIT_TRIPLE_FAULT:
		to_vmm(run, out, DYAD_EXIT_SHUTDOWN, 0);
		break;
	case EXIT_INTR_WINDOW:
	case EXIT_NMI_WINDOW:
		stat(run, DYAD_STAT_INTR_WINDOW); /* the next entry injects */
		break;
	case EXIT_CPUID:
		to_vmm(run, out, DYAD_EXIT_CPUID, vmcs_read(VMCS_EXIT_INSN_LEN));
		break;
	case EXIT_HLT:
		if (run->regs.rflags & RFLAGS_IF) {
			skip_insn(x, run);
			out->kind = VCPU_EXIT_HALT;
		} else if (vcpu_nmi_latched(v) &&
			   nmi_open(vmcs_read(VMCS_GUEST_INTERRUPTIBILITY))) {
			skip_insn(x, run); /* the NMI ends the HLT: its handler returns past it */
			stat(run, DYAD_STAT_OTHER);
		} else {
			to_vmm(run, out, DYAD_EXIT_HLT, vmcs_read(VMCS_EXIT_INSN_LEN));
		}
		break;
	case EXIT_VMCALL:
		to_vmm(run, out, DYAD_EXIT_HYPERCALL, vmcs_read(VMCS_EXIT_INSN_LEN));
		break;
	case EXIT_GETSEC:
	case EXIT_INVD:
	case EXIT_VMCLEAR ... EXIT_VMXON:
	case EXIT_INVEPT:
	case EXIT_INVVPID:
		/* No nested VMX, no SMX: the guest gets #UD, as on a CPU without them. */
		raise_exception(x, T_UD, false, 0);
		stat(run, DYAD_STAT_OTHER);
		break;
	case EXIT_CR_ACCESS:
		exit_cr(x, run, out, q);
		break;
	case EXIT_IO:
		exit_io(run, out, q);
		break;
	case EXIT_RDMSR:
	case EXIT_WRMSR:
		exit_msr(x, run, out, (reason & 0xffff) == EXIT_WRMSR);
		break;
	case EXIT_TPR_BELOW:
		stat(run, DYAD_STAT_OTHER);
		break;
	case EXIT_EPT_VIOLATION:
		exit_ept(run, out, q);
		break;
	case EXIT_PREEMPT_TIMER:
		/* At the VMM's deadline the run loop reports this exit as DYAD_EXIT_DEADLINE and
		 * counts it there: one exit, one reason. */
		if (!run->deadline_tsc || rdtsc() < run->deadline_tsc)
			stat(run, DYAD_STAT_PREEMPT);
		break;
	case EXIT_XSETBV: {
		u64 v = (run->regs.rdx << 32) | (u32)run->regs.rax;

		if (!vx86_xcr0_valid(run->regs.rcx, v)) {
			raise_exception(x, T_GP, true, 0);
			stat(run, DYAD_STAT_XSETBV);
			break;
		}
		/* The guest's state moves again, with the components of the new XCR0. */
		if (x->guest_loaded) {
			switch_to_host(x);
			x->guest_loaded = false;
		}
		x->state.xcr0 = v;
		skip_insn(x, run);
		stat(run, DYAD_STAT_XSETBV);
		break;
	}
	default:
		to_vmm(run, out, DYAD_EXIT_INTERNAL, 0);
		run->exit.internal.hw_reason = reason;
		run->exit.internal.info[0] = q;
		run->exit.internal.info[1] = vmcs_read(VMCS_GUEST_PHYS_ADDR);
	}
}

/*
 * An IRET that unblocked NMIs and then faulted (an exception or EPT violation exit, SDM 27.2.3)
 * runs again when the guest resumes: until it completes the guest is still in its NMI handler,
 * so blocking by NMI is set again.
 */
static void iret_reblock(u32 reason)
{
	bool unblocked = false;

	if (!(vmx_config.have & VMX_HAVE_VNMI))
		return;
	if ((reason & 0xffff) == EXIT_EXCEPTION_NMI) {
		u32 info = vmcs_read(VMCS_EXIT_INTR_INFO);
		unblocked = INTR_INFO_TYPE(info) != INTR_TYPE_NMI && (info & INTR_INFO_NMI_UNBLOCK);
	} else if ((reason & 0xffff) == EXIT_EPT_VIOLATION) {
		unblocked = vmcs_read(VMCS_EXIT_QUAL) & BIT(12);
	}
	if (unblocked)
		vmcs_write(VMCS_GUEST_INTERRUPTIBILITY,
			   vmcs_read(VMCS_GUEST_INTERRUPTIBILITY) | INTERRUPTIBILITY_NMI);
}

int vmx_enter(struct vcpu *v, struct vcpu_exit *out)
{
	struct vmx_vcpu *x = v->hw;
	struct dyad_run *run = v->run;
	u64 flags;
	u32 reason, vec;
	int failed;

	*out = (struct vcpu_exit){ .kind = VCPU_EXIT_RESUME };

	flags = read_rflags();
	vmx_load(x); /* with interrupts on: a vCPU that moved is VMCLEARed on its old CPU by IPI */
	irq_disable();
	/*
	 * A kick whose IPI came before irq_disable() was taken in the host: this look sees its
	 * latch. One whose IPI comes later finds interrupts off; it stays pending and, with
	 * external-interrupt exiting, ends the entry at once.
	 */
	if (vcpu_entry_cancelled(v)) {
		out->kind = VCPU_EXIT_CANCEL;
		goto done;
	}
	vmx_load(x);
	vmcs_write(VMCS_GUEST_RIP, run->regs.rip);
	vmcs_write(VMCS_GUEST_RSP, run->regs.rsp);
	vmcs_write(VMCS_GUEST_RFLAGS, run->regs.rflags);
	prepare_events(v, x, run);
	prepare_timer(run);
	if (!x->guest_loaded) {
		/* The first entry of this DYAD_VCPU_RUN: the VMM's CR3 and FS are the host's. */
		vmcs_write(VMCS_HOST_CR3, read_cr3());
		vmcs_write(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
		switch_to_guest(x);
		x->guest_loaded = true;
	}
	/* The kernel's own page faults (serving the guest's) may change CR2 between entries. */
	write_cr2_raw(x->cr2);
	/* This CPU may cache the EPT's translations from here on (pmap.h, SEVERAL CPUS). */
	pmap_guest_enter(&v->vm->proc->pmap, x->cpu);
	failed = vmx_run_guest(&run->regs, x->launched);
	x->cr2 = read_cr2();

	if (x->nmi_event && (failed || (vmcs_read(VMCS_EXIT_REASON) & EXIT_REASON_ENTRY_FAILED)))
		vcpu_nmi_untake(v); /* not delivered: it stays latched */
	if (failed) {
		/* The entry was refused before any guest state was looked at (VMfail). */
		/* hw_reason is the VM-instruction error; bit 31 clear tells it from an exit. */
		exit_failed_entry(run, out, vmcs_read(VMCS_INSN_ERROR), 0);
		goto done;
	}
	reason = vmcs_read(VMCS_EXIT_REASON);
	if (!(reason & EXIT_REASON_ENTRY_FAILED))
		x->launched = true;
	run->regs.rip = vmcs_read(VMCS_GUEST_RIP);
	run->regs.rsp = vmcs_read(VMCS_GUEST_RSP);
	run->regs.rflags = vmcs_read(VMCS_GUEST_RFLAGS);
	x->exit_rip = run->regs.rip;

	/* Delivered, or cut short and kept below for re-injection: the VMM's request is done. */
	if (x->run_event && !(reason & EXIT_REASON_ENTRY_FAILED))
		run->inject.pending = 0;
	vec = vmcs_read(VMCS_IDT_VEC_INFO);
	if ((vec & INTR_INFO_VALID) && !(reason & EXIT_REASON_ENTRY_FAILED)) {
		x->event_info = vec & ~INTR_INFO_NMI_UNBLOCK;
		x->event_error = vmcs_read(VMCS_IDT_VEC_ERROR);
		x->event_len = vmcs_read(VMCS_EXIT_INSN_LEN);
	} else if (!(reason & EXIT_REASON_ENTRY_FAILED)) {
		iret_reblock(reason);
	}
	translate(v, x, run, out, reason);
	u32 block = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY);
	run->if_flag = !!(run->regs.rflags & RFLAGS_IF);
	run->interrupt_shadow = !!(block & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
	run->nmi_state = (block & INTERRUPTIBILITY_NMI) ? DYAD_NMI_BLOCKED : 0;
done:
	if (flags & RFLAGS_IF)
		irq_enable();
	return 0;
}

void vmx_sync(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;
	u64 flags = read_rflags();

	if (!x->guest_loaded)
		return;
	irq_disable();
	switch_to_host(x);
	x->guest_loaded = false;
	if (flags & RFLAGS_IF)
		irq_enable();
}
