/* SPDX-License-Identifier: MIT */
#ifndef DYAD_VCPU_H
#define DYAD_VCPU_H

#include <dyad/types.h>
#include <uapi/dyad/vcpu.h>

/*
 * The kernel side of the vCPU interface. kern/vcpu.c is vendor-neutral: descriptors, the run
 * page, validation, the run loop's policy (serve second-stage faults with vm_fault, sleep on
 * HLT, return on a deadline or console input), instruction fetch for MMIO exits, accounting,
 * teardown. A backend (arch/x86/vmx.c, arch/x86/svm.c) owns the hardware: it enters the guest
 * once per call and translates what the CPU reports into a struct vcpu_exit.
 */

struct proc;
struct vm;

struct vcpu {
	struct vm *vm;
	struct dyad_run *run; /* the run page, through the direct map */
	paddr_t run_pa;
	void *hw; /* the backend's state: VMCS or VMCB and friends */
};

struct vm {
	struct proc *proc; /* whose address space is the guest-physical space */
	struct vcpu *vcpu; /* the one vCPU, or NULL */
	int refs; /* descriptors naming this VM, its vCPU's included */
};

/* What one entry into the guest ended with, as the backend reports it to kern/vcpu.c. */
enum vcpu_exit_kind {
	VCPU_EXIT_RESUME, /* finished inside the backend: check for host work, enter again */
	VCPU_EXIT_USER, /* run->exit_reason and run->exit are filled: return to the VMM */
	VCPU_EXIT_GUEST_FAULT, /* second-stage fault at .gpa: vm_fault(), else an MMIO exit */
	VCPU_EXIT_HALT, /* HLT with IF = 1, RIP already past it: sleep until an event */
};

struct vcpu_exit {
	enum vcpu_exit_kind kind;
	u64 gpa; /* VCPU_EXIT_GUEST_FAULT */
	u32 access; /* DYAD_ACCESS_* */
	bool entry_allowed; /* the faulting entry already allowed the access: spurious */
};

/* What instruction fetch needs to translate the guest's CS:RIP. */
struct vcpu_paging {
	u64 cr0, cr3, cr4, efer;
	u64 cs_base, rip;
	u64 pdpte[4]; /* PAE paging without long mode: the PDPTEs the CPU loaded */
};

struct vcpu_backend {
	const char *name; /* "vmx", "svm" */
	/* At boot: true when the CPU has all the backend needs; otherwise prints one line. */
	bool (*detect)(void);
	/* The first VM is created / the last one is gone (VMXON/VMXOFF, EFER.SVME). */
	int (*enable)(void);
	void (*disable)(void);
	int (*create)(struct vcpu *v);
	void (*destroy)(struct vcpu *v);
	/* Enters the guest once, with run->regs and run->inject as the VMM left them. */
	int (*enter)(struct vcpu *v, struct vcpu_exit *out);
	int (*get_sregs)(struct vcpu *v, struct dyad_sregs *s);
	int (*set_sregs)(struct vcpu *v, const struct dyad_sregs *s);
	/* -ENOENT for an MSR the kernel does not keep. */
	int (*get_msr)(struct vcpu *v, u32 index, u64 *value);
	int (*set_msr)(struct vcpu *v, u32 index, u64 value);
	void (*paging)(struct vcpu *v, struct vcpu_paging *out);
};

/* The backend chosen at boot, or NULL: then dyad_vm_create is -ENODEV. */
extern const struct vcpu_backend *vcpu_backend;
extern const struct vcpu_backend vmx_backend, svm_backend;

/* Chooses the backend the CPU supports; prints what it found or what is missing. */
void vcpu_init(void);

#endif
