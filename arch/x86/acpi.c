// SPDX-License-Identifier: MIT
/*
 * The CPUs from the firmware's tables (include/arch/x86/acpi.h): the ACPI MADT, else the MP
 * table; and the PCI configuration windows of the ACPI MCFG. Pure code over bytes read through a
 * phys_read_fn; it builds on the host unchanged. Fields are copied out with memcpy: tables are
 * byte-packed and their entries unaligned.
 */
#include <arch/x86/acpi.h>
#include <dyad/string.h>

#define SDT_HEADER_LEN 36
#define MADT_ENTRIES_OFF 44 /* header, local APIC address (u32), flags (u32) */
#define MADT_LAPIC 0
#define MADT_LAPIC_OVERRIDE 5
#define MADT_X2APIC 9
#define MADT_ENABLED BIT(0)
#define ACPI_ROOT_MAX 256 /* tables an RSDT or XSDT may list: real ones list a few dozen */
#define MCFG_ENTRIES_OFF 44 /* header, 8 reserved bytes */
#define MCFG_ENTRY_LEN 16
#define MCFG_ADDR_LIMIT (1ull << 52) /* the architectural limit of a physical address */

#define MP_FLOAT_LEN 16
#define MP_CONFIG_HEADER_LEN 44
#define MP_PROCESSOR 0
#define MP_PROCESSOR_LEN 20
#define MP_OTHER_ENTRY_LEN 8 /* bus, I/O APIC, I/O and local interrupt assignments */
#define MP_LAST_ENTRY_TYPE 4
#define MP_CPU_ENABLED BIT(0)

static u8 sum_bytes(const u8 *p, u64 len)
{
	u8 s = 0;

	for (u64 i = 0; i < len; i++)
		s += p[i];
	return s;
}

static u16 get16(const u8 *p)
{
	u16 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static u32 get32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static u64 get64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void table_reset(struct cpu_table *out, enum cpu_table_source source)
{
	memset(out, 0, sizeof(*out));
	out->source = source;
}

/* Adds a usable CPU; a repeated ID (the firmware would have us start one CPU twice) is not. */
static void add_cpu(struct cpu_table *out, u32 apic_id)
{
	for (unsigned i = 0; i < out->nr; i++) {
		if (out->apic_id[i] == apic_id) {
			out->nr_ignored++;
			return;
		}
	}
	if (out->nr == CPU_TABLE_MAX) {
		out->nr_ignored++;
		return;
	}
	out->apic_id[out->nr++] = apic_id;
}

/*
 * Reads a whole system description table at @pa: the header first, then the length it states
 * once that is checked (at least a header, at most ACPI_TABLE_MAX_LEN, all readable, summing
 * to zero). Returns the table, or NULL with *@err set.
 */
static const u8 *read_sdt(phys_read_fn rd, void *ctx, u64 pa, u32 *len, const char **err)
{
	const u8 *h = rd(ctx, pa, SDT_HEADER_LEN);

	if (!h) {
		*err = "an ACPI table lies outside readable memory";
		return NULL;
	}
	*len = get32(h + 4);
	if (*len < SDT_HEADER_LEN || *len > ACPI_TABLE_MAX_LEN) {
		*err = "an ACPI table states an impossible length";
		return NULL;
	}
	const u8 *t = rd(ctx, pa, *len);
	if (!t) {
		*err = "an ACPI table runs past readable memory";
		return NULL;
	}
	if (sum_bytes(t, *len) != 0) {
		*err = "an ACPI table has a bad checksum";
		return NULL;
	}
	return t;
}

/* The MADT's entries, each checked to lie inside the table and to be long enough for its type. */
static const char *parse_madt(const u8 *t, u32 len, struct cpu_table *out)
{
	if (len < MADT_ENTRIES_OFF)
		return "the MADT is shorter than its fixed fields";
	out->lapic_pa = get32(t + SDT_HEADER_LEN);
	for (u32 off = MADT_ENTRIES_OFF; off < len;) {
		if (len - off < 2)
			return "the MADT ends inside an entry header";
		u8 type = t[off], elen = t[off + 1];
		if (elen < 2)
			return "the MADT has an entry of length below 2";
		if (elen > len - off)
			return "the MADT has an entry that runs past its end";
		const u8 *e = t + off;
		switch (type) {
		case MADT_LAPIC:
			if (elen < 8)
				return "the MADT has a short local APIC entry";
			if (get32(e + 4) & MADT_ENABLED)
				add_cpu(out, e[3]);
			else
				out->nr_disabled++;
			break;
		case MADT_X2APIC:
			if (elen < 16)
				return "the MADT has a short x2APIC entry";
			if (!(get32(e + 8) & MADT_ENABLED))
				out->nr_disabled++;
			else if (get32(e + 4) == 0xffffffffu)
				out->nr_ignored++; /* the broadcast ID names no CPU */
			else
				add_cpu(out, get32(e + 4));
			break;
		case MADT_LAPIC_OVERRIDE:
			if (elen < 12)
				return "the MADT has a short local APIC address override";
			out->lapic_pa = get64(e + 4);
			break;
		}
		off += elen;
	}
	if (!out->nr)
		return "the MADT lists no usable CPU";
	return NULL;
}

/*
 * The table with signature @sig listed by the root table at @root_pa, whose entries are 4 bytes
 * (RSDT) or 8 bytes (XSDT, unaligned) wide: read whole and checked by read_sdt(). Returns it,
 * NULL with *@err NULL when the root lists none, or NULL with *@err set.
 */
static const u8 *find_sdt(phys_read_fn rd, void *ctx, u64 root_pa, unsigned width,
			  const char sig[4], u32 *len, const char **err)
{
	const u8 *root = read_sdt(rd, ctx, root_pa, len, err);

	if (!root)
		return NULL;
	if (memcmp(root, width == 8 ? "XSDT" : "RSDT", 4) != 0) {
		*err = "the RSDP does not point at an RSDT or XSDT";
		return NULL;
	}
	u32 n = (*len - SDT_HEADER_LEN) / width;
	/* Copied: the next read may reuse the memory the root table was read into. */
	u64 entries[ACPI_ROOT_MAX];
	if (n > ARRAY_SIZE(entries)) {
		*err = "the ACPI root table lists more than 256 tables";
		return NULL;
	}
	for (u32 i = 0; i < n; i++)
		entries[i] = width == 8 ? get64(root + SDT_HEADER_LEN + 8 * i)
					: get32(root + SDT_HEADER_LEN + 4 * i);
	for (u32 i = 0; i < n; i++) {
		const u8 *h = rd(ctx, entries[i], SDT_HEADER_LEN);
		if (h && memcmp(h, sig, 4) == 0)
			return read_sdt(rd, ctx, entries[i], len, err);
	}
	return NULL;
}

/*
 * The table with signature @sig found from the RSDP copy @rsdp: through the XSDT when the RSDP
 * is revision 2 or later with a valid extended checksum, else the RSDT. As find_sdt().
 */
static const u8 *find_table(const void *rsdp, size_t rsdp_len, phys_read_fn rd, void *ctx,
			    const char sig[4], u32 *len, const char **err)
{
	const u8 *r = rsdp;

	*err = NULL;
	if (!r || rsdp_len < ACPI_RSDP_V1_LEN) {
		*err = "the ACPI RSDP is shorter than 20 bytes";
	} else if (memcmp(r, "RSD PTR ", 8) != 0) {
		*err = "the ACPI RSDP has a bad signature";
	} else if (sum_bytes(r, ACPI_RSDP_V1_LEN) != 0) {
		*err = "the ACPI RSDP has a bad checksum";
	} else if (r[15] >= 2 && rsdp_len >= ACPI_RSDP_V2_LEN) {
		/* Revision 2: the XSDT, if its own length and checksum hold. */
		u32 rlen = get32(r + 20);
		if (rlen < ACPI_RSDP_V2_LEN || rlen > rsdp_len)
			*err = "the ACPI RSDP states a length beyond its copy";
		else if (sum_bytes(r, rlen) != 0)
			*err = "the ACPI RSDP has a bad extended checksum";
		else if (get64(r + 24))
			return find_sdt(rd, ctx, get64(r + 24), 8, sig, len, err);
		else
			return find_sdt(rd, ctx, get32(r + 16), 4, sig, len, err);
	} else {
		return find_sdt(rd, ctx, get32(r + 16), 4, sig, len, err);
	}
	return NULL;
}

const char *acpi_madt_cpus(const void *rsdp, size_t rsdp_len, phys_read_fn rd, void *ctx,
			   struct cpu_table *out)
{
	const char *err;
	u32 len;

	table_reset(out, CPU_TABLE_MADT);
	const u8 *madt = find_table(rsdp, rsdp_len, rd, ctx, "APIC", &len, &err);
	if (madt)
		err = parse_madt(madt, len, out);
	else if (!err)
		err = "the ACPI tables have no MADT";
	if (err)
		table_reset(out, CPU_TABLE_NONE);
	return err;
}

/*
 * The MCFG's allocations: 16 bytes each after 8 reserved bytes. An entry is used when it is
 * for segment 0 (the only one configuration mechanism 1 reaches too), names an ordered bus
 * range, and its window is 1 MiB aligned, not at 0, and below 2^52 for every bus it covers.
 */
static const char *parse_mcfg(const u8 *t, u32 len, struct mcfg *out)
{
	if (len < MCFG_ENTRIES_OFF)
		return "the MCFG is shorter than its fixed fields";
	if ((len - MCFG_ENTRIES_OFF) % MCFG_ENTRY_LEN)
		return "the MCFG length is not a whole number of entries";
	for (u32 off = MCFG_ENTRIES_OFF; off < len; off += MCFG_ENTRY_LEN) {
		const u8 *e = t + off;
		struct mcfg_region r = { .base = get64(e),
					 .segment = get16(e + 8),
					 .bus_first = e[10],
					 .bus_last = e[11] };
		/* Bus 0's address even when the range starts later: bus b is at base + b MiB. */
		u64 end = r.base + ((u64)r.bus_last + 1) * MCFG_BUS_WINDOW;
		bool sane = r.bus_first <= r.bus_last && r.base &&
			    !(r.base & (MCFG_BUS_WINDOW - 1)) && r.base < MCFG_ADDR_LIMIT &&
			    end <= MCFG_ADDR_LIMIT;
		if (!sane) {
			out->nr_bad++;
			continue;
		}
		if (r.segment != 0 || out->nr == MCFG_MAX_REGIONS) {
			out->nr_ignored++;
			continue;
		}
		for (unsigned i = 0; i < out->nr; i++) {
			if (r.bus_first <= out->r[i].bus_last && out->r[i].bus_first <= r.bus_last)
				return "the MCFG has two windows for the same bus";
		}
		out->r[out->nr++] = r;
	}
	if (!out->nr)
		return "the MCFG has no usable window for segment 0";
	return NULL;
}

const char *acpi_mcfg(const void *rsdp, size_t rsdp_len, phys_read_fn rd, void *ctx,
		      struct mcfg *out)
{
	const char *err;
	u32 len;

	memset(out, 0, sizeof(*out));
	const u8 *mcfg = find_table(rsdp, rsdp_len, rd, ctx, "MCFG", &len, &err);
	if (mcfg)
		err = parse_mcfg(mcfg, len, out);
	else if (!err)
		err = "the ACPI tables have no MCFG";
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* The MP floating pointer in [start, start + len), on a 16-byte boundary; 0 when none. */
static u64 mp_scan(phys_read_fn rd, void *ctx, u64 start, u64 len)
{
	const u8 *p = rd(ctx, start, len);

	if (!p)
		return 0;
	for (u64 off = 0; off + MP_FLOAT_LEN <= len; off += 16)
		if (memcmp(p + off, "_MP_", 4) == 0 && p[off + 8] == 1 &&
		    sum_bytes(p + off, MP_FLOAT_LEN) == 0)
			return start + off;
	return 0;
}

static u64 mp_find(phys_read_fn rd, void *ctx)
{
	const u8 *bda = rd(ctx, 0x40e, 8);
	u64 ebda = bda ? (u64)get16(bda) << 4 : 0;
	u64 base_kib = bda ? get16(bda + 5) : 0; /* 0x413: base memory in KiB */
	u64 fp = 0;

	if (ebda)
		fp = mp_scan(rd, ctx, ebda, 1024);
	else if (base_kib >= 1 && base_kib <= 640)
		fp = mp_scan(rd, ctx, base_kib * 1024 - 1024, 1024);
	return fp ? fp : mp_scan(rd, ctx, 0xf0000, 0x10000);
}

/* The configuration table's entries: processors are 20 bytes, every other known type 8. */
static const char *parse_mp_config(const u8 *t, u16 len, struct cpu_table *out)
{
	u16 count = get16(t + 34);
	u32 off = MP_CONFIG_HEADER_LEN;

	out->lapic_pa = get32(t + 36);
	for (u16 i = 0; i < count; i++) {
		if (off >= len)
			return "the MP table has more entries than its length holds";
		u8 type = t[off];
		u32 elen = type == MP_PROCESSOR ? MP_PROCESSOR_LEN : MP_OTHER_ENTRY_LEN;
		if (type > MP_LAST_ENTRY_TYPE)
			return "the MP table has an entry of unknown type (and so unknown length)";
		if (elen > len - off)
			return "the MP table has an entry that runs past its end";
		if (type == MP_PROCESSOR) {
			if (t[off + 3] & MP_CPU_ENABLED)
				add_cpu(out, t[off + 1]);
			else
				out->nr_disabled++;
		}
		off += elen;
	}
	if (!out->nr)
		return "the MP table lists no usable CPU";
	return NULL;
}

const char *mptable_cpus(phys_read_fn rd, void *ctx, struct cpu_table *out)
{
	const char *err;
	u64 fp_pa = mp_find(rd, ctx);

	table_reset(out, CPU_TABLE_MPTABLE);
	if (!fp_pa) {
		err = "no MP floating pointer";
	} else {
		const u8 *fp = rd(ctx, fp_pa, MP_FLOAT_LEN);
		u32 config_pa = fp ? get32(fp + 4) : 0;
		u8 default_config = fp ? fp[11] : 0;
		const u8 *h = config_pa ? rd(ctx, config_pa, MP_CONFIG_HEADER_LEN) : NULL;
		u16 len = h ? get16(h + 4) : 0;
		const u8 *t;

		if (!fp || default_config)
			err = "the MP floating pointer names a default configuration (no table)";
		else if (!h)
			err = "the MP configuration table lies outside readable memory";
		else if (memcmp(h, "PCMP", 4) != 0)
			err = "the MP configuration table has a bad signature";
		else if (len < MP_CONFIG_HEADER_LEN)
			err = "the MP configuration table states an impossible length";
		else if (!(t = rd(ctx, config_pa, len)))
			err = "the MP configuration table runs past readable memory";
		else if (sum_bytes(t, len) != 0)
			err = "the MP configuration table has a bad checksum";
		else
			err = parse_mp_config(t, len, out);
	}
	if (err)
		table_reset(out, CPU_TABLE_NONE);
	return err;
}
