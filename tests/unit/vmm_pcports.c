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

static void test_port_b(void **state)
{
	uint32_t a = bus_in(&bus, 0x61, 1), b = bus_in(&bus, 0x61, 1);

	assert_int_equal(a & 0x20, 0x20); /* PIT OUT2 */
	assert_int_equal((a ^ b) & 0x10, 0x10); /* refresh toggles */
	assert_int_equal(a & 0x0f, 0);
	bus_out(&bus, 0x61, 1, 0xf3); /* only bits 0-3 stick */
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x0f, 0x03);
	bus_out(&bus, 0x61, 1, 0x01);
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0xcf, 0x01);
}

/* PIT channel 2 one-shot, as Dyad's calibration runs it: OUT2 low until the count has passed. */
static void test_pit_channel2_out(void **state)
{
	uint64_t now = 5000;

	p.now = &now;
	p.tsc_khz = 1000; /* a 1 MHz TSC: 1.193182 PIT ticks per TSC tick */
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0x20); /* no count yet: high */
	bus_out(&bus, 0x61, 1, 0x01); /* gate on */
	bus_out(&bus, 0x43, 1, 0xb0); /* channel 2, LSB then MSB, mode 0 */
	bus_out(&bus, 0x42, 1, 11932 & 0xff);
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0x20); /* half a count: not started */
	bus_out(&bus, 0x42, 1, 11932 >> 8); /* 10 ms */
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0);
	now += 9990;
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0);
	/* A rising gate edge restarts the count. */
	bus_out(&bus, 0x61, 1, 0x00);
	bus_out(&bus, 0x61, 1, 0x01);
	now += 20;
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0);
	now += 9990;
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0x20);
	/* The counter itself still reads 0 (Linux's quick calibration must give up). */
	assert_int_equal(bus_in(&bus, 0x42, 1), 0);
	/* A latch command leaves the count running; a new control word stops it. */
	bus_out(&bus, 0x43, 1, 0x80);
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0x20);
	bus_out(&bus, 0x43, 1, 0x90); /* LSB only */
	bus_out(&bus, 0x42, 1, 100);
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0);
	now += 84; /* 100 PIT ticks are 83.8 us */
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0x20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_write_is_poweroff, setup),
		cmocka_unit_test_setup(test_debug_port_widths, setup),
		cmocka_unit_test_setup(test_debug_port_saturates, setup),
		cmocka_unit_test_setup(test_port_b, setup),
		cmocka_unit_test_setup(test_pit_channel2_out, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
