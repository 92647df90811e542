/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_TRAP_H
#define ARCH_X86_TRAP_H

#include <dyad/types.h>

/* Register state pushed by the common trap entry (arch/x86/trap_entry.asm), lowest address first. */
struct trap_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

struct fault_info {
	u64 vector;
	u64 error;
	u64 rip;
	u64 cr2;
};

#define T_DE 0
#define T_DB 1
#define T_NMI 2
#define T_BP 3
#define T_UD 6
#define T_DF 8
#define T_GP 13
#define T_PF 14
#define IRQ_TIMER 32
#define IRQ_SPURIOUS 255

/* Page-fault error code bits. */
#define PF_P BIT(0)
#define PF_W BIT(1)
#define PF_U BIT(2)
#define PF_RSVD BIT(3)
#define PF_I BIT(4)

void trap_init(void);

/* Loads the IDT trap_init() built on this CPU (an AP). */
void trap_load_idt(void);

/*
 * Runs fn(arg) in the kernel with exceptions armed to be caught: if fn raises a CPU exception,
 * its state is recorded in *fi, fn is abandoned, and trap_catch returns true. Returns false if
 * fn returned normally. fn must hold no lock and own no resources when it may fault.
 */
bool trap_catch(void (*fn)(void *arg), void *arg, struct fault_info *fi);

/* Handler for a vector at or above 32; NULL clears. Called with interrupts disabled. */
typedef void (*irq_handler_t)(struct trap_frame *tf);
void trap_set_irq_handler(unsigned vector, irq_handler_t fn);

/*
 * Fault handlers of the process layer. @page_fault sees every #PF first and returns true if it
 * served it (the instruction is retried). @user_fault sees any other exception from ring 3 (and
 * page faults it did not serve); it does not return when it kills the process.
 */
typedef bool (*trap_fault_fn)(struct trap_frame *tf);
void trap_set_fault_handlers(trap_fault_fn page_fault, trap_fault_fn user_fault);

/* NMIs taken since boot. The handler only counts them (and keeps the last RIP). */
u64 trap_nmi_count(void);

/*
 * Prints the NMIs that arrived since the last call, if any. Call it only where printing is safe
 * (not in an interrupt handler): system-call entry does.
 */
void trap_nmi_report(void);

/* "page fault", "general protection", ... */
const char *trap_exception_name(u64 vector);

#endif
