/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_FPU_H
#define ARCH_X86_FPU_H

#include <dyad/types.h>

/*
 * The vector and floating-point registers of ring 3 (x87, SSE and, where the CPU has it, AVX).
 * The kernel is built without them, so the registers always hold the running process's state;
 * a parent's is kept in its save area while a child runs. With XSAVE the area is an XSAVE area
 * (standard form, components x87|SSE|AVX as the CPU has them, size from CPUID 0xD); without it,
 * a 512-byte FXSAVE image.
 */

/*
 * Turns the registers on for ring 3 at boot: CR0.MP, CR4.OSFXSR/OSXMMEXCPT, and with XSAVE
 * CR4.OSXSAVE and XCR0. Needs cpu_detect() first.
 */
void fpu_init(void);

/* The same register setup on this CPU (an AP), with the XCR0 the boot CPU's fpu_init() chose. */
void fpu_init_cpu(void);

/* Bytes a save area needs (at most PAGE_SIZE). Areas are 64-byte aligned and start zeroed. */
size_t fpu_area_size(void);

/*
 * Why XSAVE stays off on a CPU whose CPUID 1 offers it (no leaf 0xd, or under a hypervisor a
 * leaf 0xd.1 without any of XSAVEOPT, XSAVEC, XGETBV1, XSAVES, where QEMU hangs on CR4.OSXSAVE),
 * or NULL when it may be turned on. fpu_init() then keeps FXSAVE and says so at boot.
 */
const char *fpu_xsave_unusable_why(void);

/* True once XSAVE is on (CR4.OSXSAVE); fpu_xcr0() is then the XCR0 value in use, else 0. */
bool fpu_xsave_enabled(void);
u64 fpu_xcr0(void);

void fpu_save(void *area);
void fpu_restore(const void *area);

/*
 * Loads the reset state a new process starts from: FCW 0x037f (every x87 exception masked),
 * MXCSR 0x1f80, and every register, XMM and upper YMM halves included, zero. Nothing of the
 * previous owner remains.
 */
void fpu_load_clean(void);

#endif
