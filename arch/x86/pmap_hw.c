// SPDX-License-Identifier: MIT
/*
 * The privileged instruction the page-table pair module needs, kept out of pmap.c so that the
 * host unit tests can link pmap.c against a counting stand-in.
 */
#include <arch/x86/pmap.h>

/* Loads @pa into CR3: the CPU now walks that KPT; non-global TLB entries are dropped. */
void pmap_arch_load_cr3(paddr_t pa)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(pa) : "memory");
}
