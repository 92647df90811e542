/* SPDX-License-Identifier: MIT */
#ifndef TESTS_BENCH_BENCH_H
#define TESTS_BENCH_BENCH_H

#include <arch/x86/pmap.h>

/*
 * One address-space design under benchmark: the same operations with the semantics of
 * arch/x86/pmap.h (map refuses overlaps, picks the largest page, map_page maps one page by a
 * straight descent, unmap prunes empty tables, protect rewrites W/X), each implemented its own
 * way.
 */
struct design {
	const char *name;
	void *(*create)(void);
	void (*destroy)(void *as);
	int (*map)(void *as, u64 va, paddr_t pa, u64 len, u32 flags);
	/* the fault path: one page of exactly @size, as pmap_map_page() */
	int (*map_page)(void *as, u64 va, paddr_t pa, u64 size, u32 flags);
	int (*unmap)(void *as, u64 va, u64 len);
	int (*protect)(void *as, u64 va, u64 len, u32 prot);
	u64 (*table_bytes)(void *as); /* page-table pages, both formats */
	u64 (*meta_bytes_per_gib_ram)(void); /* other metadata, per GiB of physical memory */
};

extern const struct design design_pair, design_sep, design_pfn;

#endif
