// SPDX-License-Identifier: MIT
/*
 * The bus (bus.h has the API for device models): per space, the claimed ranges in a short
 * array scanned linearly, with the range hit last tried first. A boot makes tens of thousands
 * of port exits in runs on one device (the UART's THR/LSR per console byte), so the common
 * case is one comparison; the table has a few dozen entries at most.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "vmm.h"

void bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
}

int bus_register(struct bus *b, enum bus_space space, uint64_t first, uint64_t len, bus_fn fn,
		 void *dev)
{
	uint64_t last = first + len - 1;

	if ((unsigned)space >= BUS_SPACES || !len || !fn || last < first)
		return -1;
	struct bus_table *t = &b->space[space];
	if (t->count == BUS_RANGES)
		return -1;
	for (unsigned i = 0; i < t->count; i++)
		if (first <= t->range[i].last && t->range[i].first <= last)
			return -1;
	t->range[t->count++] = (struct bus_range){ first, last, fn, dev };
	return 0;
}

static const struct bus_range *find(struct bus_table *t, uint64_t addr)
{
	const struct bus_range *r = t->last_hit;

	if (r && addr >= r->first && addr <= r->last)
		return r;
	for (unsigned i = 0; i < t->count; i++) {
		r = &t->range[i];
		if (addr >= r->first && addr <= r->last)
			return t->last_hit = r;
	}
	return NULL;
}

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

int bus_access(struct bus *b, enum bus_space space, uint64_t addr, unsigned size, int write,
	       uint64_t *value)
{
	struct bus_table *t = &b->space[space];
	const struct bus_range *r = find(t, addr);
	uint64_t mask = space == BUS_MSR ? ~0ULL : ones(size);
	int err;

	if (write)
		*value &= mask;
	if (!r) {
		t->unowned++;
		t->last_unowned = addr;
		err = BUS_UNOWNED;
	} else {
		err = r->fn(r->dev, addr, size, write, value) ? BUS_REFUSED : 0;
		if (err)
			t->refused++;
		else
			t->handled++;
	}
	if (!write)
		*value = err ? (space == BUS_MSR ? 0 : mask) : *value & mask;
	return err;
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
