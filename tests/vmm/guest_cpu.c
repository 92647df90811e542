// SPDX-License-Identifier: MIT
/* The IDT and AP start of the two-vCPU test guests (guest_cpu.h). */
#include "guest_cpu.h"

/* guest_entry.inc: 256 stubs, 16 bytes apart; its GDT's 64-bit code segment. */
extern char trap_stubs[];
extern uint64_t ap_cr3;
#define STUB_SIZE 16
#define CODE64_SEL 0x18

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void guest_cpu_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)trap_stubs + STUB_SIZE * (uint64_t)v;

		/* A present 64-bit interrupt gate: interrupts stay off in the handler. */
		idt[v] = (struct idt_gate){ .off0 = (uint16_t)a,
					    .sel = CODE64_SEL,
					    .type = 0x8e,
					    .off1 = (uint16_t)(a >> 16),
					    .off2 = (uint32_t)(a >> 32) };
	}
	idt_load();
	__asm__ volatile("mov %%cr3, %0" : "=r"(ap_cr3));
}

void tramp_install(uint8_t vector)
{
	char *page = (char *)((uint64_t)vector << 12);

	for (long i = 0; i < tramp_end - tramp_start; i++)
		page[i] = tramp_start[i];
}
