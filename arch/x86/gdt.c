// SPDX-License-Identifier: MIT
/*
 * Each CPU's GDT and TSS (in its struct percpu): flat segments, and known-good stacks for #DF,
 * NMI and #DB. Loading them also points GS.base at the CPU's per-CPU data.
 */
#include <arch/x86/asm.h>
#include <arch/x86/gdt.h>
#include <arch/x86/percpu.h>

/* The boot CPU's IST stacks: it needs them before there is an allocator. */
static u8 boot_ist_stacks[IST_STACKS][IST_STACK_SIZE] __aligned(16);

static const u64 gdt_template[GDT_ENTRIES] = {
	0,
	0x00af9a000000ffff, /* kernel code, 64-bit */
	0x00cf92000000ffff, /* kernel data */
	0x00cff2000000ffff, /* user data, DPL 3 */
	0x00affa000000ffff, /* user code, 64-bit, DPL 3 */
	0, 0, /* TSS, filled per CPU */
};

struct gdt_ptr {
	u16 limit;
	u64 base;
} __packed;

void gdt_load_cpu(struct percpu *pc)
{
	u64 base = (u64)&pc->tss;
	u64 limit = sizeof(pc->tss) - 1;

	for (unsigned i = 0; i < GDT_ENTRIES; i++)
		pc->gdt[i] = gdt_template[i];
	pc->tss.ist[IST_DOUBLE_FAULT - 1] = pc->ist_top[0];
	pc->tss.ist[IST_NMI - 1] = pc->ist_top[1];
	pc->tss.ist[IST_DEBUG - 1] = pc->ist_top[2];
	pc->tss.iomap_base = sizeof(pc->tss); /* no I/O bitmap: ring 3 gets no ports */

	pc->gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		     (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	pc->gdt[6] = base >> 32;

	struct gdt_ptr ptr = { sizeof(pc->gdt) - 1, (u64)pc->gdt };
	__asm__ volatile("lgdt %0\n\t"
			 "mov %1, %%ds\n\t"
			 "mov %1, %%es\n\t"
			 "mov %1, %%ss\n\t"
			 "pushq %2\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "ltr %w3"
			 :
			 : "m"(ptr), "r"((u64)GDT_KERNEL_DS), "i"(GDT_KERNEL_CS), "r"(GDT_TSS)
			 : "rax", "memory");
	/* GS's selector stays as boot or the trampoline left it (0): only its base counts. */
	pc->self = pc;
	wrmsr(MSR_GS_BASE, (u64)pc);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

void gdt_init(void)
{
	struct percpu *pc = percpu_of(0);

	for (unsigned i = 0; i < IST_STACKS; i++)
		pc->ist_top[i] = (u64)&boot_ist_stacks[i][IST_STACK_SIZE];
	gdt_load_cpu(pc);
}

void tss_set_kernel_stack(u64 rsp0)
{
	this_cpu()->tss.rsp[0] = rsp0;
}
