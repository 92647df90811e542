/* SPDX-License-Identifier: MIT */
#ifndef DYAD_KTEST_H
#define DYAD_KTEST_H

#include <dyad/types.h>

/*
 * In-kernel self-tests. KTEST(name) { ... } registers a test in the .ktests section; with
 * `ktest` on the kernel command line every test runs once, in link order, and prints a TAP
 * line. The runner also fails a test that changes the number of free frames: a test must give
 * back every page it takes.
 *
 * A test that cannot run here (the CPU lacks what it checks) calls KT_SKIP() with the reason:
 * it is reported as `ok N - name # SKIP reason` and counted apart, never as a pass. A failure
 * recorded before or after the skip still makes the test `not ok`.
 */
#define KTEST_SKIP_REASON_MAX 96

struct ktest_ctx {
	const char *name;
	unsigned failures;
	bool skipped;
	char skip_reason[KTEST_SKIP_REASON_MAX];
};

struct ktest {
	const char *name;
	void (*fn)(struct ktest_ctx *kt);
};

#define KTEST(tname)                                                                               \
	static void ktest_fn_##tname(struct ktest_ctx *kt);                                        \
	static const struct ktest ktest_desc_##tname                                               \
		__attribute__((used, section(".ktests"), aligned(8))) = {                          \
			.name = #tname,                                                            \
			.fn = ktest_fn_##tname,                                                    \
		};                                                                                 \
	static void ktest_fn_##tname(struct ktest_ctx *kt)

void ktest_fail(struct ktest_ctx *kt, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Marks the test skipped with a reason (printf format); the first reason given is kept. */
void ktest_skip(struct ktest_ctx *kt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a failure and goes on. */
#define KT_EXPECT(kt, cond, fmt, ...)                                                              \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ktest_fail(kt, __FILE__, __LINE__, "%s: " fmt, #cond, ##__VA_ARGS__);      \
	} while (0)

/* Records a failure and leaves the test function. */
#define KT_ASSERT(kt, cond, fmt, ...)                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			ktest_fail(kt, __FILE__, __LINE__, "%s: " fmt, #cond, ##__VA_ARGS__);      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Marks the test skipped and leaves the test function: the caller frees what it took first. */
#define KT_SKIP(kt, fmt, ...)                                                                      \
	do {                                                                                       \
		ktest_skip(kt, fmt, ##__VA_ARGS__);                                                \
		return;                                                                            \
	} while (0)

/*
 * Runs every registered test and prints `ktest: N passed, M failed, K skipped`. Returns the
 * number that failed; a skipped test is not a failure.
 */
unsigned ktest_run_all(void);

#endif
