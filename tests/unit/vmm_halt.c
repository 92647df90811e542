// SPDX-License-Identifier: MIT
/*
 * HLT with interrupts off (halt.c): the machine is off only when no other vCPU runs. A boot
 * CPU stopped by another CPU's panic (NMI, then "cli; hlt") while that CPU still runs must be
 * parked, or the run ends before the panicking CPU prints its panic line (seen with Debian
 * 13's kernel and two vCPUs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "halt.h"

static void test_one_vcpu_powers_off(void **state)
{
	(void)state;
	assert_int_equal(halt_interrupts_off(1, 0), HALT_POWER_OFF);
	assert_int_equal(halt_interrupts_off(0, 0), HALT_POWER_OFF);
}

static void test_boot_cpu_last_powers_off(void **state)
{
	(void)state;
	/* Linux's power-off without ACPI: the APs parked first, then the boot CPU. */
	assert_int_equal(halt_interrupts_off(1u << 0, 0), HALT_POWER_OFF);
}

static void test_boot_cpu_parks_while_an_ap_runs(void **state)
{
	(void)state;
	assert_int_equal(halt_interrupts_off(1u << 0 | 1u << 1, 0), HALT_PARK);
	assert_int_equal(halt_interrupts_off(1u << 0 | 1u << 31, 0), HALT_PARK);
}

static void test_ap_parks_while_others_run(void **state)
{
	(void)state;
	assert_int_equal(halt_interrupts_off(1u << 0 | 1u << 1, 1), HALT_PARK);
	assert_int_equal(halt_interrupts_off(1u << 2 | 1u << 1, 1), HALT_PARK);
}

static void test_last_running_ap_powers_off(void **state)
{
	(void)state;
	/* The boot CPU parked (stopped by this AP), the others too: nothing can wake. */
	assert_int_equal(halt_interrupts_off(1u << 3, 3), HALT_POWER_OFF);
	assert_int_equal(halt_interrupts_off(UINT64_C(1) << 31, 31), HALT_POWER_OFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_vcpu_powers_off),
		cmocka_unit_test(test_boot_cpu_last_powers_off),
		cmocka_unit_test(test_boot_cpu_parks_while_an_ap_runs),
		cmocka_unit_test(test_ap_parks_while_others_run),
		cmocka_unit_test(test_last_running_ap_powers_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
