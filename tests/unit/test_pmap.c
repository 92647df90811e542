// SPDX-License-Identifier: MIT
/*
 * The page-table pair, API by API: what each call maps, at which page size, what it refuses,
 * what it leaves behind when memory runs out, what it flushes, and that the checker catches
 * broken invariants. Every test runs twice: with the odd half in EPT format (an Intel CPU with
 * VMX) and in NPT format (an AMD CPU with SVM and nested paging).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>

#include "pmap_testlib.h"
#include "pmem_shim.h"

#define G1 SZ_1G
#define M2 SZ_2M
#define K4 SZ_4K
#define PA0 0x4000000000ULL /* a 1 GiB-aligned fake frame range; pmap never touches frames */
#define RWXV (PMAP_W | PMAP_X | PMAP_VISIBLE)

static struct pmap pm;

/*
 * The odd-half encodings the tests expect, written from the manuals (SDM vol. 3, 29.3.2; APM
 * vol. 2, 15.25), not taken from pmap.h: a guest-visible leaf, its W, its jumbo bit, an
 * intermediate entry, and the A/D bits the second-stage walker sets.
 */
struct want_format {
	bool npt;
	u64 leaf, w, ps, table, a, d;
};

static const struct want_format want_ept = {
	.leaf = BIT(0) | BIT(2) | (6ULL << 3), /* R, X, memory type WB; IPAT clear */
	.w = BIT(1),
	.ps = BIT(7),
	.table = BIT(0) | BIT(1) | BIT(2), /* RWX */
	.a = BIT(8),
	.d = BIT(9),
};

static const struct want_format want_npt = {
	.npt = true,
	.leaf = BIT(0) | BIT(2), /* P, U; NX (bit 63) clear */
	.w = BIT(1),
	.ps = BIT(7),
	.table = BIT(0) | BIT(1) | BIT(2), /* P, W, U */
	.a = BIT(5),
	.d = BIT(6),
};

static const struct want_format *want;
#define GUEST_A (want->a)
#define GUEST_D (want->d)
#define GUEST_AD (want->a | want->d)

static int setup_common(void)
{
	shim_reset();
	pmap_kernel_half_init(NULL, 0);
	assert_int_equal(pmap_create(&pm), 0);
	assert_string_equal(pm.fmt->name, want->npt ? "npt" : "ept");
	pmap_vmx_operation(!want->npt);
	return 0;
}

static int setup_ept(void **state)
{
	tl_cpu_intel();
	want = &want_ept;
	return setup_common();
}

static int setup_npt(void **state)
{
	tl_cpu_amd();
	want = &want_npt;
	return setup_common();
}

static int teardown(void **state)
{
	tl_check(&pm);
	pmap_destroy(&pm, NULL, NULL);
	assert_int_equal(shim.live_blocks, 0);
	pmap_current = NULL;
	pmap_vmx_operation(false);
	return 0;
}

/* Expects the leaf at @va to be @size bytes mapping @pa with @flags (A/D aside). */
static void expect_leaf(u64 va, paddr_t pa, u64 size, u32 flags)
{
	struct pmap_leaf l;

	assert_int_equal(pmap_lookup(&pm, va, &l), 0);
	assert_int_equal(l.va, ALIGN_DOWN(va, size));
	assert_int_equal(l.size, size);
	assert_int_equal(l.pa, ALIGN_DOWN(pa, size));
	assert_int_equal(l.flags & ~PMAP_AD, flags);
}

/*
 * The odd-half entry of the leaf at @va must be exactly the hardware encoding of the mapping:
 * guest-visible implies readable and executable whatever PMAP_X, W follows PMAP_W.
 */
static void expect_odd(u64 va, paddr_t pa, unsigned lvl, u32 flags)
{
	unsigned l;
	kpte_t *kp = tl_find(&pm, va, &l);
	opte_t e = 0;

	assert_int_equal(l, lvl);
	if (flags & PMAP_VISIBLE)
		e = pa | want->leaf | ((flags & PMAP_W) ? want->w : 0) | (lvl > 1 ? want->ps : 0);
	assert_int_equal(*kpte_to_odd(kp), e);
}

/* ---- map at each size --------------------------------------------------------------------- */

static void test_map_4k_sets_both_halves(void **state)
{
	u64 va = 0x400000;

	assert_int_equal(pmap_map(&pm, va, PA0 + 0x5000, K4, PMAP_W | PMAP_VISIBLE), 0);
	expect_leaf(va, PA0 + 0x5000, K4, PMAP_W | PMAP_VISIBLE);
	expect_odd(va, PA0 + 0x5000, 1, PMAP_W | PMAP_VISIBLE);
	assert_int_equal(pm.nr_pairs, 4);
	assert_int_equal(pm.nr_leaves[1], 1);
	/* intermediate odd entries (EPT: RWX; NPT: P|W|U) point at the odd half of the next pair */
	kpte_t *root = pmem_va(pm.root);
	kpte_t k = root[0];
	assert_int_equal(k & ~PTE_ADDR_4K, KPTE_TABLE);
	assert_int_equal(*kpte_to_odd(&root[0]), (kpte_table(k) + 4096) | want->table);
	assert_true(IS_ALIGNED(kpte_table(k), 8192));
}

static void test_map_2m_uses_one_pd_leaf(void **state)
{
	assert_int_equal(pmap_map(&pm, 3 * M2, PA0 + M2, M2, PMAP_VISIBLE), 0);
	expect_leaf(3 * M2 + 0x1234, PA0 + M2, M2, PMAP_VISIBLE);
	expect_odd(3 * M2, PA0 + M2, 2, PMAP_VISIBLE);
	assert_int_equal(pm.nr_pairs, 3);
	assert_int_equal(pm.nr_leaves[2], 1);
}

static void test_map_1g_uses_one_pdpt_leaf(void **state)
{
	assert_int_equal(pmap_map(&pm, 5 * G1, PA0, G1, RWXV), 0);
	expect_leaf(5 * G1 + 12345 * K4, PA0, G1, RWXV);
	expect_odd(5 * G1, PA0, 3, RWXV);
	assert_int_equal(pm.nr_pairs, 2);
	assert_int_equal(pm.nr_leaves[3], 1);
}

static void test_map_invisible_leaf_has_zero_odd_entry(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, PMAP_W), 0);
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, M2, PMAP_W), 0);
	assert_int_equal(pmap_map(&pm, 3 * G1, PA0, K4, PMAP_W), 0);
	expect_odd(G1, PA0, 3, PMAP_W);
	expect_odd(2 * G1, PA0, 2, PMAP_W);
	expect_odd(3 * G1, PA0, 1, PMAP_W);
}

static void test_map_picks_largest_page_per_piece(void **state)
{
	/* [1G - 2M - 4K, 3G + 2M + 4K): 4K, 2M, 1G, 1G, 2M, 4K */
	u64 va = G1 - M2 - K4, len = 2 * G1 + 2 * M2 + 2 * K4;

	assert_int_equal(pmap_map(&pm, va, PA0 + va, len, PMAP_W), 0);
	struct tl_sizes s = tl_count(&pm, 0, 4 * G1);
	assert_int_equal(s.n4k, 2);
	assert_int_equal(s.n2m, 2);
	assert_int_equal(s.n1g, 2);
	expect_leaf(va, PA0 + va, K4, PMAP_W);
	expect_leaf(G1, PA0 + G1, G1, PMAP_W);
	expect_leaf(3 * G1 + M2, PA0 + 3 * G1 + M2, K4, PMAP_W);
}

static void test_map_pa_alignment_limits_page_size(void **state)
{
	/* va 1G-aligned, pa only 2M-aligned: 2M pages; pa only 4K-aligned: 4K pages */
	assert_int_equal(pmap_map(&pm, G1, PA0 + M2, G1, 0), 0);
	assert_int_equal(tl_count(&pm, G1, G1).n2m, 512);
	assert_int_equal(pmap_map(&pm, 4 * G1, PA0 + K4, M2, 0), 0);
	assert_int_equal(tl_count(&pm, 4 * G1, M2).n4k, 512);
}

static void test_map_policy_caps_page_size(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, PMAP_MAX_2M), 0);
	assert_int_equal(tl_count(&pm, G1, G1).n2m, 512);
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, 2 * M2, PMAP_MAX_4K), 0);
	assert_int_equal(tl_count(&pm, 2 * G1, 2 * M2).n4k, 1024);
}

/* ---- capabilities trim the format --------------------------------------------------------- */

static void recreate(void)
{
	pmap_destroy(&pm, NULL, NULL);
	assert_int_equal(pmap_create(&pm), 0);
}

/* ---- map_page: the single-page fault path ------------------------------------------------ */

static void test_map_page_each_size_is_one_leaf_in_both_halves(void **state)
{
	assert_int_equal(pmap_map_page(&pm, G1 + 3 * K4, PA0 + 5 * K4, K4, PMAP_W | PMAP_VISIBLE),
			 0);
	expect_leaf(G1 + 3 * K4, PA0 + 5 * K4, K4, PMAP_W | PMAP_VISIBLE);
	expect_odd(G1 + 3 * K4, PA0 + 5 * K4, 1, PMAP_W | PMAP_VISIBLE);
	assert_int_equal(pm.nr_pairs, 4); /* root, PDPT, PD, PT */
	assert_int_equal(pmap_map_page(&pm, G1 + 4 * K4, PA0, K4, 0), 0); /* same PT */
	assert_int_equal(pm.nr_pairs, 4);
	assert_int_equal(pmap_map_page(&pm, G1 + 7 * M2, PA0 + M2, M2, RWXV), 0); /* same PD */
	expect_leaf(G1 + 7 * M2 + 99 * K4, PA0 + M2, M2, RWXV);
	expect_odd(G1 + 7 * M2, PA0 + M2, 2, RWXV);
	assert_int_equal(pm.nr_pairs, 4);
	assert_int_equal(pmap_map_page(&pm, 3 * G1, PA0, G1, PMAP_VISIBLE), 0); /* same PDPT */
	expect_leaf(3 * G1 + 12345 * K4, PA0, G1, PMAP_VISIBLE);
	expect_odd(3 * G1, PA0, 3, PMAP_VISIBLE);
	assert_int_equal(pm.nr_pairs, 4);
	assert_int_equal(pmap_map_page(&pm, USER_TOP - G1, PA0, G1, 0), 0); /* new PDPT only */
	assert_int_equal(pm.nr_pairs, 5);
	assert_int_equal(pm.nr_leaves[1], 2);
	assert_int_equal(pm.nr_leaves[2], 1);
	assert_int_equal(pm.nr_leaves[3], 2);
}

static void test_map_page_matches_map_of_the_same_page(void **state)
{
	struct pmap p2;
	static const u64 sizes[] = { K4, M2, G1 };

	assert_int_equal(pmap_create(&p2), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 va = (i + 1) * G1 + sizes[i] * 3, pa = PA0 + sizes[i] * 5;
		unsigned l1, l2;

		assert_int_equal(pmap_map_page(&pm, va, pa, sizes[i], RWXV), 0);
		assert_int_equal(pmap_map(&p2, va, pa, sizes[i], RWXV), 0);
		kpte_t *a = tl_find(&pm, va, &l1), *b = tl_find(&p2, va, &l2);
		assert_int_equal(l1, l2);
		assert_int_equal(*a, *b);
		assert_int_equal(*kpte_to_odd(a), *kpte_to_odd(b));
	}
	assert_int_equal(pm.nr_pairs, p2.nr_pairs);
	tl_check(&p2);
	pmap_destroy(&p2, NULL, NULL);
}

static void test_map_page_over_anything_mapped_is_eexist(void **state)
{
	struct tl_dump before, after;

	assert_int_equal(pmap_map(&pm, G1 + 5 * M2 + 7 * K4, PA0, K4, 0), 0); /* a 4K leaf */
	assert_int_equal(pmap_map(&pm, 3 * G1 + M2, PA0, M2, 0), 0); /* a 2M leaf */
	assert_int_equal(pmap_map(&pm, 5 * G1, PA0, G1, 0), 0); /* a 1G leaf */
	tl_dump(&pm, &before);
	/* a jumbo over a smaller mapping inside it */
	assert_int_equal(pmap_map_page(&pm, G1, PA0, G1, 0), -EEXIST);
	assert_int_equal(pmap_map_page(&pm, G1 + 5 * M2, PA0, M2, 0), -EEXIST);
	assert_int_equal(pmap_map_page(&pm, 3 * G1, PA0, G1, 0), -EEXIST);
	/* the same page twice */
	assert_int_equal(pmap_map_page(&pm, G1 + 5 * M2 + 7 * K4, PA0, K4, 0), -EEXIST);
	assert_int_equal(pmap_map_page(&pm, 3 * G1 + M2, PA0, M2, 0), -EEXIST);
	assert_int_equal(pmap_map_page(&pm, 5 * G1, PA0, G1, 0), -EEXIST);
	/* a smaller page inside a jumbo */
	assert_int_equal(pmap_map_page(&pm, 3 * G1 + M2 + K4, PA0, K4, 0), -EEXIST);
	assert_int_equal(pmap_map_page(&pm, 5 * G1 + 9 * M2, PA0, M2, 0), -EEXIST);
	assert_int_equal(pmap_map_page(&pm, 5 * G1 + 9 * M2 + K4, PA0, K4, 0), -EEXIST);
	tl_dump(&pm, &after);
	assert_true(tl_dump_equal(&before, &after));
	tl_dump_free(&before);
	tl_dump_free(&after);
	/* the neighbours are free */
	assert_int_equal(pmap_map_page(&pm, G1 + 5 * M2 + 8 * K4, PA0, K4, 0), 0);
	assert_int_equal(pmap_map_page(&pm, 3 * G1, PA0, M2, 0), 0);
	assert_int_equal(pmap_map_page(&pm, 4 * G1, PA0, G1, 0), 0);
}

static void test_map_page_rejects_bad_arguments(void **state)
{
	assert_int_equal(pmap_map_page(&pm, G1 + K4, PA0, M2, 0), -EINVAL); /* va unaligned */
	assert_int_equal(pmap_map_page(&pm, G1, PA0 + M2, G1, 0), -EINVAL); /* pa unaligned */
	assert_int_equal(pmap_map_page(&pm, 0x800, PA0, K4, 0), -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 0, PA0, 0, 0), -EINVAL); /* not a page size */
	assert_int_equal(pmap_map_page(&pm, 0, PA0, 2 * K4, 0), -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 0, 0, 1ULL << 39, 0), -EINVAL); /* no leaf at PML4 */
	assert_int_equal(pmap_map_page(&pm, USER_TOP, PA0, K4, 0), -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 0xffff800000000000ULL, PA0, K4, 0), -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 0, BIT(52), K4, 0), -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 0, PA0, K4, BIT(20)), -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 0, PA0, G1, PMAP_MAX_2M), -EINVAL); /* policy cap */
	assert_int_equal(pmap_map_page(&pm, 0, PA0, M2, PMAP_MAX_4K), -EINVAL);
	assert_int_equal(pm.nr_pairs, 1);
	/* the last page of each size below USER_TOP is fine */
	assert_int_equal(pmap_map_page(&pm, USER_TOP - K4, PA0, K4, 0), 0);
	assert_int_equal(pmap_map_page(&pm, USER_TOP - 2 * M2, PA0, M2, 0), 0);
	assert_int_equal(pmap_map_page(&pm, USER_TOP - 2 * G1, PA0, G1, 0), 0);
	assert_int_equal(pmap_map_page(&pm, 0, BIT(52) - G1, G1, 0), 0);
}

static void test_map_page_1g_without_cpu_1g_is_einval(void **state)
{
	cpu_features.page_1g = false;
	recreate();
	assert_false(pmap_page_size_ok(&pm, G1, 0));
	assert_false(pmap_page_size_ok(&pm, G1, PMAP_VISIBLE));
	assert_true(pmap_page_size_ok(&pm, M2, PMAP_VISIBLE));
	assert_int_equal(pmap_map_page(&pm, G1, PA0, G1, 0), -EINVAL); /* never 512 x 2M */
	assert_int_equal(pm.nr_pairs, 1);
	assert_int_equal(pmap_map_page(&pm, G1, PA0, M2, 0), 0);
	expect_leaf(G1, PA0, M2, 0);
}

/*
 * A VMX CPU whose EPT lacks the page sizes in @missing. In NPT format the EPT capabilities
 * must not matter even when they are there to be read: vmx is set in both formats.
 */
static void recreate_with_ept_caps_missing(u64 missing)
{
	cpu_features.vmx = true;
	cpu_features.ept_vpid_cap = (EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_1G | EPT_CAP_AD) & ~missing;
	recreate();
}

static void test_map_page_ept_caps_limit_visible_pages_only(void **state)
{
	recreate_with_ept_caps_missing(EPT_CAP_1G | EPT_CAP_2M);
	/* NPT: the nested walker takes every page size the CPU does */
	assert_int_equal(pmap_page_size_ok(&pm, G1, PMAP_VISIBLE), want->npt);
	assert_int_equal(pmap_page_size_ok(&pm, M2, PMAP_VISIBLE), want->npt);
	assert_true(pmap_page_size_ok(&pm, K4, PMAP_VISIBLE));
	assert_int_equal(pmap_map_page(&pm, G1, PA0, G1, PMAP_VISIBLE), want->npt ? 0 : -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 4 * G1, PA0, M2, PMAP_VISIBLE),
			 want->npt ? 0 : -EINVAL);
	assert_int_equal(pmap_map_page(&pm, 5 * G1, PA0, K4, PMAP_VISIBLE), 0);
	expect_odd(5 * G1, PA0, 1, PMAP_VISIBLE);
	assert_int_equal(pmap_map_page(&pm, 2 * G1, PA0, G1, 0), 0); /* host-only: any size */
	assert_int_equal(pmap_map_page(&pm, 3 * G1, PA0, M2, 0), 0);
	expect_odd(2 * G1, PA0, 3, 0);
}

static void test_caps_no_cpu_1g_means_2m(void **state)
{
	cpu_features.page_1g = false;
	recreate();
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, PMAP_VISIBLE), 0);
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, G1, 0), 0);
	assert_int_equal(tl_count(&pm, G1, 2 * G1).n2m, 1024);
}

static void test_caps_ept_without_1g_limits_visible_only(void **state)
{
	recreate_with_ept_caps_missing(EPT_CAP_1G);
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, PMAP_VISIBLE), 0);
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, G1, 0), 0);
	struct tl_sizes vis = tl_count(&pm, G1, G1), host = tl_count(&pm, 2 * G1, G1);
	assert_int_equal(vis.n2m, want->npt ? 0 : 512);
	assert_int_equal(vis.n1g, want->npt ? 1 : 0);
	assert_int_equal(host.n1g, 1);
	expect_odd(G1, PA0, want->npt ? 3 : 2, PMAP_VISIBLE);
}

static void test_caps_ept_without_2m_1g_visible_is_4k(void **state)
{
	recreate_with_ept_caps_missing(EPT_CAP_1G | EPT_CAP_2M);
	assert_int_equal(pmap_map(&pm, G1, PA0, 2 * M2, PMAP_VISIBLE), 0);
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, 2 * M2, 0), 0);
	assert_int_equal(tl_count(&pm, G1, 2 * M2).n4k, want->npt ? 0 : 1024);
	assert_int_equal(tl_count(&pm, G1, 2 * M2).n2m, want->npt ? 2 : 0);
	assert_int_equal(tl_count(&pm, 2 * G1, 2 * M2).n2m, 2);
}

static void test_caps_without_vmx_only_cpu_limits(void **state)
{
	cpu_features.vmx = false;
	cpu_features.ept_vpid_cap = 0;
	recreate();
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, PMAP_VISIBLE), 0);
	assert_int_equal(tl_count(&pm, G1, G1).n1g, 1);
}

/* The rule: guest-visible implies guest-executable, whatever the VMM's own NX. */
static void test_visible_leaf_is_guest_executable_whatever_nx(void **state)
{
	unsigned l;
	opte_t before;

	assert_int_equal(pmap_map(&pm, G1, PA0, K4, PMAP_W | PMAP_VISIBLE), 0);
	assert_true(*tl_find(&pm, G1, &l) & KPTE_NX); /* the VMM cannot execute it */
	expect_odd(G1, PA0, 1, PMAP_W | PMAP_VISIBLE); /* the guest can */
	before = *kpte_to_odd(tl_find(&pm, G1, &l));
	assert_int_equal(pmap_protect(&pm, G1, K4, PMAP_W | PMAP_X), 0);
	assert_false(*tl_find(&pm, G1, &l) & KPTE_NX);
	assert_int_equal(*kpte_to_odd(tl_find(&pm, G1, &l)), before); /* X is the VMM's alone */
	assert_int_equal(pmap_protect(&pm, G1, K4, 0), 0);
	expect_odd(G1, PA0, 1, PMAP_VISIBLE);
	/* an executable page the guest cannot see stays invisible */
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, K4, PMAP_X), 0);
	expect_odd(2 * G1, PA0, 1, 0);
}

static void test_caps_without_nx_everything_executes(void **state)
{
	cpu_features.nx = false;
	recreate();
	assert_int_equal(pmap_map(&pm, G1, PA0, K4, PMAP_VISIBLE), 0);
	unsigned l;
	assert_int_equal(*tl_find(&pm, G1, &l) & KPTE_NX, 0);
	expect_leaf(G1, PA0, K4, PMAP_VISIBLE | PMAP_X);
}

/* ---- unmap, splits, pruning ----------------------------------------------------------------- */

struct collected {
	u64 n, bytes, dirty;
	struct pmap_leaf last;
};

static int collect(void *arg, const struct pmap_leaf *leaf)
{
	struct collected *c = arg;

	c->n++;
	c->bytes += leaf->size;
	c->dirty += !!(leaf->flags & PMAP_DIRTY);
	c->last = *leaf;
	return 0;
}

static void test_unmap_whole_leaves_frees_all_pairs(void **state)
{
	u64 frames = pmem_free_frames();
	struct collected c = { 0 };

	assert_int_equal(pmap_map(&pm, G1 - K4, PA0 + G1 - K4, G1 + M2 + 2 * K4, RWXV), 0);
	assert_int_equal(pmap_unmap(&pm, G1 - K4, G1 + M2 + 2 * K4, collect, &c), 0);
	assert_int_equal(c.bytes, G1 + M2 + 2 * K4);
	assert_int_equal(c.n, 4);
	assert_int_equal(pm.nr_pairs, 1);
	assert_int_equal(pmem_free_frames(), frames);
}

static void test_unmap_4k_in_1g_splits_two_levels(void **state)
{
	struct collected c = { 0 };

	assert_int_equal(pmap_map(&pm, G1, PA0, G1, RWXV), 0);
	assert_int_equal(pmap_unmap(&pm, G1 + 5 * M2 + 7 * K4, K4, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.last.pa, PA0 + 5 * M2 + 7 * K4);
	assert_int_equal(c.last.size, K4);
	struct tl_sizes s = tl_count(&pm, G1, G1);
	assert_int_equal(s.n1g, 0);
	assert_int_equal(s.n2m, 511);
	assert_int_equal(s.n4k, 511);
	assert_int_equal(pm.nr_pairs, 4);
	assert_int_equal(pm.nr_splits, 2);
	expect_leaf(G1 + 5 * M2 + 8 * K4, PA0 + 5 * M2 + 8 * K4, K4, RWXV);
	expect_leaf(G1 + 6 * M2, PA0 + 6 * M2, M2, RWXV);
	expect_odd(G1 + 5 * M2 + 8 * K4, PA0 + 5 * M2 + 8 * K4, 1, RWXV);
	expect_odd(G1 + 6 * M2, PA0 + 6 * M2, 2, RWXV);
	assert_int_equal(pmap_lookup(&pm, G1 + 5 * M2 + 7 * K4, &c.last), -ENOENT);
}

static void test_unmap_2m_in_1g_splits_one_level(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, 0), 0);
	assert_int_equal(pmap_unmap(&pm, G1 + M2, M2, NULL, NULL), 0);
	assert_int_equal(tl_count(&pm, G1, G1).n2m, 511);
	assert_int_equal(pm.nr_splits, 1);
	assert_int_equal(pm.nr_pairs, 3);
}

static void test_unmap_4k_in_2m_splits_one_level(void **state)
{
	assert_int_equal(pmap_map(&pm, M2, PA0, M2, PMAP_W), 0);
	assert_int_equal(pmap_unmap(&pm, M2 + M2 - K4, K4, NULL, NULL), 0);
	assert_int_equal(tl_count(&pm, M2, M2).n4k, 511);
	assert_int_equal(pm.nr_splits, 1);
}

static void test_unmap_range_cutting_both_ends(void **state)
{
	/* both ends of the range cut 2M leaves inside one 1G leaf: 1 + 2 splits */
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, 0), 0);
	assert_int_equal(pmap_unmap(&pm, G1 + K4, G1 - 2 * K4, NULL, NULL), 0);
	struct tl_sizes s = tl_count(&pm, G1, G1);
	assert_int_equal(s.n4k, 2);
	assert_int_equal(s.n2m + s.n1g, 0);
	assert_int_equal(pm.nr_splits, 3);
	assert_int_equal(pm.nr_pairs, 5);
}

static void test_unmap_holes_are_fine(void **state)
{
	assert_int_equal(pmap_unmap(&pm, 0, USER_TOP, NULL, NULL), 0);
	assert_int_equal(pmap_map(&pm, 7 * G1, PA0, K4, 0), 0);
	assert_int_equal(pmap_unmap(&pm, 0, USER_TOP, NULL, NULL), 0);
	assert_int_equal(pm.nr_pairs, 1);
}

static void test_unmap_reports_dirty_from_either_half(void **state)
{
	struct collected c = { 0 };
	unsigned l;

	assert_int_equal(pmap_map(&pm, G1, PA0, 3 * K4, RWXV), 0);
	*kpte_to_odd(tl_find(&pm, G1, &l)) |= GUEST_AD; /* the guest wrote */
	*tl_find(&pm, G1 + K4, &l) |= KPTE_D | KPTE_A; /* the host wrote */
	assert_int_equal(pmap_unmap(&pm, G1, 3 * K4, collect, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.dirty, 2);
}

/* ---- protect ----------------------------------------------------------------------------- */

static void test_protect_whole_leaf_keeps_size(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, RWXV), 0);
	assert_int_equal(pmap_protect(&pm, G1, G1, 0), 0);
	expect_leaf(G1, PA0, G1, PMAP_VISIBLE);
	expect_odd(G1, PA0, 3, PMAP_VISIBLE);
	assert_int_equal(pm.nr_splits, 0);
}

static void test_protect_splits_at_each_level(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, RWXV), 0);
	assert_int_equal(pmap_protect(&pm, G1 + M2, M2, PMAP_X), 0); /* 1G -> 2M */
	assert_int_equal(pm.nr_splits, 1);
	expect_leaf(G1 + M2, PA0 + M2, M2, PMAP_X | PMAP_VISIBLE);
	expect_leaf(G1, PA0, M2, RWXV);
	assert_int_equal(pmap_protect(&pm, G1 + 4 * M2 + K4, K4, PMAP_W), 0); /* 2M -> 4K */
	assert_int_equal(pm.nr_splits, 2);
	expect_leaf(G1 + 4 * M2 + K4, PA0 + 4 * M2 + K4, K4, PMAP_W | PMAP_VISIBLE);
	expect_odd(G1 + 4 * M2 + K4, PA0 + 4 * M2 + K4, 1, PMAP_W | PMAP_VISIBLE);
	expect_leaf(G1 + 4 * M2, PA0 + 4 * M2, K4, RWXV);
}

static void test_protect_same_prot_does_not_split(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, PMAP_W), 0);
	assert_int_equal(pmap_protect(&pm, G1 + K4, K4, PMAP_W), 0);
	assert_int_equal(pm.nr_splits, 0);
	assert_int_equal(pm.nr_pairs, 2);
}

/*
 * PMAP_NONE (mprotect PROT_NONE): the leaf and its frame stay, U clear, the odd entry 0; a
 * protect with rights gives the same frame back, odd entry restored. A cut jumbo splits.
 */
static void test_protect_none_keeps_the_frame_and_empties_the_odd_entry(void **state)
{
	unsigned l;

	assert_int_equal(pmap_map(&pm, G1, PA0, M2, RWXV), 0);
	assert_int_equal(pmap_protect(&pm, G1 + K4, K4, PMAP_NONE), 0);
	assert_int_equal(pm.nr_splits, 1);
	expect_leaf(G1 + K4, PA0 + K4, K4, PMAP_NONE);
	assert_int_equal(*tl_find(&pm, G1 + K4, &l) & KPTE_U, 0);
	assert_int_equal(*kpte_to_odd(tl_find(&pm, G1 + K4, &l)), 0);
	expect_leaf(G1, PA0, K4, RWXV);
	expect_odd(G1, PA0, 1, RWXV);
	assert_int_equal(pmap_protect(&pm, G1 + K4, K4, PMAP_W), 0);
	expect_leaf(G1 + K4, PA0 + K4, K4, PMAP_W | PMAP_VISIBLE);
	expect_odd(G1 + K4, PA0 + K4, 1, PMAP_W | PMAP_VISIBLE);
	/* PMAP_NONE means no right at all: with W or X it is a contradiction. */
	assert_int_equal(pmap_protect(&pm, G1, K4, PMAP_NONE | PMAP_W), -EINVAL);
	expect_leaf(G1, PA0, K4, RWXV);
}

static void test_protect_keeps_ad_bits(void **state)
{
	unsigned l;
	struct pmap_leaf leaf;

	assert_int_equal(pmap_map(&pm, G1, PA0, K4, RWXV), 0);
	*kpte_to_odd(tl_find(&pm, G1, &l)) |= GUEST_AD;
	assert_int_equal(pmap_protect(&pm, G1, K4, 0), 0);
	assert_int_equal(pmap_lookup(&pm, G1, &leaf), 0);
	assert_int_equal(leaf.flags, PMAP_VISIBLE | PMAP_ACCESSED | PMAP_DIRTY);
}

/* ---- A/D ---------------------------------------------------------------------------------- */

static void test_clear_ad_ors_halves_and_clears_both(void **state)
{
	unsigned l;
	struct collected c = { 0 };
	struct pmap_leaf leaf;

	assert_int_equal(pmap_map(&pm, G1, PA0, M2, RWXV), 0);
	kpte_t *kp = tl_find(&pm, G1, &l);
	*kp |= KPTE_A;
	*kpte_to_odd(kp) |= GUEST_AD;
	assert_int_equal(pmap_clear_ad(&pm, G1, M2, PMAP_DIRTY, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.dirty, 1);
	assert_int_equal(pmap_lookup(&pm, G1, &leaf), 0);
	assert_int_equal(leaf.flags & PMAP_AD, PMAP_ACCESSED); /* A kept, D cleared */
	assert_int_equal(*kpte_to_odd(kp) & GUEST_D, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(pmap_clear_ad(&pm, G1, M2, PMAP_AD, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(*kp & KPTE_AD, 0);
	assert_int_equal(*kpte_to_odd(kp) & GUEST_AD, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(pmap_clear_ad(&pm, G1, M2, PMAP_AD, collect, &c), 0);
	assert_int_equal(c.n, 0);
}

static void test_split_copies_ad_to_children(void **state)
{
	unsigned l;
	struct pmap_leaf leaf;

	assert_int_equal(pmap_map(&pm, G1, PA0, M2, RWXV), 0);
	*kpte_to_odd(tl_find(&pm, G1, &l)) |= GUEST_AD;
	assert_int_equal(pmap_unmap(&pm, G1, K4, NULL, NULL), 0);
	assert_int_equal(pmap_lookup(&pm, G1 + 100 * K4, &leaf), 0);
	assert_int_equal(leaf.flags & PMAP_AD, PMAP_AD);
}

/* ---- lookup, iterate ---------------------------------------------------------------------- */

static int stop_at_third(void *arg, const struct pmap_leaf *leaf)
{
	return ++*(int *)arg == 3 ? 42 : 0;
}

static void test_iterate_in_order_and_stops(void **state)
{
	int n = 0;
	struct collected c = { 0 };

	assert_int_equal(pmap_map(&pm, 0, PA0, 8 * K4, 0), 0);
	assert_int_equal(pmap_iterate(&pm, 0, USER_TOP, stop_at_third, &n), 42);
	assert_int_equal(n, 3);
	assert_int_equal(pmap_iterate(&pm, 3 * K4, 2 * K4, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.last.va, 4 * K4);
}

static void test_lookup_unmapped_is_enoent(void **state)
{
	struct pmap_leaf l;

	assert_int_equal(pmap_lookup(&pm, 0, &l), -ENOENT);
	assert_int_equal(pmap_lookup(&pm, USER_TOP, &l), -ENOENT);
	assert_int_equal(pmap_lookup(&pm, 0xffffffff80000000ULL, &l), -ENOENT);
}

/* ---- boundaries and rejected arguments ---------------------------------------------------- */

static void test_boundary_zero_and_last_user_page(void **state)
{
	assert_int_equal(pmap_map(&pm, 0, PA0, K4, PMAP_W), 0);
	assert_int_equal(pmap_map(&pm, USER_TOP - K4, PA0 + K4, K4, PMAP_W), 0);
	expect_leaf(0, PA0, K4, PMAP_W);
	expect_leaf(USER_TOP - 1, PA0 + K4, K4, PMAP_W);
	assert_int_equal(pmap_map(&pm, USER_TOP - G1, PA0, G1 - K4, 0), 0);
	assert_int_equal(pmap_unmap(&pm, USER_TOP - G1, G1, NULL, NULL), 0);
	assert_int_equal(pmap_unmap(&pm, 0, K4, NULL, NULL), 0);
	assert_int_equal(pm.nr_pairs, 1);
}

static void test_rejects_canonical_hole_and_out_of_range(void **state)
{
	assert_int_equal(pmap_map(&pm, USER_TOP, PA0, K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, USER_TOP - K4, PA0, 2 * K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0xffff800000000000ULL, PA0, K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0x0000900000000000ULL, PA0, K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, K4, PA0, ~0ULL - K4 + 1, 0), -EINVAL); /* wraps */
	assert_int_equal(pmap_unmap(&pm, USER_TOP, K4, NULL, NULL), -EINVAL);
	assert_int_equal(pmap_unmap(&pm, K4, ~0ULL & PAGE_MASK, NULL, NULL), -EINVAL);
	assert_int_equal(pmap_protect(&pm, USER_TOP - K4, 2 * K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0, BIT(52) - K4, 2 * K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0, BIT(52), K4, 0), -EINVAL);
	assert_int_equal(pm.nr_pairs, 1);
}

static void test_rejects_misaligned_and_empty(void **state)
{
	assert_int_equal(pmap_map(&pm, 1, PA0, K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0, PA0 + 8, K4, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0, PA0, K4 + 1, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0, PA0, 0, 0), -EINVAL);
	assert_int_equal(pmap_map(&pm, 0, PA0, K4, BIT(20)), -EINVAL);
	assert_int_equal(pmap_unmap(&pm, 0x800, K4, NULL, NULL), -EINVAL);
	assert_int_equal(pmap_unmap(&pm, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(pmap_protect(&pm, 0, K4, PMAP_VISIBLE), -EINVAL);
	assert_int_equal(pmap_clear_ad(&pm, 0, K4, 0, NULL, NULL), -EINVAL);
	assert_int_equal(pmap_iterate(&pm, 3, K4, collect, NULL), -EINVAL);
	assert_int_equal(pm.nr_pairs, 1);
}

static void test_overlap_is_eexist_and_changes_nothing(void **state)
{
	struct tl_dump before, after;

	assert_int_equal(pmap_map(&pm, G1, PA0, M2, 0), 0); /* a 2M leaf */
	assert_int_equal(pmap_map(&pm, 2 * G1 + K4, PA0, K4, 0), 0); /* a 4K leaf */
	tl_dump(&pm, &before);
	assert_int_equal(pmap_map(&pm, G1 + K4, PA0, K4, 0), -EEXIST); /* inside the 2M */
	assert_int_equal(pmap_map(&pm, G1 - M2, PA0, 2 * M2, 0), -EEXIST); /* tail overlaps */
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, G1, 0), -EEXIST); /* over the 4K's table */
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, M2, 0), -EEXIST);
	/* a 1G leaf at 0 is written, then [1G, 1G + 4K) collides with the 2M: all undone */
	assert_int_equal(pmap_map(&pm, 0, PA0, G1 + K4, PMAP_W), -EEXIST);
	tl_dump(&pm, &after);
	assert_true(tl_dump_equal(&before, &after));
	tl_dump_free(&before);
	tl_dump_free(&after);
}

/* ---- out of memory at every allocation point ----------------------------------------------- */

/* Runs @op with the n-th allocation failing, n = 1, 2, ... until it succeeds. */
static void oom_every_point(int (*op)(void), unsigned min_points)
{
	unsigned n;
	int r;

	for (n = 1;; n++) {
		struct tl_dump before, after;

		tl_dump(&pm, &before);
		shim_fail_nth(n);
		r = op();
		shim_fail_nth(0);
		if (r == 0) {
			tl_dump_free(&before);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		tl_dump(&pm, &after);
		if (!tl_dump_equal(&before, &after))
			fail_msg("allocation %u failed: tables changed", n);
		tl_dump_free(&before);
		tl_dump_free(&after);
		tl_check(&pm);
	}
	assert_true(n - 1 >= min_points);
}

static int big_map(void)
{
	/* crosses a PML4 slot; needs PDPTs, PDs and PTs at both ends */
	u64 va = (1ULL << 39) - G1 - M2 - 3 * K4;

	return pmap_map(&pm, va, PA0 + va, 2 * G1 + 2 * M2 + 6 * K4, PMAP_W | PMAP_VISIBLE);
}

static void test_oom_map_leaves_tables_unchanged(void **state)
{
	assert_int_equal(pmap_map(&pm, (1ULL << 39) - 3 * G1, PA0, K4, 0), 0); /* shared PDPT */
	oom_every_point(big_map, 5);
	tl_check(&pm);
}

static int cut_unmap(void)
{
	return pmap_unmap(&pm, G1 + M2 + K4, G1 - 2 * M2, NULL, NULL);
}

static int cut_protect(void)
{
	return pmap_protect(&pm, G1 + M2 + K4, G1 - 2 * M2, PMAP_X);
}

static void test_oom_unmap_split_leaves_tables_unchanged(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, 2 * G1, PMAP_W), 0);
	oom_every_point(cut_unmap, 3);
}

static void test_oom_protect_split_leaves_tables_unchanged(void **state)
{
	assert_int_equal(pmap_map(&pm, G1, PA0, 2 * G1, PMAP_W), 0);
	oom_every_point(cut_protect, 3);
}

static u64 map_page_va;
static u64 map_page_size;

static int one_page(void)
{
	return pmap_map_page(&pm, map_page_va, PA0, map_page_size, RWXV);
}

static void test_oom_map_page_leaves_tables_unchanged(void **state)
{
	/* a fresh PML4 slot: a 4K page needs 3 pairs, a 2M page 2, a 1G page 1 */
	static const u64 sizes[] = { K4, M2, G1 };
	static const u64 pairs_after[] = { 4, 6, 7 };

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		map_page_va = ALIGN_DOWN(((u64)(i + 1) << 39) + 3 * G1 + 5 * M2 + 7 * K4, sizes[i]);
		map_page_size = sizes[i];
		oom_every_point(one_page, 3 - i);
		assert_int_equal(pm.nr_pairs, pairs_after[i]);
	}
	/* an existing PDPT: the 4K page needs a PD and a PT */
	map_page_va = (1ULL << 39) + 7 * G1;
	map_page_size = K4;
	oom_every_point(one_page, 2);
	tl_check(&pm);
}

static void test_oom_create(void **state)
{
	struct pmap p2;

	shim_fail_nth(1);
	assert_int_equal(pmap_create(&p2), -ENOMEM);
	shim_fail_nth(0);
}

/* ---- TLB ---------------------------------------------------------------------------------- */

static void test_tlb_flush_once_per_operation(void **state)
{
	pmap_activate(&pm);
	assert_int_equal(shim.last_cr3, pm.root);
	shim_tlb_reset();
	assert_int_equal(pmap_map(&pm, G1, PA0, 64 * K4, 0), 0);
	assert_int_equal(shim.invlpg + shim.flush_all + shim.invept, 0); /* map: none */
	assert_int_equal(pmap_unmap(&pm, G1, 4 * K4, NULL, NULL), 0);
	assert_int_equal(shim.invlpg, 4);
	assert_int_equal(shim.flush_all, 0);
	shim_tlb_reset();
	assert_int_equal(pmap_unmap(&pm, G1, 64 * K4, NULL, NULL), 0); /* many: one full flush */
	assert_int_equal(shim.flush_all, 1);
	assert_int_equal(shim.invept, 0);
	pmap_activate(NULL);
	shim_tlb_reset();
	assert_int_equal(pmap_map(&pm, G1, PA0, K4, 0), 0);
	assert_int_equal(pmap_protect(&pm, G1, K4, PMAP_W), 0);
	assert_int_equal(shim.invlpg + shim.flush_all, 0); /* not in CR3: nothing */
}

/* Runs pmap_activate(@p) as CPU @cpu would. */
static void activate_on(unsigned cpu, struct pmap *p)
{
	unsigned self = shim.cpu;

	shim.cpu = cpu;
	pmap_activate(p);
	shim.cpu = self;
}

/*
 * SMP: a change that takes a right away reaches, by one IPI, the other CPUs that have the pmap
 * loaded (host side) or entered its guest since their last flush (guest side), and no others;
 * a CPU that switched away is no target; each guest flush empties the guest mask.
 */
static void test_tlb_shootdown_reaches_other_cpus(void **state)
{
	activate_on(1, &pm);
	activate_on(2, &pm);
	assert_int_equal(cpumask_weight(&pm.loaded), 2);
	assert_int_equal(pmap_map(&pm, G1, PA0, 8 * K4, PMAP_W | PMAP_VISIBLE), 0);
	shim_tlb_reset();
	shim.shootdown_ipis = 0;
	assert_int_equal(pmap_protect(&pm, G1, K4, 0), 0);
	assert_int_equal(shim.shootdown_ipis, 1);
	assert_int_equal(shim.invlpg, 2); /* CPUs 1 and 2; CPU 0 does not have it loaded */
	activate_on(2, NULL);
	assert_int_equal(cpumask_weight(&pm.loaded), 1);
	shim_tlb_reset();
	assert_int_equal(pmap_unmap(&pm, G1, K4, NULL, NULL), 0);
	assert_int_equal(shim.invlpg, 1);
	assert_int_equal(shim.shootdown_ipis, 2);

	/* the guest side: CPU 3 ran a vCPU of it (VMX on there) */
	shim.cpu = 3;
	pmap_vmx_operation(!want->npt);
	shim.cpu = 0;
	pmap_guest_root(&pm);
	pmap_guest_enter(&pm, 3);
	shim_tlb_reset();
	assert_int_equal(pmap_protect(&pm, G1 + K4, K4, 0), 0);
	assert_int_equal(shim.shootdown_ipis, 3);
	assert_int_equal(shim.invlpg, 1); /* CPU 1 */
	/* CPU 0 (VMX on here in EPT format) and CPU 3 */
	assert_int_equal(shim.invept, want->npt ? 0 : 2);
	assert_int_equal(cpumask_weight(&pm.guest_cpus), 0);
	shim_tlb_reset();
	assert_int_equal(pmap_protect(&pm, G1 + 2 * K4, K4, 0), 0);
	assert_int_equal(shim.invept, want->npt ? 0 : 1); /* CPU 3 has not entered since */
	assert_int_equal(shim.shootdown_ipis, 4); /* CPU 1's host side */
	activate_on(1, NULL);
	shim_tlb_reset();
	assert_int_equal(pmap_protect(&pm, G1 + 3 * K4, K4, 0), 0);
	assert_int_equal(shim.shootdown_ipis, 4); /* nobody else: no IPI */
	shim.cpu = 3;
	pmap_vmx_operation(false);
	shim.cpu = 0;
	pmap_guest_detach(&pm);
}

static void test_tlb_eptp_is_guest_root_wb_4level_ad(void **state)
{
	if (want->npt) {
		assert_int_equal(pmap_guest_root(&pm), pm.root + 4096); /* nCR3 */
		return;
	}
	u64 eptp = pmap_eptp(&pm);

	assert_int_equal(eptp, (pm.root + 4096) | 6 | (3 << 3) | BIT(6));
	assert_int_equal(pmap_guest_root(&pm), pm.root + 4096);
	cpu_features.ept_vpid_cap &= ~EPT_CAP_AD;
	assert_int_equal(pmap_eptp(&pm) & BIT(6), 0);
}

/*
 * Expects the guest's flush count to have grown by @n since the last call: the generation
 * bumps in both formats, INVEPT (with this pmap's EPTP) in EPT format while VMX is on.
 */
static u64 gen_seen, invept_seen;
static void expect_guest_flushes(u64 n, bool vmx_on, const char *what)
{
	u64 gen = pmap_guest_tlb_gen(&pm);
	u64 invept = (!want->npt && vmx_on) ? n : 0;

	if (gen - gen_seen != n || shim.invept - invept_seen != invept)
		fail_msg("%s: %llu generation bumps and %llu INVEPT, expected %llu and %llu", what,
			 (unsigned long long)(gen - gen_seen),
			 (unsigned long long)(shim.invept - invept_seen), (unsigned long long)n,
			 (unsigned long long)invept);
	if (invept)
		assert_int_equal(shim.last_eptp & PAGE_MASK, pm.root + 4096);
	gen_seen = gen;
	invept_seen = shim.invept;
}

static int ignore_leaf(void *arg, const struct pmap_leaf *leaf)
{
	return 0;
}

/* Taking a right away flushes the guest's TLB; giving one does not. */
static void guest_flush_rules(bool vmx_on)
{
	unsigned l;

	pmap_vmx_operation(vmx_on);
	shim_tlb_reset();
	assert_int_equal(pmap_map(&pm, G1, PA0, 64 * K4, PMAP_VISIBLE), 0);
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, 2 * K4, PMAP_W), 0);
	/* not attached yet: nothing for the guest */
	assert_int_equal(pmap_unmap(&pm, G1 + 63 * K4, K4, NULL, NULL), 0);
	gen_seen = 0;
	invept_seen = 0;
	expect_guest_flushes(0, vmx_on, "changes before attaching");
	pmap_guest_root(&pm);
	invept_seen = shim.invept; /* attaching may INVEPT once: the old context's leftovers */
	assert_int_equal(shim.invept, (!want->npt && vmx_on) ? 1 : 0);
	assert_int_equal(pmap_map(&pm, G1 + 64 * K4, PA0, K4, PMAP_VISIBLE), 0);
	expect_guest_flushes(0, vmx_on, "map");
	assert_int_equal(pmap_protect(&pm, G1, 4 * K4, PMAP_W), 0);
	expect_guest_flushes(0, vmx_on, "protect adding W");
	assert_int_equal(pmap_protect(&pm, G1, 4 * K4, PMAP_W | PMAP_X), 0);
	expect_guest_flushes(0, vmx_on, "protect adding the VMM's X");
	assert_int_equal(pmap_protect(&pm, G1, 4 * K4, PMAP_X), 0);
	expect_guest_flushes(1, vmx_on, "protect taking W");
	assert_int_equal(pmap_unmap(&pm, 2 * G1, K4, NULL, NULL), 0);
	expect_guest_flushes(0, vmx_on, "unmap of an invisible page");
	assert_int_equal(pmap_unmap(&pm, G1, 2 * K4, NULL, NULL), 0);
	expect_guest_flushes(1, vmx_on, "unmap");
	*kpte_to_odd(tl_find(&pm, G1 + 5 * K4, &l)) |= GUEST_AD; /* the guest wrote */
	assert_int_equal(pmap_clear_ad(&pm, G1, 64 * K4, PMAP_DIRTY, ignore_leaf, NULL), 0);
	expect_guest_flushes(1, vmx_on, "clear_ad of a guest D bit");
	assert_int_equal(pmap_clear_ad(&pm, G1, 64 * K4, PMAP_DIRTY, NULL, NULL), 0);
	expect_guest_flushes(0, vmx_on, "clear_ad with nothing set");
	pmap_guest_detach(&pm);
	expect_guest_flushes(1, vmx_on, "detach");
	assert_int_equal(pmap_unmap(&pm, G1, 64 * K4, NULL, NULL), 0);
	expect_guest_flushes(0, vmx_on, "unmap after detach");
	pmap_guest_root(&pm);
	invept_seen = shim.invept;
}

static void test_tlb_guest_flush_when_rights_are_taken(void **state)
{
	guest_flush_rules(true);
}

static void test_tlb_no_invept_while_vmx_is_off(void **state)
{
	guest_flush_rules(false);
}

static void test_tlb_destroy_flushes_an_attached_guest(void **state)
{
	struct pmap p2;

	assert_int_equal(pmap_create(&p2), 0);
	pmap_guest_root(&p2);
	shim_tlb_reset();
	pmap_destroy(&p2, NULL, NULL); /* nothing mapped: the last flush is the teardown's own */
	assert_int_equal(shim.invept, want->npt ? 0 : 1);
	assert_int_equal(p2.guest_tlb_gen, 1);
	assert_false(p2.guest_attached);
}

/* ---- the kernel half -------------------------------------------------------------------- */

static void test_kernel_half_copied_never_in_ept(void **state)
{
	static kpte_t master[512] __attribute__((aligned(4096)));
	struct pmap p2;
	struct pmap_check_err e;

	for (unsigned i = 256; i < 512; i++)
		master[i] = (0x100000ULL + i * 0x2000) | KPTE_P | KPTE_W;
	master[511] |= KPTE_U; /* even a (wrongly) user-marked kernel slot stays out of the EPT */
	pmap_kernel_half_init(master, 0x1000);
	assert_int_equal(pmap_create(&p2), 0);
	kpte_t *root = pmem_va(p2.root);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(*kpte_to_odd(&root[i]), 0);
	assert_memory_equal(root + 256, master + 256, 256 * sizeof(kpte_t));
	assert_int_equal(pmap_check(&p2, &e), 0);
	root[300] = 0;
	assert_int_equal(pmap_check(&p2, &e), -EIO);
	assert_string_equal(e.what, "kernel half differs from the master PML4");
	root[300] = master[300];
	*kpte_to_odd(&root[400]) = 0x5000 | want->table;
	assert_int_equal(pmap_check(&p2, &e), -EIO);
	assert_string_equal(e.what, "kernel half linked in the odd half");
	*kpte_to_odd(&root[400]) = 0;
	pmap_activate(&p2);
	pmap_activate(NULL);
	assert_int_equal(shim.last_cr3, 0x1000);
	pmap_destroy(&p2, NULL, NULL);
	pmap_kernel_half_init(NULL, 0);
}

/* ---- the checker catches what it must ------------------------------------------------------ */

static void expect_caught(const char *what)
{
	struct pmap_check_err e = { 0 };

	assert_int_equal(pmap_check(&pm, &e), -EIO);
	assert_string_equal(e.what, what);
}

static void test_checker_catches_broken_odd_entry(void **state)
{
	unsigned l;

	assert_int_equal(pmap_map(&pm, G1, PA0, M2, PMAP_VISIBLE), 0);
	opte_t *ep = kpte_to_odd(tl_find(&pm, G1, &l));
	*ep |= want->w; /* the guest could write what the host maps read-only */
	expect_caught("odd entry is not f(KPTE)");
	*ep &= ~want->w;
	if (want->npt) {
		*ep |= BIT(63); /* NX: the guest could not execute a guest-visible page */
		expect_caught("odd entry is not f(KPTE)");
		*ep &= ~BIT(63);
	} else {
		*ep &= ~BIT(2); /* no X: the same */
		expect_caught("odd entry is not f(KPTE)");
		*ep |= BIT(2);
	}
	*ep |= GUEST_AD; /* A/D set by the walker are fine */
	tl_check(&pm);
	kpte_t *root = pmem_va(pm.root);
	*kpte_to_odd(&root[0]) -= 4096; /* EPT link into the KPT half */
	expect_caught("odd entry is not f(KPTE)");
	*kpte_to_odd(&root[0]) += 4096;
	tl_check(&pm);
}

static void test_checker_catches_bad_kptes(void **state)
{
	unsigned l;

	assert_int_equal(pmap_map(&pm, G1, PA0, K4, 0), 0);
	kpte_t *kp = tl_find(&pm, G1, &l);
	kp[1] = 0x1000; /* not present, not zero */
	expect_caught("non-present KPTE is not zero");
	kp[1] = 0;
	*kp |= BIT(8); /* global */
	expect_caught("stray bits in a leaf KPTE");
	*kp &= ~BIT(8);
	kpte_t *root = pmem_va(pm.root);
	kpte_t saved = root[0];
	root[0] |= KPTE_NX;
	expect_caught("intermediate KPTE is not pa|P|W|U");
	root[0] = saved;
	tl_check(&pm);
}

static void test_checker_catches_disallowed_leaf_level(void **state)
{
	kpte_t *root = pmem_va(pm.root);

	/* a 512 GiB "leaf" at the root (f gives 0 for it: invisible) */
	assert_int_equal(pmap_map(&pm, G1, PA0, G1, 0), 0);
	kpte_t saved = root[0];
	root[0] = KPTE_P | KPTE_U | KPTE_PS;
	*kpte_to_odd(&root[0]) = 0;
	pm.nr_leaves[4]++;
	expect_caught("leaf at a level its format lacks");
	pm.nr_leaves[4]--;
	root[0] = saved;
	*kpte_to_odd(&root[0]) = odd_from_kpte(pm.fmt, saved, 4);
	tl_check(&pm);
}

static void test_checker_catches_empty_table_and_leaks(void **state)
{
	unsigned l;

	assert_int_equal(pmap_map(&pm, G1, PA0, K4, 0), 0);
	kpte_t *kp = tl_find(&pm, G1, &l);
	kpte_t saved = *kp;
	*kp = 0; /* the PT is now empty but linked */
	pm.nr_leaves[1]--;
	expect_caught("empty table left linked");
	*kp = saved;
	pm.nr_leaves[1]++;
	pm.nr_pairs++; /* a pair counted but unreachable */
	pm.pair_sum += 0x10000;
	expect_caught("reachable pairs differ from allocated ones (leak or share)");
	pm.nr_pairs--;
	pm.pair_sum -= 0x10000;
	pm.nr_leaves[2]++;
	expect_caught("leaf count differs from the counters");
	pm.nr_leaves[2]--;
	tl_check(&pm);
}

static void test_checker_catches_shared_pair(void **state)
{
	/* Two PDPT slots pointing at the same PD: one pair reachable twice, one leaked. */
	assert_int_equal(pmap_map(&pm, G1, PA0, K4, 0), 0);
	assert_int_equal(pmap_map(&pm, 2 * G1, PA0, K4, 0), 0);
	kpte_t *pdpt = pmem_va(kpte_table(((kpte_t *)pmem_va(pm.root))[0]));
	kpte_t saved = pdpt[2];
	pdpt[2] = pdpt[1];
	*kpte_to_odd(&pdpt[2]) = *kpte_to_odd(&pdpt[1]);
	expect_caught("reachable pairs differ from allocated ones (leak or share)");
	pdpt[2] = saved;
	*kpte_to_odd(&pdpt[2]) = odd_from_kpte(pm.fmt, saved, 3);
	tl_check(&pm);
}

static void test_checker_catches_unpaired_table(void **state)
{
	unsigned l;

	assert_int_equal(pmap_map(&pm, G1, PA0, K4, 0), 0);
	tl_find(&pm, G1, &l);
	kpte_t *root = pmem_va(pm.root);
	kpte_t saved = root[0];
	root[0] += 4096; /* points at an odd half */
	*kpte_to_odd(&root[0]) = odd_from_kpte(pm.fmt, root[0], 4);
	expect_caught("table is not an 8 KiB-aligned pair");
	root[0] = saved;
	*kpte_to_odd(&root[0]) = odd_from_kpte(pm.fmt, saved, 4);
	tl_check(&pm);
}

/* The whole list, once per format. */
#define TESTS(T)                                                                                   \
	T(test_map_4k_sets_both_halves)                                                            \
	T(test_map_2m_uses_one_pd_leaf)                                                            \
	T(test_map_1g_uses_one_pdpt_leaf)                                                          \
	T(test_map_invisible_leaf_has_zero_odd_entry)                                              \
	T(test_map_picks_largest_page_per_piece)                                                   \
	T(test_map_pa_alignment_limits_page_size)                                                  \
	T(test_map_policy_caps_page_size)                                                          \
	T(test_map_page_each_size_is_one_leaf_in_both_halves)                                      \
	T(test_map_page_matches_map_of_the_same_page)                                              \
	T(test_map_page_over_anything_mapped_is_eexist)                                            \
	T(test_map_page_rejects_bad_arguments)                                                     \
	T(test_map_page_1g_without_cpu_1g_is_einval)                                               \
	T(test_map_page_ept_caps_limit_visible_pages_only)                                         \
	T(test_caps_no_cpu_1g_means_2m)                                                            \
	T(test_caps_ept_without_1g_limits_visible_only)                                            \
	T(test_caps_ept_without_2m_1g_visible_is_4k)                                               \
	T(test_caps_without_vmx_only_cpu_limits)                                                   \
	T(test_visible_leaf_is_guest_executable_whatever_nx)                                       \
	T(test_caps_without_nx_everything_executes)                                                \
	T(test_unmap_whole_leaves_frees_all_pairs)                                                 \
	T(test_unmap_4k_in_1g_splits_two_levels)                                                   \
	T(test_unmap_2m_in_1g_splits_one_level)                                                    \
	T(test_unmap_4k_in_2m_splits_one_level)                                                    \
	T(test_unmap_range_cutting_both_ends)                                                      \
	T(test_unmap_holes_are_fine)                                                               \
	T(test_unmap_reports_dirty_from_either_half)                                               \
	T(test_protect_whole_leaf_keeps_size)                                                      \
	T(test_protect_splits_at_each_level)                                                       \
	T(test_protect_same_prot_does_not_split)                                                   \
	T(test_protect_none_keeps_the_frame_and_empties_the_odd_entry)                             \
	T(test_protect_keeps_ad_bits)                                                              \
	T(test_clear_ad_ors_halves_and_clears_both)                                                \
	T(test_split_copies_ad_to_children)                                                        \
	T(test_iterate_in_order_and_stops)                                                         \
	T(test_lookup_unmapped_is_enoent)                                                          \
	T(test_boundary_zero_and_last_user_page)                                                   \
	T(test_rejects_canonical_hole_and_out_of_range)                                            \
	T(test_rejects_misaligned_and_empty)                                                       \
	T(test_overlap_is_eexist_and_changes_nothing)                                              \
	T(test_oom_map_leaves_tables_unchanged)                                                    \
	T(test_oom_unmap_split_leaves_tables_unchanged)                                            \
	T(test_oom_protect_split_leaves_tables_unchanged)                                          \
	T(test_oom_map_page_leaves_tables_unchanged)                                               \
	T(test_oom_create)                                                                         \
	T(test_tlb_flush_once_per_operation)                                                       \
	T(test_tlb_eptp_is_guest_root_wb_4level_ad)                                                \
	T(test_tlb_shootdown_reaches_other_cpus)                                                   \
	T(test_tlb_guest_flush_when_rights_are_taken)                                              \
	T(test_tlb_no_invept_while_vmx_is_off)                                                     \
	T(test_tlb_destroy_flushes_an_attached_guest)                                              \
	T(test_kernel_half_copied_never_in_ept)                                                    \
	T(test_checker_catches_broken_odd_entry)                                                   \
	T(test_checker_catches_bad_kptes)                                                          \
	T(test_checker_catches_disallowed_leaf_level)                                              \
	T(test_checker_catches_empty_table_and_leaks)                                              \
	T(test_checker_catches_shared_pair)                                                        \
	T(test_checker_catches_unpaired_table)

#define T_EPT(fn) cmocka_unit_test_setup_teardown(fn, setup_ept, teardown),
#define T_NPT(fn) cmocka_unit_test_setup_teardown(fn, setup_npt, teardown),

int main(void)
{
	const struct CMUnitTest ept[] = { TESTS(T_EPT) };
	const struct CMUnitTest npt[] = { TESTS(T_NPT) };
	int failed = cmocka_run_group_tests_name("pmap, odd half in EPT format", ept, NULL, NULL);

	return failed +
	       cmocka_run_group_tests_name("pmap, odd half in NPT format", npt, NULL, NULL);
}
