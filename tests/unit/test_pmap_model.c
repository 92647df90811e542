// SPDX-License-Identifier: MIT
/*
 * The page-table pair against a reference model: random map/unmap/protect (and, now and then,
 * an injected allocation failure) on a pmap and on a flat per-page array, compared leaf by
 * leaf after every batch, with the checker. The pmap serves a guest, and every operation's
 * guest TLB flush is judged against the model: one that takes a right from a guest-visible
 * page must flush, one that touches nothing guest-visible must not. Runs with the odd half in
 * EPT and in NPT format. PMAP_SEED=<n> replays a run; the seed is printed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "test_rng.h"

#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <dyad/errno.h>

#include "pmap_testlib.h"
#include "pmem_shim.h"

#define BATCH 1000
#define PA_BASE 0x100000000000ULL

/*
 * The address windows the operations use: the bottom 2 GiB (address 0 included) and the top
 * 2 GiB of the user half (the last user page included). Each holds 1 GiB-aligned gigabytes so
 * every page size occurs.
 */
#define WIN_SIZE (2 * SZ_1G)
#define WIN_PAGES (WIN_SIZE >> PAGE_SHIFT)
static const u64 win_base[2] = { 0, USER_TOP - WIN_SIZE };

/* The model: per page, 0 or pa | M_P | flags. */
#define M_P 1ULL
#define M_W 2ULL
#define M_X 4ULL
#define M_V 8ULL
static u64 *model[2];

static u64 mflags(u32 f)
{
	return ((f & PMAP_W) ? M_W : 0) | ((f & PMAP_X) ? M_X : 0) | ((f & PMAP_VISIBLE) ? M_V : 0);
}

struct op {
	unsigned win;
	u64 first, npages; /* page index in the window */
};

/* A random range: mostly small, sometimes 2M- or 1G-aligned and long. */
static struct op rnd_range(void)
{
	struct op o = { .win = rnd_below(4) == 0 };
	u64 kind = rnd_below(100), align, len;

	if (kind < 55) {
		align = 1;
		len = 1 + rnd_below(16);
	} else if (kind < 85) {
		align = rnd_below(2) ? 512 : 1;
		len = 1 + rnd_below(3 * 512);
	} else if (kind < 98) {
		align = 512;
		len = 512 * (1 + rnd_below(40)) + (rnd_below(3) ? 0 : rnd_below(512));
	} else {
		align = rnd_below(3) ? 512 * 512 : 512;
		len = rnd_below(2) ? 512 * 512 : 512 * 512 + 512 * rnd_below(600);
	}
	/* small ranges stay in the lower gigabyte of a window, so the upper one holds 1G leaves */
	o.first = ALIGN_DOWN(rnd_below(kind < 85 ? WIN_PAGES / 2 : WIN_PAGES), align);
	if (rnd_below(8) == 0) /* hug a window edge: address 0 or the last user page */
		o.first = o.win ? WIN_PAGES - MIN(len, WIN_PAGES) : 0;
	o.npages = MIN(len, WIN_PAGES - o.first);
	return o;
}

static u64 va_of(const struct op *o)
{
	return win_base[o->win] + (o->first << PAGE_SHIFT);
}

static bool any_mapped(const struct op *o)
{
	for (u64 i = 0; i < o->npages; i++)
		if (model[o->win][o->first + i])
			return true;
	return false;
}

/* True when some page of the range is mapped with all the model bits in @bits. */
static bool any_with(const struct op *o, u64 bits)
{
	for (u64 i = 0; i < o->npages; i++)
		if ((model[o->win][o->first + i] & bits) == bits)
			return true;
	return false;
}

/*
 * Judges one operation's guest flush (a bump of the pmap's guest TLB generation): @must says
 * a guest-visible right was taken, @may that the operation touched something the odd half
 * holds (a guest-visible page, or for unmap any page: emptied tables leave the odd half too).
 */
static void expect_guest_flush(struct pmap *pm, u64 gen_before, bool must, bool may, const char *op,
			       u64 max)
{
	u64 bumps = pmap_guest_tlb_gen(pm) - gen_before;

	if (bumps > max || (must && !bumps) || (!may && bumps))
		fail_msg("%s: %llu guest flushes (must %d, may %d)", op, (unsigned long long)bumps,
			 must, may);
}

struct unmap_seen {
	const struct op *o;
	u64 pages;
	u64 leaves;
	struct pmap *pm;
	u64 gen; /* the guest generation before the unmap */
};

/* Leaves an unmap reports per shootdown (arch/x86/pmap.c's FLUSH_LEAVES). */
#define LEAVES_PER_SHOOTDOWN 64

/* Each reported leaf must be what the model holds there. */
static int unmap_cb(void *arg, const struct pmap_leaf *leaf)
{
	struct unmap_seen *s = arg;
	u64 first = (leaf->va - win_base[s->o->win]) >> PAGE_SHIFT;

	assert_true(first >= s->o->first &&
		    first + (leaf->size >> PAGE_SHIFT) <= s->o->first + s->o->npages);
	for (u64 i = 0; i < leaf->size >> PAGE_SHIFT; i++) {
		u64 m = model[s->o->win][first + i];

		assert_int_equal(m & PAGE_MASK, leaf->pa + (i << PAGE_SHIFT));
		assert_int_equal(m & 15, M_P | mflags(leaf->flags));
		s->pages++;
	}
	/* Reported only after the shootdown: a guest-visible leaf's guest flush came first. */
	if (leaf->flags & PMAP_VISIBLE)
		assert_true(pmap_guest_tlb_gen(s->pm) > s->gen);
	s->leaves++;
	return 0;
}

struct cmp_state {
	unsigned win;
	u64 pages;
};

static int compare_cb(void *arg, const struct pmap_leaf *leaf)
{
	struct cmp_state *c = arg;
	u64 first = (leaf->va - win_base[c->win]) >> PAGE_SHIFT;

	for (u64 i = 0; i < leaf->size >> PAGE_SHIFT; i++) {
		u64 m = model[c->win][first + i];

		if ((m & PAGE_MASK) != leaf->pa + (i << PAGE_SHIFT) ||
		    (m & 15) != (M_P | mflags(leaf->flags)))
			fail_msg("va %#llx: pmap has pa %#llx flags %#x, model has %#llx",
				 (unsigned long long)(leaf->va + (i << PAGE_SHIFT)),
				 (unsigned long long)(leaf->pa + (i << PAGE_SHIFT)), leaf->flags,
				 (unsigned long long)m);
		c->pages++;
	}
	return 0;
}

static void compare_all(struct pmap *pm)
{
	tl_check(pm);
	for (unsigned w = 0; w < 2; w++) {
		struct cmp_state c = { .win = w };
		u64 want = 0;

		assert_int_equal(pmap_iterate(pm, win_base[w], WIN_SIZE, compare_cb, &c), 0);
		for (u64 i = 0; i < WIN_PAGES; i++)
			want += !!model[w][i];
		if (c.pages != want)
			fail_msg("window %u: pmap maps %llu pages, model %llu", w,
				 (unsigned long long)c.pages, (unsigned long long)want);
	}
}

static void one_op(struct pmap *pm, u64 *counts)
{
	struct op o = rnd_range();
	u64 va = va_of(&o), len = o.npages << PAGE_SHIFT;
	bool inject = rnd_below(100) == 0;
	u64 kind = rnd_below(100);
	u64 gen = pmap_guest_tlb_gen(pm);
	int r;

	if (inject)
		shim_fail_nth(1 + rnd_below(3));
	if (kind < 45) {
		u32 flags = rnd_below(16) & (PMAP_W | PMAP_X | PMAP_VISIBLE);
		u64 pa = rnd_below(3) ? PA_BASE + rnd_below(64) * SZ_1G + (va & (SZ_1G - 1))
				      : PA_BASE + (rnd_below(1ULL << 24) << PAGE_SHIFT);
		bool busy = any_mapped(&o);

		if (rnd_below(10) == 0)
			flags |= rnd_below(2) ? PMAP_MAX_2M : PMAP_MAX_4K;
		r = pmap_map(pm, va, pa, len, flags);
		if (r == 0) {
			assert_false(busy);
			for (u64 i = 0; i < o.npages; i++)
				model[o.win][o.first + i] = (pa + (i << PAGE_SHIFT)) | M_P |
							    mflags(flags);
		} else if (r != -ENOMEM || !inject) {
			assert_int_equal(r, busy ? -EEXIST : 0);
		}
		/* a failed map rolls back what it wrote, which a guest may have seen */
		expect_guest_flush(pm, gen, false, r != 0, "map", 1);
		counts[0]++;
	} else if (kind < 75) {
		struct unmap_seen s = { .o = &o, .pm = pm, .gen = gen };
		u64 want = 0;

		for (u64 i = 0; i < o.npages; i++)
			want += !!model[o.win][o.first + i];
		r = pmap_unmap(pm, va, len, unmap_cb, &s);
		/* one shootdown per batch of leaves, the last one also for emptied tables */
		expect_guest_flush(pm, gen, r == 0 && any_with(&o, M_P | M_V), any_mapped(&o),
				   "unmap", 1 + s.leaves / LEAVES_PER_SHOOTDOWN);
		if (r == 0) {
			assert_int_equal(s.pages, want);
			memset(&model[o.win][o.first], 0, o.npages * sizeof(u64));
		} else {
			assert_true(inject && r == -ENOMEM && s.pages == 0);
		}
		counts[1]++;
	} else if (kind < 95) {
		u32 prot = rnd_below(4) & PMAP_PROT;

		r = pmap_protect(pm, va, len, prot);
		expect_guest_flush(pm, gen, r == 0 && !(prot & PMAP_W) && any_with(&o, M_V | M_W),
				   any_with(&o, M_P | M_V), "protect", 1);
		if (r == 0) {
			for (u64 i = 0; i < o.npages; i++) {
				u64 *m = &model[o.win][o.first + i];

				if (*m)
					*m = (*m & ~(M_W | M_X)) | mflags(prot);
			}
		} else {
			assert_true(inject && r == -ENOMEM);
		}
		counts[2]++;
	} else {
		struct pmap_leaf leaf;
		u64 m = model[o.win][o.first];

		r = pmap_lookup(pm, va, &leaf);
		assert_int_equal(r, m ? 0 : -ENOENT);
		if (m)
			assert_int_equal(leaf.pa + (va - leaf.va), m & PAGE_MASK);
		counts[3]++;
	}
	shim_fail_nth(0);
}

/* Runs @nops random operations under the current cpu_features, the pmap serving a guest. */
static void run_model(u64 nops, bool expect_1g, const char *format)
{
	struct pmap pm;
	u64 counts[4] = { 0 };
	struct tl_sizes sizes = { 0 };

	shim_reset();
	for (unsigned w = 0; w < 2; w++) {
		model[w] = calloc(WIN_PAGES, sizeof(u64));
		assert_non_null(model[w]);
	}
	pmap_kernel_half_init(NULL, 0);
	assert_int_equal(pmap_create(&pm), 0);
	assert_string_equal(pm.fmt->name, format);
	pmap_vmx_operation(cpu_features.vmx);
	pmap_guest_root(&pm);
	for (u64 n = 1; n <= nops; n++) {
		/* the debug check runs after every operation at first, then every 97th */
		pmap_debug_interval = n < 2000 ? 1 : 97;
		one_op(&pm, counts);
		sizes.n1g += pm.nr_leaves[3];
		if (n % BATCH == 0) {
			struct tl_sizes s = tl_count(&pm, 0, USER_TOP);

			compare_all(&pm);
			sizes.n4k += s.n4k;
			sizes.n2m += s.n2m;
		}
	}
	compare_all(&pm);
	print_message(
		"%s: %llu ops (map %llu, unmap %llu, protect %llu, lookup %llu), %llu splits; "
		"leaves at batch ends: 4K %llu, 2M %llu; 1G leaves after each op: %llu; "
		"guest flushes %llu, INVEPT %llu\n",
		format, (unsigned long long)nops, (unsigned long long)counts[0],
		(unsigned long long)counts[1], (unsigned long long)counts[2],
		(unsigned long long)counts[3], (unsigned long long)pm.nr_splits,
		(unsigned long long)sizes.n4k, (unsigned long long)sizes.n2m,
		(unsigned long long)sizes.n1g, (unsigned long long)pmap_guest_tlb_gen(&pm),
		(unsigned long long)shim.invept);
	assert_true(sizes.n4k && sizes.n2m && pm.nr_splits && pmap_guest_tlb_gen(&pm));
	/* INVEPT: one when attaching, then one per guest flush; none in NPT format */
	assert_int_equal(shim.invept, pm.fmt->invept ? 1 + pmap_guest_tlb_gen(&pm) : 0);
	if (expect_1g)
		assert_true(sizes.n1g > 0);
	if (!cpu_features.page_1g)
		assert_int_equal(sizes.n1g, 0);
	pmap_destroy(&pm, NULL, NULL);
	assert_int_equal(shim.live_blocks, 0);
	pmap_debug_interval = 1;
	pmap_vmx_operation(false);
	free(model[0]);
	free(model[1]);
}

static void test_model_ept_full_caps_100k(void **state)
{
	tl_cpu_intel();
	run_model(100000, true, "ept");
}

static void test_model_ept_no_cpu_1g(void **state)
{
	tl_cpu_intel();
	cpu_features.page_1g = false;
	run_model(20000, false, "ept");
}

static void test_model_ept_without_large_pages(void **state)
{
	tl_cpu_intel();
	cpu_features.ept_vpid_cap &= ~(EPT_CAP_2M | EPT_CAP_1G);
	run_model(20000, false, "ept");
}

static void test_model_npt_full_caps_50k(void **state)
{
	tl_cpu_amd();
	run_model(50000, true, "npt");
}

static void test_model_npt_no_cpu_1g(void **state)
{
	tl_cpu_amd();
	cpu_features.page_1g = false;
	run_model(20000, false, "npt");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_ept_full_caps_100k),
		cmocka_unit_test(test_model_ept_no_cpu_1g),
		cmocka_unit_test(test_model_ept_without_large_pages),
		cmocka_unit_test(test_model_npt_full_caps_50k),
		cmocka_unit_test(test_model_npt_no_cpu_1g),
	};

	rnd_seed_from_env("PMAP_SEED");
	return cmocka_run_group_tests_name("pmap_model", tests, NULL, NULL);
}
