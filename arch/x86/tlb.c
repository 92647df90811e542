// SPDX-License-Identifier: MIT
#include <arch/x86/asm.h>
#include <arch/x86/tlb.h>
#include <dyad/printf.h>

void tlb_invlpg(u64 va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

void tlb_flush_all(void)
{
	write_cr3(read_cr3());
}

/*
 * INVEPT type 1 (single-context). Outside VMX operation INVEPT raises #UD in ring 0, so the
 * caller must know VMX is on (pmap tracks it through pmap_vmx_operation()). Inside it, the
 * instruction fails (CF or ZF) only for a type the CPU lacks or a bad EPTP: a stale guest TLB
 * would follow, so that is a kernel bug.
 */
void tlb_invept_single(u64 eptp)
{
	struct {
		u64 eptp, reserved;
	} desc = { eptp, 0 };
	bool failed;

	__asm__ volatile("invept %1, %2; setbe %0"
			 : "=qm"(failed)
			 : "m"(desc), "r"(1UL)
			 : "memory", "cc");
	if (failed)
		panic("invept single-context failed for eptp %#llx", (unsigned long long)eptp);
}
