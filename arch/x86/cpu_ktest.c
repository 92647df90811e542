// SPDX-License-Identifier: MIT
/* Self-tests of the CPU setup: control-register bits, XSAVE, and NMI handling. */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/lapic.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <dyad/ktest.h>
#include <dyad/time.h>

KTEST(cr0_ne_is_set)
{
	u64 cr0 = read_cr0();

	KT_EXPECT(kt, cr0 & CR0_NE, "CR0 %#lx: x87 errors would use FERR# and VMXON would fail",
		  cr0);
	KT_EXPECT(kt, (cr0 & (CR0_MP | CR0_WP)) == (CR0_MP | CR0_WP) && !(cr0 & (CR0_EM | CR0_TS)),
		  "CR0 %#lx", cr0);
}

#ifndef CR0_NW
#define CR0_NW BIT(29)
#endif
#ifndef CR0_CD
#define CR0_CD BIT(30)
#endif

/* The reset value of CR0 has caching off; boot.asm turns it on (Bochs's BIOS leaves it off). */
KTEST(cr0_caching_is_on)
{
	u64 cr0 = read_cr0();

	KT_EXPECT(kt, !(cr0 & (CR0_CD | CR0_NW)),
		  "CR0 %#lx: CD or NW set, every access bypasses the caches", cr0);
}

KTEST(smap_is_on_where_the_cpu_has_it)
{
	u64 cr4 = read_cr4();

	if (!cpu_features.smap)
		KT_SKIP(kt, "this CPU has no SMAP");
	KT_EXPECT(kt, cr4 & CR4_SMAP, "CPUID has SMAP, CR4 %#lx has not", cr4);
	KT_EXPECT(kt, cpu_smap_enabled, "uaccess does not know SMAP is on");
	KT_EXPECT(kt, !(read_rflags() & RFLAGS_AC), "RFLAGS.AC is set in kernel code");
}

KTEST(xsave_is_on_with_x87_sse_and_avx)
{
	if (!cpu_features.xsave)
		KT_SKIP(kt, "this CPU has no XSAVE");
	if (fpu_xsave_unusable_why()) {
		/* Left off on purpose: then it must really be off, and FXSAVE's 512 bytes in use. */
		KT_EXPECT(kt, !(read_cr4() & CR4_OSXSAVE) && !fpu_xsave_enabled(),
			  "XSAVE left off (%s), yet CR4 %#lx, XCR0 %#lx", fpu_xsave_unusable_why(),
			  read_cr4(), fpu_xcr0());
		KT_EXPECT(kt, fpu_area_size() == 512, "save area of %zu bytes", fpu_area_size());
		return;
	}
	KT_ASSERT(kt, read_cr4() & CR4_OSXSAVE, "CR4 %#lx lacks OSXSAVE", read_cr4());
	u64 xcr0 = xgetbv(), want = 0x3 | (cpu_features.avx ? 0x4 : 0);
	KT_EXPECT(kt, xcr0 == want && fpu_xcr0() == want, "XCR0 %#lx (kernel says %#lx), want %#lx",
		  xcr0, fpu_xcr0(), want);
	KT_EXPECT(kt, fpu_area_size() >= 512 + 64 + (cpu_features.avx ? 256 : 0),
		  "save area of %zu bytes", fpu_area_size());
}

static void self_nmi_and_wait(void *arg)
{
	u64 *seen = arg, before = trap_nmi_count();
	u64 deadline = rdtsc() + tsc_hz / 10;

	lapic_send_self_nmi();
	while (trap_nmi_count() == before && rdtsc() < deadline)
		cpu_relax();
	*seen = trap_nmi_count() - before;
}

/* An NMI inside trap_catch is recorded and the interrupted code goes on: it is not a fault. */
KTEST(nmi_is_recorded_and_not_caught_as_a_fault)
{
	struct fault_info fi = { 0 };
	u64 seen = 0, before = trap_nmi_count();

	KT_ASSERT(kt, !trap_catch(self_nmi_and_wait, &seen, &fi),
		  "the NMI was caught as a fault: vector %lu at rip %#lx", fi.vector, fi.rip);
	KT_EXPECT(kt, seen == 1, "%lu NMIs seen within 100 ms of the IPI", seen);
	KT_EXPECT(kt, trap_nmi_count() == before + 1, "count went from %lu to %lu", before,
		  trap_nmi_count());
	trap_nmi_report();
}
