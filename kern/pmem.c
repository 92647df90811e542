// SPDX-License-Identifier: MIT
/*
 * The kernel's physical memory: the buddy allocator fed from the boot memory map, minus what is
 * already in use (low MiB, kernel image, modules, the allocator's own metadata).
 *
 * RAM arrives in two steps because only the first GiB is reachable through the boot page
 * tables: pmem_init() hands out RAM below that limit, kmap_init() builds the full direct map
 * from it, then pmem_init_rest() adds the remainder. The allocator never holds a frame the
 * direct map does not reach (PMEM_MAPPED_LIMIT): its frame array stops there too.
 */
#include <arch/x86/memlayout.h>
#include <dyad/bootinfo.h>
#include <dyad/buddy.h>
#include <arch/x86/asm.h>
#include <dyad/pmem.h>
#include <dyad/spinlock.h>
#include <dyad/printf.h>
#include <dyad/string.h>

#define LOW_RESERVED_END 0x100000ULL /* real-mode IVT, BIOS data, VGA, ROMs */
#define MAX_RESERVED (BOOT_MAX_MODULES + 3)

extern char kernel_image_start[], kernel_image_end[];

static struct buddy kernel_buddy;
/*
 * The allocator's one lock: every CPU allocates. Taken with interrupts off, so that a caller
 * holding an interrupts-off lock (the scheduler's) may free, and no interrupt handler on this CPU
 * can find it held.
 */
static struct spinlock pmem_lock = SPINLOCK_INIT;

static struct phys_range reserved[MAX_RESERVED];
static unsigned nr_reserved;
static paddr_t first_limit;
static u64 metadata_bytes;

void *pmem_va(paddr_t pa)
{
	return (void *)(pa + DIRECT_MAP_BASE);
}

paddr_t pmem_pa(const void *va)
{
	return (uintptr_t)va - DIRECT_MAP_BASE;
}

paddr_t pmem_alloc(unsigned order)
{
	u64 flags = spin_lock_irqsave(&pmem_lock);
	paddr_t pa = buddy_alloc(&kernel_buddy, order);

	spin_unlock_irqrestore(&pmem_lock, flags);
	return pa;
}

paddr_t pmem_alloc_zeroed(unsigned order)
{
	paddr_t pa = pmem_alloc(order);

	if (pa)
		memset(pmem_va(pa), 0, PAGE_SIZE << order);
	return pa;
}

void pmem_free(paddr_t pa, unsigned order)
{
	u64 flags = spin_lock_irqsave(&pmem_lock);

	buddy_free(&kernel_buddy, pa, order);
	spin_unlock_irqrestore(&pmem_lock, flags);
}

void pmem_free_part(paddr_t pa, unsigned order)
{
	u64 flags = spin_lock_irqsave(&pmem_lock);

	buddy_free_part(&kernel_buddy, pa, order);
	spin_unlock_irqrestore(&pmem_lock, flags);
}

u64 pmem_free_frames(void)
{
	u64 flags = spin_lock_irqsave(&pmem_lock);
	u64 n = buddy_free_frames(&kernel_buddy);

	spin_unlock_irqrestore(&pmem_lock, flags);
	return n;
}

u64 pmem_metadata_bytes(void)
{
	return metadata_bytes;
}

static void reserve(paddr_t start, paddr_t end)
{
	BUG_ON(nr_reserved == MAX_RESERVED);
	unsigned i = nr_reserved++;
	while (i > 0 && reserved[i - 1].start > start) {
		reserved[i] = reserved[i - 1];
		i--;
	}
	reserved[i] = (struct phys_range){ ALIGN_DOWN(start, PAGE_SIZE), ALIGN_UP(end, PAGE_SIZE) };
}

/* Gives [start, end) minus every reserved range to the allocator. */
static void add_unreserved(paddr_t start, paddr_t end)
{
	for (unsigned i = 0; i < nr_reserved && start < end; i++) {
		const struct phys_range *r = &reserved[i];
		if (r->end <= start || r->start >= end)
			continue;
		if (r->start > start)
			buddy_add_range(&kernel_buddy, start, r->start);
		start = MAX(start, r->end);
	}
	if (start < end)
		buddy_add_range(&kernel_buddy, start, end);
}

static bool overlaps_reserved(paddr_t start, paddr_t end)
{
	for (unsigned i = 0; i < nr_reserved; i++)
		if (start < reserved[i].end && reserved[i].start < end)
			return true;
	return false;
}

/* Finds @bytes of RAM below @limit that overlap nothing reserved, for the frame array. */
static paddr_t place_metadata(const struct boot_info *bi, u64 bytes, paddr_t limit)
{
	for (unsigned i = 0; i < bi->nr_ram; i++) {
		for (paddr_t pa = MAX(bi->ram[i].start, LOW_RESERVED_END);
		     pa + bytes <= MIN(bi->ram[i].end, limit); pa += PAGE_SIZE) {
			if (!overlaps_reserved(pa, pa + bytes))
				return pa;
		}
	}
	panic("pmem: no room below %#lx for %lu bytes of frame metadata", limit, bytes);
}

void pmem_init(const struct boot_info *bi, paddr_t reachable_limit)
{
	paddr_t max_pa = MIN(bi->ram[bi->nr_ram - 1].end, PMEM_MAPPED_LIMIT);
	u64 nframes = max_pa >> PAGE_SHIFT;

	first_limit = reachable_limit;
	reserve(0, LOW_RESERVED_END);
	reserve(KERNEL_IMAGE_PA(kernel_image_start), KERNEL_IMAGE_PA(kernel_image_end));
	for (unsigned i = 0; i < bi->nr_modules; i++)
		reserve(bi->modules[i].start, bi->modules[i].end);

	metadata_bytes = ALIGN_UP(buddy_metadata_bytes(nframes), PAGE_SIZE);
	paddr_t meta = place_metadata(bi, metadata_bytes, reachable_limit);
	reserve(meta, meta + metadata_bytes);

	buddy_init(&kernel_buddy, pmem_va(meta), nframes, DIRECT_MAP_BASE);
	for (unsigned i = 0; i < bi->nr_ram; i++)
		add_unreserved(bi->ram[i].start, MIN(bi->ram[i].end, reachable_limit));
}

void pmem_init_rest(const struct boot_info *bi)
{
	u64 left_out = 0;

	for (unsigned i = 0; i < bi->nr_ram; i++) {
		const struct phys_range *r = &bi->ram[i];

		add_unreserved(MAX(r->start, first_limit), MIN(r->end, PMEM_MAPPED_LIMIT));
		if (r->end > PMEM_MAPPED_LIMIT)
			left_out += r->end - MAX(r->start, PMEM_MAPPED_LIMIT);
	}
	if (left_out)
		printf("pmem: %lu MiB of RAM above %lu GiB left out: the direct map ends there\n",
		       left_out >> 20, (u64)(PMEM_MAPPED_LIMIT >> 30));
}
