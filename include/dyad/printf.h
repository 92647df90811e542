/* SPDX-License-Identifier: MIT */
#ifndef DYAD_PRINTF_H
#define DYAD_PRINTF_H

#include <stdarg.h>
#include <dyad/types.h>

#ifdef HOST_BUILD
/* Host builds keep the C library's functions and test the kernel's under other names. */
#define vsnprintf kern_vsnprintf
#define snprintf kern_snprintf
#endif

/*
 * Formatting: %d %i %u %x %X %o %c %s %p %% with flags '-', '0', '+', ' ', '#', a width and
 * precision (or '*'), and length modifiers hh h l ll z t j. Returns the length the full output
 * would have, like C99 snprintf.
 */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

/* Kernel console output (serial). */
int printf(const char *fmt, ...) __printf(1, 2);
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

__noreturn void panic(const char *fmt, ...) __printf(1, 2);

#define BUG_ON(cond)                                                                      \
	do {                                                                              \
		if (unlikely(cond))                                                       \
			panic("BUG_ON(%s) at %s:%d", #cond, __FILE__, __LINE__);           \
	} while (0)

#endif
