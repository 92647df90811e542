/* SPDX-License-Identifier: MIT */
#ifndef VMM_PCI_H
#define VMM_PCI_H

/*
 * PCI bus 0 behind a host bridge at 00:00.0, configured through mechanism #1 (ports 0xcf8 and
 * 0xcfc-0xcff). Each device is one function (function 0 of its slot) with a type-0 header:
 * IDs, class, up to six memory BARs (32- or 64-bit; a 64-bit BAR takes two slots), a
 * capabilities list and the command register's memory-space enable. A BAR is decoded (claimed on
 * the MMIO bus) while memory space is enabled and its address is a real one; when the guest
 * moves it, the old range is released and the new one claimed.
 *
 * The ACPI DSDT (acpi.c) describes the host bridge as \_SB.PCI0 with the windows below.
 */

#include <stdint.h>

#include "bus.h"

#define PCI_SLOTS 32
#define PCI_BARS 6
#define PCI_CFG_SIZE 256

/* The windows the host bridge decodes for its bus (the DSDT's _CRS says the same). */
#define PCI_MMIO_BASE 0xc0000000ULL
#define PCI_MMIO_END 0xfec00000ULL /* the I/O APIC and local APIC follow */

/* Configuration-space offsets and bits used by the VMM. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_BAR_MEM_64 0x4
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

struct pci_dev;
struct msix;

/* A BAR access: @offset from the BAR's base; the rest as bus.h's bus_fn. */
typedef int (*pci_bar_fn)(struct pci_dev *d, unsigned bar, uint64_t offset, unsigned size,
			  int write, uint64_t *value);

struct pci_bar {
	uint64_t size; /* a power of two, at least 16; 0: no BAR here */
	int is64; /* a 64-bit BAR: the next slot holds the address's high half */
	uint64_t decoded; /* the base claimed on the MMIO bus, valid when mapped */
	int mapped;
	struct pci_dev *owner;
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* guest-writable bits, BARs aside */
	struct pci_bar bar[PCI_BARS];
	uint8_t cap_end; /* where the next capability goes; 0 before the first */
	uint8_t cap_last; /* the last capability's offset */
	pci_bar_fn bar_fn;
	/* Called after the guest wrote [@offset, @offset + @size) of the configuration space (for
	 * capabilities with side effects, such as MSI-X's enable and mask); may be NULL. */
	void (*cfg_written)(struct pci_dev *d, unsigned offset, unsigned size);
	void *priv; /* the device model behind the function */
	struct msix *msix; /* its MSI-X state, if any (msix.c sets it) */
	struct pci_bus *pbus;
	unsigned slot;
	const char *name;
	unsigned long bar_moves, bar_conflicts;
};

struct pci_bus {
	struct bus *bus;
	uint32_t addr; /* the 0xcf8 register */
	struct pci_dev host; /* 00:00.0 */
	struct pci_dev *dev[PCI_SLOTS];
	uint64_t mmio_next; /* firmware-style BAR assignment, from PCI_MMIO_BASE up */
	unsigned long cfg_reads, cfg_writes;
	unsigned long cfg_absent; /* data accesses that selected no function */
	uint8_t absent_bus_max; /* the highest bus number they named */
};

/* An empty bus with its host bridge, on @b. */
void pci_init(struct pci_bus *p, struct bus *b);
/* Claims the configuration ports 0xcf8 (dword) and 0xcfc-0xcff. 0, or -1 on overlap. */
int pci_register(struct pci_bus *p);

/*
 * Prepares @d as a type-0 function with the given IDs and 24-bit class (class, subclass,
 * prog-if): all of the header read-only but the command register's memory-space, bus-master
 * and INTx-disable bits; no interrupt pin (MSI-X only).
 */
void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor, uint16_t subsys);
/*
 * Gives @d a memory BAR @bar of @size bytes (a power of two from 16), 64-bit when @is64 (it
 * then also takes slot @bar + 1). Returns 0, or -1 for a bad size or slot.
 */
int pci_dev_bar(struct pci_dev *d, unsigned bar, uint64_t size, int is64);
/*
 * Appends a capability: @len bytes of @body, whose first two bytes (ID and next pointer) are
 * set here. Returns its configuration-space offset, or 0 when it does not fit. @wmask, if not
 * NULL, is @len bytes of guest-writable bits.
 */
unsigned pci_dev_cap(struct pci_dev *d, const void *body, unsigned len, const uint8_t *wmask);
/*
 * Puts @d in a free slot (1 to 31) of @p and assigns its BARs in the MMIO window, as firmware
 * would (memory decoding stays off until the guest enables it). Returns 0, or -1 when the bus
 * or the window is full.
 */
int pci_add(struct pci_bus *p, struct pci_dev *d);

/* Configuration access to @d at @offset (1, 2 or 4 bytes, within one dword), as the ports do. */
uint32_t pci_cfg_read(struct pci_dev *d, unsigned offset, unsigned size);
void pci_cfg_write(struct pci_dev *d, unsigned offset, unsigned size, uint32_t value);

/* The address BAR @bar holds now (its high half included for a 64-bit BAR). */
uint64_t pci_bar_addr(const struct pci_dev *d, unsigned bar);

/* Little-endian helpers for configuration-space fields. */
static inline void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void pci_put32(uint8_t *p, uint32_t v)
{
	pci_put16(p, (uint16_t)v);
	pci_put16(p + 2, (uint16_t)(v >> 16));
}

static inline uint16_t pci_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t pci_get32(const uint8_t *p)
{
	return pci_get16(p) | (uint32_t)pci_get16(p + 2) << 16;
}

#endif
