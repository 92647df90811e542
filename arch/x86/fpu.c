// SPDX-License-Identifier: MIT
/* Ring 3's x87/SSE/AVX registers: enabling them, save areas, and the clean start state. */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <dyad/printf.h>
#include <dyad/string.h>

#define FXSAVE_SIZE 512
#define XSAVE_HEADER_SIZE 64
#define FCW_RESET 0x037f /* every x87 exception masked, 64-bit precision, round to nearest */
#define MXCSR_RESET 0x1f80 /* every SIMD exception masked, round to nearest */
/* CPUID 0xd.1 EAX: the XSAVE extensions */
#define XSAVE_EXT_XSAVEOPT BIT(0)
#define XSAVE_EXT_XSAVEC BIT(1)
#define XSAVE_EXT_XGETBV1 BIT(2)
#define XSAVE_EXT_XSAVES BIT(3)

static u64 xcr0;
static size_t area_size = FXSAVE_SIZE;

/*
 * The start state, as an area fpu_restore takes: the legacy part holds FCW and MXCSR and zero
 * registers; the XSAVE header is zero, so XSTATE_BV = 0 and XRSTOR puts every component in its
 * initial state (the upper YMM halves included), whatever the area's other bytes say. A zero
 * image would not do: FCW 0 unmasks every x87 exception.
 */
static u8 clean_area[PAGE_SIZE] __aligned(64);

/* Turns XSAVE on with the components the kernel manages; returns the area size they need. */
static size_t enable_xsave(void)
{
	u32 a, b, c, d;

	cpuid(0xd, 0, &a, &b, &c, &d);
	xcr0 = XCR0_X87 | XCR0_SSE | (cpu_features.avx ? (a & XCR0_AVX) : 0);
	write_cr4(read_cr4() | CR4_OSXSAVE);
	xsetbv(xcr0);
	cpuid(0xd, 0, &a, &b, &c, &d); /* EBX: the size XCR0 now needs */
	size_t size = MAX((size_t)b, (size_t)FXSAVE_SIZE + XSAVE_HEADER_SIZE);
	if (xcr0 & XCR0_AVX) {
		/* Some emulators under-report EBX: the AVX component must fit whatever it says. */
		cpuid(0xd, 2, &a, &b, &c, &d);
		size = MAX(size, (size_t)b + a);
	}
	return size;
}

void fpu_init_cpu(void)
{
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
	if (xcr0) {
		write_cr4(read_cr4() | CR4_OSXSAVE);
		xsetbv(xcr0);
	}
}

/*
 * Leaf 0xd describes the save area: without it no size can be trusted. Under a hypervisor
 * (CPUID 1 ECX[31]), a leaf 0xd.1 EAX with none of XSAVEOPT, XSAVEC, XGETBV1 and XSAVES means
 * no XSAVE: QEMU's TCG (7.2) then takes CR4.OSXSAVE for a reserved bit and retries the MOV to
 * CR4 forever (its Opteron_G4 and Opteron_G5 models hung at boot), a hang no handler can catch.
 * Bare AMD CPUs of that kind (Bulldozer, Piledriver) keep XSAVE. FXSAVE still saves x87 and SSE.
 */
const char *fpu_xsave_unusable_why(void)
{
	u32 b, c, d, ext;

	if (cpu_features.max_leaf < 0xd)
		return "CPUID has no leaf 0xd (XSAVE area sizes)";
	cpuid(0xd, 1, &ext, &b, &c, &d);
	if (cpu_features.hypervisor &&
	    !(ext & (XSAVE_EXT_XSAVEOPT | XSAVE_EXT_XSAVEC | XSAVE_EXT_XGETBV1 | XSAVE_EXT_XSAVES)))
		return "a hypervisor's CPUID 0xd.1 has no XSAVEOPT, XSAVEC, XGETBV1, XSAVES";
	return NULL;
}

void fpu_init(void)
{
	const char *why;

	u16 *fcw = (u16 *)&clean_area[0];
	u32 *mxcsr = (u32 *)&clean_area[24];

	/* MP: WAIT honours TS; NE: x87 errors are #MF, not the legacy FERR# line (VMXON wants it). */
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
	if (cpu_features.xsave && (why = fpu_xsave_unusable_why()))
		printf("fpu: XSAVE left off (%s): FXSAVE for x87/SSE, no AVX state\n", why);
	else if (cpu_features.xsave)
		area_size = enable_xsave();
	if (area_size > PAGE_SIZE)
		panic("fpu: an XSAVE area of %zu bytes is larger than a page", area_size);
	*fcw = FCW_RESET;
	*mxcsr = MXCSR_RESET;
	fpu_load_clean();
}

size_t fpu_area_size(void)
{
	return area_size;
}

bool fpu_xsave_enabled(void)
{
	return xcr0 != 0;
}

u64 fpu_xcr0(void)
{
	return xcr0;
}

void fpu_save(void *area)
{
	if (xcr0)
		xsave(area, xcr0);
	else
		fxsave(area);
}

void fpu_restore(const void *area)
{
	if (xcr0)
		xrstor(area, xcr0);
	else
		fxrstor(area);
}

void fpu_load_clean(void)
{
	fpu_restore(clean_area);
}
