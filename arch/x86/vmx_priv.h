/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_VMX_PRIV_H
#define ARCH_X86_VMX_PRIV_H

#include <arch/x86/vcpu_x86.h>
#include <arch/x86/vmx.h>
#include <dyad/vcpu.h>

/* State shared by vmx.c (setup, guest state) and vmx_run.c (entry and exits). */


/* One vCPU's hardware state: one page holds this, the VMCS and friends are pages of their own. */
struct vmx_vcpu {
	/* Pages: vapic is 0 without a TPR shadow; fpu is the guest's, host_fpu the VMM's. */
	paddr_t self, vmcs, msr_bitmap, vapic, fpu, host_fpu;
	u64 eptp;
	u32 cpu; /* the CPU the VMCS is active on (VMPTRLD'd, not VMCLEARed), or VMX_NO_CPU */
	u64 migrations; /* moves to another CPU (vmx_load) */
	u16 vpid;
	bool launched; /* VMRESUME, not VMLAUNCH */
	bool run_event; /* run->inject went into this entry */
	bool nmi_event; /* the latched NMI (vcpu.nmi) went into this entry */
	/*
	 * The guest's SYSCALL MSRs and KERNEL_GS_BASE, and the x86 layer's state (FPU, XCR0,
	 * PKRU, DR0-DR3, DR6), are in the CPU: from the first entry of a DYAD_VCPU_RUN until
	 * vmx_sync(). The kernel uses none of them meanwhile.
	 */
	bool guest_loaded;
	u64 host_kgs; /* the VMM's, while guest_loaded */
	struct vx86_state state;
	u32 proc_ctls, entry_ctls; /* as last written */
	/* An event to deliver before anything else: cut short by the last exit, or the kernel's. */
	u32 event_info, event_error, event_len;
	u64 exit_rip; /* RIP at the last exit: the VMM moved it if it differs */
	/* Guest state the VMCS does not hold. */
	u64 cr2, cr8;
	u64 star, lstar, cstar, sfmask, kernel_gs_base;
};

#define VMX_NO_CPU 0xffffffffu

static inline struct vmx_vcpu *vmx_of(struct vcpu *v)
{
	return v->hw;
}

/* The host's SYSCALL MSRs, read at VMXON: restored after the guest's were loaded. */
extern u64 vmx_host_star, vmx_host_lstar, vmx_host_cstar, vmx_host_sfmask;

/*
 * Makes @x's VMCS the current one on this CPU (VMPTRLD unless it already is); a vCPU that was
 * last on another CPU is VMCLEARed there first and its host state rewritten (vmx.c, THE
 * MIGRATION RULE). Call with interrupts on when the vCPU may have moved.
 */
void vmx_load(struct vmx_vcpu *x);

/* The guest's view of CR0 / CR4 (the read shadow for bits the host owns). */
u64 vmx_guest_cr0(void);
u64 vmx_guest_cr4(void);
/* The value the CPU must hold for a guest that wants @val; false if @val is refused. */
bool vmx_cr0_real(u64 val, u64 *real);
bool vmx_cr4_real(u64 val, u64 *real);
/* Writes guest EFER and the IA-32e entry control that must match it. */
void vmx_set_efer(struct vmx_vcpu *x, u64 efer, u64 cr0);

/*
 * The entry half (vmx_run.c), named only by the backend table of vmx.c: vmx.c calls nothing
 * of vmx_run.c, which builds on vmx.c.
 */
int vmx_enter(struct vcpu *v, struct vcpu_exit *out);
void vmx_sync(struct vcpu *v);

#endif
