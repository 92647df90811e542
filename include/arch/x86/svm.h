/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_SVM_H
#define ARCH_X86_SVM_H

#include <dyad/types.h>

/*
 * AMD SVM: the VMCB as the CPU reads it (AMD APM vol. 2, appendix B), the exit codes and the
 * bits the backend (arch/x86/svm.c) uses. Offsets are checked by static assertions.
 */

struct vmcb_seg {
	u16 selector;
	u16 attrib; /* type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, DB 10, G 11 */
	u32 limit;
	u64 base;
};

struct vmcb_control {
	u32 intercept_cr; /* reads 15:0, writes 31:16 */
	u32 intercept_dr;
	u32 intercept_exceptions;
	u32 intercept_misc1; /* SVM_INTERCEPT_* */
	u32 intercept_misc2; /* SVM_INTERCEPT2_* */
	u32 intercept_misc3;
	u8 reserved_1[0x3c - 0x18];
	u16 pause_filter_threshold;
	u16 pause_filter_count;
	u64 iopm_base_pa;
	u64 msrpm_base_pa;
	u64 tsc_offset;
	u32 asid;
	u8 tlb_control;
	u8 reserved_2[3];
	u64 int_ctl;
	u64 int_state; /* bit 0: STI/MOV-SS shadow */
	u64 exit_code;
	u64 exit_info_1;
	u64 exit_info_2;
	u64 exit_int_info;
	u64 nested_ctl;
	u64 avic_vapic_bar;
	u64 ghcb_pa;
	u64 event_inj;
	u64 nested_cr3;
	u64 virt_ext;
	u32 clean_bits;
	u32 reserved_3;
	u64 next_rip;
	u8 insn_len;
	u8 insn_bytes[15];
	u8 reserved_4[0x400 - 0xe0];
};

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr;
	u8 reserved_1[42];
	u8 vmpl;
	u8 cpl;
	u8 reserved_2[4];
	u64 efer;
	u8 reserved_3[112];
	u64 cr4, cr3, cr0, dr7, dr6, rflags, rip;
	u8 reserved_4[88];
	u64 rsp;
	u64 s_cet, ssp, isst_addr;
	u64 rax;
	u64 star, lstar, cstar, sfmask, kernel_gs_base;
	u64 sysenter_cs, sysenter_esp, sysenter_eip;
	u64 cr2;
	u8 reserved_5[32];
	u64 g_pat;
	u64 dbgctl, br_from, br_to, last_excp_from, last_excp_to;
};

struct vmcb {
	struct vmcb_control control;
	struct vmcb_save save;
};

_Static_assert(__builtin_offsetof(struct vmcb_control, iopm_base_pa) == 0x40, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb_control, int_ctl) == 0x60, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb_control, event_inj) == 0xa8, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb_control, next_rip) == 0xc8, "vmcb");
_Static_assert(sizeof(struct vmcb_control) == 0x400, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb, save.efer) == 0x4d0, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb, save.cr4) == 0x548, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb, save.rsp) == 0x5d8, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb, save.rax) == 0x5f8, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb, save.cr2) == 0x640, "vmcb");
_Static_assert(__builtin_offsetof(struct vmcb, save.g_pat) == 0x668, "vmcb");

/* intercept_misc1 */
#define SVM_INTERCEPT_INTR BIT(0)
#define SVM_INTERCEPT_NMI BIT(1)
#define SVM_INTERCEPT_SMI BIT(2)
#define SVM_INTERCEPT_INIT BIT(3)
#define SVM_INTERCEPT_VINTR BIT(4)
#define SVM_INTERCEPT_CPUID BIT(18)
#define SVM_INTERCEPT_IRET BIT(20)
#define SVM_INTERCEPT_INVD BIT(22)
#define SVM_INTERCEPT_HLT BIT(24)
#define SVM_INTERCEPT_INVLPGA BIT(26)
#define SVM_INTERCEPT_IOIO BIT(27)
#define SVM_INTERCEPT_MSR BIT(28)
#define SVM_INTERCEPT_SHUTDOWN BIT(31)
/* intercept_misc2 */
#define SVM_INTERCEPT2_VMRUN BIT(0)
#define SVM_INTERCEPT2_VMMCALL BIT(1)
#define SVM_INTERCEPT2_VMLOAD BIT(2)
#define SVM_INTERCEPT2_VMSAVE BIT(3)
#define SVM_INTERCEPT2_STGI BIT(4)
#define SVM_INTERCEPT2_CLGI BIT(5)
#define SVM_INTERCEPT2_SKINIT BIT(6)
#define SVM_INTERCEPT2_WBINVD BIT(9)
#define SVM_INTERCEPT2_MONITOR BIT(10)
#define SVM_INTERCEPT2_MWAIT BIT(11)
#define SVM_INTERCEPT2_MWAIT_COND BIT(12)
#define SVM_INTERCEPT2_XSETBV BIT(13)

/* int_ctl */
#define SVM_V_TPR_MASK 0xfULL
#define SVM_V_IRQ BIT(8)
#define SVM_V_INTR_PRIO_SHIFT 16
#define SVM_V_IGN_TPR BIT(20)
#define SVM_V_INTR_VECTOR_SHIFT 32 /* V_INTR_VECTOR: bits 39:32 */
#define SVM_V_INTR_MASKING BIT(24)

/* tlb_control */
#define SVM_TLB_FLUSH_ALL 1
#define SVM_TLB_FLUSH_ASID 3

/* nested_ctl */
#define SVM_NESTED_NP_ENABLE BIT(0)

/* event_inj and exit_int_info */
#define SVM_EVT_VECTOR_MASK 0xffULL
#define SVM_EVT_TYPE_INTR (0ULL << 8)
#define SVM_EVT_TYPE_NMI (2ULL << 8)
#define SVM_EVT_TYPE_EXCEPTION (3ULL << 8)
#define SVM_EVT_TYPE_MASK (7ULL << 8)
#define SVM_EVT_ERR_VALID BIT(11)
#define SVM_EVT_VALID BIT(31)

/* Exit codes. */
#define SVM_EXIT_EXCP_BASE 0x040
#define SVM_EXIT_INTR 0x060
#define SVM_EXIT_NMI 0x061
#define SVM_EXIT_SMI 0x062
#define SVM_EXIT_INIT 0x063
#define SVM_EXIT_VINTR 0x064
#define SVM_EXIT_CPUID 0x072
#define SVM_EXIT_IRET 0x074
#define SVM_EXIT_INVD 0x076
#define SVM_EXIT_HLT 0x078
#define SVM_EXIT_INVLPGA 0x07a
#define SVM_EXIT_IOIO 0x07b
#define SVM_EXIT_MSR 0x07c
#define SVM_EXIT_SHUTDOWN 0x07f
#define SVM_EXIT_VMRUN 0x080
#define SVM_EXIT_VMMCALL 0x081
#define SVM_EXIT_VMLOAD 0x082
#define SVM_EXIT_VMSAVE 0x083
#define SVM_EXIT_STGI 0x084
#define SVM_EXIT_CLGI 0x085
#define SVM_EXIT_SKINIT 0x086
#define SVM_EXIT_WBINVD 0x089
#define SVM_EXIT_MONITOR 0x08a
#define SVM_EXIT_MWAIT 0x08b
#define SVM_EXIT_MWAIT_COND 0x08c
#define SVM_EXIT_XSETBV 0x08d
#define SVM_EXIT_NPF 0x400
#define SVM_EXIT_INVALID ((u64)-1)

/* IOIO exit_info_1 */
#define SVM_IOIO_IN BIT(0)
#define SVM_IOIO_STR BIT(2)
#define SVM_IOIO_REP BIT(3)
#define SVM_IOIO_SIZE_SHIFT 4 /* bits 6:4: 1, 2, 4 bytes */
#define SVM_IOIO_PORT_SHIFT 16

/* NPF exit_info_1 */
#define SVM_NPF_P BIT(0)
#define SVM_NPF_W BIT(1)
#define SVM_NPF_U BIT(2)
#define SVM_NPF_ID BIT(4)

/* CPUID 0x8000000A EDX */
#define SVM_FEATURE_NPT BIT(0)
#define SVM_FEATURE_NRIPS BIT(3)
#define SVM_FEATURE_FLUSH_BY_ASID BIT(6)
#define SVM_FEATURE_VGIF BIT(16)

#define MSR_VM_CR 0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
#define VM_CR_SVMDIS BIT(4)
#define EFER_SVME BIT(12)

/* The guest's general registers that VMRUN does not switch (RAX and RSP live in the VMCB). */
struct svm_gprs {
	u64 rbx, rcx, rdx, rsi, rdi, rbp;
	u64 r8, r9, r10, r11, r12, r13, r14, r15;
};

/*
 * arch/x86/svm_entry.asm: VMSAVE the host's state to @host_pa, VMLOAD the guest's, load
 * @gprs, VMRUN @vmcb_pa, then the reverse. Call with GIF clear (CLGI) and IF set.
 */
void svm_vmrun(paddr_t vmcb_pa, struct svm_gprs *gprs, paddr_t host_pa);

#endif
