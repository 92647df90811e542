// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dyad/pmem.h>

#include "pmem_shim.h"

#include "pmap_testlib.h"

/* pmap_testlib.h: the leaf or first non-present entry on the way to @va. */
kpte_t *tl_find(struct pmap *pm, u64 va, unsigned *lvl)
{
	kpte_t *t = pmem_va(pm->root);

	for (unsigned l = PMAP_LEVELS;; l--) {
		kpte_t *kp = &t[pmap_index(va, l)];

		if (!(*kp & KPTE_P) || kpte_is_leaf(*kp, l)) {
			*lvl = l;
			return kp;
		}
		t = pmem_va(kpte_table(*kp));
	}
}

static void dump_push(struct tl_dump *d, u64 a, u64 b, u64 c, u64 e)
{
	if (d->n + 4 > d->cap) {
		d->cap = d->cap ? 2 * d->cap : 4096;
		d->words = realloc(d->words, d->cap * sizeof(u64));
		assert_non_null(d->words);
	}
	d->words[d->n++] = a;
	d->words[d->n++] = b;
	d->words[d->n++] = c;
	d->words[d->n++] = e;
}

static void dump_table(struct tl_dump *d, paddr_t pa, unsigned lvl)
{
	kpte_t *t = pmem_va(pa);

	for (unsigned i = 0; i < PMAP_ENTRIES; i++) {
		if (!t[i] && !*kpte_to_odd(&t[i]))
			continue;
		dump_push(d, pa, i, t[i], *kpte_to_odd(&t[i]));
		if (lvl == PMAP_LEVELS && i >= 256)
			continue;
		if ((t[i] & KPTE_P) && !kpte_is_leaf(t[i], lvl))
			dump_table(d, kpte_table(t[i]), lvl - 1);
	}
}

/* pmap_testlib.h: every present entry of both halves, in tree order, plus counters. */
void tl_dump(struct pmap *pm, struct tl_dump *d)
{
	memset(d, 0, sizeof(*d));
	dump_table(d, pm->root, PMAP_LEVELS);
	d->counters[0] = pm->nr_pairs;
	d->counters[1] = pm->pair_sum;
	for (unsigned l = 1; l <= PMAP_LEVELS; l++)
		d->counters[1 + l] = pm->nr_leaves[l];
	d->counters[6] = pmem_free_frames();
}

/* pmap_testlib.h: same entries, same pairs, same counters. */
bool tl_dump_equal(const struct tl_dump *a, const struct tl_dump *b)
{
	/* an empty dump has no buffer, and memcmp() must not see NULL even for 0 bytes */
	return a->n == b->n && (!a->n || !memcmp(a->words, b->words, a->n * sizeof(u64))) &&
	       !memcmp(a->counters, b->counters, sizeof(a->counters));
}

/* pmap_testlib.h: frees the dump buffer. */
void tl_dump_free(struct tl_dump *d)
{
	free(d->words);
	d->words = NULL;
}

static int count_fn(void *arg, const struct pmap_leaf *leaf)
{
	struct tl_sizes *s = arg;

	if (leaf->size == SZ_4K)
		s->n4k++;
	else if (leaf->size == SZ_2M)
		s->n2m++;
	else if (leaf->size == SZ_1G)
		s->n1g++;
	else
		fail_msg("leaf of size %#llx", (unsigned long long)leaf->size);
	return 0;
}

/* pmap_testlib.h: leaves per size in a range. */
struct tl_sizes tl_count(struct pmap *pm, u64 va, u64 len)
{
	struct tl_sizes s = { 0 };

	assert_int_equal(pmap_iterate(pm, va, len, count_fn, &s), 0);
	return s;
}

/* pmap_testlib.h: pmap_check() or fail with the violation. */
void tl_check(struct pmap *pm)
{
	struct pmap_check_err e;

	if (pmap_check(pm, &e))
		fail_msg("pmap_check: %s at va %#llx level %u kpte %#llx %s %#llx", e.what,
			 (unsigned long long)e.va, e.lvl, (unsigned long long)e.kpte, pm->fmt->name,
			 (unsigned long long)e.odd);
}

/* pmap_testlib.h: an Intel CPU with VMX and full EPT. */
void tl_cpu_intel(void)
{
	shim_cpu_full();
	strcpy(cpu_features.vendor, "GenuineIntel");
}

/* pmap_testlib.h: an AMD CPU with SVM, nested paging, NRIP save and flush by ASID. */
void tl_cpu_amd(void)
{
	cpu_features = (struct cpu_features){
		.nx = true,
		.pge = true,
		.page_1g = true,
		.svm = true,
		.npt = true,
		.svm_features = SVM_FEAT_NPT | SVM_FEAT_NRIPS | SVM_FEAT_FLUSH_BY_ASID,
		.svm_nasid = 16,
	};
	strcpy(cpu_features.vendor, "AuthenticAMD");
}
