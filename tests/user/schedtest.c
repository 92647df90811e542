// SPDX-License-Identifier: MIT
/*
 * The scheduler's system calls from ring 3: bad input to clone, futex, the affinity calls, wait4
 * and dyad_spawn's flags gets its errno; sleeps and futex timeouts last as long as asked; a
 * thread spinning on one CPU does not starve another pinned there (preemption); children run
 * at once and wait4 collects them; and 500 processes of 4 threads, killed by one thread's
 * fault, give every frame back.
 *
 * `schedtest kill4 MODE` is the child of that last test: it starts three threads and then one
 * thread faults (MODE main/thread) or calls exit_group (MODE group).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include "utest.h"

/* Linux's futex operations (musl ships no linux/futex.h). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAIT_BITSET 9
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)

#define KILL_CYCLES 500
#define NS_PER_MS 1000000ULL
#define MUSL_THREAD_FLAGS                                                                          \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int online_cpus(void)
{
	unsigned long mask = 0;

	if (sys3(SYS_sched_getaffinity, 0, sizeof(mask), &mask) != sizeof(mask))
		return 0;
	return __builtin_popcountl(mask);
}

static void bad_inputs(void)
{
	static int word = 5;
	unsigned long mask;
	struct timespec bad_ts = { .tv_sec = 0, .tv_nsec = 1000000000 };

	ut_eq(sys6(SYS_clone, 17 /* SIGCHLD: fork */, 0, 0, 0, 0, 0), -EINVAL,
	      "clone as fork is EINVAL");
	ut_eq(sys6(SYS_clone, CLONE_VM, 0, 0, 0, 0, 0), -EINVAL, "clone(CLONE_VM) alone is EINVAL");
	ut_eq(sys6(SYS_clone, MUSL_THREAD_FLAGS | CLONE_NEWNS, 0, 0, 0, 0, 0), -EINVAL,
	      "pthread's clone flags plus CLONE_NEWNS are EINVAL");
	ut_eq(sys6(SYS_futex, (long)&word, 5 /* FUTEX_WAKE_OP */, 1, 0, 0, 0), -ENOSYS,
	      "FUTEX_WAKE_OP is ENOSYS");
	ut_eq(sys6(SYS_futex, (long)&word, FUTEX_WAIT_BITSET, 5, 0, 0, ~0L), -ENOSYS,
	      "FUTEX_WAIT_BITSET is ENOSYS");
	ut_eq(sys6(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 4, 0, 0, 0), -EAGAIN,
	      "FUTEX_WAIT on a word that changed is EAGAIN");
	ut_eq(sys6(SYS_futex, (long)&word + 1, FUTEX_WAIT, 5, 0, 0, 0), -EINVAL,
	      "FUTEX_WAIT on a misaligned word is EINVAL");
	ut_eq(sys6(SYS_futex, 0x10, FUTEX_WAIT, 0, 0, 0, 0), -EFAULT,
	      "FUTEX_WAIT on an unmapped word is EFAULT");
	ut_eq(sys6(SYS_futex, (long)&word, FUTEX_WAIT, 5, (long)&bad_ts, 0, 0), -EINVAL,
	      "FUTEX_WAIT with tv_nsec = 1e9 is EINVAL");
	ut_eq(sys6(SYS_futex, (long)&word, FUTEX_WAKE, 1, 0, 0, 0), 0,
	      "FUTEX_WAKE with nobody waiting wakes 0");

	mask = 0;
	ut_eq(sys3(SYS_sched_setaffinity, 0, sizeof(mask), &mask), -EINVAL,
	      "sched_setaffinity with an empty mask is EINVAL");
	mask = 1UL << 63;
	ut_eq(sys3(SYS_sched_setaffinity, 0, sizeof(mask), &mask), online_cpus() == 64 ? 0 : -EINVAL,
	      "sched_setaffinity to offline CPUs only is EINVAL");
	mask = 1;
	ut_eq(sys3(SYS_sched_setaffinity, 999999, sizeof(mask), &mask), -ESRCH,
	      "sched_setaffinity of no such thread is ESRCH");
	ut_eq(sys3(SYS_sched_setaffinity, 0, sizeof(mask), 0x10), -EFAULT,
	      "sched_setaffinity from a bad pointer is EFAULT");
	ut_eq(sys3(SYS_sched_getaffinity, 0, 4, &mask), -EINVAL,
	      "sched_getaffinity into 4 bytes is EINVAL");
	ut_eq(sys3(SYS_sched_getaffinity, 0, sizeof(mask), 0x10), -EFAULT,
	      "sched_getaffinity to a bad pointer is EFAULT");
	ut_ok(online_cpus() >= 1, "sched_getaffinity shows %d CPUs", online_cpus());

	ut_eq(sys4(SYS_wait4, -1, 0, 0, 0), -ECHILD, "wait4 with no child is ECHILD");
	ut_eq(sys4(SYS_wait4, -1, 0, 0x8 /* WCONTINUED */, 0), -EINVAL,
	      "wait4 with an option not offered is EINVAL");
	ut_eq(sys3(DYAD_SYS_SPAWN, "/bin/nop", 0, 2), -EINVAL, "dyad_spawn with flag 2 is EINVAL");
}

static void timing(void)
{
	static int word;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 30 * NS_PER_MS };
	unsigned long long t0 = now_ns();

	ut_eq(sys2(SYS_nanosleep, &ts, 0), 0, "nanosleep(30 ms) returns 0");
	unsigned long long ms = (now_ns() - t0) / NS_PER_MS;
	ut_ok(ms >= 30 && ms < 30 + 100, "nanosleep(30 ms) slept %llu ms", ms);

	t0 = now_ns();
	ts.tv_nsec = 20 * NS_PER_MS;
	ut_eq(sys6(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 0, (long)&ts, 0, 0), -ETIMEDOUT,
	      "FUTEX_WAIT with a 20 ms timeout is ETIMEDOUT");
	ms = (now_ns() - t0) / NS_PER_MS;
	ut_ok(ms >= 20 && ms < 20 + 100, "the futex timeout took %llu ms", ms);

	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 10 * NS_PER_MS;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	t0 = now_ns();
	ut_eq(sys4(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, 0), 0,
	      "clock_nanosleep(TIMER_ABSTIME) returns 0");
	ut_ok(now_ns() >= (unsigned long long)abs.tv_sec * 1000000000ULL + abs.tv_nsec,
	      "clock_nanosleep(TIMER_ABSTIME) does not wake early");
	ut_eq(sys4(SYS_clock_nanosleep, 12345, 0, &ts, 0), -EINVAL,
	      "clock_nanosleep on an unknown clock is EINVAL");
}

/* ---- threads ----------------------------------------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static volatile int stop_spinning;
static volatile long spins;

static void *add_many(void *arg)
{
	for (int i = 0; i < 10000; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return arg;
}

static void *spin(void *arg)
{
	while (!stop_spinning)
		spins++;
	return arg;
}

static int pin_self(int cpu)
{
	unsigned long mask = 1UL << cpu;

	return (int)sys3(SYS_sched_setaffinity, 0, sizeof(mask), &mask);
}

static void threads(void)
{
	pthread_t t[4];
	int made = 0;

	for (int i = 0; i < 4; i++)
		made += pthread_create(&t[i], NULL, add_many, (void *)(long)i) == 0;
	ut_eq(made, 4, "pthread_create starts 4 threads");
	int joined = 0;
	for (int i = 0; i < made; i++) {
		void *ret;
		joined += pthread_join(t[i], &ret) == 0 && ret == (void *)(long)i;
	}
	ut_eq(joined, 4, "pthread_join returns each thread's value");
	ut_eq(counter, 40000, "a mutex-protected counter across 4 threads");

	int ok = 1;
	for (int i = 0; i < 200 && ok; i++) {
		pthread_t x;
		ok = pthread_create(&x, NULL, spin, NULL) == 0;
		stop_spinning = 1;
		ok = ok && pthread_join(x, NULL) == 0;
		stop_spinning = 0;
	}
	ut_ok(ok, "200 create/join cycles");

	/* Preemption: a spinner and this thread on one CPU; this one must still run. */
	pthread_t s;
	ut_eq(pin_self(0), 0, "pin the main thread to CPU 0");
	spins = 0;
	if (ut_eq(pthread_create(&s, NULL, spin, NULL), 0, "start a spinner")) {
		unsigned long mask = 1;
		pid_t tid = 0;
		/* The spinner inherited CPU 0 only: both share it. */
		(void)tid;
		sys3(SYS_sched_getaffinity, 0, sizeof(mask), &mask);
		unsigned long long t0 = now_ns();
		while (spins == 0 && now_ns() - t0 < 5000 * NS_PER_MS)
			sys0(SYS_sched_yield);
		ut_ok(spins > 0, "the spinner runs on CPU 0 (%ld spins)", (long)spins);
		long before = spins;
		/* Busy work of our own, no system call: only the tick can switch us. */
		t0 = now_ns();
		while (now_ns() - t0 < 100 * NS_PER_MS)
			;
		ut_ok(spins > before, "the spinner ran while this thread busy-waited 100 ms");
		stop_spinning = 1;
		ut_eq(pthread_join(s, NULL), 0, "this thread got the CPU back to stop the spinner");
		stop_spinning = 0;
	}
	unsigned long all = ~0UL;
	sys3(SYS_sched_setaffinity, 0, sizeof(all), &all);
}

/* ---- processes ----------------------------------------------------------------------------- */

static void concurrent_children(void)
{
	long pid[3];
	int started = 0;

	for (int i = 0; i < 3; i++) {
		char *argv[] = { "/bin/nop", "7", NULL };
		pid[i] = sys3(DYAD_SYS_SPAWN, "/bin/nop", argv, DYAD_SPAWN_NOWAIT);
		started += pid[i] > 0;
	}
	ut_eq(started, 3, "three children start with DYAD_SPAWN_NOWAIT");
	int collected = 0;
	for (int i = 2; i >= 0; i--) {
		int status = -1;
		collected += sys4(SYS_wait4, pid[i], &status, 0, 0) == pid[i] && status == 7 << 8;
	}
	ut_eq(collected, 3, "wait4 collects each child with status 7 << 8");
	ut_eq(sys4(SYS_wait4, -1, 0, 1 /* WNOHANG */, 0), -ECHILD,
	      "no child is left after they were collected");
}

static void kill_cycles(void)
{
	static const char *const modes[] = { "main", "thread", "group" };
	static const int want[] = { DYAD_KILLED_STATUS, DYAD_KILLED_STATUS, 3 };
	struct dyad_stats before, after;

	for (int m = 0; m < 3; m++) {
		char *argv[] = { "/bin/schedtest", "kill4", (char *)modes[m], NULL };
		long st = dyad_spawn("/bin/schedtest", argv);
		ut_eq(st, want[m], "a 4-thread process ends by %s with status %d", modes[m],
		      want[m]);
	}
	dyad_stats(&before);
	int wrong = 0;
	for (int i = 0; i < KILL_CYCLES; i++) {
		char *argv[] = { "/bin/schedtest", "kill4", (char *)modes[i % 3], NULL };
		wrong += dyad_spawn("/bin/schedtest", argv) != want[i % 3];
	}
	dyad_stats(&after);
	ut_eq(wrong, 0, "%d create/kill cycles of a 4-thread process end as they should",
	      KILL_CYCLES);
	ut_eq(after.free_frames, before.free_frames,
	      "free frames are exact after %d create/kill cycles", KILL_CYCLES);
}

/* The child of kill_cycles: three more threads, blocked or spinning, then the end. */
static int started;
static volatile uintptr_t fault_addr = 8;

static void *blocked(void *arg)
{
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	if (arg)
		for (;;)
			; /* spinning: only an IPI or the tick can take it out */
	int never = 0;
	for (;;)
		sys6(SYS_futex, (long)&never, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
	return NULL;
}

/* A write to an address nothing maps: the thread faults. */
static void fault(void)
{
	volatile int *bad = (volatile int *)(uintptr_t)fault_addr;

	*bad = 1;
}

static void *fault_later(void *arg)
{
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < 2)
		sys0(SYS_sched_yield);
	fault();
	return arg;
}

static int kill4(const char *mode)
{
	pthread_t t;

	pthread_create(&t, NULL, blocked, NULL);
	pthread_create(&t, NULL, blocked, (void *)1);
	if (strcmp(mode, "thread") == 0) {
		pthread_create(&t, NULL, fault_later, NULL);
		for (;;)
			sys0(SYS_sched_yield);
	}
	pthread_create(&t, NULL, blocked, NULL);
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < 3)
		sys0(SYS_sched_yield);
	if (strcmp(mode, "group") == 0)
		sys1(SYS_exit_group, 3);
	fault();
	return 1;
}

/* ---- figures: what a switch costs ---------------------------------------------------------- */

#define YIELDS 2000
#define PINGS 5000
#define PARTNER_NS (3000 * NS_PER_MS)

static volatile int ping_word;

/* The partner of a yield measurement: yields on CPU 0 for PARTNER_NS, longer than it lasts. */
static void *yielder(void *arg)
{
	pin_self(0);
	unsigned long long t0 = now_ns();
	while (now_ns() - t0 < PARTNER_NS)
		sys0(SYS_sched_yield);
	return arg;
}

/* ns per switch: YIELDS yields on CPU 0 while the partner (started 50 ms ago) yields back. */
static unsigned long long yield_switch_ns(void)
{
	struct timespec settle = { .tv_sec = 0, .tv_nsec = 50 * NS_PER_MS };

	pin_self(0);
	sys2(SYS_nanosleep, &settle, 0);
	unsigned long long t0 = now_ns();
	for (int i = 0; i < YIELDS; i++)
		sys0(SYS_sched_yield);
	return (now_ns() - t0) / (2 * YIELDS);
}

/* Ping-pong on one futex word: the ponger answers each odd value with the next even one. */
static void *ponger(void *arg)
{
	pin_self((int)(long)arg);
	for (int v = 1; v < 2 * PINGS; v += 2) {
		while (__atomic_load_n(&ping_word, __ATOMIC_ACQUIRE) != v)
			sys6(SYS_futex, (long)&ping_word, FUTEX_WAIT_PRIVATE, v - 1, 0, 0, 0);
		__atomic_store_n(&ping_word, v + 1, __ATOMIC_RELEASE);
		sys6(SYS_futex, (long)&ping_word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
	}
	return NULL;
}

static unsigned long long ping_pong_ns(int my_cpu, int other_cpu)
{
	pthread_t t;

	ping_word = 0;
	pin_self(my_cpu);
	if (pthread_create(&t, NULL, ponger, (void *)(long)other_cpu))
		return 0;
	unsigned long long t0 = now_ns();
	for (int v = 0; v < 2 * PINGS; v += 2) {
		__atomic_store_n(&ping_word, v + 1, __ATOMIC_RELEASE);
		sys6(SYS_futex, (long)&ping_word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
		while (__atomic_load_n(&ping_word, __ATOMIC_ACQUIRE) != v + 2)
			sys6(SYS_futex, (long)&ping_word, FUTEX_WAIT_PRIVATE, v + 1, 0, 0, 0);
	}
	unsigned long long ns = (now_ns() - t0) / PINGS;
	pthread_join(t, NULL);
	return ns;
}

static void figures(int cpus)
{
	unsigned long all = ~0UL;
	pthread_t t;

	/* Two threads of this process yield to each other on CPU 0: one switch per yield. */
	pthread_create(&t, NULL, yielder, NULL);
	unsigned long long threads_ns = yield_switch_ns();
	pthread_join(t, NULL);

	/* The same between two processes (another address space: a CR3 load per switch). */
	char *argv[] = { "/bin/schedtest", "yield", NULL };
	long pid = sys3(DYAD_SYS_SPAWN, "/bin/schedtest", argv, DYAD_SPAWN_NOWAIT);
	unsigned long long procs_ns = yield_switch_ns();
	int status = -1;
	sys4(SYS_wait4, pid, &status, 0, 0);
	ut_ok(pid > 0 && status == 0, "a yielding child process ran beside this one");

	printf("# figure: sched_yield switch between two threads of one process on one CPU: "
	       "%llu ns\n", threads_ns);
	printf("# figure: sched_yield switch between two processes on one CPU: %llu ns\n",
	       procs_ns);
	printf("# figure: futex ping-pong round trip, both threads on CPU 0: %llu ns\n",
	       ping_pong_ns(0, 0));
	if (cpus > 1)
		printf("# figure: futex ping-pong round trip, CPU 0 <-> CPU 1: %llu ns\n",
		       ping_pong_ns(0, 1));
	sys3(SYS_sched_setaffinity, 0, sizeof(all), &all);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "kill4") == 0)
		return kill4(argv[2]);
	if (argc == 2 && strcmp(argv[1], "yield") == 0) {
		yielder(NULL);
		return 0;
	}
	ut_begin("schedtest");
	int cpus = online_cpus(); /* before any test pins this thread */
	bad_inputs();
	timing();
	threads();
	concurrent_children();
	kill_cycles();
	figures(cpus);
	return ut_end("schedtest");
}
