// SPDX-License-Identifier: MIT
/*
 * Threads with Linux semantics, through musl's pthreads and through raw system calls:
 *   - 1,000 threads created and joined (100 alive at a time), each returning its own value,
 *     the tids of threads alive together distinct;
 *   - a futex ping-pong between two threads (raw FUTEX_WAIT/FUTEX_WAKE): exact round count;
 *   - a mutex-protected, non-atomic counter across 4 threads: the exact total;
 *   - preemption: a thread spinning forever never starves another, unpinned and with both
 *     pinned to one CPU by sched_setaffinity;
 *   - gettid, set_tid_address and CLONE_PARENT_SETTID/CLONE_CHILD_CLEARTID (the kernel clears
 *     the word and wakes its futex when the thread exits), exit of one thread;
 *   - nanosleep and clock_nanosleep sleep at least what was asked, and not far longer;
 *   - sched_getaffinity's mask matches the CPUs sched_setaffinity accepts one by one.
 * Bad input gets its Linux errno, never a hang (every wait here has a deadline): clone flags
 * Linux refuses, unknown futex operations, bad futex addresses and timeouts, empty and
 * out-of-range affinity masks, bad sleep requests.
 * A thread that faults kills its whole process: the parent sees DYAD_KILLED_STATUS while the
 * other threads were running, and carries on; 500 such processes of 4 threads (half killed by
 * a fault, half by exit_group from a thread) give back every frame.
 *
 * argv[1] may name a child role (fault4, group4, clearwait); the default runs every check.
 * No check here is random. On a kernel without clone every thread check is a SKIP.
 */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "thr_lib.h"

#define ARCH_GET_FS 0x1003

#define CREATE_THREADS 1000
#define CREATE_BATCH 100
#define PINGPONG_ROUNDS 10000
#define COUNTER_THREADS 4
#define COUNTER_INCS 100000
#define PROGRESS_TARGET 2000000UL /* loop iterations the starved-or-not thread must make */
#define DEADLINE_NS (60 * NS_PER_S) /* generous for 4 emulated CPUs on a loaded host */
#define KILL_CYCLES 500
#define KILL_THREADS 4
#define STACK_SIZE (64 * 1024)
#define SLEEP_NS (100 * 1000000L)
#define SLEEP_SLACK_NS (2 * NS_PER_S)
#define KERNEL_ADDR 0xffff800000000000UL

static const char *self_path = "/bin/threads";

/* ---- create and join -------------------------------------------------------------------- */

static atomic_int tids_seen[CREATE_BATCH];
static atomic_int batch_release;

/* Each thread of a batch stays until the whole batch exists, so that their tids coexist. */
static void *create_fn(void *arg)
{
	long i = (long)arg, end = now_ns() + DEADLINE_NS;

	atomic_store(&tids_seen[i % CREATE_BATCH], (int)thr_gettid());
	while (!atomic_load(&batch_release) && now_ns() < end)
		sys0(SYS_sched_yield);
	return (void *)(i * 3 + 1);
}

static void create_join_many(void)
{
	pthread_attr_t a;
	pthread_t t[CREATE_BATCH];
	int created = 0, joined = 0, right = 0, distinct = 1;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, STACK_SIZE);
	for (long base = 0; base < CREATE_THREADS; base += CREATE_BATCH) {
		int n = 0;

		atomic_store(&batch_release, 0);
		for (int k = 0; k < CREATE_BATCH; k++)
			atomic_store(&tids_seen[k], 0);
		for (long i = base; i < base + CREATE_BATCH; i++, n++) {
			int e = pthread_create(&t[n], &a, create_fn, (void *)i);
			if (e) {
				printf("#   pthread_create %ld: %s\n", i, strerror(e));
				break;
			}
			created++;
		}
		atomic_store(&batch_release, 1);
		for (int k = 0; k < n; k++) {
			void *ret;

			if (pthread_join(t[k], &ret) == 0) {
				joined++;
				right += (long)ret == (base + k) * 3 + 1;
			}
		}
		/* The threads of one batch were alive together: distinct tids, none the pid. */
		for (int k = 0; k < n; k++) {
			int tk = atomic_load(&tids_seen[k]);
			distinct &= tk > 0 && tk != getpid();
			for (int j = 0; j < k; j++)
				distinct &= tk != atomic_load(&tids_seen[j]);
		}
		if (n < CREATE_BATCH)
			break;
	}
	pthread_attr_destroy(&a);
	ut_eq(created, CREATE_THREADS, "pthread_create: %d threads created", CREATE_THREADS);
	ut_eq(joined, CREATE_THREADS, "pthread_join: %d threads joined", CREATE_THREADS);
	ut_eq(right, CREATE_THREADS, "each joined thread returned its own value");
	ut_ok(distinct, "threads alive together have distinct tids, none the process id");
}

/* ---- futex ping-pong ---------------------------------------------------------------------- */

/* turn: 0 = ping's move, 1 = pong's move; each side counts the rounds it saw. */
static volatile int turn;
static atomic_int pong_rounds, pong_timeouts;

static int wait_turn(int want, int priv)
{
	long end = now_ns() + DEADLINE_NS;

	while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != want) {
		struct timespec to = { 1, 0 };
		long r = futex(&turn, THR_FUTEX_WAIT | priv, !want, &to);
		if ((r < 0 && r != -EAGAIN && r != -ETIMEDOUT && r != -EINTR) || now_ns() > end)
			return -1;
	}
	return 0;
}

static void pass_turn(int to, int priv)
{
	__atomic_store_n(&turn, to, __ATOMIC_RELEASE);
	futex(&turn, THR_FUTEX_WAKE | priv, 1, NULL);
}

static void *pong_fn(void *arg)
{
	int priv = (int)(long)arg;

	for (int i = 0; i < PINGPONG_ROUNDS; i++) {
		if (wait_turn(1, priv)) {
			atomic_fetch_add(&pong_timeouts, 1);
			return NULL;
		}
		atomic_fetch_add(&pong_rounds, 1);
		pass_turn(0, priv);
	}
	return NULL;
}

static void futex_ping_pong(int priv)
{
	pthread_t t;
	int rounds = 0;
	const char *kind = priv ? "FUTEX_PRIVATE" : "shared";

	turn = 0;
	atomic_store(&pong_rounds, 0);
	atomic_store(&pong_timeouts, 0);
	if (!ut_eq(pthread_create(&t, NULL, pong_fn, (void *)(long)priv), 0,
		   "ping-pong (%s): second thread created", kind))
		return;
	long t0 = now_ns();
	for (int i = 0; i < PINGPONG_ROUNDS; i++) {
		if (wait_turn(0, priv))
			break;
		rounds++;
		pass_turn(1, priv);
	}
	wait_turn(0, priv);
	long dt = now_ns() - t0;
	pthread_join(t, NULL);
	ut_eq(rounds, PINGPONG_ROUNDS, "ping-pong (%s): ping saw %d rounds", kind, PINGPONG_ROUNDS);
	ut_eq(atomic_load(&pong_rounds), PINGPONG_ROUNDS, "ping-pong (%s): pong saw %d rounds",
	      kind, PINGPONG_ROUNDS);
	ut_eq(atomic_load(&pong_timeouts), 0, "ping-pong (%s): no side gave up", kind);
	printf("#   %d rounds in %ld ms\n", rounds, dt / 1000000);
}

/* ---- mutex counter ------------------------------------------------------------------------ */

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter; /* plain, not atomic: only the mutex makes the total exact */

static void *counter_fn(void *arg)
{
	(void)arg;
	for (int i = 0; i < COUNTER_INCS; i++) {
		pthread_mutex_lock(&counter_lock);
		long v = counter;
		if ((i & 63) == 0)
			sys0(SYS_sched_yield); /* invite a switch inside the critical section */
		counter = v + 1;
		pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

static void mutex_counter(void)
{
	pthread_t t[COUNTER_THREADS];
	int n = 0;

	counter = 0;
	for (; n < COUNTER_THREADS; n++)
		if (pthread_create(&t[n], NULL, counter_fn, NULL))
			break;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	ut_eq(n, COUNTER_THREADS, "mutex counter: %d threads created", COUNTER_THREADS);
	ut_eq(counter, (long)COUNTER_THREADS * COUNTER_INCS,
	      "mutex counter: %d threads x %d increments give the exact total", COUNTER_THREADS,
	      COUNTER_INCS);
}

/* ---- preemption ---------------------------------------------------------------------------- */

static atomic_int spin_stop, spinner_started;
static atomic_long spinner_pin, worker_pin;
static atomic_ulong worker_progress;

static void *spinner_fn(void *arg)
{
	int cpu = (int)(long)arg;

	if (cpu >= 0)
		atomic_store(&spinner_pin, pin_to(0, cpu));
	atomic_store(&spinner_started, 1);
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
		; /* never yields, never blocks */
	return NULL;
}

static void *worker_fn(void *arg)
{
	int cpu = (int)(long)arg;

	if (cpu >= 0)
		atomic_store(&worker_pin, pin_to(0, cpu));
	/* Make progress only after the spinner holds the CPU. */
	while (!atomic_load(&spinner_started))
		sys0(SYS_sched_yield);
	for (unsigned long i = 0; i < PROGRESS_TARGET; i++)
		atomic_fetch_add_explicit(&worker_progress, 1, memory_order_relaxed);
	return NULL;
}

/* A spinner and a worker, both on CPU @cpu (or anywhere for -1): the worker must finish. */
static void spinner_does_not_starve(int cpu)
{
	pthread_t s, w;
	char where[48];

	if (cpu >= 0)
		snprintf(where, sizeof(where), "both pinned to CPU %d", cpu);
	else
		snprintf(where, sizeof(where), "unpinned");
	atomic_store(&spin_stop, 0);
	atomic_store(&spinner_started, 0);
	atomic_store(&worker_progress, 0);
	atomic_store(&spinner_pin, 0);
	atomic_store(&worker_pin, 0);
	if (!ut_eq(pthread_create(&s, NULL, spinner_fn, (void *)(long)cpu), 0,
		   "preemption (%s): spinner created", where))
		return;
	if (!ut_eq(pthread_create(&w, NULL, worker_fn, (void *)(long)cpu), 0,
		   "preemption (%s): worker created", where)) {
		atomic_store(&spin_stop, 1);
		pthread_join(s, NULL);
		return;
	}
	long t0 = now_ns();
	while (atomic_load(&worker_progress) < PROGRESS_TARGET && now_ns() - t0 < DEADLINE_NS)
		sleep_ns(10 * 1000000L);
	unsigned long got = atomic_load(&worker_progress);
	long dt = now_ns() - t0;
	atomic_store(&spin_stop, 1);
	pthread_join(s, NULL);
	pthread_join(w, NULL);
	if (cpu >= 0) {
		ut_eq(atomic_load(&spinner_pin), 0, "preemption: spinner pinned to CPU %d", cpu);
		ut_eq(atomic_load(&worker_pin), 0, "preemption: worker pinned to CPU %d", cpu);
	}
	ut_eq(got, PROGRESS_TARGET, "preemption (%s): a spinning thread does not starve another",
	      where);
	printf("#   worker done in %ld ms beside the spinner\n", dt / 1000000);
}

/* ---- tids, set_tid_address, CLONE_CHILD_CLEARTID ---------------------------------------- */

struct tid_child {
	volatile int ctid; /* the kernel clears it at exit and wakes its futex */
	volatile int ptid; /* the kernel writes the child's tid here (CLONE_PARENT_SETTID) */
	volatile long tid, pid, set_tid_ret;
	volatile int go;
	volatile int own_word; /* set_tid_address target of the second child */
};

/* Raw child: no libc, no TLS. */
static int tid_child_fn(void *arg)
{
	struct tid_child *c = arg;

	/* tid last: the parent reads pid once it sees tid (volatile stores keep their order). */
	c->pid = sys0(SYS_getpid);
	c->tid = sys0(SYS_gettid);
	while (!c->go)
		sys0(SYS_sched_yield);
	return 0;
}

static int set_tid_child_fn(void *arg)
{
	struct tid_child *c = arg;

	c->set_tid_ret = sys1(SYS_set_tid_address, &c->own_word);
	c->tid = sys0(SYS_gettid);
	return 0;
}

/* Waits (futex, with deadline) until *@w is 0; 0 when it was cleared. */
static int wait_cleared(volatile int *w)
{
	long end = now_ns() + DEADLINE_NS;
	int v;

	while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != 0) {
		struct timespec to = { 1, 0 };
		futex(w, THR_FUTEX_WAIT, v, &to);
		if (now_ns() > end)
			return -1;
	}
	return 0;
}

static void tid_semantics(void)
{
	static struct tid_child c;
	char *stack = malloc(STACK_SIZE);
	long pid = getpid();

	ut_eq(thr_gettid(), pid, "gettid of the main thread is the process id");
	ut_eq(sys1(SYS_set_tid_address, NULL), pid, "set_tid_address returns the caller's tid");
	if (!stack)
		return;
	/*
	 * The children use pthread_create's flags, CLONE_SETTLS included (a kernel may offer just
	 * that set), with the caller's own thread pointer: they use no TLS, and musl's errno and
	 * stack protector read the same values the caller does.
	 */
	unsigned long fs = 0;
	sys2(SYS_arch_prctl, ARCH_GET_FS, &fs);
	memset(&c, 0, sizeof(c));
	c.ctid = -1;
	long r = raw_clone(THR_PTHREAD_FLAGS, stack + STACK_SIZE, (int *)&c.ptid, (int *)&c.ctid,
			   fs, tid_child_fn, &c);
	if (ut_ok(r > 0, "raw clone with CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID (%ld)", r)) {
		ut_eq(c.ptid, r, "CLONE_PARENT_SETTID wrote the child's tid");
		while (!c.tid)
			sys0(SYS_sched_yield);
		ut_eq(c.tid, r, "the child's gettid is what clone returned");
		ut_eq(c.pid, pid, "the child's getpid is the process id");
		ut_ok(c.tid != pid, "the child's tid is not the process id");
		ut_eq(c.ctid, -1, "the clear-tid word is untouched while the child lives");
		c.go = 1;
		ut_eq(wait_cleared(&c.ctid), 0,
		      "CLONE_CHILD_CLEARTID: the word is cleared and its futex woken at exit");
	}

	/* set_tid_address in the thread moves the word its exit clears from ctid to its own. */
	memset(&c, 0, sizeof(c));
	c.own_word = -1;
	c.ctid = -1;
	r = raw_clone(THR_PTHREAD_FLAGS, stack + STACK_SIZE, (int *)&c.ptid, (int *)&c.ctid, fs,
		      set_tid_child_fn, &c);
	if (ut_ok(r > 0, "raw clone of a thread that calls set_tid_address (%ld)", r)) {
		ut_eq(wait_cleared(&c.own_word), 0,
		      "set_tid_address in a thread: its word is cleared at the thread's exit");
		ut_eq(c.set_tid_ret, r, "set_tid_address in that thread returned its tid");
		ut_eq(c.ctid, -1, "the clone's clear-tid word, replaced, is left alone");
	}
	free(stack);
}

/* ---- sleeping ------------------------------------------------------------------------------ */

static void sleeps(void)
{
	struct timespec req = { 0, SLEEP_NS };
	long t0 = now_ns();
	long r = sys2(SYS_nanosleep, &req, NULL);
	long dt = now_ns() - t0;

	ut_eq(r, 0, "nanosleep 100 ms returns 0");
	ut_ok(dt >= SLEEP_NS && dt < SLEEP_NS + SLEEP_SLACK_NS,
	      "nanosleep 100 ms took %ld ms (at least 100, less than 2100)", dt / 1000000);

	t0 = now_ns();
	r = sys4(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, NULL);
	dt = now_ns() - t0;
	ut_eq(r, 0, "clock_nanosleep (relative) 100 ms returns 0");
	ut_ok(dt >= SLEEP_NS && dt < SLEEP_NS + SLEEP_SLACK_NS,
	      "clock_nanosleep (relative) 100 ms took %ld ms", dt / 1000000);

	struct timespec abs;
	sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &abs);
	long target = abs.tv_sec * NS_PER_S + abs.tv_nsec + SLEEP_NS;
	abs.tv_sec = target / NS_PER_S;
	abs.tv_nsec = target % NS_PER_S;
	r = sys4(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
	long end = now_ns();
	ut_eq(r, 0, "clock_nanosleep (TIMER_ABSTIME) returns 0");
	ut_ok(end >= target && end < target + SLEEP_SLACK_NS,
	      "clock_nanosleep (TIMER_ABSTIME) woke %ld ms after its deadline (0 <= it < 2000)",
	      (end - target) / 1000000);
	ut_eq(sys0(SYS_sched_yield), 0, "sched_yield returns 0");
}

/* ---- affinity ------------------------------------------------------------------------------ */

static void affinity(void)
{
	cpu_set_t s, one;
	long r;

	CPU_ZERO(&s);
	r = sys3(SYS_sched_getaffinity, 0, sizeof(s), &s);
	/* Linux returns the bytes it wrote: its cpumask's size, a multiple of 8. */
	ut_ok(r > 0 && r % 8 == 0 && r <= (long)sizeof(s),
	      "sched_getaffinity returns the mask's size in bytes (%ld)", r);
	int n = CPU_COUNT(&s), accepted = 0, consistent = 1;
	ut_ok(n >= 1, "sched_getaffinity reports %d CPU(s)", n);
	/* Each CPU of the mask takes a thread pinned alone; no CPU outside it does. */
	for (int c = 0; c < THR_MAX_CPUS; c++) {
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		long p = sys3(SYS_sched_setaffinity, 0, sizeof(one), &one);
		accepted += p == 0;
		consistent &= (p == 0) == !!CPU_ISSET(c, &s);
		consistent &= p == 0 || p == -EINVAL;
	}
	ut_eq(accepted, n, "sched_setaffinity accepts each of the %d CPUs alone", n);
	ut_ok(consistent, "sched_setaffinity refuses (EINVAL) exactly the CPUs outside the mask");
	ut_eq(sys3(SYS_sched_setaffinity, 0, sizeof(s), &s), 0, "the full mask is restored");
	printf("#   %d CPU(s) online\n", n);
}

/* ---- bad input ----------------------------------------------------------------------------- */

static void clone_bad_flags(void)
{
	char *stack = malloc(STACK_SIZE);
	void *top = stack + STACK_SIZE;
	long r;

	r = sys6(SYS_clone, CLONE_VM | CLONE_THREAD, (long)top, 0, 0, 0, 0);
	ut_eq(r, -EINVAL, "clone: CLONE_THREAD without CLONE_SIGHAND is EINVAL");
	r = sys6(SYS_clone, CLONE_SIGHAND, (long)top, 0, 0, 0, 0);
	ut_eq(r, -EINVAL, "clone: CLONE_SIGHAND without CLONE_VM is EINVAL");
	r = sys6(SYS_clone, CLONE_NEWNS | CLONE_FS, (long)top, 0, 0, 0, 0);
	ut_eq(r, -EINVAL, "clone: CLONE_NEWNS with CLONE_FS is EINVAL");
	r = sys6(SYS_clone, CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, (long)top, 0,
		 0, 0, 0);
	ut_eq(r, -EINVAL, "clone: CLONE_NEWUSER with CLONE_THREAD is EINVAL");
	free(stack);
}

static volatile int fword = 7;

static void futex_bad_input(void)
{
	struct timespec bad_ns = { 0, NS_PER_S }, neg = { -1, 0 }, short_to = { 0, 20000000 };

	ut_eq(futex(&fword, 99, 0, NULL), -ENOSYS, "futex: unknown operation 99 is ENOSYS");
	ut_eq(futex(&fword, 99 | THR_FUTEX_PRIVATE, 0, NULL), -ENOSYS,
	      "futex: unknown private operation is ENOSYS");
	ut_eq(futex(&fword, THR_FUTEX_WAIT, 8, NULL), -EAGAIN,
	      "futex: WAIT on a value that differs is EAGAIN");
	ut_eq(futex(&fword, THR_FUTEX_WAIT | THR_FUTEX_PRIVATE, 8, NULL), -EAGAIN,
	      "futex: WAIT_PRIVATE on a value that differs is EAGAIN");
	ut_eq(futex(NULL, THR_FUTEX_WAIT, 0, NULL), -EFAULT, "futex: WAIT on NULL is EFAULT");
	ut_eq(futex((volatile int *)KERNEL_ADDR, THR_FUTEX_WAIT, 0, NULL), -EFAULT,
	      "futex: WAIT on a kernel address is EFAULT");
	ut_eq(futex((volatile int *)KERNEL_ADDR, THR_FUTEX_WAKE, 1, NULL), -EFAULT,
	      "futex: WAKE on a kernel address is EFAULT");
	ut_eq(futex((volatile int *)((char *)&fword + 1), THR_FUTEX_WAIT, 7, NULL), -EINVAL,
	      "futex: WAIT on a misaligned address is EINVAL");
	ut_eq(futex(&fword, THR_FUTEX_WAIT, 7, &bad_ns), -EINVAL,
	      "futex: WAIT with tv_nsec = 1e9 is EINVAL");
	ut_eq(futex(&fword, THR_FUTEX_WAIT, 7, &neg), -EINVAL,
	      "futex: WAIT with a negative timeout is EINVAL");
	ut_eq(futex(&fword, THR_FUTEX_WAIT, 7, (struct timespec *)KERNEL_ADDR), -EFAULT,
	      "futex: WAIT with a kernel-address timeout is EFAULT");
	long t0 = now_ns();
	long r = futex(&fword, THR_FUTEX_WAIT | THR_FUTEX_PRIVATE, 7, &short_to);
	long dt = now_ns() - t0;
	ut_eq(r, -ETIMEDOUT, "futex: WAIT with nobody to wake it times out (ETIMEDOUT)");
	ut_ok(dt >= 20000000 && dt < 20000000 + SLEEP_SLACK_NS,
	      "futex: the 20 ms timeout took %ld ms", dt / 1000000);
	ut_eq(futex(&fword, THR_FUTEX_WAKE, 1, NULL), 0, "futex: WAKE with no waiter wakes 0");
}

static void affinity_bad_input(void)
{
	cpu_set_t s;
	long r;

	CPU_ZERO(&s);
	ut_eq(sys3(SYS_sched_setaffinity, 0, sizeof(s), &s), -EINVAL,
	      "sched_setaffinity: an empty mask is EINVAL");
	CPU_SET(THR_MAX_CPUS - 1, &s);
	ut_eq(sys3(SYS_sched_setaffinity, 0, sizeof(s), &s), -EINVAL,
	      "sched_setaffinity: only CPU %d (not present) is EINVAL", THR_MAX_CPUS - 1);
	ut_eq(sys3(SYS_sched_setaffinity, 0, sizeof(s), NULL), -EFAULT,
	      "sched_setaffinity: a NULL mask is EFAULT");
	ut_eq(sys3(SYS_sched_setaffinity, 0x3fffffff, sizeof(s), &s), -ESRCH,
	      "sched_setaffinity: no such thread is ESRCH");
	ut_eq(sys3(SYS_sched_getaffinity, 0, sizeof(s), NULL), -EFAULT,
	      "sched_getaffinity: a NULL mask is EFAULT");
	ut_eq(sys3(SYS_sched_getaffinity, 0, sizeof(s), KERNEL_ADDR), -EFAULT,
	      "sched_getaffinity: a kernel-address mask is EFAULT");
	ut_eq(sys3(SYS_sched_getaffinity, 0, 7, &s), -EINVAL,
	      "sched_getaffinity: a size that is not a multiple of 8 is EINVAL");
	ut_eq(sys3(SYS_sched_getaffinity, 0, 0, &s), -EINVAL,
	      "sched_getaffinity: size 0 is EINVAL");
	ut_eq(sys3(SYS_sched_getaffinity, 0x3fffffff, sizeof(s), &s), -ESRCH,
	      "sched_getaffinity: no such thread is ESRCH");
	r = affinity_count();
	ut_ok(r >= 1, "the mask is still whole after the refused calls (%ld CPUs)", r);
}

static void sleep_bad_input(void)
{
	struct timespec bad = { 0, NS_PER_S }, neg = { -1, 0 };

	ut_eq(sys2(SYS_nanosleep, &bad, NULL), -EINVAL, "nanosleep: tv_nsec = 1e9 is EINVAL");
	ut_eq(sys2(SYS_nanosleep, &neg, NULL), -EINVAL, "nanosleep: a negative time is EINVAL");
	ut_eq(sys2(SYS_nanosleep, NULL, NULL), -EFAULT, "nanosleep: NULL is EFAULT");
	ut_eq(sys4(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, NULL), -EINVAL,
	      "clock_nanosleep: tv_nsec = 1e9 is EINVAL");
	ut_eq(sys4(SYS_clock_nanosleep, 12345, 0, &bad, NULL), -EINVAL,
	      "clock_nanosleep: an unknown clock is EINVAL");
}

/* ---- kill a threaded process -------------------------------------------------------------- */

static atomic_int kill_running;

static void *kill_spin_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&kill_running, 1);
	for (;;)
		sys0(SYS_sched_yield);
	return NULL;
}

/*
 * Child role: KILL_THREADS threads in all (3 spinning); once all run, the last one to start
 * either writes to address 0 (@fault) or calls exit_group(0x2a). Surviving either exits 3.
 */
static int child_kill(int fault)
{
	pthread_attr_t a;
	pthread_t t;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, STACK_SIZE);
	for (int i = 0; i < KILL_THREADS - 1; i++)
		if (pthread_create(&t, &a, kill_spin_fn, NULL))
			return 2;
	while (atomic_load(&kill_running) < KILL_THREADS - 1)
		sys0(SYS_sched_yield);
	if (fault)
		*(volatile int *)0 = 1;
	else
		sys1(SYS_exit_group, 0x2a);
	return 3;
}

static void kill_threaded_process(void)
{
	char *fault_argv[] = { (char *)self_path, "fault4", NULL };
	char *group_argv[] = { (char *)self_path, "group4", NULL };
	int dyad = on_dyad();

	ut_eq(spawn_self(fault_argv), DYAD_KILLED_STATUS,
	      "a thread that faults kills its process of %d threads", KILL_THREADS);
	ut_eq(spawn_self(group_argv), 0x2a, "exit_group from one of %d threads ends them all",
	      KILL_THREADS);
	ut_eq(getpid(), thr_gettid(), "the parent keeps running");

	unsigned long before = free_frames_now();
	int bad = 0;
	for (int i = 0; i < KILL_CYCLES; i++) {
		long st = spawn_self(i & 1 ? group_argv : fault_argv);
		long want = i & 1 ? 0x2a : DYAD_KILLED_STATUS;

		if (st != want && bad++ < 5)
			printf("#   cycle %d: status %ld, expected %ld\n", i, st, want);
	}
	unsigned long after = free_frames_now();
	ut_eq(bad, 0, "%d create/kill cycles of a %d-thread process all end as expected",
	      KILL_CYCLES, KILL_THREADS);
	if (dyad)
		ut_eq(after, before, "free frames are exact after %d cycles", KILL_CYCLES);
	else
		ut_skip("free frames are exact after the cycles", "not Dyad: no exact frame count");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "fault4") == 0)
		return child_kill(1);
	if (argc > 1 && strcmp(argv[1], "group4") == 0)
		return child_kill(0);
	if (argc > 0)
		self_path = argv[0];
	ut_begin("threads");

	const char *why = threads_missing();
	if (why) {
		ut_skip("threads: every check", "%s", why);
		return ut_end("threads");
	}
	affinity();
	tid_semantics();
	create_join_many();
	futex_ping_pong(0);
	futex_ping_pong(THR_FUTEX_PRIVATE);
	mutex_counter();
	spinner_does_not_starve(-1);
	spinner_does_not_starve(affinity_nth(affinity_count() - 1));
	sleeps();
	clone_bad_flags();
	futex_bad_input();
	affinity_bad_input();
	sleep_bad_input();
	kill_threaded_process();
	return ut_end("threads");
}
