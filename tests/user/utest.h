/* SPDX-License-Identifier: MIT */
#ifndef DYAD_TESTS_USER_UTEST_H
#define DYAD_TESTS_USER_UTEST_H

/*
 * What every user test program shares: raw system calls (the kernel's return value, -errno
 * included, with no libc errno in between, so that purposely bad arguments reach the kernel
 * unchanged), the Dyad calls, and TAP output ending in "<prog>: N passed, M failed, K skipped".
 * A check that cannot run here is reported with ut_skip() and a reason (TAP `# SKIP`), and
 * counted apart: never as a pass.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <dyad/abi.h>

static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys0(n) sys6((n), 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6((n), (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static inline long dyad_spawn(const char *path, char *const argv[])
{
	return sys2(DYAD_SYS_SPAWN, path, argv);
}

static inline long dyad_stats(struct dyad_stats *out)
{
	return sys1(DYAD_SYS_STATS, out);
}

static inline long dyad_vm_query(const void *addr, struct dyad_vm_info *out)
{
	return sys2(DYAD_SYS_VM_QUERY, addr, out);
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static int ut_n, ut_failed, ut_skipped;

/* Output is line-buffered so that it interleaves correctly with the programs init spawns. */
static inline void ut_begin(const char *prog)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# %s\n", prog);
}

/* Reports one check; returns @pass so that callers can skip what depends on it. */
static inline __attribute__((format(printf, 2, 3))) int ut_ok(int pass, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", pass ? "ok" : "not ok", ++ut_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass)
		ut_failed++;
	return pass;
}

/* Reports one check that could not run, and why: `ok N - what # SKIP reason`. */
static inline __attribute__((format(printf, 2, 3))) void ut_skip(const char *what,
								 const char *reason_fmt, ...)
{
	va_list ap;

	printf("ok %d - %s # SKIP ", ++ut_n, what);
	va_start(ap, reason_fmt);
	vprintf(reason_fmt, ap);
	va_end(ap);
	printf("\n");
	ut_skipped++;
}

/* Checks that @seen equals @want; on failure a diagnostic line shows both. */
#define ut_eq(seen, want, ...)                                                                     \
	({                                                                                         \
		long __s = (long)(seen), __w = (long)(want);                                       \
		int __p = ut_ok(__s == __w, __VA_ARGS__);                                          \
		if (!__p)                                                                          \
			printf("#   expected %ld (%#lx), saw %ld (%#lx)\n", __w, __w, __s, __s);   \
		__p;                                                                               \
	})

/* Prints "<prog>: N passed, M failed, K skipped" (the form every test layer closes with). */
static inline void ut_summary(const char *prog)
{
	printf("%s: %d passed, %d failed, %d skipped\n", prog, ut_n - ut_failed - ut_skipped,
	       ut_failed, ut_skipped);
}

/* Prints the closing line and returns the exit status: 0 iff no check failed. */
static inline int ut_end(const char *prog)
{
	ut_summary(prog);
	return ut_failed ? 1 : 0;
}

#endif
