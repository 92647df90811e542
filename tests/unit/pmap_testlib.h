/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_PMAP_TESTLIB_H
#define TESTS_UNIT_PMAP_TESTLIB_H

#include <arch/x86/pmap.h>

/*
 * Helpers for the page-table pair tests. They read the tables directly, independently of the
 * module's walker, so the tests check the module against the hardware formats.
 */

/* The entry that maps @va (a leaf) or the first non-present one on the way; its level in *lvl. */
kpte_t *tl_find(struct pmap *pm, u64 va, unsigned *lvl);

/* A full dump: every present entry of every pair (both halves), in tree order. */
struct tl_dump {
	size_t n, cap;
	u64 *words; /* (pair pa, index, kpte, epte) quadruples */
	u64 counters[8];
};
void tl_dump(struct pmap *pm, struct tl_dump *d);
bool tl_dump_equal(const struct tl_dump *a, const struct tl_dump *b);
void tl_dump_free(struct tl_dump *d);

/* Leaves of each size in [va, va + len), via pmap_iterate. */
struct tl_sizes {
	u64 n4k, n2m, n1g;
};
struct tl_sizes tl_count(struct pmap *pm, u64 va, u64 len);

/* pmap_check() or fail the test with the violation. */
void tl_check(struct pmap *pm);

/*
 * Sets cpu_features to a full-featured CPU of one vendor, for pmap_kernel_half_init() to choose
 * the odd half's format from: Intel with VMX and EPT 2M/1G/AD (EPT format), or AMD with SVM
 * and nested paging (NPT format). Both have NX and 1 GiB pages.
 */
void tl_cpu_intel(void);
void tl_cpu_amd(void);

#endif
