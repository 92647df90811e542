/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_PERCPU_H
#define ARCH_X86_PERCPU_H

#include <dyad/types.h>

/*
 * Per-CPU data. Each CPU has one struct percpu; in the kernel, GS.base holds its address and
 * KERNEL_GS_BASE holds ring 3's GS base (0: Dyad gives ring 3 no way to set it). Every entry
 * from ring 3 (SYSCALL, a trap or interrupt with CS.RPL 3) executes SWAPGS first, and every
 * return to ring 3 executes it last, with interrupts off. NMI, #DB, #DF and #MC may arrive in
 * ring 0 where GS is still ring 3's (on syscall_entry's first instruction, or between the exit's
 * SWAPGS and SYSRET/IRETQ): their entry reads GS.base and swaps only if it is not a kernel
 * address (arch/x86/trap_entry.asm). Nothing in the kernel loads the GS selector after boot.
 *
 * this_cpu() is valid from gdt_init() on (the boot CPU) or from the AP's first C code on.
 */
#define SMP_MAX_CPUS 64

struct tss {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
} __packed;

#define GDT_ENTRIES 7
#define IST_STACK_SIZE 8192
#define IST_STACKS 3

struct smp_call;
struct trap_catcher;
struct thread;
struct pmap;

/* CPU states, in percpu.state. */
#define CPU_ABSENT 0 /* not started, or did not answer */
#define CPU_STARTING 1 /* INIT-SIPI-SIPI sent; the AP has not reached C yet */
#define CPU_ONLINE 2 /* in its idle loop, taking interrupts and calls */

/*
 * The first fields are read by assembly at fixed offsets (arch/x86/percpu.inc, checked by
 * static assertions in arch/x86/smp.c): keep them where they are.
 */
struct percpu {
	struct percpu *self; /* 0: this_cpu() reads it through GS */
	u64 kernel_rsp; /* 8: the stack SYSCALL switches to (TSS.rsp0 holds the same) */
	u64 user_rsp; /* 16: SYSCALL entry's scratch slot for ring 3's rsp */
	u32 cpu; /* 24: index, 0 for the boot CPU, dense in start order */
	u32 apic_id; /* 28: local APIC ID (x2APIC ID in x2APIC mode) */
	volatile u32 state; /* CPU_ABSENT, CPU_STARTING, CPU_ONLINE */
	volatile u64 ticks; /* this CPU's LAPIC timer interrupts */
	struct smp_call *volatile call; /* a call waiting for this CPU (arch/x86/smp.c) */
	volatile u64 calls_run; /* calls this CPU ran from its IPI handler */
	volatile u64 call_ipis; /* call IPIs taken */
	volatile u64 call_ipis_empty; /* call IPIs that found no call waiting */
	u64 ist_top[IST_STACKS]; /* #DF, NMI, #DB stacks (tops) */
	paddr_t stacks_pa; /* an AP's stack block (idle stack and IST stacks) */
	struct thread *current; /* the thread running here (kern/sched.c) */
	struct thread *idle; /* this CPU's idle thread */
	struct thread *switch_prev; /* the thread just switched away from, until it is let go */
	volatile u32 need_resched; /* set by the tick or a wake; read on the way to ring 3 */
	volatile u32 in_idle; /* the idle thread runs: a wake sends a resched IPI */
	u64 resched_ipis; /* resched IPIs taken */
	struct pmap *pmap_current; /* the pmap whose tables are in this CPU's CR3 (NULL: kernel's) */
	struct trap_catcher *catcher; /* the armed trap_catch() on this CPU, if any */
	bool in_uaccess; /* a uaccess helper runs its copy here (kern/uaccess.c) */
	u64 gdt[GDT_ENTRIES] __aligned(16);
	struct tss tss __aligned(16);
} __aligned(64);

extern struct percpu percpu_cpus[SMP_MAX_CPUS];

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;

	__asm__ volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}

static inline unsigned this_cpu_id(void)
{
	u32 id;

	__asm__ volatile("movl %%gs:24, %0" : "=r"(id));
	return id;
}

static inline struct percpu *percpu_of(unsigned cpu)
{
	return &percpu_cpus[cpu];
}

#endif
