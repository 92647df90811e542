// SPDX-License-Identifier: MIT
/*
 * The odd half in NPT format judged by the AMD manual, not by the derivation.
 *
 * 1. A table of KPTEs and the nested-page-table entries they must give, every value written
 *    out in hex from the APM (vol. 2, 15.25 "Nested Paging", and 5.3/5.4 for the long-mode
 *    entry format the nested walker reads): P bit 0, R/W bit 1, U/S bit 2, PWT/PCD 3/4
 *    (0: write-back, combined with the guest's type), A/D 5/6 (set by the walker), PS bit 7
 *    at the PDPT and PD levels (PAT at the PT level), NX bit 63, and the address. Nested
 *    walks are user accesses, so every present entry carries U; a guest-visible leaf is
 *    executable for the guest whatever the VMM's own NX.
 * 2. A nested walker written from the same pages, run over pmaps filled through the API: for
 *    every guest-physical page it yields exactly what the VMM mapped guest-visible (read,
 *    execute, write when the VMM can write, the same frame) and a fault everywhere else,
 *    including the kernel half.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_rng.h"

#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>

#include "pmap_testlib.h"
#include "pmem_shim.h"

/* KPTE bits, spelled as numbers so the table reads against the manual. */
#define P 0x1ULL
#define W 0x2ULL
#define U 0x4ULL
#define PWT 0x8ULL
#define PCD 0x10ULL
#define A 0x20ULL
#define D 0x40ULL
#define PS 0x80ULL
#define G 0x100ULL
#define VIS 0x200ULL /* Dyad's software bit: guest-visible */
#define NX 0x8000000000000000ULL

struct row {
	unsigned lvl;
	u64 kpte, npte;
	const char *why;
};

static const struct row rows[] = {
	/* level 1: page-table entries, 4 KiB leaves */
	{ 1, 0, 0, "empty slot" },
	{ 1, 0x12345000 | P | U | VIS, 0x12345005, "visible read-only: P U" },
	{ 1, 0x12345000 | P | U | W | VIS, 0x12345007, "visible writable: P W U" },
	{ 1, 0x12345000 | P | U | W | VIS | NX, 0x12345007, "VMM's NX does not reach the guest" },
	{ 1, 0x12345000 | P | U | VIS | NX, 0x12345005, "read-only, VMM no-execute" },
	{ 1, 0x12345000 | P | U | W | VIS | A | D, 0x12345007, "host A/D are not copied" },
	{ 1, 0x12345000 | P | U | VIS | PWT | PCD, 0x12345005, "memory type: write-back" },
	{ 1, 0x12345000 | P | U | W, 0, "VMM-private: nothing" },
	{ 1, 0x12345000 | P | U | W | NX, 0, "VMM-private data: nothing" },
	{ 1, 0x12345000 | P | W | VIS, 0, "kernel-only (U clear): nothing" },
	{ 1, 0x12345000 | P | W | G, 0, "kernel global page: nothing" },
	{ 1, 0x12345000 | U | W | VIS, 0, "not present: nothing" },
	{ 1, 0x000ffffffffff000 | P | U | W | VIS, 0x000ffffffffff007, "highest frame" },
	/* level 2: page-directory entries, 2 MiB leaves or tables */
	{ 2, 0x12200000 | P | U | PS | VIS, 0x12200085, "2M visible read-only: P U PS" },
	{ 2, 0x12200000 | P | U | W | PS | VIS | NX, 0x12200087, "2M visible writable" },
	{ 2, 0x12200000 | P | U | W | PS | A | D | VIS, 0x12200087, "2M, host A/D not copied" },
	{ 2, 0x12200000 | P | U | W | PS, 0, "2M VMM-private: nothing" },
	{ 2, 0x07654000 | P | W | U, 0x07655007, "table: odd half of the next pair, P W U" },
	{ 2, 0x07654000 | P | W | U | A, 0x07655007, "table, host A not copied" },
	{ 2, 0x07654000 | P | W, 0, "kernel table: nothing" },
	{ 2, 0x000fffffffffe000 | P | W | U, 0x000ffffffffff007, "table in the highest pair" },
	/* level 3: PDPT entries, 1 GiB leaves or tables */
	{ 3, 0x40000000 | P | U | PS | VIS, 0x40000085, "1G visible read-only" },
	{ 3, 0x40000000 | P | U | W | PS | VIS | NX, 0x40000087, "1G visible writable" },
	{ 3, 0x40000000 | P | U | W | PS | NX, 0, "1G VMM-private: nothing" },
	{ 3, 0x07654000 | P | W | U, 0x07655007, "table" },
	{ 3, 0x07654000 | P | W, 0, "kernel table: nothing" },
	/* level 4: PML4 entries, tables only */
	{ 4, 0x07654000 | P | W | U, 0x07655007, "table" },
	{ 4, 0x07654000 | P | W | U | A, 0x07655007, "table, host A not copied" },
	{ 4, 0x07654000 | P | W, 0, "kernel half: nothing" },
	{ 4, 0, 0, "empty slot" },
};

static void test_table_of_entries_from_the_apm(void **state)
{
	unsigned bad = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(rows); i++) {
		u64 got = npte_from_kpte(rows[i].kpte, rows[i].lvl);

		if (got != rows[i].npte) {
			print_error("level %u kpte %#llx (%s): npte %#llx, expected %#llx\n",
				    rows[i].lvl, (unsigned long long)rows[i].kpte, rows[i].why,
				    (unsigned long long)got, (unsigned long long)rows[i].npte);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* The walker sets A at every level it uses and D in a leaf it writes through: bits 5 and 6. */
static void test_walker_ad_bits_are_5_and_6(void **state)
{
	assert_int_equal(pmap_format_npt.a, 0x20);
	assert_int_equal(pmap_format_npt.d, 0x40);
	assert_int_equal(kpte_ad_as_odd(&pmap_format_npt, A | D), 0x60);
	assert_int_equal(odd_ad_as_kpte(&pmap_format_npt, 0x12345067), A | D);
	assert_int_equal(odd_ad_as_kpte(&pmap_format_npt, 0x12345027), A);
	assert_true(npte_present(0x1) && !npte_present(0x12345006));
}

/* ---- a nested walker from the manual --------------------------------------------------- */

struct nested {
	bool ok; /* the walk found a leaf */
	bool w, x;
	paddr_t pa;
	const char *fault; /* why not */
};

/*
 * Translates @gpa through the nested tables at @ncr3 as an AMD CPU in long mode with
 * EFER.NXE does for a guest access (APM vol. 2, 5.3, 5.6, 15.25.5): four levels indexed by
 * bits 47:39, 38:30, 29:21, 20:12; an entry without P faults; nested accesses are user
 * accesses, so an entry without U faults; write needs R/W at every level, execute needs NX
 * clear at every level; PS ends the walk at the PDPT (1G) or PD (2M) level and must be 0 in a
 * PML4 entry; the address bits below a large page's size (above its PAT bit 12) must be 0.
 */
static struct nested nested_walk(paddr_t ncr3, u64 gpa)
{
	struct nested r = { .w = true, .x = true };
	const u64 *t = pmem_va(ncr3);
	static const unsigned shift[5] = { 0, 12, 21, 30, 39 };

	for (unsigned lvl = 4; lvl >= 1; lvl--) {
		u64 e = t[(gpa >> shift[lvl]) & 511];

		if (!(e & P)) {
			r.fault = "not present";
			return r;
		}
		if (!(e & U)) {
			r.fault = "supervisor entry on a user (nested) walk";
			return r;
		}
		if (e & 0x7ff0000000000000ULL) {
			r.fault = "reserved bits 62:52";
			return r;
		}
		r.w = r.w && (e & W);
		r.x = r.x && !(e & NX);
		if (lvl == 4 && (e & PS)) {
			r.fault = "PS in a PML4 entry";
			return r;
		}
		if (lvl == 1 || (e & PS)) {
			u64 size = 1ULL << shift[lvl];
			u64 base = e & 0x000ffffffffff000ULL;

			if (lvl > 1) {
				base &= ~0x1000ULL; /* PAT */
				if (base & (size - 1)) {
					r.fault = "reserved address bits in a large page";
					return r;
				}
			}
			r.ok = true;
			r.pa = base + (gpa & (size - 1));
			return r;
		}
		t = pmem_va(e & 0x000ffffffffff000ULL);
	}
	r.fault = "no leaf";
	return r;
}

#define WIN (4 * SZ_1G)
#define PAGES (WIN / SZ_4K)
#define PA_BASE 0x100000000000ULL

/* Per 4 KiB page of the window: 0, or pa | 1 (mapped) | 2 (W) | 4 (visible). */
static u64 *model;

/* Maps a random range of random rights and page-size policy; updates the model. */
static void random_map(struct pmap *pm)
{
	u64 first = rnd_below(PAGES), len = 1 + rnd_below(rnd_below(4) ? 600 : 3 * 512);
	u32 flags = rnd_below(8) & (PMAP_W | PMAP_X | PMAP_VISIBLE);
	u64 pa;

	if (rnd_below(3) == 0) { /* aligned and long: 2M and 1G leaves */
		bool gig = rnd_below(3) == 0;

		first = ALIGN_DOWN(first, gig ? 512 * 512 : 512);
		len = gig ? 512 * 512 : 512 * (1 + rnd_below(700));
	}
	len = MIN(len, PAGES - first);
	/* pa congruent to va modulo 1 GiB, so that large leaves can be used */
	pa = PA_BASE + rnd_below(16) * SZ_1G + ((first * SZ_4K) & (SZ_1G - 1));
	if (pmap_map(pm, first * SZ_4K, pa, len * SZ_4K, flags) != 0)
		return; /* overlaps: -EEXIST, the model stands */
	for (u64 i = 0; i < len; i++)
		model[first + i] = (pa + i * SZ_4K) | 1 | ((flags & PMAP_W) ? 2 : 0) |
				   ((flags & PMAP_VISIBLE) ? 4 : 0);
}

static void random_edit(struct pmap *pm)
{
	u64 first = rnd_below(PAGES), len = 1 + rnd_below(2000);

	len = MIN(len, PAGES - first);

	if (rnd_below(2)) {
		u32 prot = rnd_below(4) & PMAP_PROT;

		assert_int_equal(pmap_protect(pm, first * SZ_4K, len * SZ_4K, prot), 0);
		for (u64 i = 0; i < len; i++)
			if (model[first + i])
				model[first + i] = (model[first + i] & ~2ULL) |
						   ((prot & PMAP_W) ? 2 : 0);
	} else {
		assert_int_equal(pmap_unmap(pm, first * SZ_4K, len * SZ_4K, NULL, NULL), 0);
		memset(&model[first], 0, len * sizeof(u64));
	}
}

/* Every page of the window, and the kernel half, walked as the CPU would. */
static void walk_everything(struct pmap *pm, u64 *seen_ok)
{
	paddr_t ncr3 = pmap_guest_root(pm);

	for (u64 i = 0; i < PAGES; i++) {
		u64 gpa = i * SZ_4K + rnd_below(SZ_4K);
		struct nested r = nested_walk(ncr3, gpa);
		u64 m = model[i];

		if (!(m & 4)) {
			if (r.ok)
				fail_msg("gpa %#llx: the guest reaches %#llx, the VMM kept it "
					 "private "
					 "(model %#llx)",
					 (unsigned long long)gpa, (unsigned long long)r.pa,
					 (unsigned long long)m);
			continue;
		}
		if (!r.ok)
			fail_msg("gpa %#llx: walk faults (%s), the VMM mapped it guest-visible",
				 (unsigned long long)gpa, r.fault);
		if (r.pa != (m & PAGE_MASK) + (gpa & (SZ_4K - 1)) || !r.x || r.w != !!(m & 2))
			fail_msg("gpa %#llx: guest gets pa %#llx w %d x %d, model %#llx",
				 (unsigned long long)gpa, (unsigned long long)r.pa, r.w, r.x,
				 (unsigned long long)m);
		(*seen_ok)++;
	}
	for (u64 va = 0xffff800000000000ULL; va; va += 1ULL << 39)
		assert_false(nested_walk(ncr3, va).ok);
}

static void test_nested_walk_sees_exactly_the_guest_visible_memory(void **state)
{
	static kpte_t master[512] __attribute__((aligned(4096)));
	struct pmap pm;
	u64 seen = 0, leaves_2m = 0, leaves_1g = 0;

	/* a kernel half with user-marked slots too: they must stay out of the odd half */
	for (unsigned i = 256; i < 512; i++)
		master[i] = (0x100000ULL + i * 0x2000) | P | W | ((i & 1) ? U : 0);
	shim_reset();
	tl_cpu_amd();
	pmap_kernel_half_init(master, 0x1000);
	assert_int_equal(pmap_create(&pm), 0);
	assert_string_equal(pm.fmt->name, "npt");
	model = calloc(PAGES, sizeof(u64));
	assert_non_null(model);
	for (unsigned round = 0; round < 12; round++) {
		u64 gig = rnd_below(WIN / SZ_1G) * SZ_1G;
		u32 w = rnd_below(2) ? PMAP_W : 0;

		/* one whole gigabyte, cleared and mapped guest-visible: a 1G leaf */
		assert_int_equal(pmap_unmap(&pm, gig, SZ_1G, NULL, NULL), 0);
		assert_int_equal(pmap_map(&pm, gig, PA_BASE + gig, SZ_1G, PMAP_VISIBLE | w), 0);
		for (u64 i = 0; i < SZ_1G / SZ_4K; i++)
			model[gig / SZ_4K + i] = (PA_BASE + gig + i * SZ_4K) | 1 | (w ? 2 : 0) | 4;
		for (unsigned i = 0; i < 40; i++)
			random_map(&pm);
		tl_check(&pm);
		walk_everything(&pm, &seen); /* with the 1G leaf; edits may split it */
		leaves_2m += pm.nr_leaves[2];
		leaves_1g += pm.nr_leaves[3];
		for (unsigned i = 0; i < 15; i++)
			random_edit(&pm);
	}
	tl_check(&pm);
	walk_everything(&pm, &seen);
	print_message("%llu guest-visible pages walked; 2M leaves %llu, 1G leaves %llu (summed "
		      "over the rounds)\n",
		      (unsigned long long)seen, (unsigned long long)leaves_2m,
		      (unsigned long long)leaves_1g);
	assert_true(seen > 0 && leaves_2m > 0 && leaves_1g > 0);
	pmap_destroy(&pm, NULL, NULL);
	pmap_kernel_half_init(NULL, 0);
	free(model);
	assert_int_equal(shim.live_blocks, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_of_entries_from_the_apm),
		cmocka_unit_test(test_walker_ad_bits_are_5_and_6),
		cmocka_unit_test(test_nested_walk_sees_exactly_the_guest_visible_memory),
	};

	rnd_seed_from_env("PMAP_SEED");
	return cmocka_run_group_tests_name("pmap_npt_apm", tests, NULL, NULL);
}
