// SPDX-License-Identifier: MIT
/*
 * The I/O APIC programmed through IOREGSEL/IOWIN as Linux does it, then driven by its pins:
 * redirection to the programmed vector and destination, masking (a masked edge is lost, a
 * masked level waits), and level-triggered re-delivery after the EOI broadcast while the pin
 * stays asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ioapic.h"
#include "vmm.h"

static struct ioapic io;
static struct ioapic_msg last;
static int sent;

static void deliver(void *ctx, const struct ioapic_msg *m)
{
	assert_ptr_equal(ctx, &io);
	last = *m;
	sent++;
}

static uint32_t reg_read(uint32_t reg)
{
	uint32_t v = 0;

	assert_int_equal(ioapic_mmio_write(&io, 0x00, reg), 0);
	assert_int_equal(ioapic_mmio_read(&io, 0x10, &v), 0);
	return v;
}

static void reg_write(uint32_t reg, uint32_t v)
{
	assert_int_equal(ioapic_mmio_write(&io, 0x00, reg), 0);
	assert_int_equal(ioapic_mmio_write(&io, 0x10, v), 0);
}

static void route(int pin, uint64_t entry)
{
	reg_write(0x11 + 2 * pin, (uint32_t)(entry >> 32));
	reg_write(0x10 + 2 * pin, (uint32_t)entry);
}

static int setup(void **state)
{
	ioapic_init(&io, IOAPIC_ID, deliver, &io);
	last = (struct ioapic_msg){ 0 };
	sent = 0;
	return 0;
}

#define LEVEL (1u << 15)
#define MASKED (1u << 16)
#define REMOTE_IRR (1u << 14)

static void test_registers_after_reset(void **state)
{
	assert_int_equal(reg_read(0x01), 0x00170011); /* version 0x11, 24 entries */
	for (int pin = 0; pin < IOAPIC_PINS; pin++)
		assert_true(reg_read(0x10 + 2 * pin) & MASKED);
	reg_write(0x00, 0x05000000);
	assert_int_equal(reg_read(0x00), 0x05000000);
	reg_write(0x01, 0); /* read-only */
	assert_int_equal(reg_read(0x01), 0x00170011);
	uint32_t v;
	assert_int_equal(ioapic_mmio_read(&io, 0x20, &v), -1);
}

static void test_edge_redirection(void **state)
{
	route(4, 0x0300000000000000ULL | 0x800 | 0x34); /* logical, destination 3 */
	ioapic_set_irq(&io, 4, 1);
	assert_int_equal(sent, 1);
	assert_int_equal(last.vector, 0x34);
	assert_int_equal(last.mode, IOAPIC_DM_FIXED);
	assert_int_equal(last.logical, 1);
	assert_int_equal(last.dest, 3);
	assert_false(last.level);
	ioapic_set_irq(&io, 4, 1); /* still high: no new edge */
	assert_int_equal(sent, 1);
	ioapic_set_irq(&io, 4, 0);
	ioapic_set_irq(&io, 4, 1);
	assert_int_equal(sent, 2);
	assert_int_equal(reg_read(0x10 + 8) & 0x1000, 0); /* delivery status idle */
	assert_int_equal(reg_read(0x11 + 8), 0x03000000);
}

static void test_masked_edge_is_lost(void **state)
{
	route(2, MASKED | 0x30);
	ioapic_set_irq(&io, 2, 1);
	ioapic_set_irq(&io, 2, 0);
	assert_int_equal(sent, 0);
	route(2, 0x30); /* unmasking does not bring back the lost edge */
	assert_int_equal(sent, 0);
	assert_int_equal(io.masked_edges, 1);
	ioapic_set_irq(&io, 2, 1);
	assert_int_equal(sent, 1);
	assert_int_equal(last.vector, 0x30);
}

static void test_level_waits_for_eoi(void **state)
{
	route(9, LEVEL | 0x39);
	ioapic_set_irq(&io, 9, 1);
	assert_int_equal(sent, 1);
	assert_true(last.level);
	assert_true(reg_read(0x10 + 18) & REMOTE_IRR);
	ioapic_set_irq(&io, 9, 1); /* still asserted, remote IRR set: nothing new */
	assert_int_equal(sent, 1);
	ioapic_eoi(&io, 0x40); /* another vector's EOI leaves it alone */
	assert_int_equal(sent, 1);
	ioapic_eoi(&io, 0x39); /* the pin is still asserted: sent again */
	assert_int_equal(sent, 2);
	assert_true(reg_read(0x10 + 18) & REMOTE_IRR);
	ioapic_set_irq(&io, 9, 0);
	ioapic_eoi(&io, 0x39); /* deasserted: remote IRR clears, nothing sent */
	assert_int_equal(sent, 2);
	assert_false(reg_read(0x10 + 18) & REMOTE_IRR);
}

static void test_masked_level_sends_on_unmask(void **state)
{
	route(11, LEVEL | MASKED | 0x3b);
	ioapic_set_irq(&io, 11, 1);
	assert_int_equal(sent, 0);
	route(11, LEVEL | 0x3b);
	assert_int_equal(sent, 1);
	assert_int_equal(last.vector, 0x3b);
	/* Remote IRR is read-only: a guest write of it does not clear it. */
	route(11, LEVEL | 0x3b);
	assert_true(reg_read(0x10 + 22) & REMOTE_IRR);
	assert_int_equal(sent, 1);
}

static void test_bad_pins_ignored(void **state)
{
	ioapic_set_irq(&io, -1, 1);
	ioapic_set_irq(&io, IOAPIC_PINS, 1);
	assert_int_equal(sent, 0);
	assert_int_equal(reg_read(0x10 + 2 * IOAPIC_PINS), 0xffffffff);
}

static void test_on_the_bus(void **state)
{
	struct bus bus;
	uint64_t v = 0x01;

	bus_init(&bus);
	assert_int_equal(ioapic_register(&io, &bus), 0);
	assert_int_equal(bus_access(&bus, BUS_MMIO, IOAPIC_BASE, 4, 1, &v), 0);
	assert_int_equal(bus_access(&bus, BUS_MMIO, IOAPIC_BASE + 0x10, 4, 0, &v), 0);
	assert_int_equal(v, 0x00170011);
	/* The registers are 32 bits wide: a byte access is refused. */
	assert_int_equal(bus_access(&bus, BUS_MMIO, IOAPIC_BASE + 0x10, 1, 0, &v), BUS_REFUSED);
	assert_int_equal(bus_access(&bus, BUS_MMIO, IOAPIC_BASE + 0x20, 4, 0, &v), BUS_REFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_registers_after_reset, setup),
		cmocka_unit_test_setup(test_edge_redirection, setup),
		cmocka_unit_test_setup(test_masked_edge_is_lost, setup),
		cmocka_unit_test_setup(test_level_waits_for_eoi, setup),
		cmocka_unit_test_setup(test_masked_level_sends_on_unmask, setup),
		cmocka_unit_test_setup(test_bad_pins_ignored, setup),
		cmocka_unit_test_setup(test_on_the_bus, setup),
	};
	return cmocka_run_group_tests_name("vmm_ioapic", tests, NULL, NULL);
}
