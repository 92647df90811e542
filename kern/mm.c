// SPDX-License-Identifier: MIT
/*
 * Memory regions and demand paging. A region says what may be mapped where; the pair module
 * says what is mapped. A page fault inside a region allocates memory (zeroed, or a copy of
 * file contents) and maps it in both halves at once under the pmap's one lock; guest-visible
 * regions thereby appear in the EPT at the same address.
 *
 * Frames belong to exactly one leaf of one process. Whoever removes a leaf frees exactly the
 * frames it covered (free_leaf), even when it was cut out of a larger block, and only after
 * the pair module's shootdown (pmap_unmap reports a leaf after every CPU flushed it); the
 * frame is first filled with MM_POISON (mm_poison_freed).
 *
 * LOCKING. Threads of one process share its pmap, and so its region table. Per address space:
 *   1. the region lock (pm->mm_lock, a reader-writer spin word): faults read the table and
 *      take it shared, so faults on several CPUs run in parallel (they serialise only on the
 *      pmap's lock, for the few hundred instructions of pmap_map_page); mmap, munmap,
 *      mprotect, brk and region_add change it and take it exclusive;
 *   2. scratch_lock (one for all processes: the scratch list below), by writers only;
 *   3. pm->lock, inside pmap_*.
 * Always in this order. A spinner runs the call IPIs aimed at its CPU (pmap_arch_poll), as
 * the pmap's lock does: a writer may hold the region lock across a shootdown that waits for
 * a CPU spinning here with interrupts off (a fault). Writers can starve behind a stream of
 * faults; each fault holds the lock for one page's allocation, fill and mapping.
 */
#include <linux/mman.h>

#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <dyad/elf.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/mm.h>
#include <uapi/dyad/abi.h>

bool mm_poison_freed = true;

#define MM_MMAP_BOTTOM 0x10000ULL /* nothing is placed below 64 KiB: NULL stays unmapped */
#define PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)

/*
 * Scratch for rebuilding a region list: a change is built here in full, checked, and only
 * then copied over the process's list, so a refused change leaves the list as it was. Held
 * under scratch_lock from regions_build() to regions_commit() (or the refusal).
 */
static struct mm_region scratch[PROC_MAX_REGIONS];
static unsigned scratch_n;
static s32 scratch_lock;

/* Spins until *@word goes from @from (any value >= 0 when @from < 0) to @to. */
static void lock_word(s32 *word, s32 from, s32 to, bool shared)
{
	for (;;) {
		s32 v = __atomic_load_n(word, __ATOMIC_RELAXED);

		if (shared ? v >= 0 : v == from) {
			if (__atomic_compare_exchange_n(word, &v, shared ? v + 1 : to, false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
			continue;
		}
		pmap_arch_poll();
		__builtin_ia32_pause();
	}
}

/* The region lock of @p's address space, exclusive (region changes) or shared (faults). */
static void mm_write_lock(struct proc *p)
{
	lock_word(&p->pmap.mm_lock, 0, -1, false);
}

static void mm_write_unlock(struct proc *p)
{
	__atomic_store_n(&p->pmap.mm_lock, 0, __ATOMIC_RELEASE);
}

static void mm_read_lock(struct proc *p)
{
	lock_word(&p->pmap.mm_lock, 0, 0, true);
}

static void mm_read_unlock(struct proc *p)
{
	__atomic_fetch_sub(&p->pmap.mm_lock, 1, __ATOMIC_RELEASE);
}

static void scratch_acquire(void)
{
	lock_word(&scratch_lock, 0, 1, false);
}

static void scratch_release(void)
{
	__atomic_store_n(&scratch_lock, 0, __ATOMIC_RELEASE);
}

_Static_assert(ELF_LOAD_END == MM_STACK_TOP - MM_STACK_SIZE,
	       "the ELF validator's top must be the bottom of the stack area the loader adds");
_Static_assert(!((DYAD_MAP_GUEST | DYAD_MAP_HUGE) &
		 (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | MAP_GROWSDOWN | MAP_DENYWRITE |
		  MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK |
		  MAP_STACK | MAP_HUGETLB | MAP_SYNC | MAP_FIXED_NOREPLACE | MAP_UNINITIALIZED |
		  ((u32)MAP_HUGE_MASK << MAP_HUGE_SHIFT))),
	       "Dyad's mmap flags must use bits no Linux mmap flag uses");

static unsigned order_of(u64 size)
{
	return size == SZ_1G ? 18 : size == SZ_2M ? 9 : 0;
}

/*
 * pmap_leaf_fn (@arg: the process, its region list still the one before the change): gives
 * back the frames of a leaf that was just unmapped, except the kernel-owned frame of a
 * MM_FRAME region (its owner frees it).
 */
static int free_leaf(void *arg, const struct pmap_leaf *leaf)
{
	const struct mm_region *r = mm_find(arg, leaf->va);

	if (r && (r->flags & MM_FRAME))
		return 0;
	/* A huge page: the first 4 KiB of each 2 MiB (a whole GiB would cost seconds). */
	for (u64 off = 0; mm_poison_freed && off < leaf->size; off += SZ_2M) {
		u64 *w = pmem_va(leaf->pa + off);

		for (u64 i = 0; i < PAGE_SIZE / sizeof(u64); i++)
			w[i] = MM_POISON;
	}
	pmem_free_part(leaf->pa, order_of(leaf->size));
	return 0;
}

static u32 region_pmap_flags(const struct mm_region *r)
{
	return ((r->prot & PROT_WRITE) ? PMAP_W : 0) | ((r->prot & PROT_EXEC) ? PMAP_X : 0) |
	       ((r->flags & MM_GUEST) ? PMAP_VISIBLE : 0);
}

/*
 * User mappings end one page below USER_TOP: a SYSCALL in the last canonical page would return
 * to a non-canonical RIP, which SYSRET turns into a #GP in ring 0.
 */
#define MM_USER_END (USER_TOP - PAGE_SIZE)

static bool user_range_valid(u64 start, u64 len)
{
	return len && IS_ALIGNED(start, PAGE_SIZE) && start + len > start &&
	       start + len <= MM_USER_END;
}

/*
 * The index of the region mm_find() found last, in whatever process. Faults come in runs
 * inside one region (a process filling its heap, a guest touching its RAM), and a second-stage
 * fault looks its region up twice (kern/vcpu.c, then mm_fault()): with the hint a repeated
 * lookup is one range check instead of a search. Only a hint: it is checked against the list
 * before use, so no change to any list has to update it. Regions are disjoint, so a region
 * that holds @addr is the region of @addr. Shared by every CPU (read and written relaxed):
 * a stale or foreign value costs a search, nothing more.
 */
static unsigned find_hint;

static bool region_holds(const struct mm_region *r, u64 addr)
{
	return addr >= r->start && addr < r->end;
}

const struct mm_region *mm_find(const struct proc *p, u64 addr)
{
	unsigned lo = 0, hi = p->nr_regions;
	unsigned hint = __atomic_load_n(&find_hint, __ATOMIC_RELAXED);

	if (hint < hi && region_holds(&p->regions[hint], addr))
		return &p->regions[hint];
	/* The list is sorted and disjoint: find the first region that ends above @addr. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (p->regions[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == p->nr_regions || addr < p->regions[lo].start)
		return NULL;
	__atomic_store_n(&find_hint, lo, __ATOMIC_RELAXED);
	return &p->regions[lo];
}

static bool range_is_free(const struct proc *p, u64 start, u64 end)
{
	for (unsigned i = 0; i < p->nr_regions; i++)
		if (p->regions[i].start < end && p->regions[i].end > start)
			return false;
	return true;
}

/* The part of @r inside [start, end), with its file window moved along. */
static struct mm_region region_slice(const struct mm_region *r, u64 start, u64 end)
{
	struct mm_region s = *r;
	u64 skip;

	s.start = MAX(r->start, start);
	s.end = MIN(r->end, end);
	skip = s.start - r->start;
	s.file_off = r->file_off + skip;
	s.file_len = r->file_len > skip ? MIN(r->file_len - skip, s.end - s.start) : 0;
	return s;
}

/*
 * True if @b, which starts where @a ends, can join @a as one region showing the same memory:
 * the same protection, flags and file, and for a file the window runs on without a gap.
 */
static bool regions_mergeable(const struct mm_region *a, const struct mm_region *b)
{
	if (a->end != b->start || a->prot != b->prot || a->flags != b->flags || a->file != b->file)
		return false;
	if (!(a->flags & MM_FILE))
		return true;
	return b->file_off == a->file_off + (a->end - a->start) &&
	       (a->file_len == a->end - a->start || b->file_len == 0);
}

/* Appends @r to the scratch list, merged into the last region when it can be. */
static int scratch_push(const struct mm_region *r)
{
	struct mm_region *last = scratch_n ? &scratch[scratch_n - 1] : NULL;

	if (last && regions_mergeable(last, r)) {
		last->file_len += r->file_len;
		last->end = r->end;
		return 0;
	}
	if (scratch_n == PROC_MAX_REGIONS)
		return -ENOMEM;
	scratch[scratch_n++] = *r;
	return 0;
}

/*
 * Builds in scratch the region list with [start, end) cut out of every region, the cut parts
 * given @new_prot if it is not ~0u (mprotect) or dropped (munmap), and @add (may be NULL)
 * inserted in the gap it fills (mmap). Neighbours with equal attributes merge. Returns 0, or
 * -ENOMEM if the result has more than PROC_MAX_REGIONS regions; the process is not touched
 * either way (regions_commit() installs the result).
 *
 * Regions only ever join the last one built, so the count never exceeds the final count:
 * running out of slots while building means the result does not fit.
 */
static int regions_build(const struct proc *p, u64 start, u64 end, u32 new_prot,
			 const struct mm_region *add)
{
	scratch_n = 0;
	for (unsigned i = 0; i < p->nr_regions; i++) {
		const struct mm_region *r = &p->regions[i];
		struct mm_region parts[3];
		unsigned np = 0;

		if (r->end <= start || r->start >= end) {
			parts[np++] = *r;
		} else {
			if (r->start < start)
				parts[np++] = region_slice(r, r->start, start);
			if (new_prot != ~0u) {
				parts[np] = region_slice(r, start, end);
				parts[np++].prot = new_prot;
			}
			if (r->end > end)
				parts[np++] = region_slice(r, end, r->end);
		}
		for (unsigned j = 0; j < np; j++) {
			if (add && parts[j].start >= add->end) {
				if (scratch_push(add))
					return -ENOMEM;
				add = NULL;
			}
			if (scratch_push(&parts[j]))
				return -ENOMEM;
		}
	}
	return add ? scratch_push(add) : 0;
}

/* Installs the list regions_build() left in scratch. */
static void regions_commit(struct proc *p)
{
	memcpy(p->regions, scratch, scratch_n * sizeof(scratch[0]));
	p->nr_regions = scratch_n;
}

/* The writer's locks, in order: the region lock, then the scratch list. */
static void writer_begin(struct proc *p)
{
	mm_write_lock(p);
	scratch_acquire();
}

static void writer_end(struct proc *p)
{
	scratch_release();
	mm_write_unlock(p);
}

static int region_add(struct proc *p, const struct mm_region *r)
{
	if (!user_range_valid(r->start, r->end - r->start) || !IS_ALIGNED(r->end, PAGE_SIZE))
		return -EINVAL;
	if (!range_is_free(p, r->start, r->end))
		return -EEXIST;
	int err = regions_build(p, r->start, r->start, ~0u, r);
	if (!err)
		regions_commit(p);
	return err;
}

static int munmap_locked(struct proc *p, u64 addr, u64 len)
{
	int err;

	len = ALIGN_UP(len, PAGE_SIZE);
	if (!user_range_valid(addr, len))
		return -EINVAL;
	/* The new list first (a split may not fit), the tables next: a failure changes nothing. */
	err = regions_build(p, addr, addr + len, ~0u, NULL);
	if (!err)
		err = pmap_unmap(&p->pmap, addr, len, free_leaf, p);
	if (!err)
		regions_commit(p);
	return err;
}

static int mprotect_locked(struct proc *p, u64 addr, u64 len, u32 prot)
{
	u64 end, pos;
	int err;

	len = ALIGN_UP(len, PAGE_SIZE);
	if (!user_range_valid(addr, len) || (prot & ~PROT_ALL))
		return -EINVAL;
	end = addr + len;
	/*
	 * Like Linux: the whole range must be mapped (-ENOMEM), and a shared mapping of a
	 * read-only file never becomes writable (-EACCES). Whichever comes first in the range
	 * decides; unlike Linux, nothing has changed by then.
	 */
	for (pos = addr; pos < end;) {
		const struct mm_region *r = mm_find(p, pos);
		if (!r)
			return -ENOMEM;
		if ((r->flags & MM_SHARED_RO) && (prot & PROT_WRITE))
			return -EACCES;
		pos = r->end;
	}
	err = regions_build(p, addr, end, prot, NULL);
	if (err)
		return err;
	/*
	 * PROT_NONE keeps the pages and their frames, inaccessible (PMAP_NONE), as Linux does: a
	 * later mprotect back shows the same contents. Unmapping them instead lost every byte
	 * written before, which a program may rely on (guard pages that come back, allocators).
	 */
	if (!(prot & PROT_ALL))
		__atomic_store_n(&p->mm_kept_none, true, __ATOMIC_SEQ_CST); /* before the leaves change: copies start to check */
	err = pmap_protect(&p->pmap, addr, len,
			   !(prot & PROT_ALL) ? PMAP_NONE
					      : ((prot & PROT_WRITE) ? PMAP_W : 0) |
							((prot & PROT_EXEC) ? PMAP_X : 0));
	if (!err)
		regions_commit(p);
	return err;
}

static int leaf_is_none(void *arg, const struct pmap_leaf *l)
{
	(void)arg;
	return !!(l->flags & PMAP_NONE);
}

bool mm_user_none(struct proc *p, u64 addr, u64 len)
{
	u64 start = ALIGN_DOWN(addr, PAGE_SIZE);

	if (!p || !__atomic_load_n(&p->mm_kept_none, __ATOMIC_SEQ_CST) || !len)
		return false;
	return pmap_iterate(&p->pmap, start, ALIGN_UP(addr + len, PAGE_SIZE) - start, leaf_is_none,
			    NULL) == 1;
}

/* Finds a free, @align-aligned range of @len below MM_MMAP_TOP, searching downwards. */
static u64 find_gap(const struct proc *p, u64 len, u64 align)
{
	u64 ceiling = MM_MMAP_TOP;

	for (int i = (int)p->nr_regions - 1; i >= -1; i--) {
		u64 floor = i >= 0 ? p->regions[i].end : MM_MMAP_BOTTOM;
		if (i >= 0 && p->regions[i].start >= ceiling)
			continue;
		if (ceiling >= len) {
			u64 start = ALIGN_DOWN(ceiling - len, align);
			if (start >= floor && start >= MM_MMAP_BOTTOM)
				return start;
		}
		if (i >= 0)
			ceiling = MIN(ceiling, p->regions[i].start);
	}
	return 0;
}

/*
 * Linux flags that change nothing Dyad does: hints (placement, prefaulting, reservation,
 * locking) and flags Linux itself ignores. Accepted and ignored.
 */
#define MAP_IGNORED                                                                                \
	(MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE |              \
	 MAP_NONBLOCK | MAP_STACK | MAP_UNINITIALIZED)
/* Every flag MAP_SHARED_VALIDATE accepts. */
#define MAP_VALID                                                                                  \
	(MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_HUGETLB |                \
	 ((u32)MAP_HUGE_MASK << MAP_HUGE_SHIFT) | MAP_IGNORED | DYAD_MAP_GUEST | DYAD_MAP_HUGE)

/*
 * The huge page size MAP_HUGETLB asks for (its MAP_HUGE_* field; 0 means the x86-64 default,
 * 2 MiB), or 0 for a size x86-64 has no pages of.
 */
static u64 hugetlb_size(u32 flags)
{
	switch ((flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK) {
	case 0:
	case MAP_HUGE_2MB >> MAP_HUGE_SHIFT:
		return SZ_2M;
	case MAP_HUGE_1GB >> MAP_HUGE_SHIFT:
		return SZ_1G;
	default:
		return 0;
	}
}

/* mm_mmap() for a region that also carries @region_flags (MM_FRAME), so it merges only with its like. */
static long mmap_region(struct proc *p, u64 addr, u64 len, u32 prot, u32 flags, int fd, u64 off,
			u32 region_flags)
{
	struct mm_region r = { .prot = prot, .flags = region_flags };
	u64 align = PAGE_SIZE;
	const u32 type = flags & MAP_TYPE;
	int err;

	if (!len || len > MM_USER_END || (prot & ~PROT_ALL) || !IS_ALIGNED(off, PAGE_SIZE) ||
	    (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE))
		return -EINVAL;
	/* As on Linux: unknown bits are ignored, unless the caller asked for validation. */
	if (type == MAP_SHARED_VALIDATE && (flags & ~MAP_VALID))
		return -EOPNOTSUPP;
	if (flags & (MAP_32BIT | MAP_GROWSDOWN))
		return -EINVAL; /* Linux placements Dyad does not offer */
	len = ALIGN_UP(len, PAGE_SIZE);
	if (!(flags & MAP_ANONYMOUS)) {
		if (fd < 0 || fd >= PROC_MAX_FDS || p->fds[fd].kind != FD_MODULE)
			return fd >= 0 && fd < PROC_MAX_FDS && p->fds[fd].kind ? -EACCES : -EBADF;
		if (flags & MAP_HUGETLB)
			return -EINVAL; /* Linux: only hugetlbfs files have huge pages */
		if (type != MAP_PRIVATE && (prot & PROT_WRITE))
			return -EACCES; /* modules are read-only files */
		const struct boot_module *m = p->fds[fd].mod;
		u64 size = m->end - m->start;
		r.flags |= MM_FILE | (type != MAP_PRIVATE ? MM_SHARED_RO : 0);
		r.file = m;
		r.file_off = off;
		r.file_len = off < size ? MIN(len, size - off) : 0;
	} else if (flags & MAP_HUGETLB) {
		/*
		 * Linux's huge pages: whole pages of the size asked for, at an address aligned to
		 * it. Dyad serves them like DYAD_MAP_HUGE, capped at that size.
		 */
		align = hugetlb_size(flags);
		if (!align ||
		    ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && !IS_ALIGNED(addr, align)))
			return -EINVAL;
		len = ALIGN_UP(len, align);
		if (!len || len > MM_USER_END)
			return -EINVAL;
		r.flags |= MM_HUGE | (align == SZ_2M ? MM_HUGE_MAX_2M : 0);
	} else if (flags & DYAD_MAP_HUGE) {
		r.flags |= MM_HUGE;
		align = len >= SZ_1G ? SZ_1G : len >= SZ_2M ? SZ_2M : PAGE_SIZE;
	}
	if (flags & DYAD_MAP_GUEST)
		r.flags |= MM_GUEST;

	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (!user_range_valid(addr, len))
			return -EINVAL;
		if ((flags & MAP_FIXED_NOREPLACE) && !range_is_free(p, addr, addr + len))
			return -EEXIST;
	} else {
		addr = ALIGN_UP(addr, align);
		if (!addr || !user_range_valid(addr, len) || addr < MM_MMAP_BOTTOM ||
		    !range_is_free(p, addr, addr + len))
			addr = find_gap(p, len, align);
		if (!addr)
			return -ENOMEM;
	}
	r.start = addr;
	r.end = addr + len;
	/* MAP_FIXED replaces what was there; the new list must fit before anything goes. */
	err = regions_build(p, addr, addr + len, ~0u, &r);
	if (!err && !range_is_free(p, addr, addr + len))
		err = pmap_unmap(&p->pmap, addr, len, free_leaf, p);
	if (err)
		return err;
	regions_commit(p);
	return (long)addr;
}

static u64 brk_locked(struct proc *p, u64 new_brk)
{
	u64 old_end = ALIGN_UP(p->brk, PAGE_SIZE), new_end = ALIGN_UP(new_brk, PAGE_SIZE);

	if (new_brk < p->brk_start || new_brk > MM_USER_END)
		return p->brk;
	if (new_end > old_end) {
		/*
		 * New heap is read-write whatever mprotect did to the old: a region of its own,
		 * which merges with a read-write heap region ending here.
		 */
		struct mm_region heap = { .start = old_end,
					  .end = new_end,
					  .prot = PROT_READ | PROT_WRITE,
					  .flags = MM_HEAP };
		if (region_add(p, &heap))
			return p->brk;
	} else if (new_end < old_end && munmap_locked(p, new_end, old_end - new_end)) {
		return p->brk;
	}
	p->brk = new_brk;
	return new_brk;
}

/* Fills a new frame for @va of @r: file bytes where the region has them, zeros elsewhere. */
static void fill_frame(const struct mm_region *r, u64 va, paddr_t pa, u64 size)
{
	u8 *dst = pmem_va(pa);
	u64 file_end = r->start + r->file_len;

	memset(dst, 0, size);
	if (!(r->flags & MM_FILE) || va >= file_end)
		return;
	u64 n = MIN(size, file_end - va);
	memcpy(dst, (const u8 *)pmem_va(r->file->start) + r->file_off + (va - r->start), n);
}

/* pmap_leaf_fn for pmap_iterate: any leaf at all stops the walk. */
static int leaf_found(void *arg, const struct pmap_leaf *leaf)
{
	return 1;
}

/*
 * The page size a fault at @addr in huge region @r gets, before any memory is allocated: the
 * largest that the region allows (capped by MM_HUGE_MAX_2M), whose aligned slot lies in
 * the region and has nothing mapped yet, and that the pmap can map as one page with @flags.
 * Returns the index into @sizes of the first candidate; smaller ones follow.
 */
static unsigned fault_first_size(struct proc *p, const struct mm_region *r, u64 addr,
				 const u64 *sizes, unsigned n, u32 flags)
{
	unsigned i = (r->flags & MM_HUGE_MAX_2M) ? 1 : 0;

	for (; i + 1 < n; i++) {
		u64 size = sizes[i], base = ALIGN_DOWN(addr, size);
		if (base >= r->start && base + size <= r->end &&
		    pmap_page_size_ok(&p->pmap, size, flags) &&
		    pmap_iterate(&p->pmap, base, size, leaf_found, NULL) == 0)
			break;
	}
	return i;
}

/*
 * Fills the fresh block @pa for the page [base, base + size) of @r and maps it. Returns @size,
 * or 0 when the mapping failed (-ENOMEM for a page-table pair) and the block went back, or
 * FAULT_RACED when something was mapped there meanwhile (the block went back too).
 * Runs under the region lock, shared.
 */
#define FAULT_RACED 1 /* no page size: fault_map() found the slot mapped */

static u64 fault_map(struct proc *p, const struct mm_region *r, u64 base, paddr_t pa, u64 size,
		     u32 flags)
{
	int err;

	fill_frame(r, base, pa, size);
	err = pmap_map_page(&p->pmap, base, pa, size, flags);
	if (err == 0) {
		__atomic_fetch_add(&p->page_faults, 1, __ATOMIC_RELAXED);
		return size;
	}
	pmem_free(pa, order_of(size));
	return err == -EEXIST ? FAULT_RACED : 0;
}

/*
 * A not-present fault at @addr found a page there: another thread's fault (or mmap) mapped it
 * between the CPU's walk and this one. Served, so the access is retried, when that page
 * allows it (a guest-visible page is guest-executable); its size is returned. Otherwise 0.
 */
static u64 fault_raced(struct proc *p, u64 addr, u64 err, bool guest)
{
	struct pmap_leaf l;

	if (pmap_lookup(&p->pmap, addr, &l) || (l.flags & PMAP_NONE))
		return 0; /* unmapped again meanwhile: refused, as a fault in no page is */
	if (((err & PF_W) && !(l.flags & PMAP_W)) ||
	    ((err & PF_I) && !(l.flags & (guest ? PMAP_VISIBLE : PMAP_X))))
		return 0;
	return l.size;
}

/*
 * fault_in()'s first part: the region's checks, the page size, the allocation and the mapping.
 * Returns the size mapped, 0 (not served) or FAULT_RACED.
 */
static inline __attribute__((always_inline)) u64 fault_alloc_map(struct proc *p,
								 const struct mm_region *r,
								 u64 addr, u64 err)
{
	static const u64 sizes[] = { SZ_1G, SZ_2M, SZ_4K };

	if (!r || (err & PF_P) || (err & PF_RSVD) || !(r->prot & PROT_ALL) ||
	    (r->flags & MM_FRAME))
		return 0;
	if (((err & PF_W) && !(r->prot & PROT_WRITE)) || ((err & PF_I) && !(r->prot & PROT_EXEC)))
		return 0;

	u32 flags = region_pmap_flags(r);
	paddr_t pa;
	if (!(r->flags & MM_HUGE)) { /* 4 KiB pages only: nothing to choose */
		pa = pmem_alloc(0);
		return pa ? fault_map(p, r, ALIGN_DOWN(addr, SZ_4K), pa, SZ_4K, flags) : 0;
	}
	/*
	 * The page size is decided first, so that no block is allocated and zeroed only to find
	 * its slot partly mapped. Only a failed allocation moves on to a smaller size; a smaller
	 * slot inside an empty larger one is empty too. One fault maps one page.
	 */
	for (unsigned i = fault_first_size(p, r, addr, sizes, ARRAY_SIZE(sizes), flags);
	     i < ARRAY_SIZE(sizes); i++) {
		u64 size = sizes[i];
		if (size != SZ_4K && !pmap_page_size_ok(&p->pmap, size, flags))
			continue;
		pa = pmem_alloc(order_of(size));
		if (pa)
			return fault_map(p, r, ALIGN_DOWN(addr, size), pa, size, flags);
	}
	return 0;
}

/*
 * Serves a fault at @addr in region @r (NULL: in none) with error code @err. Returns the size
 * of the one page it mapped, or 0 when the fault is not served. A not-present fault on a page
 * that is mapped by the time the pmap's lock is taken is the race of two threads faulting the
 * same page: served if that page allows the access (fault_raced). Inlined into its two
 * callers, which differ only in how they pick @r: the fault path pays no call for the split.
 */
static inline __attribute__((always_inline)) u64 fault_in(struct proc *p, const struct mm_region *r,
							  u64 addr, u64 err, bool guest)
{
	u64 size = fault_alloc_map(p, r, addr, err);

	return size == FAULT_RACED ? fault_raced(p, addr, err, guest) : size;
}

bool mm_fault(struct proc *p, u64 addr, u64 err)
{
	u64 size;

	mm_read_lock(p);
	size = fault_in(p, mm_find(p, addr), addr, err, false);
	mm_read_unlock(p);
	return size != 0;
}

u64 mm_guest_fault(struct proc *p, u64 gpa, u64 err)
{
	const struct mm_region *r;
	u64 size = 0;

	mm_read_lock(p);
	r = mm_find(p, gpa);
	if (r && (r->flags & MM_GUEST))
		size = fault_in(p, r, gpa, err, true);
	mm_read_unlock(p);
	return size;
}

int mm_region_add(struct proc *p, const struct mm_region *r)
{
	int err;

	writer_begin(p);
	err = region_add(p, r);
	writer_end(p);
	return err;
}

int mm_munmap(struct proc *p, u64 addr, u64 len)
{
	int err;

	writer_begin(p);
	err = munmap_locked(p, addr, len);
	writer_end(p);
	return err;
}

int mm_mprotect(struct proc *p, u64 addr, u64 len, u32 prot)
{
	int err;

	writer_begin(p);
	err = mprotect_locked(p, addr, len, prot);
	writer_end(p);
	return err;
}

u64 mm_brk(struct proc *p, u64 new_brk)
{
	u64 brk;

	writer_begin(p);
	brk = brk_locked(p, new_brk);
	writer_end(p);
	return brk;
}

long mm_mmap(struct proc *p, u64 addr, u64 len, u32 prot, u32 flags, int fd, u64 off)
{
	long r;

	writer_begin(p);
	r = mmap_region(p, addr, len, prot, flags, fd, off, 0);
	writer_end(p);
	return r;
}

long mm_map_frame(struct proc *p, u64 addr, u32 prot, u32 flags, paddr_t pa)
{
	const u32 placement = MAP_FIXED | MAP_FIXED_NOREPLACE;
	long va;
	int err;

	writer_begin(p);
	va = mmap_region(p, addr, PAGE_SIZE, prot,
			 (flags & placement) | MAP_ANONYMOUS | MAP_SHARED, -1, 0, MM_FRAME);
	if (va >= 0) {
		err = pmap_map_page(&p->pmap, (u64)va, pa, PAGE_SIZE,
				    region_pmap_flags(mm_find(p, (u64)va)));
		if (err) {
			munmap_locked(p, (u64)va, PAGE_SIZE);
			va = err;
		}
	}
	writer_end(p);
	return va;
}

void mm_teardown(struct proc *p)
{
	writer_begin(p);
	pmap_destroy(&p->pmap, free_leaf, p);
	p->nr_regions = 0;
	writer_end(p);
}
