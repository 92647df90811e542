/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_PMEM_SHIM_H
#define TESTS_UNIT_PMEM_SHIM_H

#include <dyad/types.h>

/*
 * The host stand-in for the kernel's physical memory, CPU features and TLB instructions, so
 * that kernel modules (the page-table pair first) build unchanged for unit tests.
 *
 * Memory: an arena reserved with mmap; a "physical address" is the host address itself, so
 * pmem_va() is the identity. Blocks of 4 KiB << order come from per-order free lists or a
 * bump pointer, aligned to their size. Freed blocks are poisoned for ASan; freeing a block
 * that is not allocated with that order aborts. pmem_free_part() splits the enclosing block
 * as the buddy allocator does: the pieces left stay allocated, each freeable on its own.
 *
 * Out-of-memory injection: shim_fail_nth(n) makes the n-th allocation from now fail (n = 1:
 * the next one); 0 disarms.
 */
struct shim_stats {
	u64 allocs; /* successful pmem_alloc calls */
	u64 frees;
	u64 failed; /* injected failures */
	u64 live_blocks;
	u64 live_frames;
	u64 invlpg;
	u64 flush_all;
	u64 invept;
	u64 last_eptp;
	u64 cr3_loads;
	u64 last_cr3;
	unsigned cpu; /* pmap_arch_cpu() */
	u64 shootdown_ipis; /* pmap_arch_shootdown() calls */
};

extern struct shim_stats shim;

/* Resets the arena and every counter (all blocks must have been freed). */
void shim_reset(void);

void shim_fail_nth(u64 n);

/* Zeroes the TLB counters only. */
void shim_tlb_reset(void);

/* The arena: its first physical address and its size in frames (for per-frame arrays). */
paddr_t shim_arena_base(void);
u64 shim_arena_frames(void);

/* Sets cpu_features to a full-featured VMX CPU: NX, 1 GiB pages, EPT 2M/1G/AD. */
void shim_cpu_full(void);

#endif
