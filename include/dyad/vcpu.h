/* SPDX-License-Identifier: MIT */
#ifndef DYAD_VCPU_H
#define DYAD_VCPU_H

#include <dyad/spinlock.h>
#include <dyad/types.h>
#include <uapi/dyad/vcpu.h>

/*
 * The kernel side of the vCPU interface. kern/vcpu.c is vendor-neutral: descriptors, the run
 * page, the run loop's policy (serve second-stage faults with mm_fault, sleep on HLT, return
 * on a deadline or console input), accounting, teardown. The architecture layer (arch/x86/
 * vcpu_x86*.c) checks events and fetches the guest's instructions (the vcpu_arch_* and
 * vcpu_fetch functions below) and holds the rules both backends share. A backend
 * (arch/x86/vmx.c, arch/x86/svm.c) owns the hardware: it enters the guest once per call and
 * translates what the CPU reports into a struct vcpu_exit.
 */

struct proc;
struct thread;
struct vm;

struct vcpu {
	struct vm *vm;
	struct dyad_run *run; /* the run page, through the direct map */
	paddr_t run_pa;
	void *hw; /* the backend's state: VMCS or VMCB and friends */
	u32 run_cpu; /* the CPU in DYAD_VCPU_RUN's entry loop, VCPU_NO_CPU outside it */
	u64 kicks; /* vcpu_kick() IPIs sent to it */
	u32 id; /* index in vm->vcpus */
	u32 kick; /* DYAD_VCPU_KICK latched, not yet returned as DYAD_EXIT_KICK (atomic) */
	u32 nmi; /* DYAD_VCPU_NMI latched, not yet handed to the CPU (atomic) */
	struct thread *sleeper; /* the thread blocked in HLT for this vCPU, or NULL (atomic) */
	bool running; /* a thread is inside DYAD_VCPU_RUN (atomic: one runner at a time) */
};

#define VCPU_NO_CPU 0xffffffffu

/*
 * Makes @v leave guest mode soon if it is in the guest on another CPU: a call IPI to that CPU
 * (the external interrupt exits the guest; the entry loop then checks for host work, such as
 * a wake-up or a flush, before it enters again). Returns true if an IPI was sent. For threads
 * other than @v's (multi-vCPU guests); harmless when @v is not running.
 */
bool vcpu_kick(struct vcpu *v);

struct vm {
	struct proc *proc; /* whose address space is the guest-physical space */
	struct spinlock lock; /* nr_vcpus, vcpus[] */
	unsigned nr_vcpus; /* vcpus[0 .. nr_vcpus) exist; they live until the VM ends */
	struct vcpu *vcpus[DYAD_VCPUS_MAX];
	int refs; /* descriptors naming this VM (its vCPUs' included) + calls in flight (atomic) */
	int nfds; /* descriptors alone (atomic); at 0 the VM is closed */
	bool closed; /* every descriptor is gone: RUN calls still inside return -EBADF */
};

/* What one entry into the guest ended with, as the backend reports it to kern/vcpu.c. */
enum vcpu_exit_kind {
	VCPU_EXIT_RESUME, /* finished inside the backend: check for host work, enter again */
	VCPU_EXIT_USER, /* run->exit_reason and run->exit are filled: return to the VMM */
	VCPU_EXIT_GUEST_FAULT, /* second-stage fault at .gpa: mm_fault(), else an MMIO exit */
	VCPU_EXIT_HALT, /* HLT with IF = 1, RIP already past it: sleep until an event */
	VCPU_EXIT_CANCEL, /* not entered: vcpu_entry_cancelled() said so; nothing changed */
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

/*
 * What every backend does on every exit, whatever the kind: it copies the guest's general
 * registers into run->regs and sets run->if_flag and run->interrupt_shadow, so kern/vcpu.c
 * can return any exit to the VMM. A backend with a sync() op may instead keep them in its own
 * state between the exits it or kern/vcpu.c finishes, and copy them in sync(), which
 * kern/vcpu.c calls before every return of DYAD_VCPU_RUN. On the next entry a run->regs.rip different from the one
 * it reported means the VMM emulated the instruction: the backend drops STI/MOV-SS blocking.
 * A backend finishes and counts (run->stats.exits[]) the exits it handles itself
 * (VCPU_EXIT_RESUME); kern/vcpu.c counts the rest and every entry.
 */
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
	/* Optional (NULL: none): the guest's registers to run->regs before RUN returns. */
	void (*sync)(struct vcpu *v);
	/* Optional (NULL: yes): whether NMIs can be injected; if not DYAD_VCPU_NMI is -ENODEV. */
	bool (*nmi_ok)(void);
};

/*
 * For a backend, with interrupts off right before VMLAUNCH/VMRESUME/VMRUN and before it takes
 * any event for the entry: true when a kick is latched or the VM is closed, so the entry must
 * not happen (the backend returns VCPU_EXIT_CANCEL and the run loop returns to the VMM). A kick
 * that comes after this look sends its IPI to this CPU, where it stays pending until the guest
 * runs and then ends the entry at once.
 */
static inline bool vcpu_entry_cancelled(struct vcpu *v)
{
	return __atomic_load_n(&v->kick, __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&v->vm->closed, __ATOMIC_ACQUIRE);
}

/* Whether an NMI is latched for @v (DYAD_VCPU_NMI). */
static inline bool vcpu_nmi_latched(struct vcpu *v)
{
	return __atomic_load_n(&v->nmi, __ATOMIC_SEQ_CST) != 0;
}

/*
 * Takes the latched NMI for this entry (true if there was one), with interrupts off: a request
 * that comes later latches again and sends its IPI to this CPU, which makes the entry exit.
 */
static inline bool vcpu_nmi_take(struct vcpu *v)
{
	return __atomic_exchange_n(&v->nmi, 0, __ATOMIC_SEQ_CST) != 0;
}

/* An NMI taken for an entry that did not happen goes back to the latch. */
static inline void vcpu_nmi_untake(struct vcpu *v)
{
	__atomic_store_n(&v->nmi, 1, __ATOMIC_SEQ_CST);
}

/* ---- provided by the architecture (arch/x86/vcpu_x86*.c) ------------------------------- */

/*
 * 0 when @ev may be handed to the CPU (or is not pending), else -EINVAL: only what the
 * hardware's event injection accepts and a real source can raise (see the uapi).
 */
int vcpu_arch_event_check(const struct dyad_event *ev);

/*
 * Copies up to @max (at most 15) bytes of the guest's instruction at CS.base + RIP into @buf,
 * translated through the guest's own page tables (none, 32-bit, PAE with the loaded PDPTEs,
 * 4-level or 5-level), every table and code byte read from guest-visible memory of the VMM only.
 * Returns the number of bytes fetched (0 when the first one cannot be). For backends that
 * must decode instruction lengths themselves and for MMIO exits.
 */
unsigned vcpu_fetch(struct vcpu *v, u8 *buf, unsigned max);

/* The backend chosen at boot, or NULL: then dyad_vm_create is -ENODEV. */
extern const struct vcpu_backend *vcpu_backend;
extern const struct vcpu_backend vmx_backend, svm_backend;

/* Chooses the backend the CPU supports; prints what it found or what is missing. */
void vcpu_init(void);

/* ---- the system-call side (kern/syscall.c, kern/proc.c) --------------------------------- */

struct fd;

/* dyad_vm_create(flags): a new FD_VM descriptor of the current process, or -errno. */
long vcpu_sys_vm_create(u64 flags);

/* ioctl(2) on an FD_VM or FD_VCPU descriptor @f. */
long vcpu_ioctl(struct fd *f, u64 req, u64 arg);

/* mmap(2) of an FD_VCPU descriptor: maps its run page; returns the address or -errno. */
long vcpu_mmap(struct fd *f, u64 addr, u64 len, u32 prot, u32 flags, u64 off);

/*
 * Drops the reference @f holds (close, exit, death) and empties it. The last reference to a
 * VM destroys its vCPU and frees every page of both; the process's address space must still
 * exist (the run page is unmapped from it).
 */
void vcpu_fd_release(struct fd *f);

#endif
