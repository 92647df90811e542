/* SPDX-License-Identifier: MIT */
#ifndef DYAD_PCI_H
#define DYAD_PCI_H

#include <dyad/types.h>

/*
 * Host PCI: the functions found at boot through configuration mechanism 1 (ports 0xcf8/0xcfc,
 * the 256-byte space every PC chipset has), their BARs sized once, their capability lists
 * walked, and MSI-X routed to a local APIC. The table is filled once by pci_init() on the boot
 * CPU and read-only afterwards; configuration accesses after that are serialized by one lock.
 */

struct trap_frame;

#define PCI_MAX_DEVS 64
#define PCI_NR_BARS 6

/* Standard capability IDs. */
#define PCI_CAP_MSI 0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

struct pci_bar {
	u64 pa; /* 0 when the firmware left the BAR unassigned */
	u64 size; /* 0 when the BAR is absent */
	bool io; /* an I/O-port BAR (pa is then the port) */
};

struct pci_dev {
	u8 bus, dev, fn;
	u16 vendor, device;
	u16 subsys_device;
	u8 class, subclass, prog_if, revision;
	struct pci_bar bar[PCI_NR_BARS];
	u8 msix_cap; /* configuration offset of the MSI-X capability, 0 if none */
	u8 msi_cap;
	bool claimed; /* a driver owns it */
};

/* Enumerates every bus and prints one line per function found. */
void pci_init(void);

/* Functions found, in bus/device/function order; NULL past the end. */
struct pci_dev *pci_dev_at(unsigned i);

u32 pci_cfg_read32(const struct pci_dev *d, u16 off);
u16 pci_cfg_read16(const struct pci_dev *d, u16 off);
u8 pci_cfg_read8(const struct pci_dev *d, u16 off);
void pci_cfg_write32(const struct pci_dev *d, u16 off, u32 v);
void pci_cfg_write16(const struct pci_dev *d, u16 off, u16 v);

/*
 * The configuration offset of the capability with @id after offset @after (0: from the
 * start), or 0. The walk stops at 48 entries, so a looping list cannot hang the kernel.
 */
u8 pci_cap_find(const struct pci_dev *d, u8 id, u8 after);

/* Turns on memory decoding and bus mastering (DMA) and turns off legacy INTx. */
void pci_enable(const struct pci_dev *d);

/*
 * Maps [@off, @off + @len) of memory BAR @bar uncached and returns its kernel address, or
 * NULL when the BAR is absent, unassigned, an I/O BAR, or shorter than the range.
 */
void *pci_bar_map(const struct pci_dev *d, unsigned bar, u64 off, u64 len);

/*
 * A free IDT vector for a device interrupt, its handler installed: the range 0x40..0x4f is
 * kept for PCI devices. Returns 0 when all are taken.
 */
unsigned pci_irq_vector_alloc(void (*handler)(struct trap_frame *tf));

/*
 * Enables MSI-X on @d with table entry @entry delivering @vector (fixed, edge) to the local
 * APIC @apic_id; the other entries stay masked. Returns 0, or -ENODEV when @d has no MSI-X,
 * -EINVAL when @entry is past its table or @apic_id cannot be named in an xAPIC message.
 */
int pci_msix_route(const struct pci_dev *d, unsigned entry, unsigned vector, u32 apic_id);

#endif
