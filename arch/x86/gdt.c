// SPDX-License-Identifier: MIT
/* The GDT and TSS of the one CPU: flat segments, and known-good stacks for #DF, NMI and #DB. */
#include <arch/x86/gdt.h>

struct tss {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
} __packed;

static struct tss tss;
static u8 ist_stacks[3][8192] __aligned(16);

static u64 gdt_table[7] __aligned(16) = {
	0,
	0x00af9a000000ffff, /* kernel code, 64-bit */
	0x00cf92000000ffff, /* kernel data */
	0x00cff2000000ffff, /* user data, DPL 3 */
	0x00affa000000ffff, /* user code, 64-bit, DPL 3 */
	0, 0, /* TSS, filled at init */
};

struct gdt_ptr {
	u16 limit;
	u64 base;
} __packed;

void gdt_init(void)
{
	u64 base = (u64)&tss;
	u64 limit = sizeof(tss) - 1;

	tss.ist[IST_DOUBLE_FAULT - 1] = (u64)&ist_stacks[0][sizeof(ist_stacks[0])];
	tss.ist[IST_NMI - 1] = (u64)&ist_stacks[1][sizeof(ist_stacks[1])];
	tss.ist[IST_DEBUG - 1] = (u64)&ist_stacks[2][sizeof(ist_stacks[2])];
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: ring 3 gets no ports */

	gdt_table[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		       (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt_table[6] = base >> 32;

	struct gdt_ptr ptr = { sizeof(gdt_table) - 1, (u64)gdt_table };
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
}

void tss_set_kernel_stack(u64 rsp0)
{
	tss.rsp[0] = rsp0;
}
