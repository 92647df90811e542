// SPDX-License-Identifier: MIT
/*
 * Fixed-function PC ports.
 *   0x80        POST codes: dropped (reads all ones like any unclaimed port).
 *   0xcf9       the PIIX reset control register: bit 2 set resets. (PCI configuration,
 *               0xcf8 and 0xcfc-0xcff around it, is pci.c's.)
 *   0x60, 0x64  the 8042 keyboard controller, present only for its reset pulse (command 0xfe
 *               to 0x64). Status reads 0: input buffer empty, so Linux's reset path writes
 *               without waiting; no keyboard data is ever available.
 *   VMM_DEBUG_PORT the guest's verdict (vmm.h): a 1-, 2- or 4-byte write ends the VM at once.
 * The PIT (0x40-0x43) and port B (0x61) are pit.c's.
 */
#include "ports.h"
#include "vmm.h"

void ports_init(struct ports *p)
{
	*p = (struct ports){ .verdict = -1 };
}

static uint32_t ports_io_in(void *dev, uint16_t port, int size)
{
	struct ports *p = dev;

	switch (port) {
	case 0xcf9:
		return p->cf9;
	case 0x60:
	case 0x64:
		return 0;
	default:
		return 0xffffffff;
	}
}

static void ports_io_out(void *dev, uint16_t port, int size, uint32_t value)
{
	struct ports *p = dev;

	switch (port) {
	case 0x80:
		p->post_writes++;
		break;
	case 0xcf9:
		if (value & 0x04)
			p->reset = 0xcf9;
		p->cf9 = value & 0x0a;
		break;
	case 0x64:
		if ((value & 0xff) == 0xfe)
			p->reset = 0x64;
		break;
	case VMM_DEBUG_PORT:
		/* The bus has masked @value to the write's width. */
		p->verdict = (int)MIN(value, (uint32_t)VMM_VERDICT_MAX);
		p->debug_exit = 1;
		break;
	}
}

int ports_status(const struct ports *p)
{
	return p->verdict > 0 ? VMM_EXIT_VERDICT + p->verdict : VMM_EXIT_POWEROFF;
}

/* The bus handler (bus.h). */
static int ports_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	if (write)
		ports_io_out(dev, (uint16_t)port, (int)size, (uint32_t)*value);
	else
		*value = ports_io_in(dev, (uint16_t)port, (int)size);
	return 0;
}

int ports_register(struct ports *dev, struct bus *b)
{
	return bus_register(b, BUS_PIO, 0x60, 1, ports_access, dev) |
	       bus_register(b, BUS_PIO, 0x64, 1, ports_access, dev) |
	       bus_register(b, BUS_PIO, 0x80, 1, ports_access, dev) |
	       bus_register(b, BUS_PIO, VMM_DEBUG_PORT, 1, ports_access, dev) |
	       bus_register(b, BUS_PIO, 0xcf9, 1, ports_access, dev);
}
