// SPDX-License-Identifier: MIT
/*
 * The PC ports small kernels lean on: the debug port's verdict at each width and the VMM exit
 * status it maps to, and port B's refresh toggle and writable bits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ports.h"
#include "vmm.h"

static struct ports p;

static int setup(void **state)
{
	bus_reset();
	ports_init(&p);
	return ports_register(&p);
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
	io_out(VMM_DEBUG_PORT, 1, 0xff03);
	assert_true(p.debug_exit);
	assert_int_equal(p.verdict, 3);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + 3);
	io_out(VMM_DEBUG_PORT, 2, 0x10005);
	assert_int_equal(p.verdict, 5);
	io_out(VMM_DEBUG_PORT, 4, 42);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + 42);
	/* 0 is a pass. */
	io_out(VMM_DEBUG_PORT, 4, 0);
	assert_int_equal(ports_status(&p), VMM_EXIT_POWEROFF);
}

static void test_debug_port_saturates(void **state)
{
	/* 256 failures in a 4-byte write must not read as a pass (its low byte is 0). */
	io_out(VMM_DEBUG_PORT, 4, 256);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + VMM_VERDICT_MAX);
	io_out(VMM_DEBUG_PORT, 4, 0x80000000);
	assert_int_equal(p.verdict, VMM_VERDICT_MAX);
	assert_int_equal(ports_status(&p), VMM_EXIT_VERDICT + VMM_VERDICT_MAX);
	assert_true(VMM_EXIT_VERDICT + VMM_VERDICT_MAX <= 255); /* an exit status holds it */
	io_out(VMM_DEBUG_PORT, 2, 0xffff);
	assert_int_equal(p.verdict, VMM_VERDICT_MAX);
	io_out(VMM_DEBUG_PORT, 1, VMM_VERDICT_MAX + 1);
	assert_int_equal(p.verdict, VMM_VERDICT_MAX);
}

static void test_port_b(void **state)
{
	uint32_t a = io_in(0x61, 1), b = io_in(0x61, 1);

	assert_int_equal(a & 0x20, 0x20); /* PIT OUT2 */
	assert_int_equal((a ^ b) & 0x10, 0x10); /* refresh toggles */
	assert_int_equal(a & 0x0f, 0);
	io_out(0x61, 1, 0xf3); /* only bits 0-3 stick */
	assert_int_equal(io_in(0x61, 1) & 0x0f, 0x03);
	io_out(0x61, 1, 0x01);
	assert_int_equal(io_in(0x61, 1) & 0xcf, 0x01);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_write_is_poweroff, setup),
		cmocka_unit_test_setup(test_debug_port_widths, setup),
		cmocka_unit_test_setup(test_debug_port_saturates, setup),
		cmocka_unit_test_setup(test_port_b, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
