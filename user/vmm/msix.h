/* SPDX-License-Identifier: MIT */
#ifndef VMM_MSIX_H
#define VMM_MSIX_H

/*
 * MSI-X for a PCI function: the capability, the vector table and the pending-bit array, both in
 * one of the function's memory BARs. A device raises vector n with msix_notify(); the message
 * goes out when MSI-X is enabled and neither the function nor the vector is masked, else its
 * pending bit is set and the message goes out when the mask is lifted. A message is decoded by
 * msi_decode() and handed to the machine's delivery function, which routes it by destination to
 * a local APIC.
 */

#include <stdint.h>

#include "pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE 16
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_CTRL_ENABLE 0x8000u
#define MSIX_ENTRY_MASKED 1u

/* An MSI message as the local APICs see it (Intel SDM 11.11). */
struct msi_msg {
	uint32_t dest; /* APIC ID, or logical destination when logical */
	int logical;
	uint8_t vector;
	uint8_t mode; /* delivery mode: 0 fixed, 1 lowest priority */
	int level; /* trigger mode: 1 level (never used by PCI functions) */
};

/*
 * Decodes the message @addr/@data into @m. Returns 0, or -1 when @addr is outside
 * 0xfee00000-0xfeefffff, the vector is below 16 or the delivery mode is neither fixed nor
 * lowest priority (SMI, NMI, INIT and ExtINT messages are not for devices of this machine).
 */
int msi_decode(uint64_t addr, uint32_t data, struct msi_msg *m);

/* Delivers a decoded message; returns 0, or -1 when no local APIC accepts it. */
typedef int (*msi_deliver_fn)(void *ctx, const struct msi_msg *m);

struct msix {
	struct pci_dev *pdev;
	unsigned nvec;
	unsigned cap; /* the capability's configuration-space offset */
	unsigned bar;
	uint32_t table, pba; /* offsets in the BAR */
	uint32_t entry[MSIX_MAX_VECTORS][4]; /* address low, address high, data, vector control */
	uint64_t pending; /* one bit per vector */
	msi_deliver_fn deliver;
	void *ctx;
	unsigned long sent, held, dropped, refused;
};

/*
 * Adds an MSI-X capability for @nvec vectors (1 to MSIX_MAX_VECTORS) to @d, its table at @table
 * and its PBA at @pba of BAR @bar (8-byte aligned, inside the BAR, not overlapping). Every
 * vector starts masked, MSI-X disabled. Returns 0, or -1 for bad arguments or no room. Sets
 * @d->cfg_written: the device must not use it for anything else.
 */
int msix_init(struct msix *x, struct pci_dev *d, unsigned nvec, unsigned bar, uint32_t table,
	      uint32_t pba, msi_deliver_fn deliver, void *ctx);

/*
 * A BAR access at @offset. Returns 1 when it lies outside the table and PBA (the caller goes on),
 * else 0 (done; bad widths or alignment read as 0 and drop writes, as real functions do), the
 * table taking 4- and 8-byte accesses, the PBA read-only.
 */
int msix_access(struct msix *x, uint64_t offset, unsigned size, int write, uint64_t *value);

/* Raises vector @vec: sent, or pending while masked. A vector beyond the table is counted in
 * dropped, and so is any vector while MSI-X is disabled. */
void msix_notify(struct msix *x, unsigned vec);

/* Whether MSI-X is enabled (the driver set it up). */
int msix_enabled(const struct msix *x);

#endif
