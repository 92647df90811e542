// SPDX-License-Identifier: MIT
/*
 * The ECAM windows of the ACPI MCFG (acpi_mcfg in arch/x86/acpi.c): a good table gives its
 * segment-0 windows; a broken or hostile one gives a sentence and no window, never a read
 * outside the bytes the read function offered (ASan watches each table: a heap block of exactly
 * its length) and never a window the kernel could not map (unaligned, at 0, past 2^52, or two
 * for one bus).
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

#define RSDT_PA 0x7fe0000
#define XSDT_PA 0x7fe0100
#define FACP_PA 0x7fe2000
#define MCFG_PA 0x7fe3000
#define ECAM 0xb0000000ull

/* Fake physical memory: the root table, a FACP, the MCFG; each its own heap block. */
struct phys {
	u64 pa[3];
	u32 len[3];
	u8 *bytes[3];
};

static const void *phys_read(void *ctx, u64 pa, u64 len)
{
	struct phys *m = ctx;

	for (unsigned i = 0; i < 3; i++)
		if (m->bytes[i] && pa >= m->pa[i] && len <= m->len[i] &&
		    pa - m->pa[i] <= m->len[i] - len)
			return m->bytes[i] + (pa - m->pa[i]);
	return NULL;
}

static void put32(u8 *p, u32 v)
{
	memcpy(p, &v, 4);
}

static void put64(u8 *p, u64 v)
{
	memcpy(p, &v, 8);
}

static void fix_sum(u8 *p, u64 len)
{
	u8 s = 0;

	p[9] = 0;
	for (u64 i = 0; i < len; i++)
		s += p[i];
	p[9] = (u8)-s;
}

static u8 *table(struct phys *m, unsigned i, u64 pa, const char sig[4], u32 len)
{
	m->pa[i] = pa;
	m->len[i] = len;
	m->bytes[i] = calloc(1, len);
	assert_non_null(m->bytes[i]);
	memcpy(m->bytes[i], sig, 4);
	put32(m->bytes[i] + 4, len);
	m->bytes[i][8] = 1;
	return m->bytes[i];
}

static void phys_free(struct phys *m)
{
	for (unsigned i = 0; i < 3; i++)
		free(m->bytes[i]);
	memset(m, 0, sizeof(*m));
}

struct entry {
	u64 base;
	u16 segment;
	u8 first, last;
};

/*
 * An MCFG of @n entries (@extra bytes more in its stated and real length), listed after a FACP
 * by an XSDT (@xsdt) or an RSDT; fills the RSDP copy @rsdp and returns its length.
 */
static size_t install(struct phys *m, const struct entry *e, unsigned n, u32 extra, bool xsdt,
		      u8 rsdp[36])
{
	u32 len = 44 + 16 * n + extra;
	u8 *t = table(m, 2, MCFG_PA, "MCFG", len);

	for (unsigned i = 0; i < n; i++) {
		u8 *p = t + 44 + 16 * i;
		put64(p, e[i].base);
		memcpy(p + 8, &e[i].segment, 2);
		p[10] = e[i].first;
		p[11] = e[i].last;
	}
	fix_sum(t, len);
	fix_sum(table(m, 1, FACP_PA, "FACP", 36), 36);
	u32 rlen = 36 + 2 * (xsdt ? 8 : 4);
	u8 *root = table(m, 0, xsdt ? XSDT_PA : RSDT_PA, xsdt ? "XSDT" : "RSDT", rlen);
	if (xsdt) {
		put64(root + 36, FACP_PA);
		put64(root + 44, MCFG_PA);
	} else {
		put32(root + 36, FACP_PA);
		put32(root + 40, MCFG_PA);
	}
	fix_sum(root, rlen);

	memset(rsdp, 0, 36);
	memcpy(rsdp, "RSD PTR ", 8);
	rsdp[15] = xsdt ? 2 : 0;
	put32(rsdp + 16, RSDT_PA);
	u8 s = 0;
	for (unsigned i = 0; i < 20; i++)
		s += rsdp[i];
	rsdp[8] = (u8)-s;
	if (!xsdt)
		return 20;
	put32(rsdp + 20, 36);
	put64(rsdp + 24, XSDT_PA);
	s = 0;
	for (unsigned i = 0; i < 36; i++)
		s += rsdp[i];
	rsdp[32] = (u8)-s;
	return 36;
}

static const char *run(const struct entry *e, unsigned n, bool xsdt, struct mcfg *out)
{
	struct phys m = { 0 };
	u8 rsdp[36];
	size_t rlen = install(&m, e, n, 0, xsdt, rsdp);
	const char *err = acpi_mcfg(rsdp, rlen, phys_read, &m, out);

	phys_free(&m);
	return err;
}

static void expect_error(const char *err, const struct mcfg *out, const char *words)
{
	if (!err || !strstr(err, words))
		fail_msg("expected an error about '%s', got '%s'", words, err ? err : "none");
	assert_int_equal(out->nr, 0);
}

static void test_q35_like_window(void **state)
{
	struct entry e[] = { { ECAM, 0, 0, 255 } };
	struct mcfg out;

	for (int xsdt = 0; xsdt < 2; xsdt++) {
		assert_null(run(e, 1, xsdt, &out));
		assert_int_equal(out.nr, 1);
		assert_int_equal(out.r[0].base, ECAM);
		assert_int_equal(out.r[0].bus_first, 0);
		assert_int_equal(out.r[0].bus_last, 255);
		assert_int_equal(out.nr_bad + out.nr_ignored, 0);
	}
}

/* A window from bus 16 keeps bus 0's base; a second segment is left to others. */
static void test_bus_ranges_and_segments(void **state)
{
	struct entry e[] = {
		{ ECAM, 0, 16, 31 },
		{ 0xc0000000, 1, 0, 255 },
		{ ECAM, 0, 0, 15 },
	};
	struct mcfg out;

	assert_null(run(e, 3, true, &out));
	assert_int_equal(out.nr, 2);
	assert_int_equal(out.r[0].base, ECAM);
	assert_int_equal(out.r[0].bus_first, 16);
	assert_int_equal(out.r[0].bus_last, 31);
	assert_int_equal(out.r[1].bus_first, 0);
	assert_int_equal(out.r[1].bus_last, 15);
	assert_int_equal(out.nr_ignored, 1);

	/* Only another segment: nothing for Dyad. */
	expect_error(run(&e[1], 1, true, &out), &out, "no usable window");
}

static void test_overlapping_bus_ranges_are_refused(void **state)
{
	struct entry e[] = { { ECAM, 0, 0, 31 }, { 0xc0000000, 0, 31, 40 } };
	struct mcfg out;

	expect_error(run(e, 2, true, &out), &out, "two windows for the same bus");
}

/* Entries the kernel could not map are counted bad and skipped. */
static void test_bad_windows_are_skipped(void **state)
{
	struct entry bad[] = {
		{ ECAM, 0, 9, 8 }, /* reversed bus range */
		{ 0, 0, 0, 255 }, /* at 0 */
		{ ECAM + 0x1000, 0, 0, 255 }, /* not 1 MiB aligned */
		{ (1ull << 52) - (1ull << 20), 0, 0, 1 }, /* bus 1 past 2^52 */
		{ ~0ull << 20, 0, 0, 255 }, /* the sum wraps around */
	};
	struct entry good = { ECAM, 0, 0, 0 };
	struct entry all[6];
	struct mcfg out;

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		expect_error(run(&bad[i], 1, i % 2, &out), &out, "no usable window");
		assert_int_equal(out.nr_bad, 0); /* cleared with the error */
	}
	memcpy(all, bad, sizeof(bad));
	all[5] = good;
	assert_null(run(all, 6, true, &out));
	assert_int_equal(out.nr, 1);
	assert_int_equal(out.nr_bad, 5);
	assert_int_equal(out.r[0].bus_last, 0);
	/* The last bus below 2^52 is fine. */
	struct entry top = { (1ull << 52) - (2ull << 20), 0, 0, 1 };
	assert_null(run(&top, 1, true, &out));
	assert_int_equal(out.nr, 1);
}

static void test_too_many_windows(void **state)
{
	struct entry e[MCFG_MAX_REGIONS + 3];
	struct mcfg out;

	for (unsigned i = 0; i < ARRAY_SIZE(e); i++)
		e[i] = (struct entry){ ECAM, 0, (u8)(i * 2), (u8)(i * 2 + 1) };
	assert_null(run(e, ARRAY_SIZE(e), true, &out));
	assert_int_equal(out.nr, MCFG_MAX_REGIONS);
	assert_int_equal(out.nr_ignored, 3);
}

static void test_bad_lengths(void **state)
{
	struct entry e = { ECAM, 0, 0, 255 };
	struct phys m = { 0 };
	struct mcfg out;
	u8 rsdp[36];

	/* A length that is no whole number of entries (it sums right: the bytes are there). */
	size_t rlen = install(&m, &e, 1, 8, true, rsdp);
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "whole number");
	phys_free(&m);

	/* Shorter than the fixed fields. */
	rlen = install(&m, &e, 0, 0, true, rsdp);
	put32(m.bytes[2] + 4, 40);
	fix_sum(m.bytes[2], 40);
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "shorter");
	/* Empty: no window. */
	put32(m.bytes[2] + 4, 44);
	fix_sum(m.bytes[2], 44);
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "no usable window");
	/* Longer than the bytes there: never read. */
	put32(m.bytes[2] + 4, 44 + 16);
	fix_sum(m.bytes[2], 44);
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "past readable");
	/* Beyond any table Dyad believes. */
	put32(m.bytes[2] + 4, 0xfffffff0);
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "impossible length");
	/* Below a header. */
	put32(m.bytes[2] + 4, 30);
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "impossible length");
	phys_free(&m);
}

static void test_bad_checksum(void **state)
{
	struct entry e = { ECAM, 0, 0, 255 };
	struct phys m = { 0 };
	struct mcfg out;
	u8 rsdp[36];
	size_t rlen = install(&m, &e, 1, 0, true, rsdp);

	assert_null(acpi_mcfg(rsdp, rlen, phys_read, &m, &out));
	m.bytes[2][44 + 11] = 127; /* the last bus, after the checksum */
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "checksum");
	phys_free(&m);
}

static void test_no_mcfg(void **state)
{
	struct entry e = { ECAM, 0, 0, 255 };
	struct phys m = { 0 };
	struct mcfg out;
	u8 rsdp[36];
	size_t rlen = install(&m, &e, 1, 0, false, rsdp);

	memcpy(m.bytes[2], "SSDT", 4);
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "no MCFG");
	/* The MADT search is unchanged by the shared lookup: still its own sentence. */
	struct cpu_table t;
	const char *err = acpi_madt_cpus(rsdp, rlen, phys_read, &m, &t);
	assert_non_null(err);
	assert_non_null(strstr(err, "no MADT"));
	/* A broken RSDP is the RSDP's error. */
	rsdp[0] = 'X';
	expect_error(acpi_mcfg(rsdp, rlen, phys_read, &m, &out), &out, "signature");
	phys_free(&m);
}

/*
 * Random damage to the MCFG and its root, checksums fixed half the time: acpi_mcfg returns,
 * and every window it gives is one the kernel can map.
 */
static void test_random_damage(void **state)
{
	rnd_seed_from_env("MCFG_SEED");
	for (unsigned round = 0; round < 20000; round++) {
		struct entry e[4];
		struct phys m = { 0 };
		struct mcfg out;
		u8 rsdp[36];
		unsigned n = 1 + (unsigned)rnd_below(4);

		for (unsigned i = 0; i < n; i++)
			e[i] = (struct entry){ ECAM + (rnd_below(4) << 28), (u16)rnd_below(2),
					       (u8)rnd_below(256), (u8)rnd_below(256) };
		size_t rlen = install(&m, e, n, 0, rnd_below(2), rsdp);
		for (unsigned k = 1 + (unsigned)rnd_below(4); k; k--) {
			unsigned i = rnd_below(4) ? 2 : 0;
			m.bytes[i][rnd_below(m.len[i])] = (u8)rnd();
		}
		if (rnd_below(2)) {
			fix_sum(m.bytes[0], m.len[0]);
			fix_sum(m.bytes[2], m.len[2]);
		}
		const char *err = acpi_mcfg(rsdp, rlen, phys_read, &m, &out);
		if (err) {
			assert_int_equal(out.nr, 0);
		} else {
			assert_true(out.nr >= 1 && out.nr <= MCFG_MAX_REGIONS);
			for (unsigned i = 0; i < out.nr; i++) {
				const struct mcfg_region *r = &out.r[i];
				assert_int_equal(r->segment, 0);
				assert_true(r->bus_first <= r->bus_last);
				assert_true(r->base && !(r->base & (MCFG_BUS_WINDOW - 1)));
				assert_true(r->base + (r->bus_last + 1ull) * MCFG_BUS_WINDOW <=
					    1ull << 52);
				for (unsigned j = 0; j < i; j++)
					assert_true(r->bus_first > out.r[j].bus_last ||
						    out.r[j].bus_first > r->bus_last);
			}
		}
		phys_free(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_q35_like_window),
		cmocka_unit_test(test_bus_ranges_and_segments),
		cmocka_unit_test(test_overlapping_bus_ranges_are_refused),
		cmocka_unit_test(test_bad_windows_are_skipped),
		cmocka_unit_test(test_too_many_windows),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_no_mcfg),
		cmocka_unit_test(test_random_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
