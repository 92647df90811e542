// SPDX-License-Identifier: MIT
/* MSI-X (msix.h): capability, vector table, pending bits, and the MSI message format. */
#include <string.h>

#include "msix.h"
#include "vmm.h"

#define MSI_ADDR_BASE 0xfee00000ULL
#define MSI_ADDR_MASK 0xfff00000ULL
#define MSI_DM_FIXED 0
#define MSI_DM_LOWEST 1

int msi_decode(uint64_t addr, uint32_t data, struct msi_msg *m)
{
	unsigned mode = (data >> 8) & 7;

	if ((addr & ~0xfffffULL) != MSI_ADDR_BASE || (data & 0xff) < 16 ||
	    (mode != MSI_DM_FIXED && mode != MSI_DM_LOWEST))
		return -1;
	*m = (struct msi_msg){ .dest = (uint32_t)(addr >> 12) & 0xff,
			       .logical = (int)(addr >> 2) & 1,
			       .vector = (uint8_t)data,
			       .mode = (uint8_t)mode,
			       .level = (int)(data >> 15) & 1 };
	return 0;
}

static uint16_t control(const struct msix *x)
{
	return pci_get16(x->pdev->cfg + x->cap + 2);
}

int msix_enabled(const struct msix *x)
{
	return !!(control(x) & MSIX_CTRL_ENABLE);
}

static int masked(const struct msix *x, unsigned vec)
{
	return (control(x) & MSIX_CTRL_MASKALL) || (x->entry[vec][3] & MSIX_ENTRY_MASKED);
}

static void send(struct msix *x, unsigned vec)
{
	uint64_t addr = x->entry[vec][0] | (uint64_t)x->entry[vec][1] << 32;
	struct msi_msg m;

	if (msi_decode(addr, x->entry[vec][2], &m) || x->deliver(x->ctx, &m)) {
		if (x->refused++ < 3)
			vmm_log("pci 00:%02x.0 %s: MSI-X vector %u message %#llx/%#x reaches no "
				"local APIC: dropped",
				x->pdev->slot, x->pdev->name, vec, (unsigned long long)addr,
				x->entry[vec][2]);
		return;
	}
	x->sent++;
}

/* Sends what is pending and no longer masked. */
static void release(struct msix *x)
{
	if (!msix_enabled(x))
		return;
	for (unsigned v = 0; v < x->nvec; v++) {
		if ((x->pending >> v & 1) && !masked(x, v)) {
			x->pending &= ~(1ULL << v);
			send(x, v);
		}
	}
}

void msix_notify(struct msix *x, unsigned vec)
{
	if (vec >= x->nvec || !msix_enabled(x)) {
		x->dropped++;
		return;
	}
	if (masked(x, vec)) {
		x->pending |= 1ULL << vec;
		x->held++;
		return;
	}
	send(x, vec);
}

static void cfg_written(struct pci_dev *d, unsigned offset, unsigned size)
{
	struct msix *x = d->msix;

	if (offset < x->cap + 4 && offset + size > x->cap + 2)
		release(x);
}

int msix_init(struct msix *x, struct pci_dev *d, unsigned nvec, unsigned bar, uint32_t table,
	      uint32_t pba, msi_deliver_fn deliver, void *ctx)
{
	uint8_t cap[12] = { PCI_CAP_ID_MSIX }, wmask[12] = { 0 };
	uint64_t size = bar < PCI_BARS ? d->bar[bar].size : 0;
	uint32_t pba_len = (nvec + 63) / 64 * 8;

	if (!nvec || nvec > MSIX_MAX_VECTORS || (table & 7) || (pba & 7) ||
	    (uint64_t)table + nvec * MSIX_ENTRY_SIZE > size || (uint64_t)pba + pba_len > size ||
	    (pba < table + nvec * MSIX_ENTRY_SIZE && table < pba + pba_len))
		return -1;
	memset(x, 0, sizeof(*x));
	pci_put16(cap + 2, (uint16_t)(nvec - 1));
	pci_put32(cap + 4, table | bar);
	pci_put32(cap + 8, pba | bar);
	pci_put16(wmask + 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	unsigned at = pci_dev_cap(d, cap, sizeof(cap), wmask);
	if (!at)
		return -1;
	*x = (struct msix){ .pdev = d,
			    .nvec = nvec,
			    .cap = at,
			    .bar = bar,
			    .table = table,
			    .pba = pba,
			    .deliver = deliver,
			    .ctx = ctx };
	for (unsigned v = 0; v < nvec; v++)
		x->entry[v][3] = MSIX_ENTRY_MASKED;
	d->cfg_written = cfg_written;
	d->msix = x;
	return 0;
}

static uint32_t table_read(const struct msix *x, uint64_t off)
{
	return x->entry[off / MSIX_ENTRY_SIZE][(off % MSIX_ENTRY_SIZE) / 4];
}

static void table_write(struct msix *x, uint64_t off, uint32_t v)
{
	unsigned vec = (unsigned)(off / MSIX_ENTRY_SIZE),
		 word = (unsigned)(off % MSIX_ENTRY_SIZE) / 4;

	if (word == 3) {
		x->entry[vec][3] = (x->entry[vec][3] & ~MSIX_ENTRY_MASKED) |
				   (v & MSIX_ENTRY_MASKED);
		release(x);
	} else {
		x->entry[vec][word] = v;
	}
}

int msix_access(struct msix *x, uint64_t offset, unsigned size, int write, uint64_t *value)
{
	uint64_t tlen = (uint64_t)x->nvec * MSIX_ENTRY_SIZE, plen = (x->nvec + 63) / 64 * 8;
	int in_table = offset >= x->table && offset < x->table + tlen;
	int in_pba = offset >= x->pba && offset < x->pba + plen;

	if (!in_table && !in_pba)
		return 1;
	if ((size != 4 && size != 8) || (offset & (size - 1))) {
		if (!write)
			*value = 0;
		return 0;
	}
	if (in_pba) {
		if (!write) {
			uint64_t bits = x->pending >> (8 * (offset - x->pba));
			*value = size == 4 ? (uint32_t)bits : bits;
		}
		return 0;
	}
	uint64_t off = offset - x->table;
	if (!write) {
		*value = table_read(x, off);
		if (size == 8)
			*value |= (uint64_t)table_read(x, off + 4) << 32;
		return 0;
	}
	table_write(x, off, (uint32_t)*value);
	if (size == 8)
		table_write(x, off + 4, (uint32_t)(*value >> 32));
	return 0;
}
