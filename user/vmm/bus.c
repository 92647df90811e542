// SPDX-License-Identifier: MIT
/*
 * The dispatch tables: ports and MSRs to the device that registered them. A dozen ranges, so a
 * linear scan; the most recently hit range is tried first because exits come in runs (the
 * UART's THR/LSR, the APIC's EOI).
 */
#include <stdarg.h>
#include <stdio.h>

#include "vmm.h"

#define IO_MAX 32
#define MSR_MAX 16

static const struct io_range *io_table[IO_MAX];
static const struct msr_range *msr_table[MSR_MAX];
static int io_count, msr_count;
static const struct io_range *io_last;
static const struct msr_range *msr_last;

struct bus_stats bus_stats;

void bus_reset(void)
{
	io_count = msr_count = 0;
	io_last = NULL;
	msr_last = NULL;
	bus_stats = (struct bus_stats){ 0 };
}

int io_register(const struct io_range *r)
{
	if (io_count == IO_MAX || r->first > r->last)
		return -1;
	for (int i = 0; i < io_count; i++)
		if (r->first <= io_table[i]->last && io_table[i]->first <= r->last)
			return -1;
	io_table[io_count++] = r;
	return 0;
}

int msr_register(const struct msr_range *r)
{
	if (msr_count == MSR_MAX || r->first > r->last)
		return -1;
	for (int i = 0; i < msr_count; i++)
		if (r->first <= msr_table[i]->last && msr_table[i]->first <= r->last)
			return -1;
	msr_table[msr_count++] = r;
	return 0;
}

static const struct io_range *io_find(uint16_t port)
{
	if (io_last && port >= io_last->first && port <= io_last->last)
		return io_last;
	for (int i = 0; i < io_count; i++)
		if (port >= io_table[i]->first && port <= io_table[i]->last)
			return io_last = io_table[i];
	bus_stats.io_unowned++;
	bus_stats.last_unowned_port = port;
	return NULL;
}

uint32_t io_in(uint16_t port, int size)
{
	const struct io_range *r = io_find(port);
	uint32_t ones = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;

	if (!r || !r->in)
		return ones;
	return r->in(r->dev, port, size) & ones;
}

void io_out(uint16_t port, int size, uint32_t value)
{
	const struct io_range *r = io_find(port);

	if (r && r->out)
		r->out(r->dev, port, size, value);
}

static const struct msr_range *msr_find(uint32_t index)
{
	if (msr_last && index >= msr_last->first && index <= msr_last->last)
		return msr_last;
	for (int i = 0; i < msr_count; i++)
		if (index >= msr_table[i]->first && index <= msr_table[i]->last)
			return msr_last = msr_table[i];
	bus_stats.msr_unowned++;
	bus_stats.last_unowned_msr = index;
	return NULL;
}

int msr_read(uint32_t index, uint64_t *value)
{
	const struct msr_range *r = msr_find(index);

	*value = 0;
	return r && r->rd ? r->rd(r->dev, index, value) : -1;
}

int msr_write(uint32_t index, uint64_t value)
{
	const struct msr_range *r = msr_find(index);

	return r && r->wr ? r->wr(r->dev, index, value) : -1;
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
	fwrite(buf, 1, n, stderr);
}
