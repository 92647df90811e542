/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_TLB_H
#define ARCH_X86_TLB_H

#include <dyad/types.h>

/*
 * TLB maintenance used by the page-table pair module. Kept out of line so that host builds can
 * count the calls instead of executing privileged instructions.
 */
void tlb_invlpg(u64 va);
void tlb_flush_all(void); /* reloads CR3: every non-global entry */
/* INVEPT type 1 for @eptp. Only in VMX operation: outside it the instruction is #UD. */
void tlb_invept_single(u64 eptp);

#endif
