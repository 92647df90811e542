// SPDX-License-Identifier: MIT
/*
 * PCI bus 0 through the configuration ports as a guest drives them (pci.h): the host bridge,
 * type-1 addressing with byte and word accesses, a function's header, BAR sizing for 32- and
 * 64-bit BARs, the capabilities list, memory decoding switched by the command register, BARs
 * moved and re-claimed on the MMIO bus; then MSI-X (msix.h): the table, vector and function
 * masks, pending bits, and the message decoding and delivery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"
#include "msix.h"
#include "pci.h"
#include "vmm.h"

static struct bus bus;
static struct pci_bus pci;
static struct pci_dev dev;
static struct msix msix;
static unsigned bar_calls;
static uint64_t bar_offset;
static unsigned bar_index;
static struct msi_msg delivered[16];
static unsigned ndelivered;
static int refuse_delivery;

static int bar_fn(struct pci_dev *d, unsigned bar, uint64_t offset, unsigned size, int write,
		  uint64_t *value)
{
	assert_ptr_equal(d, &dev);
	if (!msix_access(&msix, offset, size, write, value))
		return 0;
	bar_calls++;
	bar_index = bar;
	bar_offset = offset;
	if (!write)
		*value = 0x5a;
	return 0;
}

static int deliver(void *ctx, const struct msi_msg *m)
{
	assert_ptr_equal(ctx, &pci);
	if (refuse_delivery)
		return -1;
	delivered[ndelivered++ % 16] = *m;
	return 0;
}

static int squatter(void *d, uint64_t addr, unsigned size, int write, uint64_t *value)
{
	return -1;
}

static uint32_t cfg_addr(unsigned slot, unsigned off)
{
	return 0x80000000u | slot << 11 | (off & 0xfc);
}

static uint32_t cfg_in(unsigned slot, unsigned off, unsigned size)
{
	bus_out(&bus, 0xcf8, 4, cfg_addr(slot, off));
	return bus_in(&bus, (uint16_t)(0xcfc + (off & 3)), size);
}

static void cfg_out(unsigned slot, unsigned off, unsigned size, uint32_t v)
{
	bus_out(&bus, 0xcf8, 4, cfg_addr(slot, off));
	bus_out(&bus, (uint16_t)(0xcfc + (off & 3)), size, v);
}

static uint64_t mmio(uint64_t addr, unsigned size, int write, uint64_t v)
{
	bus_access(&bus, BUS_MMIO, addr, size, write, &v);
	return v;
}

/* A function with a 32-bit BAR 0 (4 KiB), a 64-bit BAR 2 (16 KiB) holding an MSI-X table of 4
 * vectors at 0x2000 and its PBA at 0x3000, and a vendor capability. */
static int setup(void **state)
{
	bus_init(&bus);
	pci_init(&pci, &bus);
	assert_int_equal(pci_register(&pci), 0);
	pci_dev_init(&dev, "test", 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 0x0002);
	dev.bar_fn = bar_fn;
	assert_int_equal(pci_dev_bar(&dev, 0, 0x1000, 0), 0);
	assert_int_equal(pci_dev_bar(&dev, 2, 0x4000, 1), 0);
	uint8_t vndr[8] = { PCI_CAP_ID_VNDR, 0xee, 8, 1, 2, 3, 4, 5 };
	assert_int_not_equal(pci_dev_cap(&dev, vndr, sizeof(vndr), NULL), 0);
	assert_int_equal(msix_init(&msix, &dev, 4, 2, 0x2000, 0x3000, deliver, &pci), 0);
	assert_int_equal(pci_add(&pci, &dev), 0);
	bar_calls = 0;
	ndelivered = 0;
	refuse_delivery = 0;
	return 0;
}

static void test_host_bridge_and_type1(void **state)
{
	/* The address register keeps a dword and only a dword. */
	bus_out(&bus, 0xcf8, 4, 0x80000000u);
	assert_int_equal(bus_in(&bus, 0xcf8, 4), 0x80000000u);
	assert_int_equal(bus_in(&bus, 0xcf8, 1), 0xff);
	/* 00:00.0 is a host bridge, class 06/00, as Linux's type-1 probe wants. */
	assert_int_equal(cfg_in(0, 0, 4), 0x0d578086);
	assert_int_equal(cfg_in(0, 0x0a, 2), 0x0600);
	assert_int_equal(cfg_in(0, 0x0b, 1), 0x06);
	/* Empty slots, other functions, other buses, and no enable bit: all ones. */
	assert_int_equal(cfg_in(9, 0, 4), 0xffffffffu);
	bus_out(&bus, 0xcf8, 4, cfg_addr(dev.slot, 0) | 1 << 8);
	assert_int_equal(bus_in(&bus, 0xcfc, 4), 0xffffffffu);
	bus_out(&bus, 0xcf8, 4, cfg_addr(dev.slot, 0) | 1 << 16);
	assert_int_equal(bus_in(&bus, 0xcfc, 2), 0xffff);
	bus_out(&bus, 0xcf8, 4, cfg_addr(dev.slot, 0) & ~0x80000000u);
	assert_int_equal(bus_in(&bus, 0xcfc, 4), 0xffffffffu);
	/* Writing the host bridge's BARs (it has none) changes nothing and breaks nothing. */
	for (unsigned off = PCI_BAR0; off < PCI_BAR0 + 24; off += 4) {
		cfg_out(0, off, 4, 0xffffffffu);
		assert_int_equal(cfg_in(0, off, 4), 0);
	}
	assert_int_equal(cfg_in(0, 0, 4), 0x0d578086);
}

static void test_header_bytes_and_words(void **state)
{
	unsigned s = dev.slot;

	assert_true(s >= 1 && s < PCI_SLOTS);
	assert_int_equal(cfg_in(s, 0, 4), 0x10421af4);
	assert_int_equal(cfg_in(s, 0, 2), 0x1af4);
	assert_int_equal(cfg_in(s, 2, 2), 0x1042);
	assert_int_equal(cfg_in(s, 1, 1), 0x1a);
	assert_int_equal(cfg_in(s, 3, 1), 0x10);
	assert_int_equal(cfg_in(s, 8, 4), 0x01800001); /* class 01/80/00, revision 1 */
	assert_int_equal(cfg_in(s, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(cfg_in(s, PCI_SUBSYSTEM_ID, 2), 0x0002);
	assert_int_equal(cfg_in(s, PCI_INTERRUPT_PIN, 1), 0); /* MSI-X only */
	/* Read-only fields stay. */
	cfg_out(s, 0, 4, 0);
	cfg_out(s, 8, 1, 0x77);
	assert_int_equal(cfg_in(s, 0, 4), 0x10421af4);
	assert_int_equal(cfg_in(s, 8, 1), 1);
	/* The command register keeps memory, bus master and INTx disable only. */
	cfg_out(s, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(cfg_in(s, PCI_COMMAND, 2), 0x0406);
	cfg_out(s, PCI_COMMAND, 1, 0);
	assert_int_equal(cfg_in(s, PCI_COMMAND, 2), 0x0400);
	/* A word across the dword's end reads all ones rather than the next dword. */
	bus_out(&bus, 0xcf8, 4, cfg_addr(s, 0));
	assert_int_equal(bus_in(&bus, 0xcff, 2), 0xffff);
}

static void test_bar_sizing(void **state)
{
	unsigned s = dev.slot;
	uint32_t b0 = cfg_in(s, PCI_BAR0, 4), b2 = cfg_in(s, PCI_BAR0 + 8, 4);

	/* Firmware placed them in the window, aligned to their sizes. */
	assert_true(b0 >= PCI_MMIO_BASE && b0 % 0x1000 == 0);
	assert_int_equal(b2 & 0xf, PCI_BAR_MEM_64);
	assert_true((b2 & ~0xfu) % 0x4000 == 0 && (b2 & ~0xfu) >= PCI_MMIO_BASE);
	assert_int_equal(cfg_in(s, PCI_BAR0 + 12, 4), 0);
	/* Sizing: all ones in, the size's mask and the type bits out. */
	cfg_out(s, PCI_BAR0, 4, 0xffffffffu);
	assert_int_equal(cfg_in(s, PCI_BAR0, 4), 0xfffff000u);
	cfg_out(s, PCI_BAR0 + 8, 4, 0xffffffffu);
	cfg_out(s, PCI_BAR0 + 12, 4, 0xffffffffu);
	assert_int_equal(cfg_in(s, PCI_BAR0 + 8, 4), 0xffffc000u | PCI_BAR_MEM_64);
	assert_int_equal(cfg_in(s, PCI_BAR0 + 12, 4), 0xffffffffu);
	/* Slots without a BAR read 0 whatever is written. */
	cfg_out(s, PCI_BAR0 + 4, 4, 0xffffffffu);
	cfg_out(s, PCI_BAR0 + 16, 4, 0xffffffffu);
	cfg_out(s, PCI_BAR0 + 20, 4, 0xffffffffu);
	assert_int_equal(cfg_in(s, PCI_BAR0 + 4, 4), 0);
	assert_int_equal(cfg_in(s, PCI_BAR0 + 16, 4), 0);
	assert_int_equal(cfg_in(s, PCI_BAR0 + 20, 4), 0);
	/* A byte write lands in its byte only. */
	cfg_out(s, PCI_BAR0, 4, 0xd0000000u);
	cfg_out(s, PCI_BAR0 + 2, 1, 0x12);
	assert_int_equal(cfg_in(s, PCI_BAR0, 4), 0xd0120000u);
	/* Bad arguments to the model. */
	struct pci_dev d;
	pci_dev_init(&d, "bad", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_dev_bar(&d, 0, 0x1800, 0), -1);
	assert_int_equal(pci_dev_bar(&d, 5, 0x1000, 1), -1);
	assert_int_equal(pci_dev_bar(&d, 6, 0x1000, 0), -1);
	assert_int_equal(pci_dev_bar(&d, 0, 8, 0), -1);
}

static void test_capabilities_list(void **state)
{
	unsigned s = dev.slot, seen = 0;

	assert_true(cfg_in(s, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	unsigned at = cfg_in(s, PCI_CAPABILITY_LIST, 1);
	int vndr = 0, msix_seen = 0;
	while (at) {
		assert_true(at >= 0x40 && at < 256 && at % 4 == 0);
		assert_true(++seen < 48); /* no loop */
		unsigned id = cfg_in(s, at, 1);
		vndr |= id == PCI_CAP_ID_VNDR;
		if (id == PCI_CAP_ID_MSIX) {
			msix_seen = 1;
			assert_int_equal(cfg_in(s, at + 2, 2), 3); /* table size 4, off, unmasked */
			assert_int_equal(cfg_in(s, at + 4, 4), 0x2000 | 2);
			assert_int_equal(cfg_in(s, at + 8, 4), 0x3000 | 2);
		} else {
			assert_int_equal(cfg_in(s, at + 3, 1), 1); /* the body is the device's */
		}
		at = cfg_in(s, at + 1, 1);
	}
	assert_true(vndr && msix_seen);
}

static void test_decoding_follows_command_and_moves(void **state)
{
	unsigned s = dev.slot;
	uint64_t b0 = cfg_in(s, PCI_BAR0, 4);

	/* Memory space off: nothing decoded. */
	assert_int_equal(mmio(b0 + 8, 4, 0, 0), 0xffffffffu);
	assert_int_equal(bar_calls, 0);
	cfg_out(s, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(mmio(b0 + 8, 4, 0, 0), 0x5a);
	assert_int_equal(bar_calls, 1);
	assert_int_equal(bar_index, 0);
	assert_int_equal(bar_offset, 8);
	/* The guest moves BAR 0: the old range goes, the new one answers with the new offset. */
	cfg_out(s, PCI_BAR0, 4, 0xd0000000u);
	assert_int_equal(mmio(b0 + 8, 4, 0, 0), 0xffffffffu);
	assert_int_equal(mmio(0xd0000010, 4, 0, 0), 0x5a);
	assert_int_equal(bar_offset, 0x10);
	assert_int_equal(mmio(0xd0001000, 4, 0, 0), 0xffffffffu); /* past its 4 KiB */
	/* A 64-bit BAR moved above 4 GiB, low half then high half. */
	cfg_out(s, PCI_BAR0 + 8, 4, 0x00008000u);
	cfg_out(s, PCI_BAR0 + 12, 4, 0x1);
	assert_int_equal(pci_bar_addr(&dev, 2), 0x100008000ULL);
	mmio(0x100008000ULL + 0x100, 4, 0, 0);
	assert_int_equal(bar_index, 2);
	assert_int_equal(bar_offset, 0x100);
	assert_true(dev.bar_moves >= 2);
	/* Sizing with decoding on does not leave the old range claimed twice or lost. */
	cfg_out(s, PCI_COMMAND, 2, 0);
	assert_int_equal(mmio(0xd0000010, 4, 0, 0), 0xffffffffu);
	cfg_out(s, PCI_BAR0, 4, 0xffffffffu);
	cfg_out(s, PCI_BAR0, 4, 0xd0000000u);
	cfg_out(s, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(mmio(0xd0000010, 4, 0, 0), 0x5a);
	/* A BAR placed over another device's range is not decoded, and the VMM survives. */
	assert_int_equal(bus_register(&bus, BUS_MMIO, 0xe0000000u, 0x1000, squatter, NULL), 0);
	cfg_out(s, PCI_BAR0, 4, 0xe0000000u);
	assert_int_equal(dev.bar_conflicts, 1);
	cfg_out(s, PCI_BAR0, 4, 0xd0000000u);
	assert_int_equal(mmio(0xd0000010, 4, 0, 0), 0x5a);
	/* A BAR at 0 is not decoded. */
	cfg_out(s, PCI_BAR0, 4, 0);
	assert_int_equal(bus.space[BUS_MMIO].count, 2); /* BAR 2 and the squatter */
}

static void test_slots_fill(void **state)
{
	static struct pci_dev more[PCI_SLOTS];
	unsigned added = 0;

	for (unsigned i = 0; i < PCI_SLOTS; i++) {
		pci_dev_init(&more[i], "more", 1, 2, 0, 0, 0, 0);
		if (pci_add(&pci, &more[i]) == 0)
			added++;
	}
	assert_int_equal(added, PCI_SLOTS - 2); /* slot 0 is the bridge's, one is dev's */
}

/* MSI-X: the table and the masks. */
static unsigned msix_cap(void)
{
	return msix.cap;
}

static void enable_msix(unsigned s, int maskall)
{
	cfg_out(s, msix_cap() + 2, 2, MSIX_CTRL_ENABLE | (maskall ? MSIX_CTRL_MASKALL : 0));
}

static void test_msix_table(void **state)
{
	unsigned s = dev.slot;
	uint64_t t = pci_bar_addr(&dev, 2) + 0x2000, pba = pci_bar_addr(&dev, 2) + 0x3000;

	cfg_out(s, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* Every vector starts masked. */
	for (unsigned v = 0; v < 4; v++)
		assert_int_equal(mmio(t + 16 * v + 12, 4, 0, 0), 1);
	mmio(t + 16, 4, 1, 0xfee01004);
	mmio(t + 20, 4, 1, 0);
	mmio(t + 24, 4, 1, 0x4041);
	assert_int_equal(mmio(t + 16, 8, 0, 0), 0xfee01004);
	assert_int_equal(mmio(t + 24, 4, 0, 0), 0x4041);
	/* A quadword write fills two fields. */
	mmio(t + 32, 8, 1, 0x00000000fee00000ULL);
	assert_int_equal(mmio(t + 32, 4, 0, 0), 0xfee00000u);
	/* Only the mask bit of vector control is writable. */
	mmio(t + 12, 4, 1, 0xfffffffe);
	assert_int_equal(mmio(t + 12, 4, 0, 0), 0);
	/* Misaligned and odd-sized accesses are dropped, read 0. */
	mmio(t + 18, 2, 1, 0xffff);
	assert_int_equal(mmio(t + 16, 4, 0, 0), 0xfee01004);
	assert_int_equal(mmio(t + 17, 4, 0, 0), 0);
	/* The PBA is read-only; other offsets of the BAR go to the device. */
	mmio(pba, 8, 1, ~0ULL);
	assert_int_equal(mmio(pba, 8, 0, 0), 0);
	unsigned calls = bar_calls;
	mmio(pci_bar_addr(&dev, 2) + 0x100, 4, 0, 0);
	assert_int_equal(bar_calls, calls + 1);
	/* Bad layouts are refused. */
	struct pci_dev d;
	struct msix x;
	pci_dev_init(&d, "bad", 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_dev_bar(&d, 0, 0x1000, 0), 0);
	assert_int_equal(msix_init(&x, &d, 4, 0, 0x0, 0x20, deliver, &pci), -1); /* overlap */
	assert_int_equal(msix_init(&x, &d, 4, 0, 0xff8, 0x0, deliver, &pci), -1); /* past end */
	assert_int_equal(msix_init(&x, &d, 0, 0, 0x0, 0x800, deliver, &pci), -1);
	assert_int_equal(msix_init(&x, &d, 4, 1, 0x0, 0x800, deliver, &pci), -1); /* no BAR 1 */
}

static void program(unsigned v, uint32_t addr, uint32_t data)
{
	uint64_t t = pci_bar_addr(&dev, 2) + 0x2000 + 16 * v;

	mmio(t, 4, 1, addr);
	mmio(t + 4, 4, 1, 0);
	mmio(t + 8, 4, 1, data);
}

static void unmask(unsigned v, int masked)
{
	mmio(pci_bar_addr(&dev, 2) + 0x2000 + 16 * v + 12, 4, 1, (uint64_t)masked);
}

static void test_msix_masks_and_pending(void **state)
{
	unsigned s = dev.slot;
	uint64_t pba = pci_bar_addr(&dev, 2) + 0x3000;

	cfg_out(s, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	program(1, 0xfee00000, 0x41);
	program(2, 0xfee00000, 0x42);
	/* Disabled: a vector goes nowhere, and is not even pending. */
	msix_notify(&msix, 1);
	assert_int_equal(ndelivered, 0);
	assert_int_equal(msix.dropped, 1);
	enable_msix(s, 0);
	/* Enabled but the vector masked: pending, then sent when unmasked. */
	msix_notify(&msix, 1);
	assert_int_equal(ndelivered, 0);
	assert_int_equal(mmio(pba, 4, 0, 0), 1u << 1);
	unmask(1, 0);
	assert_int_equal(ndelivered, 1);
	assert_int_equal(delivered[0].vector, 0x41);
	assert_int_equal(mmio(pba, 4, 0, 0), 0);
	/* Unmasked: sent at once. */
	msix_notify(&msix, 1);
	assert_int_equal(ndelivered, 2);
	/* The function mask holds every vector; lifting it sends what is pending, in order. */
	unmask(2, 0);
	enable_msix(s, 1);
	msix_notify(&msix, 2);
	msix_notify(&msix, 1);
	msix_notify(&msix, 1);
	assert_int_equal(ndelivered, 2);
	assert_int_equal(mmio(pba, 8, 0, 0), 0x6);
	enable_msix(s, 0);
	assert_int_equal(ndelivered, 4);
	assert_int_equal(delivered[2].vector, 0x41);
	assert_int_equal(delivered[3].vector, 0x42);
	/* A vector beyond the table is dropped. */
	msix_notify(&msix, 4);
	assert_int_equal(ndelivered, 4);
	/* A message nobody takes is counted, not retried forever. */
	refuse_delivery = 1;
	msix_notify(&msix, 1);
	assert_int_equal(msix.refused, 1);
	/* Disabling MSI-X leaves pending bits as they are; nothing is sent. */
	refuse_delivery = 0;
	unmask(1, 1);
	msix_notify(&msix, 1);
	cfg_out(s, msix_cap() + 2, 2, 0);
	unmask(1, 0);
	assert_int_equal(ndelivered, 4);
}

static void test_msi_decode(void **state)
{
	struct msi_msg m;

	assert_int_equal(msi_decode(0xfee0300cULL, 0x4031, &m), 0);
	assert_int_equal(m.dest, 3);
	assert_int_equal(m.logical, 1);
	assert_int_equal(m.vector, 0x31);
	assert_int_equal(m.mode, 0);
	assert_int_equal(msi_decode(0xfeeff000ULL, 0x1ff, &m), 0); /* lowest priority */
	assert_int_equal(m.dest, 0xff);
	assert_int_equal(m.mode, 1);
	assert_int_equal(msi_decode(0xfef00000ULL, 0x31, &m), -1); /* outside the range */
	assert_int_equal(msi_decode(0x1fee00000ULL, 0x31, &m), -1);
	assert_int_equal(msi_decode(0xfed00000ULL, 0x31, &m), -1);
	assert_int_equal(msi_decode(0xfee00000ULL, 0x0f, &m), -1); /* vector below 16 */
	assert_int_equal(msi_decode(0xfee00000ULL, 0x431, &m), -1); /* NMI */
	assert_int_equal(msi_decode(0xfee00000ULL, 0x731, &m), -1); /* ExtINT */
}

/* The SSDT's \_SB.PCI0 as Linux's ACPI PCI root driver reads it. */
static void test_ssdt_describes_the_host_bridge(void **state)
{
	static uint8_t mem[ACPI_TABLES_MAX];
	struct acpi_config c = {
		.gpa = 0xf0000, .ncpus = 1, .ioapic_addr = 0xfec00000, .ioapic_id = 1
	};
	const uint8_t *ssdt = NULL;

	assert_true(acpi_build(mem, sizeof(mem), &c) > 0);
	uint64_t xsdt_gpa;
	memcpy(&xsdt_gpa, mem + 24, 8);
	const uint8_t *xsdt = mem + (xsdt_gpa - c.gpa);
	uint32_t xlen;
	memcpy(&xlen, xsdt + 4, 4);
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		uint64_t gpa;
		memcpy(&gpa, xsdt + off, 8);
		if (!memcmp(mem + (gpa - c.gpa), "SSDT", 4))
			ssdt = mem + (gpa - c.gpa);
	}
	assert_non_null(ssdt);
	uint32_t len;
	memcpy(&len, ssdt + 4, 4);
	assert_int_equal(acpi_sum(ssdt, len), 0);
	const uint8_t *aml = ssdt + 36, *end = ssdt + len;
	/* Scope (\_SB) { Device (PCI0) { ... } }, each package length reaching the table's end. */
	assert_int_equal(aml[0], 0x10);
	unsigned pkg = (aml[1] & 0x0f) | aml[2] << 4;
	assert_int_equal(aml[1] >> 6, 1);
	assert_ptr_equal(aml + 1 + pkg, end);
	assert_memory_equal(aml + 3, "\\_SB_", 5);
	const uint8_t *dev = aml + 8;
	assert_int_equal(dev[0], 0x5b);
	assert_int_equal(dev[1], 0x82);
	assert_ptr_equal(dev + 2 + ((dev[2] & 0x0f) | dev[3] << 4), end);
	assert_memory_equal(dev + 4, "PCI0", 4);
	/* _HID EisaId ("PNP0A03") */
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	assert_memory_equal(dev + 8, hid, sizeof(hid));
	/* The memory window in a DWord address space descriptor, and the end tag last. */
	const uint8_t *p = dev + 8;
	while (p + 26 <= end && p[0] != 0x87)
		p++;
	assert_true(p + 26 <= end);
	uint32_t min, max;
	memcpy(&min, p + 10, 4);
	memcpy(&max, p + 14, 4);
	assert_int_equal(min, PCI_MMIO_BASE);
	assert_int_equal(max, PCI_MMIO_END - 1);
	assert_int_equal(end[-2], 0x79);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_host_bridge_and_type1, setup),
		cmocka_unit_test_setup(test_header_bytes_and_words, setup),
		cmocka_unit_test_setup(test_bar_sizing, setup),
		cmocka_unit_test_setup(test_capabilities_list, setup),
		cmocka_unit_test_setup(test_decoding_follows_command_and_moves, setup),
		cmocka_unit_test_setup(test_slots_fill, setup),
		cmocka_unit_test_setup(test_msix_table, setup),
		cmocka_unit_test_setup(test_msix_masks_and_pending, setup),
		cmocka_unit_test_setup(test_msi_decode, setup),
		cmocka_unit_test(test_ssdt_describes_the_host_bridge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
