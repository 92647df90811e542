/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_MEMLAYOUT_H
#define ARCH_X86_MEMLAYOUT_H

/*
 * The virtual address map. The lower half (PML4 slots 0-255) belongs to the current process and
 * is, read as guest-physical, its guest's memory. The upper half is the kernel's, identical in
 * every address space and never linked into an EPT.
 *
 *   0x0000000000000000 - 0x00007fffffffffff  user / guest-physical (128 TiB)
 *   0xffff800000000000 - 0xffffbfffffffffff  direct map of all physical memory (slot 256+)
 *   0xffffffff80000000 - 0xffffffffbfffffff  kernel image (linked here, loaded at 2 MiB); after
 *                                            boot only the image is mapped, W^X per section
 *   0xffffffffc0000000 - 0xffffffffffffffff  device MMIO (LAPIC), uncached
 */
#define USER_TOP 0x0000800000000000ULL
#define KERNEL_HALF_FIRST_SLOT 256
#define DIRECT_MAP_BASE 0xffff800000000000ULL
#define KERNEL_VMA 0xffffffff80000000ULL
#define KERNEL_LOAD_PA 0x200000ULL
#define MMIO_BASE 0xffffffffc0000000ULL

#ifndef __ASSEMBLER__
#define KERNEL_IMAGE_PA(sym) ((unsigned long)(sym) - KERNEL_VMA)
#endif

#endif
