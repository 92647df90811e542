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
void tlb_invept_single(u64 eptp); /* INVEPT type 1; nothing while VMX is off */
void tlb_set_vmx_on(bool on); /* the VMX backend says VMXON / VMXOFF happened */

#endif
