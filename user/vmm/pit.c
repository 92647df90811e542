// SPDX-License-Identifier: MIT
/*
 * The 8254 programmable interval timer (Intel datasheet 231164), counting in real time: a
 * channel's elapsed input clocks are derived from the TSC, so reads cost no work between
 * accesses. Modelled: the control word, LSB/MSB/LSB-then-MSB access, counter latch and the
 * read-back command (count and status), modes 0 (interrupt on terminal count), 1 (hardware
 * one-shot), 2 (rate generator), 3 (square wave), 4 and 5 (strobes), the gate (channel 2's is
 * port 0x61 bit 0; it pauses modes 0 and 4 and restarts or triggers 1, 2, 3 and 5), and OUT2 in
 * port 0x61 bit 5 (Linux's PIT calibration polls it); port 0x61 bit 4, the refresh request,
 * toggles at every read so that delay loops counting its edges end. Channel 0's OUT is IRQ 0: each rising edge
 * pulses it. Not modelled: BCD counting (the bit is kept but counting is binary), the one-clock
 * delay of loading, and a new count in modes 2/3 waiting for the current period to end (it takes
 * effect at once).
 */
#include <string.h>

#include "pit.h"
#include "vmm.h"

#define PORT_B_GATE2 0x01
#define PORT_B_REFRESH 0x10
#define PORT_B_OUT2 0x20

void pit_init(struct pit *p, uint64_t tsc_khz, void (*irq)(void *ctx, int level), void *ctx)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 3; i++) {
		p->ch[i].count = 0x10000;
		p->ch[i].rw = 3;
		p->ch[i].gate = i != 2;
	}
	p->tsc_khz = tsc_khz ? tsc_khz : 1000000;
	p->irq = irq;
	p->ctx = ctx;
}

/* Input clocks counted by TSC @now. */
static uint64_t elapsed(const struct pit *p, const struct pit_channel *c, uint64_t now)
{
	if (!c->counting || !c->gate || now < c->start)
		return c->held;
	return c->held +
	       (uint64_t)((unsigned __int128)(now - c->start) * PIT_HZ / (p->tsc_khz * 1000));
}

static uint16_t value_at(const struct pit_channel *c, uint64_t t)
{
	uint64_t n = c->count;

	switch (c->mode) {
	case 2:
		return (uint16_t)(n - t % n);
	case 3: {
		uint64_t half = n / 2 ? n / 2 : 1;
		return (uint16_t)(n - 2 * (t % half)) & 0xfffe;
	}
	default: /* modes 0, 1, 4, 5 count down through 0 and wrap */
		return (uint16_t)(n - t);
	}
}

static bool out_at(const struct pit_channel *c, uint64_t t)
{
	uint64_t n = c->count;

	if (!c->counting) /* mode 0 drives OUT low from the control word; the others high */
		return c->mode != 0;
	switch (c->mode) {
	case 0:
	case 1:
		return t >= n;
	case 2:
		return t % n != n - 1;
	case 3:
		return t % n < (n + 1) / 2;
	default: /* 4, 5: one low clock at terminal count */
		return t != n;
	}
}

/* Rising edges of OUT in (0, t]: one per period in modes 2 and 3, one at most in the others. */
static uint64_t edges_at(const struct pit_channel *c, uint64_t t)
{
	if (!c->counting)
		return 0;
	switch (c->mode) {
	case 0:
	case 1:
		return t >= c->count;
	case 2:
	case 3:
		return t / c->count;
	default:
		return t >= c->count + 1;
	}
}

/* The input clock count at which edge number @k + 1 comes, or 0 if it never does. */
static uint64_t next_edge(const struct pit_channel *c, uint64_t k)
{
	if (!c->counting)
		return 0;
	switch (c->mode) {
	case 0:
	case 1:
		return k ? 0 : c->count;
	case 2:
	case 3:
		return (k + 1) * c->count;
	default:
		return k ? 0 : c->count + 1;
	}
}

static void restart(struct pit_channel *c, uint64_t now)
{
	c->counting = true;
	c->start = now;
	c->held = 0;
	c->edges = 0;
}

void pit_tick(struct pit *p, uint64_t now)
{
	struct pit_channel *c = &p->ch[0];
	uint64_t e = edges_at(c, elapsed(p, c, now));

	p->now = now;
	if (e <= c->edges)
		return;
	c->edges = e;
	p->irqs++;
	if (p->irq) {
		p->irq(p->ctx, 1);
		p->irq(p->ctx, 0);
	}
}

uint64_t pit_next_deadline(const struct pit *p)
{
	const struct pit_channel *c = &p->ch[0];
	uint64_t t = next_edge(c, c->edges);

	if (!t)
		return 0;
	/* Channel 0's gate is always on, so nothing is held: TSC = start + t / PIT_HZ. */
	uint64_t tsc = c->start +
		       (uint64_t)(((unsigned __int128)t * p->tsc_khz * 1000 + PIT_HZ - 1) / PIT_HZ);
	uint64_t soonest = p->now + p->tsc_khz * PIT_MIN_PERIOD_US / 1000;

	/* A shorter period: the edges until then coalesce (pit_tick). */
	if ((c->mode == 2 || c->mode == 3) && tsc < soonest)
		tsc = soonest;
	return tsc ? tsc : 1;
}

static void set_gate(struct pit *p, struct pit_channel *c, bool gate)
{
	if (gate == c->gate)
		return;
	if (!gate) { /* counting pauses: keep what was counted */
		c->held = elapsed(p, c, p->now);
		c->gate = false;
		return;
	}
	c->gate = true;
	if (c->mode == 0 || c->mode == 4) {
		c->start = p->now; /* resume */
	} else if (c->counting || c->mode == 1 || c->mode == 5) {
		restart(c, p->now); /* a rising gate restarts 2 and 3, and triggers 1 and 5 */
	}
}

static void load(struct pit *p, struct pit_channel *c, uint16_t v)
{
	c->count = v ? v : 0x10000;
	if (c->mode == 1 || c->mode == 5)
		return; /* waits for a rising gate */
	if (c->mode == 3 && c->count == 1)
		c->count = 2; /* the datasheet forbids 1 in mode 3 */
	if (c->mode == 2 && c->count == 1)
		c->count = 2; /* and in mode 2 */
	restart(c, p->now);
}

static void control(struct pit *p, uint8_t v)
{
	unsigned sel = v >> 6;

	if (sel == 3) { /* read-back: bit 5 clear latches counts, bit 4 clear latches status */
		for (int i = 0; i < 3; i++) {
			struct pit_channel *c = &p->ch[i];
			if (!(v & (2u << i)))
				continue;
			if (!(v & 0x20) && !c->latched) {
				c->latch = value_at(c, elapsed(p, c, p->now));
				c->latched = true;
			}
			if (!(v & 0x10) && !c->status_latched) {
				c->status = (uint8_t)((out_at(c, elapsed(p, c, p->now)) << 7) |
						      (!c->counting << 6) | (c->rw << 4) |
						      (c->mode << 1));
				c->status_latched = true;
			}
		}
		return;
	}
	struct pit_channel *c = &p->ch[sel];
	unsigned rw = (v >> 4) & 3;
	if (rw == 0) { /* counter latch */
		if (!c->latched) {
			c->latch = value_at(c, elapsed(p, c, p->now));
			c->latched = true;
		}
		return;
	}
	unsigned mode = (v >> 1) & 7;
	c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode); /* 6 and 7 are 2 and 3 */
	c->rw = (uint8_t)rw;
	c->counting = false;
	c->held = 0;
	c->edges = 0;
	c->write_msb = c->read_msb = false;
	c->latched = c->status_latched = false;
}

/* One byte of the count, @msb or not, per the access mode. */
static uint8_t byte_of(uint16_t v, bool msb)
{
	return (uint8_t)(msb ? v >> 8 : v);
}

static uint8_t counter_read(struct pit *p, struct pit_channel *c)
{
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	uint16_t v = c->latched ? c->latch : value_at(c, elapsed(p, c, p->now));
	bool msb = c->rw == 2 || (c->rw == 3 && c->read_msb);
	if (c->rw == 3)
		c->read_msb = !c->read_msb;
	if (c->latched && (c->rw != 3 || !c->read_msb))
		c->latched = false; /* the whole latched value was read */
	return byte_of(v, msb);
}

static void counter_write(struct pit *p, struct pit_channel *c, uint8_t b)
{
	switch (c->rw) {
	case 1:
		load(p, c, b);
		break;
	case 2:
		load(p, c, (uint16_t)(b << 8));
		break;
	default:
		if (!c->write_msb) {
			c->write_lsb = b;
			c->write_msb = true;
		} else {
			c->write_msb = false;
			load(p, c, (uint16_t)(c->write_lsb | b << 8));
		}
	}
}

static uint32_t pit_io_in(void *dev, uint16_t port)
{
	struct pit *p = dev;

	if (port == 0x61) {
		struct pit_channel *c = &p->ch[2];
		p->refresh ^= PORT_B_REFRESH;
		return p->port_b | p->refresh | (out_at(c, elapsed(p, c, p->now)) ? PORT_B_OUT2 : 0);
	}
	if (port == 0x43)
		return 0xff; /* the control word register is write-only */
	return counter_read(p, &p->ch[port - 0x40]);
}

static void pit_io_out(void *dev, uint16_t port, uint32_t value)
{
	struct pit *p = dev;

	if (port == 0x61) {
		p->port_b = value & 0x0f;
		set_gate(p, &p->ch[2], value & PORT_B_GATE2);
	} else if (port == 0x43) {
		control(p, (uint8_t)value);
	} else {
		counter_write(p, &p->ch[port - 0x40], (uint8_t)value);
	}
}

/* The bus handler (bus.h): every register is a byte; wider accesses see it in the low byte. */
static int pit_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	if (write)
		pit_io_out(dev, (uint16_t)port, (uint32_t)*value);
	else
		*value = pit_io_in(dev, (uint16_t)port);
	return 0;
}

int pit_register(struct pit *p, struct bus *b)
{
	return bus_register(b, BUS_PIO, 0x40, 4, pit_access, p) |
	       bus_register(b, BUS_PIO, 0x61, 1, pit_access, p);
}
