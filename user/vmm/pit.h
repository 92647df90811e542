/* SPDX-License-Identifier: MIT */
#ifndef VMM_PIT_H
#define VMM_PIT_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

#define PIT_HZ 1193182 /* the 8254's input clock: 14.31818 MHz / 12 */
/*
 * The shortest time between two of channel 0's deadlines in the periodic modes 2 and 3, as
 * APIC_MIN_PERIOD_US for the local APIC: the edges in between coalesce into one interrupt.
 * Each deadline is an exit; one shorter than the VMM's round trip is past before the vCPU
 * enters again, and the guest never runs.
 */
#define PIT_MIN_PERIOD_US 200

struct pit_channel {
	uint32_t count; /* the initial count N, 1..0x10000 (a written 0 is 0x10000) */
	uint8_t mode, rw; /* rw: 1 LSB, 2 MSB, 3 LSB then MSB */
	bool counting; /* a count was loaded (and, in modes 1 and 5, the gate triggered) */
	bool gate;
	bool write_msb, read_msb; /* the LSB-then-MSB flip-flops */
	bool latched, status_latched;
	uint16_t latch;
	uint8_t status, write_lsb;
	uint64_t start; /* TSC when counting last (re)started or resumed */
	uint64_t held; /* input clocks counted before the gate last went low */
	uint64_t edges; /* rising edges of OUT already turned into interrupts (channel 0) */
};

/* An 8254 with channel 0 on IRQ 0 and channel 2 behind port 0x61 (gate, speaker, OUT2). */
struct pit {
	struct pit_channel ch[3];
	uint8_t port_b; /* port 0x61 bits 3:0 as written */
	uint8_t refresh; /* port 0x61 bit 4: toggles at every read */
	uint64_t tsc_khz;
	uint64_t now; /* the TSC of the access being emulated (set by the caller) */
	void (*irq)(void *ctx, int level); /* channel 0's OUT, pulsed once per rising edge */
	void *ctx;
	unsigned long irqs;
};

/* A PIT as firmware leaves it: nothing loaded, channels 0 and 1 gated on, channel 2 off. */
void pit_init(struct pit *p, uint64_t tsc_khz, void (*irq)(void *ctx, int level), void *ctx);
/* Registers ports 0x40-0x43 and port B (0x61) on @b. */
int pit_register(struct pit *p, struct bus *b);
/* Raises IRQ 0 (once, however many edges were missed) if channel 0's OUT rose by TSC @now. */
void pit_tick(struct pit *p, uint64_t now);
/* The TSC of channel 0's next rising edge, or 0 when none will come. */
uint64_t pit_next_deadline(const struct pit *p);

#endif
