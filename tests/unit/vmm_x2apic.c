// SPDX-License-Identifier: MIT
/*
 * The x2APIC model through its MSRs: the three timer modes against a TSC that runs 4x the
 * crystal (tsc_khz = 4 * APIC_CRYSTAL_KHZ), priorities, EOI, self-IPI, ExtINT from the 8259
 * through LINT0, and the #GP cases the SDM lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pic.h"
#include "vmm.h"
#include "x2apic.h"

static struct bus bus;

#define TSC_PER_TICK 4
#define LVT_TIMER 0x832
#define TMICT 0x838
#define TMCCT 0x839
#define TDCR 0x83e
#define EOI 0x80b
#define TPR 0x808
#define SELF_IPI 0x83f
#define LINT0 0x835

static struct x2apic a;
static struct pic pic;

static int setup(void **state)
{
	bus_init(&bus);
	pic_init(&pic);
	x2apic_init(&a, 4 * APIC_CRYSTAL_KHZ, &pic);
	return x2apic_register(&a, &bus) | pic_register(&pic, &bus);
}

static uint64_t rd(uint32_t msr)
{
	uint64_t v;

	assert_int_equal(bus_rdmsr(&bus, msr, &v), 0);
	return v;
}

static void wr(uint32_t msr, uint64_t v)
{
	assert_int_equal(bus_wrmsr(&bus, msr, v), 0);
}

static void eoi(void)
{
	wr(EOI, 0);
}

static void test_xapic_page_then_x2apic(void **state)
{
	uint32_t v;

	/* xAPIC mode first: the MMIO page answers (ID in bits 31:24, version, TPR, EOI). */
	assert_int_equal(rd(APIC_BASE_MSR), 0xfee00900);
	assert_int_equal(x2apic_mmio_read(&a, 0x20, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(x2apic_mmio_read(&a, 0x30, &v), 0);
	assert_int_equal(v & 0xff, 0x14);
	assert_int_equal(x2apic_mmio_write(&a, 0x80, 0x20), 0);
	assert_int_equal(rd(TPR), 0x20);
	wr(SELF_IPI, 0x61);
	assert_int_equal(x2apic_take_interrupt(&a), 0x61);
	assert_int_equal(x2apic_mmio_write(&a, 0xb0, 0x1234), 0); /* EOI: any value */
	assert_int_equal(rd(0x810 + 3), 0);
	assert_int_equal(x2apic_mmio_read(&a, 0x21, &v), -1); /* not a register boundary */
	assert_int_equal(x2apic_mmio_read(&a, 0x1000, &v), -1);
	/* Disabling the APIC is refused; x2APIC on is accepted, and then the page is gone. */
	assert_int_equal(bus_wrmsr(&bus, APIC_BASE_MSR, 0xfee00100), -1);
	wr(APIC_BASE_MSR, 0xfee00d00);
	assert_int_equal(x2apic_mmio_read(&a, 0x30, &v), -1);
	/* Back from x2APIC to xAPIC is not a legal transition. */
	assert_int_equal(bus_wrmsr(&bus, APIC_BASE_MSR, 0xfee00900), -1);
}

static void test_starts_in_virtual_wire(void **state)
{
	assert_int_equal(rd(0x802), 0); /* ID */
	assert_int_equal(rd(0x803) & 0xff, 0x14);
	assert_int_equal(rd(LINT0), 0x700); /* virtual wire: ExtINT, unmasked */
	assert_int_equal(rd(0x80d), 1); /* LDR of ID 0 */
}

static void test_tsc_deadline(void **state)
{
	wr(LVT_TIMER, 0x400ec); /* TSC-deadline mode, vector 0xec */
	a.now = 100;
	wr(APIC_TSC_DEADLINE_MSR, 1000);
	assert_int_equal(x2apic_next_deadline(&a), 1000);
	x2apic_tick(&a, 999);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	x2apic_tick(&a, 1000);
	assert_int_equal(x2apic_take_interrupt(&a), 0xec);
	assert_int_equal(rd(APIC_TSC_DEADLINE_MSR), 0); /* fired: disarmed */
	assert_int_equal(x2apic_next_deadline(&a), 0);
	eoi();
	/* Writing 0 disarms. */
	wr(APIC_TSC_DEADLINE_MSR, 2000);
	wr(APIC_TSC_DEADLINE_MSR, 0);
	x2apic_tick(&a, 5000);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
}

static void test_deadline_ignored_in_other_modes(void **state)
{
	wr(LVT_TIMER, 0xec); /* one-shot */
	wr(APIC_TSC_DEADLINE_MSR, 1000);
	assert_int_equal(rd(APIC_TSC_DEADLINE_MSR), 0);
	x2apic_tick(&a, 2000);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
}

static void test_one_shot(void **state)
{
	wr(LVT_TIMER, 0xef);
	wr(TDCR, 0xb); /* divide by 1 */
	a.now = 100;
	wr(TMICT, 10);
	assert_int_equal(x2apic_next_deadline(&a), 100 + 10 * TSC_PER_TICK);
	a.now = 120;
	assert_int_equal(rd(TMCCT), 5);
	x2apic_tick(&a, 139);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	x2apic_tick(&a, 140);
	assert_int_equal(x2apic_take_interrupt(&a), 0xef);
	eoi();
	assert_int_equal(rd(TMCCT), 0);
	x2apic_tick(&a, 10000);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
}

/*
 * A calibration's view: a masked one-shot from 0xffffffff at a measured TSC rate that is no
 * multiple of the crystal's, read after 10 ms. Dividing by a truncated TSC-ticks-per-tick read
 * the initial count back for the first ~0.6 s, and a kernel calibrating against it measured 0.
 */
static void test_current_count_with_a_large_initial_count(void **state)
{
	x2apic_init(&a, 2099702, &pic);
	wr(TDCR, 0x3); /* divide by 16 */
	wr(LVT_TIMER, 0x10000);
	a.now = 1000;
	wr(TMICT, 0xffffffff);
	a.now += 2099702ULL * 10; /* 10 ms */
	uint64_t elapsed = 0xffffffffULL - rd(TMCCT);
	/* 10 ms at 25 MHz / 16 = 15625 ticks. */
	assert_in_range(elapsed, 15624, 15626);
}

static void test_divider(void **state)
{
	wr(LVT_TIMER, 0xef);
	wr(TDCR, 0x0); /* divide by 2 */
	a.now = 0;
	wr(TMICT, 10);
	assert_int_equal(x2apic_next_deadline(&a), 10 * 2 * TSC_PER_TICK);
	wr(TDCR, 0xa); /* divide by 128 */
	wr(TMICT, 1);
	assert_int_equal(x2apic_next_deadline(&a), 128 * TSC_PER_TICK);
}

static void test_periodic(void **state)
{
	wr(LVT_TIMER, 0x200ef);
	wr(TDCR, 0xb);
	a.now = 0;
	wr(TMICT, 25); /* 100 TSC ticks */
	for (uint64_t t = 100; t <= 300; t += 100) {
		x2apic_tick(&a, t - 1);
		assert_int_equal(x2apic_take_interrupt(&a), -1);
		x2apic_tick(&a, t);
		assert_int_equal(x2apic_take_interrupt(&a), 0xef);
		eoi();
	}
	/* Missed periods coalesce into one interrupt, and the phase is kept. */
	x2apic_tick(&a, 1050);
	assert_int_equal(x2apic_take_interrupt(&a), 0xef);
	eoi();
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	assert_int_equal(x2apic_next_deadline(&a), 1100);
	/* TMICT = 0 stops it. */
	wr(TMICT, 0);
	x2apic_tick(&a, 5000);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
}

static void test_masked_timer_counts_but_does_not_interrupt(void **state)
{
	wr(LVT_TIMER, 0x100ef);
	wr(TDCR, 0xb);
	a.now = 0;
	wr(TMICT, 1);
	x2apic_tick(&a, 100);
	assert_int_equal(a.timer_fired, 1);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
}

static void test_priority_and_eoi(void **state)
{
	wr(SELF_IPI, 0x41);
	wr(SELF_IPI, 0x81);
	assert_int_equal(rd(0x820 + (0x81 >> 5)) & (1u << (0x81 & 31)), 1u << 1);
	assert_int_equal(x2apic_take_interrupt(&a), 0x81);
	/* 0x41 is below the in-service class 0x80. */
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	assert_int_equal(rd(0x80a), 0x80); /* PPR */
	eoi();
	/* TPR holds it off too. */
	wr(TPR, 0x50);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	wr(TPR, 0);
	assert_int_equal(x2apic_take_interrupt(&a), 0x41);
	eoi();
	assert_int_equal(rd(0x810 + 2), 0); /* ISR empty */
}

static void test_icr_self(void **state)
{
	wr(0x830, (1u << 18) | 0x55); /* shorthand self, fixed */
	assert_int_equal(x2apic_take_interrupt(&a), 0x55);
	eoi();
	wr(0x830, 0x66); /* destination 0 = this CPU */
	assert_int_equal(x2apic_take_interrupt(&a), 0x66);
	eoi();
	wr(0x830, (3u << 18) | 0x77); /* all excluding self: nobody */
	assert_int_equal(x2apic_take_interrupt(&a), -1);
}

static void test_extint_through_lint0(void **state)
{
	bus_out(&bus, 0x20, 1, 0x11);
	bus_out(&bus, 0x21, 1, 0x30);
	bus_out(&bus, 0x21, 1, 0x04);
	bus_out(&bus, 0x21, 1, 0x01);
	bus_out(&bus, 0x21, 1, 0xef); /* IRQ4 only */
	pic_set_irq(&pic, 4, 1);
	assert_int_equal(x2apic_take_interrupt(&a), 0x34);
	assert_int_equal(a.extint_delivered, 1);
	bus_out(&bus, 0x20, 1, 0x20);
	/* LINT0 masked: the PIC is cut off. */
	wr(LINT0, 0x10700);
	pic_set_irq(&pic, 4, 0);
	pic_set_irq(&pic, 4, 1);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	wr(LINT0, 0x700);
	assert_int_equal(x2apic_take_interrupt(&a), 0x34);
}

#define ESR 0x828
#define LVT_ERROR 0x837

/* An ICR or self IPI with a vector below 16 is logged in ESR (loaded by the next ESR write)
 * and never delivered; 16-31 are legal and delivered. */
static void test_illegal_vectors_are_apic_errors(void **state)
{
	wr(0x830, (1u << 18) | 0x05); /* fixed self IPI, vector 5 */
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	assert_int_equal(rd(ESR), 0); /* not yet loaded */
	wr(ESR, 0);
	assert_int_equal(rd(ESR), 0x20); /* send illegal vector */
	wr(ESR, 0);
	assert_int_equal(rd(ESR), 0); /* cleared by the write */
	wr(SELF_IPI, 0x0f);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	wr(ESR, 0);
	assert_int_equal(rd(ESR), 0x40); /* receive illegal vector */
	assert_int_equal(a.illegal_vectors, 2);
	/* x2APIC: a non-zero ESR write is a #GP. */
	assert_int_equal(bus_wrmsr(&bus, ESR, 1), -1);
	/* 16 and 31 are legal vectors. */
	wr(0x830, (1u << 18) | 0x10);
	assert_int_equal(x2apic_take_interrupt(&a), 0x10);
	eoi();
	wr(SELF_IPI, 0x1f);
	assert_int_equal(x2apic_take_interrupt(&a), 0x1f);
	eoi();
	wr(ESR, 0);
	assert_int_equal(rd(ESR), 0);
}

/* A timer LVT with vector 3 fires into ESR, not into the guest; the LVT error entry, when
 * unmasked, then interrupts with its own vector. */
static void test_illegal_timer_vector_raises_lvt_error(void **state)
{
	wr(LVT_ERROR, 0xfe);
	wr(TDCR, 0xb); /* divide by 1 */
	wr(LVT_TIMER, 0x03);
	a.now = 1000;
	wr(TMICT, 10);
	x2apic_tick(&a, 1000 + 10 * TSC_PER_TICK);
	assert_int_equal(a.timer_fired, 1);
	assert_int_equal(x2apic_take_interrupt(&a), 0xfe);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	wr(ESR, 0);
	assert_int_equal(rd(ESR), 0x40);
}

/* An 8259 still at its reset base 0x08 asks for vectors 8-15: they are never handed out (Dyad
 * injects 16-255 only), the request stays pending, and once the guest moves the base the same
 * request is delivered. */
static void test_pic_at_reset_base_is_held(void **state)
{
	bus_out(&bus, 0x21, 1, 0xfe); /* OCW1 only: IRQ0 unmasked, base still 0x08 */
	pic_set_irq(&pic, 0, 1);
	assert_true(pic_pending(&pic));
	assert_int_equal(pic_vector(&pic), 0x08);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	assert_int_equal(a.extint_below_16, 2);
	assert_int_equal(a.extint_delivered, 0);
	assert_true(pic_pending(&pic)); /* not acknowledged */
	/* A PIC programmed to 0x10: vector 0x10 (16) is legal. */
	bus_out(&bus, 0x20, 1, 0x11);
	bus_out(&bus, 0x21, 1, 0x10);
	bus_out(&bus, 0x21, 1, 0x04);
	bus_out(&bus, 0x21, 1, 0x01);
	bus_out(&bus, 0x21, 1, 0xfe);
	pic_set_irq(&pic, 0, 0);
	pic_set_irq(&pic, 0, 1);
	assert_int_equal(x2apic_take_interrupt(&a), 0x10);
	assert_int_equal(a.extint_delivered, 1);
}

static void test_general_protection(void **state)
{
	uint64_t v;

	assert_int_equal(bus_wrmsr(&bus, 0x803, 0), -1); /* version is read-only */
	assert_int_equal(bus_wrmsr(&bus, EOI, 1), -1); /* non-zero EOI */
	assert_int_equal(bus_rdmsr(&bus, EOI, &v), -1); /* write-only */
	assert_int_equal(bus_wrmsr(&bus, TPR, 1ULL << 32), -1); /* reserved upper half */
	assert_int_equal(bus_rdmsr(&bus, 0x8ff, &v), -1); /* reserved */
	wr(APIC_BASE_MSR, 0xfee00d00);
	assert_int_equal(bus_wrmsr(&bus, APIC_BASE_MSR, 0xfee00900), -1); /* leave x2APIC mode */
	assert_int_equal(rd(APIC_BASE_MSR), 0xfee00d00);
}

static void test_mode_switch_disarms(void **state)
{
	wr(LVT_TIMER, 0xef);
	a.now = 0;
	wr(TMICT, 100);
	wr(LVT_TIMER, 0x400ef);
	assert_int_equal(x2apic_next_deadline(&a), 0);
	assert_int_equal(rd(TMICT), 0);
}

static int broadcasts, broadcast_vector;

static void on_eoi(void *ctx, int vector)
{
	broadcasts++;
	broadcast_vector = vector;
}

static void test_level_eoi_broadcast(void **state)
{
	wr(0x80f, 0x1ff); /* SVR: enabled */
	a.eoi_broadcast = on_eoi;
	broadcasts = 0;
	x2apic_accept(&a, 0x39, 1); /* level, from the I/O APIC */
	x2apic_accept(&a, 0x31, 0); /* edge */
	assert_int_equal(rd(0x818 + 1), 1u << (0x39 - 32)); /* TMR bit of the level vector only */
	assert_int_equal(x2apic_take_interrupt(&a), 0x39);
	eoi();
	assert_int_equal(broadcasts, 1);
	assert_int_equal(broadcast_vector, 0x39);
	assert_int_equal(rd(0x818 + 1), 0);
	assert_int_equal(x2apic_take_interrupt(&a), 0x31);
	eoi(); /* an edge vector's EOI is not broadcast */
	assert_int_equal(broadcasts, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_xapic_page_then_x2apic, setup),
		cmocka_unit_test_setup(test_starts_in_virtual_wire, setup),
		cmocka_unit_test_setup(test_tsc_deadline, setup),
		cmocka_unit_test_setup(test_deadline_ignored_in_other_modes, setup),
		cmocka_unit_test_setup(test_one_shot, setup),
		cmocka_unit_test_setup(test_current_count_with_a_large_initial_count, setup),
		cmocka_unit_test_setup(test_divider, setup),
		cmocka_unit_test_setup(test_periodic, setup),
		cmocka_unit_test_setup(test_masked_timer_counts_but_does_not_interrupt, setup),
		cmocka_unit_test_setup(test_priority_and_eoi, setup),
		cmocka_unit_test_setup(test_icr_self, setup),
		cmocka_unit_test_setup(test_extint_through_lint0, setup),
		cmocka_unit_test_setup(test_illegal_vectors_are_apic_errors, setup),
		cmocka_unit_test_setup(test_illegal_timer_vector_raises_lvt_error, setup),
		cmocka_unit_test_setup(test_pic_at_reset_base_is_held, setup),
		cmocka_unit_test_setup(test_general_protection, setup),
		cmocka_unit_test_setup(test_mode_switch_disarms, setup),
		cmocka_unit_test_setup(test_level_eoi_broadcast, setup),
	};
	return cmocka_run_group_tests_name("vmm_x2apic", tests, NULL, NULL);
}
