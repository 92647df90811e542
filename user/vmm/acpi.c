// SPDX-License-Identifier: MIT
/*
 * ACPI tables (ACPI 6.4, ch. 5.2) for a PC with local APICs, one I/O APIC and the legacy ISA
 * devices, built once at load time:
 *   RSDP  revision 2, pointing at the XSDT only (no RSDT)
 *   XSDT  FADT, MADT, SSDT
 *   FADT  revision 6: SCI on IRQ 9, no SMI command port (the machine is always in ACPI mode),
 *         PM1a event/control blocks (pm.c), no PM timer, no GPE blocks, the reset register,
 *         no 8042 (Linux then skips the keyboard controller) and no VGA
 *   FACS  required by a FADT that is not hardware-reduced; nothing in it is used
 *   DSDT  only \_S5, the sleep type that PM1a_CNT.SLP_TYP must carry to power off
 *   SSDT  the PCI host bridge \_SB.PCI0 (PNP0A03): bus 0 only, its I/O ports and the 32-bit
 *         memory window of pci.h, configuration through ports 0xcf8/0xcfc (no MCFG)
 *   MADT  one local APIC entry per CPU (x2APIC entries for IDs of 255 and above), the I/O APIC,
 *         the PC's interrupt source overrides (IRQ 0 on GSI 2; SCI level, active high) and
 *         LINT1 as NMI
 * The 32-bit address fields are used (everything lies below 4 GiB); ACPICA derives the 64-bit
 * ones from them.
 */
#include <string.h>

#include "acpi.h"
#include "pci.h"

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic Address Structure (5.2.3.2). */
struct acpi_gas {
	uint8_t space, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
	uint32_t gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len;
	uint8_t gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt, x_pm_tmr;
	struct acpi_gas x_gpe0, x_gpe1, sleep_control, sleep_status;
	uint64_t hypervisor_id;
} __attribute__((packed));

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature, waking_vector, global_lock, flags;
	uint64_t x_waking_vector;
	uint8_t version, reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

struct madt_lapic { /* type 0 */
	uint8_t type, length, uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic { /* type 1 */
	uint8_t type, length, id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_override { /* type 2 */
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi { /* type 4 */
	uint8_t type, length, uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

struct madt_x2apic { /* type 9 */
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id, flags, uid;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");
_Static_assert(sizeof(struct acpi_header) == 36, "table header is 36 bytes");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS is 64 bytes");
_Static_assert(sizeof(struct madt_override) == 10, "override entry is 10 bytes");
_Static_assert(sizeof(struct madt_x2apic) == 16, "x2APIC entry is 16 bytes");

#define FADT_WBINVD (1u << 0)
#define FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define BOOT_ARCH_LEGACY_DEVICES (1u << 0)
#define BOOT_ARCH_NO_VGA (1u << 2)
#define MADT_PCAT_COMPAT (1u << 0) /* a dual 8259 is present too */
#define MADT_ENABLED 1u
#define MPS_LEVEL_HIGH 0x000d /* trigger level (3 << 2), polarity active high (1) */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/*
 * The DSDT's definition block body: Name (_S5, Package (4) { 5, 5, 0, 0 }), i.e. SLP_TYPa,
 * SLP_TYPb and two reserved values (ACPI 6.4, 7.4.2 and 20.2.5).
 */
/* clang-format off */
static const uint8_t dsdt_aml[] = {
	0x08, '_', 'S', '5', '_', /* NameOp, NameSeg "_S5_" */
	0x12, 0x08, 0x04, /* PackageOp, PkgLength 8 (itself to the end), NumElements 4 */
	0x0a, ACPI_S5_SLP_TYP, /* BytePrefix SLP_TYPa */
	0x0a, ACPI_S5_SLP_TYP, /* BytePrefix SLP_TYPb */
	0x00, 0x00, /* ZeroOp, ZeroOp */
};
/* clang-format on */

uint8_t acpi_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

/* A bump allocator over the output buffer, in guest-physical terms. */
struct area {
	uint8_t *buf;
	size_t size, used;
	uint64_t gpa;
};

/* @len zeroed bytes aligned to @align (a power of two), or NULL when they do not fit. */
static void *take(struct area *a, size_t len, size_t align)
{
	size_t at = (a->used + align - 1) & ~(align - 1);

	if (at > a->size || len > a->size - at)
		return NULL;
	a->used = at + len;
	memset(a->buf + at, 0, len);
	return a->buf + at;
}

static uint32_t gpa_of(const struct area *a, const void *p)
{
	return (uint32_t)(a->gpa + (size_t)((const uint8_t *)p - a->buf));
}

static void header(struct acpi_header *h, const char *sig, uint32_t length, uint8_t revision)
{
	memcpy(h->signature, sig, 4);
	h->length = length;
	h->revision = revision;
	memcpy(h->oem_id, "DYAD  ", 6);
	memcpy(h->oem_table_id, "DYADVMM ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "DYAD", 4);
	h->creator_revision = 1;
}

static void seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = (uint8_t)-acpi_sum(h, h->length);
}

static struct acpi_header *build_dsdt(struct area *a)
{
	uint32_t len = sizeof(struct acpi_header) + sizeof(dsdt_aml);
	struct acpi_header *h = take(a, len, 16);

	if (!h)
		return NULL;
	header(h, "DSDT", len, 2); /* revision 2: 64-bit AML integers */
	memcpy(h + 1, dsdt_aml, sizeof(dsdt_aml));
	seal(h);
	return h;
}

static struct acpi_fadt *build_fadt(struct area *a, uint32_t facs, uint32_t dsdt)
{
	struct acpi_fadt *f = take(a, sizeof(*f), 16);

	if (!f)
		return NULL;
	header(&f->h, "FACP", sizeof(*f), 6);
	f->minor_version = 4;
	f->firmware_ctrl = facs;
	f->dsdt = dsdt;
	f->sci_int = ACPI_SCI_IRQ;
	f->pm1a_evt_blk = ACPI_PM1A_EVT;
	f->pm1_evt_len = 4;
	f->pm1a_cnt_blk = ACPI_PM1A_CNT;
	f->pm1_cnt_len = 2;
	f->p_lvl2_lat = 101; /* > 100: C2 not supported */
	f->p_lvl3_lat = 1001; /* > 1000: C3 not supported */
	/* MSI is supported: the PCI functions interrupt through MSI-X only (msix.c). */
	f->iapc_boot_arch = BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_NO_VGA;
	f->flags = FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP;
	f->reset_reg = (struct acpi_gas){ .space = GAS_SYSTEM_IO,
					  .bit_width = 8,
					  .access_size = GAS_ACCESS_BYTE,
					  .address = ACPI_RESET_PORT };
	f->reset_value = ACPI_RESET_VALUE;
	seal(&f->h);
	return f;
}

/* Appends @len bytes of @entry to the MADT being built; 0, or -1 when out of room. */
static int madt_add(struct area *a, struct acpi_header *madt, const void *entry, size_t len)
{
	void *p = take(a, len, 1);

	if (!p)
		return -1;
	memcpy(p, entry, len);
	madt->length += (uint32_t)len;
	return 0;
}

static struct acpi_header *build_madt(struct area *a, const struct acpi_config *c)
{
	struct acpi_header *h = take(a, sizeof(*h) + 8, 16);
	int err = 0;

	if (!h)
		return NULL;
	header(h, "APIC", sizeof(*h) + 8, 4);
	uint32_t fields[2] = { 0xfee00000u, MADT_PCAT_COMPAT }; /* local APIC address, flags */
	memcpy(h + 1, fields, sizeof(fields));

	for (unsigned cpu = 0; cpu < c->ncpus; cpu++) {
		uint32_t id = cpu; /* APIC ID = ACPI processor UID = CPU index */
		if (id < 0xff) {
			struct madt_lapic e = { 0, sizeof(e), (uint8_t)cpu, (uint8_t)id,
						MADT_ENABLED };
			err |= madt_add(a, h, &e, sizeof(e));
		} else {
			struct madt_x2apic e = { 9, sizeof(e), 0, id, MADT_ENABLED, cpu };
			err |= madt_add(a, h, &e, sizeof(e));
		}
	}
	struct madt_ioapic io = { 1, sizeof(io), c->ioapic_id, 0, c->ioapic_addr, 0 };
	err |= madt_add(a, h, &io, sizeof(io));
	/* ISA IRQ n is GSI n (edge, active high) but for these, as on a PC. */
	struct madt_override ovr[] = {
		{ 2, sizeof(ovr[0]), 0, 0, 2, 0 }, /* the PIT's IRQ 0 is wired to pin 2 */
		{ 2, sizeof(ovr[0]), 0, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_LEVEL_HIGH },
	};
	err |= madt_add(a, h, ovr, sizeof(ovr));
	struct madt_lapic_nmi nmi = { 4, sizeof(nmi), 0xff, 0, 1 }; /* every CPU: LINT1 is NMI */
	err |= madt_add(a, h, &nmi, sizeof(nmi));
	if (err)
		return NULL;
	seal(h);
	return h;
}

/*
 * AML for \_SB.PCI0 (ACPI 6.4, 20.2 and 6.4 for the resource descriptors), built inside out:
 * each package's length is known once its body is.
 */
struct aml {
	uint8_t b[256];
	size_t n;
};

static void aml_put(struct aml *a, const void *p, size_t len)
{
	if (a->n + len <= sizeof(a->b))
		memcpy(a->b + a->n, p, len);
	a->n += len; /* past the end: acpi_build sees it and fails */
}

/* @op (1 or 2 bytes), PkgLength, then @body. */
static void aml_pkg(struct aml *a, const uint8_t *op, size_t oplen, const struct aml *body)
{
	size_t total = body->n + 1;
	uint8_t len[2];

	aml_put(a, op, oplen);
	if (total <= 63) {
		len[0] = (uint8_t)total;
		aml_put(a, len, 1);
	} else {
		total++; /* two length bytes: up to 4095 */
		len[0] = (uint8_t)(0x40 | (total & 0xf));
		len[1] = (uint8_t)(total >> 4);
		aml_put(a, len, 2);
	}
	aml_put(a, body->b, body->n);
}

/* A 16-bit word-address-space descriptor (bus numbers or I/O) produced by the bridge. */
static void word_space(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	uint16_t len = (uint16_t)(max - min + 1);
	uint8_t d[16] = { 0x88, 13, 0, type, 0x0c /* min and max fixed, producer */, tflags };

	memcpy(d + 8, &min, 2);
	memcpy(d + 10, &max, 2);
	memcpy(d + 14, &len, 2);
	aml_put(a, d, sizeof(d));
}

static size_t build_pci0(struct aml *out)
{
	struct aml crs = { .n = 0 }, buf = { .n = 0 }, dev = { .n = 0 }, scope = { .n = 0 };
	static const uint8_t cf8[] = { 0x47, 1, 0xf8, 0x0c, 0xf8, 0x0c, 1, 8 }; /* IO 0xcf8-0xcff */
	uint32_t mem[5] = { 0, (uint32_t)PCI_MMIO_BASE, (uint32_t)(PCI_MMIO_END - 1), 0,
			    (uint32_t)(PCI_MMIO_END - PCI_MMIO_BASE) };
	uint8_t dmem[6] = { 0x87, 23, 0, 0 /* memory */, 0x0c, 1 /* read-write, uncached */ };
	static const uint8_t end[] = { 0x79, 0 };

	/* Bus 0 alone: with 0-255 Linux probes every slot of every bus, 33k port exits. */
	word_space(&crs, 2, 0, 0, 0);
	aml_put(&crs, cf8, sizeof(cf8));
	word_space(&crs, 1, 3, 0, 0xcf7); /* I/O, entire range */
	word_space(&crs, 1, 3, 0xd00, 0xffff);
	aml_put(&crs, dmem, sizeof(dmem));
	aml_put(&crs, mem, sizeof(mem));
	aml_put(&crs, end, sizeof(end));

	uint8_t size[2] = { 0x0a, (uint8_t)crs.n }; /* BytePrefix: the buffer's size */
	aml_put(&buf, size, 2);
	aml_put(&buf, crs.b, crs.n);

	/* Name (_HID, EisaId ("PNP0A03")), Name (_UID, 0), Name (_BBN, 0), Name (_CRS, ...) */
	/* clang-format off */
	static const uint8_t names[] = { 'P', 'C', 'I', '0',
					 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,
					 0x08, '_', 'U', 'I', 'D', 0x00,
					 0x08, '_', 'B', 'B', 'N', 0x00,
					 0x08, '_', 'C', 'R', 'S' };
	/* clang-format on */
	static const uint8_t buffer_op = 0x11, device_op[] = { 0x5b, 0x82 }, scope_op = 0x10;
	aml_put(&dev, names, sizeof(names));
	aml_pkg(&dev, &buffer_op, 1, &buf);

	static const uint8_t sb[] = { '\\', '_', 'S', 'B', '_' };
	aml_put(&scope, sb, sizeof(sb));
	aml_pkg(&scope, device_op, 2, &dev);

	out->n = 0;
	aml_pkg(out, &scope_op, 1, &scope);
	return out->n <= sizeof(out->b) ? out->n : 0;
}

static struct acpi_header *build_ssdt(struct area *a)
{
	struct aml aml;
	size_t n = build_pci0(&aml);
	struct acpi_header *h = n ? take(a, sizeof(*h) + n, 16) : NULL;

	if (!h)
		return NULL;
	header(h, "SSDT", (uint32_t)(sizeof(*h) + n), 2);
	memcpy(h + 1, aml.b, n);
	seal(h);
	return h;
}

size_t acpi_build(uint8_t *buf, size_t size, const struct acpi_config *c)
{
	struct area a = { buf, size, 0, c->gpa };

	if (!c->ncpus || c->ncpus > ACPI_MAX_CPUS || (c->gpa & 15) || c->gpa + size > 1ULL << 32)
		return 0;
	struct acpi_rsdp *rsdp = take(&a, sizeof(*rsdp), 16);
	struct acpi_header *xsdt = take(&a, sizeof(*xsdt) + 3 * 8, 16);
	struct acpi_facs *facs = take(&a, sizeof(*facs), 64);
	struct acpi_header *dsdt = build_dsdt(&a);
	if (!rsdp || !xsdt || !facs || !dsdt)
		return 0;
	struct acpi_fadt *fadt = build_fadt(&a, gpa_of(&a, facs), gpa_of(&a, dsdt));
	struct acpi_header *madt = fadt ? build_madt(&a, c) : NULL;
	struct acpi_header *ssdt = madt ? build_ssdt(&a) : NULL;
	if (!ssdt)
		return 0;

	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;

	header(xsdt, "XSDT", sizeof(*xsdt) + 3 * 8, 1);
	uint64_t entries[3] = { gpa_of(&a, fadt), gpa_of(&a, madt), gpa_of(&a, ssdt) };
	memcpy(xsdt + 1, entries, sizeof(entries));
	seal(xsdt);

	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, "DYAD  ", 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = gpa_of(&a, xsdt);
	rsdp->checksum = (uint8_t)-acpi_sum(rsdp, 20);
	rsdp->ext_checksum = (uint8_t)-acpi_sum(rsdp, sizeof(*rsdp));
	return a.used;
}
