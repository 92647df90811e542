// SPDX-License-Identifier: MIT
/*
 * Host stand-ins for physical memory, CPU features, TLB instructions and panic(), for unit
 * tests and benchmarks of kernel modules. See pmem_shim.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <arch/x86/cpu.h>
#include <arch/x86/pmap.h>
#include <arch/x86/tlb.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>

#include "pmem_shim.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_SIZE (1ULL << 31) /* reserved, not committed */
#define ARENA_FRAMES (ARENA_SIZE >> PAGE_SHIFT)
#define SHIM_MAX_ORDER 18
#define STATE_FREE 0xff

struct cpu_features cpu_features;
struct shim_stats shim;

static u8 *arena;
static u64 bump; /* offset of the first never-used byte */
static u8 *state; /* per frame: order + 1 at the head of an allocated block, else 0 */
static paddr_t free_list[SHIM_MAX_ORDER + 1]; /* linked through the first word */
static u64 fail_countdown;

static void shim_die(const char *what, paddr_t pa, unsigned order)
{
	fprintf(stderr, "pmem shim: %s: pa %#llx order %u\n", what, (unsigned long long)pa, order);
	abort();
}

static void arena_init(void)
{
	if (arena)
		return;
	arena = mmap(NULL, ARENA_SIZE + SZ_1G, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	state = calloc(ARENA_FRAMES, 1);
	if (arena == MAP_FAILED || !state)
		shim_die("cannot reserve the arena", 0, 0);
	arena = (u8 *)ALIGN_UP((uintptr_t)arena, SZ_1G); /* any order stays aligned */
	POISON(arena, ARENA_SIZE);
}

static u64 frame_of(paddr_t pa)
{
	return ((u8 *)(uintptr_t)pa - arena) >> PAGE_SHIFT;
}

/* pmem.h: a block of 4 KiB << order from the arena, or 0 (arena full, or failure injected). */
paddr_t pmem_alloc(unsigned order)
{
	u64 size = PAGE_SIZE << order;
	paddr_t pa;

	arena_init();
	if (order > SHIM_MAX_ORDER)
		return 0;
	if (fail_countdown && --fail_countdown == 0) {
		shim.failed++;
		return 0;
	}
	if (free_list[order]) {
		pa = free_list[order];
		UNPOISON((void *)(uintptr_t)pa, size);
		free_list[order] = *(paddr_t *)(uintptr_t)pa;
	} else {
		u64 off = ALIGN_UP(bump, size);

		if (off + size > ARENA_SIZE)
			return 0;
		bump = off + size;
		pa = (paddr_t)(uintptr_t)(arena + off);
		UNPOISON((void *)(uintptr_t)pa, size);
	}
	state[frame_of(pa)] = order + 1;
	shim.allocs++;
	shim.live_blocks++;
	shim.live_frames += 1ULL << order;
#ifndef PMEM_SHIM_NO_FILL
	/*
	 * Uninitialised, visibly: tests catch a reader of fresh memory. The benchmark builds
	 * without it, since the kernel's allocator does no such fill.
	 */
	memset((void *)(uintptr_t)pa, 0xa5, size);
#endif
	return pa;
}

/* pmem.h: like pmem_alloc, zero-filled. */
paddr_t pmem_alloc_zeroed(unsigned order)
{
	paddr_t pa = pmem_alloc(order);

	if (pa)
		memset((void *)(uintptr_t)pa, 0, PAGE_SIZE << order);
	return pa;
}

/* pmem.h: returns a block; aborts unless it is allocated with this order. */
void pmem_free(paddr_t pa, unsigned order)
{
	u8 *p = (u8 *)(uintptr_t)pa;

	if (!arena || p < arena || p >= arena + ARENA_SIZE || !IS_ALIGNED(pa, PAGE_SIZE << order) ||
	    state[frame_of(pa)] != order + 1)
		shim_die("free of a block not allocated with this order", pa, order);
	state[frame_of(pa)] = 0;
	*(paddr_t *)p = free_list[order];
	free_list[order] = pa;
	POISON(p + sizeof(paddr_t), (PAGE_SIZE << order) - sizeof(paddr_t));
	shim.frees++;
	shim.live_blocks--;
	shim.live_frames -= 1ULL << order;
}

/*
 * The head of the allocated block that holds @frame, or ARENA_FRAMES if none does. Blocks are
 * aligned to their size, so the head is @frame rounded down to some order.
 */
static u64 alloc_head_of(u64 frame)
{
	for (unsigned order = 0; order <= SHIM_MAX_ORDER; order++) {
		u64 head = ALIGN_DOWN(frame, 1ULL << order);

		if (state[head] && head + (1ULL << (state[head] - 1)) > frame)
			return head;
	}
	return ARENA_FRAMES;
}

/*
 * pmem.h: frees the aligned piece [pa, pa + 4 KiB << order) of a larger allocated block, like
 * buddy_free_part: the enclosing block is halved, both halves staying allocated, until the
 * piece is a block of its own, which is then freed. Aborts unless such a block holds it.
 */
void pmem_free_part(paddr_t pa, unsigned order)
{
	u8 *p = (u8 *)(uintptr_t)pa;
	u64 frame, head;

	if (!arena || order > SHIM_MAX_ORDER || p < arena || p >= arena + ARENA_SIZE ||
	    !IS_ALIGNED(pa, PAGE_SIZE << order))
		shim_die("free_part: bad address or order", pa, order);
	frame = frame_of(pa);
	head = alloc_head_of(frame);
	if (head == ARENA_FRAMES || state[head] < order + 1)
		shim_die("free_part: not inside an allocated block of at least this order", pa,
			 order);
	for (unsigned n = state[head] - 1; n > order; n--) {
		u64 upper = head + (1ULL << (n - 1));

		state[head] = n; /* order n - 1 */
		state[upper] = n;
		shim.live_blocks++;
		if (frame >= upper)
			head = upper;
	}
	pmem_free(pa, order);
}

/* pmem.h: arena frames not allocated. */
u64 pmem_free_frames(void)
{
	return ARENA_FRAMES - shim.live_frames;
}

/* pmem.h: the identity in host builds. */
void *pmem_va(paddr_t pa)
{
	return (void *)(uintptr_t)pa;
}

/* pmem.h: the identity in host builds. */
paddr_t pmem_pa(const void *va)
{
	return (paddr_t)(uintptr_t)va;
}

/* pmem_shim.h: where the arena starts. */
paddr_t shim_arena_base(void)
{
	arena_init();
	return (paddr_t)(uintptr_t)arena;
}

/* pmem_shim.h: how many frames the arena holds. */
u64 shim_arena_frames(void)
{
	return ARENA_FRAMES;
}

/* pmem_shim.h: the n-th allocation from now fails; 0 disarms. */
void shim_fail_nth(u64 n)
{
	fail_countdown = n;
}

/* pmem_shim.h: zeroes the TLB and CR3 counters. */
void shim_tlb_reset(void)
{
	shim.invlpg = shim.flush_all = shim.invept = shim.cr3_loads = 0;
}

/* pmem_shim.h: zeroes every counter; aborts if a block is still allocated. */
void shim_reset(void)
{
	if (shim.live_blocks)
		shim_die("reset with blocks still allocated", 0, 0);
	shim = (struct shim_stats){ 0 };
	fail_countdown = 0;
}

/* pmem_shim.h: a VMX CPU with NX, 1 GiB pages and EPT 2M/1G/AD. */
void shim_cpu_full(void)
{
	cpu_features = (struct cpu_features){
		.nx = true,
		.pge = true,
		.page_1g = true,
		.vmx = true,
		.ept_vpid_cap = EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_1G | EPT_CAP_INVEPT | EPT_CAP_AD |
				EPT_CAP_INVEPT_SINGLE,
	};
}

/* tlb.h stand-ins: count instead of executing. */
void tlb_invlpg(u64 va)
{
	shim.invlpg++;
}

void tlb_flush_all(void)
{
	shim.flush_all++;
}

void tlb_invept_single(u64 eptp)
{
	shim.invept++;
	shim.last_eptp = eptp;
}

/* pmap.h stand-in: counts, remembers the value. */
void pmap_arch_load_cr3(paddr_t pa)
{
	shim.cr3_loads++;
	shim.last_cr3 = pa;
}

/* printf.h: prints and aborts the test binary. */
void panic(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "panic: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* pmap.h stand-ins for the SMP hooks: the CPU is shim.cpu; a shootdown runs fn "on" each. */
unsigned pmap_arch_cpu(void)
{
	return shim.cpu;
}

void pmap_arch_shootdown(const cpumask_t *mask, void (*fn)(void *), void *arg)
{
	unsigned self = shim.cpu, cpu;

	shim.shootdown_ipis++;
	for_each_cpu (cpu, mask) {
		shim.cpu = cpu;
		fn(arg);
	}
	shim.cpu = self;
}

void pmap_arch_poll(void)
{
}
