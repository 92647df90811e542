// SPDX-License-Identifier: MIT
/*
 * printf and the console on top of the serial line. Input is interrupt-driven once
 * console_input_init() ran: the UART's receive interrupt moves every waiting byte into a
 * ring buffer, so nothing is lost while a process or a guest runs, and readers block (their
 * thread sleeps until the interrupt wakes it). Before that (and if no I/O APIC routes the
 * interrupt) readers poll the UART themselves.
 *
 * Output is one lock (console_lock), so lines from several CPUs do not interleave within a
 * write; input is another (rx_lock), shared by the interrupt and readers on any CPU. Both are
 * taken with interrupts off.
 */
#include <arch/x86/asm.h>
#include <arch/x86/ioapic.h>
#include <arch/x86/trap.h>
#include <arch/x86/uart.h>
#include <dyad/console.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/spinlock.h>
#include <dyad/time.h>

#define RX_RING 4096 /* a power of two */
#define CONSOLE_RX_VECTOR 0x24

static struct spinlock console_lock = SPINLOCK_INIT;
static struct spinlock rx_lock = SPINLOCK_INIT;
static struct waitq rx_waiters = WAITQ_INIT;

/* Written by the interrupt handler (head) and by readers (tail), under rx_lock. */
static struct {
	u8 buf[RX_RING];
	volatile u32 head, tail;
	u64 dropped;
	bool irq; /* the receive interrupt is on */
} rx;

static void write_unlocked(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

void console_write(const char *s, size_t n)
{
	u64 flags = spin_lock_irqsave(&console_lock);

	write_unlocked(s, n);
	spin_unlock_irqrestore(&console_lock, flags);
}

/* Moves every byte the UART holds into the ring. rx_lock held. */
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
	spin_lock(&rx_lock);
	rx_drain();
	spin_unlock(&rx_lock);
	lapic_eoi();
	waitq_wake_all(&rx_waiters);
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
	u64 flags = spin_lock_irqsave(&rx_lock);
	int c = -1;

	if (!rx.irq || rx.head == rx.tail)
		rx_drain(); /* polled input, or a byte the interrupt has not moved yet */
	if (rx.head != rx.tail) {
		c = rx.buf[rx.tail % RX_RING];
		rx.tail++;
	}
	spin_unlock_irqrestore(&rx_lock, flags);
	return c;
}

bool console_input_waiting(void)
{
	u64 flags = spin_lock_irqsave(&rx_lock);
	bool waiting;

	if (!rx.irq)
		rx_drain();
	waiting = rx.head != rx.tail;
	spin_unlock_irqrestore(&rx_lock, flags);
	return waiting;
}

void console_wait_input(u64 deadline_ns)
{
	struct waitq_entry e;

	if (!rx.irq || !thread_current()) {
		cpu_relax(); /* polled input: the caller polls again */
		return;
	}
	sched_prepare_block();
	waitq_add(&rx_waiters, &e);
	if (!console_input_waiting())
		sched_block(deadline_ns);
	waitq_del(&rx_waiters, &e);
}

int console_getc(void)
{
	int c;

	while ((c = console_trygetc()) < 0) {
		struct proc *p = proc_current;
		if (p && __atomic_load_n(&p->killed, __ATOMIC_ACQUIRE))
			return -1; /* the thread is ending: no byte is taken from the others */
		console_wait_input(0);
	}
	return c;
}

int vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;

	u64 flags = spin_lock_irqsave(&console_lock);

	write_unlocked(buf, len);
	spin_unlock_irqrestore(&console_lock, flags);
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
