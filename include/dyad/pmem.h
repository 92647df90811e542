/* SPDX-License-Identifier: MIT */
#ifndef DYAD_PMEM_H
#define DYAD_PMEM_H

#include <dyad/types.h>

/*
 * The kernel's physical memory: one buddy allocator over all RAM, reached through the direct
 * map. Host builds of kernel modules (tests/unit) link a shim with the same functions.
 */

/* Returns an uninitialised block of 4 KiB << order, aligned to its size, or 0 when none. */
paddr_t pmem_alloc(unsigned order);

/* Like pmem_alloc, but the block is zero-filled. */
paddr_t pmem_alloc_zeroed(unsigned order);

void pmem_free(paddr_t pa, unsigned order);

/* Frees [pa, pa + 4 KiB << order) out of a larger allocated block (see buddy_free_part). */
void pmem_free_part(paddr_t pa, unsigned order);

/* Free 4 KiB frames right now. */
u64 pmem_free_frames(void);

/* The kernel virtual address of physical address @pa (the direct map). */
void *pmem_va(paddr_t pa);

/* The physical address behind a direct-map address. */
paddr_t pmem_pa(const void *va);

/*
 * The direct map reaches physical [0, PMEM_MAPPED_LIMIT): one PML4 slot of 1 GiB pages
 * (arch/x86/kmap.c). RAM above it is left out of the allocator, and boot says how much.
 */
#define PMEM_MAPPED_LIMIT (512ULL << 30)

struct boot_info;

/*
 * Boot-time setup (kernel only). pmem_init() manages the RAM below @reachable_limit (what the
 * boot page tables map); pmem_init_rest() adds the rest once the direct map covers it, up to
 * PMEM_MAPPED_LIMIT, and prints how much RAM above that limit it left out.
 */
void pmem_init(const struct boot_info *bi, paddr_t reachable_limit);
void pmem_init_rest(const struct boot_info *bi);

/* Bytes of frame metadata the allocator uses for all of RAM. */
u64 pmem_metadata_bytes(void);

#endif
