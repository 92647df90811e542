// SPDX-License-Identifier: MIT
/* Batched guest output (console.h). */
#include <string.h>
#include <unistd.h>

#include "console.h"

void console_init(struct console *c, int fd, uint64_t tsc_khz, const char *banner)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->delay_tsc = tsc_khz * CONSOLE_DELAY_US / 1000;
	c->banner = banner;
}

void console_flush(struct console *c)
{
	size_t done = 0;

	while (done < c->len) {
		ssize_t n = write(c->fd, c->buf + done, c->len - done);
		if (n <= 0)
			break; /* the console is gone: drop the output rather than stop the guest */
		done += (size_t)n;
		c->writes++;
	}
	c->bytes += c->len;
	c->len = 0;
	c->due = 0;
}

/* Advances the banner match by @b: on a mismatch, falls back to the longest prefix of the
 * banner that still ends the output (the banner is short: a quadratic search is cheap). */
static void watch(struct console *c, uint8_t b, uint64_t now)
{
	const char *p = c->banner;

	if (!p || c->banner_tsc)
		return;
	if ((uint8_t)p[c->matched] == b) {
		if (!p[++c->matched])
			c->banner_tsc = now ? now : 1;
		return;
	}
	/* The output ends with p[0..matched) then b: find the longest k with p[0..k) its tail. */
	for (size_t k = c->matched; k > 0; k--) {
		if ((uint8_t)p[k - 1] == b && !memcmp(p, p + c->matched - k + 1, k - 1)) {
			c->matched = k;
			return;
		}
	}
	c->matched = 0;
}

/* Collects the guest's lines; a finished line that holds a panic marker is kept. */
static void watch_line(struct console *c, uint8_t b, uint64_t now)
{
	if (b != '\n') {
		if (b != '\r' && c->line_len < CONSOLE_LINE - 1)
			c->line[c->line_len++] = (char)b;
		return;
	}
	c->line[c->line_len] = 0;
	c->line_len = 0;
	const char *p = strstr(c->line, CONSOLE_PANIC);
	if (p && !c->panic_tsc) {
		strcpy(c->panic, p); /* both CONSOLE_LINE bytes */
		c->panic_tsc = now ? now : 1;
	} else if (c->panic_tsc && strstr(c->line, CONSOLE_PANIC_END)) {
		c->panic_end = 1;
	}
}

void console_end_line(struct console *c)
{
	console_flush(c);
	if (c->mid_line && write(c->fd, "\n", 1) == 1)
		c->mid_line = 0;
}

void console_put(struct console *c, uint8_t byte, uint64_t now)
{
	watch(c, byte, now);
	watch_line(c, byte, now);
	c->mid_line = byte != '\n';
	if (c->len == CONSOLE_BUF)
		console_flush(c);
	if (!c->len)
		c->due = now + c->delay_tsc;
	c->buf[c->len++] = (char)byte;
}
