/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H

#include <arch/x86/asm.h>
#include <dyad/types.h>

/*
 * What the boot CPU can do, detected once by cpu_detect(). Host builds of kernel modules set
 * these fields directly to exercise each capability combination.
 */
struct cpu_features {
	bool nx;
	bool pge;
	bool page_1g; /* CPUID 0x80000001 EDX[26]: 1 GiB pages in the host tables */
	bool x2apic;
	bool vmx;
	bool invariant_tsc;
	bool smep; /* CPUID 7 EBX[7]: the kernel cannot execute user pages once CR4.SMEP is set */
	bool smap; /* CPUID 7 EBX[20]: with CR4.SMAP the kernel touches user pages only with AC set */
	bool xsave; /* CPUID 1 ECX[26] */
	bool avx; /* CPUID 1 ECX[28] */
	u64 ept_vpid_cap; /* IA32_VMX_EPT_VPID_CAP, 0 without VMX */
	/* AMD: SVM usable (CPUID 0x80000001 ECX[2], VM_CR.SVMDIS clear), and its features */
	bool svm;
	bool npt; /* CPUID 0x8000000A EDX[0]: nested paging */
	u32 svm_features; /* CPUID 0x8000000A EDX: NRIP save, flush by ASID, ...; 0 without SVM */
	u32 svm_nasid; /* CPUID 0x8000000A EBX: number of ASIDs */
	u32 max_leaf;
	char vendor[13];
	bool hypervisor; /* CPUID 1 ECX[31]: a hypervisor (or an emulator) runs us */
	char hypervisor_id[13]; /* its CPUID 0x40000000 signature (empty without the bit) */
	/* CPUID 0x40000000 reads "TCGTCGTCGTCG" (QEMU's TCG answers it with or without the bit) */
	bool qemu_tcg;
};

extern struct cpu_features cpu_features;

#define EPT_CAP_WB BIT(14)
#define EPT_CAP_2M BIT(16)
#define EPT_CAP_1G BIT(17)
#define EPT_CAP_INVEPT BIT(20)
#define EPT_CAP_AD BIT(21)
#define EPT_CAP_INVEPT_SINGLE BIT(25)

#define SVM_FEAT_NPT BIT(0)
#define SVM_FEAT_NRIPS BIT(3)
#define SVM_FEAT_FLUSH_BY_ASID BIT(6)

void cpu_detect(void);
void cpu_print(void);
/* Turns on the protections the CPU has (SMEP, SMAP). */
void cpu_enable_protection(void);

/*
 * The control state every CPU shares, set on the calling CPU: CR0 (WP, NE, MP, caches on),
 * CR4 (PGE, OSFXSR, OSXMMEXCPT, OSXSAVE, SMEP, SMAP as the boot CPU detected them), XCR0,
 * EFER (NXE, SCE), PAT, and the SYSCALL MSRs. The boot CPU calls it once fpu_init() has chosen
 * XCR0; each AP on arrival. Idempotent.
 */
void cpu_init_local(void);

/*
 * True once CR4.SMAP is on: the kernel then faults on any access to a user page unless
 * RFLAGS.AC is set. Only the uaccess helpers set it, between user_access_begin() and
 * user_access_end(); every kernel entry clears it (SFMASK on SYSCALL, CLAC in the trap entry).
 */
extern bool cpu_smap_enabled;

static inline void user_access_begin(void)
{
	if (cpu_smap_enabled)
		stac();
}

static inline void user_access_end(void)
{
	if (cpu_smap_enabled)
		clac();
}

#endif
