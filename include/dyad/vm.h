/* SPDX-License-Identifier: MIT */
#ifndef DYAD_VM_H
#define DYAD_VM_H

#include <dyad/proc.h>

/*
 * A process's memory regions and demand paging on top of the pair module. Every change to the
 * page tables goes through pmap_*, under the pmap's one lock, so the KPT and EPT move together.
 * All functions return 0 (or an address) on success and a negative errno on failure, and
 * leave the process as it was on failure.
 */

/* Region placement. */
#define VM_MMAP_TOP 0x00007f0000000000ULL /* mmap without a hint searches down from here */
#define VM_STACK_TOP 0x00007ffffffff000ULL
#define VM_STACK_SIZE (8ULL << 20)

/* Adds a region over [start, end), which must be free. */
int vm_region_add(struct proc *p, const struct vm_region *r);

/* mmap(2): returns the address or -errno. Flags include DYAD_MAP_GUEST and DYAD_MAP_HUGE. */
long vm_mmap(struct proc *p, u64 addr, u64 len, u32 prot, u32 flags, int fd, u64 off);
int vm_munmap(struct proc *p, u64 addr, u64 len);
int vm_mprotect(struct proc *p, u64 addr, u64 len, u32 prot);
/* brk(2): moves the end of the heap; returns the (possibly unchanged) current break. */
u64 vm_brk(struct proc *p, u64 new_brk);

/*
 * Serves a page fault at @addr (error code @err, PF_*): allocates zeroed memory (or copies
 * file contents) and maps it in both halves. Returns false if @addr is in no region or the
 * access is not allowed there.
 */
bool vm_fault(struct proc *p, u64 addr, u64 err);

/*
 * Maps the kernel-owned frame @pa, one page, as a VM_FRAME region (@prot, placement by @flags'
 * MAP_FIXED / MAP_FIXED_NOREPLACE and @addr as for mmap). munmap and exit unmap it without
 * freeing it; its owner must unmap it before freeing it. Returns the address or -errno.
 */
long vm_map_frame(struct proc *p, u64 addr, u32 prot, u32 flags, paddr_t pa);

/* The region containing @addr, or NULL. */
const struct vm_region *vm_find(const struct proc *p, u64 addr);

/* Unmaps everything and frees every frame the process's memory used. */
void vm_teardown(struct proc *p);

#endif
