/* SPDX-License-Identifier: MIT */
/*
 * Host tests of kern/buddy.c. Physical memory is an anonymous mapping (MAP_NORESERVE, so a
 * 2 GiB arena costs only the pages whose free-list links are written) placed at a fake
 * physical base; va_offset turns one into the other. After every test, buddy_check() must
 * find the invariants intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <dyad/buddy.h>

#define SZ_64M (64ULL << 20)
#define FRAMES(bytes) ((u64)(bytes) >> PAGE_SHIFT)

/* ---- buddy_bug: a failure unless the test said it expects one ---- */

static bool bug_expected;
static unsigned bug_calls;
static const char *bug_msg;

void buddy_bug(const char *msg, paddr_t pa)
{
	if (!bug_expected)
		fail_msg("unexpected buddy_bug: %s (pa %#llx)", msg, (unsigned long long)pa);
	bug_calls++;
	bug_msg = msg;
}

/* ---- arenas ---- */

struct arena {
	struct buddy b;
	struct buddy_frame *frames;
	u8 *mem;
	paddr_t base;
	u64 size;
	void *scratch; /* a test's own bookkeeping, freed with the arena */
};

/* The arenas of the running test; teardown frees those a failed assertion left behind. */
static struct arena *arenas[2];

/* Maps @size bytes standing for physical [base, base + size); frames cover [0, base + size). */
static struct arena *arena_new(paddr_t base, u64 size)
{
	struct arena *a = calloc(1, sizeof(*a));
	u64 nframes = FRAMES(base + size);
	size_t i;

	assert_non_null(a);
	a->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(a->mem != MAP_FAILED);
	a->frames = calloc(nframes, sizeof(*a->frames));
	assert_non_null(a->frames);
	a->base = base;
	a->size = size;
	buddy_init(&a->b, a->frames, nframes, (uintptr_t)a->mem - base);
	for (i = 0; arenas[i]; i++)
		assert_true(i + 1 < ARRAY_SIZE(arenas));
	arenas[i] = a;
	return a;
}

static struct arena *arena_new_full(paddr_t base, u64 size)
{
	struct arena *a = arena_new(base, size);

	buddy_add_range(&a->b, base, base + size);
	return a;
}

static void arena_destroy(struct arena *a)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(arenas); i++)
		if (arenas[i] == a)
			arenas[i] = NULL;
	munmap(a->mem, a->size);
	free(a->frames);
	free(a->scratch);
	free(a);
}

static void *arena_scratch(struct arena *a, size_t bytes)
{
	a->scratch = calloc(1, bytes);
	assert_non_null(a->scratch);
	return a->scratch;
}

static int teardown(void **state)
{
	unsigned i;

	bug_expected = false;
	for (i = 0; i < ARRAY_SIZE(arenas); i++)
		if (arenas[i])
			arena_destroy(arenas[i]);
	return 0;
}

static void assert_buddy_ok(struct arena *a)
{
	paddr_t where = 0;
	const char *err = buddy_check(&a->b, &where);

	if (err)
		fail_msg("buddy_check: %s (pa %#llx)", err, (unsigned long long)where);
}

/* The shape of the free lists: how many free blocks of each order. */
struct shape {
	u64 nr[BUDDY_NR_ORDERS];
	u64 free_frames;
};

static struct shape shape_of(const struct arena *a)
{
	struct shape s;

	memcpy(s.nr, a->b.nr_free_blocks, sizeof(s.nr));
	s.free_frames = buddy_free_frames(&a->b);
	return s;
}

static void assert_shape_eq(const struct shape *want, const struct shape *got)
{
	unsigned i;

	assert_int_equal(want->free_frames, got->free_frames);
	for (i = 0; i < BUDDY_NR_ORDERS; i++)
		if (want->nr[i] != got->nr[i])
			fail_msg("order %u: expected %llu free blocks, saw %llu", i,
				 (unsigned long long)want->nr[i], (unsigned long long)got->nr[i]);
}

static void assert_block_in_arena(const struct arena *a, paddr_t pa, unsigned order)
{
	u64 size = PAGE_SIZE << order;

	if (!pa || !IS_ALIGNED(pa, size) || pa < a->base || pa + size > a->base + a->size)
		fail_msg("order %u: block %#llx is null, misaligned or outside [%#llx, %#llx)",
			 order, (unsigned long long)pa, (unsigned long long)a->base,
			 (unsigned long long)(a->base + a->size));
}

/* ---- live allocations, for overlap checks ---- */

struct block {
	paddr_t pa;
	unsigned order;
};

static int block_cmp(const void *x, const void *y)
{
	const struct block *p = x, *q = y;

	return p->pa < q->pa ? -1 : p->pa > q->pa;
}

/* No two live blocks overlap, each is an allocated head, and free + live = managed frames. */
static void assert_live_consistent(struct arena *a, struct block *live, size_t n)
{
	u64 frames = 0;
	size_t i;

	qsort(live, n, sizeof(*live), block_cmp);
	for (i = 0; i < n; i++) {
		const struct buddy_frame *f = &a->frames[FRAMES(live[i].pa)];

		if (i + 1 < n && live[i].pa + (PAGE_SIZE << live[i].order) > live[i + 1].pa)
			fail_msg("blocks %#llx (order %u) and %#llx overlap",
				 (unsigned long long)live[i].pa, live[i].order,
				 (unsigned long long)live[i + 1].pa);
		assert_int_equal(f->flags, BUDDY_FRAME_ALLOC_HEAD);
		assert_int_equal(f->order, live[i].order);
		frames += 1ULL << live[i].order;
	}
	assert_int_equal(frames + buddy_free_frames(&a->b), a->b.managed_frames);
	assert_buddy_ok(a);
}

/* ---- tests ---- */

/* 2 GiB at 1 GiB: two order-18 blocks, enough for one block of every order at once. */
static void every_order_allocates_a_block_aligned_to_its_size(void **state)
{
	struct arena *a = arena_new_full(SZ_1G, 2 * SZ_1G);
	struct shape before = shape_of(a), after;
	struct block live[BUDDY_NR_ORDERS];
	unsigned order;

	assert_int_equal(before.nr[BUDDY_MAX_ORDER], 2);
	for (order = 0; order <= BUDDY_MAX_ORDER; order++) {
		live[order].order = order;
		live[order].pa = buddy_alloc(&a->b, order);
		assert_block_in_arena(a, live[order].pa, order);
	}
	assert_live_consistent(a, live, BUDDY_NR_ORDERS);
	for (order = 0; order <= BUDDY_MAX_ORDER; order++)
		buddy_free(&a->b, live[order].pa, live[order].order);
	after = shape_of(a);
	assert_shape_eq(&before, &after);
	assert_buddy_ok(a);
	arena_destroy(a);
}

/* A mix of orders split the one top block; freeing in a scrambled order merges it back. */
static void split_then_free_all_restores_one_top_order_block(void **state)
{
	struct arena *a = arena_new_full(SZ_1G, SZ_64M);
	struct shape before = shape_of(a), after;
	struct block live[400];
	size_t n = 0, i;

	assert_int_equal(before.nr[14], 1);
	assert_int_equal(before.free_frames, FRAMES(SZ_64M));
	for (i = 0; i < ARRAY_SIZE(live); i++) {
		unsigned order = (i * 7) % 8; /* 0..7 interleaved, 12750 of 16384 frames */

		live[n].order = order;
		live[n].pa = buddy_alloc(&a->b, order);
		assert_block_in_arena(a, live[n].pa, order);
		n++;
	}
	assert_live_consistent(a, live, n);
	for (i = 0; i < n; i++) /* a permutation: 7 and 400 are coprime */
		buddy_free(&a->b, live[(i * 7) % n].pa, live[(i * 7) % n].order);
	after = shape_of(a);
	assert_shape_eq(&before, &after);
	assert_int_equal(a->b.free_head[14], SZ_1G);
	assert_buddy_ok(a);
	arena_destroy(a);
}

/* At each order: allocate until 0, then every order reports 0; freeing restores the shape. */
static void exhaustion_returns_zero_at_every_order_and_free_restores(void **state)
{
	struct arena *a = arena_new_full(SZ_1G, SZ_64M);
	struct shape before = shape_of(a), after;
	paddr_t *pas = arena_scratch(a, (FRAMES(SZ_64M) + 1) * sizeof(*pas)); /* + the last 0 */
	unsigned order, k;
	u64 n, i;

	for (order = 0; order <= BUDDY_MAX_ORDER; order++) {
		for (n = 0; (pas[n] = buddy_alloc(&a->b, order)) != 0; n++)
			assert_block_in_arena(a, pas[n], order);
		assert_int_equal(n, FRAMES(SZ_64M) >> order);
		assert_int_equal(buddy_free_frames(&a->b), FRAMES(SZ_64M) - (n << order));
		for (k = n ? 0 : order; k <= BUDDY_MAX_ORDER + 1; k++) /* all, once exhausted */
			assert_int_equal(buddy_alloc(&a->b, k), 0);
		assert_buddy_ok(a);
		for (i = 0; i < n; i++)
			buddy_free(&a->b, pas[i], order);
		after = shape_of(a);
		assert_shape_eq(&before, &after);
	}
	arena_destroy(a);
}

/* Starts round up, ends round down, nothing outside the range is ever handed out. */
static void ranges_with_odd_ends_round_inwards(void **state)
{
	struct arena *a = arena_new(0, 16 * PAGE_SIZE);

	buddy_add_range(&a->b, 0x1234, 0x5fff); /* frames 2, 3, 4 */
	assert_int_equal(buddy_free_frames(&a->b), 3);
	assert_int_equal(a->b.nr_free_blocks[1], 1);
	assert_int_equal(a->b.nr_free_blocks[0], 1);
	buddy_add_range(&a->b, 0x8001, 0x8fff); /* no whole frame */
	buddy_add_range(&a->b, 0x9000, 0x9000); /* empty */
	buddy_add_range(&a->b, 0xa000, 0x9000); /* backwards */
	buddy_add_range(&a->b, 0xf000, 0x100000); /* frame 15, the rest is beyond nframes */
	assert_int_equal(buddy_free_frames(&a->b), 4);
	assert_buddy_ok(a);
	buddy_add_range(&a->b, 0x5000, 0x8000); /* frames 5-7 merge with 4 into an order-2 block */
	assert_int_equal(a->b.nr_free_blocks[2], 1);
	assert_int_equal(a->b.free_head[2], 0x4000);
	assert_int_equal(buddy_free_frames(&a->b), 7);
	assert_int_equal(a->b.managed_frames, 7);
	assert_buddy_ok(a);
	arena_destroy(a);
}

/* A 2 GiB range with ragged ends becomes a few dozen blocks, not half a million frames. */
static void large_range_is_added_as_maximal_blocks(void **state)
{
	struct arena *a = arena_new(0, 2 * SZ_1G);
	u64 blocks = 0;
	unsigned i;

	buddy_add_range(&a->b, 3 * PAGE_SIZE + 17, 2 * SZ_1G - 5 * PAGE_SIZE);
	assert_int_equal(buddy_free_frames(&a->b), FRAMES(2 * SZ_1G) - 4 - 5);
	for (i = 0; i < BUDDY_NR_ORDERS; i++) {
		assert_true(a->b.nr_free_blocks[i] <= 2);
		blocks += a->b.nr_free_blocks[i];
	}
	print_message("2 GiB range with ragged ends: %llu free blocks\n",
		      (unsigned long long)blocks);
	assert_int_equal(a->b.nr_free_blocks[17], 2); /* [512 MiB, 1 GiB) and [1 GiB, 1.5 GiB) */
	assert_buddy_ok(a);
	arena_destroy(a);
}

/* Frame 0 is inside the range, yet never allocated: 0 means "no memory". */
static void frame_zero_is_never_returned(void **state)
{
	struct arena *a = arena_new_full(0, 16 * PAGE_SIZE);
	unsigned i;
	paddr_t pa;

	assert_int_equal(buddy_free_frames(&a->b), 15);
	for (i = 0; i < 15; i++) {
		pa = buddy_alloc(&a->b, 0);
		assert_true(pa >= PAGE_SIZE && pa < 16 * PAGE_SIZE);
	}
	assert_int_equal(buddy_alloc(&a->b, 0), 0);
	assert_int_equal(a->frames[0].flags, BUDDY_FRAME_RESERVED);
	assert_buddy_ok(a);
	arena_destroy(a);
}

/* Calls buddy_free(@pa, @order), which must report one bug and change nothing. */
static void assert_free_rejected(struct arena *a, paddr_t pa, unsigned order, const char *what)
{
	struct shape before = shape_of(a), after;

	bug_expected = true;
	bug_calls = 0;
	buddy_free(&a->b, pa, order);
	bug_expected = false;
	if (bug_calls != 1)
		fail_msg("%s: expected one buddy_bug, saw %u", what, bug_calls);
	print_message("%s -> %s\n", what, bug_msg);
	after = shape_of(a);
	assert_shape_eq(&before, &after);
	assert_buddy_ok(a);
}

static void double_free_is_reported_and_changes_nothing(void **state)
{
	struct arena *a = arena_new_full(SZ_1G, SZ_64M);
	paddr_t x = buddy_alloc(&a->b, 0), y = buddy_alloc(&a->b, 0);
	paddr_t big = buddy_alloc(&a->b, 3);

	assert_int_equal(x ^ y, PAGE_SIZE); /* buddies */
	buddy_free(&a->b, x, 0);
	assert_free_rejected(a, x, 0, "double free, block still a free head");
	buddy_free(&a->b, y, 0);
	assert_free_rejected(a, y, 0, "double free, block merged with its buddy");
	buddy_free(&a->b, big, 3);
	assert_free_rejected(a, big, 3, "double free, block merged up to the top order");
	assert_int_equal(a->b.nr_free_blocks[14], 1);
	arena_destroy(a);
}

static void bad_frees_are_reported_and_change_nothing(void **state)
{
	struct arena *a = arena_new(SZ_1G, SZ_64M);
	paddr_t blk;

	buddy_add_range(&a->b, SZ_1G + SZ_2M, SZ_1G + SZ_64M); /* the first 2 MiB stay reserved */
	blk = buddy_alloc(&a->b, 2);
	assert_block_in_arena(a, blk, 2);
	assert_free_rejected(a, blk + PAGE_SIZE, 0, "tail frame of a block");
	assert_free_rejected(a, blk + 0x10, 2, "misaligned address");
	assert_free_rejected(a, blk, 1, "smaller order");
	assert_free_rejected(a, blk, 3, "larger order");
	assert_free_rejected(a, blk, BUDDY_MAX_ORDER + 1, "order out of range");
	assert_free_rejected(a, SZ_1G, 0, "reserved frame");
	assert_free_rejected(a, PAGE_SIZE, 0, "reserved frame below the arena");
	assert_free_rejected(a, 0, 0, "address 0");
	assert_free_rejected(a, SZ_1G + SZ_64M, 0, "beyond nframes");
	buddy_free(&a->b, blk, 2);
	assert_buddy_ok(a);
	arena_destroy(a);
}

/* A 2 MiB block freed in pieces (a partly unmapped huge page) comes back whole. */
static void free_part_splits_a_block_and_pieces_merge_back(void **state)
{
	struct arena *a = arena_new_full(SZ_1G, SZ_64M);
	struct shape before = shape_of(a), after;
	paddr_t blk = buddy_alloc(&a->b, 9);
	u64 free0 = buddy_free_frames(&a->b);

	assert_block_in_arena(a, blk, 9);
	buddy_free_part(&a->b, blk + 5 * PAGE_SIZE, 0);
	assert_int_equal(buddy_free_frames(&a->b), free0 + 1);
	assert_buddy_ok(a);
	buddy_free_part(&a->b, blk + 256 * PAGE_SIZE, 8); /* the upper half at once */
	assert_int_equal(buddy_free_frames(&a->b), free0 + 257);
	assert_buddy_ok(a);

	bug_expected = true;
	bug_calls = 0;
	buddy_free_part(&a->b, blk + 5 * PAGE_SIZE, 0); /* already free */
	buddy_free_part(&a->b, blk + 300 * PAGE_SIZE, 0); /* inside the freed half */
	buddy_free_part(&a->b, blk + PAGE_SIZE, 1); /* misaligned for order 1 */
	bug_expected = false;
	assert_int_equal(bug_calls, 3);
	assert_int_equal(buddy_free_frames(&a->b), free0 + 257);

	for (u64 i = 0; i < 256; i++)
		if (i != 5)
			buddy_free_part(&a->b, blk + i * PAGE_SIZE, 0);
	after = shape_of(a);
	assert_shape_eq(&before, &after);
	assert_buddy_ok(a);
	arena_destroy(a);
}

static void adding_a_frame_twice_is_reported_and_changes_nothing(void **state)
{
	struct arena *a = arena_new(SZ_1G, SZ_64M);
	struct shape before, after;

	buddy_add_range(&a->b, SZ_1G, SZ_1G + SZ_2M);
	before = shape_of(a);
	bug_expected = true;
	bug_calls = 0;
	/* Overlaps the first range by one frame. */
	buddy_add_range(&a->b, SZ_1G + SZ_2M - PAGE_SIZE, SZ_1G + SZ_64M);
	bug_expected = false;
	assert_int_equal(bug_calls, 1);
	after = shape_of(a);
	assert_shape_eq(&before, &after);
	assert_int_equal(a->b.managed_frames, FRAMES(SZ_2M));
	assert_buddy_ok(a);
	arena_destroy(a);
}


/* Small orders are common, large ones rare: order k with probability about 2^-(k+1). */
static unsigned random_order(void)
{
	u64 r = rnd() | BIT(BUDDY_MAX_ORDER);

	return MIN((unsigned)__builtin_ctzll(r), 12);
}

#define STRESS_OPS 40000
#define STRESS_MAX_LIVE 4096

/* Each live block carries its own address in its first word: the allocator must not touch it. */
static void stress_step(struct arena *a, struct block *live, size_t *n)
{
	bool do_alloc = *n == 0 || (*n < STRESS_MAX_LIVE && rnd() % 100 < 55);
	u64 *tag;
	size_t i;

	if (do_alloc) {
		unsigned order = random_order();
		paddr_t pa = buddy_alloc(&a->b, order);

		if (!pa)
			return;
		assert_block_in_arena(a, pa, order);
		*(u64 *)(uintptr_t)(pa + a->b.va_offset) = pa;
		live[(*n)++] = (struct block){ pa, order };
		return;
	}
	i = rnd() % *n;
	tag = (u64 *)(uintptr_t)(live[i].pa + a->b.va_offset);
	if (*tag != live[i].pa)
		fail_msg("allocated block %#llx was overwritten", (unsigned long long)live[i].pa);
	buddy_free(&a->b, live[i].pa, live[i].order);
	live[i] = live[--*n];
}

static void random_alloc_free_keeps_invariants(void **state)
{
	/* Ragged ends and a hole, so blocks of many orders border reserved frames. */
	struct arena *a = arena_new(SZ_1G, SZ_64M);
	struct block *live = arena_scratch(a, STRESS_MAX_LIVE * sizeof(*live));
	struct shape before, after;
	size_t n = 0;
	unsigned op;

	buddy_add_range(&a->b, SZ_1G + 3 * PAGE_SIZE, SZ_1G + 21 * SZ_2M + 5 * PAGE_SIZE);
	buddy_add_range(&a->b, SZ_1G + 23 * SZ_2M, SZ_1G + SZ_64M - 7 * PAGE_SIZE);
	before = shape_of(a);
	rnd_seed_from_env("BUDDY_SEED");
	for (op = 0; op < STRESS_OPS; op++) {
		stress_step(a, live, &n);
		if (op % 1000 == 999)
			assert_live_consistent(a, live, n);
	}
	assert_live_consistent(a, live, n);
	while (n--)
		buddy_free(&a->b, live[n].pa, live[n].order);
	after = shape_of(a);
	assert_shape_eq(&before, &after);
	assert_buddy_ok(a);
	arena_destroy(a);
}

/* buddy_check must report something; prints what, so the message can be judged. */
static void assert_check_catches(struct arena *a, const char *what)
{
	paddr_t where = 0;
	const char *err = buddy_check(&a->b, &where);

	if (!err)
		fail_msg("buddy_check missed: %s", what);
	print_message("%s -> %s (pa %#llx)\n", what, err, (unsigned long long)where);
}

/* The checker is only worth running if it fails on broken state: break one thing at a time. */
static void checker_detects_each_broken_invariant(void **state)
{
	struct arena *a = arena_new_full(SZ_1G, SZ_64M);
	paddr_t x = buddy_alloc(&a->b, 0), y = buddy_alloc(&a->b, 0);
	struct buddy_frame *tail = &a->frames[FRAMES(SZ_1G) + 9], saved;
	paddr_t *link = (paddr_t *)(uintptr_t)(SZ_1G + 2 * PAGE_SIZE + a->b.va_offset);

	assert_buddy_ok(a);
	saved = *tail;
	tail->flags = BUDDY_FRAME_ALLOC_HEAD; /* inside the free order-3 block at +32 KiB */
	assert_check_catches(a, "overlapping block");
	*tail = saved;
	link[1] = SZ_1G; /* prev of the order-1 free block at +8 KiB */
	assert_check_catches(a, "broken prev link");
	link[1] = 0;
	a->b.free_frames++;
	assert_check_catches(a, "free_frames off by one");
	a->b.free_frames--;
	a->frames[FRAMES(x)].flags = 0;
	assert_check_catches(a, "leaked block");
	a->frames[FRAMES(x)].flags = BUDDY_FRAME_FREE_HEAD;
	assert_check_catches(a, "free head on no list");
	a->frames[FRAMES(x)].flags = BUDDY_FRAME_ALLOC_HEAD;
	assert_buddy_ok(a);
	buddy_free(&a->b, x, 0);
	buddy_free(&a->b, y, 0);
	assert_buddy_ok(a);
	arena_destroy(a);
}

static void metadata_per_gib_is_at_most_2mib(void **state)
{
	u64 bytes = buddy_metadata_bytes(FRAMES(SZ_1G));

	print_message("buddy metadata: %llu bytes per GiB of RAM (%zu bytes per 4 KiB frame)\n",
		      (unsigned long long)bytes, sizeof(struct buddy_frame));
	assert_int_equal(sizeof(struct buddy_frame), 4);
	assert_int_equal(bytes, 262144 * sizeof(struct buddy_frame));
	assert_true(bytes <= 2 * 1024 * 1024);
}

/* Every test ends in teardown, which frees what a failed assertion left behind. */
#define TEST(fn) cmocka_unit_test_teardown(fn, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(every_order_allocates_a_block_aligned_to_its_size),
		TEST(split_then_free_all_restores_one_top_order_block),
		TEST(exhaustion_returns_zero_at_every_order_and_free_restores),
		TEST(ranges_with_odd_ends_round_inwards),
		TEST(large_range_is_added_as_maximal_blocks),
		TEST(frame_zero_is_never_returned),
		TEST(double_free_is_reported_and_changes_nothing),
		TEST(bad_frees_are_reported_and_change_nothing),
		TEST(free_part_splits_a_block_and_pieces_merge_back),
		TEST(adding_a_frame_twice_is_reported_and_changes_nothing),
		TEST(random_alloc_free_keeps_invariants),
		TEST(checker_detects_each_broken_invariant),
		TEST(metadata_per_gib_is_at_most_2mib),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
