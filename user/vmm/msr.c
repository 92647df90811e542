// SPDX-License-Identifier: MIT
/*
 * MSRs a stock kernel touches on the way up, emulated with the values of a CPU that has none
 * of the features behind them; every other MSR (outside the kernel-kept ones and the APIC's) is
 * a #GP, which Linux expects from rdmsr_safe/wrmsr_safe probes and survives as a warning
 * elsewhere.
 *   0x17  IA32_PLATFORM_ID        0
 *   0x3a  IA32_FEATURE_CONTROL    locked, VMX off (CPUID hides VMX anyway)
 *   0x8b  IA32_BIOS_SIGN_ID       microcode revision 0; writes ignored (the "trigger" write)
 *   0x1a0 IA32_MISC_ENABLE        fast strings; the guest's writes are kept, not acted on
 *   0xc0010015 AMD HWCR           bit 24: the TSC counts at P0 frequency
 *   0xc0010055 AMD INT_PENDING_MSG 0: C1E is not active, writes ignored. Linux reads it with a
 *               plain RDMSR on the families with erratum 400 (family 0xf from model 0x41,
 *               family 0x10: QEMU's default AMD models), so a #GP there is a warning with a
 *               call trace in every boot.
 *   0xc0011029 AMD DE_CFG         bit 1: LFENCE is dispatch-serialising
 *   0xc001001f AMD NB_CFG         0, writes ignored. Linux on family 0x10 and later (every EPYC)
 *               reads it with a plain RDMSR to turn on CF8 extended configuration access, so
 *               a #GP there is a warning in every boot on such a host.
 *   0xc0010010/0xc0010114/0xc0010117 AMD SYSCFG, VM_CR, VM_HSAVE_PA: 0 / SVM disabled; writes
 * ignored
 */
#include "msr.h"
#include "vmm.h"

#define MSR_PLATFORM_ID 0x17
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_BIOS_SIGN_ID 0x8b
#define MSR_MISC_ENABLE 0x1a0
#define MSR_AMD_SYSCFG 0xc0010010
#define MSR_AMD_HWCR 0xc0010015
#define MSR_AMD_NB_CFG 0xc001001f
#define MSR_AMD_INT_PENDING_MSG 0xc0010055
#define MSR_AMD_VM_CR 0xc0010114
#define MSR_AMD_VM_HSAVE_PA 0xc0010117
#define MSR_AMD_DE_CFG 0xc0011029

void msrs_init(struct msrs *m)
{
	*m = (struct msrs){ .misc_enable = 1 };
}

static int msrs_read(void *dev, uint32_t index, uint64_t *value)
{
	struct msrs *m = dev;

	switch (index) {
	case MSR_PLATFORM_ID:
		*value = 0;
		return 0;
	case MSR_FEATURE_CONTROL:
		*value = 1; /* locked, no VMX inside or outside SMX */
		return 0;
	case MSR_BIOS_SIGN_ID:
		*value = m->bios_sign_id;
		return 0;
	case MSR_MISC_ENABLE:
		*value = m->misc_enable;
		return 0;
	case MSR_AMD_HWCR:
		*value = 1u << 24;
		return 0;
	case MSR_AMD_DE_CFG:
		*value = 2;
		return 0;
	case MSR_AMD_SYSCFG:
	case MSR_AMD_VM_HSAVE_PA:
	case MSR_AMD_INT_PENDING_MSG:
	case MSR_AMD_NB_CFG:
		*value = 0;
		return 0;
	case MSR_AMD_VM_CR:
		*value = 0x10; /* SVMDIS */
		return 0;
	}
	return -1;
}

static int msrs_write(void *dev, uint32_t index, uint64_t value)
{
	struct msrs *m = dev;

	switch (index) {
	case MSR_FEATURE_CONTROL:
	case MSR_PLATFORM_ID:
		return -1; /* locked / read-only */
	case MSR_MISC_ENABLE:
		m->misc_enable = value;
		return 0;
	case MSR_BIOS_SIGN_ID:
	case MSR_AMD_HWCR:
	case MSR_AMD_DE_CFG:
	case MSR_AMD_SYSCFG:
	case MSR_AMD_VM_CR:
	case MSR_AMD_VM_HSAVE_PA:
	case MSR_AMD_INT_PENDING_MSG:
	case MSR_AMD_NB_CFG:
		m->ignored_writes++;
		return 0;
	}
	return -1;
}

/* The bus handler (bus.h). */
static int msrs_access(void *dev, uint64_t index, unsigned size, int write, uint64_t *value)
{
	return write ? msrs_write(dev, (uint32_t)index, *value)
		     : msrs_read(dev, (uint32_t)index, value);
}

int msrs_register(struct msrs *m, struct bus *b)
{
	static const uint32_t owned[] = {
		MSR_PLATFORM_ID,	 MSR_FEATURE_CONTROL, MSR_BIOS_SIGN_ID,
		MSR_MISC_ENABLE,	 MSR_AMD_SYSCFG,      MSR_AMD_HWCR,
		MSR_AMD_VM_CR,		 MSR_AMD_VM_HSAVE_PA, MSR_AMD_DE_CFG,
		MSR_AMD_INT_PENDING_MSG, MSR_AMD_NB_CFG,
	};
	int err = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(owned); i++)
		err |= bus_register(b, BUS_MSR, owned[i], 1, msrs_access, m);
	return err;
}
