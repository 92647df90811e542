// SPDX-License-Identifier: MIT
/*
 * The 8259A pair (Intel 8259A datasheet, order no. 231468): ICW1-ICW4 initialisation, OCW1 masks,
 * OCW2 EOI (non-specific and specific), OCW3 IRR/ISR read select, fixed priority IR0 highest,
 * cascade on the master's IR2, edge-triggered inputs unless the ELCR (0x4d0/0x4d1, as on PIIX)
 * makes them level-triggered. Rotation, special mask and poll mode are not modelled: Linux does
 * not use them.
 */
#include "pic.h"
#include "vmm.h"

void pic_init(struct pic *p)
{
	*p = (struct pic){ 0 };
	p->chip[0].imr = p->chip[1].imr = 0xff;
	p->chip[0].base = 0x08;
	p->chip[1].base = 0x70;
}

/* Highest-priority bit of @bits (IR0 first), or 8. */
static int first_bit(uint8_t bits)
{
	for (int i = 0; i < 8; i++)
		if (bits & (1u << i))
			return i;
	return 8;
}

/* The IR the chip would raise INT for: requested, unmasked and above everything in service. */
static int chip_request(const struct pic_chip *c)
{
	int req = first_bit(c->irr & ~c->imr);

	return req < first_bit(c->isr) ? req : 8;
}

static void cascade(struct pic *p)
{
	/*
	 * The slave's INT is the master's IR2 input, followed as a level: a slave request that
	 * goes away (its line dropped, or masked) withdraws IR2 rather than leaving a latched
	 * request that would end as a spurious IR7.
	 */
	if (chip_request(&p->chip[1]) < 8)
		p->chip[0].irr |= 1u << 2;
	else
		p->chip[0].irr &= ~(1u << 2);
}

void pic_set_irq(struct pic *p, int irq, int level)
{
	if (irq < 0 || irq > 15)
		return;
	struct pic_chip *c = &p->chip[irq >> 3];
	uint8_t bit = 1u << (irq & 7);

	if (level) {
		if (!(c->lines & bit) || (c->elcr & bit))
			c->irr |= bit;
		c->lines |= bit;
	} else {
		c->lines &= ~bit;
		if (c->elcr & bit)
			c->irr &= ~bit;
	}
	if (irq >= 8)
		cascade(p);
}

int pic_pending(const struct pic *p)
{
	return chip_request(&p->chip[0]) < 8;
}

static void chip_accept(struct pic_chip *c, int ir)
{
	uint8_t bit = 1u << ir;

	if (!(c->elcr & bit))
		c->irr &= ~bit;
	if (!c->auto_eoi)
		c->isr |= bit;
}

int pic_ack(struct pic *p)
{
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	int ir = chip_request(m);

	if (ir == 8)
		return m->base | 7; /* the request went away: a spurious IR7 */
	if (ir != 2) {
		chip_accept(m, ir);
		return m->base | ir;
	}
	if (!m->auto_eoi)
		m->isr |= 1u << 2;
	int sir = chip_request(s);
	int vec = sir == 8 ? (s->base | 7) : (s->base | sir);
	if (sir != 8)
		chip_accept(s, sir);
	cascade(p);
	return vec;
}

static void chip_write(struct pic *p, struct pic_chip *c, int a0, uint8_t v)
{
	if (!a0 && (v & 0x10)) { /* ICW1 */
		c->init_step = 2;
		c->need_icw4 = v & 1;
		c->imr = 0;
		c->isr = 0;
		c->irr = 0;
		c->read_isr = 0;
		c->auto_eoi = 0;
		return;
	}
	if (a0) {
		switch (c->init_step) {
		case 2: /* ICW2: bits 7..3 of the vectors */
			c->base = v & 0xf8;
			c->init_step = 3; /* ICW3 follows: the PC cascades (ICW1.SNGL = 0) */
			return;
		case 3:
			c->init_step = c->need_icw4 ? 4 : 0;
			return;
		case 4:
			c->auto_eoi = (v >> 1) & 1;
			c->init_step = 0;
			return;
		default: /* OCW1 */
			c->imr = v;
			break;
		}
	} else if ((v & 0x18) == 0x00) { /* OCW2 */
		switch (v & 0xe0) {
		case 0x20: /* non-specific EOI */
		case 0xa0: /* rotate on non-specific EOI: rotation not modelled */
			c->isr &= ~((1u << first_bit(c->isr)) & 0xff);
			break;
		case 0x60: /* specific EOI */
		case 0xe0:
			c->isr &= ~(1u << (v & 7));
			break;
		}
	} else if ((v & 0x18) == 0x08) { /* OCW3 */
		if (v & 2)
			c->read_isr = v & 1;
	}
	if (c == &p->chip[1])
		cascade(p);
}

static uint32_t pic_io_in(void *dev, uint16_t port, int size)
{
	struct pic *p = dev;

	if (port == 0x4d0 || port == 0x4d1)
		return p->chip[port & 1].elcr;
	struct pic_chip *c = &p->chip[port >= 0xa0];
	if (port & 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

static void pic_io_out(void *dev, uint16_t port, int size, uint32_t value)
{
	struct pic *p = dev;

	if (port == 0x4d0 || port == 0x4d1) {
		/* IR0-2 of the master and IR0 and IR5 of the slave are edge-only on PIIX. */
		p->chip[port & 1].elcr = value & (port == 0x4d0 ? 0xf8 : 0xde);
		return;
	}
	chip_write(p, &p->chip[port >= 0xa0], port & 1, (uint8_t)value);
}

/* The bus handler (bus.h). */
static int pic_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	if (write)
		pic_io_out(dev, (uint16_t)port, (int)size, (uint32_t)*value);
	else
		*value = pic_io_in(dev, (uint16_t)port, (int)size);
	return 0;
}

int pic_register(struct pic *dev, struct bus *b)
{
	return bus_register(b, BUS_PIO, 0x20, 2, pic_access, dev) |
	       bus_register(b, BUS_PIO, 0xa0, 2, pic_access, dev) |
	       bus_register(b, BUS_PIO, 0x4d0, 2, pic_access, dev);
}
