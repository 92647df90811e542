// SPDX-License-Identifier: MIT
/*
 * The 8254 against a fake TSC of 1193.182 MHz (1000 TSC ticks per PIT clock): channel 0's
 * interrupts in modes 0, 2 and 3 as Linux programs them, channel 2 gated through port 0x61 with
 * OUT2 read back there (what PIT calibration polls), and latched and read-back counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pit.h"
#include "vmm.h"

static struct bus bus;

#define TSC_PER_CLOCK 1000ULL
#define T0 1000000ULL /* an arbitrary starting TSC */

static struct pit p;
static int pulses, level;

static void irq(void *ctx, int l)
{
	if (l && !level)
		pulses++;
	level = l;
}

static int setup(void **state)
{
	bus_init(&bus);
	pit_init(&p, PIT_HZ, irq, NULL); /* tsc_khz = PIT_HZ: 1000 TSC per clock */
	pulses = level = 0;
	p.now = T0;
	return pit_register(&p, &bus);
}

static void at(uint64_t clocks)
{
	pit_tick(&p, T0 + clocks * TSC_PER_CLOCK);
}

static void program(int ch, int mode, uint16_t count)
{
	bus_out(&bus, 0x43, 1, (uint32_t)(ch << 6 | 3 << 4 | mode << 1));
	bus_out(&bus, 0x40 + ch, 1, count & 0xff);
	bus_out(&bus, 0x40 + ch, 1, count >> 8);
}

static void test_mode2_periodic(void **state)
{
	program(0, 2, 1000); /* Linux's periodic PIT: mode 2 */
	assert_int_equal(pit_next_deadline(&p), T0 + 1000 * TSC_PER_CLOCK);
	at(999);
	assert_int_equal(pulses, 0);
	at(1000);
	assert_int_equal(pulses, 1);
	assert_int_equal(level, 0); /* a pulse, not a held line */
	assert_int_equal(pit_next_deadline(&p), T0 + 2000 * TSC_PER_CLOCK);
	at(1500);
	assert_int_equal(pulses, 1);
	at(5200); /* four missed periods coalesce into one interrupt */
	assert_int_equal(pulses, 2);
	assert_int_equal(pit_next_deadline(&p), T0 + 6000 * TSC_PER_CLOCK);
}

/*
 * Modes 2 and 3 with periods shorter than PIT_MIN_PERIOD_US (a count of 1 or 2: under 2 us)
 * ask for the VMM no more often than that: the edges in between coalesce into one interrupt.
 * Before, every deadline was past before the vCPU could enter again and the guest never ran
 * (the chaos guest's finale 4 under Bochs).
 */
static void test_fast_periodic_is_rate_limited(void **state)
{
	uint64_t min = p.tsc_khz * PIT_MIN_PERIOD_US / 1000;

	for (int mode = 2; mode <= 3; mode++) {
		setup(state);
		program(0, mode, (uint16_t)(mode - 1));
		for (int i = 0; i < 5; i++) {
			uint64_t now = p.now, due = pit_next_deadline(&p);
			int before = pulses;
			assert_true(due >= now + min);
			pit_tick(&p, due);
			assert_int_equal(pulses, before + 1);
		}
	}
}

static void test_mode0_once(void **state)
{
	program(0, 0, 500); /* Linux's one-shot PIT: mode 0 */
	at(499);
	assert_int_equal(pulses, 0);
	at(500);
	assert_int_equal(pulses, 1);
	assert_int_equal(pit_next_deadline(&p), 0);
	at(200000);
	assert_int_equal(pulses, 1);
	/* A new count re-arms it. */
	p.now = T0 + 200000 * TSC_PER_CLOCK;
	bus_out(&bus, 0x40, 1, 100);
	bus_out(&bus, 0x40, 1, 0);
	at(200099);
	assert_int_equal(pulses, 1);
	at(200100);
	assert_int_equal(pulses, 2);
}

static void test_mode3_square_wave(void **state)
{
	program(0, 3, 0); /* 0 is 65536, the BIOS default */
	at(65535);
	assert_int_equal(pulses, 0);
	at(65536);
	assert_int_equal(pulses, 1);
	at(65536 * 2);
	assert_int_equal(pulses, 2);
}

static void test_no_interrupt_before_count(void **state)
{
	bus_out(&bus, 0x43, 1, 0x34); /* mode 2, but no count yet */
	assert_int_equal(pit_next_deadline(&p), 0);
	at(1 << 20);
	assert_int_equal(pulses, 0);
}

static void test_latch_and_lsb_msb_reads(void **state)
{
	program(0, 2, 0x1234);
	p.now = T0 + 0x34 * TSC_PER_CLOCK;
	bus_out(&bus, 0x43, 1, 0x00); /* latch channel 0 */
	p.now = T0 + 0x100 * TSC_PER_CLOCK; /* the latch holds while time goes on */
	assert_int_equal(bus_in(&bus, 0x40, 1), 0x00);
	assert_int_equal(bus_in(&bus, 0x40, 1), 0x12);
	/* Unlatched: the live count. */
	assert_int_equal(bus_in(&bus, 0x40, 1), 0x34);
	assert_int_equal(bus_in(&bus, 0x40, 1), 0x11);
}

static void test_channel2_gate_and_out2(void **state)
{
	/* quick_pit_calibrate(): gate on, speaker off, mode 0, count 0xffff, read MSB falling. */
	bus_out(&bus, 0x61, 1, (bus_in(&bus, 0x61, 1) & ~0x02u) | 0x01);
	program(2, 0, 0xffff);
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0); /* OUT2 low until terminal count */
	p.now = T0 + 0x300 * TSC_PER_CLOCK;
	(void)bus_in(&bus, 0x42, 1);
	assert_int_equal(bus_in(&bus, 0x42, 1), 0xfc); /* 0xffff - 0x300 = 0xfcff */
	/* Gate off pauses mode 0; gate on resumes. */
	bus_out(&bus, 0x61, 1, 0x00);
	p.now = T0 + 0x5000 * TSC_PER_CLOCK;
	(void)bus_in(&bus, 0x42, 1);
	assert_int_equal(bus_in(&bus, 0x42, 1), 0xfc);
	bus_out(&bus, 0x61, 1, 0x01);
	p.now += (0xfcff - 1) * TSC_PER_CLOCK;
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x21, 0x01);
	p.now += TSC_PER_CLOCK;
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x21, 0x21); /* OUT2 high at terminal count */
	assert_int_equal(pulses, 0); /* channel 2 has no interrupt */
}

static void test_channel2_gate_off_holds(void **state)
{
	program(2, 0, 100); /* gate off since reset: nothing counts */
	p.now = T0 + 1000 * TSC_PER_CLOCK;
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x20, 0);
	assert_int_equal(bus_in(&bus, 0x42, 1), 100);
}

static void test_read_back_status(void **state)
{
	program(2, 0, 10);
	bus_out(&bus, 0x61, 1, 0x01);
	p.now = T0 + 20 * TSC_PER_CLOCK;
	bus_out(&bus, 0x43, 1, 0xc0 | 0x20 | 0x08); /* read-back: status only, channel 2 */
	/* OUT high, LSB then MSB, mode 0. */
	assert_int_equal(bus_in(&bus, 0x42, 1), 0x80 | 3 << 4 | 0 << 1);
}

/* Port B: bits 0-3 keep what is written, bit 4 (refresh) toggles at every read. */
static void test_port_b_bits_and_refresh(void **state)
{
	uint32_t a = bus_in(&bus, 0x61, 1), b = bus_in(&bus, 0x61, 1);

	assert_int_equal((a ^ b) & 0x10, 0x10);
	assert_int_equal(a & 0x0f, 0);
	bus_out(&bus, 0x61, 1, 0xf3); /* only bits 0-3 stick */
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x0f, 0x03);
	bus_out(&bus, 0x61, 1, 0x01);
	assert_int_equal(bus_in(&bus, 0x61, 1) & 0x0f, 0x01);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_mode2_periodic, setup),
		cmocka_unit_test_setup(test_fast_periodic_is_rate_limited, setup),
		cmocka_unit_test_setup(test_mode0_once, setup),
		cmocka_unit_test_setup(test_mode3_square_wave, setup),
		cmocka_unit_test_setup(test_no_interrupt_before_count, setup),
		cmocka_unit_test_setup(test_latch_and_lsb_msb_reads, setup),
		cmocka_unit_test_setup(test_channel2_gate_and_out2, setup),
		cmocka_unit_test_setup(test_channel2_gate_off_holds, setup),
		cmocka_unit_test_setup(test_read_back_status, setup),
		cmocka_unit_test_setup(test_port_b_bits_and_refresh, setup),
	};
	return cmocka_run_group_tests_name("vmm_pit", tests, NULL, NULL);
}
