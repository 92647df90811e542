// SPDX-License-Identifier: MIT
/*
 * The 82093AA I/O APIC (Intel datasheet 290566): IOREGSEL/IOWIN at offsets 0x00/0x10, the ID,
 * version (0x11, 24 entries) and arbitration registers, and 24 redirection entries with vector,
 * delivery mode, destination mode, polarity, trigger mode, mask and destination. Edge entries
 * send on a rising edge; a masked edge is lost, as on the chip. Level entries send while the pin
 * is asserted and remote IRR is clear; remote IRR is set on sending and cleared by the local
 * APIC's EOI broadcast (this version has no EOI register), after which a pin still asserted sends
 * again. Messages are delivered at once, so delivery status (bit 12) always reads 0 (idle).
 * Polarity is stored and read back only: devices hand in the asserted state.
 */
#include <string.h>

#include "ioapic.h"
#include "vmm.h"

#define REG_ID 0x00
#define REG_VERSION 0x01
#define REG_ARB 0x02
#define REG_REDIR 0x10
#define VERSION (0x11u | (IOAPIC_PINS - 1u) << 16)

#define RE_VECTOR(e) ((uint8_t)(e))
#define RE_MODE(e) ((uint8_t)(((e) >> 8) & 7))
#define RE_LOGICAL (1ULL << 11)
#define RE_REMOTE_IRR (1ULL << 14)
#define RE_LEVEL (1ULL << 15)
#define RE_MASKED (1ULL << 16)
#define RE_DEST(e) ((uint8_t)((e) >> 56))
/* What the guest may write: vector, modes, polarity, trigger, mask; destination. */
#define RE_WRITABLE_LOW 0x0001afffULL
#define RE_WRITABLE_HIGH 0xff00000000000000ULL

void ioapic_init(struct ioapic *io, uint8_t id,
		 void (*deliver)(void *ctx, const struct ioapic_msg *m), void *ctx)
{
	memset(io, 0, sizeof(*io));
	io->id = (uint32_t)(id & 0xf) << 24;
	for (int i = 0; i < IOAPIC_PINS; i++)
		io->redir[i] = RE_MASKED;
	io->deliver = deliver;
	io->ctx = ctx;
}

static void send(struct ioapic *io, int pin)
{
	uint64_t e = io->redir[pin];
	struct ioapic_msg m = { .vector = RE_VECTOR(e),
				.mode = RE_MODE(e),
				.logical = (e & RE_LOGICAL) != 0,
				.dest = RE_DEST(e),
				.level = (e & RE_LEVEL) != 0 };

	if (e & RE_LEVEL)
		io->redir[pin] |= RE_REMOTE_IRR;
	io->delivered++;
	if (io->deliver)
		io->deliver(io->ctx, &m);
}

/* A level entry sends when its pin is asserted, it is unmasked and no EOI is outstanding. */
static void level_service(struct ioapic *io, int pin)
{
	uint64_t e = io->redir[pin];

	if ((e & RE_LEVEL) && !(e & (RE_MASKED | RE_REMOTE_IRR)) && (io->lines & (1u << pin)))
		send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, int pin, int level)
{
	if (pin < 0 || pin >= IOAPIC_PINS)
		return;
	uint32_t bit = 1u << pin;
	int rising = level && !(io->lines & bit);

	if (level)
		io->lines |= bit;
	else
		io->lines &= ~bit;
	if (io->redir[pin] & RE_LEVEL) {
		level_service(io, pin);
	} else if (rising) {
		if (io->redir[pin] & RE_MASKED)
			io->masked_edges++;
		else
			send(io, pin);
	}
}

void ioapic_eoi(struct ioapic *io, int vector)
{
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];
		if ((e & RE_LEVEL) && (e & RE_REMOTE_IRR) && RE_VECTOR(e) == vector) {
			io->redir[pin] &= ~RE_REMOTE_IRR;
			level_service(io, pin);
		}
	}
}

static uint32_t reg_read(const struct ioapic *io, uint32_t reg)
{
	switch (reg) {
	case REG_ID:
		return io->id;
	case REG_VERSION:
		return VERSION;
	case REG_ARB:
		return io->id; /* the arbitration ID is loaded from the ID */
	}
	if (reg >= REG_REDIR && reg < REG_REDIR + 2 * IOAPIC_PINS) {
		uint64_t e = io->redir[(reg - REG_REDIR) / 2];
		return (reg & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0xffffffffu; /* no register there */
}

static void reg_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
	if (reg == REG_ID) {
		io->id = v & 0x0f000000u;
		return;
	}
	if (reg < REG_REDIR || reg >= REG_REDIR + 2 * IOAPIC_PINS)
		return; /* version, arbitration and unimplemented registers are read-only */
	int pin = (int)(reg - REG_REDIR) / 2;
	uint64_t e = io->redir[pin];
	if (reg & 1) {
		e = (e & ~RE_WRITABLE_HIGH) | ((uint64_t)v << 32 & RE_WRITABLE_HIGH);
	} else {
		e = (e & ~RE_WRITABLE_LOW) | (v & RE_WRITABLE_LOW);
		/* Remote IRR is undefined for edge entries: keep it 0. */
		if (!(e & RE_LEVEL))
			e &= ~RE_REMOTE_IRR;
	}
	io->redir[pin] = e;
	level_service(io, pin); /* unmasking a level entry whose pin is asserted sends */
}

int ioapic_mmio_read(struct ioapic *io, uint64_t offset, uint32_t *value)
{
	if (offset == 0x00)
		*value = io->sel;
	else if (offset == 0x10)
		*value = reg_read(io, io->sel);
	else
		return -1;
	return 0;
}

int ioapic_mmio_write(struct ioapic *io, uint64_t offset, uint32_t value)
{
	if (offset == 0x00)
		io->sel = value & 0xff;
	else if (offset == 0x10)
		reg_write(io, io->sel, value);
	else
		return -1;
	return 0;
}

/* The bus handler (bus.h): IOREGSEL and IOWIN are 32-bit registers; other sizes are refused. */
static int ioapic_mmio(void *dev, uint64_t gpa, unsigned size, int write, uint64_t *value)
{
	uint32_t v = (uint32_t)*value;

	if (size != 4)
		return -1;
	if (write)
		return ioapic_mmio_write(dev, gpa - IOAPIC_BASE, v);
	if (ioapic_mmio_read(dev, gpa - IOAPIC_BASE, &v))
		return -1;
	*value = v;
	return 0;
}

int ioapic_register(struct ioapic *io, struct bus *b)
{
	return bus_register(b, BUS_MMIO, IOAPIC_BASE, IOAPIC_SIZE, ioapic_mmio, io);
}
