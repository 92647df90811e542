// SPDX-License-Identifier: MIT
/*
 * The scheduler (include/dyad/sched.h): threads, the run queue, blocking and waking, the tick.
 *
 * One global FIFO run queue under one spinlock, not per-CPU queues: with the handful of CPUs Dyad
 * runs on, one lock is not contended enough to matter, and it balances by construction (an idle
 * CPU takes the first thread it may run), needs no migration code, and makes affinity a filter
 * at pick time. Per-CPU queues become worth their complexity at tens of CPUs.
 *
 * sched_lock is held across the switch itself: the thread that blocks is not visible to another
 * CPU until its registers are saved (the next thread releases the lock in sched_switch_finish).
 * Lock order: a process's or the futex lock, then a wait queue's lock, then sched_lock; pmem's
 * lock may be taken under any of them. sched_lock and wait-queue locks are taken with
 * interrupts off, because the tick and device interrupts take them too.
 */
#include <arch/x86/asm.h>
#include <arch/x86/fpu.h>
#include <arch/x86/lapic.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/trap.h>
#include <arch/x86/user.h>
#include <dyad/panic.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/string.h>
#include <dyad/time.h>

void sched_switch(u64 *save_rsp, u64 next_rsp);
void sched_thread_start(void);
void sched_switch_finish(void);

static struct spinlock sched_lock = SPINLOCK_INIT;
static struct thread *rq_head, *rq_tail; /* sched_lock */
static struct thread *sleepers; /* sched_lock: threads with a deadline, unsorted */
static volatile u64 next_deadline = ~0ULL; /* the earliest sleeper's, read without the lock */
static int next_id = 1;
static u64 threads_alive;
static struct thread boot_thread; /* kmain, on the boot stack */
static struct thread ap_idle[SMP_MAX_CPUS]; /* APs' idle threads, on their boot stacks */
static void *clean_fpu;
static cpumask_t guest_excluded; /* set at boot, before any guest */

int sched_alloc_id(void)
{
	return __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
}

const void *sched_clean_fpu(void)
{
	return clean_fpu;
}

u64 sched_threads_alive(void)
{
	return __atomic_load_n(&threads_alive, __ATOMIC_RELAXED);
}

bool sched_need_resched(void)
{
	return this_cpu()->need_resched;
}

/* ---- the run queue and the sleep list (sched_lock) --------------------------------------- */

static void rq_push(struct thread *t)
{
	t->rq_next = NULL;
	if (rq_tail)
		rq_tail->rq_next = t;
	else
		rq_head = t;
	rq_tail = t;
}

/* True if @t's affinity names an online CPU that is not guest-excluded. */
static bool has_guest_cpu(const struct thread *t)
{
	unsigned cpu;

	for_each_cpu (cpu, smp_online_mask())
		if (cpumask_test(&t->affinity, cpu) && !cpumask_test(&guest_excluded, cpu))
			return true;
	return false;
}

/* sched_lock held: whether @t may run on @cpu (its affinity, and guest exclusion). */
static bool may_run(const struct thread *t, unsigned cpu)
{
	if (!cpumask_test(&t->affinity, cpu))
		return false;
	return !(t->enters_guests && cpumask_test(&guest_excluded, cpu) && has_guest_cpu(t));
}

/* The first queued thread that may run on @cpu, unlinked; NULL if none. */
static struct thread *rq_pick(unsigned cpu)
{
	for (struct thread **pp = &rq_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->rq_next) {
		struct thread *t = *pp;
		if (!may_run(t, cpu))
			continue;
		*pp = t->rq_next;
		if (rq_tail == t)
			rq_tail = prev;
		t->rq_next = NULL;
		return t;
	}
	return NULL;
}

static bool rq_has_work_for(unsigned cpu)
{
	for (struct thread *t = rq_head; t; t = t->rq_next)
		if (may_run(t, cpu))
			return true;
	return false;
}

static void sleepers_recompute(void)
{
	u64 d = ~0ULL;

	for (struct thread *t = sleepers; t; t = t->sleep_next)
		d = MIN(d, t->wake_ns);
	next_deadline = d;
}

static void sleep_add(struct thread *t, u64 deadline)
{
	t->wake_ns = deadline;
	t->sleep_next = sleepers;
	sleepers = t;
	if (deadline < next_deadline)
		next_deadline = deadline;
}

static void sleep_del(struct thread *t)
{
	if (!t->wake_ns)
		return;
	for (struct thread **pp = &sleepers; *pp; pp = &(*pp)->sleep_next) {
		if (*pp == t) {
			*pp = t->sleep_next;
			break;
		}
	}
	t->wake_ns = 0;
	sleepers_recompute();
}

/* Asks @cpu to look at the run queue: a resched IPI, or nothing if that is this CPU. */
static void kick_cpu(unsigned cpu)
{
	struct percpu *pc = percpu_of(cpu);

	pc->need_resched = 1;
	if (cpu != this_cpu_id())
		smp_send_resched(cpu);
}

/* Makes @t runnable and gets an idle CPU it may use to notice. */
static void make_runnable(struct thread *t)
{
	unsigned cpu;

	t->state = THREAD_RUNNABLE;
	rq_push(t);
	for_each_cpu (cpu, smp_online_mask()) {
		if (may_run(t, cpu) && percpu_of(cpu)->in_idle) {
			kick_cpu(cpu);
			return;
		}
	}
}

/* ---- switching ----------------------------------------------------------------------------- */

static struct pmap *pmap_of(struct thread *t)
{
	return t->proc ? &t->proc->pmap : NULL;
}

/* Releases the previous thread after the switch: sched_lock, and the dead thread's memory. */
void sched_switch_finish(void)
{
	struct percpu *pc = this_cpu();
	struct thread *prev = pc->switch_prev;

	pc->switch_prev = NULL;
	spin_unlock(&sched_lock);
	if (prev && prev->state == THREAD_DEAD) {
		void (*on_freed)(void *) = prev->on_freed;
		void *on_freed_arg = prev->on_freed_arg;

		if (prev->kstack)
			pmem_free(prev->kstack, THREAD_KSTACK_ORDER);
		if (prev->fpu)
			pmem_free(pmem_pa(prev->fpu), 0);
		pmem_free(pmem_pa(prev), 0);
		__atomic_sub_fetch(&threads_alive, 1, __ATOMIC_RELAXED);
		if (on_freed)
			on_freed(on_freed_arg);
	}
}

/*
 * Picks the next thread for this CPU and switches to it. Called with interrupts off and
 * sched_lock held, the current thread already queued, blocked or dead; returns (lock released)
 * when the current thread runs again.
 */
static void schedule_locked(void)
{
	struct percpu *pc = this_cpu();
	struct thread *cur = pc->current, *next = rq_pick(pc->cpu);

	pc->need_resched = 0;
	if (!next) /* a thread still running (idle, or a yield with no rival) keeps the CPU */
		next = cur->state == THREAD_RUNNING ? cur : pc->idle;
	if (next == cur) {
		cur->state = THREAD_RUNNING;
		pc->in_idle = cur->idle;
		spin_unlock(&sched_lock);
		return;
	}
	if (cur->fpu && cur->state != THREAD_DEAD)
		fpu_save(cur->fpu);
	if (next->fpu)
		fpu_restore(next->fpu);
	if (pmap_current != pmap_of(next))
		pmap_activate(pmap_of(next));
	if (next->proc) {
		user_set_kernel_stack(next->kstack_top);
		user_set_fs_base(next->fs_base);
	}
	if (cur->idle)
		cur->state = THREAD_RUNNABLE; /* never queued: taken when nothing else may run */
	next->state = THREAD_RUNNING;
	next->cpu = pc->cpu;
	next->ticks_run = 0;
	next->switches_in++;
	pc->in_idle = next->idle;
	pc->switch_prev = cur;
	pc->current = next;
	sched_switch(&cur->rsp, next->rsp);
	sched_switch_finish();
}

void sched_yield(void)
{
	u64 flags = irq_save();
	struct thread *cur = thread_current();

	spin_lock(&sched_lock);
	if (cur->idle) {
		schedule_locked(); /* stays if nothing may run here */
	} else if (rq_has_work_for(this_cpu_id())) {
		cur->state = THREAD_RUNNABLE;
		rq_push(cur);
		schedule_locked();
	} else {
		this_cpu()->need_resched = 0;
		spin_unlock(&sched_lock);
	}
	irq_restore(flags);
}

/* A thread that may not run here any longer (its affinity changed, guest exclusion) moves. */
static void migrate_if_needed(void)
{
	u64 flags = irq_save();
	struct thread *cur = thread_current();

	spin_lock(&sched_lock);
	if (!may_run(cur, this_cpu_id())) {
		cur->state = THREAD_RUNNABLE;
		make_runnable(cur);
		schedule_locked();
	} else {
		spin_unlock(&sched_lock);
	}
	irq_restore(flags);
}

/* ---- blocking and waking ------------------------------------------------------------------- */

static bool being_killed(const struct thread *t)
{
	return t->proc && __atomic_load_n(&t->proc->killed, __ATOMIC_ACQUIRE);
}

void sched_prepare_block(void)
{
	u64 flags = irq_save();
	struct thread *t = thread_current();

	spin_lock(&sched_lock);
	t->wake_pending = false;
	t->timed_out = false;
	spin_unlock(&sched_lock);
	irq_restore(flags);
}

bool sched_block(u64 deadline_ns)
{
	u64 flags = irq_save();
	struct thread *t = thread_current();
	bool timed_out;

	BUG_ON(t->idle);
	spin_lock(&sched_lock);
	if (!t->wake_pending && !being_killed(t) && !(deadline_ns && time_ns() >= deadline_ns)) {
		t->state = THREAD_BLOCKED;
		if (deadline_ns)
			sleep_add(t, deadline_ns);
		schedule_locked();
		spin_lock(&sched_lock);
	} else if (deadline_ns && time_ns() >= deadline_ns && !t->wake_pending) {
		t->timed_out = true;
	}
	sleep_del(t);
	t->wake_pending = false;
	timed_out = t->timed_out;
	t->timed_out = false;
	spin_unlock(&sched_lock);
	irq_restore(flags);
	return !timed_out;
}

/* sched_lock held. */
static void wake_locked(struct thread *t)
{
	if (t->state == THREAD_BLOCKED) {
		sleep_del(t);
		make_runnable(t);
	} else {
		t->wake_pending = true;
	}
}

void sched_wake(struct thread *t)
{
	u64 flags = irq_save();

	spin_lock(&sched_lock);
	wake_locked(t);
	spin_unlock(&sched_lock);
	irq_restore(flags);
}

void sched_kick(struct thread *t)
{
	u64 flags = irq_save();

	spin_lock(&sched_lock);
	if (t->state == THREAD_RUNNING)
		kick_cpu(t->cpu); /* it checks on its way to ring 3 */
	else
		wake_locked(t);
	spin_unlock(&sched_lock);
	irq_restore(flags);
}

bool sched_sleep_until(u64 deadline_ns)
{
	while (time_ns() < deadline_ns) {
		if (being_killed(thread_current()))
			return false;
		sched_prepare_block();
		sched_block(deadline_ns);
	}
	return true;
}

void waitq_add(struct waitq *wq, struct waitq_entry *e)
{
	u64 flags = irq_save();

	e->t = thread_current();
	spin_lock(&wq->lock);
	e->next = wq->head;
	wq->head = e;
	spin_unlock(&wq->lock);
	irq_restore(flags);
}

void waitq_del(struct waitq *wq, struct waitq_entry *e)
{
	u64 flags = irq_save();

	spin_lock(&wq->lock);
	for (struct waitq_entry **pp = &wq->head; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	spin_unlock(&wq->lock);
	irq_restore(flags);
}

void waitq_wake_all(struct waitq *wq)
{
	u64 flags = irq_save();

	spin_lock(&wq->lock);
	for (struct waitq_entry *e = wq->head; e; e = e->next)
		sched_wake(e->t);
	spin_unlock(&wq->lock);
	irq_restore(flags);
}

/* ---- the tick, ring-3 return, affinity ----------------------------------------------------- */

void sched_tick(void)
{
	struct percpu *pc = this_cpu();
	struct thread *cur = pc->current;

	if (!cur)
		return;
	if (time_ns() >= next_deadline) {
		spin_lock(&sched_lock);
		u64 now = time_ns();
		for (struct thread *t = sleepers, *n; t; t = n) {
			n = t->sleep_next;
			if (t->wake_ns <= now && t->state == THREAD_BLOCKED) {
				t->timed_out = true;
				sleep_del(t);
				make_runnable(t);
			}
		}
		spin_unlock(&sched_lock);
	}
	/* Racy reads of the queue: a hint; the pick itself takes the lock. */
	if (cur->idle) {
		if (rq_head)
			pc->need_resched = 1;
	} else if (++cur->ticks_run >= SCHED_SLICE_TICKS && rq_head) {
		pc->need_resched = 1;
	}
}

void sched_user_return(void)
{
	struct thread *t = thread_current();

	for (;;) {
		irq_disable();
		if (being_killed(t)) {
			irq_enable();
			proc_thread_exit(0, false);
		}
		if (!this_cpu()->need_resched)
			break;
		irq_enable();
		sched_yield();
		migrate_if_needed();
	}
}

void sched_set_affinity(struct thread *t, const cpumask_t *mask)
{
	u64 flags = irq_save();

	spin_lock(&sched_lock);
	t->affinity = *mask;
	if (t->state == THREAD_RUNNING && !cpumask_test(mask, t->cpu))
		kick_cpu(t->cpu);
	spin_unlock(&sched_lock);
	irq_restore(flags);
	if (t == thread_current())
		migrate_if_needed();
}

void sched_exclude_guests(unsigned cpu)
{
	u64 flags = irq_save();

	spin_lock(&sched_lock);
	cpumask_set(&guest_excluded, cpu);
	spin_unlock(&sched_lock);
	irq_restore(flags);
}

void sched_guest_entry_cpu(void)
{
	struct thread *cur = thread_current();

	if (!cur->enters_guests) {
		u64 flags = irq_save();

		spin_lock(&sched_lock);
		cur->enters_guests = true;
		spin_unlock(&sched_lock);
		irq_restore(flags);
	}
	if (cpumask_test(&guest_excluded, this_cpu_id()))
		migrate_if_needed();
}

/* ---- creating and ending threads ----------------------------------------------------------- */

static struct thread *thread_alloc(void)
{
	paddr_t pa = pmem_alloc_zeroed(0);

	if (!pa)
		return NULL;
	struct thread *t = pmem_va(pa);
	t->kstack = pmem_alloc(THREAD_KSTACK_ORDER);
	if (!t->kstack) {
		pmem_free(pa, 0);
		return NULL;
	}
	t->kstack_top = (u64)pmem_va(t->kstack) + (PAGE_SIZE << THREAD_KSTACK_ORDER);
	t->tid = sched_alloc_id();
	t->state = THREAD_NEW;
	t->affinity = *smp_online_mask();
	/* CPUs that come online later are allowed too (the mask is checked at pick time). */
	for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
		cpumask_set(&t->affinity, c);
	__atomic_add_fetch(&threads_alive, 1, __ATOMIC_RELAXED);
	return t;
}

/* The stack sched_switch() resumes into sched_thread_start with r12 = @fn, r13 = @arg. */
static void stack_init(struct thread *t, u64 top, void (*fn)(void *), void *arg)
{
	/* After sched_switch's six pops and ret, rsp = top - 16: 16-aligned for the calls. */
	u64 *sp = (u64 *)(top - 72);

	sp[0] = 0; /* r15 */
	sp[1] = 0; /* r14 */
	sp[2] = (u64)arg; /* r13 */
	sp[3] = (u64)fn; /* r12 */
	sp[4] = 0; /* rbx */
	sp[5] = 0; /* rbp */
	sp[6] = (u64)sched_thread_start;
	t->rsp = (u64)sp;
}

/* A kernel thread's first code: it starts with interrupts off, as the switch left them. */
static void kthread_entry(void *arg)
{
	struct thread *t = arg;

	irq_enable();
	t->fn(t->arg);
	sched_thread_exit();
}

struct thread *kthread_create(void (*fn)(void *arg), void *arg, const cpumask_t *affinity)
{
	struct thread *t = thread_alloc();

	if (!t)
		return NULL;
	if (affinity)
		t->affinity = *affinity;
	t->fn = fn;
	t->arg = arg;
	stack_init(t, t->kstack_top, kthread_entry, t);
	return t;
}

void user_return_frame(struct trap_frame *tf);

static void uthread_enter(void *frame)
{
	sched_user_return();
	user_return_frame(frame);
}

struct thread *uthread_create(struct proc *p, const struct trap_frame *tf, const void *fpu_from)
{
	struct thread *t = thread_alloc();

	if (!t)
		return NULL;
	paddr_t fpu = pmem_alloc(0);
	if (!fpu) {
		thread_free_unstarted(t);
		return NULL;
	}
	t->fpu = pmem_va(fpu);
	memcpy(t->fpu, fpu_from ? fpu_from : clean_fpu, PAGE_SIZE);
	t->proc = p;
	struct trap_frame *frame = (struct trap_frame *)(t->kstack_top - sizeof(*tf));
	*frame = *tf;
	stack_init(t, (u64)frame, uthread_enter, frame);
	return t;
}

void thread_free_unstarted(struct thread *t)
{
	BUG_ON(t->state != THREAD_NEW);
	if (t->fpu)
		pmem_free(pmem_pa(t->fpu), 0);
	pmem_free(t->kstack, THREAD_KSTACK_ORDER);
	pmem_free(pmem_pa(t), 0);
	__atomic_sub_fetch(&threads_alive, 1, __ATOMIC_RELAXED);
}

void sched_start(struct thread *t)
{
	u64 flags = irq_save();

	spin_lock(&sched_lock);
	make_runnable(t);
	spin_unlock(&sched_lock);
	irq_restore(flags);
}

void sched_thread_exit(void)
{
	struct thread *t = thread_current();

	irq_disable();
	if (pmap_current)
		pmap_activate(NULL); /* its process may be torn down before this CPU switches */
	spin_lock(&sched_lock);
	t->state = THREAD_DEAD;
	schedule_locked();
	panic("%s: unreachable", __func__);
}

/* ---- idle ---------------------------------------------------------------------------------- */

/* Sleeps until there is work for this CPU; an IPI or the tick ends each sleep. */
static __noreturn void idle_loop(void)
{
	struct percpu *pc = this_cpu();

	for (;;) {
		irq_disable();
		if (pc->need_resched) { /* a wake's IPI, or the tick saw queued threads */
			irq_enable();
			sched_yield();
			continue;
		}
		__asm__ volatile("sti; hlt" : : : "memory"); /* no wake-up lost in between */
	}
}

static void idle_fn(void *arg)
{
	idle_loop();
}

static void resched_irq(struct trap_frame *tf)
{
	struct percpu *pc = this_cpu();

	pc->resched_ipis++;
	pc->need_resched = 1;
	lapic_eoi();
}

void sched_init(void)
{
	struct percpu *pc = this_cpu();
	paddr_t fpu = pmem_alloc_zeroed(0);

	BUG_ON(!fpu);
	clean_fpu = pmem_va(fpu);
	fpu_load_clean();
	fpu_save(clean_fpu);
	trap_set_irq_handler(IRQ_RESCHED, resched_irq);

	boot_thread.tid = sched_alloc_id();
	boot_thread.state = THREAD_RUNNING;
	for (unsigned c = 0; c < SMP_MAX_CPUS; c++)
		cpumask_set(&boot_thread.affinity, c);
	pc->current = &boot_thread;

	cpumask_t cpu0;
	cpumask_clear(&cpu0);
	cpumask_set(&cpu0, 0);
	struct thread *idle = kthread_create(idle_fn, NULL, &cpu0);
	BUG_ON(!idle);
	idle->idle = true;
	idle->state = THREAD_RUNNABLE; /* never queued: schedule_locked() takes it when idle */
	pc->idle = idle;
}

void sched_ap_enter(void)
{
	struct percpu *pc = this_cpu();
	struct thread *idle = &ap_idle[pc->cpu];

	idle->tid = sched_alloc_id();
	idle->idle = true;
	idle->state = THREAD_RUNNING;
	idle->cpu = pc->cpu;
	cpumask_set(&idle->affinity, pc->cpu);
	pc->idle = idle;
	pc->current = idle;
	pc->in_idle = 1;
	idle_loop();
}
