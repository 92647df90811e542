/* SPDX-License-Identifier: MIT */
#ifndef DYAD_CONSOLE_H
#define DYAD_CONSOLE_H

#include <dyad/types.h>

/* The kernel console: serial output with \n -> \r\n, serial input. */

/* Turns on interrupt-driven input (a receive ring filled by the UART's interrupt). */
void console_input_init(void);
void console_write(const char *s, size_t n);
/* Blocks until a byte arrives (sleeping, once input is interrupt-driven). */
int console_getc(void);
/* The next received byte, or -1 if none is waiting. */
int console_trygetc(void);
/* True when console_trygetc() would return a byte. */
bool console_input_waiting(void);
/*
 * Blocks the calling thread until input may be waiting or time_ns() reaches @deadline_ns (0:
 * none); may return early (a stray wake, polled input): callers check again.
 */
void console_wait_input(u64 deadline_ns);

#endif
