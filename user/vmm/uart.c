// SPDX-License-Identifier: MIT
/*
 * COM1 as a 16550A (National PC16550D datasheet). What the Linux 8250 driver probes and uses:
 * IER keeps its low four bits (the probe writes 0x0f and expects it back); IIR reports the
 * highest-priority source (received data, then THR empty) with bits 7:6 set once the FIFO is
 * enabled; reading IIR while it reports THR empty clears that condition, as does a THR write;
 * setting IER.ETBEI with THR empty raises the THR-empty interrupt at once; LSR never reads 0xff;
 * loopback (MCR bit 4) feeds THR into the receiver and the modem outputs into MSR. The
 * interrupt reaches the PIC only with MCR.OUT2 set, as on the PC.
 */
#include <string.h>

#include "uart.h"
#include "vmm.h"

void uart_init(struct uart *u, void (*tx)(void *, uint8_t), void (*set_irq)(void *, int), void *ctx)
{
	memset(u, 0, sizeof(*u));
	u->dll = 0x0c; /* 9600 baud */
	u->tx = tx;
	u->set_irq = set_irq;
	u->ctx = ctx;
}

unsigned uart_rx_room(const struct uart *u)
{
	/* Without the FIFO the receiver holds one byte. */
	unsigned size = (u->fcr & 1) ? UART_FIFO : 1;

	return u->rx_count < size ? size - u->rx_count : 0;
}

static uint8_t iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & 1) ? UART_IIR_FIFO : 0;

	if ((u->ier & UART_IER_RDI) && u->rx_count)
		return fifo | UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thre_pending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NONE;
}

static void update_irq(struct uart *u)
{
	int level = !(iir(u) & UART_IIR_NONE) && (u->mcr & UART_MCR_OUT2);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->set_irq)
			u->set_irq(u->ctx, level);
	}
}

static unsigned rx_push(struct uart *u, uint8_t b)
{
	if (!uart_rx_room(u))
		return 0; /* overrun: the byte is lost, as on the chip */
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO] = b;
	u->rx_count++;
	return 1;
}

unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len)
{
	unsigned n = 0;

	if (u->mcr & UART_MCR_LOOP)
		return 0; /* in loopback the receiver is disconnected from the line */
	while (n < len && rx_push(u, buf[n]))
		n++;
	update_irq(u);
	return n;
}

static uint8_t modem_status(const struct uart *u)
{
	if (!(u->mcr & UART_MCR_LOOP))
		return 0xb0; /* DCD, DSR, CTS: a terminal is attached */
	/* Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	return ((u->mcr & 1) << 5) | ((u->mcr & 2) << 3) | ((u->mcr & 4) << 4) |
	       ((u->mcr & 8) << 4);
}

static uint32_t uart_io_in(void *dev, uint16_t port, int size)
{
	struct uart *u = dev;
	uint8_t v = 0;

	switch (port & 7) {
	case UART_RBR:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO;
			u->rx_count--;
		}
		break;
	case UART_IER:
		return (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		v = iir(u);
		if ((v & 0x0f) == UART_IIR_THRI)
			u->thre_pending = 0;
		break;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return (u->rx_count ? UART_LSR_DR : 0) | UART_LSR_THRE | UART_LSR_TEMT;
	case UART_MSR:
		return modem_status(u);
	case UART_SCR:
		return u->scr;
	}
	update_irq(u);
	return v;
}

static void uart_io_out(void *dev, uint16_t port, int size, uint32_t value)
{
	struct uart *u = dev;
	uint8_t v = value;

	switch (port & 7) {
	case UART_THR:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = v;
			return;
		}
		if (u->mcr & UART_MCR_LOOP)
			rx_push(u, v);
		else if (u->tx)
			u->tx(u->ctx, v);
		u->thre_pending = 1; /* sent at once: THR is empty again */
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = v;
			return;
		}
		if ((v & UART_IER_THRI) && !(u->ier & UART_IER_THRI))
			u->thre_pending = 1;
		u->ier = v & 0x0f;
		break;
	case UART_FCR:
		if (v & 2) {
			u->rx_head = 0;
			u->rx_count = 0;
		}
		u->fcr = v & 0xc9; /* enable, DMA mode, trigger level */
		if (!(v & 1))
			u->fcr = 0;
		break;
	case UART_LCR:
		u->lcr = v;
		return;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		return;
	default: /* LSR and MSR are read-only */
		return;
	}
	update_irq(u);
}

/* The bus handler (bus.h). */
static int uart_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	if (write)
		uart_io_out(dev, (uint16_t)port, (int)size, (uint32_t)*value);
	else
		*value = uart_io_in(dev, (uint16_t)port, (int)size);
	return 0;
}

int uart_register(struct uart *dev, struct bus *b)
{
	return bus_register(b, BUS_PIO, 0x3f8, 8, uart_access, dev);
}
