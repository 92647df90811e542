// SPDX-License-Identifier: MIT
/* CPU feature detection: what the page tables, the timer and (later) VMX may rely on. */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/user.h>
#include <dyad/printf.h>
#include <dyad/string.h>

struct cpu_features cpu_features;
bool cpu_smap_enabled;

#define CPUID1_ECX_VMX BIT(5)
#define CPUID1_ECX_X2APIC BIT(21)
#define CPUID1_ECX_XSAVE BIT(26)
#define CPUID1_ECX_AVX BIT(28)
#define CPUID1_ECX_HYPERVISOR BIT(31)
#define CPUID1_EDX_PGE BIT(13)
#define CPUID_EXT1_ECX_SVM BIT(2)
#define CPUID_EXT1_EDX_NX BIT(20)
#define CPUID_EXT1_EDX_PAGE1G BIT(26)
#define CPUID_EXT7_EDX_INVTSC BIT(8)
#define CPUID7_EBX_SMEP BIT(7)
#define CPUID7_EBX_SMAP BIT(20)
#define FEATURE_CONTROL_LOCKED BIT(0)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX BIT(2)
#define PROCBASED_SECONDARY BIT(63) /* allowed-1 half of IA32_VMX_PROCBASED_CTLS bit 31 */
#define PROCBASED2_EPT BIT(32 + 1)
#define MSR_VM_CR 0xc0010114
#define VM_CR_SVMDIS BIT(4) /* firmware disabled SVM: EFER.SVME cannot be set */

/*
 * EPT capabilities are meaningful only when VMX may be enabled and the secondary controls allow
 * EPT; otherwise ept_vpid_cap stays 0 and guest-visible mappings are never made jumbo on its
 * account.
 */
static u64 detect_ept_caps(void)
{
	u64 fc = rdmsr(MSR_FEATURE_CONTROL);

	if ((fc & FEATURE_CONTROL_LOCKED) && !(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX))
		return 0; /* firmware locked VMX off */
	if (!(rdmsr(MSR_VMX_PROCBASED_CTLS) & PROCBASED_SECONDARY))
		return 0;
	if (!(rdmsr(MSR_VMX_PROCBASED_CTLS2) & PROCBASED2_EPT))
		return 0;
	return rdmsr(MSR_VMX_EPT_VPID_CAP);
}

/*
 * SVM counts only when the firmware has not disabled it (VM_CR.SVMDIS). The leaf 0x8000000A
 * features are read only then: without SVM, npt and svm_features stay 0.
 */
static void detect_svm(struct cpu_features *f, u32 max_ext, u32 ext1_ecx)
{
	u32 a, b, c, d;

	if (!(ext1_ecx & CPUID_EXT1_ECX_SVM) || max_ext < 0x8000000a ||
	    (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS))
		return;
	cpuid(0x8000000a, 0, &a, &b, &c, &d);
	f->svm = true;
	f->svm_features = d;
	f->svm_nasid = b;
	f->npt = d & SVM_FEAT_NPT;
}

void cpu_detect(void)
{
	u32 a, b, c, d, max_ext;
	struct cpu_features *f = &cpu_features;

	cpuid(0, 0, &a, &b, &c, &d);
	f->max_leaf = a;
	memcpy(f->vendor + 0, &b, 4);
	memcpy(f->vendor + 4, &d, 4);
	memcpy(f->vendor + 8, &c, 4);
	f->vendor[12] = '\0';

	cpuid(1, 0, &a, &b, &c, &d);
	f->pge = d & CPUID1_EDX_PGE;
	f->x2apic = c & CPUID1_ECX_X2APIC;
	f->vmx = c & CPUID1_ECX_VMX;
	f->xsave = c & CPUID1_ECX_XSAVE;
	f->avx = c & CPUID1_ECX_AVX;
	f->hypervisor = c & CPUID1_ECX_HYPERVISOR;
	/* Without the bit, a real CPU answers with some other leaf's data: never this string. */
	char sig[13];
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	memcpy(sig + 0, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	f->qemu_tcg = !strcmp(sig, "TCGTCGTCGTCG");
	if (f->hypervisor)
		memcpy(f->hypervisor_id, sig, sizeof(sig));

	if (f->max_leaf >= 7) {
		cpuid(7, 0, &a, &b, &c, &d);
		f->smep = b & CPUID7_EBX_SMEP;
		f->smap = b & CPUID7_EBX_SMAP;
	}

	cpuid(0x80000000, 0, &max_ext, &b, &c, &d);
	if (max_ext >= 0x80000001) {
		cpuid(0x80000001, 0, &a, &b, &c, &d);
		f->nx = d & CPUID_EXT1_EDX_NX;
		f->page_1g = d & CPUID_EXT1_EDX_PAGE1G;
		detect_svm(f, max_ext, c);
	}
	if (max_ext >= 0x80000007) {
		cpuid(0x80000007, 0, &a, &b, &c, &d);
		f->invariant_tsc = d & CPUID_EXT7_EDX_INVTSC;
	}
	f->ept_vpid_cap = f->vmx ? detect_ept_caps() : 0;
}

void cpu_enable_protection(void)
{
	/* A kernel jump into user memory (a guest's, too) faults instead of running it. */
	if (cpu_features.smep)
		write_cr4(read_cr4() | CR4_SMEP);
	/* ... and a kernel access to user memory outside uaccess faults instead of reading it. */
	if (cpu_features.smap) {
		clac();
		write_cr4(read_cr4() | CR4_SMAP);
		cpu_smap_enabled = true;
	}
}

#define MSR_PAT 0x277
#define CR0_NW_BIT BIT(29)
#define CR0_CD_BIT BIT(30)
/* The reset value: WB, WT, UC-, UC, twice; Dyad's PWT/PCD bits mean what they mean at reset. */
#define PAT_RESET 0x0007040600070406ULL

void cpu_init_local(void)
{
	/* WP: the kernel honours read-only pages; NE for VMXON; caches on (CD, NW clear). */
	write_cr0((read_cr0() & ~(CR0_CD_BIT | CR0_NW_BIT)) | CR0_WP | CR0_NE);
	fpu_init_cpu();
	cpu_enable_protection();
	if (cpu_features.pge)
		write_cr4(read_cr4() | CR4_PGE);
	if (cpu_features.nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	wrmsr(MSR_PAT, PAT_RESET);
	user_init();
}

void cpu_print(void)
{
	const struct cpu_features *f = &cpu_features;

	printf("cpu: %s nx=%d pge=%d 1g-pages=%d x2apic=%d smep=%d smap=%d xsave=%d avx=%d vmx=%d",
	       f->vendor, f->nx, f->pge, f->page_1g, f->x2apic, f->smep, f->smap, f->xsave, f->avx,
	       f->vmx);
	if (fpu_xsave_enabled())
		printf(" xcr0=%#lx (%zu-byte save area)", fpu_xcr0(), fpu_area_size());
	if (f->vmx)
		printf(" ept-2m=%d ept-1g=%d ept-ad=%d", !!(f->ept_vpid_cap & EPT_CAP_2M),
		       !!(f->ept_vpid_cap & EPT_CAP_1G), !!(f->ept_vpid_cap & EPT_CAP_AD));
	else if (f->svm)
		printf(" svm=1 npt=%d asids=%u", f->npt, f->svm_nasid);
	else
		printf(" svm=0 (no VMX or SVM on this CPU: guests cannot run here)");
	if (f->hypervisor)
		printf(" hypervisor=%s", f->hypervisor_id[0] ? f->hypervisor_id : "(no signature)");
	printf("\n");
}
