/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_VMX_H
#define ARCH_X86_VMX_H

#include <dyad/types.h>

/*
 * The Intel VMX backend (arch/x86/vmx*.c): the VMCS field encodings and exit reasons it uses
 * (Intel SDM vol. 3, appendices B and C), the capability table that decides the VM-execution
 * controls, and the one-instruction wrappers. kern/vcpu.c sees only vmx_backend.
 */

/* ---- capability MSRs ---------------------------------------------------------------- */
#define MSR_VMX_PINBASED_CTLS 0x481
#define MSR_VMX_EXIT_CTLS 0x483
#define MSR_VMX_ENTRY_CTLS 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_TRUE_PINBASED_CTLS 0x48d
#define MSR_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_VMX_TRUE_ENTRY_CTLS 0x490
#define MSR_PAT 0x277
#define MSR_TSC 0x10
#define MSR_CSTAR 0xc0000083

#define VMX_BASIC_REVISION(b) ((u32)(b)&0x7fffffff)
#define VMX_BASIC_32BIT_ADDR BIT(48) /* VMXON/VMCS addresses limited to 32 bits */
#define VMX_BASIC_MEMTYPE(b) (((b) >> 50) & 0xf)
#define VMX_BASIC_TRUE_CTLS BIT(55)
#define VMX_MISC_PREEMPT_SHIFT(m) ((m)&0x1f)
#define EPT_CAP_WALK_4 BIT(6)
#define EPT_CAP_INVEPT_ALL BIT(26)

/* ---- VM-execution, exit and entry controls ------------------------------------------- */
enum vmx_ctl_class { VMX_PIN, VMX_PROC, VMX_PROC2, VMX_EXIT, VMX_ENTRY, VMX_CLASSES };

#define PIN_EXTINT_EXITING BIT(0)
#define PIN_NMI_EXITING BIT(3)
#define PIN_VIRTUAL_NMIS BIT(5)
#define PIN_PREEMPT_TIMER BIT(6)
#define PROC_INTR_WINDOW BIT(2)
#define PROC_TSC_OFFSET BIT(3)
#define PROC_HLT_EXITING BIT(7)
#define PROC_CR3_LOAD BIT(15)
#define PROC_CR3_STORE BIT(16)
#define PROC_CR8_LOAD BIT(19)
#define PROC_CR8_STORE BIT(20)
#define PROC_TPR_SHADOW BIT(21)
#define PROC_NMI_WINDOW BIT(22)
#define PROC_IO_UNCOND BIT(24)
#define PROC_MSR_BITMAP BIT(28)
#define PROC_SECONDARY BIT(31)
#define PROC2_EPT BIT(1)
#define PROC2_RDTSCP BIT(3)
#define PROC2_VPID BIT(5)
#define PROC2_UNRESTRICTED BIT(7)
#define PROC2_INVPCID BIT(12)
#define EXIT_SAVE_DEBUG BIT(2)
#define EXIT_HOST_64 BIT(9)
#define EXIT_ACK_INTR BIT(15)
#define EXIT_SAVE_PAT BIT(18)
#define EXIT_LOAD_PAT BIT(19)
#define EXIT_SAVE_EFER BIT(20)
#define EXIT_LOAD_EFER BIT(21)
#define ENTRY_LOAD_DEBUG BIT(2)
#define ENTRY_IA32E BIT(9)
#define ENTRY_LOAD_PAT BIT(14)
#define ENTRY_LOAD_EFER BIT(15)

/* What the backend has beyond the required minimum (struct vmx_config.have). */
#define VMX_HAVE_VPID BIT(0)
#define VMX_HAVE_PREEMPT BIT(1)
#define VMX_HAVE_TPR_SHADOW BIT(2)
#define VMX_HAVE_EPT_AD BIT(3)
#define VMX_HAVE_EPT_2M BIT(4)
#define VMX_HAVE_EPT_1G BIT(5)
#define VMX_HAVE_VNMI BIT(6) /* virtual NMIs and NMI-window exiting: DYAD_VCPU_NMI works */

/* The capability MSRs as read from the CPU (or made up by a test). */
struct vmx_caps {
	u64 basic;
	/* The TRUE_* MSRs where basic bit 55 says so: must-be-1 in bits 31:0, may-be-1 in 63:32. */
	u64 ctls[VMX_CLASSES];
	u64 misc;
	u64 ept_vpid;
	u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
};

/* What a VMCS gets: the control words, and the optional features kept. */
struct vmx_config {
	u32 ctls[VMX_CLASSES];
	u32 have; /* VMX_HAVE_* */
	unsigned preempt_shift; /* the preemption timer counts TSC >> this */
};

#define VMX_WHY_MAX 160

/*
 * Decides the controls from @caps with the table in vmx_caps.c: required controls and EPT
 * capabilities must be there, wanted ones are kept when allowed. Pure: no MSR is read.
 * Returns 0 with *@cfg filled and @dropped naming the wanted features left out ("" if none),
 * or -ENODEV with @missing naming every required feature that is not there.
 */
int vmx_config_decide(const struct vmx_caps *caps, struct vmx_config *cfg,
		      char missing[VMX_WHY_MAX], char dropped[VMX_WHY_MAX]);

/* Reads the capability MSRs of this CPU (VMX must be in CPUID and not locked off). */
void vmx_caps_read(struct vmx_caps *caps);

/* ---- VMCS fields ---------------------------------------------------------------------- */
#define VMCS_VPID 0x0000
/* Guest segments in the order ES CS SS DS FS GS LDTR TR: selector, limit, AR, base. */
#define VMCS_GUEST_SEL(i) (0x0800 + 2 * (i))
#define VMCS_GUEST_LIMIT(i) (0x4800 + 2 * (i))
#define VMCS_GUEST_AR(i) (0x4814 + 2 * (i))
#define VMCS_GUEST_BASE(i) (0x6806 + 2 * (i))
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_COUNT };
#define VMCS_HOST_ES_SEL 0x0c00
#define VMCS_HOST_CS_SEL 0x0c02
#define VMCS_HOST_SS_SEL 0x0c04
#define VMCS_HOST_DS_SEL 0x0c06
#define VMCS_HOST_FS_SEL 0x0c08
#define VMCS_HOST_GS_SEL 0x0c0a
#define VMCS_HOST_TR_SEL 0x0c0c
#define VMCS_MSR_BITMAP 0x2004
#define VMCS_TSC_OFFSET 0x2010
#define VMCS_VAPIC_PAGE 0x2012
#define VMCS_EPTP 0x201a
#define VMCS_GUEST_PHYS_ADDR 0x2400
#define VMCS_LINK_POINTER 0x2800
#define VMCS_GUEST_DEBUGCTL 0x2802
#define VMCS_GUEST_PAT 0x2804
#define VMCS_GUEST_EFER 0x2806
#define VMCS_GUEST_PDPTE(i) (0x280a + 2 * (i))
#define VMCS_HOST_PAT 0x2c00
#define VMCS_HOST_EFER 0x2c02
#define VMCS_PIN_CTLS 0x4000
#define VMCS_PROC_CTLS 0x4002
#define VMCS_EXCEPTION_BITMAP 0x4004
#define VMCS_CR3_TARGET_COUNT 0x400a
#define VMCS_EXIT_CTLS 0x400c
#define VMCS_EXIT_MSR_STORE_COUNT 0x400e
#define VMCS_EXIT_MSR_LOAD_COUNT 0x4010
#define VMCS_ENTRY_CTLS 0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT 0x4014
#define VMCS_ENTRY_INTR_INFO 0x4016
#define VMCS_ENTRY_EXC_ERROR 0x4018
#define VMCS_ENTRY_INSN_LEN 0x401a
#define VMCS_TPR_THRESHOLD 0x401c
#define VMCS_PROC2_CTLS 0x401e
#define VMCS_INSN_ERROR 0x4400
#define VMCS_EXIT_REASON 0x4402
#define VMCS_EXIT_INTR_INFO 0x4404
#define VMCS_EXIT_INTR_ERROR 0x4406
#define VMCS_IDT_VEC_INFO 0x4408
#define VMCS_IDT_VEC_ERROR 0x440a
#define VMCS_EXIT_INSN_LEN 0x440c
#define VMCS_GUEST_GDTR_LIMIT 0x4810
#define VMCS_GUEST_IDTR_LIMIT 0x4812
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY 0x4826
#define VMCS_GUEST_SYSENTER_CS 0x482a
#define VMCS_PREEMPT_TIMER 0x482e
#define VMCS_HOST_SYSENTER_CS 0x4c00
#define VMCS_CR0_MASK 0x6000
#define VMCS_CR4_MASK 0x6002
#define VMCS_CR0_SHADOW 0x6004
#define VMCS_CR4_SHADOW 0x6006
#define VMCS_EXIT_QUAL 0x6400
#define VMCS_GUEST_CR0 0x6800
#define VMCS_GUEST_CR3 0x6802
#define VMCS_GUEST_CR4 0x6804
#define VMCS_GUEST_GDTR_BASE 0x6816
#define VMCS_GUEST_IDTR_BASE 0x6818
#define VMCS_GUEST_DR7 0x681a
#define VMCS_GUEST_RSP 0x681c
#define VMCS_GUEST_RIP 0x681e
#define VMCS_GUEST_RFLAGS 0x6820
#define VMCS_GUEST_PENDING_DBG 0x6822
#define VMCS_GUEST_SYSENTER_ESP 0x6824
#define VMCS_GUEST_SYSENTER_EIP 0x6826
#define VMCS_HOST_CR0 0x6c00
#define VMCS_HOST_CR3 0x6c02
#define VMCS_HOST_CR4 0x6c04
#define VMCS_HOST_FS_BASE 0x6c06
#define VMCS_HOST_GS_BASE 0x6c08
#define VMCS_HOST_TR_BASE 0x6c0a
#define VMCS_HOST_GDTR_BASE 0x6c0c
#define VMCS_HOST_IDTR_BASE 0x6c0e
#define VMCS_HOST_SYSENTER_ESP 0x6c10
#define VMCS_HOST_SYSENTER_EIP 0x6c12
#define VMCS_HOST_RSP 0x6c14 /* written by vmx_entry.asm on every entry */
#define VMCS_HOST_RIP 0x6c16

/* Interruption information (exit, IDT vectoring, entry injection). */
#define INTR_INFO_VECTOR(i) ((i)&0xff)
#define INTR_INFO_TYPE(i) (((i) >> 8) & 7)
#define INTR_INFO_HAS_ERROR BIT(11)
#define INTR_INFO_NMI_UNBLOCK BIT(12)
#define INTR_INFO_VALID BIT(31)
#define INTR_TYPE_EXTINT 0
#define INTR_TYPE_NMI 2
#define INTR_TYPE_HW_EXC 3
#define INTR_TYPE_SW_INT 4
#define INTR_TYPE_PRIV_SW_EXC 5
#define INTR_TYPE_SW_EXC 6

/* Guest interruptibility state. */
#define INTERRUPTIBILITY_STI BIT(0)
#define INTERRUPTIBILITY_MOV_SS BIT(1)
#define INTERRUPTIBILITY_NMI BIT(3)

/* Exit reasons (bits 15:0 of the exit reason; bit 31: the VM entry failed). */
#define EXIT_REASON_ENTRY_FAILED BIT(31)
enum vmx_exit_reason {
	EXIT_EXCEPTION_NMI = 0,
	EXIT_EXTINT = 1,
	EXIT_TRIPLE_FAULT = 2,
	EXIT_INIT = 3,
	EXIT_SIPI = 4,
	EXIT_INTR_WINDOW = 7,
	EXIT_NMI_WINDOW = 8,
	EXIT_TASK_SWITCH = 9,
	EXIT_CPUID = 10,
	EXIT_GETSEC = 11,
	EXIT_HLT = 12,
	EXIT_INVD = 13,
	EXIT_INVLPG = 14,
	EXIT_RDPMC = 15,
	EXIT_RDTSC = 16,
	EXIT_RSM = 17,
	EXIT_VMCALL = 18,
	EXIT_VMCLEAR = 19,
	EXIT_VMLAUNCH = 20,
	EXIT_VMPTRLD = 21,
	EXIT_VMPTRST = 22,
	EXIT_VMREAD = 23,
	EXIT_VMRESUME = 24,
	EXIT_VMWRITE = 25,
	EXIT_VMXOFF = 26,
	EXIT_VMXON = 27,
	EXIT_CR_ACCESS = 28,
	EXIT_DR_ACCESS = 29,
	EXIT_IO = 30,
	EXIT_RDMSR = 31,
	EXIT_WRMSR = 32,
	EXIT_INVALID_GUEST = 33,
	EXIT_MSR_LOADING = 34,
	EXIT_MWAIT = 36,
	EXIT_MONITOR = 39,
	EXIT_MACHINE_CHECK = 41,
	EXIT_TPR_BELOW = 43,
	EXIT_EPT_VIOLATION = 48,
	EXIT_EPT_MISCONFIG = 49,
	EXIT_INVEPT = 50,
	EXIT_PREEMPT_TIMER = 52,
	EXIT_INVVPID = 53,
	EXIT_XSETBV = 55,
};

/* ---- instructions ----------------------------------------------------------------------- */

/* VMREAD of the current VMCS; a field that does not exist reads as 0. */
static inline u64 vmcs_read(u64 field)
{
	u64 v = 0;

	__asm__ volatile("vmread %1, %0" : "+rm"(v) : "r"(field) : "cc");
	return v;
}

/* VMWRITE to the current VMCS; false if the CPU refused (no such field, read-only). */
static inline bool vmcs_write(u64 field, u64 value)
{
	bool fail;

	__asm__ volatile("vmwrite %2, %1; setna %0"
			 : "=qm"(fail)
			 : "r"(field), "rm"(value)
			 : "cc", "memory");
	return !fail;
}

/* ---- inside the backend ----------------------------------------------------------------- */
struct vcpu;
struct dyad_regs;

/* The decided configuration (valid once vmx_backend.detect() said yes). */
extern struct vmx_config vmx_config;
extern struct vmx_caps vmx_caps;

/*
 * vmx_entry.asm: loads the guest's general registers from @regs, writes HOST_RSP, enters the
 * current VMCS (VMRESUME if @launched, else VMLAUNCH) and on the VM exit stores them back.
 * Returns 0 after a VM exit, 1 if the instruction failed (VMfailValid or VMfailInvalid).
 * RIP, RSP and RFLAGS of @regs are neither read nor written: they live in the VMCS.
 */
int vmx_run_guest(struct dyad_regs *regs, int launched);

/* vmx_entry.asm: `int vector` stubs, 4 bytes apart, to hand an acknowledged vector to the IDT. */
extern const u8 vmx_int_stubs[256 * 4];

#endif
