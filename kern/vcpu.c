// SPDX-License-Identifier: MIT
/*
 * The vendor-neutral vCPU layer: VM and vCPU descriptors, the run page, validation of what the
 * VMM hands in, and the run loop's policy. The backend (arch/x86/svm.c or vmx.c) enters the
 * guest once per call; this file decides what each exit means:
 *   - a second-stage fault inside guest-visible memory is the VMM's own page fault at the same
 *     address, served by one mm_guest_fault() call: the pair maps it in both halves at once;
 *   - a fault the entry already allows is spurious: the guest resumes;
 *   - any other fault is an MMIO exit, with the instruction bytes the architecture fetches
 *     through the guest's page tables (vcpu_fetch);
 *   - HLT with interrupts enabled sleeps the host CPU until the deadline or console input.
 * One VM per process, up to DYAD_VCPUS_MAX vCPUs per VM; the VM lives while any descriptor names
 * it. A kick (DYAD_VCPU_KICK) is a latch plus a nudge: the flag is checked before every entry
 * (last by the backend, with interrupts off) and before every HLT sleep, the nudge is a call
 * IPI to the CPU in guest mode (vcpu_kick) or a wake-up of the thread asleep on HLT. An NMI
 * (DYAD_VCPU_NMI) is a latch and the same nudge; the backend takes it at an entry.
 */
#include <linux/mman.h>

#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/trap.h>
#include <dyad/console.h>
#include <dyad/errno.h>
#include <dyad/mm.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/string.h>
#include <dyad/time.h>
#include <dyad/uaccess.h>
#include <dyad/vcpu.h>
#include <uapi/dyad/vcpu.h>

_Static_assert(sizeof(struct dyad_run) <= DYAD_RUN_SIZE, "the run page overflows");
_Static_assert(DYAD_STAT_INTERNAL == DYAD_EXIT_INTERNAL - 1, "exit reasons index the stats");
_Static_assert(sizeof(struct vm) + DYAD_VCPUS_MAX * sizeof(struct vcpu) <= PAGE_SIZE,
	       "vm block too small");

/* A backend that is not linked in is a null weak symbol: a kernel builds without either. */
extern const struct vcpu_backend vmx_backend __attribute__((weak));
extern const struct vcpu_backend svm_backend __attribute__((weak));

const struct vcpu_backend *vcpu_backend;
static unsigned nr_vms; /* the backend is enabled while this is non-zero */

/*
 * Spurious faults in a row at one page after which the fault is reported instead: a walker
 * that keeps refusing what the pair allows must not hold the kernel in the run loop.
 */
struct spurious {
	u64 page;
	unsigned count;
};

#define SPURIOUS_LIMIT 16

#define INSN_MAX 15

void vcpu_init(void)
{
	const struct vcpu_backend *b = cpu_features.vmx ? &vmx_backend : &svm_backend;

	if (!b) {
		printf("vcpu: the CPU has %s but this kernel has no backend for it; VMs: ENODEV\n",
		       cpu_features.vmx ? "VMX" : "no VMX");
		return;
	}
	if (!b->detect()) {
		printf("vcpu: no usable %s: VMs cannot run (dyad_vm_create returns ENODEV)\n",
		       b->name);
		return;
	}
	vcpu_backend = b;
	printf("vcpu: %s backend ready\n", b->name);
}

/* ---- the run loop ------------------------------------------------------------------------ */

static void exit_to_vmm(struct dyad_run *run, unsigned reason)
{
	run->exit_reason = reason;
	run->stats.exits[reason - 1]++;
}

static bool deadline_passed(const struct dyad_run *run)
{
	return run->deadline_tsc && rdtsc() >= run->deadline_tsc;
}

static bool kick_latched(struct vcpu *v)
{
	return __atomic_load_n(&v->kick, __ATOMIC_SEQ_CST) != 0;
}

/* What ends a HLT sleep without ending RUN: a kick, an NMI, the VM's close. */
static bool sleep_ends(struct vcpu *v)
{
	return kick_latched(v) || vcpu_nmi_latched(v) ||
	       __atomic_load_n(&v->vm->closed, __ATOMIC_ACQUIRE);
}

/* Longest console wait between two looks at the kick latch (console.c has its own waitq). */
#define CONSOLE_KICK_POLL_NS 2000000ULL

static bool console_wakes(const struct dyad_run *run)
{
	return (run->request & DYAD_RUN_WAKE_CONSOLE) && console_input_waiting();
}

/* Fills an exit for the VMM if the deadline passed or console input waits. */
static bool wake_reason(struct dyad_run *run)
{
	if (deadline_passed(run)) {
		exit_to_vmm(run, DYAD_EXIT_DEADLINE);
		return true;
	}
	if (console_wakes(run)) {
		exit_to_vmm(run, DYAD_EXIT_CONSOLE);
		return true;
	}
	return false;
}

/* Whether the pair's odd half lets the guest make @access through @leaf. */
static bool access_allowed(const struct pmap_leaf *leaf, u32 access)
{
	u32 prot = pmap_leaf_guest_prot(leaf);

	if ((access & DYAD_ACCESS_WRITE) && !(prot & PMAP_W))
		return false;
	if ((access & DYAD_ACCESS_EXEC) && !(prot & PMAP_X))
		return false;
	return prot != 0;
}

/*
 * A second-stage fault. Returns true when the guest can go on (served, or spurious); false
 * with an MMIO exit filled in for the VMM.
 */
static bool guest_fault(struct vcpu *v, const struct vcpu_exit *e, struct spurious *sp)
{
	struct proc *p = v->vm->proc;
	struct dyad_run *run = v->run;
	struct pmap_leaf leaf;

	if (e->gpa < USER_TOP) {
		u64 err = PF_U | ((e->access & DYAD_ACCESS_WRITE) ? PF_W : 0);
		u64 size = e->entry_allowed ? 0 : mm_guest_fault(p, e->gpa, err);

		/* The central claim: the VMM's own page fault, one call, both halves mapped. */
		if (size) {
			run->stats.exits[DYAD_STAT_GUEST_FAULT]++;
			run->stats.guest_faults[size == SZ_4K ? 0 : size == SZ_2M ? 1 : 2]++;
			return true;
		}
		/* Present and allowing the access: spurious (a rights upgrade takes no flush). */
		if (pmap_lookup(&p->pmap, e->gpa & PAGE_MASK, &leaf) == 0 &&
		    (e->entry_allowed || access_allowed(&leaf, e->access)) &&
		    (sp->page != (e->gpa & PAGE_MASK) || sp->count < SPURIOUS_LIMIT)) {
			if (sp->page != (e->gpa & PAGE_MASK))
				*sp = (struct spurious){ .page = e->gpa & PAGE_MASK };
			sp->count++;
			run->stats.exits[DYAD_STAT_SPURIOUS_FAULT]++;
			return true;
		}
	}
	memset(&run->exit.mmio, 0, sizeof(run->exit.mmio));
	run->exit.mmio.gpa = e->gpa;
	run->exit.mmio.access = e->access;
	run->exit.mmio.insn_bytes = (u8)vcpu_fetch(v, run->exit.mmio.insn, INSN_MAX);
	run->insn_len = 0;
	exit_to_vmm(run, DYAD_EXIT_MMIO);
	return false;
}

/*
 * HLT with IF = 1 (RIP is past it). A queued event wakes the guest at once; otherwise the
 * vCPU's thread blocks (the CPU runs other threads or idles) until the deadline or console
 * input. With neither requested nothing would ever wake the guest: a HLT exit. So is the death
 * of the process, which the VMM's thread then meets on its way out.
 */
static bool halt_sleep(struct vcpu *v)
{
	struct dyad_run *run = v->run;

	if (run->inject.pending || vcpu_nmi_latched(v))
		return true;
	if (!run->deadline_tsc && !(run->request & DYAD_RUN_WAKE_CONSOLE)) {
		run->insn_len = 0; /* already past it */
		exit_to_vmm(run, DYAD_EXIT_HLT);
		return false;
	}
	run->stats.exits[DYAD_STAT_HALT_SLEEP]++;
	/* No guest state stays loaded while another thread has the CPU. */
	if (vcpu_backend->sync)
		vcpu_backend->sync(v);
	for (;;) {
		if (deadline_passed(run) || console_wakes(run))
			break;
		if (proc_current && proc_current->killed) {
			run->insn_len = 0;
			exit_to_vmm(run, DYAD_EXIT_HLT);
			return false;
		}
		if (sleep_ends(v))
			return true; /* the run loop returns, or enters with the NMI */
		u64 deadline_ns = 0;
		if (run->deadline_tsc) {
			u64 now = rdtsc(),
			    left = run->deadline_tsc > now ? run->deadline_tsc - now : 0;
			deadline_ns = time_ns() + left / tsc_hz * 1000000000ULL +
				      left % tsc_hz * 1000000000ULL / tsc_hz;
		}
		/*
		 * Publish the sleeper, then clear old wakes, then look at the latches: a kicker
		 * (or an NMI) stores its latch before it reads the sleeper, so either this look
		 * sees it or its wake-up comes after sched_prepare_block() and ends the block.
		 */
		__atomic_store_n(&v->sleeper, thread_current(), __ATOMIC_SEQ_CST);
		if (run->request & DYAD_RUN_WAKE_CONSOLE) {
			/* console_wait_input clears wakes itself: bound the wait, look again. */
			u64 poll = time_ns() + CONSOLE_KICK_POLL_NS;
			if (!sleep_ends(v))
				console_wait_input(deadline_ns && deadline_ns < poll ? deadline_ns
										     : poll);
		} else {
			sched_prepare_block();
			if (!sleep_ends(v) && !(proc_current && proc_current->killed))
				sched_block(deadline_ns);
		}
		__atomic_store_n(&v->sleeper, NULL, __ATOMIC_SEQ_CST);
	}
	return !wake_reason(run);
}

static long vcpu_run_loop(struct vcpu *v)
{
	struct dyad_run *run = v->run;
	struct spurious spurious = { .page = ~0ULL };
	int err = vcpu_arch_event_check(&run->inject);

	if (err)
		return err;
	run->exit_reason = DYAD_EXIT_NONE;
	for (;;) {
		struct vcpu_exit e = { 0 };

		if (wake_reason(run))
			return 0;
		/* Ring 3's two checks, before the guest's ring: death, then preemption. */
		if (proc_current && proc_current->killed)
			return -EINTR;
		if (__atomic_load_n(&v->vm->closed, __ATOMIC_ACQUIRE))
			return -EBADF; /* another thread closed every descriptor of this VM */
		if (sched_need_resched()) {
			if (vcpu_backend->sync)
				vcpu_backend->sync(v);
			sched_yield();
		}
		/*
		 * The thread may have moved (a yield, a halt): vcpu_kick() aims at this CPU. The
		 * latch is read after the store, a kicker reads run_cpu after its latch store: a
		 * kick this look misses sends its IPI here. Threads are not preempted in the
		 * kernel, so run_cpu stays right until the entry. An IPI taken between this look
		 * and the backend's interrupts-off entry finds nothing to end: the backend looks
		 * again with interrupts off (vcpu_entry_cancelled) and does not enter.
		 */
		__atomic_store_n(&v->run_cpu, this_cpu_id(), __ATOMIC_SEQ_CST);
		if (__atomic_exchange_n(&v->kick, 0, __ATOMIC_SEQ_CST)) {
			run->insn_len = 0;
			exit_to_vmm(run, DYAD_EXIT_KICK);
			return 0;
		}
		run->stats.entries++;
		err = vcpu_backend->enter(v, &e);
		if (err)
			return err;
		/* Kernel code is not preempted: the entry was on this CPU. */
		if (e.kind != VCPU_EXIT_CANCEL && this_cpu_id() < 64)
			run->stats.cpus_entered |= 1UL << this_cpu_id();
		switch (e.kind) {
		case VCPU_EXIT_RESUME:
			break;
		case VCPU_EXIT_CANCEL:
			run->stats.entries--; /* the top of the loop returns the kick or -EBADF */
			continue;
		case VCPU_EXIT_USER:
			run->stats.exits[run->exit_reason - 1]++;
			return 0;
		case VCPU_EXIT_GUEST_FAULT:
			if (!guest_fault(v, &e, &spurious))
				return 0;
			continue;
		case VCPU_EXIT_HALT:
			if (!halt_sleep(v))
				return 0;
			break;
		}
		spurious.count = 0;
	}
}

static long vcpu_run(struct vcpu *v)
{
	long r;

	/* One runner per vCPU: its backend state and run page are not shared. */
	if (__atomic_exchange_n(&v->running, true, __ATOMIC_ACQUIRE))
		return -EBUSY;
	/* No guest state is loaded between RUN calls: the thread may move here. */
	sched_guest_entry_cpu();
	__atomic_store_n(&v->run_cpu, this_cpu_id(), __ATOMIC_RELEASE);
	r = vcpu_run_loop(v);
	__atomic_store_n(&v->run_cpu, VCPU_NO_CPU, __ATOMIC_RELEASE);
	if (vcpu_backend->sync)
		vcpu_backend->sync(v);
	v->run->nmi_state = (v->run->nmi_state & DYAD_NMI_BLOCKED) |
			    (vcpu_nmi_latched(v) ? DYAD_NMI_PENDING : 0);
	__atomic_store_n(&v->running, false, __ATOMIC_RELEASE);
	/*
	 * Closed meanwhile: whatever ended the loop (the close's own kick, say), the run page
	 * goes with the VM when this call drops its reference, so the VMM must not read it.
	 */
	if (__atomic_load_n(&v->vm->closed, __ATOMIC_ACQUIRE))
		return -EBADF;
	return r;
}

static void kick_noop(void *arg)
{
}

bool vcpu_kick(struct vcpu *v)
{
	u32 cpu = __atomic_load_n(&v->run_cpu, __ATOMIC_ACQUIRE);

	if (cpu == VCPU_NO_CPU || cpu == this_cpu_id())
		return false;
	__atomic_fetch_add(&v->kicks, 1, __ATOMIC_RELAXED);
	return smp_call_on(cpu, kick_noop, NULL) != 0;
}

/* DYAD_VCPU_KICK: latch, then nudge the CPU in guest mode or the thread asleep on HLT. */
static long vcpu_kick_ioctl(struct vcpu *v)
{
	__atomic_store_n(&v->kick, 1, __ATOMIC_SEQ_CST);
	vcpu_kick(v);
	struct thread *t = __atomic_load_n(&v->sleeper, __ATOMIC_SEQ_CST);
	if (t)
		sched_wake(t); /* the sleeper cannot be gone: it clears the pointer first */
	return 0;
}

/*
 * DYAD_VCPU_NMI: latch, then the kick's nudge, but no kick: the vCPU leaves guest mode (or its
 * HLT sleep) and its next entry takes the NMI without returning to the VMM.
 */
static long vcpu_nmi_ioctl(struct vcpu *v, u64 arg)
{
	if (arg)
		return -EINVAL;
	if (vcpu_backend->nmi_ok && !vcpu_backend->nmi_ok())
		return -ENODEV;
	__atomic_store_n(&v->nmi, 1, __ATOMIC_SEQ_CST);
	vcpu_kick(v);
	struct thread *t = __atomic_load_n(&v->sleeper, __ATOMIC_SEQ_CST);
	if (t)
		sched_wake(t);
	return 0;
}

/* ---- descriptors --------------------------------------------------------------------------- */

static int fd_install(struct vm *vm, enum fd_kind kind, struct vcpu *v)
{
	struct proc *p = proc_current;
	int ret = -EMFILE;

	spin_lock(&p->lock);
	for (int fd = 0; fd < PROC_MAX_FDS; fd++) {
		if (p->fds[fd].kind == FD_NONE) {
			p->fds[fd] = (struct fd){ .kind = kind, .vm = vm, .vcpu = v };
			__atomic_fetch_add(&vm->refs, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&vm->nfds, 1, __ATOMIC_RELAXED);
			ret = fd;
			break;
		}
	}
	spin_unlock(&p->lock);
	return ret;
}

/* One VM per process: any VM or vCPU descriptor means the process has one. */
static bool proc_has_vm(const struct proc *p)
{
	for (int fd = 0; fd < PROC_MAX_FDS; fd++)
		if (p->fds[fd].kind == FD_VM || p->fds[fd].kind == FD_VCPU)
			return true;
	return false;
}

long vcpu_sys_vm_create(u64 flags)
{
	struct proc *p = proc_current;
	int err;

	if (!vcpu_backend)
		return -ENODEV;
	if (flags)
		return -EINVAL;
	if (proc_has_vm(p))
		return -EBUSY;
	if (nr_vms == 0 && (err = vcpu_backend->enable()))
		return err;
	nr_vms++;
	paddr_t pa = pmem_alloc_zeroed(0);
	struct vm *vm = pa ? pmem_va(pa) : NULL;
	if (vm) {
		vm->proc = p;
		spin_init(&vm->lock);
		err = fd_install(vm, FD_VM, NULL);
		if (err >= 0)
			return err;
		pmem_free(pa, 0);
	}
	if (--nr_vms == 0)
		vcpu_backend->disable();
	return vm ? err : -ENOMEM;
}

/* vCPU i lives in the same page as its VM, after it. */
static struct vcpu *vcpu_slot(struct vm *vm, unsigned i)
{
	return (struct vcpu *)(vm + 1) + i;
}

/*
 * A new vCPU, its run page and backend state. Ids are handed out under vm->lock; a vCPU whose
 * creation fails frees its slot only if it is still the last one (else the slot stays a hole
 * of NULL and the next creation takes a fresh one).
 */
static long create_vcpu(struct vm *vm)
{
	paddr_t run_pa;
	unsigned id;
	int err;

	spin_lock(&vm->lock);
	id = vm->nr_vcpus;
	if (id < DYAD_VCPUS_MAX)
		vm->nr_vcpus++;
	spin_unlock(&vm->lock);
	if (id >= DYAD_VCPUS_MAX)
		return -EBUSY;
	struct vcpu *v = vcpu_slot(vm, id);
	run_pa = pmem_alloc_zeroed(0);
	if (!run_pa) {
		err = -ENOMEM;
		goto unslot;
	}
	*v = (struct vcpu){
		.vm = vm, .run = pmem_va(run_pa), .run_pa = run_pa, .run_cpu = VCPU_NO_CPU, .id = id
	};
	v->run->tsc_khz = tsc_hz / 1000;
	err = vcpu_backend->create(v);
	if (err) {
		pmem_free(run_pa, 0);
		goto unslot;
	}
	err = fd_install(vm, FD_VCPU, v);
	if (err >= 0) {
		__atomic_store_n(&vm->vcpus[id], v, __ATOMIC_RELEASE);
		return err;
	}
	vcpu_backend->destroy(v);
	pmem_free(run_pa, 0);
unslot:
	spin_lock(&vm->lock);
	if (vm->nr_vcpus == id + 1)
		vm->nr_vcpus = id;
	spin_unlock(&vm->lock);
	return err;
}

/* Removes every mapping of the run page from the VMM before the page is freed. */
static void unmap_run_page(struct vcpu *v)
{
	struct proc *p = v->vm->proc;

	for (unsigned i = 0; i < p->nr_regions; i++) {
		const struct mm_region *r = &p->regions[i];
		struct pmap_leaf leaf;

		if ((r->flags & MM_FRAME) && pmap_lookup(&p->pmap, r->start, &leaf) == 0 &&
		    leaf.pa == v->run_pa)
			pmap_unmap(&p->pmap, r->start, PAGE_SIZE, NULL, NULL);
	}
}

static void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < DYAD_VCPUS_MAX; i++) {
		struct vcpu *v = vm->vcpus[i];

		if (!v)
			continue;
		vcpu_backend->destroy(v);
		unmap_run_page(v);
		pmem_free(v->run_pa, 0);
	}
	pmem_free(pmem_pa(vm), 0);
	if (--nr_vms == 0)
		vcpu_backend->disable();
}

static void vm_put(struct vm *vm)
{
	if (__atomic_sub_fetch(&vm->refs, 1, __ATOMIC_ACQ_REL) == 0)
		vm_destroy(vm);
}

/*
 * The VM of descriptor @f with a reference for one call, or NULL: another thread may close @f
 * meanwhile (close empties it under p->lock); the reference keeps the VM until vm_put().
 */
static struct vm *vm_get(struct fd *f, struct vcpu **v, enum fd_kind *kind)
{
	struct proc *p = proc_current;
	struct vm *vm = NULL;

	spin_lock(&p->lock);
	if ((f->kind == FD_VM || f->kind == FD_VCPU) && f->vm) {
		vm = f->vm;
		*v = f->vcpu;
		*kind = f->kind;
		__atomic_fetch_add(&vm->refs, 1, __ATOMIC_RELAXED);
	}
	spin_unlock(&p->lock);
	return vm;
}

void vcpu_fd_release(struct fd *f)
{
	struct vm *vm = f->vm;

	*f = (struct fd){ .kind = FD_NONE };
	if (!vm)
		return;
	if (__atomic_sub_fetch(&vm->nfds, 1, __ATOMIC_ACQ_REL) == 0) {
		/* Threads still in RUN (descriptors closed under them) leave with -EBADF. */
		__atomic_store_n(&vm->closed, true, __ATOMIC_RELEASE);
		for (unsigned i = 0; i < DYAD_VCPUS_MAX; i++) {
			struct vcpu *v = __atomic_load_n(&vm->vcpus[i], __ATOMIC_ACQUIRE);
			if (v)
				vcpu_kick_ioctl(v);
		}
	}
	vm_put(vm);
}

static long msrs_ioctl(struct vcpu *v, u64 arg, bool set)
{
	struct dyad_msrs hdr;
	struct dyad_msr_entry e;
	long done = 0;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.nmsrs > DYAD_MSRS_MAX)
		return -E2BIG;
	for (; done < hdr.nmsrs; done++) {
		u64 at = arg + sizeof(hdr) + (u64)done * sizeof(e);
		int err;

		if (copy_from_user(&e, at, sizeof(e)))
			return -EFAULT;
		if (set) {
			err = vcpu_backend->set_msr(v, e.index, e.data);
		} else {
			err = vcpu_backend->get_msr(v, e.index, &e.data);
			if (!err && copy_to_user(at, &e, sizeof(e)))
				return -EFAULT;
		}
		if (err == -ENOENT)
			break;
		if (err)
			return err;
	}
	return done;
}

static long vcpu_fd_ioctl(struct vcpu *v, u64 req, u64 arg)
{
	struct dyad_sregs s;
	long err;

	switch (req) {
	case DYAD_VCPU_RUN:
		return vcpu_run(v);
	case DYAD_VCPU_GET_SREGS:
		err = vcpu_backend->get_sregs(v, &s);
		return err ? err : copy_to_user(arg, &s, sizeof(s));
	case DYAD_VCPU_SET_SREGS:
		if (copy_from_user(&s, arg, sizeof(s)))
			return -EFAULT;
		return vcpu_backend->set_sregs(v, &s);
	case DYAD_VCPU_GET_MSRS:
		return msrs_ioctl(v, arg, false);
	case DYAD_VCPU_SET_MSRS:
		return msrs_ioctl(v, arg, true);
	case DYAD_VCPU_KICK:
		return arg ? -EINVAL : vcpu_kick_ioctl(v);
	case DYAD_VCPU_NMI:
		return vcpu_nmi_ioctl(v, arg);
	default:
		return -ENOTTY;
	}
}

long vcpu_ioctl(struct fd *f, u64 req, u64 arg)
{
	struct vcpu *v = NULL;
	enum fd_kind kind = FD_NONE;
	struct vm *vm = vm_get(f, &v, &kind);
	long r;

	if (!vm)
		return -EBADF;
	if (vm->proc != proc_current)
		r = -EBADF;
	else if (kind == FD_VM)
		r = req == DYAD_VM_CREATE_VCPU ? create_vcpu(vm) : -ENOTTY;
	else
		r = vcpu_fd_ioctl(v, req, arg);
	vm_put(vm);
	return r;
}

long vcpu_mmap(struct fd *f, u64 addr, u64 len, u32 prot, u32 flags, u64 off)
{
	struct vcpu *v = NULL;
	enum fd_kind kind = FD_NONE;
	struct vm *vm = vm_get(f, &v, &kind);
	long r;

	if (!vm)
		return -ENODEV;
	if (kind != FD_VCPU || vm->proc != proc_current)
		r = -ENODEV;
	else if (off || !len || ALIGN_UP(len, PAGE_SIZE) != DYAD_RUN_SIZE ||
		 (flags & (MAP_SHARED | MAP_PRIVATE)) != MAP_SHARED ||
		 (flags & (DYAD_MAP_GUEST | DYAD_MAP_HUGE | MAP_ANONYMOUS)))
		r = -EINVAL; /* VMM-private: never guest-visible */
	else if (prot & PROT_EXEC)
		r = -EACCES;
	else
		r = mm_map_frame(proc_current, addr, prot, flags, v->run_pa);
	vm_put(vm);
	return r;
}
