// SPDX-License-Identifier: MIT
/*
 * The guest's CPUID: the host's values (vendor, family, instruction sets) with what the VMM
 * does not virtualise taken out and what a KVM-like platform promises put in. Fixed bits are
 * the rows of cpuid_rows[] below, one row per register and reason; the values the VMM computes
 * (the maximum basic leaf, XSAVE sizes, the TSC and crystal rates, the hypervisor leaves) are
 * the small functions above it.
 *   0x40000000  "KVMKVMKVM", maximum leaf 0x40000001: enough for Linux's x2apic_available
 *               check. Leaf 0x40000001 offers one paravirtual feature, PV EOI (EAX bit 6,
 *               x2apic.h): the guest's EOI of an interrupt that needs none at the I/O APIC
 *               becomes a bit cleared in memory instead of an exit.
 *   leaf 0      the maximum basic leaf raised to 0x16 so that the frequency leaves are read;
 *               leaves above it read 0.
 *   leaf 0xd    XSAVE for x87, SSE and AVX only, in the standard format (no XSAVEOPT, XSAVEC,
 *               XSAVES): sizes for that fixed set, which is what the guest enables. The
 *               host's leaf reports sizes for the host's XCR0 (Linux warned of an XSAVE
 *               size mismatch and turned XSAVE off). AVX-512 and PKU, whose state is not in
 *               that set, are hidden (rows). All of it only where Dyad turned XSAVE on (the
 *               host's CPUID 1 OSXSAVE, which mirrors the host's CR4): the kernel may leave it
 *               off (fpu_init), and then the guest sees no XSAVE and none of the AVX family,
 *               whose state nothing would switch (Dyad would refuse the guest's XSETBV).
 *   leaf 0x15   crystal APIC_CRYSTAL_KHZ and the ratio that gives tsc_khz, so the guest knows its
 *               TSC rate and the LAPIC timer period without calibration (Linux reads it on Intel).
 *   leaf 0x16   the base and maximum frequency in MHz.
 */
#include <string.h>

#include "cpuid.h"
#include "vmm.h"
#include "x2apic.h"

#define BIT(n) (1u << (n))
#define ALL_BITS 0xffffffffu

/* clang-format off */
const struct cpuid_row cpuid_rows[] = {
	/* leaf 1: APIC ID 0, one logical CPU; CLFLUSH size and brand index kept. */
	{ 1, CPUID_ANY, CPUID_EBX, 0xffff0000, 1u << 16 },
	/* DTES64, MONITOR, DS-CPL, VMX, SMX, EIST, TM2, PDCM off (their MSRs are absent);
	 * x2APIC, TSC-deadline and the hypervisor bit on. */
	{ 1, CPUID_ANY, CPUID_ECX, BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(8) |
		BIT(15), BIT(21) | BIT(24) | BIT(31) },
	/* MCE, MTRR, ACPI (thermal MSRs), MCA, TM, HTT, PBE off; APIC on. */
	{ 1, CPUID_ANY, CPUID_EDX, BIT(7) | BIT(12) | BIT(14) | BIT(21) | BIT(22) | BIT(28) |
		BIT(29) | BIT(31), BIT(9) },
	/* Cache topology: one core per package, one thread per cache. */
	{ 4, CPUID_ANY, CPUID_EAX, 0xfc000000 | 0xfffu << 14, 0 },
	/* MONITOR/MWAIT: hidden. */
	{ 5, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	/* Power management: ARAT only, the LAPIC timer runs in every C-state (Linux then skips
	 * the PIT). */
	{ 6, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 6, CPUID_ANY, CPUID_EAX, 0, BIT(2) },
	/* leaf 7.0 EAX, the last subleaf: 0; subleaves 1 and 2 (AVX-VNNI, AVX512_BF16, ...) read
	 * 0 as on a CPU without them. */
	{ 7, 0, CPUID_EAX, ALL_BITS, 0 },
	{ 7, 1, CPUID_ALL, ALL_BITS, 0 },
	{ 7, 2, CPUID_ALL, ALL_BITS, 0 },
	/* TSC_ADJUST, SGX, PQM, PQE, Intel PT off (no MSRs behind them). */
	{ 7, 0, CPUID_EBX, BIT(1) | BIT(2) | BIT(12) | BIT(15) | BIT(25), 0 },
	/* AVX-512: its state is outside the XSAVE set offered (leaf 0xd). */
	{ 7, 0, CPUID_EBX, BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) |
		BIT(31), 0 },
	/* AVX-512 VBMI etc., WAITPKG, PKU/OSPKE off. LA57: the bzImage decompressor would switch to
	 * 5-level paging, which the kernel's instruction fetch for exits (a 4-level walk) cannot
	 * follow; no guest RAM here needs it. */
	{ 7, 0, CPUID_ECX, BIT(1) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(11) | BIT(12) |
		BIT(14) | BIT(16), 0 },
	/* RDPID, and RDTSCP below: both read IA32_TSC_AUX, which the VMM does not emulate and the
	 * kernel does not switch; Linux writes TSC_AUX only when one of them is offered ("unchecked
	 * MSR access error: WRMSR to 0xc0000103" otherwise) and falls back to LSL for getcpu. */
	{ 7, 0, CPUID_ECX, BIT(22), 0 },
	/* AVX-512 4VNNIW/4FMAPS, AVX512_VP2INTERSECT, TSX force-abort, speculation-control MSRs
	 * (SPEC_CTRL, STIBP, L1D_FLUSH, ARCH_CAPABILITIES, SSBD): no MSRs behind them. */
	{ 7, 0, CPUID_EDX, BIT(2) | BIT(3) | BIT(8) | BIT(23) | BIT(26) | BIT(27) | BIT(28) |
		BIT(29) | BIT(31), 0 },
	/* No architectural PMU, no extended topology (one CPU). */
	{ 0xa, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 0xb, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 0x1f, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	/* The leaves of features leaf 7 hid: PQM, PQE, SGX, Intel PT. */
	{ 0xf, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 0x10, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 0x12, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 0x14, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	/* SVM, TOPOEXT and the AMD performance-counter extensions off; XOP and FMA4 are
	 * VEX-encoded and need XSAVE state outside the offered set. */
	{ 0x80000001, CPUID_ANY, CPUID_ECX, BIT(2) | BIT(11) | BIT(16) | BIT(22) | BIT(23) |
		BIT(24) | BIT(28), 0 },
	{ 0x80000001, CPUID_ANY, CPUID_EDX, BIT(27), 0 }, /* RDTSCP: see RDPID above */
	/* Invariant TSC: every vCPU reads the one host TSC, with no offset, at the rate Dyad
	 * measured at boot and keeps its own time by. Without it, Linux on an AMD CPU with
	 * several CPUs marks the TSC unstable ("TSCs unsynchronized") without checking them. */
	{ 0x80000007, CPUID_ANY, CPUID_EDX, 0, BIT(8) },
	/* One core, APIC ID size 0. */
	{ 0x80000008, CPUID_ANY, CPUID_ECX, 0xf0ff, 0 },
	/* SVM features, AMD topology extensions, AMD PMU v2: none. */
	{ 0x8000000a, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 0x8000001e, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
	{ 0x80000022, CPUID_ANY, CPUID_ALL, ALL_BITS, 0 },
};
/* clang-format on */
const unsigned cpuid_nrows = ARRAY_SIZE(cpuid_rows);

void cpuid_apply(const struct cpuid_row *rows, unsigned n, uint32_t leaf, uint32_t subleaf,
		 uint32_t r[4])
{
	for (const struct cpuid_row *w = rows; w < rows + n; w++) {
		if (w->leaf != leaf || (w->subleaf != CPUID_ANY && w->subleaf != subleaf))
			continue;
		for (int i = 0; i < 4; i++) {
			if (w->reg != CPUID_ALL && w->reg != (enum cpuid_reg)i)
				continue;
			r[i] = (r[i] & ~w->clear) | w->set;
		}
	}
}

void cpuid_host(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

void cpuid_policy_init(struct cpuid_policy *p, uint64_t tsc_khz)
{
	uint32_t r[4];

	p->host = cpuid_host;
	p->tsc_khz = tsc_khz;
	cpuid_host(0, 0, r);
	p->amd = cpuid_vendor_amd(r);
}

int cpuid_vendor_amd(const uint32_t leaf0[4])
{
	char v[13];

	memcpy(v, &leaf0[1], 4);
	memcpy(v + 4, &leaf0[3], 4);
	memcpy(v + 8, &leaf0[2], 4);
	v[12] = 0;
	return !strcmp(v, "AuthenticAMD") || !strcmp(v, "HygonGenuine");
}

/* The XSAVE state components offered: x87 and SSE, and AVX when the host has it. */
#define XSAVE_LEGACY_SIZE 576 /* legacy area and header */
#define XSAVE_AVX_SIZE 256
#define CPUID1_ECX_OSXSAVE BIT(27) /* the host kernel set CR4.OSXSAVE */

/* True when Dyad runs with XSAVE on: only then can the guest's XSAVE state be switched. */
static int host_xsave_on(const struct cpuid_policy *p)
{
	uint32_t h1[4];

	p->host(1, 0, h1);
	return !!(h1[2] & CPUID1_ECX_OSXSAVE);
}

/* Without XSAVE on in the host: no XSAVE, and none of the features whose state it holds. */
static void hide_xsave_family(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	if (leaf == 1) /* FMA, XSAVE, OSXSAVE, AVX, F16C */
		r[2] &= ~(BIT(12) | BIT(26) | BIT(27) | BIT(28) | BIT(29));
	if (leaf == 7 && subleaf == 0) {
		r[1] &= ~BIT(5); /* AVX2 */
		r[2] &= ~(BIT(9) | BIT(10)); /* VAES, VPCLMULQDQ: VEX forms */
	}
}

static void xsave_leaf(const struct cpuid_policy *p, uint32_t subleaf, uint32_t r[4])
{
	uint32_t h1[4];
	int avx;

	p->host(1, 0, h1);
	avx = (h1[2] & BIT(28)) && (h1[2] & BIT(26));
	memset(r, 0, 4 * sizeof(r[0]));
	if (!(h1[2] & BIT(26)) || !host_xsave_on(p))
		return;
	if (subleaf == 0) {
		r[0] = 0x3 | (avx ? 0x4 : 0);
		r[1] = r[2] = XSAVE_LEGACY_SIZE + (avx ? XSAVE_AVX_SIZE : 0);
	} else if (subleaf == 2 && avx) {
		r[0] = XSAVE_AVX_SIZE;
		r[1] = XSAVE_LEGACY_SIZE;
	}
}

/* TSC = ECX * EBX / EAX = tsc_khz * 1000; nothing when the rate is unknown. */
static void tsc_leaf(const struct cpuid_policy *p, uint32_t r[4])
{
	memset(r, 0, 4 * sizeof(r[0]));
	if (!p->tsc_khz)
		return;
	r[0] = APIC_CRYSTAL_KHZ;
	r[1] = (uint32_t)p->tsc_khz;
	r[2] = APIC_CRYSTAL_KHZ * 1000;
}

static void frequency_leaf(const struct cpuid_policy *p, uint32_t r[4])
{
	r[0] = r[1] = (uint32_t)(p->tsc_khz / 1000);
	r[2] = APIC_CRYSTAL_KHZ / 1000;
	r[3] = 0;
}

void cpuid_guest(const struct cpuid_policy *p, uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	uint32_t h0[4];

	p->host(0, 0, h0);
	memset(r, 0, 4 * sizeof(r[0]));
	if (leaf >= 0x40000000 && leaf < 0x50000000) {
		if (leaf == 0x40000000) {
			r[0] = 0x40000001;
			memcpy(&r[1], "KVMKVMKVM\0\0\0", 12);
		} else if (leaf == 0x40000001) {
			r[0] = CPUID_KVM_PV_EOI;
		}
		return;
	}
	uint32_t max_basic = MAX(h0[0], 0x16u);
	if (leaf < 0x80000000 && leaf > max_basic)
		return;
	p->host(leaf, subleaf, r);
	switch (leaf) {
	case 0:
		r[0] = max_basic;
		break;
	case 0x80000008:
		if (p->phys_bits)
			r[0] = (r[0] & ~0xffu) | p->phys_bits;
		break;
	case 0xd:
		xsave_leaf(p, subleaf, r);
		break;
	case 0x15:
		tsc_leaf(p, r);
		break;
	case 0x16:
		frequency_leaf(p, r);
		break;
	}
	cpuid_apply(cpuid_rows, cpuid_nrows, leaf, subleaf, r);
	if (!host_xsave_on(p))
		hide_xsave_family(leaf, subleaf, r);
}
