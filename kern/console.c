// SPDX-License-Identifier: MIT
/* printf and the console on top of the serial line. */
#include <arch/x86/uart.h>
#include <dyad/console.h>
#include <dyad/printf.h>
#include <dyad/spinlock.h>

static struct spinlock console_lock = SPINLOCK_INIT;

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

static int peeked = -1; /* a byte console_input_waiting() took from the UART */

int console_trygetc(void)
{
	int c = peeked;

	if (c >= 0) {
		peeked = -1;
		return c;
	}
	return uart_getc();
}

int console_getc(void)
{
	int c;

	while ((c = console_trygetc()) < 0)
		__builtin_ia32_pause();
	return c;
}

bool console_input_waiting(void)
{
	if (peeked < 0)
		peeked = uart_getc();
	return peeked >= 0;
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
