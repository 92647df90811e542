// SPDX-License-Identifier: MIT
/*
 * Host tests of kern/mm.c, the memory regions and demand paging of a process, on top of the
 * real page-table pair module and the physical-memory shim. Faults are simulated by calling
 * mm_fault() with PF_* error codes; pmap_lookup() shows what they mapped, and the shim's
 * live-frame counter shows which frames a call took or gave back. After every test the
 * process is torn down and the shim must hold no frame.
 *
 * The last test runs random mmap/munmap/mprotect/fault against a per-page model;
 * MM_SEED=<n> replays a run, the seed is printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h> /* after the headers it needs */

#include "test_rng.h"

#include <linux/mman.h>

#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/trap.h>
#include <dyad/elf.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/mm.h>
#include <uapi/dyad/abi.h>

#include "pmap_testlib.h"
#include "pmem_shim.h"

#define K4 SZ_4K
#define M2 SZ_2M
#define G1 SZ_1G
#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define HEAP 0x00600000ULL /* brk_start of the test process */
#define LEAF_PROT (PMAP_W | PMAP_X | PMAP_VISIBLE | PMAP_NONE)

static struct proc P;

/* ---- fixture ------------------------------------------------------------------------------ */

static int setup_caps(bool page_1g)
{
	shim_reset();
	shim_cpu_full();
	cpu_features.page_1g = page_1g;
	pmap_kernel_half_init(NULL, 0);
	memset(&P, 0, sizeof(P));
	assert_int_equal(pmap_create(&P.pmap), 0);
	P.brk_start = P.brk = HEAP;
	return 0;
}

static int setup(void **state)
{
	return setup_caps(true);
}

static int setup_no_1g(void **state)
{
	return setup_caps(false);
}

/* Every test ends with a consistent tree, and a teardown that gives every frame back. */
static int teardown(void **state)
{
	tl_check(&P.pmap);
	shim_fail_nth(0);
	mm_teardown(&P);
	if (shim.live_frames || shim.live_blocks)
		fail_msg("after mm_teardown: expected 0 live frames in 0 blocks, saw %llu in %llu",
			 (unsigned long long)shim.live_frames,
			 (unsigned long long)shim.live_blocks);
	assert_int_equal(P.nr_regions, 0);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* Frames holding process memory: what the shim has out, less the page-table pairs. */
static u64 data_frames(void)
{
	return shim.live_frames - (P.pmap.nr_pairs << PMAP_PAIR_ORDER);
}

static void expect_data_frames(u64 want, const char *when)
{
	if (data_frames() != want)
		fail_msg("%s: expected %llu data frames, saw %llu", when, (unsigned long long)want,
			 (unsigned long long)data_frames());
}

static long mmap_anon(u64 addr, u64 len, u32 prot, u32 flags)
{
	return mm_mmap(&P, addr, len, prot, ANON | flags, -1, 0);
}

static void expect_mmap_err(long got, long want, const char *what)
{
	if (got != want)
		fail_msg("%s: expected %ld, saw %ld", what, want, got);
}

static bool fault(u64 va, u64 err)
{
	return mm_fault(&P, va, PF_U | err);
}

/* The leaf at @va must be @size bytes with exactly the protection/visibility bits @flags. */
static struct pmap_leaf expect_leaf(u64 va, u64 size, u32 flags)
{
	struct pmap_leaf l;

	if (pmap_lookup(&P.pmap, va, &l))
		fail_msg("va %#llx: expected a %#llx leaf, saw nothing mapped",
			 (unsigned long long)va, (unsigned long long)size);
	if (l.size != size || (l.flags & LEAF_PROT) != flags)
		fail_msg("va %#llx: expected a %#llx leaf with flags %#x, saw %#llx with %#x",
			 (unsigned long long)va, (unsigned long long)size, flags,
			 (unsigned long long)l.size, l.flags & LEAF_PROT);
	assert_int_equal(l.va, ALIGN_DOWN(va, size));
	return l;
}

static void expect_unmapped(u64 va)
{
	struct pmap_leaf l;

	if (pmap_lookup(&P.pmap, va, &l) == 0)
		fail_msg("va %#llx: expected nothing mapped, saw a %#llx leaf at %#llx",
			 (unsigned long long)va, (unsigned long long)l.size,
			 (unsigned long long)l.va);
}

/* The frame behind @va, through the leaf that maps it. */
static u8 *frame_of(u64 va)
{
	struct pmap_leaf l;

	assert_int_equal(pmap_lookup(&P.pmap, va, &l), 0);
	return pmem_va(l.pa + (va - l.va));
}

static void expect_zero(const u8 *p, u64 size, u64 stride, u64 va)
{
	for (u64 i = 0; i < size; i += stride)
		if (p[i])
			fail_msg("va %#llx: expected a zeroed page, saw byte %#x at offset %#llx",
				 (unsigned long long)va, p[i], (unsigned long long)i);
}

static void expect_region(unsigned i, u64 start, u64 end, u32 prot)
{
	const struct mm_region *r = &P.regions[i];

	if (i >= P.nr_regions || r->start != start || r->end != end || r->prot != prot)
		fail_msg("region %u: expected [%#llx, %#llx) prot %u, saw [%#llx, %#llx) prot %u "
			 "(%u regions)",
			 i, (unsigned long long)start, (unsigned long long)end, prot,
			 (unsigned long long)r->start, (unsigned long long)r->end, r->prot,
			 P.nr_regions);
}

/* mm_find() as a plain scan of the list: what the real one, hint and search, must agree with. */
static const struct mm_region *ref_find(u64 addr)
{
	for (unsigned i = 0; i < P.nr_regions; i++)
		if (addr >= P.regions[i].start && addr < P.regions[i].end)
			return &P.regions[i];
	return NULL;
}

static void expect_find(u64 addr, const char *when)
{
	const struct mm_region *got = mm_find(&P, addr), *want = ref_find(addr);

	if (got != want)
		fail_msg("%s: mm_find(%#llx): expected region %ld, saw %ld (-1: none; %u regions)",
			 when, (unsigned long long)addr, want ? (long)(want - P.regions) : -1L,
			 got ? (long)(got - P.regions) : -1L, P.nr_regions);
}

static void expect_nr_regions(unsigned want)
{
	if (P.nr_regions != want)
		fail_msg("expected %u regions, saw %u", want, P.nr_regions);
}

/* Faults in every page of [va, va + len) with a write, leaving its page index in its first byte. */
static void fault_all(u64 va, u64 len)
{
	for (u64 a = va; a < va + len; a += K4) {
		assert_true(fault(a, PF_W));
		*frame_of(a) = (u8)(a >> PAGE_SHIFT);
	}
}

/* Fills the region table with 64 regions of 4 pages, one page apart, from @base. */
static void fill_region_table(u64 base)
{
	for (unsigned i = 0; i < PROC_MAX_REGIONS; i++) {
		u64 a = base + i * 5 * K4;

		assert_int_equal(mmap_anon(a, 4 * K4, RW, MAP_FIXED), (long)a);
	}
	expect_nr_regions(PROC_MAX_REGIONS);
}

/* ---- the shim's pmem_free_part ----------------------------------------------------------- */

static void test_shim_free_part_frees_exactly_the_piece_and_keeps_the_rest(void **state)
{
	u64 frames = shim.live_frames;
	paddr_t b = pmem_alloc(9);

	pmem_free_part(b + 5 * K4, 0);
	assert_int_equal(shim.live_frames, frames + 511);
	pmem_free_part(b + 256 * K4, 8);
	assert_int_equal(shim.live_frames, frames + 255);
	/* What is left is allocated, in pieces that go back one at a time. */
	for (u64 i = 0; i < 256; i++)
		if (i != 5)
			pmem_free_part(b + i * K4, 0);
	assert_int_equal(shim.live_frames, frames);
	/* A whole block is an ordinary free. */
	b = pmem_alloc(9);
	pmem_free_part(b, 9);
	assert_int_equal(shim.live_frames, frames);
}

/* ---- mmap placement ----------------------------------------------------------------------- */

static void test_mmap_without_hint_is_page_aligned_below_top_and_disjoint(void **state)
{
	static const u64 lens[] = { K4, 3 * K4, 5 * K4 + 100, M2, 1, 17 * K4 };
	long got[ARRAY_SIZE(lens)];
	struct mm_region stack = { .start = MM_STACK_TOP - MM_STACK_SIZE,
				   .end = MM_STACK_TOP,
				   .prot = RW,
				   .flags = MM_STACK };

	/* The stack lies above the search, and a region across its top must be avoided. */
	assert_int_equal(mm_region_add(&P, &stack), 0);
	assert_int_equal(mmap_anon(MM_MMAP_TOP - 2 * K4, 4 * K4, RW, MAP_FIXED),
			 MM_MMAP_TOP - 2 * K4);

	for (unsigned i = 0; i < ARRAY_SIZE(lens); i++) {
		u64 len = ALIGN_UP(lens[i], K4);

		got[i] = mmap_anon(0, lens[i], RW, 0);
		if (got[i] <= 0 || !IS_ALIGNED(got[i], K4) || got[i] + len > MM_MMAP_TOP)
			fail_msg(
				"mmap %#llx: expected a page-aligned address below %#llx, saw %#lx",
				(unsigned long long)lens[i], MM_MMAP_TOP, got[i]);
		for (unsigned j = 0; j < i; j++) {
			u64 jlen = ALIGN_UP(lens[j], K4);

			if ((u64)got[i] < got[j] + jlen && (u64)got[j] < got[i] + len)
				fail_msg("mmap %u at %#lx overlaps mmap %u at %#lx", i, got[i], j,
					 got[j]);
		}
		if ((u64)got[i] + len > MM_MMAP_TOP - 2 * K4)
			fail_msg("mmap %u at %#lx overlaps the region at %#llx", i, got[i],
				 MM_MMAP_TOP - 2 * K4);
	}
	/* Neighbours with equal attributes merge: each mapping lies inside one region. */
	for (unsigned i = 0; i < ARRAY_SIZE(lens); i++) {
		const struct mm_region *r = mm_find(&P, got[i]);

		assert_true(r && r->end >= got[i] + ALIGN_UP(lens[i], K4));
	}
	for (unsigned i = 1; i < P.nr_regions; i++)
		assert_true(P.regions[i - 1].end <= P.regions[i].start);
}

static void test_mmap_with_free_hint_lands_at_the_hint(void **state)
{
	u64 hint = 0x40000000;

	expect_mmap_err(mmap_anon(hint, 3 * K4, RW, 0), (long)hint, "mmap at a free hint");
	expect_region(0, hint, hint + 3 * K4, RW);
}

static void test_mmap_with_busy_hint_goes_elsewhere(void **state)
{
	u64 hint = 0x40000000;

	assert_int_equal(mmap_anon(hint, 4 * K4, RW, 0), hint);
	long a = mmap_anon(hint + K4, 2 * K4, PROT_READ, 0);

	if (a <= 0 || ((u64)a < hint + 4 * K4 && (u64)a + 2 * K4 > hint))
		fail_msg("mmap at a busy hint: expected a free place, saw %#lx", a);
	expect_nr_regions(2);
}

static void test_mmap_fixed_replaces_a_mapping_and_frees_its_frames(void **state)
{
	u64 a = 0x40000000;

	assert_int_equal(mmap_anon(a, 4 * K4, RW, 0), a);
	fault_all(a, 4 * K4);
	expect_data_frames(4, "four pages faulted in");

	expect_mmap_err(mmap_anon(a + K4, 2 * K4, PROT_READ, MAP_FIXED), (long)(a + K4),
			"MAP_FIXED over pages 1-2");
	expect_nr_regions(3);
	expect_region(0, a, a + K4, RW);
	expect_region(1, a + K4, a + 3 * K4, PROT_READ);
	expect_region(2, a + 3 * K4, a + 4 * K4, RW);
	expect_data_frames(2, "after MAP_FIXED over two faulted pages");
	expect_unmapped(a + K4);
	expect_unmapped(a + 2 * K4);
	assert_int_equal(*frame_of(a), (u8)(a >> PAGE_SHIFT));
	assert_int_equal(*frame_of(a + 3 * K4), (u8)((a >> PAGE_SHIFT) + 3));

	/* The new mapping starts empty: a read fault gives zeros, read-only. */
	assert_true(fault(a + K4, 0));
	expect_leaf(a + K4, K4, 0);
	expect_zero(frame_of(a + K4), K4, 1, a + K4);
}

static void test_mmap_fixed_noreplace_over_a_mapping_is_eexist(void **state)
{
	u64 a = 0x40000000;

	assert_int_equal(mmap_anon(a, 4 * K4, RW, 0), a);
	fault_all(a, 4 * K4);
	expect_mmap_err(mmap_anon(a + 3 * K4, 2 * K4, RW, MAP_FIXED_NOREPLACE), -EEXIST,
			"MAP_FIXED_NOREPLACE over the last page");
	expect_nr_regions(1);
	expect_region(0, a, a + 4 * K4, RW);
	expect_data_frames(4, "after the refused MAP_FIXED_NOREPLACE");
	expect_leaf(a + 3 * K4, K4, PMAP_W);

	/* Next to the mapping it is an ordinary fixed mapping. */
	expect_mmap_err(mmap_anon(a + 4 * K4, K4, RW, MAP_FIXED_NOREPLACE), (long)(a + 4 * K4),
			"MAP_FIXED_NOREPLACE next to the mapping");
}

/* Found while writing these tests: MAP_FIXED used to unmap the old pages before finding no room. */
static void test_mmap_fixed_with_full_table_is_enomem_and_keeps_the_old_pages(void **state)
{
	u64 base = 0x40000000;

	fill_region_table(base);
	fault_all(base, 4 * K4);
	/* Cuts the tail off region 0 (no split), but the new region has no slot. */
	expect_mmap_err(mmap_anon(base + 2 * K4, 3 * K4, PROT_READ, MAP_FIXED), -ENOMEM,
			"MAP_FIXED with 64 regions");
	expect_nr_regions(PROC_MAX_REGIONS);
	expect_region(0, base, base + 4 * K4, RW);
	expect_data_frames(4, "after the refused MAP_FIXED");
	assert_int_equal(*frame_of(base + 3 * K4), (u8)((base >> PAGE_SHIFT) + 3));

	/* Replacing one whole region frees its slot first: that fits. */
	expect_mmap_err(mmap_anon(base + 5 * K4, 4 * K4, PROT_READ, MAP_FIXED),
			(long)(base + 5 * K4), "MAP_FIXED over a whole region with 64 regions");
	expect_nr_regions(PROC_MAX_REGIONS);
}

/* ---- argument errors ---------------------------------------------------------------------- */

static void test_mmap_bad_arguments_are_einval_or_ebadf_and_change_nothing(void **state)
{
	P.fds[1].kind = FD_CONSOLE;
	expect_mmap_err(mmap_anon(0, 0, RW, 0), -EINVAL, "len 0");
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, ANON, -1, 100), -EINVAL, "misaligned offset");
	expect_mmap_err(mmap_anon(0, K4, RW | 0x8, 0), -EINVAL, "prot with an unknown bit");
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, MAP_ANONYMOUS, -1, 0), -EINVAL,
			"neither MAP_PRIVATE nor MAP_SHARED");
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, MAP_PRIVATE, -1, 0), -EBADF, "fd -1");
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, MAP_PRIVATE, PROC_MAX_FDS, 0), -EBADF,
			"fd past the table");
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, MAP_PRIVATE, 5, 0), -EBADF, "closed fd");
	expect_mmap_err(mm_mmap(&P, 0, K4, PROT_READ, MAP_PRIVATE, 1, 0), -EACCES, "the console");
	expect_mmap_err(mmap_anon(0x40000123, K4, RW, MAP_FIXED), -EINVAL, "misaligned MAP_FIXED");
	expect_nr_regions(0);
	expect_data_frames(0, "after refused calls");
}

/* ---- demand faults ------------------------------------------------------------------------ */

static void test_read_fault_maps_a_zeroed_4k_page(void **state)
{
	long a = mmap_anon(0, 2 * K4, RW, 0);

	assert_true(a > 0);
	assert_true(fault(a + K4 + 0x123, 0));
	expect_leaf(a + K4, K4, PMAP_W);
	expect_zero(frame_of(a + K4), K4, 1, a + K4);
	expect_unmapped(a);
	expect_data_frames(1, "one read fault");
	assert_int_equal(P.page_faults, 1);
}

static void test_write_fault_to_read_only_region_is_refused(void **state)
{
	long a = mmap_anon(0, K4, PROT_READ, 0);

	assert_false(fault(a, PF_W));
	expect_unmapped(a);
	assert_int_equal(P.page_faults, 0);
	/* Reading is allowed, and maps the page read-only. */
	assert_true(fault(a, 0));
	expect_leaf(a, K4, 0);
}

static void test_exec_fault_to_non_exec_region_is_refused(void **state)
{
	long rw = mmap_anon(0, K4, RW, 0), rx = mmap_anon(0, K4, PROT_READ | PROT_EXEC, 0);

	assert_false(fault(rw, PF_I));
	expect_unmapped(rw);
	assert_true(fault(rx, PF_I));
	expect_leaf(rx, K4, PMAP_X);
	assert_int_equal(P.page_faults, 1);
}

static void test_fault_outside_every_region_is_refused(void **state)
{
	u64 a = 0x40000000;

	assert_int_equal(mmap_anon(a, K4, RW, MAP_FIXED), a);
	assert_int_equal(mmap_anon(a + 2 * K4, K4, RW, MAP_FIXED), a + 2 * K4);
	assert_false(fault(0, 0));
	assert_false(fault(a - 1, PF_W));
	assert_false(fault(a + K4, PF_W));
	assert_false(fault(a + 3 * K4, 0));
	assert_false(fault(USER_TOP - K4, 0));
	assert_int_equal(P.page_faults, 0);
	expect_data_frames(0, "after faults outside the regions");
}

/*
 * mm_find() remembers where it found the last region. After the list changes under it (the
 * region gone, others moved to its index, the list shorter than the remembered index), every
 * lookup must still give the region that holds the address, or none.
 */
static void test_find_gives_the_holding_region_after_the_list_changes(void **state)
{
	u64 a = 0x40000000;

	for (unsigned i = 0; i < 8; i++) /* eight regions: every other page, no merging */
		assert_int_equal(mmap_anon(a + 2 * i * K4, K4, RW, MAP_FIXED), a + 2 * i * K4);
	expect_nr_regions(8);
	for (unsigned i = 0; i < 16; i++) {
		expect_find(a + i * K4, "eight regions");
		expect_find(a + i * K4 + K4 - 1, "eight regions, last byte");
	}
	expect_find(a + 14 * K4, "the last region, remembered");
	/* The remembered index is now past the end of the list. */
	assert_int_equal(mm_munmap(&P, a + 14 * K4, K4), 0);
	expect_find(a + 14 * K4, "the remembered region unmapped");
	expect_find(a + 6 * K4, "region 3");
	assert_int_equal(mm_munmap(&P, a + 6 * K4, K4), 0); /* region 4 moves to index 3 */
	expect_find(a + 6 * K4, "region 3 unmapped");
	expect_find(a + 8 * K4, "the region that moved to index 3");
	expect_find(a + 7 * K4, "the gap before it");
	assert_int_equal(mmap_anon(a - 2 * K4, K4, RW, MAP_FIXED), a - 2 * K4); /* all move up */
	for (u64 va = a - 3 * K4; va < a + 17 * K4; va += K4 / 2)
		expect_find(va, "after a region was added in front");
	expect_find(0, "address 0");
	expect_find(USER_TOP - 1, "the top of the user half");
	assert_int_equal(mm_munmap(&P, a - 2 * K4, 20 * K4), 0);
	expect_find(a, "no region at all");
	assert_null(mm_find(&P, a));
}

static void test_fault_in_prot_none_region_is_refused(void **state)
{
	long a = mmap_anon(0, K4, PROT_NONE, 0);

	assert_true(a > 0);
	assert_false(fault(a, 0));
	expect_unmapped(a);
}

static void test_fault_on_present_page_is_refused_and_keeps_the_frame(void **state)
{
	long a = mmap_anon(0, K4, RW, 0);

	assert_true(fault(a, PF_W));
	struct pmap_leaf before = expect_leaf(a, K4, PMAP_W);

	assert_false(fault(a, PF_P | PF_W));
	assert_false(fault(a, PF_P));
	struct pmap_leaf after = expect_leaf(a, K4, PMAP_W);

	assert_int_equal(after.pa, before.pa);
	assert_int_equal(P.page_faults, 1);
	expect_data_frames(1, "after faults on a present page");
}

static void test_page_faults_counts_served_faults_only(void **state)
{
	long a = mmap_anon(0, 8 * K4, PROT_READ, 0);

	for (unsigned i = 0; i < 5; i++)
		assert_true(fault(a + i * K4, 0));
	assert_false(fault(a + 6 * K4, PF_W));
	/* already mapped: another thread's race, served, but nothing new is mapped or counted */
	assert_true(fault(a, 0));
	if (P.page_faults != 5)
		fail_msg("expected 5 faults counted, saw %llu", (unsigned long long)P.page_faults);
}

/* ---- DYAD_MAP_HUGE ------------------------------------------------------------------------ */

static void test_huge_1g_region_faults_in_one_1g_leaf(void **state)
{
	long a = mmap_anon(0, G1, RW, DYAD_MAP_HUGE);

	assert_true(a > 0 && IS_ALIGNED(a, G1));
	assert_true(fault(a + 12345 * K4 + 8, PF_W));
	expect_leaf(a, G1, PMAP_W);
	expect_leaf(a + G1 - K4, G1, PMAP_W);
	assert_int_equal(P.pmap.nr_leaves[3], 1);
	assert_int_equal(P.page_faults, 1);
	expect_data_frames(G1 >> PAGE_SHIFT, "one 1 GiB fault");
	expect_zero(frame_of(a), G1, K4 + 8, a);
}

static void test_huge_1g_region_without_cpu_1g_pages_gets_2m_leaves(void **state)
{
	long a = mmap_anon(0, G1, RW, DYAD_MAP_HUGE);

	assert_true(a > 0 && IS_ALIGNED(a, G1));
	assert_true(fault(a + 5 * M2 + K4, PF_W));
	assert_true(fault(a + G1 - 1, 0));
	expect_leaf(a + 5 * M2, M2, PMAP_W);
	expect_leaf(a + G1 - K4, M2, PMAP_W);
	assert_int_equal(P.pmap.nr_leaves[3], 0);
	assert_int_equal(P.pmap.nr_leaves[2], 2);
	expect_data_frames(2 * (M2 >> PAGE_SHIFT), "two faults without 1 GiB pages");
}

static void test_huge_2m_aligned_region_below_1g_gets_2m_leaves(void **state)
{
	long a = mmap_anon(0, 3 * M2, RW, DYAD_MAP_HUGE);

	assert_true(a > 0 && IS_ALIGNED(a, M2));
	for (unsigned i = 0; i < 3; i++) {
		assert_true(fault(a + i * M2 + 77 * K4, PF_W));
		expect_leaf(a + i * M2, M2, PMAP_W);
		expect_zero(frame_of(a + i * M2), M2, 1, a + i * M2);
	}
	assert_int_equal(P.page_faults, 3);
	expect_data_frames(3 * (M2 >> PAGE_SHIFT), "three 2 MiB faults");
}

static void test_huge_region_edge_cutting_a_2m_block_falls_back_to_4k(void **state)
{
	u64 x = 0x40000000, s = x + M2 / 2; /* [s, s + 4M): cuts the blocks at x and x + 4M */

	assert_int_equal(mmap_anon(s, 2 * M2, RW, MAP_FIXED | DYAD_MAP_HUGE), s);
	assert_true(fault(s, PF_W));
	expect_leaf(s, K4, PMAP_W);
	assert_true(fault(x + M2 + 3 * K4, PF_W));
	expect_leaf(x + M2, M2, PMAP_W);
	assert_true(fault(s + 2 * M2 - K4, PF_W));
	expect_leaf(s + 2 * M2 - K4, K4, PMAP_W);
	expect_data_frames(2 + (M2 >> PAGE_SHIFT), "faults at both edges and in the middle");
}

static void test_huge_fault_falls_back_to_smaller_blocks_when_memory_is_short(void **state)
{
	long g = mmap_anon(0, G1, RW, DYAD_MAP_HUGE), m = mmap_anon(0, M2, RW, DYAD_MAP_HUGE);

	assert_true(g > 0 && m > 0);
	shim_fail_nth(1); /* the 1 GiB block */
	assert_true(fault(g, PF_W));
	assert_int_equal(shim.failed, 1);
	expect_leaf(g, M2, PMAP_W);

	shim_fail_nth(1); /* the 2 MiB block */
	assert_true(fault(m + 5 * K4, PF_W));
	assert_int_equal(shim.failed, 2);
	expect_leaf(m + 5 * K4, K4, PMAP_W);
	expect_unmapped(m);

	/* Later faults there take the largest block that still fits around what is mapped. */
	assert_true(fault(g + M2, PF_W));
	expect_leaf(g + M2, M2, PMAP_W);
	assert_true(fault(m, PF_W));
	expect_leaf(m, K4, PMAP_W);
	expect_data_frames(2 * (M2 >> PAGE_SHIFT) + 2, "after the fallbacks");
}

static void test_fault_with_no_memory_at_all_is_refused_and_changes_nothing(void **state)
{
	long a = mmap_anon(0, K4, RW, 0);

	shim_fail_nth(1);
	assert_false(fault(a, PF_W));
	expect_unmapped(a);
	assert_int_equal(P.page_faults, 0);
	expect_data_frames(0, "after a fault that found no frame");
}

/* ---- DYAD_MAP_GUEST ----------------------------------------------------------------------- */

static void test_guest_flag_makes_leaves_visible(void **state)
{
	long a = mmap_anon(0, K4, RW | PROT_EXEC, DYAD_MAP_GUEST);
	long h = mmap_anon(0, M2, PROT_READ, DYAD_MAP_GUEST | DYAD_MAP_HUGE);

	assert_true(fault(a, PF_W));
	expect_leaf(a, K4, PMAP_W | PMAP_X | PMAP_VISIBLE);
	assert_true(fault(h, 0));
	expect_leaf(h, M2, PMAP_VISIBLE);
}

/* A second-stage fault: served in guest-visible regions only, reporting the page size. */
static void test_guest_fault_serves_guest_regions_only_and_gives_the_page_size(void **state)
{
	long a = mmap_anon(0, 2 * K4, PROT_READ, DYAD_MAP_GUEST);
	long h = mmap_anon(0, G1, RW, DYAD_MAP_GUEST | DYAD_MAP_HUGE);
	long m = mmap_anon(0, 3 * M2, RW, DYAD_MAP_GUEST | DYAD_MAP_HUGE);
	long v = mmap_anon(0, K4, RW, 0);

	assert_true(a > 0 && h > 0 && m > 0 && v > 0 && IS_ALIGNED(h, G1));
	assert_int_equal(mm_guest_fault(&P, a + 8, PF_U), K4);
	expect_leaf(a, K4, PMAP_VISIBLE);
	/* present now: a racing vCPU's fault, served by the page that is there */
	assert_int_equal(mm_guest_fault(&P, a + 8, PF_U), K4);
	assert_int_equal(mm_guest_fault(&P, a + 8, PF_U | PF_P), 0); /* a present-page fault */
	assert_int_equal(mm_guest_fault(&P, a + K4, PF_U | PF_W), 0); /* read-only region */
	expect_unmapped(a + K4);
	assert_int_equal(mm_guest_fault(&P, h + 5 * M2 + 3 * K4, PF_U | PF_W), G1);
	expect_leaf(h, G1, PMAP_W | PMAP_VISIBLE);
	/* 6 MiB of huge memory: 2 MiB pages. */
	assert_true(IS_ALIGNED(m, M2));
	assert_int_equal(mm_guest_fault(&P, m + M2 + K4, PF_U | PF_W), M2);
	expect_leaf(m + M2 + K4, M2, PMAP_W | PMAP_VISIBLE);
	/* The VMM's own memory, and addresses in no region, are not the guest's. */
	assert_int_equal(mm_guest_fault(&P, v, PF_U | PF_W), 0);
	expect_unmapped(v);
	assert_int_equal(mm_guest_fault(&P, 0, PF_U), 0);
	assert_int_equal(mm_guest_fault(&P, a + 2 * K4, PF_U), 0);
	assert_int_equal(P.page_faults, 3);
	/* With no memory at all nothing is served and nothing is taken. */
	u64 frames = shim.live_frames;
	shim_fail_nth(1);
	assert_int_equal(mm_guest_fault(&P, a + K4, PF_U), 0);
	shim_fail_nth(0);
	assert_int_equal(shim.live_frames, frames);
	expect_unmapped(a + K4);
}

static void test_without_guest_flag_leaves_are_invisible(void **state)
{
	long a = mmap_anon(0, K4, RW, 0), h = mmap_anon(0, M2, RW, DYAD_MAP_HUGE);

	assert_true(fault(a, PF_W));
	expect_leaf(a, K4, PMAP_W);
	assert_true(fault(h, PF_W));
	expect_leaf(h, M2, PMAP_W);
}

/* ---- munmap ------------------------------------------------------------------------------- */

static void test_munmap_middle_splits_the_region_and_frees_exactly_those_frames(void **state)
{
	u64 a = 0x40000000;

	assert_int_equal(mmap_anon(a, 8 * K4, RW, MAP_FIXED), a);
	fault_all(a, 8 * K4);
	assert_int_equal(mm_munmap(&P, a + 3 * K4, 2 * K4), 0);
	expect_nr_regions(2);
	expect_region(0, a, a + 3 * K4, RW);
	expect_region(1, a + 5 * K4, a + 8 * K4, RW);
	expect_data_frames(6, "after unmapping 2 of 8 faulted pages");
	for (unsigned i = 0; i < 8; i++) {
		if (i == 3 || i == 4) {
			expect_unmapped(a + i * K4);
			assert_false(fault(a + i * K4, 0));
		} else {
			assert_int_equal(*frame_of(a + i * K4), (u8)((a >> PAGE_SHIFT) + i));
		}
	}
}

static void test_munmap_middle_of_a_2m_page_frees_just_that_part(void **state)
{
	long a = mmap_anon(0, M2, RW, DYAD_MAP_HUGE);

	assert_true(fault(a, PF_W));
	struct pmap_leaf big = expect_leaf(a, M2, PMAP_W);

	assert_int_equal(mm_munmap(&P, a + 100 * K4, 16 * K4), 0);
	expect_nr_regions(2);
	expect_region(0, a, a + 100 * K4, RW);
	expect_region(1, a + 116 * K4, a + M2, RW);
	expect_data_frames(512 - 16, "after unmapping 16 pages of a 2 MiB page");
	expect_unmapped(a + 100 * K4);
	expect_unmapped(a + 115 * K4);
	/* What is left maps the same frames as before, now by 4 KiB pages. */
	struct pmap_leaf l = expect_leaf(a + 99 * K4, K4, PMAP_W);
	assert_int_equal(l.pa, big.pa + 99 * K4);
	l = expect_leaf(a + 116 * K4, K4, PMAP_W);
	assert_int_equal(l.pa, big.pa + 116 * K4);

	/* The remaining pieces go back one by one. */
	assert_int_equal(mm_munmap(&P, a, 50 * K4), 0);
	expect_data_frames(512 - 66, "after unmapping 50 more pages");
	assert_int_equal(mm_munmap(&P, a + 300 * K4, M2 - 300 * K4), 0);
	expect_data_frames(300 - 66, "after unmapping the tail");
}

static void test_munmap_needing_a_split_with_full_table_is_enomem_and_changes_nothing(void **state)
{
	u64 base = 0x40000000;
	struct mm_region before[PROC_MAX_REGIONS];

	fill_region_table(base);
	fault_all(base + 5 * K4, 4 * K4);
	memcpy(before, P.regions, sizeof(before));
	assert_int_equal(mm_munmap(&P, base + 6 * K4, K4), -ENOMEM);
	assert_memory_equal(before, P.regions, sizeof(before));
	expect_data_frames(4, "after the refused munmap");
	assert_int_equal(*frame_of(base + 6 * K4), (u8)((base >> PAGE_SHIFT) + 6));

	/* Cuts that need no new slot still work. */
	assert_int_equal(mm_munmap(&P, base + 5 * K4, K4), 0);
	assert_int_equal(mm_munmap(&P, base + 10 * K4, 4 * K4), 0);
	expect_nr_regions(PROC_MAX_REGIONS - 1);
	expect_data_frames(3, "after the cuts that fit");
}

static void test_munmap_bad_arguments_are_einval(void **state)
{
	assert_int_equal(mm_munmap(&P, 0x40000123, K4), -EINVAL);
	assert_int_equal(mm_munmap(&P, 0x40000000, 0), -EINVAL);
	assert_int_equal(mm_munmap(&P, USER_TOP - K4, K4), -EINVAL);
	assert_int_equal(mm_munmap(&P, 0x40000000, K4), 0); /* nothing there is fine */
}

/* ---- mprotect ----------------------------------------------------------------------------- */

static void test_mprotect_of_part_splits_region_in_three_and_updates_w(void **state)
{
	u64 a = 0x40000000;

	assert_int_equal(mmap_anon(a, 6 * K4, RW, MAP_FIXED), a);
	fault_all(a, 6 * K4);
	assert_int_equal(mm_mprotect(&P, a + 2 * K4, 2 * K4, PROT_READ), 0);
	expect_nr_regions(3);
	expect_region(0, a, a + 2 * K4, RW);
	expect_region(1, a + 2 * K4, a + 4 * K4, PROT_READ);
	expect_region(2, a + 4 * K4, a + 6 * K4, RW);
	for (unsigned i = 0; i < 6; i++)
		expect_leaf(a + i * K4, K4, (i == 2 || i == 3) ? 0 : PMAP_W);
	/* The contents stay. */
	assert_int_equal(*frame_of(a + 2 * K4), (u8)((a >> PAGE_SHIFT) + 2));
	/* A write to a present read-only page is a protection fault, not served. */
	assert_false(fault(a + 2 * K4, PF_P | PF_W));

	assert_int_equal(mm_mprotect(&P, a + 2 * K4, K4, RW | PROT_EXEC), 0);
	expect_leaf(a + 2 * K4, K4, PMAP_W | PMAP_X);
	expect_leaf(a + 3 * K4, K4, 0);
	expect_nr_regions(4);
	expect_data_frames(6, "after mprotect");
}

static void test_mprotect_of_a_2m_page_part_keeps_the_rest(void **state)
{
	long a = mmap_anon(0, M2, RW, DYAD_MAP_HUGE | DYAD_MAP_GUEST);

	assert_true(fault(a, PF_W));
	assert_int_equal(mm_mprotect(&P, a + K4, K4, PROT_READ), 0);
	expect_leaf(a + K4, K4, PMAP_VISIBLE);
	expect_leaf(a, K4, PMAP_W | PMAP_VISIBLE);
	expect_leaf(a + M2 - K4, K4, PMAP_W | PMAP_VISIBLE);
	expect_data_frames(512, "after splitting a 2 MiB page by mprotect");
}

static void test_mprotect_over_a_hole_is_enomem_and_changes_nothing(void **state)
{
	u64 a = 0x40000000;

	assert_int_equal(mmap_anon(a, 2 * K4, RW, MAP_FIXED), a);
	assert_int_equal(mmap_anon(a + 3 * K4, 2 * K4, RW, MAP_FIXED), a + 3 * K4);
	fault_all(a, 2 * K4);
	assert_int_equal(mm_mprotect(&P, a, 5 * K4, PROT_READ), -ENOMEM);
	assert_int_equal(mm_mprotect(&P, a - K4, 2 * K4, PROT_READ), -ENOMEM);
	assert_int_equal(mm_mprotect(&P, a + 4 * K4, 2 * K4, PROT_READ), -ENOMEM);
	expect_nr_regions(2);
	expect_region(0, a, a + 2 * K4, RW);
	expect_region(1, a + 3 * K4, a + 5 * K4, RW);
	expect_leaf(a, K4, PMAP_W);
	/* Adjacent regions without a hole between them are fine. */
	assert_int_equal(mmap_anon(a + 2 * K4, K4, RW, MAP_FIXED), a + 2 * K4);
	assert_int_equal(mm_mprotect(&P, a, 5 * K4, PROT_READ), 0);
	expect_leaf(a, K4, 0);
	assert_int_equal(mm_mprotect(&P, a, K4, RW | 0x8), -EINVAL);
}

/*
 * PROT_NONE keeps the frames and their contents, as on Linux: a program that writes a page,
 * makes it inaccessible and then accessible again reads what it wrote (/bin/stress saw
 * 'expected <tag>, saw 0 (a fresh frame)' for pages that went through PROT_NONE and back).
 */
static void test_mprotect_prot_none_keeps_the_frames_and_contents(void **state)
{
	u64 a = 0x40000000;
	u8 *f1, *f2;

	assert_int_equal(mmap_anon(a, 4 * K4, RW, MAP_FIXED), a);
	fault_all(a, 4 * K4);
	f1 = frame_of(a + K4);
	f2 = frame_of(a + 2 * K4);
	*(u64 *)f1 = 0x1111;
	*(u64 *)f2 = 0x2222;
	assert_int_equal(mm_mprotect(&P, a + K4, 2 * K4, PROT_NONE), 0);
	expect_data_frames(4, "after PROT_NONE on 2 of 4 pages");
	expect_leaf(a + K4, K4, PMAP_NONE);
	expect_leaf(a + 2 * K4, K4, PMAP_NONE);
	expect_leaf(a, K4, PMAP_W);
	/* No access of any kind is served: not-present (none is) nor protection faults. */
	assert_false(fault(a + K4, 0));
	assert_false(fault(a + K4, PF_P));
	assert_false(fault(a + 2 * K4, PF_P | PF_W));
	expect_region(1, a + K4, a + 3 * K4, PROT_NONE);

	/* Accessible again: the same frames with what was written, no fault needed. */
	assert_int_equal(mm_mprotect(&P, a + K4, K4, PROT_READ), 0);
	assert_int_equal(mm_mprotect(&P, a + 2 * K4, K4, RW), 0);
	expect_leaf(a + K4, K4, 0);
	expect_leaf(a + 2 * K4, K4, PMAP_W);
	assert_ptr_equal(frame_of(a + K4), f1);
	assert_ptr_equal(frame_of(a + 2 * K4), f2);
	assert_int_equal(*(u64 *)f1, 0x1111);
	assert_int_equal(*(u64 *)f2, 0x2222);
	expect_data_frames(4, "after mprotect back");

	/* munmap of a PROT_NONE page frees its frame. */
	assert_int_equal(mm_mprotect(&P, a + 3 * K4, K4, PROT_NONE), 0);
	assert_int_equal(mm_munmap(&P, a + 3 * K4, K4), 0);
	expect_unmapped(a + 3 * K4);
	expect_data_frames(3, "after munmap of a PROT_NONE page");
}

/* ---- brk ---------------------------------------------------------------------------------- */

static void test_brk_grows_a_heap_region_that_faults(void **state)
{
	assert_int_equal(mm_brk(&P, 0), HEAP); /* a query */
	assert_int_equal(mm_brk(&P, HEAP + 10000), HEAP + 10000);
	expect_nr_regions(1);
	expect_region(0, HEAP, HEAP + 3 * K4, RW);
	assert_true(P.regions[0].flags & MM_HEAP);
	assert_true(fault(HEAP + 9000, PF_W));
	expect_leaf(HEAP + 2 * K4, K4, PMAP_W);
	assert_false(fault(HEAP + 3 * K4, PF_W));

	/* Growing again extends the same region. */
	assert_int_equal(mm_brk(&P, HEAP + 5 * K4), HEAP + 5 * K4);
	expect_nr_regions(1);
	expect_region(0, HEAP, HEAP + 5 * K4, RW);
	assert_true(fault(HEAP + 4 * K4, PF_W));
}

static void test_brk_shrink_frees_the_frames(void **state)
{
	assert_int_equal(mm_brk(&P, HEAP + 8 * K4), HEAP + 8 * K4);
	fault_all(HEAP, 8 * K4);
	assert_int_equal(mm_brk(&P, HEAP + K4 + 1), HEAP + K4 + 1);
	expect_region(0, HEAP, HEAP + 2 * K4, RW);
	expect_data_frames(2, "after shrinking the heap to 2 pages");
	expect_unmapped(HEAP + 2 * K4);
	assert_false(fault(HEAP + 2 * K4, PF_W));
	assert_int_equal(mm_brk(&P, HEAP), HEAP);
	expect_nr_regions(0);
	expect_data_frames(0, "after shrinking the heap to nothing");
	assert_int_equal(mm_brk(&P, HEAP - K4), HEAP); /* below the start: refused */
}

static void test_brk_does_not_grow_into_a_mapping(void **state)
{
	assert_int_equal(mm_brk(&P, HEAP + K4), HEAP + K4);
	assert_int_equal(mmap_anon(HEAP + 4 * K4, K4, PROT_READ, MAP_FIXED), HEAP + 4 * K4);
	assert_int_equal(mm_brk(&P, HEAP + 8 * K4), HEAP + K4);
	expect_nr_regions(2);
	expect_region(0, HEAP, HEAP + K4, RW);
	expect_region(1, HEAP + 4 * K4, HEAP + 5 * K4, PROT_READ);
	/* Up to the mapping is fine. */
	assert_int_equal(mm_brk(&P, HEAP + 4 * K4), HEAP + 4 * K4);
	expect_region(0, HEAP, HEAP + 4 * K4, RW);
}

/* ---- file-backed regions ------------------------------------------------------------------ */

#define FILE_SIZE (3 * K4 + 100)

/* A module over a malloc'd buffer: in the shim a physical address is the host address. */
static u8 *file_module(struct boot_module *m, int fd)
{
	u8 *buf = malloc(FILE_SIZE);

	assert_non_null(buf);
	for (u64 i = 0; i < FILE_SIZE; i++)
		buf[i] = (u8)((i * 0x9e3779b1u) >> 24); /* no period of a page or less */
	*m = (struct boot_module){ .start = pmem_pa(buf), .end = pmem_pa(buf) + FILE_SIZE };
	P.fds[fd] = (struct fd){ .kind = FD_MODULE, .mod = m };
	return buf;
}

static void expect_file_page(u64 va, const u8 *file, u64 n)
{
	const u8 *page = frame_of(va);

	if (n && memcmp(page, file, n))
		fail_msg("va %#llx: expected %llu file bytes, saw other bytes",
			 (unsigned long long)va, (unsigned long long)n);
	expect_zero(page + n, K4 - n, 1, va);
}

static void test_file_fault_copies_file_bytes_and_zero_fills_the_rest(void **state)
{
	struct boot_module m;
	u8 *buf = file_module(&m, 3);
	long a = mm_mmap(&P, 0, 4 * K4, PROT_READ, MAP_PRIVATE, 3, K4);

	assert_true(a > 0);
	assert_int_equal(P.regions[0].file_len, FILE_SIZE - K4);
	for (unsigned i = 0; i < 4; i++)
		assert_true(fault(a + i * K4, 0));
	expect_file_page(a, buf + K4, K4);
	expect_file_page(a + K4, buf + 2 * K4, K4);
	expect_file_page(a + 2 * K4, buf + 3 * K4, 100);
	expect_file_page(a + 3 * K4, buf, 0);
	expect_leaf(a, K4, 0);
	free(buf);
}

static void test_file_window_follows_a_cut_region(void **state)
{
	struct boot_module m;
	u8 *buf = file_module(&m, 3);
	long a = mm_mmap(&P, 0, 4 * K4, RW, MAP_PRIVATE, 3, 0);

	assert_int_equal(mm_munmap(&P, a, K4), 0);
	assert_int_equal(mm_mprotect(&P, a + 2 * K4, K4, PROT_READ), 0);
	assert_true(fault(a + K4, PF_W));
	assert_true(fault(a + 2 * K4, 0));
	assert_true(fault(a + 3 * K4, 0));
	expect_file_page(a + K4, buf + K4, K4);
	expect_file_page(a + 2 * K4, buf + 2 * K4, K4);
	expect_file_page(a + 3 * K4, buf + 3 * K4, 100);
	free(buf);
}

static void test_file_mmap_shared_writable_or_on_the_console_is_eacces(void **state)
{
	struct boot_module m;
	u8 *buf = file_module(&m, 3);

	P.fds[1].kind = FD_CONSOLE;
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, MAP_SHARED, 3, 0), -EACCES, "shared writable file");
	expect_mmap_err(mm_mmap(&P, 0, K4, PROT_READ, MAP_PRIVATE, 1, 0), -EACCES, "console");
	assert_true(mm_mmap(&P, 0, K4, PROT_READ, MAP_SHARED, 3, 0) > 0);
	expect_nr_regions(1);
	free(buf);
}

/* ---- teardown ----------------------------------------------------------------------------- */

static void test_teardown_returns_every_frame(void **state)
{
	struct boot_module m;
	u8 *buf = file_module(&m, 3);
	long f = mm_mmap(&P, 0, 4 * K4, PROT_READ, MAP_PRIVATE, 3, 0);
	long h = mmap_anon(0, 2 * M2, RW, DYAD_MAP_HUGE | DYAD_MAP_GUEST);
	long s = mmap_anon(0, 16 * K4, RW, 0);

	for (unsigned i = 0; i < 4; i++)
		assert_true(fault(f + i * K4, 0));
	assert_true(fault(h, PF_W));
	assert_true(fault(h + M2, PF_W));
	fault_all(s, 16 * K4);
	assert_int_equal(mm_munmap(&P, h + 7 * K4, K4), 0); /* a 2 MiB page in pieces */
	assert_int_equal(mm_brk(&P, HEAP + 3 * K4), HEAP + 3 * K4);
	fault_all(HEAP, 3 * K4);
	assert_true(shim.live_frames > 0);

	mm_teardown(&P);
	if (shim.live_frames || shim.live_blocks)
		fail_msg("mm_teardown: expected 0 live frames in 0 blocks, saw %llu in %llu",
			 (unsigned long long)shim.live_frames,
			 (unsigned long long)shim.live_blocks);
	/* The fixture's teardown runs mm_teardown again: on a torn-down process a no-op. */
	assert_int_equal(pmap_create(&P.pmap), 0);
	free(buf);
}

/* ---- the top of user space: what the ELF validator accepts, the loader maps ---------------- */

static void test_highest_segment_the_elf_validator_accepts_fits_below_the_stack(void **state)
{
	struct mm_region seg = { .start = ELF_LOAD_END - K4, .end = ELF_LOAD_END, .prot = RW };
	struct mm_region stack = { .start = MM_STACK_TOP - MM_STACK_SIZE,
				   .end = MM_STACK_TOP,
				   .prot = RW,
				   .flags = MM_STACK };

	assert_int_equal(mm_region_add(&P, &seg), 0);
	assert_int_equal(mm_region_add(&P, &stack), 0);
	expect_nr_regions(2);
	assert_true(fault(ELF_LOAD_END - 1, PF_W));
	assert_true(fault(MM_STACK_TOP - 1, PF_W));
}

/* ---- mmap flags: Dyad's against Linux's --------------------------------------------------- */

/* Every flag bit Linux x86-64 gives a meaning to, the MAP_HUGE_* size field included. */
#define LINUX_MAP_BITS                                                                             \
	(MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | 0x80 /* MAP_ABOVE4G, Linux 6.6 */ |    \
	 MAP_GROWSDOWN | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE |             \
	 MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_SYNC | MAP_FIXED_NOREPLACE |  \
	 MAP_UNINITIALIZED | ((u32)MAP_HUGE_MASK << MAP_HUGE_SHIFT))

static void test_dyad_mmap_flags_use_no_bit_linux_uses(void **state)
{
	u32 dyad = DYAD_MAP_GUEST | DYAD_MAP_HUGE;

	if (dyad & LINUX_MAP_BITS)
		fail_msg("Dyad's mmap flags %#x share bits %#x with Linux's", dyad,
			 dyad & LINUX_MAP_BITS);
	assert_int_equal(__builtin_popcount(dyad), 2);
}

/* MAP_HUGETLB | MAP_HUGE_<size>: huge backing, as on Linux, and never guest visibility. */
static void test_linux_huge_page_flags_give_huge_backing_never_guest_visibility(void **state)
{
	long a = mmap_anon(0, 2 * M2, RW, MAP_HUGETLB | MAP_HUGE_2MB);
	long g = mmap_anon(0, G1, RW, MAP_HUGETLB | MAP_HUGE_1GB);
	long d = mmap_anon(0, M2 + K4, RW, MAP_HUGETLB); /* the default size, 2 MiB */
	long s = mmap_anon(0, 2 * M2, RW, MAP_HUGE_2MB); /* no MAP_HUGETLB: Linux ignores it */

	assert_true(a > 0 && g > 0 && d > 0 && s > 0);
	assert_true(fault(a + M2 + 5 * K4, PF_W));
	expect_leaf(a + M2, M2, PMAP_W);
	assert_true(fault(g, PF_W));
	expect_leaf(g, G1, PMAP_W);
	/* Linux rounds a hugetlb length up to whole huge pages. */
	assert_true(IS_ALIGNED(d, M2));
	assert_true(fault(d + M2 + 7 * K4, PF_W));
	expect_leaf(d + M2, M2, PMAP_W);
	assert_true(fault(s, PF_W));
	expect_leaf(s, K4, PMAP_W);
	for (unsigned i = 0; i < P.nr_regions; i++)
		if (P.regions[i].flags & MM_GUEST)
			fail_msg("region %u [%#llx, %#llx) became guest-visible", i,
				 (unsigned long long)P.regions[i].start,
				 (unsigned long long)P.regions[i].end);
}

static void test_mmap_hugetlb_that_linux_would_refuse_is_einval(void **state)
{
	struct boot_module m = { .start = pmem_pa(&m), .end = pmem_pa(&m) + sizeof(m) };

	P.fds[3] = (struct fd){ .kind = FD_MODULE, .mod = &m };
	expect_mmap_err(mmap_anon(0, M2, RW, MAP_HUGETLB | MAP_HUGE_64KB), -EINVAL,
			"MAP_HUGETLB with a size x86-64 has no pages of");
	expect_mmap_err(mmap_anon(0x40000000 + K4, M2, RW, MAP_HUGETLB | MAP_FIXED), -EINVAL,
			"MAP_HUGETLB | MAP_FIXED at an address that is not 2 MiB aligned");
	expect_mmap_err(mm_mmap(&P, 0, M2, PROT_READ, MAP_PRIVATE | MAP_HUGETLB, 3, 0), -EINVAL,
			"MAP_HUGETLB of a file");
	expect_nr_regions(0);
}

static void test_mmap_unknown_flag_bits_are_ignored_unless_validated(void **state)
{
	u32 unknown = 0x200; /* no meaning in Linux or Dyad */

	/* Three protections, so that no two of them merge. */
	assert_true(mmap_anon(0, K4, RW, unknown) > 0);
	assert_true(mm_mmap(&P, 0, K4, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | unknown, -1, 0) > 0);
	assert_true(mm_mmap(&P, 0, K4, RW | PROT_EXEC,
			    MAP_SHARED_VALIDATE | MAP_ANONYMOUS | DYAD_MAP_GUEST, -1, 0) > 0);
	expect_nr_regions(3);
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | unknown, -1,
				0),
			-EOPNOTSUPP, "MAP_SHARED_VALIDATE with an unknown bit");
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_SYNC, -1,
				0),
			-EOPNOTSUPP, "MAP_SHARED_VALIDATE | MAP_SYNC");
	expect_mmap_err(mm_mmap(&P, 0, K4, RW, 0x4 | MAP_ANONYMOUS, -1, 0), -EINVAL,
			"an unknown mapping type");
	expect_mmap_err(mmap_anon(0, K4, RW, MAP_32BIT), -EINVAL, "MAP_32BIT, not supported");
	expect_nr_regions(3);
}

/* ---- mprotect of shared file mappings ----------------------------------------------------- */

static void test_mprotect_adding_write_to_a_shared_file_mapping_is_eacces(void **state)
{
	static u8 file[2 * K4];
	struct boot_module m = { .start = pmem_pa(file), .end = pmem_pa(file) + sizeof(file) };

	P.fds[3] = (struct fd){ .kind = FD_MODULE, .mod = &m };
	long s = mm_mmap(&P, 0, 2 * K4, PROT_READ, MAP_SHARED, 3, 0);
	long p = mm_mmap(&P, 0, 2 * K4, PROT_READ, MAP_PRIVATE, 3, 0);

	assert_true(s > 0 && p > 0);
	assert_true(fault(s, 0));
	assert_int_equal(mm_mprotect(&P, s, K4, RW), -EACCES);
	assert_int_equal(mm_mprotect(&P, s + K4, K4, PROT_READ | PROT_WRITE | PROT_EXEC), -EACCES);
	assert_false(fault(s, PF_P | PF_W));
	assert_false(fault(s + K4, PF_W));
	expect_leaf(s, K4, 0);
	/* Other changes are fine, and a private file mapping may become writable. */
	assert_int_equal(mm_mprotect(&P, s, K4, PROT_READ | PROT_EXEC), 0);
	assert_int_equal(mm_mprotect(&P, p, 2 * K4, RW), 0);
	assert_true(fault(p, PF_W));
}

/* ---- brk after mprotect ------------------------------------------------------------------- */

static void test_brk_growth_is_read_write_after_mprotect_of_the_heap(void **state)
{
	assert_int_equal(mm_brk(&P, HEAP + 2 * K4), HEAP + 2 * K4);
	assert_int_equal(mm_mprotect(&P, HEAP + K4, K4, PROT_READ), 0);
	assert_int_equal(mm_brk(&P, HEAP + 4 * K4), HEAP + 4 * K4);
	assert_true(fault(HEAP + 3 * K4, PF_W));
	expect_leaf(HEAP + 3 * K4, K4, PMAP_W);
	assert_false(fault(HEAP + K4, PF_W)); /* the protected page stays read-only */

	/* The whole heap read-only, then grown: again read-write. */
	assert_int_equal(mm_mprotect(&P, HEAP, 4 * K4, PROT_READ), 0);
	assert_int_equal(mm_brk(&P, HEAP + 5 * K4), HEAP + 5 * K4);
	assert_true(fault(HEAP + 4 * K4, PF_W));
	expect_leaf(HEAP + 4 * K4, K4, PMAP_W);
	/* Shrinking goes through both kinds of heap page. */
	assert_int_equal(mm_brk(&P, HEAP + K4), HEAP + K4);
	expect_nr_regions(1);
	expect_data_frames(0, "after shrinking the heap");
}

/* ---- huge faults decide the page size before they allocate -------------------------------- */

static void test_huge_fault_in_a_partly_mapped_slot_allocates_only_what_it_maps(void **state)
{
	long a = mmap_anon(0, G1, RW, DYAD_MAP_HUGE);

	assert_true(a > 0 && IS_ALIGNED(a, G1));
	shim_fail_nth(1); /* no 1 GiB block: the first fault takes 2 MiB */
	assert_true(fault(a + M2 + 5 * K4, PF_W));
	expect_leaf(a + M2, M2, PMAP_W);

	/* The 1 GiB slot is partly mapped now: the next fault must not even allocate 1 GiB. */
	u64 allocs = shim.allocs, frees = shim.frees;
	assert_true(fault(a, PF_W));
	expect_leaf(a, M2, PMAP_W);
	if (shim.allocs - allocs != 1 || shim.frees != frees)
		fail_msg("a fault in a partly mapped 1 GiB slot: expected 1 allocation (the 2 MiB "
			 "block) and no free, saw %llu allocations and %llu frees",
			 (unsigned long long)(shim.allocs - allocs),
			 (unsigned long long)(shim.frees - frees));
	expect_data_frames(2 * (M2 >> PAGE_SHIFT), "two 2 MiB faults");
}

/* ---- region merging and the region limit --------------------------------------------------- */

static void test_adjacent_regions_with_equal_attributes_merge(void **state)
{
	u64 a = 0x40000000;

	assert_int_equal(mmap_anon(a, 2 * K4, RW, MAP_FIXED), a);
	assert_int_equal(mmap_anon(a + 2 * K4, 2 * K4, RW, MAP_FIXED), a + 2 * K4);
	expect_nr_regions(1);
	expect_region(0, a, a + 4 * K4, RW);
	fault_all(a, 4 * K4);
	assert_int_equal(mm_mprotect(&P, a + K4, K4, PROT_READ), 0);
	expect_nr_regions(3);
	assert_int_equal(mm_mprotect(&P, a + K4, K4, RW), 0);
	expect_nr_regions(1);
	expect_region(0, a, a + 4 * K4, RW);
	/* Different attributes stay apart: guest visibility, huge backing, a file. */
	assert_int_equal(mmap_anon(a + 4 * K4, K4, RW, MAP_FIXED | DYAD_MAP_GUEST), a + 4 * K4);
	assert_int_equal(mmap_anon(a + 5 * K4, K4, RW, MAP_FIXED | DYAD_MAP_HUGE), a + 5 * K4);
	expect_nr_regions(3);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(*frame_of(a + i * K4), (u8)((a >> PAGE_SHIFT) + i));
}

static void test_file_regions_merge_only_where_the_file_runs_on(void **state)
{
	static u8 file[4 * K4];
	struct boot_module m = { .start = pmem_pa(file), .end = pmem_pa(file) + sizeof(file) };
	u64 a = 0x40000000;

	for (unsigned i = 0; i < sizeof(file); i++)
		file[i] = (u8)(i / K4 + 1);
	P.fds[3] = (struct fd){ .kind = FD_MODULE, .mod = &m };
	assert_int_equal(mm_mmap(&P, a, K4, PROT_READ, MAP_PRIVATE | MAP_FIXED, 3, 0), a);
	assert_int_equal(mm_mmap(&P, a + K4, K4, PROT_READ, MAP_PRIVATE | MAP_FIXED, 3, K4),
			 a + K4);
	expect_nr_regions(1);
	assert_int_equal(mm_mmap(&P, a + 2 * K4, K4, PROT_READ, MAP_PRIVATE | MAP_FIXED, 3, 3 * K4),
			 a + 2 * K4);
	expect_nr_regions(2);
	for (unsigned i = 0; i < 3; i++)
		assert_true(fault(a + i * K4, 0));
	assert_int_equal(*frame_of(a), 1);
	assert_int_equal(*frame_of(a + K4), 2);
	assert_int_equal(*frame_of(a + 2 * K4), 4);
}

static void test_alternating_mprotects_fill_the_table_then_enomem_changing_nothing(void **state)
{
	u64 a = 0x40000000, pages = 2 * PROC_MAX_REGIONS + 8;
	static struct mm_region before[PROC_MAX_REGIONS];
	unsigned i;

	assert_true(PROC_MAX_REGIONS >= 256);
	assert_int_equal(mmap_anon(a, pages * K4, RW, MAP_FIXED), a);
	fault_all(a, pages * K4);
	/* Every other page read-only: each one costs two regions. */
	for (i = 1; P.nr_regions + 2 <= PROC_MAX_REGIONS; i += 2)
		assert_int_equal(mm_mprotect(&P, a + i * K4, K4, PROT_READ), 0);
	expect_nr_regions(PROC_MAX_REGIONS - 1);
	assert_int_equal(mm_mprotect(&P, a + (pages - 1) * K4, K4, PROT_READ), 0);
	expect_nr_regions(PROC_MAX_REGIONS);
	memcpy(before, P.regions, sizeof(P.regions));
	assert_int_equal(mm_mprotect(&P, a + (i + 2) * K4, K4, PROT_READ), -ENOMEM);
	assert_int_equal(mm_munmap(&P, a + (i + 2) * K4, K4), -ENOMEM);
	expect_mmap_err(mmap_anon(a + (i + 2) * K4, K4, PROT_READ, MAP_FIXED), -ENOMEM,
			"MAP_FIXED needing two more regions");
	expect_mmap_err(mmap_anon(0, K4, RW, 0), -ENOMEM, "a new region");
	assert_memory_equal(before, P.regions, sizeof(P.regions));
	expect_leaf(a + (i + 2) * K4, K4, PMAP_W);
	/* Changes that merge still work: the last read-only page back to read-write. */
	assert_int_equal(mm_mprotect(&P, a + (i - 2) * K4, K4, RW), 0);
	expect_nr_regions(PROC_MAX_REGIONS - 2);
	long extra = mmap_anon(0, K4, RW, 0);
	assert_true(extra > 0);
	assert_int_equal(mm_munmap(&P, extra, K4), 0);
	/* And undoing them all gives one region, with every page's contents kept. */
	assert_int_equal(mm_mprotect(&P, a, pages * K4, RW), 0);
	expect_nr_regions(1);
	for (u64 p = 0; p < pages; p++)
		assert_int_equal(*frame_of(a + p * K4), (u8)((a >> PAGE_SHIFT) + p));
}

/* ---- random operations against a model ---------------------------------------------------- */

/*
 * The window: 8 MiB from a 1 GiB boundary, so 2 MiB blocks occur and 1 GiB ones cannot.
 * Per page the model keeps whether it is in a region (a non-zero id), the region's prot and
 * flags, and whether the page is faulted in, with a stamp written into its frame when it was.
 * vm.c merges neighbours with equal attributes, so its regions are the maximal runs of mapped
 * pages with equal prot and flags (m_joined).
 */
#define WIN 0x40000000ULL
#define WIN_PAGES 2048
#define RANDOM_OPS 4000

struct mpage {
	u32 id; /* 0: in no region */
	u32 prot;
	u32 flags; /* MM_GUEST, MM_HUGE */
	bool faulted;
	u64 stamp;
};

static struct mpage model[WIN_PAGES], trial[WIN_PAGES];
static u32 next_id;
static u64 faults_2m;

static u64 page_va(u64 i)
{
	return WIN + i * K4;
}

/* True if page @i is in the same region as page @i - 1. */
static bool m_joined(const struct mpage *m, u64 i)
{
	return i > 0 && i < WIN_PAGES && m[i].id && m[i - 1].id && m[i].prot == m[i - 1].prot &&
	       m[i].flags == m[i - 1].flags;
}

/* Starts a new region at page @x if @x is inside one that began before it. */
static void m_cut(struct mpage *m, u64 x)
{
	if (x == 0 || x >= WIN_PAGES || !m[x].id || m[x - 1].id != m[x].id)
		return;
	u32 old = m[x].id, id = ++next_id;

	for (u64 y = x; y < WIN_PAGES && m[y].id == old; y++)
		m[y].id = id;
}

static void m_unmap(struct mpage *m, u64 a, u64 b)
{
	m_cut(m, b);
	for (u64 i = a; i < b; i++)
		m[i] = (struct mpage){ 0 };
}

static unsigned m_regions(const struct mpage *m)
{
	unsigned n = 0;

	for (u64 i = 0; i < WIN_PAGES; i++)
		n += m[i].id && !m_joined(m, i);
	return n;
}

static u64 m_faulted(const struct mpage *m)
{
	u64 n = 0;

	for (u64 i = 0; i < WIN_PAGES; i++)
		n += m[i].faulted;
	return n;
}

static bool m_any(const struct mpage *m, u64 a, u64 b, bool mapped)
{
	for (u64 i = a; i < b; i++)
		if (!!m[i].id == mapped)
			return true;
	return false;
}

/* The leaf bits a faulted-in page of @m must have. */
static u32 m_leaf_flags(const struct mpage *m)
{
	if (!(m->prot & (PROT_READ | PROT_WRITE | PROT_EXEC)))
		return PMAP_NONE; /* PROT_NONE keeps the frame, inaccessible */
	return ((m->prot & PROT_WRITE) ? PMAP_W : 0) | ((m->prot & PROT_EXEC) ? PMAP_X : 0) |
	       ((m->flags & MM_GUEST) ? PMAP_VISIBLE : 0);
}

/* The region list must be the model's runs, and every page mapped exactly as the model says. */
static void check_against_model(u64 op)
{
	unsigned r = 0;

	tl_check(&P.pmap);
	for (u64 i = 0; i < WIN_PAGES; i++) {
		const struct mpage *m = &model[i];
		struct pmap_leaf l;
		int got = pmap_lookup(&P.pmap, page_va(i), &l);

		if (m->id && !m_joined(model, i)) {
			u64 end = i + 1;

			while (m_joined(model, end))
				end++;
			const struct mm_region *v = &P.regions[r];
			if (r >= P.nr_regions || v->start != page_va(i) || v->end != page_va(end) ||
			    v->prot != m->prot || v->flags != m->flags)
				fail_msg("op %llu: region %u: expected [%#llx, %#llx) prot %u "
					 "flags %#x, "
					 "saw [%#llx, %#llx) prot %u flags %#x",
					 (unsigned long long)op, r, (unsigned long long)page_va(i),
					 (unsigned long long)page_va(end), m->prot, m->flags,
					 (unsigned long long)v->start, (unsigned long long)v->end,
					 v->prot, v->flags);
			r++;
		}
		if (!m->faulted) {
			if (got == 0)
				fail_msg(
					"op %llu: va %#llx: expected not faulted in, saw it mapped",
					(unsigned long long)op, (unsigned long long)page_va(i));
			continue;
		}
		u32 want = m_leaf_flags(m);
		if (got || (l.flags & LEAF_PROT) != want)
			fail_msg("op %llu: va %#llx: expected mapped with flags %#x, saw %s %#x",
				 (unsigned long long)op, (unsigned long long)page_va(i), want,
				 got ? "unmapped" : "flags", got ? 0 : l.flags & LEAF_PROT);
		u64 seen = *(u64 *)pmem_va(l.pa + (page_va(i) - l.va));
		if (seen != m->stamp)
			fail_msg("op %llu: va %#llx: expected stamp %#llx in its frame, saw %#llx",
				 (unsigned long long)op, (unsigned long long)page_va(i),
				 (unsigned long long)m->stamp, (unsigned long long)seen);
	}
	if (r != P.nr_regions)
		fail_msg("op %llu: expected %u regions, saw %u", (unsigned long long)op, r,
			 P.nr_regions);
	/* Every page's region, looked up from both ends so the remembered index keeps moving. */
	for (u64 i = 0; i < WIN_PAGES; i++) {
		expect_find(page_va(i), "random operations");
		expect_find(page_va(WIN_PAGES - 1 - i) + K4 - 1, "random operations, backwards");
	}
	if (data_frames() != m_faulted(model))
		fail_msg("op %llu: expected %llu data frames (faulted pages), saw %llu",
			 (unsigned long long)op, (unsigned long long)m_faulted(model),
			 (unsigned long long)data_frames());
}

/* A random range of pages [*a, *b): mostly short, sometimes 2 MiB-aligned and long. */
static bool small_ranges; /* the fragmenting run: 1-2 pages, so the table fills up */
static u64 limit_refusals; /* operations refused because the region table was full */

static void rnd_range(u64 *a, u64 *b)
{
	u64 kind = rnd_below(100), len;

	if (small_ranges) {
		*a = rnd_below(WIN_PAGES);
		len = 1 + rnd_below(2);
	} else if (kind < 80) {
		*a = rnd_below(WIN_PAGES);
		len = 1 + rnd_below(16);
	} else if (kind < 92) {
		*a = rnd_below(WIN_PAGES);
		len = 1 + rnd_below(300);
	} else {
		*a = ALIGN_DOWN(rnd_below(WIN_PAGES), 512);
		len = 512 * (1 + rnd_below(2)) + (rnd_below(2) ? 0 : rnd_below(512));
	}
	*b = MIN(*a + len, (u64)WIN_PAGES);
}

/* Applies an operation to the model when vm.c is expected to accept it. */
static void commit(long got, long want, const char *what, u64 op)
{
	if (got != want)
		fail_msg("op %llu: %s: expected %ld, saw %ld", (unsigned long long)op, what, want,
			 got);
	if (want >= 0)
		memcpy(model, trial, sizeof(model));
}

static void random_mmap(u64 op, u64 *counts)
{
	u64 a, b;
	u32 prot = rnd_below(8), flags = 0;
	bool noreplace = rnd_below(4) == 0;
	long want;

	rnd_range(&a, &b);
	if (rnd_below(3) == 0)
		flags |= DYAD_MAP_GUEST;
	if (rnd_below(3) == 0)
		flags |= DYAD_MAP_HUGE;
	memcpy(trial, model, sizeof(trial));
	m_unmap(trial, a, b);
	u32 id = ++next_id;
	for (u64 i = a; i < b; i++)
		trial[i] = (struct mpage){ .id = id,
					   .prot = prot,
					   .flags = ((flags & DYAD_MAP_GUEST) ? MM_GUEST : 0) |
						    ((flags & DYAD_MAP_HUGE) ? MM_HUGE : 0) };
	if (noreplace && m_any(model, a, b, true))
		want = -EEXIST;
	else if (m_regions(trial) > PROC_MAX_REGIONS)
		want = -ENOMEM, limit_refusals++;
	else
		want = (long)page_va(a);
	long got = mmap_anon(page_va(a), (b - a) * K4, prot,
			     flags | (noreplace ? MAP_FIXED_NOREPLACE : MAP_FIXED));
	commit(got, want, "mmap", op);
	counts[want < 0]++;
}

static void random_munmap(u64 op, u64 *counts)
{
	u64 a, b;

	rnd_range(&a, &b);
	memcpy(trial, model, sizeof(trial));
	m_unmap(trial, a, b);
	long want = m_regions(trial) > PROC_MAX_REGIONS ? -ENOMEM : 0;

	limit_refusals += want < 0;

	commit(mm_munmap(&P, page_va(a), (b - a) * K4), want, "munmap", op);
	counts[want < 0]++;
}

static void random_mprotect(u64 op, u64 *counts)
{
	u64 a, b;
	u32 prot = rnd_below(8);
	long want = 0;

	rnd_range(&a, &b);
	memcpy(trial, model, sizeof(trial));
	m_cut(trial, a);
	m_cut(trial, b);
	for (u64 i = a; i < b; i++) {
		trial[i].prot = prot;
	}
	if (m_any(model, a, b, false))
		want = -ENOMEM; /* a hole */
	else if (m_regions(trial) > PROC_MAX_REGIONS)
		want = -ENOMEM, limit_refusals++;
	commit(mm_mprotect(&P, page_va(a), (b - a) * K4, prot), want, "mprotect", op);
	counts[want < 0]++;
}

/* True when the 2 MiB block around page @x lies in its huge region: vm.c tries one there. */
static bool m_tries_2m(u64 x)
{
	u64 first = ALIGN_DOWN(x, 512);

	if (!(model[x].flags & MM_HUGE))
		return false;
	for (u64 i = first + 1; i < first + 512; i++)
		if (!m_joined(model, i))
			return false;
	return true;
}

/* The 2 MiB block is used when nothing in it is faulted in yet. */
static u64 m_fault_size(u64 x)
{
	u64 first = ALIGN_DOWN(x, 512);

	if (!m_tries_2m(x))
		return K4;
	for (u64 i = first; i < first + 512; i++)
		if (model[i].faulted)
			return K4;
	return M2;
}

static void random_fault(u64 op, u64 *counts)
{
	u64 x = rnd_below(WIN_PAGES), va = page_va(x) + rnd_below(K4);
	u64 err = (rnd_below(3) == 0 ? PF_W : 0) | (rnd_below(4) == 0 ? PF_I : 0) |
		  (rnd_below(20) == 0 ? PF_P : 0);
	struct mpage *m = &model[x];
	bool inject = rnd_below(16) == 0;
	bool want = m->id && m->prot && !(err & PF_P) &&
		    !((err & PF_W) && !(m->prot & PROT_WRITE)) &&
		    !((err & PF_I) && !(m->prot & PROT_EXEC));
	/*
	 * A not-present fault on a page already faulted in is another thread's race: served,
	 * nothing new mapped, its contents kept. The block allocated first may fail.
	 */
	bool raced = m->faulted;
	u64 size = want && !raced ? m_fault_size(x) : 0;
	u64 frames = shim.live_frames, stamp = 0;

	if (raced && want) {
		struct pmap_leaf l;

		assert_int_equal(pmap_lookup(&P.pmap, va, &l), 0);
		stamp = *(u64 *)pmem_va(l.pa + ALIGN_DOWN(va - l.va, K4));
	}
	if (inject && raced) {
		shim_fail_nth(1);
		want = false;
	} else if (inject) {
		/*
		 * The first allocation fails: a 2 MiB block if the fault chose one (it then takes
		 * 4 KiB), else the 4 KiB frame (the fault is refused).
		 */
		shim_fail_nth(1);
		if (size == M2)
			size = K4;
		else
			want = false;
	}
	bool got = fault(va, err);

	shim_fail_nth(0);
	if (got != want)
		fail_msg("op %llu: fault at %#llx err %#llx%s: expected %s, saw %s",
			 (unsigned long long)op, (unsigned long long)va, (unsigned long long)err,
			 inject ? " (allocation failure injected)" : "",
			 want ? "served" : "refused", got ? "served" : "refused");
	counts[!want]++;
	if (!got)
		return;
	if (raced) {
		struct pmap_leaf l;

		assert_int_equal(shim.live_frames, frames);
		assert_int_equal(pmap_lookup(&P.pmap, va, &l), 0);
		assert_int_equal(*(u64 *)pmem_va(l.pa + ALIGN_DOWN(va - l.va, K4)), stamp);
		return;
	}
	struct pmap_leaf l = expect_leaf(va, size, m_leaf_flags(m));

	faults_2m += size == M2;
	for (u64 i = 0; i < size; i += K4) {
		struct mpage *p = &model[(l.va - WIN + i) >> PAGE_SHIFT];
		u64 *frame = pmem_va(l.pa + i);

		expect_zero((const u8 *)frame, K4, 1, l.va + i);
		p->faulted = true;
		p->stamp = rnd() | 1;
		*frame = p->stamp;
	}
}

static void random_run(bool small)
{
	u64 counts[4][2] = { { 0 } };
	const char *names[4] = { "mmap", "munmap", "mprotect", "fault" };

	memset(model, 0, sizeof(model));
	small_ranges = small;
	limit_refusals = 0;
	faults_2m = 0;
	for (u64 op = 0; op < RANDOM_OPS; op++) {
		u64 kind = rnd_below(100);

		if (kind < 20)
			random_mmap(op, counts[0]);
		else if (kind < 28)
			random_munmap(op, counts[1]);
		else if (kind < 50)
			random_mprotect(op, counts[2]);
		else
			random_fault(op, counts[3]);
		if (op % 25 == 0 || op == RANDOM_OPS - 1)
			check_against_model(op);
	}
	for (unsigned k = 0; k < 4; k++)
		printf("  %-8s %5llu accepted %5llu refused\n", names[k],
		       (unsigned long long)counts[k][0], (unsigned long long)counts[k][1]);
	printf("  %llu faults served by 2 MiB blocks, %llu jumbo splits, %llu refused at the "
	       "region limit\n",
	       (unsigned long long)faults_2m, (unsigned long long)P.pmap.nr_splits,
	       (unsigned long long)limit_refusals);
}

static void test_random_operations_match_a_page_model(void **state)
{
	random_run(false);
}

/* One- and two-page operations cut the window into hundreds of regions: the limit is hit. */
static void test_random_small_operations_reach_the_region_limit(void **state)
{
	random_run(true);
	if (!limit_refusals)
		fail_msg("%d random small operations never reached the %d-region limit", RANDOM_OPS,
			 PROC_MAX_REGIONS);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shim_free_part_frees_exactly_the_piece_and_keeps_the_rest),
		T(test_mmap_without_hint_is_page_aligned_below_top_and_disjoint),
		T(test_mmap_with_free_hint_lands_at_the_hint),
		T(test_mmap_with_busy_hint_goes_elsewhere),
		T(test_mmap_fixed_replaces_a_mapping_and_frees_its_frames),
		T(test_mmap_fixed_noreplace_over_a_mapping_is_eexist),
		T(test_mmap_fixed_with_full_table_is_enomem_and_keeps_the_old_pages),
		T(test_mmap_bad_arguments_are_einval_or_ebadf_and_change_nothing),
		T(test_read_fault_maps_a_zeroed_4k_page),
		T(test_write_fault_to_read_only_region_is_refused),
		T(test_exec_fault_to_non_exec_region_is_refused),
		T(test_fault_outside_every_region_is_refused),
		T(test_find_gives_the_holding_region_after_the_list_changes),
		T(test_fault_in_prot_none_region_is_refused),
		T(test_fault_on_present_page_is_refused_and_keeps_the_frame),
		T(test_page_faults_counts_served_faults_only),
		T(test_huge_1g_region_faults_in_one_1g_leaf),
		cmocka_unit_test_setup_teardown(
			test_huge_1g_region_without_cpu_1g_pages_gets_2m_leaves, setup_no_1g,
			teardown),
		T(test_huge_2m_aligned_region_below_1g_gets_2m_leaves),
		T(test_huge_region_edge_cutting_a_2m_block_falls_back_to_4k),
		T(test_huge_fault_falls_back_to_smaller_blocks_when_memory_is_short),
		T(test_fault_with_no_memory_at_all_is_refused_and_changes_nothing),
		T(test_guest_flag_makes_leaves_visible),
		T(test_guest_fault_serves_guest_regions_only_and_gives_the_page_size),
		T(test_without_guest_flag_leaves_are_invisible),
		T(test_munmap_middle_splits_the_region_and_frees_exactly_those_frames),
		T(test_munmap_middle_of_a_2m_page_frees_just_that_part),
		T(test_munmap_needing_a_split_with_full_table_is_enomem_and_changes_nothing),
		T(test_munmap_bad_arguments_are_einval),
		T(test_mprotect_of_part_splits_region_in_three_and_updates_w),
		T(test_mprotect_of_a_2m_page_part_keeps_the_rest),
		T(test_mprotect_over_a_hole_is_enomem_and_changes_nothing),
		T(test_mprotect_prot_none_keeps_the_frames_and_contents),
		T(test_brk_grows_a_heap_region_that_faults),
		T(test_brk_shrink_frees_the_frames),
		T(test_brk_does_not_grow_into_a_mapping),
		T(test_file_fault_copies_file_bytes_and_zero_fills_the_rest),
		T(test_file_window_follows_a_cut_region),
		T(test_file_mmap_shared_writable_or_on_the_console_is_eacces),
		T(test_teardown_returns_every_frame),
		T(test_highest_segment_the_elf_validator_accepts_fits_below_the_stack),
		T(test_dyad_mmap_flags_use_no_bit_linux_uses),
		T(test_linux_huge_page_flags_give_huge_backing_never_guest_visibility),
		T(test_mmap_hugetlb_that_linux_would_refuse_is_einval),
		T(test_mmap_unknown_flag_bits_are_ignored_unless_validated),
		T(test_mprotect_adding_write_to_a_shared_file_mapping_is_eacces),
		T(test_brk_growth_is_read_write_after_mprotect_of_the_heap),
		T(test_huge_fault_in_a_partly_mapped_slot_allocates_only_what_it_maps),
		T(test_adjacent_regions_with_equal_attributes_merge),
		T(test_file_regions_merge_only_where_the_file_runs_on),
		T(test_alternating_mprotects_fill_the_table_then_enomem_changing_nothing),
		T(test_random_operations_match_a_page_model),
		T(test_random_small_operations_reach_the_region_limit),
	};

	/*
	 * The shim never merges freed blocks, and places new ones with a bump pointer aligned to
	 * their size. Allocating (and freeing) the one 1 GiB block first puts it at the bottom of
	 * the 2 GiB arena, where every 1 GiB request reuses it; small blocks fill the other half.
	 */
	pmem_free(pmem_alloc(18), 18);
	shim_reset();

	rnd_seed_from_env("MM_SEED");
	return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
