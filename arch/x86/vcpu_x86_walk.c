// SPDX-License-Identifier: MIT
/*
 * The guest's instruction fetch for MMIO exits and for backends that decode lengths: CS.base +
 * RIP translated through the guest's own page tables, every table and code byte read from the
 * VMM's guest-visible memory only (what the guest itself could reach). The paging modes are rows
 * of one table; the walk is the same loop for each.
 */
#include <arch/x86/asm.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/vcpu_x86.h>
#include <dyad/pmem.h>
#include <dyad/proc.h>
#include <dyad/string.h>
#include <dyad/vcpu.h>

#define PTE_P BIT(0)
#define PTE_PS BIT(7)
#define INSN_MAX 15
#define ADDR_WIDE 0x000ffffffffff000ULL
#define ADDR_NARROW 0xfffff000ULL

/* One paging mode: how many levels from the root, and the form of an entry. */
struct paging_mode {
	unsigned levels; /* below the root table CR3 names (PAE: below the PDPTE registers) */
	unsigned entry_size; /* 4 or 8 bytes */
	unsigned index_bits; /* per level: 10 or 9 */
	u64 addr_mask; /* the next table's or the page's address in an entry */
	bool large_needs_pse; /* a PS entry maps a large page only with CR4.PSE (32-bit) */
	bool pdpte; /* the top level is the four PDPTE registers the CPU loaded */
};

enum { MODE_32, MODE_PAE, MODE_4LEVEL, MODE_5LEVEL };

static const struct paging_mode modes[] = {
	[MODE_32] = { 2, 4, 10, ADDR_NARROW, true, false },
	[MODE_PAE] = { 2, 8, 9, ADDR_WIDE, false, true },
	[MODE_4LEVEL] = { 4, 8, 9, ADDR_WIDE, false, false },
	[MODE_5LEVEL] = { 5, 8, 9, ADDR_WIDE, false, false },
};

/*
 * Reads @n bytes (not crossing a page) at guest-physical @gpa, only from guest-visible memory
 * of @p that is mapped now. Returns false otherwise.
 */
static bool guest_read(struct proc *p, u64 gpa, void *dst, unsigned n)
{
	struct pmap_leaf leaf;

	if (gpa >= USER_TOP || pmap_lookup(&p->pmap, gpa & PAGE_MASK, &leaf) ||
	    !(leaf.flags & PMAP_VISIBLE))
		return false;
	memcpy(dst, (const u8 *)pmem_va(leaf.pa + (gpa - leaf.va)), n);
	return true;
}

static bool read_entry(struct proc *p, const struct paging_mode *m, u64 gpa, u64 *pte)
{
	u32 narrow;

	*pte = 0;
	if (m->entry_size == 8)
		return guest_read(p, gpa, pte, 8);
	if (!guest_read(p, gpa, &narrow, 4))
		return false;
	*pte = narrow;
	return true;
}

/* Translates the linear address @la with the guest's paging state @pg; false if unmapped. */
static bool guest_translate(struct proc *p, const struct vcpu_paging *pg, u64 la, u64 *gpa)
{
	const struct paging_mode *m;
	u64 table, pte;

	if (!(pg->cr0 & CR0_PG)) {
		*gpa = la;
		return true;
	}
	if (pg->efer & EFER_LMA)
		m = &modes[(pg->cr4 & CR4_LA57) ? MODE_5LEVEL : MODE_4LEVEL];
	else
		m = &modes[(pg->cr4 & CR4_PAE) ? MODE_PAE : MODE_32];
	if (m->pdpte) {
		pte = pg->pdpte[(la >> 30) & 3];
		if (!(pte & PTE_P))
			return false;
		table = pte & m->addr_mask;
	} else {
		table = pg->cr3 & m->addr_mask;
	}
	for (unsigned lvl = m->levels; lvl >= 1; lvl--) {
		unsigned shift = 12 + m->index_bits * (lvl - 1);
		u64 idx = (la >> shift) & ((1ULL << m->index_bits) - 1);

		if (!read_entry(p, m, table + idx * m->entry_size, &pte) || !(pte & PTE_P))
			return false;
		if (lvl == 1 || ((pte & PTE_PS) && (!m->large_needs_pse || (pg->cr4 & CR4_PSE)))) {
			u64 size = 1ULL << shift;

			*gpa = (pte & m->addr_mask & ~(size - 1)) + (la & (size - 1));
			return true;
		}
		table = pte & m->addr_mask;
	}
	return false;
}

unsigned vcpu_fetch(struct vcpu *v, u8 *buf, unsigned max)
{
	struct proc *p = v->vm->proc;
	struct vcpu_paging pg;
	unsigned n = 0;

	vcpu_backend->paging(v, &pg);
	max = MIN(max, INSN_MAX);
	while (n < max) {
		u64 la = pg.cs_base + pg.rip + n, gpa;
		if (!(pg.efer & EFER_LMA))
			la &= 0xffffffffULL;
		if (!guest_translate(p, &pg, la, &gpa))
			break;
		unsigned chunk = MIN(max - n, (unsigned)(PAGE_SIZE - (gpa & (PAGE_SIZE - 1))));
		if (!guest_read(p, gpa, buf + n, chunk))
			break;
		n += chunk;
	}
	return n;
}
