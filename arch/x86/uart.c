// SPDX-License-Identifier: MIT
/*
 * COM1, a 16550A at I/O port 0x3f8. Output is polled; input is polled until the console asks
 * for the receive interrupt (IRQ 4).
 */
#include <arch/x86/asm.h>
#include <arch/x86/uart.h>

#define COM1 0x3f8
#define UART_RBR 0 /* receive buffer (read, DLAB=0) */
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor high (DLAB=1) */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define IER_RX 0x01
#define MCR_DTR_RTS 0x03
#define MCR_OUT2 0x08 /* gates the interrupt line on a PC */

void uart_init(void)
{
	outb(COM1 + UART_IER, 0); /* polled: no interrupts */
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1); /* 115200 / 1 */
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, 0x07); /* enable and clear both FIFOs */
	outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

void uart_putc(char c)
{
	/* Bounded wait: a missing UART (LSR reads 0xff or 0) must not hang the kernel. */
	for (int spin = 0; spin < 100000; spin++)
		if (inb(COM1 + UART_LSR) & LSR_THR_EMPTY)
			break;
	outb(COM1 + UART_THR, (u8)c);
}

int uart_getc(void)
{
	u8 lsr = inb(COM1 + UART_LSR);

	if (lsr == 0xff || !(lsr & LSR_DATA_READY))
		return -1;
	return inb(COM1 + UART_RBR);
}

void uart_enable_rx_irq(void)
{
	outb(COM1 + UART_MCR, MCR_DTR_RTS | MCR_OUT2);
	outb(COM1 + UART_IER, IER_RX);
}
