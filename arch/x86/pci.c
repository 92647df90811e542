// SPDX-License-Identifier: MIT
/*
 * Host PCI (include/dyad/pci.h): configuration by ECAM or mechanism 1, BAR sizing, capabilities,
 * MSI-X and MSI, device interrupts spread over the CPUs.
 *
 * A bus inside a window of the ACPI MCFG is configured through ECAM: one uncached 32-bit access
 * to memory, atomic by itself, so it needs no lock. Every other bus (and every bus on a machine
 * without MCFG, such as QEMU's default i440FX PC) uses mechanism 1, whose 0xcf8 address and
 * 0xcfc data accesses are a pair: each pair holds cfg_lock with interrupts off. Only the first
 * 256 bytes of a function's space are used either way (the header, MSI, MSI-X, the virtio
 * capabilities), so the two give the same view; pci_init() checks that they do before it trusts
 * the MCFG.
 */
#include <arch/x86/acpi.h>
#include <arch/x86/asm.h>
#include <arch/x86/kmap.h>
#include <arch/x86/percpu.h>
#include <arch/x86/smp.h>
#include <arch/x86/trap.h>
#include <dyad/bootinfo.h>
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

#define MSI_CTRL 2
#define MSI_ADDR 4
#define MSI_ENABLE BIT(0)
#define MSI_MME (7u << 4) /* multiple messages enabled: 0 asks for one */
#define MSI_64BIT BIT(7)
#define MSI_PV_MASK BIT(8) /* per-vector masking: a mask register follows the data */

#define MSG_ADDR 0xfee00000u /* an interrupt message: physical destination, no redirection */
#define MSG_APIC_ID_MAX 0xff /* an xAPIC message names 8 bits of destination */

#define CAP_WALK_MAX 48 /* a 256-byte space holds at most 48 four-byte-aligned capabilities */

#define IRQ_PCI_FIRST 0x40
#define IRQ_PCI_LAST 0x4f

static struct pci_dev devs[PCI_MAX_DEVS];
static unsigned nr_devs;
static struct spinlock cfg_lock = SPINLOCK_INIT;
static struct spinlock vec_lock = SPINLOCK_INIT;
static bool vec_used[IRQ_PCI_LAST - IRQ_PCI_FIRST + 1];
/* Device interrupts routed to each CPU by pci_irq_cpu(). */
static unsigned irqs_routed[SMP_MAX_CPUS];

/* The ECAM windows in use, each mapping buses bus_first..bus_last; set once by pci_init(). */
static struct ecam_window {
	volatile u8 *va; /* bus_first's configuration space */
	u8 bus_first, bus_last;
} ecam[MCFG_MAX_REGIONS];
static unsigned nr_ecam;

/* The ECAM address of the dword holding @off, or NULL when @bus has no window. */
static volatile u32 *ecam_dword(u8 bus, u8 dev, u8 fn, u16 off)
{
	for (unsigned i = 0; i < nr_ecam; i++) {
		const struct ecam_window *w = &ecam[i];
		if (bus < w->bus_first || bus > w->bus_last)
			continue;
		u64 at = (u64)(bus - w->bus_first) << 20 | (u64)dev << 15 | (u64)fn << 12 |
			 (off & 0xffc);
		return (volatile u32 *)(w->va + at);
	}
	return NULL;
}

static u32 cfg1_read(u8 bus, u8 dev, u8 fn, u16 off)
{
	u64 flags = irq_save();

	spin_lock(&cfg_lock);
	outl(CFG_ADDR, BIT(31) | (u32)bus << 16 | (u32)dev << 11 | (u32)fn << 8 | (off & 0xfc));
	u32 v = inl(CFG_DATA);
	spin_unlock(&cfg_lock);
	irq_restore(flags);
	return v;
}

static u32 cfg_read(u8 bus, u8 dev, u8 fn, u16 off)
{
	volatile u32 *p = ecam_dword(bus, dev, fn, off);

	return p ? *p : cfg1_read(bus, dev, fn, off);
}

static void cfg_write(u8 bus, u8 dev, u8 fn, u16 off, u32 v)
{
	volatile u32 *p = ecam_dword(bus, dev, fn, off);

	if (p) {
		*p = v;
		return;
	}
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

u32 pci_cfg1_read32(const struct pci_dev *d, u16 off)
{
	return cfg1_read(d->bus, d->dev, d->fn, off);
}

unsigned pci_ecam_windows(void)
{
	return nr_ecam;
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

/* True when the ECAM windows cover all 256 buses. */
static bool ecam_covers_all(void)
{
	unsigned buses = 0;

	for (unsigned i = 0; i < nr_ecam; i++)
		buses += ecam[i].bus_last - ecam[i].bus_first + 1u;
	return buses == 256; /* the windows' bus ranges are disjoint (acpi_mcfg) */
}

/*
 * Takes the MCFG's windows, each mapped once. A window is dropped when its first bus's device
 * 0 reads differently through it than through mechanism 1: an MCFG that names memory where no
 * ECAM answers would otherwise hide every device.
 */
static void ecam_init(void)
{
	const struct boot_info *bi = kernel_boot_info();
	const char *err = "the boot loader passed no ACPI RSDP";
	struct mcfg m;

	if (bi->acpi_rsdp_len)
		err = acpi_mcfg(bi->acpi_rsdp, bi->acpi_rsdp_len, acpi_direct_map_read, NULL, &m);
	if (err) {
		printf("pci: configuration mechanism 1 (no ECAM: %s)\n", err);
		return;
	}
	if (m.nr_bad || m.nr_ignored)
		printf("pci: MCFG: %u entries refused (bad bus range or address), %u of other "
		       "segments or beyond %u left out\n",
		       m.nr_bad, m.nr_ignored, MCFG_MAX_REGIONS);
	for (unsigned i = 0; i < m.nr; i++) {
		const struct mcfg_region *r = &m.r[i];
		u64 pa = r->base + r->bus_first * MCFG_BUS_WINDOW;
		u64 len = (r->bus_last - r->bus_first + 1ull) * MCFG_BUS_WINDOW;
		struct ecam_window w = { kmap_mmio(pa, len), r->bus_first, r->bus_last };
		ecam[nr_ecam++] = w;
		u32 by_ecam = *ecam_dword(r->bus_first, 0, 0, PCI_VENDOR);
		u32 by_cfg1 = cfg1_read(r->bus_first, 0, 0, PCI_VENDOR);
		if (by_ecam != by_cfg1) {
			nr_ecam--;
			printf("pci: ECAM at %#lx for buses %02x-%02x not used: bus %02x device 0 "
			       "reads %#x there, %#x by mechanism 1\n",
			       pa, r->bus_first, r->bus_last, r->bus_first, by_ecam, by_cfg1);
			continue;
		}
		printf("pci: ECAM at %#lx for buses %02x-%02x (ACPI MCFG)\n", pa, r->bus_first,
		       r->bus_last);
	}
	if (!nr_ecam)
		printf("pci: configuration mechanism 1 (no usable ECAM window)\n");
}

void pci_init(void)
{
	ecam_init();
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
	printf("pci: %u functions (%s)\n", nr_devs,
	       !nr_ecam		   ? "configuration mechanism 1"
	       : ecam_covers_all() ? "ECAM"
				   : "ECAM, mechanism 1 for buses outside its windows");
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

void pci_irq_vector_free(unsigned vector)
{
	if (vector < IRQ_PCI_FIRST || vector > IRQ_PCI_LAST)
		return;
	trap_set_irq_handler(vector, NULL);
	spin_lock(&vec_lock);
	vec_used[vector - IRQ_PCI_FIRST] = false;
	spin_unlock(&vec_lock);
}

/*
 * The boot CPU counts one route more than it has: it takes the legacy interrupts (the UART's,
 * through the I/O APIC), so with several CPUs the first device goes elsewhere.
 */
unsigned pci_irq_cpu(void)
{
	unsigned cpu, best = 0, best_load = ~0u;

	spin_lock(&vec_lock);
	for_each_cpu (cpu, smp_online_mask()) {
		unsigned load = irqs_routed[cpu] + (cpu == 0);
		if (percpu_of(cpu)->apic_id <= MSG_APIC_ID_MAX && load < best_load) {
			best = cpu;
			best_load = load;
		}
	}
	irqs_routed[best]++;
	spin_unlock(&vec_lock);
	return best;
}

/* The MSI-X table of @d, mapped on first use and kept: kmap_mmio() mappings are never undone. */
static volatile u32 *msix_table(struct pci_dev *d, unsigned *n)
{
	u16 ctrl = pci_cfg_read16(d, d->msix_cap + MSIX_CTRL);

	*n = (ctrl & 0x7ff) + 1;
	if (!d->msix_table) {
		u32 table = pci_cfg_read32(d, d->msix_cap + MSIX_TABLE);
		d->msix_table = pci_bar_map(d, table & 7, table & ~7u, (u64)*n * MSIX_ENTRY_LEN);
	}
	return d->msix_table;
}

int pci_msix_route(struct pci_dev *d, unsigned entry, unsigned vector, unsigned cpu)
{
	u8 cap = d->msix_cap;
	unsigned n;

	if (!cap)
		return -ENODEV;
	u32 apic_id = cpu < SMP_MAX_CPUS ? percpu_of(cpu)->apic_id : ~0u;
	if (apic_id > MSG_APIC_ID_MAX || vector < 32 || vector > 0xfe)
		return -EINVAL;
	volatile u32 *t = msix_table(d, &n);
	if (!t || entry >= n)
		return -EINVAL;
	u16 ctrl = pci_cfg_read16(d, cap + MSIX_CTRL);
	/* Function-masked while the table changes, so no half-written message is ever sent. */
	pci_cfg_write16(d, cap + MSIX_CTRL, ctrl | MSIX_ENABLE | MSIX_FUNC_MASK);
	for (unsigned i = 0; i < n; i++)
		t[i * 4 + 3] |= MSIX_ENTRY_MASKED;
	volatile u32 *e = t + entry * 4;
	e[0] = MSG_ADDR | apic_id << 12;
	e[1] = 0;
	e[2] = vector; /* fixed delivery, edge */
	e[3] &= ~MSIX_ENTRY_MASKED;
	pci_cfg_write16(d, cap + MSIX_CTRL, (ctrl | MSIX_ENABLE) & ~MSIX_FUNC_MASK);
	return 0;
}

/*
 * The message is written while MSI is off, so the function never sends a half-written one;
 * with per-vector masking the one vector is unmasked. One message is asked for (MME 0): the
 * function then sends @vector whatever number of vectors it could use.
 */
int pci_msi_route(struct pci_dev *d, unsigned vector, unsigned cpu)
{
	u8 cap = d->msi_cap;

	if (!cap)
		return -ENODEV;
	u32 apic_id = cpu < SMP_MAX_CPUS ? percpu_of(cpu)->apic_id : ~0u;
	if (apic_id > MSG_APIC_ID_MAX || vector < 32 || vector > 0xfe)
		return -EINVAL;
	u16 ctrl = pci_cfg_read16(d, cap + MSI_CTRL);
	u16 data = ctrl & MSI_64BIT ? 12 : 8;

	pci_cfg_write16(d, cap + MSI_CTRL, ctrl & ~(MSI_ENABLE | MSI_MME));
	pci_cfg_write32(d, cap + MSI_ADDR, MSG_ADDR | apic_id << 12);
	if (ctrl & MSI_64BIT)
		pci_cfg_write32(d, cap + MSI_ADDR + 4, 0);
	pci_cfg_write16(d, cap + data, (u16)vector); /* fixed delivery, edge */
	if (ctrl & MSI_PV_MASK)
		pci_cfg_write32(d, cap + data + 4, pci_cfg_read32(d, cap + data + 4) & ~1u);
	pci_cfg_write16(d, cap + MSI_CTRL, (ctrl & ~MSI_MME) | MSI_ENABLE);
	return 0;
}

void pci_msi_disable(struct pci_dev *d)
{
	if (d->msi_cap)
		pci_cfg_write16(d, d->msi_cap + MSI_CTRL,
				pci_cfg_read16(d, d->msi_cap + MSI_CTRL) & ~MSI_ENABLE);
}
