// SPDX-License-Identifier: MIT
/*
 * The CPU state of the 64-bit boot protocol (Documentation/x86/boot.rst, "64-bit Boot
 * Protocol"): long mode with paging on, the loaded kernel, boot_params and the command line
 * identity-mapped, a GDT with __BOOT_CS (0x10) a flat 64-bit code segment and __BOOT_DS (0x18)
 * a flat data segment, interrupts off, RSI holding the address of boot_params.
 */
#include <string.h>

#include "boot.h"
#include "vmm.h"

#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_PS 0x80ULL
#define PTE_A 0x20ULL /* set ahead: the walker then never writes the tables */
#define PTE_D 0x40ULL

/* Writes @v at @gpa inside the low area @low, which starts at guest-physical 0. */
static void put64(uint8_t *low, uint64_t gpa, uint64_t v)
{
	memcpy(low + gpa, &v, sizeof(v));
}

static struct dyad_segment flat(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
	return (struct dyad_segment){ .base = 0,
				      .limit = 0xffffffff,
				      .selector = sel,
				      .type = type,
				      .s = 1,
				      .present = 1,
				      .l = l,
				      .db = db,
				      .g = 1 };
}

int boot_cpu_state(const struct guest_ram *ram, uint64_t entry, struct dyad_sregs *s,
		   struct dyad_regs *r)
{
	void *p;

	/* One check covers everything written below: [0, BOOT_STACK_TOP). */
	if (gpa_ptr(ram, 0, BOOT_STACK_TOP, &p))
		return -1;
	uint8_t *mem = p;

	/* GDT: descriptors 2 and 3, the encodings of the segments below. */
	put64(mem, BOOT_GDT, 0);
	put64(mem, BOOT_GDT + 8, 0);
	put64(mem, BOOT_GDT + BOOT_CS, 0x00af9b000000ffffULL);
	put64(mem, BOOT_GDT + BOOT_DS, 0x00cf93000000ffffULL);

	memset(mem + BOOT_PML4, 0, BOOT_STACK_TOP - 0x1000 - BOOT_PML4);
	put64(mem, BOOT_PML4, BOOT_PDPT | PTE_P | PTE_W | PTE_A);
	for (uint64_t g = 0; g < 4; g++) {
		put64(mem, BOOT_PDPT + g * 8, (BOOT_PD + g * 0x1000) | PTE_P | PTE_W | PTE_A);
		for (uint64_t i = 0; i < 512; i++)
			put64(mem, BOOT_PD + g * 0x1000 + i * 8,
			      ((g << 30) | (i << 21)) | PTE_P | PTE_W | PTE_A | PTE_D | PTE_PS);
	}

	memset(s, 0, sizeof(*s));
	s->cs = flat(BOOT_CS, 0xb, 1, 0);
	s->ds = s->es = s->fs = s->gs = s->ss = flat(BOOT_DS, 0x3, 0, 1);
	s->tr = (struct dyad_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s->ldt = (struct dyad_segment){ .type = 0x2, .unusable = 1 };
	s->gdt = (struct dyad_dtable){ .base = BOOT_GDT, .limit = 4 * 8 - 1 };
	s->idt = (struct dyad_dtable){ .base = 0, .limit = 0 };
	s->cr0 = 0x80000033; /* PG, NE, ET, MP, PE */
	s->cr3 = BOOT_PML4;
	s->cr4 = 0x20; /* PAE */
	s->efer = 0x500; /* LMA, LME */

	memset(r, 0, sizeof(*r));
	r->rip = entry;
	r->rsi = BOOT_PARAMS;
	r->rsp = BOOT_STACK_TOP;
	r->rflags = 0x2;
	return 0;
}
