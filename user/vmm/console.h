/* SPDX-License-Identifier: MIT */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_BUF 4096

#define CONSOLE_LINE 160 /* bytes of a guest line kept for the panic watch */

/*
 * Guest output on its way to Dyad's console, written in batches: a write when the buffer is
 * full, or when its oldest byte has waited CONSOLE_DELAY_US. Also watches the output for the
 * guest's banner and for a Linux panic, and knows whether the guest's output so far ends in
 * the middle of a line (so that the VMM's own lines can start on a fresh one).
 */
struct console {
	int fd;
	char buf[CONSOLE_BUF];
	size_t len;
	uint64_t due; /* TSC by which the buffer must be written; 0 if empty */
	uint64_t delay_tsc; /* CONSOLE_DELAY_US in TSC ticks */
	const char *banner;
	size_t matched;
	uint64_t banner_tsc; /* TSC when the banner was complete, 0 before */
	int mid_line; /* the last byte queued was not a newline */
	char line[CONSOLE_LINE]; /* the current line, cut at CONSOLE_LINE - 1 bytes */
	size_t line_len;
	char panic[CONSOLE_LINE]; /* the first "Kernel panic - not syncing" line, from there on */
	uint64_t panic_tsc; /* TSC when that line ended, 0 if none */
	int panic_end; /* Linux's "---[ end Kernel panic" line came too */
	unsigned long writes, bytes;
};

#define CONSOLE_PANIC "Kernel panic - not syncing"
#define CONSOLE_PANIC_END "---[ end Kernel panic"

#define CONSOLE_DELAY_US 10000

/* A console writing to @fd, with @tsc_khz to convert its delay, watching for @banner. */
void console_init(struct console *c, int fd, uint64_t tsc_khz, const char *banner);
/* Queues one byte the guest sent at TSC @now. */
void console_put(struct console *c, uint8_t byte, uint64_t now);
/* Writes out what is queued. */
void console_flush(struct console *c);
/* Writes out what is queued and, if the guest's output ends inside a line, a newline: what the
 * VMM writes next starts a line of its own. */
void console_end_line(struct console *c);

#endif
