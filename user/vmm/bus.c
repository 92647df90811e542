// SPDX-License-Identifier: MIT
/*
 * The bus (bus.h has the API for device models): per space, the claimed ranges in a short
 * array scanned linearly. A dozen ranges cost ~25 ns per access on the host (a "last range hit
 * first" cache saved a few ns of that: ~1 ms over a boot's ~50k port exits, each of which costs
 * microseconds of exit and entry, so it went).
 */
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

int bus_unregister(struct bus *b, enum bus_space space, uint64_t first, void *dev)
{
	if ((unsigned)space >= BUS_SPACES)
		return -1;
	struct bus_table *t = &b->space[space];
	for (unsigned i = 0; i < t->count; i++) {
		if (t->range[i].first == first && t->range[i].dev == dev) {
			t->range[i] = t->range[--t->count];
			return 0;
		}
	}
	return -1;
}

static const struct bus_range *find(const struct bus_table *t, uint64_t addr)
{
	for (unsigned i = 0; i < t->count; i++)
		if (addr >= t->range[i].first && addr <= t->range[i].last)
			return &t->range[i];
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
