/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_KMAP_H
#define ARCH_X86_KMAP_H

#include <dyad/types.h>

struct boot_info;

/*
 * The kernel half of every address space: the direct map of RAM, the kernel image, and an
 * uncached window for device registers. Its tables are pairs like all others, but their odd
 * (EPT) halves stay zero: nothing here is ever visible to a guest.
 */

/* Maps all RAM in @bi at DIRECT_MAP_BASE with the largest pages the CPU allows. */
void kmap_init(const struct boot_info *bi);

/*
 * Maps @size bytes of device memory at @pa uncached; returns its kernel address. Below 1 MiB
 * the range takes 4 KiB pages of a 2 MiB window; from 1 MiB on (a PCI ECAM window) 2 MiB pages
 * of the rest of the MMIO gigabyte. Boot-time and driver-start use: mappings are never undone.
 */
void *kmap_mmio(paddr_t pa, size_t size);

/* The kernel's PML4 (the KPT half of its root pair); slots 256..511 are shared by all. */
u64 *kmap_kernel_pml4(void);

/* Page size used for the direct map: SZ_1G or SZ_2M. */
u64 kmap_direct_page_size(void);

#endif
