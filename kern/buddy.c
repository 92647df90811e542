/* SPDX-License-Identifier: MIT */
/*
 * The binary buddy allocator described in include/dyad/buddy.h.
 *
 * Invariants (buddy_check() is their executable form):
 *  1. Every frame is in exactly one of three states:
 *     - reserved (flags == RESERVED): never given to buddy_add_range. Frame 0 always is, so a
 *       physical address of 0 can mean "none", both as a result of buddy_alloc and as a link;
 *     - a block head (flags == FREE_HEAD or ALLOC_HEAD, order n): its pfn is a multiple of
 *       2^n and the block's 2^n frames all lie below nframes;
 *     - a tail (flags == 0): one of the 2^n - 1 frames that follow a head of order n.
 *  2. Free list n holds every free head of order n exactly once, and nothing else;
 *     nr_free_blocks[n] is its length and free_frames is the sum of nr_free_blocks[n] << n.
 *  3. No free block of order n < BUDDY_MAX_ORDER has a buddy that is a free head of order n:
 *     freeing merges them at once, and splitting never leaves two free halves.
 *
 * A free block's first 16 bytes, at pa + va_offset, hold its struct buddy_link. Links are
 * physical addresses, so removal from the middle of a list is O(1) and the lists mean the
 * same thing under any mapping. Allocated blocks are never touched.
 */
#include <dyad/buddy.h>

struct buddy_link {
	paddr_t next; /* 0 = last */
	paddr_t prev; /* 0 = first: free_head[order] points here */
};

static inline u64 pfn_of(paddr_t pa)
{
	return pa >> PAGE_SHIFT;
}

static inline paddr_t pa_of(u64 pfn)
{
	return pfn << PAGE_SHIFT;
}

static inline struct buddy_link *link_at(const struct buddy *b, paddr_t pa)
{
	return (struct buddy_link *)(uintptr_t)(pa + b->va_offset);
}

static bool is_free_head(const struct buddy *b, u64 pfn, unsigned order)
{
	return pfn < b->nframes && b->frames[pfn].flags == BUDDY_FRAME_FREE_HEAD &&
	       b->frames[pfn].order == order;
}

/* Puts the block at @pa, whose frames all have flags 0, at the front of free list @order. */
static void list_push(struct buddy *b, paddr_t pa, unsigned order)
{
	struct buddy_link *l = link_at(b, pa);
	paddr_t head = b->free_head[order];

	l->next = head;
	l->prev = 0;
	if (head)
		link_at(b, head)->prev = pa;
	b->free_head[order] = pa;
	b->nr_free_blocks[order]++;
	b->frames[pfn_of(pa)].order = order;
	b->frames[pfn_of(pa)].flags = BUDDY_FRAME_FREE_HEAD;
}

/* Unlinks the free head at @pa from list @order; its head frame is left with flags 0. */
static void list_remove(struct buddy *b, paddr_t pa, unsigned order)
{
	struct buddy_link *l = link_at(b, pa);

	if (l->prev)
		link_at(b, l->prev)->next = l->next;
	else
		b->free_head[order] = l->next;
	if (l->next)
		link_at(b, l->next)->prev = l->prev;
	b->nr_free_blocks[order]--;
	b->frames[pfn_of(pa)].flags = 0;
}

/*
 * Frees the block at @pfn of @order, whose frames all have flags 0, merging it with its buddy
 * for as long as the buddy is a free head of the same order (invariant 3). Caller holds lock.
 */
static void free_block(struct buddy *b, u64 pfn, unsigned order)
{
	b->free_frames += 1ULL << order;
	while (order < BUDDY_MAX_ORDER) {
		u64 buddy = pfn ^ (1ULL << order);

		if (!is_free_head(b, buddy, order))
			break;
		list_remove(b, pa_of(buddy), order);
		pfn &= ~(1ULL << order); /* the merged block starts at the lower half */
		order++;
	}
	list_push(b, pa_of(pfn), order);
}

void buddy_init(struct buddy *b, struct buddy_frame *frames, u64 nframes, uintptr_t va_offset)
{
	u64 i;

	spin_init(&b->lock);
	b->frames = frames;
	b->nframes = nframes;
	b->va_offset = va_offset;
	for (i = 0; i < nframes; i++)
		frames[i] = (struct buddy_frame){ .order = 0, .flags = BUDDY_FRAME_RESERVED };
	for (i = 0; i < BUDDY_NR_ORDERS; i++) {
		b->free_head[i] = 0;
		b->nr_free_blocks[i] = 0;
	}
	b->free_frames = 0;
	b->managed_frames = 0;
}

/* The largest order of a block that starts at @pfn and ends at or before @end. */
static unsigned largest_block(u64 pfn, u64 end)
{
	unsigned order = BUDDY_MAX_ORDER;

	if (pfn)
		order = MIN((unsigned)__builtin_ctzll(pfn), BUDDY_MAX_ORDER);
	while (pfn + (1ULL << order) > end)
		order--;
	return order;
}

/* Returns the first frame of [first, end) that is not reserved, or @end. */
static u64 first_managed(const struct buddy *b, u64 first, u64 end)
{
	while (first < end && (b->frames[first].flags & BUDDY_FRAME_RESERVED))
		first++;
	return first;
}

/*
 * Frees [start, end) as maximal aligned blocks: O(frames) for the flags, then O(log) per
 * block, and only a handful of blocks per range, each merged with neighbours added before.
 */
void buddy_add_range(struct buddy *b, paddr_t start, paddr_t end)
{
	u64 first = pfn_of(start) + !IS_ALIGNED(start, PAGE_SIZE); /* rounds up, cannot wrap */
	u64 last = pfn_of(end);
	u64 pfn, bad = 0;
	unsigned order;

	first = MAX(first, 1); /* frame 0 stays reserved: pa 0 means "none" */
	last = MIN(last, b->nframes);
	if (first >= last)
		return;
	spin_lock(&b->lock);
	bad = first_managed(b, first, last);
	if (bad == last) {
		for (pfn = first; pfn < last; pfn++)
			b->frames[pfn].flags = 0;
		b->managed_frames += last - first;
		for (pfn = first; pfn < last; pfn += 1ULL << order) {
			order = largest_block(pfn, last);
			free_block(b, pfn, order);
		}
	}
	spin_unlock(&b->lock);
	if (bad != last)
		buddy_bug("buddy_add_range: frame added twice", pa_of(bad));
}

paddr_t buddy_alloc(struct buddy *b, unsigned order)
{
	paddr_t pa = 0;
	unsigned k;

	if (order > BUDDY_MAX_ORDER)
		return 0;
	spin_lock(&b->lock);
	for (k = order; k <= BUDDY_MAX_ORDER && !b->free_head[k]; k++)
		;
	if (k <= BUDDY_MAX_ORDER) {
		pa = b->free_head[k];
		if (!IS_ALIGNED(pa, PAGE_SIZE << k) || !is_free_head(b, pfn_of(pa), k)) {
			spin_unlock(&b->lock);
			buddy_bug("buddy_alloc: free list corrupt", pa);
			return 0;
		}
		list_remove(b, pa, k);
		while (k > order) { /* keep the lower half, free the upper one */
			k--;
			list_push(b, pa + (PAGE_SIZE << k), k);
		}
		b->frames[pfn_of(pa)].order = order;
		b->frames[pfn_of(pa)].flags = BUDDY_FRAME_ALLOC_HEAD;
		b->free_frames -= 1ULL << order;
	}
	spin_unlock(&b->lock);
	return pa;
}

/* Says why (@pa, @order) is not a block that buddy_alloc handed out, or NULL if it is one. */
static const char *free_error(const struct buddy *b, paddr_t pa, unsigned order)
{
	const struct buddy_frame *f;

	if (order > BUDDY_MAX_ORDER)
		return "buddy_free: order out of range";
	if (!pa)
		return "buddy_free: address 0 is never allocated";
	if (!IS_ALIGNED(pa, PAGE_SIZE << order))
		return "buddy_free: address not aligned to the block size";
	if (pfn_of(pa) >= b->nframes)
		return "buddy_free: address beyond the managed frames";
	f = &b->frames[pfn_of(pa)];
	if (f->flags & BUDDY_FRAME_RESERVED)
		return "buddy_free: reserved frame";
	if (f->flags & BUDDY_FRAME_FREE_HEAD)
		return "buddy_free: block already free";
	if (!(f->flags & BUDDY_FRAME_ALLOC_HEAD))
		return "buddy_free: not the head of an allocated block (freed and merged already?)";
	if (f->order != order)
		return "buddy_free: order differs from the one allocated";
	return NULL;
}

void buddy_free(struct buddy *b, paddr_t pa, unsigned order)
{
	const char *err;

	spin_lock(&b->lock);
	err = free_error(b, pa, order);
	if (!err) {
		b->frames[pfn_of(pa)].flags = 0;
		free_block(b, pfn_of(pa), order);
	}
	spin_unlock(&b->lock);
	if (err)
		buddy_bug(err, pa);
}

/* The head of the allocated block containing @pfn, or nframes if there is none. */
static u64 alloc_head_of(const struct buddy *b, u64 pfn)
{
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		u64 h = pfn & ~((1ULL << o) - 1);
		const struct buddy_frame *f = &b->frames[h];

		if (f->flags == BUDDY_FRAME_ALLOC_HEAD && pfn < h + (1ULL << f->order))
			return h;
		if (f->flags != 0)
			return b->nframes; /* a free or reserved head covers pfn */
	}
	return b->nframes;
}

void buddy_free_part(struct buddy *b, paddr_t pa, unsigned order)
{
	u64 pfn = pfn_of(pa), head;
	const char *err = NULL;

	spin_lock(&b->lock);
	if (order > BUDDY_MAX_ORDER || !pa || !IS_ALIGNED(pa, PAGE_SIZE << order) ||
	    pfn + (1ULL << order) > b->nframes)
		err = "buddy_free_part: bad address or order";
	else if ((head = alloc_head_of(b, pfn)) == b->nframes ||
		 b->frames[head].order < order)
		err = "buddy_free_part: not inside an allocated block of at least this order";
	if (!err) {
		/* Halve the enclosing block, keeping both halves allocated, until the piece is one. */
		for (unsigned n = b->frames[head].order; n > order; n--) {
			u64 upper = head + (1ULL << (n - 1));

			b->frames[head].order = n - 1;
			b->frames[upper] = (struct buddy_frame){ .order = n - 1,
								 .flags = BUDDY_FRAME_ALLOC_HEAD };
			if (pfn >= upper)
				head = upper;
		}
		b->frames[pfn].flags = 0;
		free_block(b, pfn, order);
	}
	spin_unlock(&b->lock);
	if (err)
		buddy_bug(err, pa);
}

u64 buddy_free_frames(const struct buddy *b)
{
	return __atomic_load_n(&b->free_frames, __ATOMIC_RELAXED);
}

/* Invariant 2, walking the lists; the flags check comes before any link is followed. */
static const char *check_lists(const struct buddy *b, paddr_t *where)
{
	u64 free = 0, n;
	paddr_t pa, prev;
	unsigned order;

	for (order = 0; order < BUDDY_NR_ORDERS; order++) {
		n = 0;
		prev = 0;
		for (pa = b->free_head[order]; pa; prev = pa, pa = link_at(b, pa)->next) {
			*where = pa;
			if (!IS_ALIGNED(pa, PAGE_SIZE << order) ||
			    !is_free_head(b, pfn_of(pa), order))
				return "free list entry is not a free head of the list's order";
			if (link_at(b, pa)->prev != prev)
				return "free list prev link does not match";
			if (++n > b->nr_free_blocks[order])
				return "free list longer than nr_free_blocks (or a cycle)";
		}
		*where = b->free_head[order];
		if (n != b->nr_free_blocks[order])
			return "free list shorter than nr_free_blocks";
		free += n << order;
	}
	*where = 0;
	if (free != b->free_frames)
		return "free_frames differs from the sum over the free lists";
	return NULL;
}

/* Invariants 1 and 3 (and the rest of 2), scanning the frames. */
static const char *check_frames(const struct buddy *b, paddr_t *where)
{
	u64 heads[BUDDY_NR_ORDERS] = { 0 };
	u64 pfn = 0, i, size, managed = 0;
	const struct buddy_frame *f;

	*where = 0;
	if (b->nframes && b->frames[0].flags != BUDDY_FRAME_RESERVED)
		return "frame 0 is managed";
	while (pfn < b->nframes) {
		f = &b->frames[pfn];
		*where = pa_of(pfn);
		if (f->flags == BUDDY_FRAME_RESERVED) {
			pfn++;
			continue;
		}
		if (f->flags != BUDDY_FRAME_FREE_HEAD && f->flags != BUDDY_FRAME_ALLOC_HEAD)
			return "managed frame outside any block (bad flags or a leaked tail)";
		size = 1ULL << f->order;
		if (f->order > BUDDY_MAX_ORDER || (pfn & (size - 1)) || pfn + size > b->nframes)
			return "block head misaligned or block beyond nframes";
		for (i = 1; i < size; i++)
			if (b->frames[pfn + i].flags)
				return "block overlaps another block or a reserved frame";
		if (f->flags == BUDDY_FRAME_FREE_HEAD) {
			heads[f->order]++;
			if (f->order < BUDDY_MAX_ORDER && is_free_head(b, pfn ^ size, f->order))
				return "free block has a free buddy of the same order";
		}
		managed += size;
		pfn += size;
	}
	*where = 0;
	if (managed != b->managed_frames)
		return "managed_frames differs from the frames in blocks";
	for (i = 0; i < BUDDY_NR_ORDERS; i++)
		if (heads[i] != b->nr_free_blocks[i])
			return "free heads and nr_free_blocks differ";
	return NULL;
}

const char *buddy_check(struct buddy *b, paddr_t *where)
{
	const char *err;

	spin_lock(&b->lock);
	err = check_lists(b, where);
	if (!err)
		err = check_frames(b, where);
	spin_unlock(&b->lock);
	return err;
}
