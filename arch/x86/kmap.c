// SPDX-License-Identifier: MIT
/*
 * The kernel half of the address space. Its page-table pages are pairs like every other (order-1
 * blocks), but the kernel half is never linked into an EPT, so their odd halves stay zero.
 * These mappings never change after boot except for the MMIO window, so process roots can
 * share the kernel's PML4 slots 256..511 by copying them once.
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/kmap.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/tlb.h>
#include <dyad/bootinfo.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>

/* Boot page tables (arch/x86/boot.asm): each symbol is an 8 KiB pair. */
extern u64 boot_pml4[], boot_pdpt_low[], boot_pdpt_high[], boot_pd[];
/* Section boundaries of the image (arch/x86/kernel.ld), each page-aligned. */
extern char kernel_image_start[], kernel_text_end[], kernel_rodata_end[], kernel_image_end[];

#define DIRECT_MAP_SLOT 256
#define KERNEL_PDPT_IMAGE_SLOT 510
#define KERNEL_PDPT_MMIO_SLOT 511

static u64 direct_page_size;
static u64 *mmio_pd, *mmio_pt;
static u64 mmio_next_va = MMIO_BASE;
/*
 * Windows of MMIO_BIG_MIN bytes and more take 2 MiB pages after the 4 KiB page table's 2 MiB
 * (PD slot 0), which a single PCI ECAM bus (1 MiB) would otherwise half fill. A 2 MiB page may
 * then cover up to 1 MiB beside the window, uncached, that nothing accesses.
 */
#define MMIO_BIG_MIN (1ULL << 20)
static u64 mmio_next_big_va = MMIO_BASE + SZ_2M;

/* A zeroed page-table pair; returns its physical address. Boot cannot go on without it. */
static paddr_t kmap_alloc_pair(void)
{
	paddr_t pa = pmem_alloc_zeroed(PMAP_PAIR_ORDER);

	if (!pa)
		panic("kmap: out of memory for kernel page tables");
	return pa;
}

static u64 kernel_leaf_flags(void)
{
	return KPTE_P | KPTE_W | KPTE_G | (cpu_features.nx ? KPTE_NX : 0);
}

/* True if [start, end) is entirely RAM or legacy low memory (below 1 MiB). */
static bool all_ram(const struct boot_info *bi, paddr_t start, paddr_t end)
{
	paddr_t pos = start;

	if (pos < 0x100000)
		pos = 0x100000;
	for (unsigned i = 0; i < bi->nr_ram && pos < end; i++)
		if (bi->ram[i].start <= pos && bi->ram[i].end > pos)
			pos = bi->ram[i].end;
	return pos >= end;
}

static bool any_ram(const struct boot_info *bi, paddr_t start, paddr_t end)
{
	for (unsigned i = 0; i < bi->nr_ram; i++)
		if (bi->ram[i].start < end && bi->ram[i].end > start)
			return true;
	return false;
}

/* Fills a PD pair with 2 MiB pages for every 2 MiB of [gib, gib + 1 GiB) that holds RAM. */
static paddr_t build_pd(const struct boot_info *bi, paddr_t gib)
{
	paddr_t pd_pa = kmap_alloc_pair();
	u64 *pd = pmem_va(pd_pa);

	for (unsigned i = 0; i < PMAP_ENTRIES; i++) {
		paddr_t pa = gib + (u64)i * SZ_2M;
		if (any_ram(bi, pa, pa + SZ_2M))
			pd[i] = pa | kernel_leaf_flags() | KPTE_PS;
	}
	return pd_pa;
}

/* The rights of the image page at @va: text RX, rodata R, data and bss RW; W^X throughout. */
static u64 image_leaf_flags(u64 va)
{
	u64 nx = cpu_features.nx ? KPTE_NX : 0;

	if (va < (u64)kernel_text_end)
		return KPTE_P | KPTE_G;
	if (va < (u64)kernel_rodata_end)
		return KPTE_P | KPTE_G | nx;
	return KPTE_P | KPTE_W | KPTE_G | nx;
}

/*
 * A PD pair for the 1 GiB image window that maps the kernel image only, in 4 KiB pages with
 * per-section rights; the rest of the window is not present. Returns the PD's physical address.
 */
static paddr_t build_image_window(void)
{
	paddr_t pd_pa = kmap_alloc_pair();
	u64 *pd = pmem_va(pd_pa);

	for (u64 va = (u64)kernel_image_start; va < (u64)kernel_image_end; va += PAGE_SIZE) {
		unsigned pdi = (va >> 21) & (PMAP_ENTRIES - 1),
			 pti = (va >> 12) & (PMAP_ENTRIES - 1);
		if (!pd[pdi])
			pd[pdi] = kmap_alloc_pair() | KPTE_P | KPTE_W;
		u64 *pt = pmem_va(pd[pdi] & PTE_ADDR_4K);
		pt[pti] = KERNEL_IMAGE_PA(va) | image_leaf_flags(va);
	}
	return pd_pa;
}

void kmap_init(const struct boot_info *bi)
{
	paddr_t top = bi->ram[bi->nr_ram - 1].end;
	paddr_t pdpt_pa = kmap_alloc_pair();
	u64 *pdpt = pmem_va(pdpt_pa);

	if (top > (u64)PMAP_ENTRIES * SZ_1G) {
		printf("kmap: RAM above 512 GiB is ignored\n");
		top = (u64)PMAP_ENTRIES * SZ_1G;
	}
	direct_page_size = cpu_features.page_1g ? SZ_1G : SZ_2M;
	for (paddr_t gib = 0; gib < top; gib += SZ_1G) {
		if (!any_ram(bi, gib, gib + SZ_1G))
			continue;
		if (cpu_features.page_1g && all_ram(bi, gib, gib + SZ_1G))
			pdpt[gib / SZ_1G] = gib | kernel_leaf_flags() | KPTE_PS;
		else
			pdpt[gib / SZ_1G] = build_pd(bi, gib) | KPTE_P | KPTE_W;
	}

	/*
	 * Switch the direct map over, drop the boot identity map (user space owns slot 0), and
	 * replace the boot tables' 1 GiB writable, executable image window by the image alone.
	 */
	boot_pml4[DIRECT_MAP_SLOT] = pdpt_pa | KPTE_P | KPTE_W;
	boot_pml4[0] = 0;
	boot_pdpt_high[KERNEL_PDPT_IMAGE_SLOT] = build_image_window() | KPTE_P | KPTE_W;
	if (cpu_features.pge)
		write_cr4(read_cr4() | BIT(7));
	write_cr3(read_cr3());
}

void *kmap_mmio(paddr_t pa, size_t size)
{
	paddr_t first = ALIGN_DOWN(pa, PAGE_SIZE);
	u64 pages = (ALIGN_UP(pa + size, PAGE_SIZE) - first) / PAGE_SIZE;

	if (!mmio_pt) {
		paddr_t pd_pa = kmap_alloc_pair(), pt_pa = kmap_alloc_pair();
		mmio_pd = pmem_va(pd_pa);
		mmio_pd[0] = pt_pa | KPTE_P | KPTE_W;
		boot_pdpt_high[KERNEL_PDPT_MMIO_SLOT] = pd_pa | KPTE_P | KPTE_W;
		mmio_pt = pmem_va(pt_pa);
	}
	if (size >= MMIO_BIG_MIN) {
		paddr_t big = ALIGN_DOWN(pa, SZ_2M);
		u64 n = (ALIGN_UP(pa + size, SZ_2M) - big) / SZ_2M;
		u64 va = mmio_next_big_va;
		BUG_ON((va - MMIO_BASE) / SZ_2M + n > PMAP_ENTRIES);
		for (u64 i = 0; i < n; i++) {
			mmio_pd[(mmio_next_big_va - MMIO_BASE) / SZ_2M] =
				(big + i * SZ_2M) | kernel_leaf_flags() | KPTE_PS | KPTE_PCD |
				KPTE_PWT;
			tlb_invlpg(mmio_next_big_va);
			mmio_next_big_va += SZ_2M;
		}
		return (void *)(va + (pa - big));
	}
	u64 first_va = mmio_next_va;
	BUG_ON((first_va - MMIO_BASE) / PAGE_SIZE + pages > PMAP_ENTRIES);
	for (u64 i = 0; i < pages; i++) {
		mmio_pt[(mmio_next_va - MMIO_BASE) / PAGE_SIZE] =
			(first + i * PAGE_SIZE) | kernel_leaf_flags() | KPTE_PCD | KPTE_PWT;
		tlb_invlpg(mmio_next_va);
		mmio_next_va += PAGE_SIZE;
	}
	return (void *)(first_va + (pa - first));
}

u64 *kmap_kernel_pml4(void)
{
	return boot_pml4;
}

u64 kmap_direct_page_size(void)
{
	return direct_page_size;
}
