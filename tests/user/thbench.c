// SPDX-License-Identifier: MIT
/*
 * Figures, not pass/fail, for threads and the SMP address space:
 *   - context switch between two threads of one process: a futex ping-pong with both threads
 *     pinned to one CPU (each round is two switches), and across two CPUs (a wake-up each way);
 *   - context switch by sched_yield, between two threads of one process and between two
 *     processes, both pinned to one CPU: each yield then switches, so the switch is the pair's
 *     time per yield less one thread's yield alone (Dyad has no pipes, and processes share no
 *     memory for a futex);
 *   - fault-in throughput: 1, 2 and 4 threads on their own CPUs, each faulting its own 2 MiB
 *     (512 pages of 4 KiB) of one address space, against 1 thread;
 *   - munmap of one touched page while the address space is live on 1, 2 and 4 CPUs (the
 *     other threads pinned there, spinning): the host-side shootdown cost.
 * Times are CLOCK_MONOTONIC ns and TSC ticks; under QEMU -icount shift=0 both count guest
 * instructions. Each line starts with "bench:". Lines that cannot be measured say why.
 *
 * argv[1] = "yield-child" START_NS CPU ROUNDS: the second process of the process switch.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>

#include "thr_lib.h"

#define PP_ROUNDS 20000
#define YIELD_ROUNDS 20000
#define FAULT_REPEATS 8
#define SZ_2M (2UL << 20)
#define UNMAP_ROUNDS 2000
#define MAX_THREADS 4
#define PROC_START_DELAY_NS (300 * 1000000L)

/* ---- futex ping-pong ----------------------------------------------------------------------- */

static volatile int turn;
static atomic_int go;

static void wait_turn(int want)
{
	while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != want)
		futex(&turn, THR_FUTEX_WAIT | THR_FUTEX_PRIVATE, !want, NULL);
}

static void pass_turn(int to)
{
	__atomic_store_n(&turn, to, __ATOMIC_RELEASE);
	futex(&turn, THR_FUTEX_WAKE | THR_FUTEX_PRIVATE, 1, NULL);
}

static void *pong_fn(void *arg)
{
	pin_to(0, (int)(long)arg);
	for (int i = 0; i < PP_ROUNDS; i++) {
		wait_turn(1);
		pass_turn(0);
	}
	return NULL;
}

static void futex_switch(int cpu_a, int cpu_b)
{
	pthread_t t;

	turn = 0;
	pin_to(0, cpu_a);
	if (pthread_create(&t, NULL, pong_fn, (void *)(long)cpu_b)) {
		printf("bench: futex ping-pong: no second thread\n");
		return;
	}
	long t0 = now_ns();
	uint64_t c0 = rdtsc();
	for (int i = 0; i < PP_ROUNDS; i++) {
		pass_turn(1);
		wait_turn(0);
	}
	uint64_t c1 = rdtsc();
	long t1 = now_ns();
	pthread_join(t, NULL);
	if (cpu_a == cpu_b)
		printf("bench: thread switch (futex ping-pong, both on CPU %d): %ld ns, %lu TSC "
		       "per switch (%d rounds)\n",
		       cpu_a, (t1 - t0) / (2 * PP_ROUNDS),
		       (unsigned long)(c1 - c0) / (2 * PP_ROUNDS), PP_ROUNDS);
	else
		printf("bench: cross-CPU futex wake-up (CPU %d <-> %d): %ld ns, %lu TSC per "
		       "one-way hand-off\n",
		       cpu_a, cpu_b, (t1 - t0) / (2 * PP_ROUNDS),
		       (unsigned long)(c1 - c0) / (2 * PP_ROUNDS));
}

/* ---- sched_yield switches ---------------------------------------------------------------- */

static long yield_loop(int rounds)
{
	long t0 = now_ns();

	for (int i = 0; i < rounds; i++)
		sys0(SYS_sched_yield);
	return now_ns() - t0;
}

static void *yield_fn(void *arg)
{
	pin_to(0, (int)(long)arg);
	atomic_fetch_add(&go, 1);
	while (atomic_load(&go) < 2)
		;
	yield_loop(YIELD_ROUNDS);
	return NULL;
}

static long yield_alone_ns(int cpu)
{
	pin_to(0, cpu);
	return yield_loop(YIELD_ROUNDS);
}

static void yield_switch_threads(int cpu)
{
	pthread_t t;
	long alone = yield_alone_ns(cpu);

	atomic_store(&go, 0);
	if (pthread_create(&t, NULL, yield_fn, (void *)(long)cpu)) {
		printf("bench: thread switch (sched_yield): no second thread\n");
		return;
	}
	while (atomic_load(&go) < 1)
		sys0(SYS_sched_yield);
	atomic_fetch_add(&go, 1);
	long pair = yield_loop(YIELD_ROUNDS);
	pthread_join(t, NULL);
	printf("bench: thread switch (sched_yield, 2 threads on CPU %d): %ld ns per switch "
	       "(a yield alone: %ld ns)\n",
	       cpu, pair / (2 * YIELD_ROUNDS) - alone / YIELD_ROUNDS, alone / YIELD_ROUNDS);
}

/*
 * The second process: sleeps to START_NS (CLOCK_MONOTONIC, absolute) so that both start
 * together, then yields ROUNDS times on CPU.
 */
static int yield_child(char **argv)
{
	uint64_t start, cpu, rounds;

	if (parse_u64(argv[2], &start) || parse_u64(argv[3], &cpu) || parse_u64(argv[4], &rounds))
		return 2;
	pin_to(0, (int)cpu);
	struct timespec ts = { (long)(start / NS_PER_S), (long)(start % NS_PER_S) };
	sys4(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	yield_loop((int)rounds);
	return 0;
}

/* Starts a second process without waiting: dyad_spawn with DYAD_SPAWN_NOWAIT, or a fork. */
static long start_child(char *const argv[])
{
	if (on_dyad()) {
#ifdef DYAD_SPAWN_NOWAIT
		fflush(stdout);
		return sys3(DYAD_SYS_SPAWN, argv[0], argv, DYAD_SPAWN_NOWAIT);
#else
		return -ENOSYS;
#endif
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	return pid < 0 ? -errno : pid;
}

static void yield_switch_processes(const char *self, int cpu)
{
	long alone = yield_alone_ns(cpu);
	long start = now_ns() + PROC_START_DELAY_NS;
	char s_start[24], s_cpu[8], s_rounds[16];

	snprintf(s_start, sizeof(s_start), "%ld", start);
	snprintf(s_cpu, sizeof(s_cpu), "%d", cpu);
	snprintf(s_rounds, sizeof(s_rounds), "%d", YIELD_ROUNDS);
	char *argv[] = { (char *)self, "yield-child", s_start, s_cpu, s_rounds, NULL };
	long pid = start_child(argv);
	if (pid < 0) {
		printf("bench: process switch (sched_yield): not measured: no way to start a "
		       "process without waiting for it (%ld)\n",
		       pid);
		return;
	}
	struct timespec ts = { start / NS_PER_S, start % NS_PER_S };
	sys4(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	long pair = yield_loop(YIELD_ROUNDS);
	int st = 0;
	waitpid((pid_t)pid, &st, 0);
	printf("bench: process switch (sched_yield, 2 processes on CPU %d): %ld ns per switch "
	       "(a yield alone: %ld ns; child status %d)\n",
	       cpu, pair / (2 * YIELD_ROUNDS) - alone / YIELD_ROUNDS, alone / YIELD_ROUNDS,
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ---- fault-in throughput ------------------------------------------------------------------- */

struct faulter {
	pthread_t t;
	int cpu;
	char *area;
	long ns;
};

static atomic_int ready, start_flag, done_count;

static void touch_2m(char *p)
{
	for (unsigned long off = 0; off < SZ_2M; off += 4096)
		((volatile char *)p)[off] = 1;
}

static void *faulter_fn(void *arg)
{
	struct faulter *f = arg;

	pin_to(0, f->cpu);
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&start_flag))
		;
	long t0 = now_ns();
	touch_2m(f->area);
	f->ns = now_ns() - t0;
	atomic_fetch_add(&done_count, 1);
	return NULL;
}

/* @n threads on CPUs 0..n-1 of the mask fault 2 MiB each; returns the wall ns, or -1. */
static long fault_round(int n)
{
	struct faulter f[MAX_THREADS];
	char *base = (char *)sys6(SYS_mmap, 0, n * SZ_2M, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int made = 0;

	if ((long)base < 0 && (long)base > -4096)
		return -1;
	atomic_store(&ready, 0);
	atomic_store(&start_flag, 0);
	atomic_store(&done_count, 0);
	for (; made < n; made++) {
		f[made] =
			(struct faulter){ .cpu = affinity_nth(made), .area = base + made * SZ_2M };
		if (pthread_create(&f[made].t, NULL, faulter_fn, &f[made]))
			break;
	}
	while (atomic_load(&ready) < made)
		sys0(SYS_sched_yield);
	long t0 = now_ns();
	atomic_store(&start_flag, 1);
	for (int i = 0; i < made; i++)
		pthread_join(f[i].t, NULL);
	long wall = now_ns() - t0;
	sys2(SYS_munmap, base, n * SZ_2M);
	return made == n ? wall : -1;
}

static void fault_throughput(int cpus)
{
	double one = 0;

	for (int n = 1; n <= MAX_THREADS; n *= 2) {
		if (n > cpus) {
			printf("bench: fault-in, %d threads: not measured: %d CPU(s)\n", n, cpus);
			continue;
		}
		long best = -1;
		for (int r = 0; r < FAULT_REPEATS; r++) {
			long w = fault_round(n);
			if (w > 0 && (best < 0 || w < best))
				best = w;
		}
		if (best <= 0) {
			printf("bench: fault-in, %d threads: failed\n", n);
			continue;
		}
		double rate = (double)n * (SZ_2M / 4096) * 1e9 / (double)best;
		if (n == 1)
			one = rate;
		printf("bench: fault-in, %d thread(s) x 2 MiB of 4K pages on their own CPUs: %.0f "
		       "faults/s (%.2fx one thread), best of %d: %ld us\n",
		       n, rate, one ? rate / one : 0, FAULT_REPEATS, best / 1000);
	}
}

/* ---- munmap with the address space live elsewhere ----------------------------------------- */

static void *spin_fn(void *arg)
{
	pin_to(0, (int)(long)arg);
	atomic_fetch_add(&ready, 1);
	while (!atomic_load_explicit(&start_flag, memory_order_relaxed))
		; /* keeps this address space loaded on its CPU */
	return NULL;
}

static void unmap_cost(int cpus)
{
	for (int n = 1; n <= MAX_THREADS; n *= 2) {
		if (n > cpus) {
			printf("bench: munmap shootdown, live on %d CPUs: not measured: %d "
			       "CPU(s)\n",
			       n, cpus);
			continue;
		}
		pthread_t t[MAX_THREADS];
		int made = 0;

		atomic_store(&ready, 0);
		atomic_store(&start_flag, 0);
		pin_to(0, affinity_nth(0));
		for (int i = 1; i < n; i++, made++)
			if (pthread_create(&t[made], NULL, spin_fn, (void *)(long)affinity_nth(i)))
				break;
		while (atomic_load(&ready) < made)
			sys0(SYS_sched_yield);
		uint64_t ticks = 0;
		long ns = 0;
		int rounds = 0;
		for (int r = 0; r < UNMAP_ROUNDS; r++) {
			char *p = (char *)sys6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if ((long)p < 0 && (long)p > -4096)
				break;
			*(volatile char *)p = 1;
			long t0 = now_ns();
			uint64_t c0 = rdtsc();
			sys2(SYS_munmap, p, 4096);
			ticks += rdtsc() - c0;
			ns += now_ns() - t0;
			rounds++;
		}
		atomic_store(&start_flag, 1);
		for (int i = 0; i < made; i++)
			pthread_join(t[i], NULL);
		if (made != n - 1 || !rounds) {
			printf("bench: munmap shootdown, live on %d CPUs: failed\n", n);
			continue;
		}
		printf("bench: munmap of one touched 4K page, address space live on %d CPU(s): %lu "
		       "TSC, %ld ns (mean of %d)\n",
		       n, (unsigned long)(ticks / rounds), ns / rounds, rounds);
	}
}

int main(int argc, char **argv)
{
	if (argc > 4 && strcmp(argv[1], "yield-child") == 0)
		return yield_child(argv);
	setvbuf(stdout, NULL, _IOLBF, 0);

	const char *why = threads_missing();
	if (why) {
		printf("bench: threads: not measured: %s\n", why);
		return 0;
	}
	int cpus = affinity_count();
	int a = affinity_nth(0), b = affinity_nth(cpus > 1 ? 1 : 0);
	printf("bench: %d CPU(s)\n", cpus);
	futex_switch(a, a);
	if (cpus > 1)
		futex_switch(a, b);
	yield_switch_threads(a);
	yield_switch_processes(argc > 0 ? argv[0] : "/bin/thbench", a);
	fault_throughput(cpus);
	unmap_cost(cpus);
	return 0;
}
