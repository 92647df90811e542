// SPDX-License-Identifier: MIT
/* cpumask_t (include/arch/x86/smp.h): each operation against a plain bool array, every CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arch/x86/smp.h>

#include "test_rng.h"

static void expect_same(const cpumask_t *m, const bool *model)
{
	unsigned n = 0, cpu, seen = 0;

	for (unsigned i = 0; i < SMP_MAX_CPUS; i++) {
		if (cpumask_test(m, i) != model[i])
			fail_msg("CPU %u: mask says %d, model %d", i, cpumask_test(m, i), model[i]);
		n += model[i];
	}
	assert_int_equal(cpumask_weight(m), n);
	for_each_cpu (cpu, m) {
		assert_true(model[cpu]);
		seen++;
	}
	assert_int_equal(seen, n);
	assert_false(cpumask_test(m, SMP_MAX_CPUS)); /* out of range is never a member */
}

static void test_cpumask_against_a_model(void **state)
{
	cpumask_t m;
	bool model[SMP_MAX_CPUS] = { false };

	rnd_seed_from_env("CPUMASK_SEED");
	cpumask_clear(&m);
	expect_same(&m, model);
	for (unsigned step = 0; step < 20000; step++) {
		unsigned cpu = rnd_below(SMP_MAX_CPUS);

		switch (rnd_below(4)) {
		case 0:
			cpumask_set(&m, cpu);
			model[cpu] = true;
			break;
		case 1:
			cpumask_unset(&m, cpu);
			model[cpu] = false;
			break;
		case 2:
			cpumask_set_atomic(&m, cpu);
			model[cpu] = true;
			break;
		case 3:
			cpumask_unset_atomic(&m, cpu);
			model[cpu] = false;
			break;
		}
		expect_same(&m, model);
	}
}

static void test_cpumask_edges(void **state)
{
	cpumask_t m;
	unsigned cpu;

	cpumask_clear(&m);
	assert_int_equal(cpumask_next(&m, 0), SMP_MAX_CPUS);
	cpumask_set(&m, 0);
	cpumask_set(&m, SMP_MAX_CPUS - 1);
	assert_int_equal(cpumask_next(&m, 0), 0);
	assert_int_equal(cpumask_next(&m, 1), SMP_MAX_CPUS - 1);
	assert_int_equal(cpumask_next(&m, SMP_MAX_CPUS), SMP_MAX_CPUS);
	assert_int_equal(cpumask_weight(&m), 2);
	for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++)
		cpumask_set(&m, cpu);
	assert_int_equal(cpumask_weight(&m), SMP_MAX_CPUS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpumask_against_a_model),
		cmocka_unit_test(test_cpumask_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
