/* SPDX-License-Identifier: MIT */
#ifndef UAPI_DYAD_ABI_H
#define UAPI_DYAD_ABI_H

/*
 * The user/kernel ABI beyond Linux's. System calls below DYAD_SYS_BASE have Linux x86-64
 * numbers and semantics (a static musl program runs unchanged); Dyad's own calls live at and
 * above DYAD_SYS_BASE. Every constant the kernel and user space (the VMM, the tests) share is
 * here and nowhere else.
 */

#define DYAD_SYS_BASE 0x1000

/* long dyad_spawn(const char *path, char *const argv[], unsigned long flags): runs a program to
 * its end and returns its exit status (0..255), 128 + signal-like code when it was killed, or
 * -errno. With DYAD_SPAWN_NOWAIT it returns the child's pid at once; wait4 collects it (its
 * status as Linux encodes it: exit code << 8, or SIGSEGV (11) when the kernel killed it). Other
 * flags: -EINVAL. */
#define DYAD_SYS_SPAWN (DYAD_SYS_BASE + 0)
#define DYAD_SPAWN_NOWAIT 0x1
/* long dyad_stats(struct dyad_stats *out) */
#define DYAD_SYS_STATS (DYAD_SYS_BASE + 1)
/* long dyad_vm_query(unsigned long addr, struct dyad_vm_info *out) */
#define DYAD_SYS_VM_QUERY (DYAD_SYS_BASE + 2)

/*
 * Extra mmap flags. They take bits 24 and 25, which no Linux mmap flag uses on x86-64: Linux
 * flags end at bit 20 (MAP_FIXED_NOREPLACE), MAP_UNINITIALIZED is bit 26 and the MAP_HUGE_*
 * size field is bits 26-31. Linux's MAP_HUGETLB | MAP_HUGE_2MB / MAP_HUGE_1GB keep their Linux
 * meaning (huge pages, private to this process); other huge sizes are -EINVAL.
 */
#define DYAD_MAP_GUEST 0x01000000 /* also mapped in the EPT: visible to this process's guest */
#define DYAD_MAP_HUGE 0x02000000 /* physically contiguous 2 MiB / 1 GiB blocks, jumbo mappings */

/* Exit status of a process the kernel killed for a fault it could not serve. */
#define DYAD_KILLED_STATUS 139 /* as a shell shows SIGSEGV: 128 + 11 */

struct dyad_stats {
	unsigned long page_faults; /* faults served for this process so far */
	unsigned long free_frames; /* free 4 KiB frames in the whole machine */
	unsigned long pairs_in_use; /* page-table pairs of this process's address space */
};

struct dyad_vm_info {
	unsigned long pa; /* physical address behind addr, 0 if not mapped yet */
	unsigned long page_size; /* 4096, 2 MiB or 1 GiB; 0 if not mapped */
	unsigned int prot; /* PROT_* */
	unsigned int guest_visible; /* 1 if the EPT maps it */
	unsigned int ad; /* DYAD_VM_ACCESSED | DYAD_VM_DIRTY: set in either half of the pair */
	unsigned int pad;
};
#define DYAD_VM_ACCESSED 0x1
#define DYAD_VM_DIRTY 0x2

#endif
