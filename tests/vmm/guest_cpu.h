/* SPDX-License-Identifier: MIT */
/*
 * The CPU set-up the two-vCPU test guests (tests/vmm/smpguest and tests/vmm/chaos) share: their
 * assembly entry (guest_entry.inc: the BSP's entry, the AP's trampoline to long mode, one GDT,
 * the stacks and one trap stub per vector) and its C half (guest_cpu.c: one IDT whose every gate
 * leads to the guest's trap_entry()). Each guest's main.c has bsp_main() and ap_main().
 */
#ifndef DYAD_TESTS_VMM_GUEST_CPU_H
#define DYAD_TESTS_VMM_GUEST_CPU_H

#include <stdint.h>

/* Each vCPU's stack (guest_entry.inc: STACK_SIZE); the AP's starts from its top at every start. */
#define GUEST_STACK_SIZE 0x4000

/* What a stub leaves, the vector lowest; the error code is a 0 where the CPU pushes none. */
struct trap_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

/* [tramp_start, tramp_end): the AP's real-mode start, to be copied to a SIPI vector's page. */
extern char tramp_start[], tramp_end[];
extern char bsp_stack[], ap_stack[];

/*
 * The guest's handler of every vector, called by the stubs with interrupts off (interrupt gates).
 * It may change the frame (its RIP and RFLAGS are what the IRETQ resumes).
 */
void trap_entry(struct trap_frame *f);

/*
 * On the BSP, once before it starts the AP: builds the IDT and loads it, and hands the BSP's
 * page tables (its CR3) to the AP trampoline.
 */
void guest_cpu_init(void);

/* Loads the IDT guest_cpu_init() built; each AP start calls it before interrupts are on. */
void idt_load(void);

/* Copies the AP trampoline to the page a SIPI with @vector starts the AP at. */
void tramp_install(uint8_t vector);

/* 1 on the AP, 0 on the BSP: which stack this code runs on. */
static inline int this_cpu(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	return sp >= (uintptr_t)ap_stack && sp < (uintptr_t)ap_stack + GUEST_STACK_SIZE;
}

#endif
