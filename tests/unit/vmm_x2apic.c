// SPDX-License-Identifier: MIT
/*
 * The x2APIC model through its MSRs: the three timer modes against a TSC that runs 4x the
 * crystal (tsc_khz = 4 * APIC_CRYSTAL_KHZ), priorities, EOI, self-IPI, ExtINT from the 8259
 * through LINT0, the #GP cases the SDM lists, and KVM's PV EOI: which EOIs may be skipped
 * (one edge-triggered vector in service, nothing pending) and the flag's life across an exit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* 1 ms periods (100,000 TSC ticks at 100 MHz), above APIC_MIN_PERIOD_US. */
static void test_periodic(void **state)
{
	wr(LVT_TIMER, 0x200ef);
	wr(TDCR, 0xb);
	a.now = 0;
	wr(TMICT, 25000); /* 100,000 TSC ticks */
	for (uint64_t t = 100000; t <= 300000; t += 100000) {
		x2apic_tick(&a, t - 1);
		assert_int_equal(x2apic_take_interrupt(&a), -1);
		x2apic_tick(&a, t);
		assert_int_equal(x2apic_take_interrupt(&a), 0xef);
		eoi();
	}
	/* Missed periods coalesce into one interrupt, and the phase is kept. */
	x2apic_tick(&a, 1050000);
	assert_int_equal(x2apic_take_interrupt(&a), 0xef);
	eoi();
	assert_int_equal(x2apic_take_interrupt(&a), -1);
	assert_int_equal(x2apic_next_deadline(&a), 1100000);
	/* TMICT = 0 stops it. */
	wr(TMICT, 0);
	x2apic_tick(&a, 5000);
	assert_int_equal(x2apic_take_interrupt(&a), -1);
}

/*
 * A periodic timer faster than APIC_MIN_PERIOD_US (here an initial count of 1 divided by 1:
 * 4 TSC ticks) runs at that minimum: every deadline was already past when the vCPU could have
 * entered, so the guest never ran again (the chaos guest's finale 3 hung its VMM).
 */
static void test_fast_periodic_runs_at_the_minimum_period(void **state)
{
	uint64_t min = a.tsc_khz * APIC_MIN_PERIOD_US / 1000, t = 0;

	wr(LVT_TIMER, 0x200ef);
	wr(TDCR, 0xb);
	a.now = 0;
	wr(TMICT, 1);
	for (int i = 0; i < 5; i++) {
		uint64_t due = x2apic_next_deadline(&a);
		assert_true(due >= t + min);
		x2apic_tick(&a, due - 1);
		assert_int_equal(x2apic_take_interrupt(&a), -1);
		x2apic_tick(&a, due);
		assert_int_equal(x2apic_take_interrupt(&a), 0xef);
		eoi();
		t = due;
	}
	/* One-shot keeps its count: a short one-shot fires when it is due. */
	wr(LVT_TIMER, 0xef);
	a.now = t;
	wr(TMICT, 1);
	assert_int_equal(x2apic_next_deadline(&a), t + 4);
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

/* ---- PV EOI ---------------------------------------------------------------------------- */

static uint8_t guest_mem[0x2000];
static const struct guest_ram guest_ram = { .base = guest_mem, .size = sizeof(guest_mem) };
#define PV_WORD 0x1008 /* the guest's word, 8-byte aligned as Linux's per-CPU variable */

static int setup_pv(void **state)
{
	memset(guest_mem, 0, sizeof(guest_mem));
	x2apic_set_guest_ram(&guest_ram);
	if (setup(state))
		return -1;
	wr(0x80f, 0x1ff); /* SVR: enabled */
	wr(APIC_PV_EOI_MSR, PV_WORD | APIC_PV_EOI_ENABLED);
	return 0;
}

static int guest_flag(void)
{
	return guest_mem[PV_WORD] & 1;
}

static void test_pv_eoi_msr(void **state)
{
	assert_int_equal(rd(APIC_PV_EOI_MSR), PV_WORD | 1);
	/* Misaligned, outside RAM, straddling its end: #GP, the old value stays. */
	assert_int_equal(bus_wrmsr(&bus, APIC_PV_EOI_MSR, 0x1002 | 1), -1);
	assert_int_equal(bus_wrmsr(&bus, APIC_PV_EOI_MSR, 0x100000 | 1), -1);
	assert_int_equal(bus_wrmsr(&bus, APIC_PV_EOI_MSR, (sizeof(guest_mem) - 2) | 1), -1);
	assert_int_equal(rd(APIC_PV_EOI_MSR), PV_WORD | 1);
	/* Without guest RAM named, enabling is refused; disabling always works. */
	x2apic_set_guest_ram(NULL);
	assert_int_equal(bus_wrmsr(&bus, APIC_PV_EOI_MSR, PV_WORD | 1), -1);
	wr(APIC_PV_EOI_MSR, 0);
	assert_int_equal(rd(APIC_PV_EOI_MSR), 0);
	/* Disabled: an interrupt in service sets no flag, its EOI is the register's. */
	wr(SELF_IPI, 0x41);
	assert_int_equal(x2apic_take_interrupt(&a), 0x41);
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_flag(), 0);
	x2apic_pv_eoi_exit(&a);
	assert_int_equal(rd(0x810 + 2), 1u << 1); /* still in service */
	eoi();
	assert_int_equal(rd(0x810 + 2), 0);
	assert_int_equal(a.pv_eois, 0);
}

/* The guest clears the flag (its EOI); the exit after performs the EOI. Other bits stay. */
static void test_pv_eoi_edge_interrupt_ends_without_an_exit(void **state)
{
	guest_mem[PV_WORD] = 0xf0;
	wr(SELF_IPI, 0x41);
	assert_int_equal(x2apic_take_interrupt(&a), 0x41);
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_mem[PV_WORD], 0xf1);
	guest_mem[PV_WORD] &= ~1; /* the guest's EOI */
	x2apic_pv_eoi_exit(&a);
	assert_int_equal(rd(0x810 + 2), 0); /* ISR empty */
	assert_int_equal(a.pv_eois, 1);
	assert_int_equal(guest_mem[PV_WORD], 0xf0);
	/* The next one goes the same way; an exit without a guest EOI takes the flag back. */
	wr(SELF_IPI, 0x42);
	assert_int_equal(x2apic_take_interrupt(&a), 0x42);
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_flag(), 1);
	x2apic_pv_eoi_exit(&a);
	assert_int_equal(guest_flag(), 0);
	assert_int_equal(rd(0x810 + 2), 1u << 2); /* still in service: the guest writes EOI */
	eoi();
	assert_int_equal(rd(0x810 + 2), 0);
	assert_int_equal(a.pv_eois, 1);
	/* Nothing in service: no flag. */
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_flag(), 0);
}

/* A level-triggered vector's EOI must reach the I/O APIC at once: never skipped. */
static void test_pv_eoi_not_for_level_triggered(void **state)
{
	a.eoi_broadcast = on_eoi;
	broadcasts = 0;
	x2apic_accept(&a, 0x39, 1);
	assert_int_equal(x2apic_take_interrupt(&a), 0x39);
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_flag(), 0);
	x2apic_pv_eoi_exit(&a);
	eoi();
	assert_int_equal(broadcasts, 1);
	assert_int_equal(a.pv_eois, 0);
}

/*
 * A second interrupt pending (IRR) or nested in service: the EOI may have to deliver the next
 * one, or ends a vector the VMM cannot tell from memory. Never skipped.
 */
static void test_pv_eoi_not_with_a_second_interrupt(void **state)
{
	wr(SELF_IPI, 0x81);
	wr(SELF_IPI, 0x41);
	assert_int_equal(x2apic_take_interrupt(&a), 0x81);
	x2apic_pv_eoi_enter(&a); /* 0x41 waits in IRR behind 0x81 */
	assert_int_equal(guest_flag(), 0);
	x2apic_pv_eoi_exit(&a);
	eoi();
	assert_int_equal(x2apic_take_interrupt(&a), 0x41);
	wr(SELF_IPI, 0x91);
	assert_int_equal(x2apic_take_interrupt(&a), 0x91); /* nested: 0x41 and 0x91 in service */
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_flag(), 0);
	x2apic_pv_eoi_exit(&a);
	eoi();
	x2apic_pv_eoi_enter(&a); /* 0x41 alone again: now it may */
	assert_int_equal(guest_flag(), 1);
	guest_mem[PV_WORD] &= ~1;
	x2apic_pv_eoi_exit(&a);
	assert_int_equal(rd(0x810 + 2), 0);
	assert_int_equal(rd(0x810 + 4), 0);
	assert_int_equal(a.pv_eois, 1);
	/* An interrupt raised while the flag is set (another vCPU's IPI) is seen at the exit. */
	wr(SELF_IPI, 0x51);
	assert_int_equal(x2apic_take_interrupt(&a), 0x51);
	x2apic_pv_eoi_enter(&a);
	x2apic_raise(&a, 0x61);
	guest_mem[PV_WORD] &= ~1;
	x2apic_pv_eoi_exit(&a);
	assert_int_equal(x2apic_take_interrupt(&a), 0x61);
	assert_int_equal(rd(0x810 + 2), 0); /* 0x51 ended */
}

/* Disabling through the MSR while a flag is set takes the VMM's claim back. */
static void test_pv_eoi_disabled_while_armed(void **state)
{
	wr(SELF_IPI, 0x41);
	assert_int_equal(x2apic_take_interrupt(&a), 0x41);
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_flag(), 1);
	x2apic_pv_eoi_exit(&a); /* the WRMSR's exit */
	wr(APIC_PV_EOI_MSR, 0);
	x2apic_pv_eoi_enter(&a);
	assert_int_equal(guest_flag(), 0);
	eoi();
	assert_int_equal(rd(0x810 + 2), 0);
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
		cmocka_unit_test_setup(test_fast_periodic_runs_at_the_minimum_period, setup),
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
		cmocka_unit_test_setup(test_pv_eoi_msr, setup_pv),
		cmocka_unit_test_setup(test_pv_eoi_edge_interrupt_ends_without_an_exit, setup_pv),
		cmocka_unit_test_setup(test_pv_eoi_not_for_level_triggered, setup_pv),
		cmocka_unit_test_setup(test_pv_eoi_not_with_a_second_interrupt, setup_pv),
		cmocka_unit_test_setup(test_pv_eoi_disabled_while_armed, setup_pv),
	};
	return cmocka_run_group_tests_name("vmm_x2apic", tests, NULL, NULL);
}
