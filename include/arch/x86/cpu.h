/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H

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
	u64 ept_vpid_cap; /* IA32_VMX_EPT_VPID_CAP, 0 without VMX */
	/* AMD: SVM usable (CPUID 0x80000001 ECX[2], VM_CR.SVMDIS clear), and its features */
	bool svm;
	bool npt; /* CPUID 0x8000000A EDX[0]: nested paging */
	u32 svm_features; /* CPUID 0x8000000A EDX: NRIP save, flush by ASID, ...; 0 without SVM */
	u32 svm_nasid; /* CPUID 0x8000000A EBX: number of ASIDs */
	u32 max_leaf;
	char vendor[13];
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
void cpu_enable_fpu(void);
/* Turns on the protections the CPU has (SMEP). */
void cpu_enable_protection(void);

#endif
