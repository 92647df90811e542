/* SPDX-License-Identifier: MIT */
#ifndef DYAD_BUDDY_H
#define DYAD_BUDDY_H

#include <dyad/spinlock.h>
#include <dyad/types.h>

/*
 * A binary buddy allocator over physical frames, orders 0 (4 KiB) to BUDDY_MAX_ORDER (1 GiB).
 * Page-table pairs are order-1 blocks, 2 MiB pages order 9, 1 GiB pages order 18: they all
 * come from here. A block of order n is always aligned to 4 KiB << n in physical memory.
 *
 * Metadata: one struct buddy_frame (4 bytes) per 4 KiB frame, nothing else per frame. The
 * free lists are doubly linked through the first bytes of the free blocks themselves, reached
 * at pa + va_offset (the direct map in the kernel, a malloc'd arena in host tests).
 *
 * The allocator knows nothing of the machine: the same file builds for the kernel and for the
 * host unit tests.
 */
#define BUDDY_MAX_ORDER 18
#define BUDDY_NR_ORDERS (BUDDY_MAX_ORDER + 1)

/* Frame states kept in buddy_frame.flags. */
#define BUDDY_FRAME_RESERVED 0x01 /* never managed: hole, kernel image, module, metadata */
#define BUDDY_FRAME_FREE_HEAD 0x02 /* first frame of a free block of order buddy_frame.order */
#define BUDDY_FRAME_ALLOC_HEAD 0x04 /* first frame of an allocated block */

struct buddy_frame {
	u8 order;
	u8 flags;
	u16 users; /* free for later users (reference counts of shared frames) */
};

struct buddy {
	struct spinlock lock;
	struct buddy_frame *frames; /* frames[pfn] for pfn in [0, nframes) */
	u64 nframes;
	uintptr_t va_offset; /* a block at pa is accessible at (void *)(pa + va_offset) */
	paddr_t free_head[BUDDY_NR_ORDERS]; /* 0 = empty list */
	u64 nr_free_blocks[BUDDY_NR_ORDERS];
	u64 free_frames;
	u64 managed_frames; /* frames ever handed to buddy_add_range */
};

/* Prepares @b with every frame reserved. @frames must hold @nframes entries. */
void buddy_init(struct buddy *b, struct buddy_frame *frames, u64 nframes, uintptr_t va_offset);

/*
 * Gives the frames of [start, end) to the allocator; start is rounded up and end down to 4 KiB.
 * Frame 0 and frames beyond nframes are ignored. Each frame may be added once: a range that
 * holds an already added frame is refused whole, through buddy_bug. Adjacent ranges merge.
 */
void buddy_add_range(struct buddy *b, paddr_t start, paddr_t end);

/*
 * Returns a block of 4 KiB << order, aligned to its size, or 0 when none is free (or when
 * order > BUDDY_MAX_ORDER). Never returns frame 0. The contents are stale: the first 16 bytes
 * held free-list links.
 */
paddr_t buddy_alloc(struct buddy *b, unsigned order);

/*
 * Returns a block obtained from buddy_alloc with the same order; merges with free buddies.
 * Anything else (a misaligned or reserved address, another order, a block already free) is
 * reported through buddy_bug and changes nothing.
 */
void buddy_free(struct buddy *b, paddr_t pa, unsigned order);

/*
 * Frees the aligned piece of 4 KiB << order at @pa that lies inside a larger allocated block,
 * which is split into allocated halves around it (the rest stays allocated and can be freed
 * piece by piece later). With a whole block it is buddy_free. Lets a 2 MiB or 1 GiB page that
 * was partly unmapped give back just the part that went away.
 */
void buddy_free_part(struct buddy *b, paddr_t pa, unsigned order);

/* Free frames (4 KiB units). */
u64 buddy_free_frames(const struct buddy *b);

/*
 * Walks every free list and every frame and checks the invariants stated at the top of
 * kern/buddy.c. Returns NULL when they hold, else a description of the first broken one and,
 * in *@where, the physical address concerned. Takes b->lock. O(nframes): meant for tests.
 */
const char *buddy_check(struct buddy *b, paddr_t *where);

/*
 * Called when a caller breaks the allocator's contract (freeing a misaligned address, a block
 * with the wrong order, a free block, a reserved frame; adding a frame twice) or the free lists
 * are found corrupt. The kernel's (kern/buddy_bug.c) panics; host tests define one that records the
 * call and returns. If it returns, the offending request is dropped and the state is unchanged.
 */
void buddy_bug(const char *msg, paddr_t pa);

/* Bytes of per-frame metadata the allocator needs to manage @nframes frames. */
static inline u64 buddy_metadata_bytes(u64 nframes)
{
	return nframes * sizeof(struct buddy_frame);
}

#endif
