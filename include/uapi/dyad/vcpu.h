/* SPDX-License-Identifier: MIT */
#ifndef UAPI_DYAD_VCPU_H
#define UAPI_DYAD_VCPU_H

#include "abi.h"

/*
 * Dyad's virtual-machine interface: what a user-space VMM sees, the same on Intel VMX and AMD
 * SVM. The VMM does not learn which vendor it runs on (beyond the CPUID values it reads itself).
 *
 * A VM is bound to the address space of the process that creates it: guest-physical address X
 * is the VMM's virtual address X, and the guest sees exactly the VMM's DYAD_MAP_GUEST memory
 * (with execute rights: guest-visible implies guest-executable). Everything else the guest
 * touches is an MMIO exit. One VM per process, up to DYAD_VCPUS_MAX vCPUs per VM, each with its
 * own descriptor and run page; each vCPU is run by one thread at a time (any thread of the
 * process, on any CPU), several vCPUs by several threads at once.
 *
 *	int vm = dyad_vm_create(0);                          -ENODEV without VMX/SVM
 *	int cpu = ioctl(vm, DYAD_VM_CREATE_VCPU, 0);
 *	struct dyad_run *run = mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
 *				    cpu, 0);
 *	ioctl(cpu, DYAD_VCPU_SET_SREGS, &sregs);  ... set run->regs ...
 *	for (;;) {
 *		ioctl(cpu, DYAD_VCPU_RUN, 0);              returns 0 with run->exit_reason set
 *		switch (run->exit_reason) { ... emulate, advance run->regs.rip ... }
 *	}
 *
 * Closing the last descriptor of a vCPU or VM, or the VMM's exit or death, frees everything.
 */

/* long dyad_vm_create(unsigned long flags): a VM descriptor; flags must be 0. */
#define DYAD_SYS_VM_CREATE (DYAD_SYS_BASE + 3)

/* ioctl requests. Each returns 0 (or a descriptor) or -errno. */
#define DYAD_VM_CREATE_VCPU 0xd7a0 /* on a VM fd, arg 0: a vCPU descriptor (-EBUSY: all made) */
#define DYAD_VCPU_RUN 0xd7a1 /* arg 0: runs the guest until an exit for the VMM */
#define DYAD_VCPU_GET_SREGS 0xd7a2 /* arg: struct dyad_sregs * */
#define DYAD_VCPU_SET_SREGS 0xd7a3 /* arg: const struct dyad_sregs * */
#define DYAD_VCPU_GET_MSRS 0xd7a4 /* arg: struct dyad_msrs *; returns entries done */
#define DYAD_VCPU_SET_MSRS 0xd7a5 /* arg: const struct dyad_msrs *; returns entries done */
/*
 * arg 0, from any thread of the VMM: latches a kick on this vCPU. Its DYAD_VCPU_RUN (running
 * now, in guest mode on another CPU or asleep on HLT, or the next one) returns
 * DYAD_EXIT_KICK promptly; one exit consumes every kick latched before it. No signals: the
 * VMM posts its state (an interrupt for this vCPU) first, then kicks.
 */
#define DYAD_VCPU_KICK 0xd7a6
/*
 * arg 0, from any thread of the VMM: a non-maskable interrupt for this vCPU (an NMI IPI, LINT1).
 * The kernel delivers it itself, without an exit to the VMM, at the first entry where the guest
 * can take one: not while its NMI handler runs (from the delivery to the end of its next IRET)
 * and not in an STI / MOV SS shadow. A vCPU in guest mode on another CPU is made to exit and
 * re-enter, one asleep on HLT wakes, a HLT with RFLAGS.IF = 0 ends. Requests not yet delivered
 * make one NMI, as the CPU's own NMI latch does: one that comes while the handler runs waits
 * for its IRET, and others that come meanwhile merge with it. RUN goes on (no exit reason of
 * its own); run->nmi_state shows what is pending or in progress at each exit.
 * -EINVAL for arg != 0; -ENODEV on a CPU that cannot track the guest's NMI blocking (VMX
 * without virtual NMIs).
 */
#define DYAD_VCPU_NMI 0xd7a7

/* vCPUs one VM may hold. */
#define DYAD_VCPUS_MAX 32

/* mmap(fd of a vCPU, offset 0) maps its run page: VMM-private, never guest-visible. */
#define DYAD_RUN_SIZE 4096

/* The guest's general registers. Kept in the run page: in on every run, out on every exit. */
struct dyad_regs {
	unsigned long rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	unsigned long r8, r9, r10, r11, r12, r13, r14, r15;
	unsigned long rip, rflags;
};

/* A segment register as the guest's descriptor would describe it. */
struct dyad_segment {
	unsigned long base;
	unsigned int limit; /* in bytes - 1, granularity already applied */
	unsigned short selector;
	unsigned char type; /* descriptor type field, 4 bits */
	unsigned char s, dpl, present, avl, l, db, g;
	unsigned char unusable; /* a null selector loaded in protected mode */
	unsigned char pad[3];
};

struct dyad_dtable {
	unsigned long base;
	unsigned short limit;
	unsigned short pad[3];
};

struct dyad_sregs {
	struct dyad_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct dyad_dtable gdt, idt;
	unsigned long cr0, cr2, cr3, cr4, cr8;
	unsigned long efer;
};

/*
 * MSRs the kernel keeps for the guest and switches around every entry; GET/SET_MSRS accept
 * these and stop at the first other index. The guest reads and writes them without a VMM exit;
 * every other MSR access is a DYAD_EXIT_RDMSR/WRMSR exit. Writing IA32_TSC sets the guest's TSC
 * offset.
 */
#define DYAD_MSR_TSC 0x00000010
#define DYAD_MSR_SYSENTER_CS 0x00000174
#define DYAD_MSR_SYSENTER_ESP 0x00000175
#define DYAD_MSR_SYSENTER_EIP 0x00000176
#define DYAD_MSR_PAT 0x00000277
#define DYAD_MSR_EFER 0xc0000080
#define DYAD_MSR_STAR 0xc0000081
#define DYAD_MSR_LSTAR 0xc0000082
#define DYAD_MSR_CSTAR 0xc0000083
#define DYAD_MSR_SFMASK 0xc0000084
#define DYAD_MSR_FS_BASE 0xc0000100
#define DYAD_MSR_GS_BASE 0xc0000101
#define DYAD_MSR_KERNEL_GS_BASE 0xc0000102

struct dyad_msr_entry {
	unsigned int index;
	unsigned int reserved;
	unsigned long data;
};

struct dyad_msrs {
	unsigned int nmsrs; /* at most DYAD_MSRS_MAX */
	unsigned int pad;
	struct dyad_msr_entry entries[];
};
#define DYAD_MSRS_MAX 64

/* Why DYAD_VCPU_RUN returned (run->exit_reason). */
enum dyad_exit_reason {
	DYAD_EXIT_NONE = 0,
	DYAD_EXIT_IO, /* exit.io; IN: put the value in regs.rax; then rip += insn_len */
	DYAD_EXIT_MMIO, /* exit.mmio: emulate the access, decode the length from exit.mmio.insn */
	DYAD_EXIT_CPUID, /* leaf in regs.rax, subleaf in regs.rcx; rip += insn_len */
	DYAD_EXIT_RDMSR, /* exit.msr.index; put edx:eax; rip += insn_len (or inject #GP) */
	DYAD_EXIT_WRMSR, /* exit.msr.index and .value; rip += insn_len (or inject #GP) */
	DYAD_EXIT_HLT, /* HLT that nothing will end: RFLAGS.IF = 0, or IF = 1 with neither a
			* deadline nor DYAD_RUN_WAKE_CONSOLE; rip is at the HLT: rip += insn_len */
	DYAD_EXIT_HYPERCALL, /* VMCALL / VMMCALL; rip += insn_len */
	DYAD_EXIT_SHUTDOWN, /* triple fault: the guest must be reset or ended */
	DYAD_EXIT_FAIL_ENTRY, /* the CPU refused the guest state: exit.fail */
	DYAD_EXIT_DEADLINE, /* run->deadline_tsc passed */
	DYAD_EXIT_CONSOLE, /* console input is waiting (DYAD_RUN_WAKE_CONSOLE) */
	DYAD_EXIT_KICK, /* DYAD_VCPU_KICK: another thread wants this vCPU's attention */
	DYAD_EXIT_INTERNAL, /* an exit the kernel cannot handle or report otherwise: exit.internal */
	DYAD_EXIT_REASONS
};

/* Access bits of an MMIO exit. */
#define DYAD_ACCESS_READ 0x1
#define DYAD_ACCESS_WRITE 0x2
#define DYAD_ACCESS_EXEC 0x4

#define DYAD_IO_OUT 0
#define DYAD_IO_IN 1

/* An event for the guest (run->inject). Only these two types exist; anything else is -EINVAL. */
#define DYAD_EVENT_EXTINT 0 /* external interrupt, vector 16..255, delivered when RFLAGS.IF allows */
#define DYAD_EVENT_EXCEPTION 3 /* hardware exception, vector 0..31 except 2 (NMI), delivered now */

struct dyad_event {
	/*
	 * Set by the VMM; cleared by the kernel when it hands the event to the CPU. An event
	 * whose delivery an exit cut short is delivered again by the kernel, before any other.
	 */
	unsigned char pending;
	unsigned char type; /* DYAD_EVENT_* */
	unsigned char vector;
	unsigned char has_error_code; /* only for #DF #TS #NP #SS #GP #PF #AC */
	unsigned int error_code;
};

/* Bits of run->nmi_state. */
#define DYAD_NMI_PENDING 0x1 /* DYAD_VCPU_NMI latched, not yet delivered */
#define DYAD_NMI_BLOCKED 0x2 /* the guest's NMI handler runs: delivered, its IRET not yet done */

/* Bits of run->request. */
#define DYAD_RUN_WAKE_CONSOLE 0x1 /* return DYAD_EXIT_CONSOLE as soon as console input waits */

/* Indices of run->stats.exits: every exit, whether the kernel or the VMM finished it. */
enum dyad_stat {
	DYAD_STAT_IO,
	DYAD_STAT_MMIO,
	DYAD_STAT_CPUID,
	DYAD_STAT_RDMSR,
	DYAD_STAT_WRMSR,
	DYAD_STAT_HLT,
	DYAD_STAT_HYPERCALL,
	DYAD_STAT_SHUTDOWN,
	DYAD_STAT_FAIL_ENTRY,
	DYAD_STAT_DEADLINE,
	DYAD_STAT_CONSOLE,
	DYAD_STAT_KICK,
	DYAD_STAT_INTERNAL,
	/* finished by the kernel */
	DYAD_STAT_GUEST_FAULT, /* second-stage fault served as an ordinary page fault */
	DYAD_STAT_SPURIOUS_FAULT, /* the entry already allowed the access: resumed */
	DYAD_STAT_EXTINT, /* a host interrupt arrived while the guest ran */
	DYAD_STAT_NMI,
	DYAD_STAT_INTR_WINDOW, /* the guest became able to take the queued interrupt */
	DYAD_STAT_PREEMPT, /* the kernel took the CPU back to check for work */
	DYAD_STAT_MSR_KERNEL, /* an MSR the kernel keeps for the guest */
	DYAD_STAT_XSETBV,
	DYAD_STAT_CR, /* a control-register access the kernel emulated */
	DYAD_STAT_HALT_SLEEP, /* HLT with IF = 1: the host slept until an event */
	DYAD_STAT_EXCEPTION, /* a guest exception intercepted and reflected */
	DYAD_STAT_OTHER,
	DYAD_STATS
};

struct dyad_vcpu_stats {
	unsigned long exits[DYAD_STATS];
	unsigned long guest_faults[3]; /* pages the guest faulted in: 4 KiB, 2 MiB, 1 GiB */
	unsigned long entries; /* VM entries (VMLAUNCH/VMRESUME/VMRUN) */
	unsigned long cpus_entered; /* bit N: an entry happened on host CPU N (N < 64) */
};

/*
 * The run page. The VMM writes the "in" fields before DYAD_VCPU_RUN; the kernel writes the "out"
 * fields before it returns. Nothing is copied: the kernel reads and writes this page in place.
 */
struct dyad_run {
	/* in */
	unsigned long deadline_tsc; /* host TSC at which to return DYAD_EXIT_DEADLINE; 0: none */
	unsigned int request; /* DYAD_RUN_* */
	unsigned int pad0;
	struct dyad_event inject; /* in/out: pending is cleared when delivered */

	/* in/out */
	struct dyad_regs regs;

	/* out */
	unsigned int exit_reason; /* enum dyad_exit_reason */
	unsigned char insn_len; /* length of the exiting instruction where known, else 0 */
	unsigned char if_flag; /* the guest's RFLAGS.IF at the exit */
	unsigned char interrupt_shadow; /* STI/MOV SS blocking at the exit */
	unsigned char nmi_state; /* DYAD_NMI_* at the exit */
	unsigned long tsc_khz; /* the host TSC frequency Dyad measured */
	union {
		struct {
			unsigned short port;
			unsigned char size; /* 1, 2 or 4 */
			unsigned char direction; /* DYAD_IO_OUT / DYAD_IO_IN */
			unsigned char string; /* INS/OUTS */
			unsigned char rep; /* with a REP prefix: regs.rcx counts */
			unsigned char pad[2];
			unsigned int value; /* OUT (not string): the value written */
		} io;
		struct {
			unsigned long gpa;
			unsigned int access; /* DYAD_ACCESS_* */
			unsigned char insn_bytes; /* bytes valid in insn (0: could not be fetched) */
			unsigned char insn[15]; /* from CS.base + RIP, through the guest's page tables */
		} mmio;
		struct {
			unsigned int index;
			unsigned int pad;
			unsigned long value; /* WRMSR: edx:eax */
		} msr;
		struct {
			unsigned long hw_reason; /* VM-instruction error or exit reason, vendor's number */
			unsigned long qualification;
		} fail;
		struct {
			unsigned long hw_reason; /* the vendor's exit code */
			unsigned long info[2];
		} internal;
		unsigned long raw[8];
	} exit;

	struct dyad_vcpu_stats stats; /* out: counters since the vCPU was created */
};

#endif
