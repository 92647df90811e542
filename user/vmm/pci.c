// SPDX-License-Identifier: MIT
/*
 * PCI bus 0 (pci.h): configuration mechanism #1, type-0 headers, BAR sizing and decoding.
 *
 * A BAR's dword reads back its address with the bits below its size forced to 0 and its type
 * bits (memory, 64-bit) fixed, so writing all ones and reading back gives the size, as on
 * hardware; a 64-bit BAR's high half is all writable (every BAR is smaller than 4 GiB).
 */
#include <string.h>

#include "pci.h"
#include "vmm.h"

#define CFG_ENABLE 0x80000000u

void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	pci_put16(d->cfg + PCI_VENDOR_ID, vendor);
	pci_put16(d->cfg + PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION_ID] = revision;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	d->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	d->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	pci_put16(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	pci_put16(d->cfg + PCI_SUBSYSTEM_ID, subsys);
	pci_put16(d->wmask + PCI_COMMAND,
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	for (unsigned i = 0; i < PCI_BARS; i++)
		d->bar[i].owner = d;
}

int pci_dev_bar(struct pci_dev *d, unsigned bar, uint64_t size, int is64)
{
	if (bar >= PCI_BARS || (is64 && bar + 1 >= PCI_BARS) || size < 16 || size > (1ULL << 31) ||
	    (size & (size - 1)) || d->bar[bar].size || (is64 && d->bar[bar + 1].size))
		return -1;
	d->bar[bar].size = size;
	d->bar[bar].is64 = is64;
	pci_put32(d->cfg + PCI_BAR0 + 4 * bar, is64 ? PCI_BAR_MEM_64 : 0);
	return 0;
}

unsigned pci_dev_cap(struct pci_dev *d, const void *body, unsigned len, const uint8_t *wmask)
{
	unsigned at = d->cap_end ? d->cap_end : 0x40;

	at = (at + 3) & ~3u;
	if (len < 2 || at + len > PCI_CFG_SIZE)
		return 0;
	memcpy(d->cfg + at, body, len);
	d->cfg[at + 1] = 0;
	if (wmask)
		memcpy(d->wmask + at, wmask, len);
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = (uint8_t)at;
	else
		d->cfg[PCI_CAPABILITY_LIST] = (uint8_t)at;
	pci_put16(d->cfg + PCI_STATUS, pci_get16(d->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	d->cap_last = (uint8_t)at;
	d->cap_end = (uint8_t)(at + len);
	return at;
}

uint64_t pci_bar_addr(const struct pci_dev *d, unsigned bar)
{
	uint64_t a = pci_get32(d->cfg + PCI_BAR0 + 4 * bar) & ~0xfULL;

	if (d->bar[bar].is64)
		a |= (uint64_t)pci_get32(d->cfg + PCI_BAR0 + 4 * (bar + 1)) << 32;
	return a;
}

static int bar_access(void *dev, uint64_t addr, unsigned size, int write, uint64_t *value)
{
	struct pci_bar *b = dev;
	struct pci_dev *d = b->owner;

	return d->bar_fn(d, (unsigned)(b - d->bar), addr - b->decoded, size, write, value);
}

/*
 * Makes the MMIO bus agree with BAR @bar: claimed at its address while memory space is on and
 * the address is a real one (not 0, not wrapping), released otherwise. A BAR placed over
 * another device's range is not decoded and said once.
 */
static void bar_update(struct pci_dev *d, unsigned bar)
{
	struct pci_bar *b = &d->bar[bar];
	uint64_t addr = pci_bar_addr(d, bar);
	int want = (pci_get16(d->cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY) && addr &&
		   addr + b->size - 1 > addr && d->bar_fn && d->pbus;

	if (b->mapped && (!want || b->decoded != addr)) {
		bus_unregister(d->pbus->bus, BUS_MMIO, b->decoded, b);
		b->mapped = 0;
	}
	if (!want || b->mapped)
		return;
	if (bus_register(d->pbus->bus, BUS_MMIO, addr, b->size, bar_access, b)) {
		if (d->bar_conflicts++ < 3)
			vmm_log("pci 00:%02x.0 %s: BAR %u at %#llx overlaps another device: not "
				"decoded",
				d->slot, d->name, bar, (unsigned long long)addr);
		return;
	}
	if (b->decoded != addr)
		d->bar_moves++;
	b->decoded = addr;
	b->mapped = 1;
}

/* The dword at BAR slot @slot after the guest wrote @v there. */
static uint32_t bar_dword(const struct pci_dev *d, unsigned slot, uint32_t v)
{
	const struct pci_bar *b = &d->bar[slot];

	if (b->size)
		return (v & ~(uint32_t)(b->size - 1) & ~0xfu) | (b->is64 ? PCI_BAR_MEM_64 : 0);
	if (slot && d->bar[slot - 1].is64)
		return v; /* the high half: every BAR is below 4 GiB in size */
	return 0;
}

uint32_t pci_cfg_read(struct pci_dev *d, unsigned offset, unsigned size)
{
	uint32_t v = 0;

	if ((size != 1 && size != 2 && size != 4) || (offset & 3) + size > 4 ||
	    offset + size > PCI_CFG_SIZE)
		return 0xffffffffu;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)d->cfg[offset + i] << (8 * i);
	return v;
}

void pci_cfg_write(struct pci_dev *d, unsigned offset, unsigned size, uint32_t value)
{
	if ((size != 1 && size != 2 && size != 4) || (offset & 3) + size > 4 ||
	    offset + size > PCI_CFG_SIZE)
		return;
	if (offset >= PCI_BAR0 && offset < PCI_BAR0 + 4 * PCI_BARS) {
		unsigned slot = (offset - PCI_BAR0) / 4, shift = 8 * (offset & 3);
		uint32_t mask = (size == 4 ? ~0u : ((1u << (8 * size)) - 1)) << shift;
		uint32_t old = pci_get32(d->cfg + PCI_BAR0 + 4 * slot);
		uint32_t v = (old & ~mask) | ((value << shift) & mask);
		pci_put32(d->cfg + PCI_BAR0 + 4 * slot, bar_dword(d, slot, v));
		if (d->bar[slot].size)
			bar_update(d, slot);
		else if (slot && d->bar[slot - 1].is64)
			bar_update(d, slot - 1); /* the high half of a 64-bit BAR */
		return;
	}
	for (unsigned i = 0; i < size; i++) {
		uint8_t m = d->wmask[offset + i], b = (uint8_t)(value >> (8 * i));
		d->cfg[offset + i] = (uint8_t)((d->cfg[offset + i] & ~m) | (b & m));
	}
	if (offset < PCI_COMMAND + 2 && offset + size > PCI_COMMAND)
		for (unsigned bar = 0; bar < PCI_BARS; bar++)
			if (d->bar[bar].size)
				bar_update(d, bar);
	if (d->cfg_written)
		d->cfg_written(d, offset, size);
}

/* The function 0xcf8 selects, or NULL: bus 0, function 0 of a populated slot, enabled. */
static struct pci_dev *selected(struct pci_bus *p)
{
	uint32_t a = p->addr;
	unsigned bus = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;

	if (!(a & CFG_ENABLE) || bus || fn)
		return NULL;
	return slot ? p->dev[slot] : &p->host;
}

static int cfg_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	struct pci_bus *p = dev;

	if (port == 0xcf8) {
		/* Only a dword reaches the address register (a byte at 0xcfb is not PCI's). */
		if (size != 4)
			return -1;
		if (write)
			p->addr = (uint32_t)*value & 0x80fffffcu;
		else
			*value = p->addr;
		return 0;
	}
	unsigned k = (unsigned)(port - 0xcfc);
	struct pci_dev *d = selected(p);
	if (!d || k + size > 4) {
		p->cfg_absent++;
		if (((p->addr >> 16) & 0xff) > p->absent_bus_max)
			p->absent_bus_max = (uint8_t)(p->addr >> 16);
		return -1; /* nothing there: reads all ones */
	}
	unsigned offset = (p->addr & 0xfc) + k;
	if (write) {
		p->cfg_writes++;
		pci_cfg_write(d, offset, size, (uint32_t)*value);
	} else {
		p->cfg_reads++;
		*value = pci_cfg_read(d, offset, size);
	}
	return 0;
}

void pci_init(struct pci_bus *p, struct bus *b)
{
	memset(p, 0, sizeof(*p));
	p->bus = b;
	p->mmio_next = PCI_MMIO_BASE;
	/* A host bridge (class 06/00), as Linux's type-1 probe wants to find on bus 0. */
	pci_dev_init(&p->host, "host bridge", 0x8086, 0x0d57, 0x060000, 0, 0, 0);
	p->host.pbus = p;
}

int pci_register(struct pci_bus *p)
{
	return bus_register(p->bus, BUS_PIO, 0xcf8, 1, cfg_access, p) |
	       bus_register(p->bus, BUS_PIO, 0xcfc, 4, cfg_access, p);
}

int pci_add(struct pci_bus *p, struct pci_dev *d)
{
	unsigned slot = 1;
	uint64_t next = p->mmio_next;

	while (slot < PCI_SLOTS && p->dev[slot])
		slot++;
	if (slot == PCI_SLOTS)
		return -1;
	for (unsigned bar = 0; bar < PCI_BARS; bar++) {
		uint64_t size = d->bar[bar].size;
		if (!size)
			continue;
		next = (next + size - 1) & ~(size - 1);
		if (next + size > PCI_MMIO_END)
			return -1;
		pci_put32(d->cfg + PCI_BAR0 + 4 * bar, bar_dword(d, bar, (uint32_t)next));
		next += size;
	}
	p->mmio_next = next;
	d->slot = slot;
	d->pbus = p;
	p->dev[slot] = d;
	return 0;
}
