// SPDX-License-Identifier: MIT
/* Self-tests of the boot layer: the pair invariant of the kernel tables, the direct map, traps. */
#include <arch/x86/asm.h>
#include <arch/x86/kmap.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/trap.h>
#include <dyad/bootinfo.h>
#include <dyad/ktest.h>
#include <dyad/pmem.h>
#include <dyad/string.h>
#include <dyad/time.h>


extern u64 boot_pml4[], boot_pdpt_low[], boot_pdpt_high[], boot_pd[];

static bool odd_half_is_zero(const u64 *table)
{
	for (unsigned i = 512; i < 1024; i++)
		if (table[i])
			return false;
	return true;
}

KTEST(boot_tables_are_zeroed_pairs)
{
	const u64 *tables[] = { boot_pml4, boot_pdpt_low, boot_pdpt_high, boot_pd };

	for (unsigned i = 0; i < ARRAY_SIZE(tables); i++) {
		paddr_t pa = KERNEL_IMAGE_PA(tables[i]);
		KT_EXPECT(kt, IS_ALIGNED(pa, PMAP_PAIR_SIZE), "boot table %u at %#lx", i, pa);
		KT_EXPECT(kt, odd_half_is_zero(tables[i]), "boot table %u has a non-zero odd half",
			  i);
	}
}

/* Walks a kernel table below @level (4 = PML4); counts tables that break the pair invariant. */
static unsigned check_kernel_tables(const u64 *table, int level, unsigned first, unsigned *seen)
{
	unsigned bad = 0;

	(*seen)++;
	if (!IS_ALIGNED(pmem_pa(table), PMAP_PAIR_SIZE) || !odd_half_is_zero(table))
		bad++;
	if (level == 1)
		return bad;
	for (unsigned i = first; i < 512; i++) {
		if (!(table[i] & KPTE_P) || (level < 4 && (table[i] & KPTE_PS)))
			continue;
		bad += check_kernel_tables(pmem_va(table[i] & PTE_ADDR_4K), level - 1, 0, seen);
	}
	return bad;
}

KTEST(kernel_half_tables_are_zeroed_pairs)
{
	unsigned seen = 0;
	unsigned bad = check_kernel_tables(kmap_kernel_pml4(), 4, KERNEL_HALF_FIRST_SLOT, &seen);

	KT_EXPECT(kt, bad == 0, "%u of %u kernel tables are not zero-odd pairs", bad, seen);
	KT_EXPECT(kt, seen >= 4, "walked only %u tables", seen);
	for (unsigned i = 0; i < KERNEL_HALF_FIRST_SLOT; i++)
		KT_EXPECT(kt, kmap_kernel_pml4()[i] == 0, "user slot %u of the kernel PML4 is %#lx",
			  i, kmap_kernel_pml4()[i]);
}

/* Writes and reads back one word through the direct map, restoring what was there. */
static bool direct_map_probe(paddr_t pa)
{
	volatile u64 *p = pmem_va(pa);
	u64 flags = read_rflags();
	bool ok;

	irq_disable();
	u64 saved = *p;
	*p = 0x5a5aa5a5d1ad0000ULL ^ pa;
	ok = *p == (0x5a5aa5a5d1ad0000ULL ^ pa);
	*p = ~pa;
	ok = ok && *p == ~pa;
	*p = saved;
	if (flags & BIT(9))
		irq_enable();
	return ok;
}

KTEST(direct_map_reads_back_in_every_ram_region)
{
	const struct boot_info *bi = kernel_boot_info();

	for (unsigned i = 0; i < bi->nr_ram; i++) {
		paddr_t s = bi->ram[i].start, e = bi->ram[i].end;
		paddr_t probes[] = { s, ALIGN_DOWN(s + (e - s) / 2, 8), e - 8 };
		for (unsigned j = 0; j < ARRAY_SIZE(probes); j++)
			KT_EXPECT(kt, direct_map_probe(probes[j]), "RAM region %u, pa %#lx", i,
				  probes[j]);
	}
}

static void touch_unmapped(void *arg)
{
	(void)*(volatile u64 *)arg;
}

KTEST(page_fault_is_caught_and_reported)
{
	struct fault_info fi;
	u64 addr = 0x1000; /* the user half: nothing is mapped there in the kernel's tables */

	KT_ASSERT(kt, trap_catch(touch_unmapped, (void *)addr, &fi), "no fault");
	KT_EXPECT(kt, fi.vector == T_PF, "vector %lu", fi.vector);
	KT_EXPECT(kt, fi.cr2 == addr, "CR2 %#lx, expected %#lx", fi.cr2, addr);
	KT_EXPECT(kt, !(fi.error & PF_P) && !(fi.error & PF_U), "error code %#lx", fi.error);
	KT_EXPECT(kt, fi.rip >= KERNEL_VMA, "RIP %#lx not in the kernel", fi.rip);
}

extern const char ud2_site[];

static void execute_ud2(void *arg)
{
	__asm__ volatile(".globl ud2_site\nud2_site: ud2");
}

KTEST(invalid_opcode_is_caught_and_reported)
{
	struct fault_info fi;

	KT_ASSERT(kt, trap_catch(execute_ud2, NULL, &fi), "no fault");
	KT_EXPECT(kt, fi.vector == T_UD, "vector %lu", fi.vector);
	KT_EXPECT(kt, fi.rip == (u64)ud2_site, "RIP %#lx, expected %#lx", fi.rip, (u64)ud2_site);
}

static void touch_noncanonical(void *arg)
{
	(void)*(volatile u64 *)0x0000800000000000ULL;
}

KTEST(general_protection_is_caught_and_kernel_continues)
{
	struct fault_info fi;
	int survivors = 0;

	for (int i = 0; i < 3; i++) {
		KT_EXPECT(kt, trap_catch(touch_noncanonical, NULL, &fi), "round %d: no fault", i);
		KT_EXPECT(kt, fi.vector == T_GP, "round %d: vector %lu", i, fi.vector);
		survivors++;
	}
	KT_EXPECT(kt, survivors == 3, "survived %d rounds", survivors);
	KT_EXPECT(kt, !trap_catch(touch_unmapped, pmem_va(pmem_pa(&fi)), &fi),
		  "a valid access was reported as a fault");
}

KTEST(timer_ticks_and_tsc_was_measured)
{
	KT_ASSERT(kt, tsc_hz > 1000000, "TSC measured at %lu Hz", tsc_hz);
	u64 before = timer_ticks;
	time_udelay(3 * 1000000 / TIMER_HZ);
	KT_EXPECT(kt, timer_ticks > before, "no timer interrupt in three periods (%lu ticks)",
		  timer_ticks);
}
