// SPDX-License-Identifier: MIT
/*
 * Figures, not pass/fail: the system-call round trip, the cost of a demand-paging fault at
 * 4 KiB, 2 MiB and 1 GiB, and how many faults touching 1 GiB takes at each size (the targets:
 * 262144 at 4K, 512 at 2M, 1 at 1G). Instructions per call cannot be counted from user space,
 * so the round trip is given in ns and in TSC cycles.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "utest.h"

#define SYSCALL_ROUNDS 100000
#define SZ_2M (2UL << 20)
#define SZ_1G (1UL << 30)
#define BASE_1G 0x30000000000UL /* 3 TiB, 1 GiB-aligned */
/* 2 MiB- but not 1 GiB-aligned, so that a 1 GiB huge mapping here gets 2 MiB pages. */
#define BASE_2M (BASE_1G + 2 * SZ_1G + SZ_2M)

static long now_ns(void)
{
	struct timespec t;

	sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

static unsigned long faults_now(void)
{
	struct dyad_stats st = { 0 };

	dyad_stats(&st);
	return st.page_faults;
}

static void syscall_round_trip(void)
{
	long t0 = now_ns();
	unsigned long c0 = rdtsc();

	for (int i = 0; i < SYSCALL_ROUNDS; i++)
		sys0(SYS_getpid);
	unsigned long c1 = rdtsc();
	long t1 = now_ns();

	printf("bench: syscall round trip (getpid x %d): %ld ns, %lu TSC cycles per call\n",
	       SYSCALL_ROUNDS, (t1 - t0) / SYSCALL_ROUNDS, (c1 - c0) / SYSCALL_ROUNDS);
}

/* Maps 1 GiB at @addr with @flags, touches every 4 KiB page once, and reports the faults. */
static void touch_1g(const char *what, unsigned long addr, int flags, unsigned long target)
{
	char *p = (char *)sys6(SYS_mmap, addr, SZ_1G, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	struct dyad_vm_info vi = { 0 };

	if ((long)p < 0 && (long)p > -4096) {
		printf("bench: %s: mmap of 1 GiB failed: %ld\n", what, (long)p);
		return;
	}
	unsigned long f0 = faults_now();
	long t0 = now_ns();
	for (unsigned long off = 0; off < SZ_1G; off += 4096)
		((volatile char *)p)[off] = 1;
	long t1 = now_ns();
	unsigned long faults = faults_now() - f0;

	dyad_vm_query(p, &vi);
	printf("bench: page faults to touch 1 GiB at %s: %lu (target %lu), page size %lu\n", what,
	       faults, target, vi.page_size);
	printf("bench: page-fault cost at %s: %ld ns per fault (%ld ms for 1 GiB, zeroing "
	       "included)\n",
	       what, faults ? (t1 - t0) / (long)faults : 0, (t1 - t0) / 1000000);
	sys2(SYS_munmap, p, SZ_1G);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	syscall_round_trip();
	touch_1g("4K", 0, 0, 262144);
	touch_1g("2M", BASE_2M, MAP_FIXED | DYAD_MAP_HUGE, 512);
	touch_1g("1G", BASE_1G, MAP_FIXED | DYAD_MAP_HUGE, 1);
	return 0;
}
