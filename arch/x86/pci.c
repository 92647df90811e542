// SPDX-License-Identifier: MIT
/*
 * Host PCI (include/dyad/pci.h): configuration mechanism 1, BAR sizing, capabilities, MSI-X.
 *
 * Mechanism 1 reaches the first 256 bytes of each function's configuration space, which holds
 * everything used here (the header, MSI-X and the virtio capabilities). ECAM (the MCFG table)
 * would add the extended space; nothing here needs it yet. The 0xcf8 address and the 0xcfc
 * data access are a pair, so every access holds cfg_lock with interrupts off.
 */
#include <arch/x86/asm.h>
#include <arch/x86/kmap.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/pci.h>
#include <dyad/printf.h>
#include <dyad/spinlock.h>

#define CFG_ADDR 0xcf8
#define CFG_DATA 0xcfc

#define PCI_VENDOR 0x00
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34

#define CMD_IO BIT(0)
#define CMD_MEM BIT(1)
#define CMD_MASTER BIT(2)
#define CMD_INTX_OFF BIT(10)
#define STATUS_CAPS BIT(4)

#define MSIX_CTRL 2
#define MSIX_TABLE 4
#define MSIX_ENABLE BIT(15)
#define MSIX_FUNC_MASK BIT(14)
#define MSIX_ENTRY_LEN 16
#define MSIX_ENTRY_MASKED BIT(0)

#define CAP_WALK_MAX 48 /* a 256-byte space holds at most 48 four-byte-aligned capabilities */

#define IRQ_PCI_FIRST 0x40
#define IRQ_PCI_LAST 0x4f

static struct pci_dev devs[PCI_MAX_DEVS];
static unsigned nr_devs;
static struct spinlock cfg_lock = SPINLOCK_INIT;
static struct spinlock vec_lock = SPINLOCK_INIT;
static bool vec_used[IRQ_PCI_LAST - IRQ_PCI_FIRST + 1];

static u32 cfg_read(u8 bus, u8 dev, u8 fn, u16 off)
{
	u64 flags = irq_save();

	spin_lock(&cfg_lock);
	outl(CFG_ADDR, BIT(31) | (u32)bus << 16 | (u32)dev << 11 | (u32)fn << 8 | (off & 0xfc));
	u32 v = inl(CFG_DATA);
	spin_unlock(&cfg_lock);
	irq_restore(flags);
	return v;
}

static void cfg_write(u8 bus, u8 dev, u8 fn, u16 off, u32 v)
{
	u64 flags = irq_save();

	spin_lock(&cfg_lock);
	outl(CFG_ADDR, BIT(31) | (u32)bus << 16 | (u32)dev << 11 | (u32)fn << 8 | (off & 0xfc));
	outl(CFG_DATA, v);
	spin_unlock(&cfg_lock);
	irq_restore(flags);
}

u32 pci_cfg_read32(const struct pci_dev *d, u16 off)
{
	return cfg_read(d->bus, d->dev, d->fn, off);
}

u16 pci_cfg_read16(const struct pci_dev *d, u16 off)
{
	return (u16)(cfg_read(d->bus, d->dev, d->fn, off) >> ((off & 2) * 8));
}

u8 pci_cfg_read8(const struct pci_dev *d, u16 off)
{
	return (u8)(cfg_read(d->bus, d->dev, d->fn, off) >> ((off & 3) * 8));
}

void pci_cfg_write32(const struct pci_dev *d, u16 off, u32 v)
{
	cfg_write(d->bus, d->dev, d->fn, off, v);
}

/*
 * A read-modify-write of the dword: the neighbouring half is written back as read. Next to the
 * command register that is the status register, whose error bits are write-one-to-clear:
 * such a write clears errors already reported, which nothing here reads.
 */
void pci_cfg_write16(const struct pci_dev *d, u16 off, u16 v)
{
	unsigned shift = (off & 2) * 8;
	u32 old = cfg_read(d->bus, d->dev, d->fn, off);

	cfg_write(d->bus, d->dev, d->fn, off, (old & ~(0xffffu << shift)) | (u32)v << shift);
}

u8 pci_cap_find(const struct pci_dev *d, u8 id, u8 after)
{
	if (!(pci_cfg_read16(d, PCI_STATUS) & STATUS_CAPS))
		return 0;
	u8 off = after ? pci_cfg_read8(d, after + 1) : pci_cfg_read8(d, PCI_CAP_PTR);
	for (unsigned n = 0; n < CAP_WALK_MAX && off >= 0x40; n++) {
		off &= 0xfc;
		if (pci_cfg_read8(d, off) == id)
			return off;
		off = pci_cfg_read8(d, off + 1);
	}
	return 0;
}

/*
 * Sizes every BAR: all ones written, the read-back's writable bits give the size, the old value
 * goes back. Decoding is off meanwhile so that no access lands at the probe address.
 */
static void size_bars(struct pci_dev *d)
{
	u16 cmd = pci_cfg_read16(d, PCI_COMMAND);

	pci_cfg_write16(d, PCI_COMMAND, cmd & ~(CMD_IO | CMD_MEM));
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		u16 off = PCI_BAR0 + 4 * i;
		u32 old = pci_cfg_read32(d, off);
		pci_cfg_write32(d, off, 0xffffffff);
		u32 probe = pci_cfg_read32(d, off);
		pci_cfg_write32(d, off, old);
		if (old & 1) {
			u32 mask = probe & ~3u & 0xffff;
			d->bar[i] = (struct pci_bar){ .pa = old & ~3u,
						      .io = true,
						      .size = mask ? (~mask & 0xffff) + 1 : 0 };
			continue;
		}
		u64 base = old & ~0xfull, mask = probe & ~0xfull;
		bool is64 = ((old >> 1) & 3) == 2 && i + 1 < PCI_NR_BARS;
		if (is64) {
			u32 old_hi = pci_cfg_read32(d, off + 4);
			pci_cfg_write32(d, off + 4, 0xffffffff);
			u32 probe_hi = pci_cfg_read32(d, off + 4);
			pci_cfg_write32(d, off + 4, old_hi);
			base |= (u64)old_hi << 32;
			mask |= (u64)probe_hi << 32;
		} else if (mask) {
			mask |= 0xffffffff00000000ull;
		}
		d->bar[i] = (struct pci_bar){ .pa = base, .size = mask ? ~mask + 1 : 0 };
		if (is64)
			i++; /* the upper half is not a BAR of its own */
	}
	pci_cfg_write16(d, PCI_COMMAND, cmd);
}

static void add_function(u8 bus, u8 dev, u8 fn, u32 id)
{
	if (nr_devs == PCI_MAX_DEVS) {
		printf("pci: %02x:%02x.%x left out: the table holds %u functions\n", bus, dev, fn,
		       PCI_MAX_DEVS);
		return;
	}
	struct pci_dev *d = &devs[nr_devs++];
	*d = (struct pci_dev){
		.bus = bus, .dev = dev, .fn = fn, .vendor = (u16)id, .device = (u16)(id >> 16)
	};
	u32 class = pci_cfg_read32(d, PCI_REVISION);
	d->revision = (u8) class;
	d->prog_if = (u8)(class >> 8);
	d->subclass = (u8)(class >> 16);
	d->class = (u8)(class >> 24);
	d->subsys_device = pci_cfg_read16(d, PCI_SUBSYS_ID);
	if ((pci_cfg_read8(d, PCI_HEADER_TYPE) & 0x7f) == 0)
		size_bars(
			d); /* bridges (type 1) have two BARs and a different layout: left alone */
	d->msix_cap = pci_cap_find(d, PCI_CAP_MSIX, 0);
	d->msi_cap = pci_cap_find(d, PCI_CAP_MSI, 0);

	printf("pci: %02x:%02x.%x %04x:%04x class %02x.%02x.%02x%s%s", bus, dev, fn, d->vendor,
	       d->device, d->class, d->subclass, d->prog_if, d->msix_cap ? " msix" : "",
	       d->msi_cap ? " msi" : "");
	for (unsigned i = 0; i < PCI_NR_BARS; i++)
		if (d->bar[i].size)
			printf(" bar%u=%s%#lx+%#lx", i, d->bar[i].io ? "io:" : "", d->bar[i].pa,
			       d->bar[i].size);
	printf("\n");
}

void pci_init(void)
{
	for (unsigned bus = 0; bus < 256; bus++) {
		for (u8 dev = 0; dev < 32; dev++) {
			u32 id = cfg_read((u8)bus, dev, 0, PCI_VENDOR);
			if ((u16)id == 0xffff)
				continue;
			add_function((u8)bus, dev, 0, id);
			if (!(cfg_read((u8)bus, dev, 0, PCI_HEADER_TYPE) & (0x80 << 16)))
				continue; /* not multi-function */
			for (u8 fn = 1; fn < 8; fn++) {
				id = cfg_read((u8)bus, dev, fn, PCI_VENDOR);
				if ((u16)id != 0xffff)
					add_function((u8)bus, dev, fn, id);
			}
		}
	}
	printf("pci: %u functions (configuration mechanism 1)\n", nr_devs);
}

struct pci_dev *pci_dev_at(unsigned i)
{
	return i < nr_devs ? &devs[i] : NULL;
}

void pci_enable(const struct pci_dev *d)
{
	u16 cmd = pci_cfg_read16(d, PCI_COMMAND);

	pci_cfg_write16(d, PCI_COMMAND, cmd | CMD_MEM | CMD_MASTER | CMD_INTX_OFF);
}

void *pci_bar_map(const struct pci_dev *d, unsigned bar, u64 off, u64 len)
{
	if (bar >= PCI_NR_BARS)
		return NULL;
	const struct pci_bar *b = &d->bar[bar];
	if (b->io || !b->pa || !b->size || off > b->size || len > b->size - off || !len)
		return NULL;
	return kmap_mmio(b->pa + off, len);
}

unsigned pci_irq_vector_alloc(void (*handler)(struct trap_frame *tf))
{
	unsigned v = 0;

	spin_lock(&vec_lock);
	for (unsigned i = 0; i < ARRAY_SIZE(vec_used) && !v; i++) {
		if (!vec_used[i]) {
			vec_used[i] = true;
			v = IRQ_PCI_FIRST + i;
		}
	}
	spin_unlock(&vec_lock);
	if (v)
		trap_set_irq_handler(v, handler);
	return v;
}

int pci_msix_route(const struct pci_dev *d, unsigned entry, unsigned vector, u32 apic_id)
{
	u8 cap = d->msix_cap;

	if (!cap)
		return -ENODEV;
	u16 ctrl = pci_cfg_read16(d, cap + MSIX_CTRL);
	unsigned n = (ctrl & 0x7ff) + 1;
	u32 table = pci_cfg_read32(d, cap + MSIX_TABLE);
	if (entry >= n || apic_id > 0xff || vector < 32 || vector > 0xfe)
		return -EINVAL;
	volatile u32 *t = pci_bar_map(d, table & 7, table & ~7u, (u64)n * MSIX_ENTRY_LEN);
	if (!t)
		return -EINVAL;
	/* Function-masked while the table changes, so no half-written message is ever sent. */
	pci_cfg_write16(d, cap + MSIX_CTRL, ctrl | MSIX_ENABLE | MSIX_FUNC_MASK);
	for (unsigned i = 0; i < n; i++)
		t[i * 4 + 3] |= MSIX_ENTRY_MASKED;
	volatile u32 *e = t + entry * 4;
	e[0] = 0xfee00000u | apic_id << 12; /* physical destination, no redirection hint */
	e[1] = 0;
	e[2] = vector; /* fixed delivery, edge */
	e[3] &= ~MSIX_ENTRY_MASKED;
	pci_cfg_write16(d, cap + MSIX_CTRL, (ctrl | MSIX_ENABLE) & ~MSIX_FUNC_MASK);
	return 0;
}
