/* SPDX-License-Identifier: MIT */
#ifndef DYAD_MM_H
#define DYAD_MM_H

#include <dyad/proc.h>

/*
 * A process's memory regions and demand paging on top of the pair module. Every change to the
 * page tables goes through pmap_*, under the pmap's one lock, so the KPT and EPT move together.
 * All functions return 0 (or an address) on success and a negative errno on failure, and
 * leave the process as it was on failure.
 *
 * Threads of one process may call every function here at once: each takes the address
 * space's region lock (pm->mm_lock; shared for faults, exclusive for changes) before the
 * pmap's lock, never after (kern/mm.c, LOCKING).
 */

/*
 * Every frame a process gives back (munmap, MAP_FIXED over it, brk down,
 * exit) is filled with this 64-bit word before it returns to the allocator, after every CPU
 * flushed its translations: a 4 KiB page whole, a 2 MiB or 1 GiB page in the first 4 KiB of
 * each of its 2 MiB (so poisoning a GiB costs what poisoning 2 MiB does). A user-space checker that reads it through a mapping it still
 * owns has seen a stale frame. On by default; mm_poison_freed = false turns it off.
 */
#define MM_POISON 0xd1adf7eed1adf7eeULL
extern bool mm_poison_freed;

/* Region placement. */
#define MM_MMAP_TOP 0x00007f0000000000ULL /* mmap without a hint searches down from here */
#define MM_STACK_TOP 0x00007ffffffff000ULL
#define MM_STACK_SIZE (8ULL << 20)

/* Adds a region over [start, end), which must be free. */
int mm_region_add(struct proc *p, const struct mm_region *r);

/*
 * mmap(2): returns the address or -errno. Flags: Linux's (MAP_HUGETLB with MAP_HUGE_2MB or
 * MAP_HUGE_1GB gives huge pages; other sizes are -EINVAL; unknown bits are ignored, or
 * -EOPNOTSUPP under MAP_SHARED_VALIDATE; MAP_32BIT and MAP_GROWSDOWN are -EINVAL) and Dyad's
 * DYAD_MAP_GUEST and DYAD_MAP_HUGE. -ENOMEM if the region table would overflow.
 */
long mm_mmap(struct proc *p, u64 addr, u64 len, u32 prot, u32 flags, int fd, u64 off);
int mm_munmap(struct proc *p, u64 addr, u64 len);
/* mprotect(2): -ENOMEM over a hole, -EACCES to make a shared file mapping writable. */
int mm_mprotect(struct proc *p, u64 addr, u64 len, u32 prot);
/*
 * brk(2): moves the end of the heap; returns the (possibly unchanged) current break. Memory
 * it adds is read-write.
 */
u64 mm_brk(struct proc *p, u64 new_brk);

/*
 * Serves a page fault at @addr (error code @err, PF_*): allocates zeroed memory (or copies
 * file contents) and maps it in both halves. Returns false if @addr is in no region or the
 * access is not allowed there.
 */
bool mm_fault(struct proc *p, u64 addr, u64 err);

/*
 * A second-stage fault at @gpa, which is the VMM's own address: served as mm_fault() serves a
 * page fault there, but only inside a guest-visible (MM_GUEST) region. One region lookup for
 * the check and the fault, and the size of the page mapped in return (what the vCPU's fault
 * statistics count), so the caller needs neither a lookup nor a walk of its own. Returns
 * SZ_4K, SZ_2M or SZ_1G, or 0 when the fault is not served: outside a guest-visible region,
 * an access the region does not allow, a present page, or no memory.
 */
u64 mm_guest_fault(struct proc *p, u64 gpa, u64 err);

/*
 * Maps the kernel-owned frame @pa, one page, as a MM_FRAME region (@prot, placement by @flags'
 * MAP_FIXED / MAP_FIXED_NOREPLACE and @addr as for mmap). munmap and exit unmap it without
 * freeing it; its owner must unmap it before freeing it. Returns the address or -errno.
 */
long mm_map_frame(struct proc *p, u64 addr, u32 prot, u32 flags, paddr_t pa);

/*
 * The region containing @addr, or NULL. The caller holds @p's region lock, or @p has one
 * thread (creation, exit); the result is valid until the lock is released.
 */
const struct mm_region *mm_find(const struct proc *p, u64 addr);

/*
 * True if a page of [addr, addr + len) is one mprotect(PROT_NONE) made inaccessible while
 * keeping its frame. The kernel's own access to such a page (a kernel-only leaf) does not
 * fault, so the user-copy helpers ask this before they copy, to refuse it with -EFAULT as a
 * fault would. Cheap (no walk) in a process that never used PROT_NONE on present pages.
 */
bool mm_user_none(struct proc *p, u64 addr, u64 len);

/* Unmaps everything and frees every frame the process's memory used. */
void mm_teardown(struct proc *p);

#endif
