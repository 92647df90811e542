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

int console_getc(void)
{
	int c;

	while ((c = uart_getc()) < 0)
		__builtin_ia32_pause();
	return c;
}

int console_trygetc(void)
{
	return uart_getc();
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
