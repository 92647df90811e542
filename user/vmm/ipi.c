// SPDX-License-Identifier: MIT
/* Interprocessor-interrupt destinations: see ipi.h. */
#include "ipi.h"

static int matches(const struct ipi_cpu *c, uint32_t low, uint32_t dest, int x2apic)
{
	if (!ICR_LOGICAL(low)) {
		if (x2apic)
			return dest == 0xffffffffu || c->id == dest;
		return (dest & 0xff) == 0xff || (c->id & 0xff) == (dest & 0xff);
	}
	if (x2apic) {
		if (dest == 0xffffffffu)
			return 1;
		return (c->ldr >> 16) == (dest >> 16) && (c->ldr & dest & 0xffff) != 0;
	}
	return ((c->ldr >> 24) & dest & 0xff) != 0;
}

uint64_t ipi_targets(const struct ipi_cpu *cpus, unsigned n, unsigned self, uint32_t low,
		     uint32_t dest, int x2apic)
{
	uint64_t all = n >= 64 ? ~0ULL : (1ULL << n) - 1, set = 0;

	if (n > IPI_MAX_CPUS || self >= n)
		return 0;
	switch (ICR_SHORTHAND(low)) {
	case ICR_SH_SELF:
		return 1ULL << self;
	case ICR_SH_ALL:
		return all;
	case ICR_SH_OTHERS:
		return all & ~(1ULL << self);
	}
	for (unsigned i = 0; i < n; i++)
		if (matches(&cpus[i], low, dest, x2apic))
			set |= 1ULL << i;
	if (ICR_MODE(low) == ICR_DM_LOWEST && set)
		set &= -set; /* as fixed, to one: the lowest-numbered match */
	return set;
}
