/* SPDX-License-Identifier: MIT */
#ifndef DYAD_PCI_H
#define DYAD_PCI_H

#include <dyad/types.h>

/*
 * Host PCI: the functions found at boot through ECAM (the memory windows the ACPI MCFG names)
 * or, where there is none, configuration mechanism 1 (ports 0xcf8/0xcfc, which every PC
 * chipset has); their BARs sized once, their capability lists walked, and MSI-X or MSI routed to
 * a local APIC, each device's interrupt to a CPU of its own as far as there are CPUs. The table
 * is filled once by pci_init() on the boot CPU; afterwards only drivers write it, each to the
 * function it claimed. Configuration accesses may come from any CPU.
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
	volatile u32 *msix_table; /* mapped by the first pci_msix_route(), NULL before */
	bool claimed; /* a driver owns it */
};

/*
 * Takes the ECAM windows of the ACPI MCFG, if any, and says which configuration mechanism it
 * uses; enumerates every bus and prints one line per function found. After smp_init().
 */
void pci_init(void);

/* Functions found, in bus/device/function order; NULL past the end. */
struct pci_dev *pci_dev_at(unsigned i);

u32 pci_cfg_read32(const struct pci_dev *d, u16 off);
u16 pci_cfg_read16(const struct pci_dev *d, u16 off);
/* The dword at @off (below 256) through configuration mechanism 1, even where ECAM is used. */
u32 pci_cfg1_read32(const struct pci_dev *d, u16 off);
/* The ECAM windows pci_init() took from the MCFG (0: mechanism 1 alone). */
unsigned pci_ecam_windows(void);
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
 * kept for PCI devices. Returns 0 when all are taken. The handler may run on any CPU (the one
 * the vector is routed to) and ends with lapic_eoi().
 */
unsigned pci_irq_vector_alloc(void (*handler)(struct trap_frame *tf));

/* Gives back a vector of pci_irq_vector_alloc(); nothing may send it any more. */
void pci_irq_vector_free(unsigned vector);

/*
 * The CPU (index) a new device interrupt should go to: the online CPU with the fewest routed so
 * far, the boot CPU counting one more for its legacy interrupts, among those an interrupt
 * message can name (APIC ID up to 255). Counts the route.
 */
unsigned pci_irq_cpu(void);

/*
 * Enables MSI-X on @d with table entry @entry delivering @vector (fixed, edge) to CPU @cpu's
 * local APIC; the other entries stay masked. Returns 0, or -ENODEV when @d has no MSI-X,
 * -EINVAL when @entry is past its table, its table is not in a BAR, or @cpu cannot be named in
 * an xAPIC message.
 */
int pci_msix_route(struct pci_dev *d, unsigned entry, unsigned vector, unsigned cpu);

/*
 * Enables MSI on @d: one message, @vector (fixed, edge) to CPU @cpu's local APIC. Returns 0,
 * -ENODEV when @d has no MSI capability, -EINVAL when @cpu cannot be named.
 */
int pci_msi_route(struct pci_dev *d, unsigned vector, unsigned cpu);

/* Turns MSI off on @d (its interrupts stop). */
void pci_msi_disable(struct pci_dev *d);

#endif
