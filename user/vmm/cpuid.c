// SPDX-License-Identifier: MIT
/*
 * The guest's CPUID: the host's values (vendor, family, instruction sets) with what the VMM
 * does not virtualise taken out and what a KVM-like platform promises put in.
 *   leaf 1      hypervisor, x2APIC and TSC-deadline on; APIC ID 0, one logical CPU; VMX, SMX,
 *               MONITOR, speed/thermal control, PDCM, DTES64, MCE/MCA (their MSRs are absent),
 *               MTRR (no MTRR MSRs either), ACPI, TM, PBE, HTT off.
 *   leaf 6      ARAT only: the LAPIC timer runs in every C-state (Linux then skips the PIT).
 *   leaf 7      LA57 (5-level paging), TSC_ADJUST, SGX, PQM/PQE, Intel PT, WAITPKG, and the
 *               speculation-control MSR bits (SPEC_CTRL, STIBP, L1D_FLUSH, ARCH_CAPABILITIES,
 *               SSBD) off.
 *   leaf 0xd    XSAVE for x87, SSE and AVX only, in the standard format (no XSAVEOPT, XSAVEC,
 *               XSAVES): sizes for that fixed set, which is what the guest enables. The
 *               host's leaf reports sizes for the host's XCR0 (Linux warned of an XSAVE
 *               size mismatch and turned XSAVE off; the kernel, keeping the guest's FPU by its
 *               XCR0, then lost its SSE state). AVX-512 and PKU, whose state is not in that
 *               set, are hidden.
 *   leaf 0xa    no architectural PMU.
 *   leaf 0xb/0x1f no extended topology (one CPU).
 *   leaf 0x15   crystal APIC_CRYSTAL_KHZ and the ratio that gives tsc_khz, so the guest knows its
 *               TSC rate and the LAPIC timer period without calibration (Linux reads it on Intel).
 *   leaf 0x16   the base and maximum frequency in MHz.
 *   0x40000000  "KVMKVMKVM", maximum leaf 0x40000001 with no paravirtual features: enough for
 *               Linux's x2apic_available check.
 *   0x80000001  SVM, TOPOEXT and the AMD performance-counter extensions off.
 *   0x80000008  one core; 0x8000000a (SVM features) empty.
 */
#include <string.h>

#include "cpuid.h"
#include "vmm.h"
#include "x2apic.h"

#define BIT(n) (1u << (n))

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
	p->amd = r[1] == 0x68747541 && r[3] == 0x69746e65 && r[2] == 0x444d4163; /* AuthenticAMD */
}

/* The XSAVE state components offered: x87 and SSE, and AVX when the host has it. */
#define XSAVE_LEGACY_SIZE 576 /* legacy area and header */
#define XSAVE_AVX_SIZE 256

static void xsave_leaf(const struct cpuid_policy *p, uint32_t subleaf, uint32_t r[4])
{
	uint32_t h1[4];
	int avx;

	p->host(1, 0, h1);
	avx = (h1[2] & BIT(28)) && (h1[2] & BIT(26));
	memset(r, 0, 4 * sizeof(r[0]));
	if (!(h1[2] & BIT(26)))
		return;
	if (subleaf == 0) {
		r[0] = 0x3 | (avx ? 0x4 : 0);
		r[1] = r[2] = XSAVE_LEGACY_SIZE + (avx ? XSAVE_AVX_SIZE : 0);
	} else if (subleaf == 2 && avx) {
		r[0] = XSAVE_AVX_SIZE;
		r[1] = XSAVE_LEGACY_SIZE;
	}
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
	case 1:
		r[1] &= 0x0000ffff; /* APIC ID 0, CLFLUSH size and brand kept */
		r[1] |= 1u << 16; /* one logical processor */
		r[2] &= ~(BIT(3) | BIT(4) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(2) | BIT(15));
		r[2] |= BIT(21) | BIT(24) | BIT(31); /* x2APIC, TSC-deadline, hypervisor */
		r[3] &= ~(BIT(7) | BIT(12) | BIT(14) | BIT(21) | BIT(22) | BIT(28) | BIT(29) |
			  BIT(31));
		r[3] |= BIT(9); /* APIC */
		break;
	case 4:
		r[0] &= 0x03ffffff; /* one core per package */
		r[0] &= ~(0xfffu << 14); /* one thread per cache */
		break;
	case 5: /* MONITOR/MWAIT: hidden */
		memset(r, 0, 4 * sizeof(r[0]));
		break;
	case 6:
		memset(r, 0, 4 * sizeof(r[0]));
		r[0] = BIT(2); /* ARAT */
		break;
	case 7:
		if (subleaf == 0) {
			r[1] &= ~(BIT(1) | BIT(2) | BIT(12) | BIT(15) | BIT(25));
			r[1] &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) |
				  BIT(30) | BIT(31)); /* AVX-512 */
			r[2] &= ~(BIT(5) | BIT(1) | BIT(3) | BIT(4) | BIT(6) | BIT(11) | BIT(12) |
				  BIT(14)); /* WAITPKG, AVX-512, PKU/OSPKE */
			/* LA57: the bzImage decompressor would switch to 5-level paging, which the
			 * kernel's instruction fetch for exits (a 4-level walk) cannot follow; no
			 * guest RAM here needs it. */
			r[2] &= ~BIT(16);
			r[3] &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(23));
			r[3] &= ~(BIT(26) | BIT(27) | BIT(28) | BIT(29) | BIT(31));
		} else {
			memset(r, 0, 4 * sizeof(r[0])); /* AVX-VNNI, AVX512_BF16, ... */
		}
		break;
	case 0xd:
		xsave_leaf(p, subleaf, r);
		break;
	case 0xa:
	case 0xb:
	case 0x1f:
		memset(r, 0, 4 * sizeof(r[0]));
		break;
	case 0x15:
		r[0] = APIC_CRYSTAL_KHZ; /* TSC = ECX * EBX / EAX = tsc_khz * 1000 */
		r[1] = (uint32_t)p->tsc_khz;
		r[2] = APIC_CRYSTAL_KHZ * 1000;
		r[3] = 0;
		if (!p->tsc_khz)
			memset(r, 0, 4 * sizeof(r[0]));
		break;
	case 0x16:
		r[0] = r[1] = (uint32_t)(p->tsc_khz / 1000);
		r[2] = APIC_CRYSTAL_KHZ / 1000;
		r[3] = 0;
		break;
	case 0x80000001:
		r[2] &= ~(BIT(2) | BIT(22) | BIT(23) | BIT(24) | BIT(28));
		r[2] &= ~(BIT(11) | BIT(16)); /* XOP, FMA4: VEX-encoded, need XSAVE state */
		break;
	case 0x80000008:
		r[2] &= ~0xf0ffu; /* one core, APIC ID size 0 */
		break;
	case 0x8000000a:
	case 0x8000001e:
	case 0x80000022:
		memset(r, 0, 4 * sizeof(r[0]));
		break;
	default:
		/* Leaves above 0x16 below the host's maximum (SGX, PT, ...) read as the host's,
		 * except the ones whose features leaf 7 hid. */
		if (leaf == 0x12 || leaf == 0x14 || leaf == 0xf || leaf == 0x10)
			memset(r, 0, 4 * sizeof(r[0]));
		break;
	}
}
