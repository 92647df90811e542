// SPDX-License-Identifier: MIT
/*
 * The self-test runner: TAP output, a closing count of passes, failures and skips, and a leak
 * check around every test.
 */
#include <dyad/ktest.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>

extern const struct ktest ktests_start[], ktests_end[];

void ktest_fail(struct ktest_ctx *kt, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	kt->failures++;
	printf("# %s: FAILED at %s:%d: ", kt->name, file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void ktest_skip(struct ktest_ctx *kt, const char *fmt, ...)
{
	va_list ap;

	if (kt->skipped)
		return;
	kt->skipped = true;
	va_start(ap, fmt);
	vsnprintf(kt->skip_reason, sizeof(kt->skip_reason), fmt, ap);
	va_end(ap);
	/* TAP ends a directive at the line's end: a reason must stay on one line. */
	for (char *c = kt->skip_reason; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	if (!kt->skip_reason[0])
		snprintf(kt->skip_reason, sizeof(kt->skip_reason), "no reason given");
}

unsigned ktest_run_all(void)
{
	unsigned total = ktests_end - ktests_start, failed = 0, skipped = 0;

	printf("TAP version 13\n1..%u\n", total);
	for (unsigned i = 0; i < total; i++) {
		const struct ktest *t = &ktests_start[i];
		struct ktest_ctx kt = { .name = t->name };
		u64 free_before = pmem_free_frames();

		t->fn(&kt);
		u64 free_after = pmem_free_frames();
		if (free_after != free_before)
			ktest_fail(&kt, __FILE__, __LINE__, "free frames %lu before, %lu after",
				   free_before, free_after);
		if (kt.failures) {
			failed++;
			printf("not ok %u - %s\n", i + 1, t->name);
		} else if (kt.skipped) {
			skipped++;
			printf("ok %u - %s # SKIP %s\n", i + 1, t->name, kt.skip_reason);
		} else {
			printf("ok %u - %s\n", i + 1, t->name);
		}
	}
	printf("ktest: %u passed, %u failed, %u skipped\n", total - failed - skipped, failed,
	       skipped);
	return failed;
}
