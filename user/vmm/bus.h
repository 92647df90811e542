/* SPDX-License-Identifier: MIT */
#ifndef VMM_BUS_H
#define VMM_BUS_H

/*
 * The VMM's two core services for device models: the bus and the checked guest-memory accessor.
 *
 * THE BUS. A device claims ranges of one space (I/O ports, guest-physical MMIO addresses or
 * MSR indexes) with one call per range:
 *
 *	bus_register(bus, BUS_PIO, 0x3f8, 8, uart_access, uart);
 *
 * and from then on every guest access inside the range calls
 *
 *	int uart_access(void *dev, uint64_t addr, unsigned size, int write, uint64_t *value);
 *
 * with @dev the pointer given at registration (the device's own state), @addr the absolute
 * port, address or MSR index (not an offset), @size the access width in bytes (1, 2, 4 or 8;
 * 8 for an MSR), @write 1 for OUT/store/WRMSR with the value in *@value, 0 for IN/load/RDMSR,
 * which fills *@value. Return 0, or -1 to refuse: an MSR access then takes #GP, an MMIO
 * access is reported and ends as if nothing were there (reads all ones), a port access reads
 * all ones. A device never masks to @size nor counts unowned accesses: the bus does.
 * Ranges of one space may not overlap (bus_register returns -1: a VMM bug, reported at start).
 * Register from the device's `foo_register(struct foo *, struct bus *)`, called in main.c's
 * devices_init; nothing else is needed.
 *
 * GUEST MEMORY. Guest RAM is [0, ram->size) of the VMM's own address space. Every guest
 * address the VMM dereferences goes through one check:
 *
 *	void *p;
 *	if (gpa_ptr(&m->ram, gpa, size, &p))
 *		return -1;	(some of [gpa, gpa + size) is not RAM: the guest's or image's fault)
 *
 * Guest-physical 0 is the VMM's address 0, so the pointer itself may be NULL: test the return
 * value, never the pointer. A size of 0 is refused (no caller has a reason to ask for nothing,
 * and a length computed as 0 is a bug better caught here), and so is a range that wraps.
 */

#include <stdint.h>

enum bus_space { BUS_PIO, BUS_MMIO, BUS_MSR, BUS_SPACES };

/* A device's handler: see above. */
typedef int (*bus_fn)(void *dev, uint64_t addr, unsigned size, int write, uint64_t *value);

#define BUS_RANGES 32 /* per space */

struct bus_range {
	uint64_t first, last;
	bus_fn fn;
	void *dev;
};

/* The ranges of one space, and what reached no device. */
struct bus_table {
	struct bus_range range[BUS_RANGES];
	unsigned count;
	unsigned long handled, unowned, refused;
	uint64_t last_unowned;
};

struct bus {
	struct bus_table space[BUS_SPACES];
};

/* Results of bus_access besides 0. */
#define BUS_REFUSED (-1) /* the device returned -1 */
#define BUS_UNOWNED (-2) /* no device claims the address */

/* An empty bus. */
void bus_init(struct bus *b);

/*
 * Claims [@first, @first + @len) of @space for @fn with @dev. Returns 0, or -1 when @len is 0,
 * the range wraps, overlaps a range already claimed, or the space's table is full.
 */
int bus_register(struct bus *b, enum bus_space space, uint64_t first, uint64_t len, bus_fn fn,
		 void *dev);

/*
 * Releases the range of @space starting at @first that @dev claimed (a PCI BAR the guest moves
 * or stops decoding). Returns 0, or -1 when there is no such range.
 */
int bus_unregister(struct bus *b, enum bus_space space, uint64_t first, void *dev);

/*
 * Performs one access (see above). Returns 0, BUS_REFUSED or BUS_UNOWNED. When a read fails,
 * *@value is all ones of @size for ports and MMIO, and 0 for an MSR. Port and MMIO values are
 * masked to @size both ways.
 */
int bus_access(struct bus *b, enum bus_space space, uint64_t addr, unsigned size, int write,
	       uint64_t *value);

/* Shorthands for the exit loop and the tests. */
static inline uint32_t bus_in(struct bus *b, uint16_t port, unsigned size)
{
	uint64_t v = 0;

	bus_access(b, BUS_PIO, port, size, 0, &v);
	return (uint32_t)v;
}

static inline void bus_out(struct bus *b, uint16_t port, unsigned size, uint32_t value)
{
	uint64_t v = value;

	bus_access(b, BUS_PIO, port, size, 1, &v);
}

/* RDMSR/WRMSR: 0, or -1 for a #GP (unowned or refused). */
static inline int bus_rdmsr(struct bus *b, uint32_t index, uint64_t *value)
{
	return bus_access(b, BUS_MSR, index, 8, 0, value) ? -1 : 0;
}

static inline int bus_wrmsr(struct bus *b, uint32_t index, uint64_t value)
{
	return bus_access(b, BUS_MSR, index, 8, 1, &value) ? -1 : 0;
}

/*
 * Guest RAM as the VMM sees it: guest-physical X at base + X. It lies in two parts around the
 * 32-bit MMIO hole: [0, size) below it and [GUEST_RAM_HIGH, GUEST_RAM_HIGH + high) above 4 GiB.
 */
#define GUEST_RAM_HIGH (4ULL << 30)
struct guest_ram {
	uint8_t *base;
	uint64_t size; /* below the hole: what the boot structures, kernel and initrd go in */
	uint64_t high; /* above 4 GiB */
};

/*
 * Sets *@p to the VMM's address of the @size bytes at guest-physical @gpa and returns 0, or
 * returns -1 (leaving *@p alone) unless all of them are RAM. See above.
 */
static inline int gpa_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t size, void **p)
{
	uint64_t above = gpa - GUEST_RAM_HIGH;

	if (!size || ((gpa >= ram->size || size > ram->size - gpa) &&
		      (gpa < GUEST_RAM_HIGH || above >= ram->high || size > ram->high - above)))
		return -1;
	*p = (void *)((uintptr_t)ram->base + gpa);
	return 0;
}

#endif
