/* SPDX-License-Identifier: MIT */
#ifndef VMM_UART_H
#define VMM_UART_H

#include <stdint.h>

#include "bus.h"

#define UART_FIFO 16

/* A 16550A. Transmission is instantaneous: THR is always empty again after a write. */
struct uart {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t rx[UART_FIFO];
	unsigned rx_head, rx_count;
	uint8_t thre_pending; /* THR-empty interrupt condition, cleared by IIR read or THR write */
	uint8_t irq_level;
	/* Where transmitted bytes go, and the interrupt line (to the PIC's IRQ4). */
	void (*tx)(void *ctx, uint8_t byte);
	void (*set_irq)(void *ctx, int level);
	void *ctx;
};

/* A UART after reset, sending bytes to @tx and its interrupt to @set_irq. */
void uart_init(struct uart *u, void (*tx)(void *, uint8_t), void (*set_irq)(void *, int),
	       void *ctx);
/* Registers COM1's ports 0x3f8-0x3ff. */
int uart_register(struct uart *u, struct bus *b);
/* Room left in the receive FIFO. */
unsigned uart_rx_room(const struct uart *u);
/* Queues received bytes; returns how many fitted. */
unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len);

/* Register offsets and bits (PC16550D datasheet). */
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI 0x08
#define UART_IIR_NONE 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO 0xc0
#define UART_LCR_DLAB 0x80
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#endif
