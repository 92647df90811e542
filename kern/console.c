// SPDX-License-Identifier: MIT
/*
 * printf and the console on top of the serial line. Input is interrupt-driven once
 * console_input_init() ran: the UART's receive interrupt moves every waiting byte into a
 * ring buffer, so nothing is lost while a process or a guest runs and readers can sleep.
 * Before that (and if no I/O APIC routes the interrupt) readers poll the UART themselves.
 */
#include <arch/x86/asm.h>
#include <arch/x86/ioapic.h>
#include <arch/x86/trap.h>
#include <arch/x86/uart.h>
#include <dyad/console.h>
#include <dyad/printf.h>
#include <dyad/spinlock.h>
#include <dyad/time.h>

#define RX_RING 4096 /* a power of two */
#define CONSOLE_RX_VECTOR 0x24

static struct spinlock console_lock = SPINLOCK_INIT;

/* Written by the interrupt handler (head) and by readers with interrupts off (tail). */
static struct {
	u8 buf[RX_RING];
	volatile u32 head, tail;
	u64 dropped;
	bool irq; /* the receive interrupt is on */
} rx;

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

/* Moves every byte the UART holds into the ring. Interrupts off. */
static void rx_drain(void)
{
	int c;

	while ((c = uart_getc()) >= 0) {
		if (rx.head - rx.tail == RX_RING) {
			rx.dropped++;
			continue;
		}
		rx.buf[rx.head % RX_RING] = (u8)c;
		rx.head++;
	}
}

static void console_rx_irq(struct trap_frame *tf)
{
	rx_drain();
	lapic_eoi();
}

void console_input_init(void)
{
	trap_set_irq_handler(CONSOLE_RX_VECTOR, console_rx_irq);
	if (!ioapic_route(UART_IRQ, CONSOLE_RX_VECTOR)) {
		printf("console: no I/O APIC: serial input stays polled\n");
		return;
	}
	uart_enable_rx_irq();
	rx.irq = true;
}

int console_trygetc(void)
{
	u64 flags = read_rflags();
	int c = -1;

	irq_disable();
	if (!rx.irq || rx.head == rx.tail)
		rx_drain(); /* polled input, or a byte the interrupt has not moved yet */
	if (rx.head != rx.tail) {
		c = rx.buf[rx.tail % RX_RING];
		rx.tail++;
	}
	if (flags & BIT(9))
		irq_enable();
	return c;
}

bool console_input_waiting(void)
{
	u64 flags = read_rflags();
	bool waiting;

	irq_disable();
	if (!rx.irq)
		rx_drain();
	waiting = rx.head != rx.tail;
	if (flags & BIT(9))
		irq_enable();
	return waiting;
}

int console_getc(void)
{
	int c;

	while ((c = console_trygetc()) < 0) {
		if (!rx.irq || !(read_rflags() & BIT(9))) {
			cpu_relax();
			continue;
		}
		/* Sleep until the receive interrupt (or the timer): no wake-up lost in between. */
		irq_disable();
		if (rx.head == rx.tail)
			__asm__ volatile("sti; hlt" : : : "memory");
		irq_enable();
	}
	return c;
}

int vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;

	spin_lock(&console_lock);
	console_write(buf, len);
	spin_unlock(&console_lock);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
