// SPDX-License-Identifier: MIT
/*
 * /bin/dyad-threads: a threaded workload for the Linux guest (dyad_check=threads in
 * user/vmm/guest-init.sh; tests/vmm/kernels.sh adds it to the initramfs). A static musl program.
 *
 *   1. 8 threads each add 1 to a shared atomic counter and, under a mutex, to a plain one,
 *      100,000 times: both must end at 800,000 (a lost wakeup hangs, a torn update miscounts);
 *   2. two threads hand a token back and forth 5,000 times each through a condition variable
 *      (futex waits and wakes, across CPUs where there are several);
 *   3. 8 threads each sleep 20 x 5 ms (clock_nanosleep): no sleep may end early, and each
 *      thread's total must end within 5 s.
 * Prints "# threads: ..." figures, "threads: ok" and exits 0, or names what failed and exits 1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define THREADS 8
#define ADDS 100000
#define ROUNDS 5000
#define NAPS 20
#define NAP_NS 5000000L

static atomic_long atomic_count;
static long locked_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static int turn; /* whose turn: 0 or 1 */
static long passes;

static atomic_int early_naps;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < ADDS; i++) {
		atomic_fetch_add(&atomic_count, 1);
		pthread_mutex_lock(&lock);
		locked_count++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void *ping_pong(void *arg)
{
	int me = (int)(intptr_t)arg;

	pthread_mutex_lock(&pp_lock);
	for (int i = 0; i < ROUNDS; i++) {
		while (turn != me)
			pthread_cond_wait(&pp_cond, &pp_lock);
		passes++;
		turn = !me;
		pthread_cond_broadcast(&pp_cond);
	}
	pthread_mutex_unlock(&pp_lock);
	return NULL;
}

static void *napper(void *arg)
{
	int64_t *took = arg, start = now_ns();

	for (int i = 0; i < NAPS; i++) {
		int64_t t0 = now_ns();
		struct timespec ts = { 0, NAP_NS };

		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts))
			;
		if (now_ns() - t0 < NAP_NS)
			atomic_fetch_add(&early_naps, 1);
	}
	*took = now_ns() - start;
	return NULL;
}

/* Starts n threads of fn (argument i, or &results[i]) and joins them; 0 or -1. */
static int run(void *(*fn)(void *), int n, int64_t *results)
{
	pthread_t t[THREADS];
	int started = 0, err = 0;

	for (; started < n; started++) {
		void *arg = results ? (void *)&results[started] : (void *)(intptr_t)started;

		if (pthread_create(&t[started], NULL, fn, arg)) {
			printf("threads: FAIL: pthread_create of thread %d\n", started);
			err = -1;
			break;
		}
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	return err;
}

int main(void)
{
	int64_t naps[THREADS] = { 0 }, worst = 0, t0 = now_ns();
	int failed = 0;

	if (run(adder, THREADS, NULL))
		return 1;
	printf("# threads: %d x %d adds in %lld ms: atomic %ld, locked %ld\n", THREADS, ADDS,
	       (long long)((now_ns() - t0) / 1000000), (long)atomic_count, locked_count);
	if (atomic_count != (long)THREADS * ADDS || locked_count != (long)THREADS * ADDS) {
		printf("threads: FAIL: counters %ld and %ld, not %ld\n", (long)atomic_count,
		       locked_count, (long)THREADS * ADDS);
		failed++;
	}

	t0 = now_ns();
	if (run(ping_pong, 2, NULL))
		return 1;
	printf("# threads: %ld condition-variable hand-offs in %lld ms\n", passes,
	       (long long)((now_ns() - t0) / 1000000));
	if (passes != 2L * ROUNDS) {
		printf("threads: FAIL: %ld hand-offs, not %ld\n", passes, 2L * ROUNDS);
		failed++;
	}

	if (run(napper, THREADS, naps))
		return 1;
	for (int i = 0; i < THREADS; i++)
		worst = naps[i] > worst ? naps[i] : worst;
	printf("# threads: %d x %d sleeps of 5 ms, slowest thread %lld ms, %d early\n", THREADS,
	       NAPS, (long long)(worst / 1000000), (int)early_naps);
	if (early_naps || worst > 5000000000LL) {
		printf("threads: FAIL: %d sleeps ended early, slowest thread %lld ms\n",
		       (int)early_naps, (long long)(worst / 1000000));
		failed++;
	}
	printf("threads: %s\n", failed ? "FAIL" : "ok");
	return failed ? 1 : 0;
}
