// SPDX-License-Identifier: MIT
/*
 * The 8259A pair, programmed through its ports the way Linux's init_8259A() does (vectors
 * 0x30/0x38, cascade on IR2, 8086 mode), then driven by ISA lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pic.h"
#include "vmm.h"

static struct bus bus;

static struct pic p;

static int setup(void **state)
{
	bus_init(&bus);
	pic_init(&p);
	if (pic_register(&p, &bus))
		return -1;
	bus_out(&bus, 0x21, 1, 0xff);
	bus_out(&bus, 0xa1, 1, 0xff);
	bus_out(&bus, 0x20, 1, 0x11); /* ICW1: edge, cascade, ICW4 follows */
	bus_out(&bus, 0x21, 1, 0x30); /* ICW2 */
	bus_out(&bus, 0x21, 1, 0x04); /* ICW3: slave on IR2 */
	bus_out(&bus, 0x21, 1, 0x01); /* ICW4: 8086 mode, normal EOI */
	bus_out(&bus, 0xa0, 1, 0x11);
	bus_out(&bus, 0xa1, 1, 0x38);
	bus_out(&bus, 0xa1, 1, 0x02);
	bus_out(&bus, 0xa1, 1, 0x01);
	bus_out(&bus, 0x21, 1, 0xfb); /* everything masked but the cascade */
	bus_out(&bus, 0xa1, 1, 0xff);
	return 0;
}

static void unmask(int irq)
{
	uint16_t port = irq < 8 ? 0x21 : 0xa1;

	bus_out(&bus, port, 1, bus_in(&bus, port, 1) & ~(1u << (irq & 7)));
}

static void edge(int irq)
{
	pic_set_irq(&p, irq, 1);
	pic_set_irq(&p, irq, 0);
}

static void test_masks_read_back(void **state)
{
	assert_int_equal(bus_in(&bus, 0x21, 1), 0xfb);
	assert_int_equal(bus_in(&bus, 0xa1, 1), 0xff);
}

static void test_masked_line_is_not_delivered(void **state)
{
	edge(4);
	assert_false(pic_pending(&p));
	unmask(4);
	/* The request was latched while masked and now goes out. */
	assert_true(pic_pending(&p));
	assert_int_equal(pic_ack(&p), 0x34);
}

static void test_ack_and_eoi(void **state)
{
	unmask(4);
	edge(4);
	assert_int_equal(pic_ack(&p), 0x34);
	assert_false(pic_pending(&p));
	bus_out(&bus, 0x20, 1, 0x0b); /* OCW3: read ISR */
	assert_int_equal(bus_in(&bus, 0x20, 1), 0x10);
	/* While IR4 is in service, a new IR4 waits. */
	edge(4);
	assert_false(pic_pending(&p));
	bus_out(&bus, 0x20, 1, 0x20); /* non-specific EOI */
	assert_int_equal(bus_in(&bus, 0x20, 1), 0x00);
	assert_true(pic_pending(&p));
	assert_int_equal(pic_ack(&p), 0x34);
	bus_out(&bus, 0x20, 1, 0x64); /* specific EOI for IR4 */
	assert_int_equal(bus_in(&bus, 0x20, 1), 0x00);
}

static void test_edge_triggering(void **state)
{
	unmask(4);
	pic_set_irq(&p, 4, 1);
	assert_int_equal(pic_ack(&p), 0x34);
	bus_out(&bus, 0x20, 1, 0x20);
	/* A line held high raises nothing more; only a new rising edge does. */
	pic_set_irq(&p, 4, 1);
	assert_false(pic_pending(&p));
	pic_set_irq(&p, 4, 0);
	pic_set_irq(&p, 4, 1);
	assert_true(pic_pending(&p));
}

static void test_priority(void **state)
{
	unmask(1);
	unmask(4);
	edge(4);
	edge(1);
	assert_int_equal(pic_ack(&p), 0x31);
	/* IR4 is below IR1, in service: it waits for the EOI. */
	assert_false(pic_pending(&p));
	bus_out(&bus, 0x20, 1, 0x20);
	assert_int_equal(pic_ack(&p), 0x34);
}

static void test_slave_through_cascade(void **state)
{
	unmask(12);
	edge(12);
	assert_true(pic_pending(&p));
	assert_int_equal(pic_ack(&p), 0x3c);
	bus_out(&bus, 0xa0, 1, 0x0b);
	assert_int_equal(bus_in(&bus, 0xa0, 1), 0x10);
	bus_out(&bus, 0x20, 1, 0x0b);
	assert_int_equal(bus_in(&bus, 0x20, 1), 0x04);
	bus_out(&bus, 0xa0, 1, 0x20);
	bus_out(&bus, 0x20, 1, 0x20);
	assert_int_equal(bus_in(&bus, 0xa0, 1), 0);
	assert_int_equal(bus_in(&bus, 0x20, 1), 0);
}

static void test_irr_read(void **state)
{
	edge(3);
	bus_out(&bus, 0x20, 1, 0x0a); /* OCW3: read IRR */
	assert_int_equal(bus_in(&bus, 0x20, 1), 0x08);
}

static void test_spurious(void **state)
{
	assert_int_equal(pic_ack(&p), 0x37);
}

static void test_reinit_clears(void **state)
{
	unmask(4);
	edge(4);
	assert_int_equal(pic_ack(&p), 0x34);
	bus_out(&bus, 0x20, 1, 0x11);
	bus_out(&bus, 0x21, 1, 0x20);
	bus_out(&bus, 0x21, 1, 0x04);
	bus_out(&bus, 0x21, 1, 0x01);
	bus_out(&bus, 0x20, 1, 0x0b);
	assert_int_equal(bus_in(&bus, 0x20, 1), 0);
	assert_int_equal(bus_in(&bus, 0x21, 1), 0); /* ICW1 clears the mask */
	edge(5);
	assert_int_equal(pic_ack(&p), 0x25);
}

static void test_level_triggered_by_elcr(void **state)
{
	bus_out(&bus, 0x4d1, 1, 0x08); /* IRQ 11 level-triggered */
	assert_int_equal(bus_in(&bus, 0x4d1, 1), 0x08);
	unmask(11);
	pic_set_irq(&p, 11, 1);
	assert_int_equal(pic_ack(&p), 0x3b);
	bus_out(&bus, 0xa0, 1, 0x20);
	bus_out(&bus, 0x20, 1, 0x20);
	/* Still high: requested again without a new edge. */
	assert_true(pic_pending(&p));
	pic_set_irq(&p, 11, 0);
	assert_false(pic_pending(&p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_masks_read_back, setup),
		cmocka_unit_test_setup(test_masked_line_is_not_delivered, setup),
		cmocka_unit_test_setup(test_ack_and_eoi, setup),
		cmocka_unit_test_setup(test_edge_triggering, setup),
		cmocka_unit_test_setup(test_priority, setup),
		cmocka_unit_test_setup(test_slave_through_cascade, setup),
		cmocka_unit_test_setup(test_irr_read, setup),
		cmocka_unit_test_setup(test_spurious, setup),
		cmocka_unit_test_setup(test_reinit_clears, setup),
		cmocka_unit_test_setup(test_level_triggered_by_elcr, setup),
	};
	return cmocka_run_group_tests_name("vmm_pic", tests, NULL, NULL);
}
