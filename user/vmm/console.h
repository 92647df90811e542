/* SPDX-License-Identifier: MIT */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_BUF 4096

/*
 * Guest output on its way to Dyad's console, written in batches: a write when the buffer is
 * full, or when its oldest byte has waited CONSOLE_DELAY_US. Also watches the output for the
 * guest's banner.
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
	unsigned long writes, bytes;
};

#define CONSOLE_DELAY_US 10000

/* A console writing to @fd, with @tsc_khz to convert its delay, watching for @banner. */
void console_init(struct console *c, int fd, uint64_t tsc_khz, const char *banner);
/* Queues one byte the guest sent at TSC @now. */
void console_put(struct console *c, uint8_t byte, uint64_t now);
/* Writes out what is queued. */
void console_flush(struct console *c);

#endif
