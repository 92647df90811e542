// SPDX-License-Identifier: MIT
/*
 * The PC ports small kernels lean on: the debug port's verdict at each width and the VMM exit
 * status it maps to (port B is the PIT's: tests/unit/vmm_pit.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bus.h"
#include "ports.h"
#include "vmm.h"

static struct ports p;
static struct bus bus;

static int setup(void **state)
{
	bus_init(&bus);
	ports_init(&p);
	return ports_register(&p, &bus);
}

static void test_no_write_is_poweroff(void **state)
{
	assert_false(p.debug_exit);
	assert_int_equal(ports_status(&p), VMM_EXIT_POWEROFF);
}

static void test_debug_port_widths(void **state)
{
	/* Each width ends the VM with its value; the upper bytes of a narrow write are not part
	 * of it. */
	bus_out(&bus, VMM_DEBUG_PORT, 1, 0xff03);
	assert_true(p.debug_exit);
	assert_int_equal(p.verdict, 3);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + 3);
	bus_out(&bus, VMM_DEBUG_PORT, 2, 0x10005);
	assert_int_equal(p.verdict, 5);
	bus_out(&bus, VMM_DEBUG_PORT, 4, 42);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + 42);
	/* 0 is a pass. */
	bus_out(&bus, VMM_DEBUG_PORT, 4, 0);
	assert_int_equal(ports_status(&p), VMM_EXIT_POWEROFF);
}

static void test_debug_port_saturates(void **state)
{
	/* 256 failures in a 4-byte write must not read as a pass (its low byte is 0). */
	bus_out(&bus, VMM_DEBUG_PORT, 4, 256);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + VMM_VERDICT_MAX);
	bus_out(&bus, VMM_DEBUG_PORT, 4, 0x80000000);
	assert_int_equal(p.verdict, VMM_VERDICT_MAX);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + VMM_VERDICT_MAX);
	assert_true(VMM_EXIT_VERDICT + VMM_VERDICT_MAX <= 255); /* an exit status holds it */
	bus_out(&bus, VMM_DEBUG_PORT, 2, 0xffff);
	assert_int_equal(p.verdict, VMM_VERDICT_MAX);
	bus_out(&bus, VMM_DEBUG_PORT, 1, VMM_VERDICT_MAX + 1);
	assert_int_equal(p.verdict, VMM_VERDICT_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_write_is_poweroff, setup),
		cmocka_unit_test_setup(test_debug_port_widths, setup),
		cmocka_unit_test_setup(test_debug_port_saturates, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
