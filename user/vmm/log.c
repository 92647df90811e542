// SPDX-License-Identifier: MIT
/* The VMM's own messages (vmm.h). */
#include <stdarg.h>
#include <stdio.h>

#include "vmm.h"

static void (*before_hook)(void *ctx);
static void *before_ctx;

void vmm_log_before(void (*hook)(void *ctx), void *ctx)
{
	before_hook = hook;
	before_ctx = ctx;
}

void vmm_log(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "vmm: ");

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (before_hook)
		before_hook(before_ctx);
	fwrite(buf, 1, n, stderr);
}
