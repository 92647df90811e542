// SPDX-License-Identifier: MIT
/*
 * Memory regions and demand paging. A region says what may be mapped where; the pair module
 * says what is mapped. A page fault inside a region allocates memory (zeroed, or a copy of
 * file contents) and maps it in both halves at once under the pmap's one lock; guest-visible
 * regions thereby appear in the EPT at the same address.
 *
 * Frames belong to exactly one leaf of one process. Whoever removes a leaf frees exactly the
 * frames it covered (free_leaf), even when it was cut out of a larger block.
 */
#include <linux/mman.h>

#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/vm.h>
#include <uapi/dyad/abi.h>

#define VM_MMAP_BOTTOM 0x10000ULL /* nothing is placed below 64 KiB: NULL stays unmapped */
#define PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)

/* Scratch for rebuilding a region list; vm calls never nest and there is one CPU. */
static struct vm_region scratch[PROC_MAX_REGIONS];

static unsigned order_of(u64 size)
{
	return size == SZ_1G ? 18 : size == SZ_2M ? 9 : 0;
}

/*
 * pmap_leaf_fn (@arg: the process): gives back the frames of a leaf that was just unmapped,
 * except the kernel-owned frame of a VM_FRAME region (its owner frees it).
 */
static int free_leaf(void *arg, const struct pmap_leaf *leaf)
{
	const struct vm_region *r = vm_find(arg, leaf->va);

	if (r && (r->flags & VM_FRAME))
		return 0;
	pmem_free_part(leaf->pa, order_of(leaf->size));
	return 0;
}

static u32 region_pmap_flags(const struct vm_region *r)
{
	return ((r->prot & PROT_WRITE) ? PMAP_W : 0) | ((r->prot & PROT_EXEC) ? PMAP_X : 0) |
	       ((r->flags & VM_GUEST) ? PMAP_VISIBLE : 0);
}

/*
 * User mappings end one page below USER_TOP: a SYSCALL in the last canonical page would return
 * to a non-canonical RIP, which SYSRET turns into a #GP in ring 0.
 */
#define VM_USER_END (USER_TOP - PAGE_SIZE)

static bool user_range_valid(u64 start, u64 len)
{
	return len && IS_ALIGNED(start, PAGE_SIZE) && start + len > start && start + len <= VM_USER_END;
}

const struct vm_region *vm_find(const struct proc *p, u64 addr)
{
	for (unsigned i = 0; i < p->nr_regions; i++)
		if (addr >= p->regions[i].start && addr < p->regions[i].end)
			return &p->regions[i];
	return NULL;
}

static bool range_is_free(const struct proc *p, u64 start, u64 end)
{
	for (unsigned i = 0; i < p->nr_regions; i++)
		if (p->regions[i].start < end && p->regions[i].end > start)
			return false;
	return true;
}

/* The part of @r inside [start, end), with its file window moved along. */
static struct vm_region region_slice(const struct vm_region *r, u64 start, u64 end)
{
	struct vm_region s = *r;
	u64 skip;

	s.start = MAX(r->start, start);
	s.end = MIN(r->end, end);
	skip = s.start - r->start;
	s.file_off = r->file_off + skip;
	s.file_len = r->file_len > skip ? r->file_len - skip : 0;
	return s;
}

/*
 * Rebuilds the region list with [start, end) cut out of every region, the cut parts given
 * @new_prot if it is not ~0u (mprotect) or dropped (munmap), then @add inserted (mmap; may be
 * NULL). Returns -ENOMEM, changing nothing, if the result has too many regions.
 */
static int regions_rewrite(struct proc *p, u64 start, u64 end, u32 new_prot,
			   const struct vm_region *add)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->nr_regions; i++) {
		const struct vm_region *r = &p->regions[i];
		struct vm_region parts[3];
		unsigned np = 0;

		if (add && n < PROC_MAX_REGIONS && add->start < r->start &&
		    (n == 0 || scratch[n - 1].end <= add->start))
			scratch[n++] = *add, add = NULL;
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
			if (n == PROC_MAX_REGIONS)
				return -ENOMEM;
			scratch[n++] = parts[j];
		}
	}
	if (add) {
		if (n == PROC_MAX_REGIONS)
			return -ENOMEM;
		scratch[n++] = *add;
	}
	memcpy(p->regions, scratch, n * sizeof(scratch[0]));
	p->nr_regions = n;
	return 0;
}

/* How many regions are left once [start, end) is cut out of every region. */
static unsigned regions_after_cut(const struct proc *p, u64 start, u64 end)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->nr_regions; i++) {
		const struct vm_region *r = &p->regions[i];

		if (r->end <= start || r->start >= end)
			n++;
		else
			n += (r->start < start) + (r->end > end);
	}
	return n;
}

int vm_region_add(struct proc *p, const struct vm_region *r)
{
	if (!user_range_valid(r->start, r->end - r->start) || !IS_ALIGNED(r->end, PAGE_SIZE))
		return -EINVAL;
	if (!range_is_free(p, r->start, r->end))
		return -EEXIST;
	return regions_rewrite(p, r->start, r->start, ~0u, r);
}

int vm_munmap(struct proc *p, u64 addr, u64 len)
{
	int err;

	len = ALIGN_UP(len, PAGE_SIZE);
	if (!user_range_valid(addr, len))
		return -EINVAL;
	/* Check room for a split before touching the tables, so a failure changes nothing. */
	if (p->nr_regions == PROC_MAX_REGIONS) {
		const struct vm_region *r = vm_find(p, addr);
		if (r && r->start < addr && r->end > addr + len)
			return -ENOMEM;
	}
	err = pmap_unmap(&p->pmap, addr, len, free_leaf, p);
	if (err)
		return err;
	return regions_rewrite(p, addr, addr + len, ~0u, NULL);
}

int vm_mprotect(struct proc *p, u64 addr, u64 len, u32 prot)
{
	u64 end, pos;
	int err;

	len = ALIGN_UP(len, PAGE_SIZE);
	if (!user_range_valid(addr, len) || (prot & ~PROT_ALL))
		return -EINVAL;
	end = addr + len;
	/* Like Linux: the whole range must be mapped. */
	for (pos = addr; pos < end;) {
		const struct vm_region *r = vm_find(p, pos);
		if (!r)
			return -ENOMEM;
		pos = r->end;
	}
	/*
	 * Regions first: a failed table update is then undone by restoring the old list.
	 * PROT_NONE unmaps the pages, so their contents do not survive a later mprotect back.
	 */
	static struct vm_region saved[PROC_MAX_REGIONS];
	unsigned old_n = p->nr_regions;

	memcpy(saved, p->regions, sizeof(saved));
	err = regions_rewrite(p, addr, end, prot, NULL);
	if (err)
		return err;
	u32 flags = ((prot & PROT_WRITE) ? PMAP_W : 0) | ((prot & PROT_EXEC) ? PMAP_X : 0);
	if (!(prot & PROT_ALL))
		err = pmap_unmap(&p->pmap, addr, len, free_leaf, p); /* PROT_NONE: no access */
	else
		err = pmap_protect(&p->pmap, addr, len, flags);
	if (err) {
		memcpy(p->regions, saved, sizeof(saved));
		p->nr_regions = old_n;
	}
	return err;
}

/* Finds a free, @align-aligned range of @len below VM_MMAP_TOP, searching downwards. */
static u64 find_gap(const struct proc *p, u64 len, u64 align)
{
	u64 ceiling = VM_MMAP_TOP;

	for (int i = (int)p->nr_regions - 1; i >= -1; i--) {
		u64 floor = i >= 0 ? p->regions[i].end : VM_MMAP_BOTTOM;
		if (i >= 0 && p->regions[i].start >= ceiling)
			continue;
		if (ceiling >= len) {
			u64 start = ALIGN_DOWN(ceiling - len, align);
			if (start >= floor && start >= VM_MMAP_BOTTOM)
				return start;
		}
		if (i >= 0)
			ceiling = MIN(ceiling, p->regions[i].start);
	}
	return 0;
}

long vm_mmap(struct proc *p, u64 addr, u64 len, u32 prot, u32 flags, int fd, u64 off)
{
	struct vm_region r = { .prot = prot };
	u64 align = PAGE_SIZE;
	const u32 share = flags & (MAP_SHARED | MAP_PRIVATE);

	if (!len || len > VM_USER_END || (prot & ~PROT_ALL) || !IS_ALIGNED(off, PAGE_SIZE) ||
	    (share != MAP_SHARED && share != MAP_PRIVATE))
		return -EINVAL;
	len = ALIGN_UP(len, PAGE_SIZE);
	if (!(flags & MAP_ANONYMOUS)) {
		if (fd < 0 || fd >= PROC_MAX_FDS || p->fds[fd].kind != FD_MODULE)
			return fd >= 0 && fd < PROC_MAX_FDS && p->fds[fd].kind ? -EACCES : -EBADF;
		if (share == MAP_SHARED && (prot & PROT_WRITE))
			return -EACCES; /* modules are read-only files */
		const struct boot_module *m = p->fds[fd].mod;
		u64 size = m->end - m->start;
		r.flags |= VM_FILE;
		r.file = m;
		r.file_off = off;
		r.file_len = off < size ? MIN(len, size - off) : 0;
	} else if (flags & DYAD_MAP_HUGE) {
		r.flags |= VM_HUGE;
		align = len >= SZ_1G ? SZ_1G : len >= SZ_2M ? SZ_2M : PAGE_SIZE;
	}
	if (flags & DYAD_MAP_GUEST)
		r.flags |= VM_GUEST;

	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (!user_range_valid(addr, len))
			return -EINVAL;
		if (!range_is_free(p, addr, addr + len)) {
			if (flags & MAP_FIXED_NOREPLACE)
				return -EEXIST;
			/* The new region needs a slot: make sure before anything is unmapped. */
			if (regions_after_cut(p, addr, addr + len) >= PROC_MAX_REGIONS)
				return -ENOMEM;
			int err = vm_munmap(p, addr, len);
			if (err)
				return err;
		}
	} else {
		addr = ALIGN_UP(addr, align);
		if (!addr || !user_range_valid(addr, len) || addr < VM_MMAP_BOTTOM ||
		    !range_is_free(p, addr, addr + len))
			addr = find_gap(p, len, align);
		if (!addr)
			return -ENOMEM;
	}
	r.start = addr;
	r.end = addr + len;
	int err = regions_rewrite(p, addr, addr, ~0u, &r);
	return err ? err : (long)addr;
}

u64 vm_brk(struct proc *p, u64 new_brk)
{
	u64 old_end = ALIGN_UP(p->brk, PAGE_SIZE), new_end = ALIGN_UP(new_brk, PAGE_SIZE);

	if (new_brk < p->brk_start || new_brk > VM_USER_END)
		return p->brk;
	if (new_end > old_end) {
		if (!range_is_free(p, old_end, new_end))
			return p->brk;
		struct vm_region heap = { .start = old_end, .end = new_end,
					  .prot = PROT_READ | PROT_WRITE, .flags = VM_HEAP };
		/* Grow the heap region in place when there is one ending here. */
		for (unsigned i = 0; i < p->nr_regions; i++) {
			if ((p->regions[i].flags & VM_HEAP) && p->regions[i].end == old_end) {
				p->regions[i].end = new_end;
				p->brk = new_brk;
				return new_brk;
			}
		}
		if (vm_region_add(p, &heap))
			return p->brk;
	} else if (new_end < old_end && vm_munmap(p, new_end, old_end - new_end)) {
		return p->brk;
	}
	p->brk = new_brk;
	return new_brk;
}

/* Fills a new frame for @va of @r: file bytes where the region has them, zeros elsewhere. */
static void fill_frame(const struct vm_region *r, u64 va, paddr_t pa, u64 size)
{
	u8 *dst = pmem_va(pa);
	u64 file_end = r->start + r->file_len;

	memset(dst, 0, size);
	if (!(r->flags & VM_FILE) || va >= file_end)
		return;
	u64 n = MIN(size, file_end - va);
	memcpy(dst, (const u8 *)pmem_va(r->file->start) + r->file_off + (va - r->start), n);
}

bool vm_fault(struct proc *p, u64 addr, u64 err)
{
	static const u64 huge_sizes[] = { SZ_1G, SZ_2M, SZ_4K };
	const struct vm_region *r = vm_find(p, addr);

	if (!r || (err & PF_P) || (err & PF_RSVD) || !(r->prot & PROT_ALL) ||
	    (r->flags & VM_FRAME))
		return false;
	if (((err & PF_W) && !(r->prot & PROT_WRITE)) || ((err & PF_I) && !(r->prot & PROT_EXEC)))
		return false;

	/*
	 * Huge regions try the largest block that fits the region and that the pmap can map as
	 * one page (CPU and EPT capabilities), then smaller ones. One fault maps one page.
	 */
	u32 flags = region_pmap_flags(r);
	for (unsigned i = (r->flags & VM_HUGE) ? 0 : 2; i < ARRAY_SIZE(huge_sizes); i++) {
		u64 size = huge_sizes[i], base = ALIGN_DOWN(addr, size);
		if (base < r->start || base + size > r->end ||
		    !pmap_page_size_ok(&p->pmap, size, flags))
			continue;
		paddr_t pa = pmem_alloc(order_of(size));
		if (!pa)
			continue;
		fill_frame(r, base, pa, size);
		int e = pmap_map_page(&p->pmap, base, pa, size, flags);
		if (e == 0) {
			p->page_faults++;
			return true;
		}
		pmem_free(pa, order_of(size)); /* -EEXIST: part of it is mapped already; go smaller */
	}
	return false;
}

long vm_map_frame(struct proc *p, u64 addr, u32 prot, u32 flags, paddr_t pa)
{
	const u32 placement = MAP_FIXED | MAP_FIXED_NOREPLACE;
	long va = vm_mmap(p, addr, PAGE_SIZE, prot, (flags & placement) | MAP_ANONYMOUS | MAP_SHARED,
			  -1, 0);

	if (va < 0)
		return va;
	struct vm_region *r = (struct vm_region *)vm_find(p, (u64)va);
	r->flags |= VM_FRAME;
	int err = pmap_map_page(&p->pmap, (u64)va, pa, PAGE_SIZE, region_pmap_flags(r));
	if (err) {
		vm_munmap(p, (u64)va, PAGE_SIZE);
		return err;
	}
	return va;
}

void vm_teardown(struct proc *p)
{
	pmap_destroy(&p->pmap, free_leaf, p);
	p->nr_regions = 0;
}
