// SPDX-License-Identifier: MIT
/*
 * Finding the CPUs (arch/x86/acpi.c): good ACPI and MP tables give their CPUs; broken and
 * hostile ones give a sentence, never a read outside what the read function offered (ASan
 * watches every byte: each region is its own heap block), never a loop without end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arch/x86/acpi.h>

#include "test_rng.h"

/* Fake physical memory: a few regions, each a separate heap block of exactly its size. */
struct region {
	u64 pa;
	u64 len;
	u8 *bytes;
};

struct phys {
	struct region r[8];
	unsigned nr;
	unsigned reads;
};

static u8 *phys_add(struct phys *m, u64 pa, u64 len)
{
	assert_true(m->nr < ARRAY_SIZE(m->r));
	struct region *r = &m->r[m->nr++];
	r->pa = pa;
	r->len = len;
	r->bytes = calloc(1, len);
	assert_non_null(r->bytes);
	return r->bytes;
}

static void phys_free(struct phys *m)
{
	for (unsigned i = 0; i < m->nr; i++)
		free(m->r[i].bytes);
	m->nr = 0;
}

static const void *phys_read(void *ctx, u64 pa, u64 len)
{
	struct phys *m = ctx;

	m->reads++;
	for (unsigned i = 0; i < m->nr; i++) {
		struct region *r = &m->r[i];
		if (pa >= r->pa && len <= r->len && pa - r->pa <= r->len - len)
			return r->bytes + (pa - r->pa);
	}
	return NULL;
}

static void fix_sum(u8 *p, u64 len, u64 sum_at)
{
	u8 s = 0;

	p[sum_at] = 0;
	for (u64 i = 0; i < len; i++)
		s += p[i];
	p[sum_at] = (u8)-s;
}

static void put32(u8 *p, u32 v)
{
	memcpy(p, &v, 4);
}

static void put64(u8 *p, u64 v)
{
	memcpy(p, &v, 8);
}

static void sdt_header(u8 *t, const char sig[4], u32 len)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = 1;
	memcpy(t + 10, "DYADTS", 6);
}

/* An RSDP copy: revision 0 (20 bytes, RSDT) or 2 (36 bytes, XSDT). */
static size_t make_rsdp(u8 *r, unsigned rev, u32 rsdt, u64 xsdt)
{
	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	r[15] = rev;
	put32(r + 16, rsdt);
	fix_sum(r, 20, 8);
	if (rev < 2)
		return 20;
	put32(r + 20, 36);
	put64(r + 24, xsdt);
	fix_sum(r, 36, 32);
	return 36;
}

#define MADT_PA 0x7fe1000
#define RSDT_PA 0x7fe0000
#define XSDT_PA 0x7fe0100

struct madt_builder {
	u8 buf[4096];
	u32 len;
};

static void madt_begin(struct madt_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->len = 44;
	put32(b->buf + 36, 0xfee00000);
}

static u8 *madt_entry(struct madt_builder *b, u8 type, u8 len)
{
	u8 *e = b->buf + b->len;
	e[0] = type;
	e[1] = len;
	b->len += len;
	return e;
}

static void madt_lapic(struct madt_builder *b, u8 id, u32 flags)
{
	u8 *e = madt_entry(b, 0, 8);
	e[2] = id;
	e[3] = id;
	put32(e + 4, flags);
}

static void madt_x2apic(struct madt_builder *b, u32 id, u32 flags)
{
	u8 *e = madt_entry(b, 9, 16);
	put32(e + 4, id);
	put32(e + 8, flags);
}

/* Places the MADT and an RSDT (or XSDT) listing a FACP-like table and it; returns the RSDP. */
static size_t install(struct phys *m, struct madt_builder *b, u8 rsdp[36], bool xsdt)
{
	sdt_header(b->buf, "APIC", b->len);
	fix_sum(b->buf, b->len, 9);
	memcpy(phys_add(m, MADT_PA, b->len), b->buf, b->len);

	u8 *other = phys_add(m, 0x7fe2000, 36);
	sdt_header(other, "FACP", 36);
	fix_sum(other, 36, 9);

	u32 len = 36 + 2 * (xsdt ? 8 : 4);
	u8 *root = phys_add(m, xsdt ? XSDT_PA : RSDT_PA, len);
	sdt_header(root, xsdt ? "XSDT" : "RSDT", len);
	if (xsdt) {
		put64(root + 36, 0x7fe2000);
		put64(root + 44, MADT_PA);
	} else {
		put32(root + 36, 0x7fe2000);
		put32(root + 40, MADT_PA);
	}
	fix_sum(root, len, 9);
	return make_rsdp(rsdp, xsdt ? 2 : 0, RSDT_PA, xsdt ? XSDT_PA : 0);
}

static const char *run_madt(struct madt_builder *b, bool xsdt, struct cpu_table *out)
{
	struct phys m = { 0 };
	u8 rsdp[36];
	size_t n = install(&m, b, rsdp, xsdt);
	const char *err = acpi_madt_cpus(rsdp, n, phys_read, &m, out);

	phys_free(&m);
	return err;
}

static void test_madt_rsdt_lists_enabled_cpus(void **state)
{
	struct madt_builder b;
	struct cpu_table t;

	madt_begin(&b);
	madt_lapic(&b, 0, 1);
	madt_lapic(&b, 1, 1);
	madt_lapic(&b, 7, 0); /* disabled */
	madt_lapic(&b, 3, 2); /* online-capable only: not started */
	madt_lapic(&b, 2, 1);
	assert_null(run_madt(&b, false, &t));
	assert_int_equal(t.source, CPU_TABLE_MADT);
	assert_int_equal(t.nr, 3);
	assert_int_equal(t.apic_id[0], 0);
	assert_int_equal(t.apic_id[1], 1);
	assert_int_equal(t.apic_id[2], 2);
	assert_int_equal(t.nr_disabled, 2);
	assert_int_equal(t.lapic_pa, 0xfee00000);
}

static void test_madt_xsdt_x2apic_and_override(void **state)
{
	struct madt_builder b;
	struct cpu_table t;

	madt_begin(&b);
	madt_lapic(&b, 0, 1);
	madt_x2apic(&b, 300, 1);
	madt_x2apic(&b, 0xffffffff, 1); /* broadcast: no CPU */
	u8 *o = madt_entry(&b, 5, 12);
	put64(o + 4, 0xfed00000);
	madt_entry(&b, 1, 12); /* an I/O APIC: skipped */
	assert_null(run_madt(&b, true, &t));
	assert_int_equal(t.nr, 2);
	assert_int_equal(t.apic_id[1], 300);
	assert_int_equal(t.nr_ignored, 1);
	assert_int_equal(t.lapic_pa, 0xfed00000);
}

static void test_madt_too_many_and_repeated_cpus(void **state)
{
	struct madt_builder b;
	struct cpu_table t;

	madt_begin(&b);
	for (unsigned i = 0; i < 100; i++)
		madt_lapic(&b, i, 1);
	madt_lapic(&b, 5, 1);
	assert_null(run_madt(&b, false, &t));
	assert_int_equal(t.nr, CPU_TABLE_MAX);
	assert_int_equal(t.nr_ignored, 100 - CPU_TABLE_MAX + 1);
	for (unsigned i = 0; i < CPU_TABLE_MAX; i++)
		assert_int_equal(t.apic_id[i], i);
}

/* Each broken MADT is refused with a sentence, and the table then says "no CPUs". */
static void expect_madt_error(struct madt_builder *b, const char *words)
{
	struct cpu_table t;
	const char *err = run_madt(b, false, &t);

	assert_non_null(err);
	if (!strstr(err, words))
		fail_msg("expected an error about '%s', got '%s'", words, err);
	assert_int_equal(t.nr, 0);
	assert_int_equal(t.source, CPU_TABLE_NONE);
}

static void test_madt_entry_length_zero_is_refused(void **state)
{
	struct madt_builder b;

	madt_begin(&b);
	madt_lapic(&b, 0, 1);
	madt_entry(&b, 0, 8)[1] = 0;
	expect_madt_error(&b, "length below 2");
}

static void test_madt_entry_past_end_is_refused(void **state)
{
	struct madt_builder b;

	madt_begin(&b);
	madt_lapic(&b, 0, 1);
	madt_entry(&b, 9, 16)[1] = 200;
	expect_madt_error(&b, "runs past its end");
}

static void test_madt_short_entries_are_refused(void **state)
{
	struct madt_builder b;

	madt_begin(&b);
	madt_entry(&b, 0, 6);
	expect_madt_error(&b, "short local APIC");
	madt_begin(&b);
	madt_entry(&b, 9, 12);
	expect_madt_error(&b, "short x2APIC");
	madt_begin(&b);
	madt_entry(&b, 5, 8);
	expect_madt_error(&b, "short local APIC address override");
	madt_begin(&b);
	madt_lapic(&b, 0, 1);
	b.len++; /* one byte left: not even an entry header */
	expect_madt_error(&b, "inside an entry header");
}

static void test_madt_without_usable_cpu_is_refused(void **state)
{
	struct madt_builder b;

	madt_begin(&b);
	madt_lapic(&b, 0, 0);
	expect_madt_error(&b, "no usable CPU");
}

static void test_madt_bad_checksum_is_refused(void **state)
{
	struct phys m = { 0 };
	struct madt_builder b;
	struct cpu_table t;
	u8 rsdp[36];

	madt_begin(&b);
	madt_lapic(&b, 0, 1);
	size_t n = install(&m, &b, rsdp, false);
	m.r[0].bytes[44 + 2] ^= 1; /* the APIC ID, after the checksum was computed */
	const char *err = acpi_madt_cpus(rsdp, n, phys_read, &m, &t);
	assert_non_null(err);
	assert_non_null(strstr(err, "checksum"));
	phys_free(&m);
}

static void test_rsdp_checks(void **state)
{
	struct phys m = { 0 };
	struct madt_builder b;
	struct cpu_table t;
	u8 rsdp[36];

	madt_begin(&b);
	madt_lapic(&b, 0, 1);
	size_t n = install(&m, &b, rsdp, true);

	assert_null(acpi_madt_cpus(rsdp, n, phys_read, &m, &t));
	assert_non_null(acpi_madt_cpus(rsdp, 19, phys_read, &m, &t));
	assert_non_null(acpi_madt_cpus(NULL, 36, phys_read, &m, &t));

	u8 bad[36];
	memcpy(bad, rsdp, 36);
	bad[0] = 'X';
	assert_non_null(strstr(acpi_madt_cpus(bad, n, phys_read, &m, &t), "signature"));
	memcpy(bad, rsdp, 36);
	bad[9] ^= 0x40; /* OEM ID, inside the first 20 bytes */
	assert_non_null(strstr(acpi_madt_cpus(bad, n, phys_read, &m, &t), "bad checksum"));
	memcpy(bad, rsdp, 36);
	bad[34] ^= 0x40; /* reserved byte: only the extended checksum covers it */
	assert_non_null(strstr(acpi_madt_cpus(bad, n, phys_read, &m, &t), "extended checksum"));
	/* A length beyond the copy the tag holds is never believed (or read). */
	memcpy(bad, rsdp, 36);
	put32(bad + 20, 0xffffffff);
	fix_sum(bad, 20, 8);
	assert_non_null(strstr(acpi_madt_cpus(bad, n, phys_read, &m, &t), "length"));
	/* A revision-2 RSDP cut to 20 bytes (the old tag): the RSDT is used, and there is none. */
	assert_non_null(strstr(acpi_madt_cpus(rsdp, 20, phys_read, &m, &t), "outside"));
	phys_free(&m);
}

static void test_root_table_checks(void **state)
{
	struct phys m = { 0 };
	struct cpu_table t;
	u8 rsdp[36];

	/* The RSDT points nowhere readable. */
	size_t n = make_rsdp(rsdp, 0, RSDT_PA, 0);
	assert_non_null(strstr(acpi_madt_cpus(rsdp, n, phys_read, &m, &t), "outside"));

	/* The RSDT claims 4 GiB: refused before anything that long is read. */
	u8 *root = phys_add(&m, RSDT_PA, 64);
	sdt_header(root, "RSDT", 0xffffffff);
	assert_non_null(strstr(acpi_madt_cpus(rsdp, n, phys_read, &m, &t), "impossible length"));
	/* ... or less than its header. */
	sdt_header(root, "RSDT", 20);
	assert_non_null(strstr(acpi_madt_cpus(rsdp, n, phys_read, &m, &t), "impossible length"));
	/* ... or more than memory holds. */
	sdt_header(root, "RSDT", 65);
	assert_non_null(strstr(acpi_madt_cpus(rsdp, n, phys_read, &m, &t), "past readable"));
	/* A wrong signature. */
	sdt_header(root, "FACP", 36);
	fix_sum(root, 36, 9);
	assert_non_null(strstr(acpi_madt_cpus(rsdp, n, phys_read, &m, &t), "RSDT or XSDT"));
	/* Entries that point at nothing readable, and no MADT. */
	sdt_header(root, "RSDT", 44);
	put32(root + 36, 0x12345678);
	put32(root + 40, 0xfffffff0);
	fix_sum(root, 44, 9);
	assert_non_null(strstr(acpi_madt_cpus(rsdp, n, phys_read, &m, &t), "no MADT"));
	phys_free(&m);
}

/*
 * Randomly damaged tables: bytes of the MADT and the RSDT changed, with the checksums fixed
 * up half the time so that the parser meets the damage. It must return (with CPUs or a
 * sentence), never read outside memory (ASan), and never report more CPUs than fit.
 */
static void test_madt_random_damage(void **state)
{
	rnd_seed_from_env("ACPI_SEED");
	for (unsigned round = 0; round < 20000; round++) {
		struct phys m = { 0 };
		struct madt_builder b;
		struct cpu_table t;
		u8 rsdp[36];

		madt_begin(&b);
		unsigned n = 1 + rnd_below(8);
		for (unsigned i = 0; i < n; i++) {
			if (rnd_below(2))
				madt_lapic(&b, rnd_below(256), rnd_below(4));
			else
				madt_x2apic(&b, rnd(), rnd_below(4));
		}
		size_t rlen = install(&m, &b, rsdp, rnd_below(2));
		struct region *madt = &m.r[0], *root = &m.r[2];
		for (unsigned k = 1 + rnd_below(4); k; k--) {
			struct region *r = rnd_below(4) ? madt : root;
			r->bytes[rnd_below(r->len)] = rnd();
		}
		if (rnd_below(2)) {
			fix_sum(madt->bytes, madt->len, 9);
			fix_sum(root->bytes, root->len, 9);
		}
		const char *err = acpi_madt_cpus(rsdp, rlen, phys_read, &m, &t);
		assert_true(t.nr <= CPU_TABLE_MAX);
		if (err)
			assert_int_equal(t.nr, 0);
		else
			assert_true(t.nr >= 1);
		phys_free(&m);
	}
}

/* ---- the MP table ---------------------------------------------------------------------- */

#define MP_CONFIG_PA 0xe8000

/* The BIOS data area (EBDA segment, base memory), and a floating pointer at @fp_pa. */
static void mp_install(struct phys *m, u16 ebda_seg, u64 fp_pa, u8 *fp_region, u32 config_pa)
{
	u8 *bda = phys_add(m, 0x400, 0x100);

	memcpy(bda + 0x0e, &ebda_seg, 2);
	bda[0x13] = 0x7f; /* 639 KiB */
	bda[0x14] = 0x02;
	u8 *fp = fp_region;
	memcpy(fp, "_MP_", 4);
	put32(fp + 4, config_pa);
	fp[8] = 1;
	fp[9] = 4;
	fix_sum(fp, 16, 10);
	(void)fp_pa;
}

/* A configuration table with processors @ids (enabled unless the id has bit 7 set) and a bus. */
static u8 *mp_config(struct phys *m, const u8 *ids, unsigned n, u16 *len_out)
{
	u16 len = 44 + 20 * n + 8;
	u8 *t = phys_add(m, MP_CONFIG_PA, len);

	memcpy(t, "PCMP", 4);
	memcpy(t + 4, &len, 2);
	t[6] = 4;
	u16 count = n + 1;
	memcpy(t + 34, &count, 2);
	put32(t + 36, 0xfee00000);
	u8 *e = t + 44;
	for (unsigned i = 0; i < n; i++, e += 20) {
		e[0] = 0;
		e[1] = ids[i] & 0x7f;
		e[3] = ids[i] & 0x80 ? 0 : 1;
	}
	e[0] = 1; /* a bus */
	fix_sum(t, len, 7);
	*len_out = len;
	return t;
}

static void test_mptable_in_bios_rom(void **state)
{
	struct phys m = { 0 };
	struct cpu_table t;
	u16 len;
	static const u8 ids[] = { 0, 1, 0x82, 3 };

	u8 *rom = phys_add(&m, 0xf0000, 0x10000);
	mp_install(&m, 0, 0xf0a30, rom + 0xa30, MP_CONFIG_PA);
	mp_config(&m, ids, 4, &len);
	assert_null(mptable_cpus(phys_read, &m, &t));
	assert_int_equal(t.source, CPU_TABLE_MPTABLE);
	assert_int_equal(t.nr, 3);
	assert_int_equal(t.apic_id[2], 3);
	assert_int_equal(t.nr_disabled, 1);
	assert_int_equal(t.lapic_pa, 0xfee00000);
	phys_free(&m);
}

static void test_mptable_in_ebda(void **state)
{
	struct phys m = { 0 };
	struct cpu_table t;
	u16 len;
	static const u8 ids[] = { 0, 1 };

	u8 *ebda = phys_add(&m, 0x9fc00, 0x400);
	mp_install(&m, 0x9fc0, 0x9fc40, ebda + 0x40, MP_CONFIG_PA);
	mp_config(&m, ids, 2, &len);
	assert_null(mptable_cpus(phys_read, &m, &t));
	assert_int_equal(t.nr, 2);
	phys_free(&m);
}

static void test_mptable_hostile(void **state)
{
	struct phys m = { 0 };
	struct cpu_table t;
	u16 len;
	static const u8 ids[] = { 0, 1 };

	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "no MP floating pointer"));

	u8 *rom = phys_add(&m, 0xf0000, 0x10000);
	mp_install(&m, 0, 0xf0010, rom + 0x10, MP_CONFIG_PA);
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "outside readable"));
	u8 *c = mp_config(&m, ids, 2, &len);

	/* A bad floating-pointer checksum: not found at all. */
	rom[0x10 + 5] ^= 1;
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "no MP floating pointer"));
	rom[0x10 + 5] ^= 1;
	assert_null(mptable_cpus(phys_read, &m, &t));

	c[44 + 1] ^= 1;
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "checksum"));
	c[44 + 1] ^= 1;

	/* More entries than the length holds. */
	c[34] = 50;
	fix_sum(c, len, 7);
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "more entries"));
	/* An unknown entry type: its length is unknown, so nothing after it is read. */
	c[34] = 3;
	c[44 + 20] = 9;
	fix_sum(c, len, 7);
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "unknown type"));
	/* A processor entry that runs past the stated length. */
	c[44 + 20] = 0;
	c[34] = 3;
	u16 short_len = 44 + 20 + 10;
	memcpy(c + 4, &short_len, 2);
	fix_sum(c, short_len, 7);
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "past its end"));
	/* A length beyond readable memory. */
	u16 long_len = 0xffff;
	memcpy(c + 4, &long_len, 2);
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "past readable"));
	/* A default configuration. */
	rom[0x10 + 11] = 5;
	fix_sum(rom + 0x10, 16, 10);
	assert_non_null(strstr(mptable_cpus(phys_read, &m, &t), "default configuration"));
	assert_int_equal(t.nr, 0);
	phys_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_madt_rsdt_lists_enabled_cpus),
		cmocka_unit_test(test_madt_xsdt_x2apic_and_override),
		cmocka_unit_test(test_madt_too_many_and_repeated_cpus),
		cmocka_unit_test(test_madt_entry_length_zero_is_refused),
		cmocka_unit_test(test_madt_entry_past_end_is_refused),
		cmocka_unit_test(test_madt_short_entries_are_refused),
		cmocka_unit_test(test_madt_without_usable_cpu_is_refused),
		cmocka_unit_test(test_madt_bad_checksum_is_refused),
		cmocka_unit_test(test_rsdp_checks),
		cmocka_unit_test(test_root_table_checks),
		cmocka_unit_test(test_madt_random_damage),
		cmocka_unit_test(test_mptable_in_bios_rom),
		cmocka_unit_test(test_mptable_in_ebda),
		cmocka_unit_test(test_mptable_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
