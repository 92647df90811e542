/* SPDX-License-Identifier: MIT */
#ifndef VMM_IOAPIC_H
#define VMM_IOAPIC_H

#include <stdint.h>

#include "bus.h"

#define IOAPIC_BASE 0xfec00000ULL
#define IOAPIC_SIZE 0x1000
#define IOAPIC_PINS 24
/* Its APIC ID in the MADT (I/O APIC IDs are a name space apart from local x2APIC IDs). */
#define IOAPIC_ID 0

/* Delivery modes of a redirection entry (bits 10:8). */
#define IOAPIC_DM_FIXED 0
#define IOAPIC_DM_LOWEST 1
#define IOAPIC_DM_NMI 4
#define IOAPIC_DM_EXTINT 7

/* An interrupt message the I/O APIC sends to the local APICs. */
struct ioapic_msg {
	uint8_t vector, mode; /* mode: IOAPIC_DM_* */
	uint8_t logical; /* destination mode: 0 physical, 1 logical */
	uint8_t dest; /* bits 63:56 of the entry */
	uint8_t level; /* level-triggered: the local APIC sets TMR and must broadcast its EOI */
};

/* An 82093AA (its datasheet, order no. 290566): 24 pins, version 0x11 (no EOI register). */
struct ioapic {
	uint32_t id; /* register 0: bits 27:24 */
	uint32_t sel; /* IOREGSEL */
	uint64_t redir[IOAPIC_PINS];
	uint32_t lines; /* input pins currently asserted */
	void (*deliver)(void *ctx, const struct ioapic_msg *m);
	void *ctx;
	unsigned long delivered, masked_edges;
};

/* An I/O APIC as after reset: every entry masked. Messages go to @deliver(@ctx, ...). */
void ioapic_init(struct ioapic *io, uint8_t id,
		 void (*deliver)(void *ctx, const struct ioapic_msg *m), void *ctx);
/*
 * Drives input @pin (0..IOAPIC_PINS-1) to asserted (@level 1) or not. Devices give the
 * asserted state, whatever the entry's polarity. An edge entry sends on the rising edge unless
 * masked (then the edge is lost); a level entry sends while asserted, unmasked and with remote
 * IRR clear, and sets remote IRR.
 */
void ioapic_set_irq(struct ioapic *io, int pin, int level);
/*
 * The local APIC's EOI broadcast for @vector: clears remote IRR of level entries with that
 * vector, and sends again for those whose pin is still asserted.
 */
void ioapic_eoi(struct ioapic *io, int vector);
/* Registers the MMIO page at IOAPIC_BASE on @b (32-bit accesses only). */
int ioapic_register(struct ioapic *io, struct bus *b);
/* 32-bit accesses at offset 0x00 (IOREGSEL) and 0x10 (IOWIN); -1 for anything else. */
int ioapic_mmio_read(struct ioapic *io, uint64_t offset, uint32_t *value);
int ioapic_mmio_write(struct ioapic *io, uint64_t offset, uint32_t value);

#endif
