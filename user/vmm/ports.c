// SPDX-License-Identifier: MIT
/*
 * Fixed-function PC ports.
 *   0x80        POST codes: dropped (reads all ones like any unclaimed port).
 *   0xcf8-0xcff PCI configuration mechanism #1 with no host bridge behind it: the address
 *               register keeps what is written, data reads all ones ("no device"), so Linux
 *               finds no PCI. 0xcf9 is the PIIX reset control register: bit 2 set resets.
 *   0x60, 0x64  the 8042 keyboard controller, present only for its reset pulse (command 0xfe
 *               to 0x64). Status reads 0: input buffer empty, so Linux's reset path writes
 *               without waiting; no keyboard data is ever available.
 *   0x40-0x43   the 8254 PIT, absent in effect: counters read 0 and writes are dropped.
 *               Linux's quick_pit_calibrate() reads channel 2 through 0x42 expecting the MSB to
 *               count down from 0xff; a constant 0 fails its first check at once instead of
 *               costing ~100k exits (the guest gets its TSC rate from CPUID or tsc_early_khz=).
 *               Only channel 2's output is modelled: once a count is written (any mode, taken
 *               as mode 0, the one-shot), OUT2 reads low in port B until that many 1.193182 MHz
 *               ticks have passed by the host TSC; a rising gate edge restarts the count. Small
 *               kernels (Dyad itself) measure their TSC and APIC timer against it.
 *   0x61        port B: bits 0-3 (PIT gate 2, speaker, parity and channel checks) keep what
 *               is written; bit 4 (refresh) toggles at every read, so delay loops that count
 *               its edges end; bit 5 is PIT channel 2's output, set while no count runs.
 *   VMM_DEBUG_PORT the guest's verdict (vmm.h): a 1-, 2- or 4-byte write ends the VM at once.
 */
#include "ports.h"
#include "vmm.h"

#define PIT_HZ 1193182ULL

/* OUT2 of channel 2: high unless a count runs and has not yet reached zero. */
static int pit_out2(const struct ports *p)
{
	if (!p->ch2_running || !p->now || !p->tsc_khz)
		return 1;
	uint64_t ticks = (*p->now - p->ch2_start) * PIT_HZ / (p->tsc_khz * 1000);
	return ticks >= (p->ch2_count ? p->ch2_count : 0x10000);
}

static void pit_out(struct ports *p, uint16_t port, uint8_t v)
{
	if (port == 0x43) {
		/* Channel 2's control word; access 0 is a counter latch, which changes nothing. */
		if ((v >> 6) == 2 && (v & 0x30)) {
			p->ch2_access = (v >> 4) & 3;
			p->ch2_msb_next = p->ch2_access == 2;
			p->ch2_running = 0;
		}
		return;
	}
	if (port != 0x42 || !p->ch2_access)
		return;
	if (p->ch2_msb_next) {
		p->ch2_count = (uint16_t)((p->ch2_count & 0xff) | (v << 8));
		p->ch2_msb_next = p->ch2_access == 2;
	} else {
		p->ch2_count = (uint16_t)((p->ch2_access == 1 ? 0 : p->ch2_count & 0xff00) | v);
		p->ch2_msb_next = p->ch2_access == 3;
		if (p->ch2_access == 3)
			return; /* the MSB is still to come */
	}
	p->ch2_running = 1;
	p->ch2_start = p->now ? *p->now : 0;
}

void ports_init(struct ports *p)
{
	*p = (struct ports){ .verdict = -1 };
}

static uint32_t ports_io_in(void *dev, uint16_t port, int size)
{
	struct ports *p = dev;

	switch (port) {
	case 0xcf8:
		return size == 4 ? p->pci_addr : 0xffffffff;
	case 0xcf9:
		return p->cf9;
	case 0x60:
	case 0x64:
		return 0;
	case 0x40:
	case 0x41:
	case 0x42:
		return 0;
	case 0x61:
		p->refresh ^= 0x10;
		return (pit_out2(p) ? 0x20 : 0) | p->refresh | p->port_b;
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
	case 0xcf8:
		if (size == 4)
			p->pci_addr = value;
		break;
	case 0xcf9:
		if (value & 0x04)
			p->reset = 1;
		p->cf9 = value & 0x0a;
		break;
	case 0x64:
		if ((value & 0xff) == 0xfe)
			p->reset = 1;
		break;
	case 0x61:
		if ((value & 1) && !(p->port_b & 1) && p->ch2_running)
			p->ch2_start = p->now ? *p->now : 0; /* the gate's rising edge */
		p->port_b = value & 0x0f;
		break;
	case 0x42:
	case 0x43:
		pit_out(p, port, (uint8_t)value);
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
	return bus_register(b, BUS_PIO, 0x40, 4, ports_access, dev) |
	       bus_register(b, BUS_PIO, 0x60, 2, ports_access, dev) |
	       bus_register(b, BUS_PIO, 0x64, 1, ports_access, dev) |
	       bus_register(b, BUS_PIO, 0x80, 1, ports_access, dev) |
	       bus_register(b, BUS_PIO, VMM_DEBUG_PORT, 1, ports_access, dev) |
	       bus_register(b, BUS_PIO, 0xcf8, 8, ports_access, dev);
}
