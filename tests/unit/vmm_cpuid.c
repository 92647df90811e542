// SPDX-License-Identifier: MIT
/*
 * The CPUID policy as a table (cpuid.h): the row engine (leaf and subleaf matching, one
 * register or all four, clear before set, rows in order), and the shipped table checked row by
 * row against a host that has every bit set, so that no computed leaf or later row silently
 * undoes a row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpuid.h"
#include "vmm.h"

static void test_apply_matches_leaf_and_subleaf(void **state)
{
	const struct cpuid_row rows[] = {
		{ 7, 0, CPUID_EBX, 0x0f, 0 },
		{ 7, CPUID_ANY, CPUID_EDX, 0, 0x100 },
		{ 8, 0, CPUID_ALL, ~0u, 0 },
	};
	uint32_t r[4];

	memset(r, 0xff, sizeof(r));
	cpuid_apply(rows, 3, 7, 0, r);
	assert_int_equal(r[CPUID_EBX], 0xfffffff0);
	assert_int_equal(r[CPUID_EAX], 0xffffffff);
	assert_int_equal(r[CPUID_ECX], 0xffffffff);
	/* Another subleaf: only the CPUID_ANY row applies. */
	memset(r, 0, sizeof(r));
	r[CPUID_EBX] = 0xff;
	cpuid_apply(rows, 3, 7, 1, r);
	assert_int_equal(r[CPUID_EBX], 0xff);
	assert_int_equal(r[CPUID_EDX], 0x100);
	/* Another leaf: nothing. */
	memset(r, 0xff, sizeof(r));
	cpuid_apply(rows, 3, 9, 0, r);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r[i], 0xffffffff);
	/* CPUID_ALL: all four registers. */
	cpuid_apply(rows, 3, 8, 0, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
}

static void test_apply_clear_then_set_in_order(void **state)
{
	const struct cpuid_row rows[] = {
		{ 1, CPUID_ANY, CPUID_ECX, 0xff, 0x01 }, /* clears 0xff, then sets bit 0 */
		{ 1, CPUID_ANY, CPUID_ECX, 0x01, 0x80 }, /* a later row wins */
	};
	uint32_t r[4] = { 0, 0, 0x1234, 0 };

	cpuid_apply(rows, 1, 1, 0, r);
	assert_int_equal(r[CPUID_ECX], 0x1201);
	r[CPUID_ECX] = 0x1234;
	cpuid_apply(rows, 2, 1, 0, r);
	assert_int_equal(r[CPUID_ECX], 0x1280);
}

/* A host with every bit of every leaf set, and a large maximum leaf. */
static void all_ones_host(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	memset(r, 0xff, 4 * sizeof(r[0]));
	if (leaf == 0)
		r[0] = 0x20;
}

/*
 * Every row holds in the guest's view: its set bits read 1, and its clear bits read 0 unless a
 * later matching row sets them again.
 */
static void test_every_row_holds(void **state)
{
	struct cpuid_policy p = { .tsc_khz = 2000000, .host = all_ones_host };
	uint32_t r[4];

	assert_true(cpuid_nrows > 10);
	for (unsigned i = 0; i < cpuid_nrows; i++) {
		const struct cpuid_row *w = &cpuid_rows[i];
		uint32_t sub = w->subleaf == CPUID_ANY ? 0 : w->subleaf;

		assert_true(w->reg <= CPUID_ALL);
		assert_true(w->clear | w->set); /* a row that does nothing is a mistake */
		cpuid_guest(&p, w->leaf, sub, r);
		for (int reg = 0; reg < 4; reg++) {
			if (w->reg != CPUID_ALL && w->reg != (enum cpuid_reg)reg)
				continue;
			uint32_t reset = 0;
			for (unsigned j = i + 1; j < cpuid_nrows; j++) {
				const struct cpuid_row *l = &cpuid_rows[j];
				if (l->leaf == w->leaf &&
				    (l->subleaf == CPUID_ANY || l->subleaf == sub) &&
				    (l->reg == CPUID_ALL || l->reg == (enum cpuid_reg)reg))
					reset |= l->set;
			}
			if ((r[reg] & w->set) != w->set || (r[reg] & w->clear & ~w->set & ~reset))
				fail_msg("row %u (leaf %#x.%u reg %d): read %#x, expected set %#x "
					 "and "
					 "clear %#x",
					 i, w->leaf, sub, reg, r[reg], w->set, w->clear & ~reset);
		}
	}
}

/* Leaves past the maximum basic leaf read 0; leaf 7 reports no subleaf beyond 0. */
static void test_limits(void **state)
{
	struct cpuid_policy p = { .tsc_khz = 2000000, .host = all_ones_host };
	uint32_t r[4];

	cpuid_guest(&p, 0, 0, r);
	assert_int_equal(r[0], 0x20);
	cpuid_guest(&p, 0x21, 0, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	cpuid_guest(&p, 7, 0, r);
	assert_int_equal(r[0], 0);
	cpuid_guest(&p, 7, 1, r);
	assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_matches_leaf_and_subleaf),
		cmocka_unit_test(test_apply_clear_then_set_in_order),
		cmocka_unit_test(test_every_row_holds),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests_name("vmm_cpuid", tests, NULL, NULL);
}
