// SPDX-License-Identifier: MIT
/*
 * Demand-paging fault counts, from dyad_stats().page_faults deltas: each fresh 4 KiB page
 * costs one fault, a DYAD_MAP_HUGE region one fault per 2 MiB (or per 1 GiB), and touching
 * memory that is already mapped costs none. Nothing but the touching loop runs between the two
 * readings of the counter, so no stack or stdio page can add a fault.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "utest.h"

#define SZ_2M (2UL << 20)
#define SZ_1G (1UL << 30)
#define BASE_1G 0x20000000000UL /* 2 TiB, 1 GiB-aligned */
#define BASE_2M (BASE_1G + SZ_1G)

static void *map(unsigned long addr, unsigned long len, int flags)
{
	return (void *)sys6(SYS_mmap, addr, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

static unsigned long faults_now(void)
{
	struct dyad_stats st = { 0 };

	dyad_stats(&st);
	return st.page_faults;
}

/* Writes one byte in every 4 KiB page of [p, p + len); returns the faults that cost. */
static unsigned long touch(char *p, unsigned long len)
{
	unsigned long before = faults_now();

	for (unsigned long off = 0; off < len; off += 4096)
		((volatile char *)p)[off] = 1;
	return faults_now() - before;
}

/* Maps @len bytes at @addr with @flags, expects @want faults to touch them, then none. */
static void count(const char *what, unsigned long addr, unsigned long len, int flags,
		  unsigned long want)
{
	char *p = map(addr, len, flags);

	if (!ut_ok((long)p > 0 && (!addr || p == (char *)addr), "%s: mmap (%p)", what, p))
		return;
	ut_eq(touch(p, len), want, "%s: first touch of every page costs %lu faults", what, want);
	ut_eq(touch(p, len), 0, "%s: touching again costs no fault", what);
	sys2(SYS_munmap, p, len);
}

int main(void)
{
	ut_begin("faults");
	ut_ok(faults_now() > 0, "the process has taken page faults already (its own image)");
	count("4K x 64", 0, 64 * 4096, 0, 64);
	count("4K x 1", 0, 4096, 0, 1);
	count("2M x 4", BASE_2M, 4 * SZ_2M, MAP_FIXED | DYAD_MAP_HUGE, 4);
	if (cpuid_ext_edx() & CPUID_EXT_1G_PAGES)
		count("1G x 1", BASE_1G, SZ_1G, MAP_FIXED | DYAD_MAP_HUGE, 1);
	else
		ut_skip("1G x 1: one fault per 1 GiB", "this CPU has no 1 GiB pages");

	/* A read fault maps memory too: the write after it costs nothing more. */
	char *p = map(0, 4096, 0);
	if (ut_ok((long)p > 0, "read then write: mmap")) {
		unsigned long before = faults_now();
		char c = ((volatile char *)p)[0];
		unsigned long mid = faults_now();
		((volatile char *)p)[1] = c + 1;
		unsigned long after = faults_now();
		ut_eq(mid - before, 1, "a read of a fresh page costs one fault");
		ut_eq(after - mid, 0, "a write after the read costs none");
		sys2(SYS_munmap, p, 4096);
	}
	return ut_end("faults");
}
