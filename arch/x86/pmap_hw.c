// SPDX-License-Identifier: MIT
/*
 * The privileged instructions and the SMP calls the page-table pair module needs, kept out of
 * pmap.c so that the host unit tests can link pmap.c against a counting stand-in.
 */
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>

/* Loads @pa into CR3: the CPU now walks that KPT; non-global TLB entries are dropped. */
void pmap_arch_load_cr3(paddr_t pa)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(pa) : "memory");
}

/* This CPU's index: GS.base's struct percpu. */
unsigned pmap_arch_cpu(void)
{
	return this_cpu_id();
}

/* The shootdown's IPI: smp_call_mask() runs @fn on each CPU of @mask and waits for all. */
void pmap_arch_shootdown(const cpumask_t *mask, void (*fn)(void *), void *arg)
{
	smp_call_mask(mask, fn, arg);
}

/* Runs a call waiting for this CPU while it spins for a pmap's lock. */
void pmap_arch_poll(void)
{
	smp_call_poll();
}
