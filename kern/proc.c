// SPDX-License-Identifier: MIT
/*
 * Processes: build an address space from an ELF module, start its first thread, end it when its
 * last thread exits, give every page back. See include/dyad/proc.h for the model.
 */
#include <linux/mman.h>

#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <arch/x86/user.h>
#include <dyad/elf.h>
#include <dyad/futex.h>
#include <arch/x86/gdt.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/string.h>
#include <dyad/uaccess.h>
#include <dyad/ustack.h>
#include <dyad/vcpu.h>
#include <dyad/mm.h>
#include <uapi/dyad/abi.h>

#define PROC_ORDER 2 /* struct proc lives in a 16 KiB block (its region table is 12 KiB) */
#define PROC_MAX 64 /* processes at once, zombies included: a spawn loop ends in -EAGAIN */

_Static_assert(sizeof(struct proc) <= (PAGE_SIZE << PROC_ORDER), "struct proc too large");
/* The largest argv, its pointers, and 2 KiB left for the path, envp and auxv. */
_Static_assert(ARGV_STRINGS_MAX + (ARGV_MAX + 1) * 8 + 2048 <= USTACK_IMAGE_SIZE,
	       "initial stack image too small for the argument limits");

/* Every process, zombies included, and the parent links: proc_table_lock. */
static struct spinlock proc_table_lock = SPINLOCK_INIT;
static struct proc *all_procs;
static unsigned nr_procs;
/* Woken when a child of the kernel (parent NULL, not autoreap) ends. */
static struct waitq kernel_child_wq = WAITQ_INIT;

/* Maps the program's segments as file-backed regions; the heap starts after the last one. */
static int load_segments(struct proc *p, const struct boot_module *m, const struct elf_image *img)
{
	u64 end = 0;

	for (unsigned i = 0; i < img->nr_segments; i++) {
		const struct elf_segment *s = &img->seg[i];
		u64 start = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
		struct mm_region r = {
			.start = start,
			.end = ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE),
			.prot = s->prot,
			.flags = MM_FILE,
			.file = m,
			.file_off = s->offset - (s->vaddr - start),
			.file_len = s->filesz + (s->vaddr - start),
		};
		int err = mm_region_add(p, &r);
		if (err) {
			printf("proc: cannot run %s: segment [%#lx, %#lx): error %d\n", m->name,
			       r.start, r.end, -err);
			return err;
		}
		end = MAX(end, r.end);
	}
	p->brk_start = p->brk = end;
	return 0;
}

/*
 * Creates the stack region and writes the initial stack (argv, envp, auxv) into its top pages,
 * faulting them in the ordinary way. Returns the user rsp or -errno.
 */
static long setup_stack(struct proc *p, const struct elf_image *img, const char *path,
			const char *const argv[], const char *const envp[])
{
	const u64 image_size = PAGE_SIZE << USTACK_IMAGE_ORDER;
	struct mm_region r = { .start = MM_STACK_TOP - MM_STACK_SIZE, .end = MM_STACK_TOP,
			       .prot = PROT_READ | PROT_WRITE, .flags = MM_STACK };
	struct ustack_aux aux = { .phdr = img->phdr_vaddr, .phent = img->phentsize,
				  .phnum = img->phnum, .entry = img->entry, .execfn = path };
	long rsp = mm_region_add(p, &r);

	if (rsp)
		return rsp;
	u64 seed = rdtsc() * 0x9e3779b97f4a7c15ULL;
	for (unsigned i = 0; i < USTACK_RANDOM_BYTES; i++)
		aux.random[i] = (u8)(seed >> ((i % 8) * 8)) ^ (u8)(i * 37);

	paddr_t buf = pmem_alloc_zeroed(USTACK_IMAGE_ORDER); /* nothing stale can reach the stack */
	if (!buf)
		return -ENOMEM;
	rsp = ustack_build(pmem_va(buf), image_size, MM_STACK_TOP, argv, envp, &aux);
	for (u64 va = ALIGN_DOWN((u64)rsp, PAGE_SIZE); rsp > 0 && va < MM_STACK_TOP; va += PAGE_SIZE) {
		struct pmap_leaf leaf;
		if (!mm_fault(p, va, PF_U | PF_W) || pmap_lookup(&p->pmap, va, &leaf)) {
			rsp = -ENOMEM;
			break;
		}
		u64 from = MAX(va, (u64)rsp), off = from - (MM_STACK_TOP - image_size);
		memcpy((u8 *)pmem_va(leaf.pa) + (from - leaf.va), (u8 *)pmem_va(buf) + off,
		       va + PAGE_SIZE - from);
	}
	pmem_free(buf, USTACK_IMAGE_ORDER);
	return rsp;
}

static const char *basename_of(const char *path)
{
	const char *base = path;

	for (const char *c = path; *c; c++)
		if (*c == '/')
			base = c + 1;
	return base;
}

/* Frees a process that never ran, or a zombie: the struct and (if still there) its memory. */
static void proc_free(struct proc *p)
{
	for (int fd = 0; fd < PROC_MAX_FDS; fd++)
		if (p->fds[fd].kind == FD_VM || p->fds[fd].kind == FD_VCPU)
			vcpu_fd_release(&p->fds[fd]);
	if (!p->zombie)
		mm_teardown(p);
	pmem_free(pmem_pa(p), PROC_ORDER);
}

static void table_unlink(struct proc *p)
{
	for (struct proc **pp = &all_procs; *pp; pp = &(*pp)->all_next) {
		if (*pp == p) {
			*pp = p->all_next;
			nr_procs--;
			return;
		}
	}
	panic("%s: unreachable", __func__);
}

unsigned proc_count(void)
{
	return __atomic_load_n(&nr_procs, __ATOMIC_RELAXED);
}

/* Builds the process (address space, arguments, first thread) without starting it. */
static long proc_create(const char *path, const char *const argv[], const char *const envp[],
			struct proc **out, struct thread **first)
{
	const struct boot_module *m = bootinfo_module(kernel_boot_info(), path);
	struct elf_image img;
	long err;

	if (!m)
		return -ENOENT;
	err = elf_parse(pmem_va(m->start), m->end - m->start, &img);
	if (err) {
		printf("proc: cannot run %s: %s\n", path, img.why);
		return err;
	}
	paddr_t pa = pmem_alloc_zeroed(PROC_ORDER);
	if (!pa)
		return -ENOMEM;
	struct proc *p = pmem_va(pa);
	if (pmap_create(&p->pmap)) {
		pmem_free(pa, PROC_ORDER);
		return -ENOMEM;
	}
	spin_init(&p->mm_lock);
	spin_init(&p->lock);
	p->child_wq = (struct waitq)WAITQ_INIT;
	const char *base = basename_of(path);
	memcpy(p->name, base, MIN(strlen(base), sizeof(p->name) - 1));
	for (int fd = 0; fd < 3; fd++)
		p->fds[fd].kind = FD_CONSOLE;

	err = load_segments(p, m, &img);
	long rsp = err ? err : setup_stack(p, &img, path, argv, envp);
	if (rsp < 0 && !err)
		printf("proc: cannot run %s: cannot build its stack and arguments (error %ld)\n",
		       path, -rsp);
	if (rsp < 0) {
		proc_free(p);
		return rsp;
	}
	/* Ring 3 at the entry with every register zero and RFLAGS just IF. */
	struct trap_frame tf = { .rip = img.entry, .cs = GDT_USER_CS, .rflags = RFLAGS_IF,
				 .rsp = (u64)rsp, .ss = GDT_USER_DS };
	struct thread *t = uthread_create(p, &tf, NULL);
	if (!t) {
		proc_free(p);
		return -ENOMEM;
	}
	p->pid = t->tid;
	p->threads = t;
	p->nr_threads = 1;
	*out = p;
	*first = t;
	return 0;
}

long proc_spawn_nowait(const char *path, const char *const argv[], const char *const envp[])
{
	struct proc *p;
	struct thread *t;
	long err;

	if (proc_count() >= PROC_MAX)
		return -EAGAIN;
	err = proc_create(path, argv, envp, &p, &t);
	if (err)
		return err;
	spin_lock(&proc_table_lock);
	p->parent = proc_current;
	if (p->parent && __atomic_load_n(&p->parent->killed, __ATOMIC_ACQUIRE)) {
		spin_unlock(&proc_table_lock);
		thread_free_unstarted(t);
		proc_free(p);
		return -EINTR;
	}
	p->all_next = all_procs;
	all_procs = p;
	nr_procs++;
	spin_unlock(&proc_table_lock);
	sched_start(t);
	return p->pid;
}

long proc_wait(int pid, int *status, bool *killed, bool nohang)
{
	struct proc *me = proc_current;
	struct waitq *wq = me ? &me->child_wq : &kernel_child_wq;

	for (;;) {
		struct waitq_entry e;
		struct proc *done = NULL;
		bool found = false;

		sched_prepare_block();
		waitq_add(wq, &e);
		spin_lock(&proc_table_lock);
		for (struct proc *q = all_procs; q; q = q->all_next) {
			if (q->parent != me || q->autoreap || (pid != -1 && q->pid != pid))
				continue;
			found = true;
			if (q->zombie) {
				done = q;
				table_unlink(q);
				break;
			}
		}
		spin_unlock(&proc_table_lock);
		if (done) {
			waitq_del(wq, &e);
			long r = done->pid;
			*status = done->exit_status;
			*killed = done->crashed;
			proc_free(done);
			return r;
		}
		if (!found || nohang || (me && __atomic_load_n(&me->killed, __ATOMIC_ACQUIRE))) {
			waitq_del(wq, &e);
			return !found ? -ECHILD : nohang ? 0 : -EINTR;
		}
		sched_block(0);
		waitq_del(wq, &e);
	}
}

long proc_spawn(const char *path, const char *const argv[], const char *const envp[])
{
	long pid = proc_spawn_nowait(path, argv, envp);
	int status;
	bool killed;

	if (pid < 0)
		return pid;
	long r = proc_wait((int)pid, &status, &killed, false);
	return r < 0 ? r : status;
}

/* The last thread of @p is gone: free its memory, make it a zombie, tell its parent. */
static void proc_end(struct proc *p)
{
	struct proc *to_free = NULL;
	bool has_vm = false;

	for (int fd = 0; fd < PROC_MAX_FDS; fd++)
		has_vm |= p->fds[fd].kind == FD_VM || p->fds[fd].kind == FD_VCPU;
	if (has_vm) {
		/* VMs live on CPU 0 until VMX/SVM run on every CPU: end them there. */
		cpumask_t cpu0;
		cpumask_clear(&cpu0);
		cpumask_set(&cpu0, 0);
		sched_set_affinity(thread_current(), &cpu0);
	}
	/* VMs first: their teardown needs the address space their guest ran in. */
	for (int fd = 0; fd < PROC_MAX_FDS; fd++)
		if (p->fds[fd].kind == FD_VM || p->fds[fd].kind == FD_VCPU)
			vcpu_fd_release(&p->fds[fd]);
	mm_teardown(p);

	spin_lock(&proc_table_lock);
	for (struct proc *q = all_procs, *n; q; q = n) {
		n = q->all_next;
		if (q->parent != p)
			continue;
		q->parent = NULL;
		q->autoreap = true; /* nobody is left to wait for it */
		if (q->zombie) {
			table_unlink(q);
			q->all_next = to_free;
			to_free = q;
		}
	}
	p->zombie = true;
	if (p->autoreap) {
		table_unlink(p);
		p->all_next = to_free;
		to_free = p;
	} else {
		waitq_wake_all(p->parent ? &p->parent->child_wq : &kernel_child_wq);
	}
	spin_unlock(&proc_table_lock);
	while (to_free) {
		struct proc *q = to_free;
		to_free = q->all_next;
		proc_free(q);
	}
}

void proc_kill(struct proc *p, int status)
{
	struct thread *self = thread_current();

	spin_lock(&p->lock);
	if (!p->killed) {
		p->exit_status = status & 0xff;
		__atomic_store_n(&p->killed, true, __ATOMIC_RELEASE);
	}
	for (struct thread *t = p->threads; t; t = t->proc_next)
		if (t != self)
			sched_kick(t);
	spin_unlock(&p->lock);
}

void proc_thread_exit(int status, bool group)
{
	struct thread *t = thread_current();
	struct proc *p = t->proc;
	bool last;

	BUG_ON(!p);
	irq_enable();
	if (group)
		proc_kill(p, status);
	if (t->clear_child_tid && !__atomic_load_n(&p->killed, __ATOMIC_ACQUIRE)) {
		u32 zero = 0;
		if (!copy_to_user(t->clear_child_tid, &zero, sizeof(zero)))
			futex_wake(p, t->clear_child_tid, 1);
	}
	/* Off the address space before the count says it may go (the last thread frees it). */
	irq_disable();
	pmap_activate(NULL);
	irq_enable();
	spin_lock(&p->lock);
	for (struct thread **pp = &p->threads; *pp; pp = &(*pp)->proc_next) {
		if (*pp == t) {
			*pp = t->proc_next;
			break;
		}
	}
	last = --p->nr_threads == 0;
	if (last && !p->killed)
		p->exit_status = status & 0xff;
	spin_unlock(&p->lock);
	t->proc = NULL;
	if (last)
		proc_end(p);
	sched_thread_exit();
}

void proc_exit(int status)
{
	proc_thread_exit(status, true);
}

long proc_clone_thread(u64 stack, u64 tls, u64 clear_tid)
{
	struct thread *self = thread_current();
	struct proc *p = self->proc;
	struct trap_frame tf = *(struct trap_frame *)(self->kstack_top - sizeof(tf));

	tf.rax = 0; /* the child's result */
	if (stack)
		tf.rsp = stack;
	/* The child starts with the caller's registers, the FPU ones included. */
	fpu_save(self->fpu);
	struct thread *t = uthread_create(p, &tf, self->fpu);
	if (!t)
		return -EAGAIN;
	t->fs_base = tls;
	t->clear_child_tid = clear_tid;
	t->affinity = self->affinity;
	spin_lock(&p->lock);
	if (p->killed) {
		spin_unlock(&p->lock);
		thread_free_unstarted(t);
		return -EAGAIN;
	}
	t->proc_next = p->threads;
	p->threads = t;
	p->nr_threads++;
	spin_unlock(&p->lock);
	long tid = t->tid;
	sched_start(t);
	return tid;
}

struct thread *proc_find_thread(struct proc *p, int tid)
{
	struct thread *found = NULL;

	if (tid == 0)
		return thread_current();
	spin_lock(&p->lock);
	for (struct thread *t = p->threads; t; t = t->proc_next)
		if (t->tid == tid)
			found = t;
	spin_unlock(&p->lock);
	return found;
}

/*
 * Demand paging: a fault of user code, or of the kernel inside a uaccess helper. A kernel fault
 * on a user address anywhere else is left to trap_dispatch, which panics (or to an armed
 * trap_catch, in self-tests). With interrupts on if the faulting code had them on (another CPU
 * may be waiting on an IPI to this one; kern/mm.c's locks also run such calls while spinning).
 */
static bool proc_page_fault(struct trap_frame *tf)
{
	u64 addr = read_cr2();
	struct proc *p = proc_current;
	bool served;

	if (!p || addr >= USER_TOP)
		return false;
	if (!(tf->cs & 3) && !uaccess_active())
		return false;
	if (tf->rflags & RFLAGS_IF)
		irq_enable();
	served = mm_fault(p, addr, tf->error); /* under the region lock kern/mm.c takes */
	irq_disable();
	return served;
}

/* An exception in ring 3 that nothing could serve: the process dies, the kernel goes on. */
static bool proc_user_fault(struct trap_frame *tf)
{
	struct proc *p = proc_current;

	BUG_ON(!p);
	printf("proc: %s (pid %d) killed: %s at rip %#lx", p->name, p->pid,
	       trap_exception_name(tf->vector), tf->rip);
	if (tf->vector == T_PF)
		printf(", address %#lx, error %#lx", read_cr2(), tf->error);
	if (p->nr_threads > 1)
		printf(", in thread %d of %u", thread_current()->tid, p->nr_threads);
	printf("\n");
	spin_lock(&p->lock);
	p->crashed |= !p->killed; /* the first reason to end is the one reported */
	spin_unlock(&p->lock);
	proc_kill(p, DYAD_KILLED_STATUS);
	proc_thread_exit(0, false);
}

void proc_init(void)
{
	user_init();
	trap_set_fault_handlers(proc_page_fault, proc_user_fault);
}
