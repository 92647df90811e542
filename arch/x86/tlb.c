// SPDX-License-Identifier: MIT
#include <arch/x86/asm.h>
#include <arch/x86/tlb.h>

void tlb_invlpg(u64 va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

void tlb_flush_all(void)
{
	write_cr3(read_cr3());
}

static bool vmx_on;

void tlb_set_vmx_on(bool on)
{
	vmx_on = on;
}

void tlb_invept_single(u64 eptp)
{
	struct {
		u64 eptp, reserved;
	} desc = { eptp, 0 };

	/*
	 * Type 1: single-context. Outside VMX operation INVEPT raises #UD, and with VMX off the
	 * CPU holds no EPT translations: the backend invalidates an EPTP before its first use.
	 */
	if (!vmx_on)
		return;
	__asm__ volatile("invept %0, %1" : : "m"(desc), "r"(1UL) : "memory", "cc");
}
