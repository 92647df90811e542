/* SPDX-License-Identifier: MIT */
/*
 * In-kernel tests of the buddy allocator on real RAM, through the kernel's allocator (pmem)
 * and the direct map. The host tests (tests/unit/test_buddy.c) cover the contract in depth;
 * these check that the machine's memory behaves the same way. The boot self-tests run with
 * 3 GiB, so a free, 1 GiB-aligned GiB should exist; on smaller machines orders above
 * KT_REQUIRED_ORDER are skipped with a note instead of failing.
 *
 * Every test gives back all it takes: the runner fails a test that changes pmem_free_frames().
 */
#include <dyad/buddy.h>
#include <dyad/ktest.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>

/* 2 MiB: a kernel that cannot find one free block of this order has lost its memory. */
#define KT_REQUIRED_ORDER 9

#define KT_PATTERN 0x5a17b0ddc0ffee00ULL

/* Writes a pattern to the first and last words of the block and reads it back. */
static bool block_holds_pattern(paddr_t pa, unsigned order)
{
	volatile u64 *first = pmem_va(pa);
	volatile u64 *last = pmem_va(pa + (PAGE_SIZE << order) - sizeof(u64));

	*first = KT_PATTERN ^ pa;
	*last = ~(KT_PATTERN ^ pa);
	return *first == (KT_PATTERN ^ pa) && *last == ~(KT_PATTERN ^ pa);
}

/* The largest order pmem_alloc can satisfy right now, or -1; leaves the count unchanged. */
static int largest_free_order(void)
{
	int order;
	paddr_t pa;

	for (order = BUDDY_MAX_ORDER; order >= 0; order--) {
		pa = pmem_alloc(order);
		if (pa) {
			pmem_free(pa, order);
			return order;
		}
	}
	return -1;
}

KTEST(buddy_every_order_is_aligned_and_usable)
{
	unsigned order;
	paddr_t pa;

	for (order = 0; order <= BUDDY_MAX_ORDER; order++) {
		pa = pmem_alloc(order);
		if (!pa && order <= KT_REQUIRED_ORDER) {
			ktest_fail(kt, __FILE__, __LINE__, "order %u: no free block", order);
			continue;
		}
		if (!pa) {
			printf("# skip order %u: no free block\n", order);
			continue;
		}
		KT_EXPECT(kt, IS_ALIGNED(pa, PAGE_SIZE << order), "order %u: pa %#llx", order,
			  (unsigned long long)pa);
		KT_EXPECT(kt, block_holds_pattern(pa, order), "order %u: pa %#llx", order,
			  (unsigned long long)pa);
		pmem_free(pa, order);
	}
}

/*
 * Freeing every block of a mixed allocation must merge back to the same free memory: the same
 * count and the same largest block (the merged decomposition of a free set is unique).
 */
KTEST(buddy_split_and_merge_restore_free_memory)
{
	u64 before = pmem_free_frames(), taken = 0;
	int top = largest_free_order();
	paddr_t pa[2 * (KT_REQUIRED_ORDER + 1)];
	unsigned i, order;

	KT_ASSERT(kt, top >= KT_REQUIRED_ORDER, "largest free order %d", top);
	for (i = 0; i < ARRAY_SIZE(pa); i++) {
		order = i % (KT_REQUIRED_ORDER + 1); /* 0..9, twice */
		pa[i] = pmem_alloc(order);
		KT_EXPECT(kt, pa[i] != 0, "order %u", order);
		taken += pa[i] ? 1ULL << order : 0;
	}
	KT_EXPECT(kt, pmem_free_frames() == before - taken, "free %llu, expected %llu",
		  (unsigned long long)pmem_free_frames(), (unsigned long long)(before - taken));
	for (i = 0; i < ARRAY_SIZE(pa); i += 2) /* even slots first, then odd: not LIFO */
		if (pa[i])
			pmem_free(pa[i], i % (KT_REQUIRED_ORDER + 1));
	for (i = 1; i < ARRAY_SIZE(pa); i += 2)
		if (pa[i])
			pmem_free(pa[i], i % (KT_REQUIRED_ORDER + 1));
	KT_EXPECT(kt, pmem_free_frames() == before, "free %llu, expected %llu",
		  (unsigned long long)pmem_free_frames(), (unsigned long long)before);
	KT_EXPECT(kt, largest_free_order() == top, "largest order %d, expected %d",
		  largest_free_order(), top);
}

/* An exhausted block remembers the one taken before it, so the test needs no other memory. */
struct held_block {
	paddr_t next;
	u32 order;
};

/* Takes every free frame, largest blocks first; returns the list of blocks taken. */
static paddr_t take_everything(u64 *nblocks)
{
	struct held_block *h;
	paddr_t list = 0, pa;
	int order;

	for (order = BUDDY_MAX_ORDER; order >= 0; order--) {
		while ((pa = pmem_alloc(order)) != 0) {
			h = pmem_va(pa);
			h->next = list;
			h->order = order;
			list = pa;
			(*nblocks)++;
		}
	}
	return list;
}

static void give_back(paddr_t list)
{
	struct held_block *h;
	paddr_t next;

	for (; list; list = next) {
		h = pmem_va(list);
		next = h->next; /* read before pmem_free reuses the block's first bytes */
		pmem_free(list, h->order);
	}
}

KTEST(buddy_exhaustion_returns_zero_and_free_restores_count)
{
	u64 before = pmem_free_frames(), nblocks = 0, left;
	paddr_t list = take_everything(&nblocks);
	paddr_t extra = pmem_alloc(0);

	left = pmem_free_frames();
	if (extra)
		pmem_free(extra, 0);
	give_back(list);
	/* Report only now: nothing may need memory while none is left. */
	printf("# took %llu frames in %llu blocks\n", (unsigned long long)(before - left),
	       (unsigned long long)nblocks);
	KT_EXPECT(kt, extra == 0, "pmem_alloc(0) after exhaustion gave %#llx",
		  (unsigned long long)extra);
	KT_EXPECT(kt, left == 0, "%llu frames free after exhaustion", (unsigned long long)left);
	KT_EXPECT(kt, pmem_free_frames() == before, "free %llu after giving back, expected %llu",
		  (unsigned long long)pmem_free_frames(), (unsigned long long)before);
}
