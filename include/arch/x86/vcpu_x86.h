/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_VCPU_X86_H
#define ARCH_X86_VCPU_X86_H

#include <arch/x86/asm.h>
#include <dyad/types.h>
#include <uapi/dyad/vcpu.h>

/*
 * The x86 layer of the vCPU: what is the same on Intel VMX and AMD SVM lives here once, and
 * each backend (vmx*.c, svm.c) supplies only how its hardware holds a value. The layer owns
 *   - the rules: which events may be injected, canonical addresses, which XCR0 and EFER values
 *     a guest or its VMM may set, which MSRs pass through and what the VMM may write to them;
 *   - the guest state neither VMCS nor VMCB switches (the FPU/XSAVE registers with XCR0, PKRU,
 *     DR0-DR3 and DR6), switched once per DYAD_VCPU_RUN (vx86_state_*);
 *   - the guest's page walk for instruction fetch (vcpu_fetch), table-driven over the paging
 *     modes.
 */

#define VX86_T_AC 17 /* alignment check */

/* ---- rules -------------------------------------------------------------------------------- */

/* True for the exception vectors that push an error code (#DF #TS #NP #SS #GP #PF #AC). */
bool vx86_vector_has_error_code(unsigned vector);

/* A 48-bit canonical address: bits 63:47 all equal. */
static inline bool vx86_canonical(u64 a)
{
	return (u64)((s64)(a << 16) >> 16) == a;
}

/* The EFER bits a guest or its VMM may hold (SVME/VMXE stay the host's). */
#define VX86_EFER_GUEST (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

/*
 * A guest's WRMSR to EFER, with @old and @cr0 its current EFER and CR0: false (the guest gets
 * #GP) for a bit outside VX86_EFER_GUEST or a change of LME while paging is on. Otherwise
 * *@out is the new value with LMA kept as it was (the CPU's to change, with paging).
 */
bool vx86_efer_write(u64 old, u64 value, u64 cr0, u64 *out);

/*
 * XSETBV / the VMM's XCR0: true when @index is 0 and @value holds x87, only components the
 * host can switch for the guest (vx86_xcr0_supported), AVX only with SSE and AVX-512 only as a
 * whole and with AVX. The same rule on both vendors.
 */
bool vx86_xcr0_valid(u32 index, u64 value);

/* The XCR0 bits a guest may enable; set by vx86_init(). */
extern u64 vx86_xcr0_supported;

/* ---- MSRs --------------------------------------------------------------------------------- */

/* The MSRs the guest reads and writes without an exit: each is switched around every entry. */
extern const u32 vx86_msr_pass[];
extern const unsigned vx86_msr_pass_count;

/*
 * One row of a backend's table of the MSRs it keeps: where the value lives (a VMCS field
 * encoding or a byte offset into the VMCB / the vCPU's state; the backend knows which).
 */
struct vx86_msr_slot {
	u32 index;
	u32 where;
};

/* The row of @table (@n rows) for @index, or NULL. */
const struct vx86_msr_slot *vx86_msr_find(const struct vx86_msr_slot *table, unsigned n, u32 index);

/*
 * The VMM's value for a kept MSR, checked before it reaches the hardware (a ring-0 WRMSR, a
 * VMCS field or VMLOAD): 0, or -EINVAL for a non-canonical address, reserved bits of SFMASK
 * or SYSENTER_CS, a PAT entry of a reserved type, or an EFER bit outside VX86_EFER_GUEST.
 */
int vx86_msr_check(u32 index, u64 value);

/* ---- guest state switched once per run ---------------------------------------------------- */

/*
 * What neither VMCS nor VMCB switches: the x87/SSE/AVX registers (an XSAVE or FXSAVE image)
 * with XCR0, PKRU, and the debug registers DR0-DR3 and DR6. The guest's are in the CPU from
 * vx86_state_to_guest() to vx86_state_to_host(), which the backend calls with interrupts off
 * around the entries of one DYAD_VCPU_RUN; the kernel uses none of them meanwhile, and the
 * host's debug registers are clean (0, DR6 0xffff0ff0) whenever no guest's are loaded, so no
 * value one guest leaves there is seen by another VM.
 */
struct vx86_state {
	void *area; /* the guest's image: one page, 64-byte aligned */
	void *host_area; /* the VMM's registers while the guest's are loaded */
	u64 xcr0; /* the guest's XCR0 */
	u64 host_xcr0;
	u64 dr[4], dr6;
	u32 pkru, host_pkru;
	bool loaded;
};

/* Finds what the layer switches (XSAVE components, PKU). Once, at boot, before any VM. */
void vx86_init(void);

/*
 * A vCPU's reset state in @area: x87 only in XCR0, FCW 0x37f, MXCSR 0x1f80, PKRU and
 * DR0-DR3 0. Both pages (@area, @host_area) are cleared.
 */
void vx86_state_init(struct vx86_state *s, void *area, void *host_area);

/*
 * Loads the guest's registers, setting the host's aside, and back. The XSAVE image moves with
 * XCR0 = host's | guest's components: a guest that never turned SSE on in its XCR0 still has
 * XMM registers and MXCSR, and they are its own. A CPU that lets the guest set XCR0 itself
 * (no XSETBV intercept) leaves the guest's value in XCR0: to_host records it from there.
 */
void vx86_state_to_guest(struct vx86_state *s);
void vx86_state_to_host(struct vx86_state *s);

#endif
