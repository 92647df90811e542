/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_UART_H
#define ARCH_X86_UART_H

#include <dyad/types.h>

/* The COM1 16550. 115200 8N1: Bochs paces the line in emulated time. */
void uart_init(void);
void uart_putc(char c);
/* Returns the next received byte, or -1 when none is waiting. */
int uart_getc(void);
/* Raises IRQ 4 whenever received data is waiting (the handler drains it with uart_getc). */
void uart_enable_rx_irq(void);
#define UART_IRQ 4

#endif
