// SPDX-License-Identifier: MIT
/* The self-test runner: TAP output, a closing count, and a leak check around every test. */
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
		if (kt.failures)
			failed++;
		else if (kt.skip)
			skipped++;
		printf("%sok %u - %s", kt.failures ? "not " : "", i + 1, t->name);
		if (kt.skip && !kt.failures)
			printf(" # SKIP %s", kt.skip);
		printf("\n");
	}
	printf("ktest: %u passed, %u failed, %u skipped\n", total - failed - skipped, failed,
	       skipped);
	return failed;
}
