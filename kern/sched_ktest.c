// SPDX-License-Identifier: MIT
/*
 * Self-tests of the scheduler (kern/sched.c): every CPU runs a thread; each CPU's tick reaches
 * the scheduler; the tick preempts a thread that spins at a preemption point; a sleep lasts
 * as long as asked and no more than a few ticks longer; a wake is counted exactly once. Every
 * thread a test makes is freed before it ends (the runner checks free frames).
 */
#include <arch/x86/asm.h>
#include <arch/x86/smp.h>
#include <dyad/ktest.h>
#include <dyad/printf.h>
#include <dyad/sched.h>
#include <dyad/time.h>

#define WAIT_NS (5 * 1000000000ULL)
#define MS 1000000ULL

struct per_cpu_run {
	volatile unsigned ran_on;
	volatile bool done;
};

static struct per_cpu_run runs[SMP_MAX_CPUS];
static struct waitq done_wq = WAITQ_INIT;

static void record_cpu(void *arg)
{
	struct per_cpu_run *r = arg;

	r->ran_on = this_cpu_id();
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	waitq_wake_all(&done_wq);
	sched_thread_exit();
}

/* Waits until @cond(@arg) holds or @deadline passes; true if it holds. */
static bool wait_for(bool (*cond)(void *), void *arg, u64 deadline)
{
	while (!cond(arg)) {
		struct waitq_entry e;

		if (time_ns() >= deadline)
			return false;
		sched_prepare_block();
		waitq_add(&done_wq, &e);
		if (!cond(arg))
			sched_block(MIN(deadline, time_ns() + 10 * MS));
		waitq_del(&done_wq, &e);
	}
	return true;
}

static u64 alive_before;

static bool threads_freed(void *arg)
{
	return sched_threads_alive() <= alive_before;
}

/* Dead threads are freed by the CPU that switched away from them: wait for that too. */
static bool all_freed(void)
{
	return wait_for(threads_freed, NULL, time_ns() + WAIT_NS);
}

static bool all_done(void *arg)
{
	unsigned cpu;

	for_each_cpu (cpu, smp_online_mask())
		if (!__atomic_load_n(&runs[cpu].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

KTEST(sched_every_cpu_runs_a_thread)
{
	unsigned cpu, started = 0;

	alive_before = sched_threads_alive();
	for_each_cpu (cpu, smp_online_mask()) {
		cpumask_t one;
		cpumask_clear(&one);
		cpumask_set(&one, cpu);
		runs[cpu] = (struct per_cpu_run){ .ran_on = ~0u };
		struct thread *t = kthread_create(record_cpu, &runs[cpu], &one);
		KT_ASSERT(kt, t, "no memory for a thread");
		sched_start(t);
		started++;
	}
	KT_EXPECT(kt, wait_for(all_done, NULL, time_ns() + WAIT_NS),
		  "not every CPU ran its thread within 5 s");
	for_each_cpu (cpu, smp_online_mask())
		KT_EXPECT(kt, runs[cpu].ran_on == cpu, "CPU %u's thread ran on CPU %u", cpu,
			  runs[cpu].ran_on);
	KT_EXPECT(kt, started == smp_cpus_online(), "%u threads for %u CPUs", started,
		  smp_cpus_online());
	KT_EXPECT(kt, all_freed(), "threads not freed: %lu alive, %lu before",
		  sched_threads_alive(), alive_before);
}

/*
 * The scheduler's tick reaches every CPU while this thread sleeps. The sleep repeats until each
 * CPU ticked twice (10 s at most): a loaded host runs an emulator's CPU threads late, so a
 * fixed 50 ms window proves nothing either way.
 */
KTEST(sched_tick_reaches_every_cpu)
{
	u64 before[SMP_MAX_CPUS], t0 = time_ns();
	unsigned cpu;
	bool behind;

	for_each_cpu (cpu, smp_online_mask())
		before[cpu] = percpu_of(cpu)->ticks;
	do {
		sched_prepare_block();
		KT_ASSERT(kt, sched_sleep_until(time_ns() + 50 * MS), "the sleep was cut short");
		behind = false;
		for_each_cpu (cpu, smp_online_mask())
			behind |= percpu_of(cpu)->ticks < before[cpu] + 2;
	} while (behind && time_ns() - t0 < 10000 * MS);
	for_each_cpu (cpu, smp_online_mask())
		KT_EXPECT(kt, percpu_of(cpu)->ticks >= before[cpu] + 2,
			  "CPU %u ticked %lu times in %lu ms at %u Hz", cpu,
			  percpu_of(cpu)->ticks - before[cpu], (u64)((time_ns() - t0) / MS), TIMER_HZ);
}

/*
 * A sleep never ends early, and its deadline ends it: late by a few ticks on a quiet machine,
 * by whatever the host's load adds under an emulator, so the bound is a second. A sleep that
 * only a later unrelated event ended (no deadline wake) overruns it; the test prints how late
 * each one was.
 */
KTEST(sched_sleep_lasts_as_asked)
{
	static const u64 asked_ms[] = { 1, 20, 55 };

	for (unsigned i = 0; i < ARRAY_SIZE(asked_ms); i++) {
		u64 t0 = time_ns();
		KT_EXPECT(kt, sched_sleep_until(t0 + asked_ms[i] * MS), "sleep cut short");
		u64 took = time_ns() - t0;
		u64 most = asked_ms[i] * MS + 1000 * MS;
		KT_EXPECT(kt, took >= asked_ms[i] * MS && took <= most,
			  "a %lu ms sleep took %lu us", asked_ms[i], took / 1000);
		if (took >= asked_ms[i] * MS)
			printf("# sched_sleep_lasts_as_asked: %lu ms asked, %lu us late\n",
			       asked_ms[i], (u64)((took - asked_ms[i] * MS) / 1000));
	}
}

/* ---- preemption at a preemption point ------------------------------------------------------ */

static volatile bool other_ran, spinner_stop;
static volatile u64 spinner_yields;
static volatile int threads_done;

static void spinner(void *arg)
{
	while (!spinner_stop) {
		/* What ring-3 return does: give the CPU up when the tick says so. */
		if (sched_need_resched()) {
			spinner_yields++;
			sched_yield();
		}
	}
	__atomic_add_fetch(&threads_done, 1, __ATOMIC_RELEASE);
	waitq_wake_all(&done_wq);
	sched_thread_exit();
}

static void other(void *arg)
{
	other_ran = true;
	spinner_stop = true;
	__atomic_add_fetch(&threads_done, 1, __ATOMIC_RELEASE);
	waitq_wake_all(&done_wq);
	sched_thread_exit();
}

static bool both_done(void *arg)
{
	return __atomic_load_n(&threads_done, __ATOMIC_ACQUIRE) == 2;
}

KTEST(sched_tick_preempts_a_spinning_thread)
{
	unsigned cpu = smp_cpus_online() - 1; /* the last CPU: the ktests themselves run on others */
	cpumask_t one;

	alive_before = sched_threads_alive();
	cpumask_clear(&one);
	cpumask_set(&one, cpu);
	other_ran = spinner_stop = false;
	spinner_yields = 0;
	threads_done = 0;
	struct thread *s = kthread_create(spinner, NULL, &one);
	KT_ASSERT(kt, s, "no memory");
	struct thread *o = kthread_create(other, NULL, &one);
	if (!o) {
		thread_free_unstarted(s);
		KT_ASSERT(kt, false, "no memory");
	}
	sched_start(s);
	/* Let the spinner take the CPU first, then queue the other thread behind it. */
	sched_sleep_until(time_ns() + 5 * MS);
	sched_start(o);
	bool done = wait_for(both_done, NULL, time_ns() + WAIT_NS);
	if (!done)
		spinner_stop = true; /* do not leave it spinning */
	KT_EXPECT(kt, done && other_ran, "the second thread on CPU %u never ran while the first "
		  "spun", cpu);
	KT_EXPECT(kt, spinner_yields >= 1, "the tick never asked the spinner to yield");
	KT_EXPECT(kt, all_freed(), "threads not freed");
}

/* ---- a wake is counted once ---------------------------------------------------------------- */

static struct waitq once_wq = WAITQ_INIT;
static volatile u64 returns;
static volatile bool once_stop;

static void counting_waiter(void *arg)
{
	for (;;) {
		struct waitq_entry e;

		sched_prepare_block();
		if (once_stop)
			break;
		waitq_add(&once_wq, &e);
		sched_block(0);
		waitq_del(&once_wq, &e);
		__atomic_add_fetch(&returns, 1, __ATOMIC_RELEASE);
	}
	__atomic_add_fetch(&threads_done, 1, __ATOMIC_RELEASE);
	waitq_wake_all(&done_wq);
	sched_thread_exit();
}

static bool waiter_blocked(void *arg)
{
	struct thread *t = arg;

	return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == THREAD_BLOCKED;
}

static bool one_done(void *arg)
{
	return __atomic_load_n(&threads_done, __ATOMIC_ACQUIRE) == 1;
}

KTEST(sched_wake_is_counted_exactly_once)
{
	struct thread *self = thread_current();
	cpumask_t here, all;
	unsigned cpu;

	alive_before = sched_threads_alive();
	cpumask_clear(&all);
	for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++)
		cpumask_set(&all, cpu);
	/* The waiter and this thread share one CPU: with interrupts off here, it cannot run. */
	cpu = this_cpu_id();
	cpumask_clear(&here);
	cpumask_set(&here, cpu);
	sched_set_affinity(self, &here);
	returns = 0;
	once_stop = false;
	threads_done = 0;
	struct thread *w = kthread_create(counting_waiter, NULL, &here);
	KT_ASSERT(kt, w, "no memory");
	sched_start(w);
	KT_EXPECT(kt, wait_for(waiter_blocked, w, time_ns() + WAIT_NS), "the waiter never blocked");

	irq_disable();
	sched_wake(w);
	sched_wake(w); /* it is runnable, not yet run: this wake must not count again */
	irq_enable();
	KT_EXPECT(kt, wait_for(waiter_blocked, w, time_ns() + WAIT_NS) && returns == 1,
		  "two wakes of a blocked thread gave %lu returns, not 1", returns);

	waitq_wake_all(&once_wq);
	KT_EXPECT(kt, wait_for(waiter_blocked, w, time_ns() + WAIT_NS) && returns == 2,
		  "a third wake gave %lu returns in all, not 2", returns);

	once_stop = true;
	sched_wake(w);
	KT_EXPECT(kt, wait_for(one_done, NULL, time_ns() + WAIT_NS), "the waiter did not end");
	sched_set_affinity(self, &all);
	KT_EXPECT(kt, all_freed(), "threads not freed");
}
