/* SPDX-License-Identifier: MIT */
#ifndef VMM_PIC_H
#define VMM_PIC_H

#include <stdint.h>

#include "bus.h"

/* One 8259A. */
struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t lines; /* input levels, for edge detection */
	uint8_t base; /* ICW2: vector of IR0 */
	uint8_t init_step; /* 0: ready; 2..4: expecting ICW2..ICW4 */
	uint8_t need_icw4, auto_eoi, read_isr, elcr;
};

/* The PC's master/slave pair: the slave's INT on the master's IR2. */
struct pic {
	struct pic_chip chip[2];
};

/* A pair as after power-on: everything masked until the guest initialises it. */
void pic_init(struct pic *p);
/* Registers ports 0x20-0x21, 0xa0-0xa1 and the ELCR at 0x4d0-0x4d1. */
int pic_register(struct pic *p, struct bus *b);
/* Drives ISA line @irq (0..15) to @level; an edge-triggered input latches on the rising edge. */
void pic_set_irq(struct pic *p, int irq, int level);
/* Whether the master's INT output is asserted (an unmasked request above what is in service). */
int pic_pending(const struct pic *p);
/* The INTA cycle: the vector to deliver, moving the request into service (spurious: IR7's). */
int pic_ack(struct pic *p);

#endif
