/* SPDX-License-Identifier: MIT */
#ifndef DYAD_KTEST_H
#define DYAD_KTEST_H

#include <dyad/types.h>

/*
 * In-kernel self-tests. KTEST(name) { ... } registers a test in the .ktests section; with
 * `ktest` on the kernel command line every test runs once, in link order, and prints a TAP
 * line. The runner also fails a test that changes the number of free frames: a test must give
 * back every page it takes.
 */
struct ktest_ctx {
	const char *name;
	unsigned failures;
	const char *skip; /* set by KT_SKIP: why the test could not run */
};

struct ktest {
	const char *name;
	void (*fn)(struct ktest_ctx *kt);
};

#define KTEST(tname)                                                                     \
	static void ktest_fn_##tname(struct ktest_ctx *kt);                              \
	static const struct ktest ktest_desc_##tname                                       \
		__attribute__((used, section(".ktests"), aligned(8))) = {                  \
			.name = #tname,                                                    \
			.fn = ktest_fn_##tname,                                            \
		};                                                                         \
	static void ktest_fn_##tname(struct ktest_ctx *kt)

void ktest_fail(struct ktest_ctx *kt, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records a failure and goes on. */
#define KT_EXPECT(kt, cond, fmt, ...)                                                      \
	do {                                                                               \
		if (!(cond))                                                               \
			ktest_fail(kt, __FILE__, __LINE__, "%s: " fmt, #cond, ##__VA_ARGS__); \
	} while (0)

/* Records a failure and leaves the test function. */
#define KT_ASSERT(kt, cond, fmt, ...)                                                      \
	do {                                                                               \
		if (!(cond)) {                                                             \
			ktest_fail(kt, __FILE__, __LINE__, "%s: " fmt, #cond, ##__VA_ARGS__); \
			return;                                                            \
		}                                                                          \
	} while (0)

/* Leaves the test function, reported as TAP `ok N - name # SKIP why`: it could not run here. */
#define KT_SKIP(kt, why)                                                                           \
	do {                                                                                       \
		(kt)->skip = (why);                                                                \
		return;                                                                            \
	} while (0)

/* Runs every registered test; returns the number that failed. */
unsigned ktest_run_all(void);

#endif
