/* SPDX-License-Identifier: MIT */
#ifndef DYAD_CONSOLE_H
#define DYAD_CONSOLE_H

#include <dyad/types.h>

/* The kernel console: serial output with \n -> \r\n, serial input. */
void console_write(const char *s, size_t n);
/* Blocks until a byte arrives. */
int console_getc(void);
/* The next received byte, or -1 if none is waiting. */
int console_trygetc(void);
/* True when console_trygetc() would return a byte. */
bool console_input_waiting(void);

#endif
