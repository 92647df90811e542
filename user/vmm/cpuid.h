/* SPDX-License-Identifier: MIT */
#ifndef VMM_CPUID_H
#define VMM_CPUID_H

#include <stdint.h>

struct cpuid_policy {
	uint64_t tsc_khz; /* the TSC rate Dyad measured (run->tsc_khz) */
	int amd; /* the host vendor is AuthenticAMD or HygonGenuine (cpuid_vendor_amd) */
	unsigned phys_bits; /* CPUID 0x80000008 EAX[7:0] the guest sees; 0: the host's */
	/* The host's CPUID (what the VMM itself reads). */
	void (*host)(uint32_t leaf, uint32_t subleaf, uint32_t r[4]);
};

/* A register of a CPUID result, as indexes into r[4]; CPUID_ALL names all four. */
enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX, CPUID_ALL };
/* Leaf 0x40000001 EAX: the KVM paravirtual features offered (KVM_FEATURE_PV_EOI only). */
#define CPUID_KVM_PV_EOI (1u << 6)

#define CPUID_ANY 0xffffffffu /* a row's subleaf: every subleaf */

/* One rule of the policy: in @reg of @leaf/@subleaf, clear the bits @clear, then set @set. */
struct cpuid_row {
	uint32_t leaf, subleaf;
	enum cpuid_reg reg;
	uint32_t clear, set;
};

/* The policy's rows (cpuid.c), applied in order to the host's values. */
extern const struct cpuid_row cpuid_rows[];
extern const unsigned cpuid_nrows;

/* Applies the @n rows of @rows that match @leaf/@subleaf to @r, in order. */
void cpuid_apply(const struct cpuid_row *rows, unsigned n, uint32_t leaf, uint32_t subleaf,
		 uint32_t r[4]);

/*
 * True when CPUID leaf 0 (@leaf0: EAX, EBX, ECX, EDX) names AMD or Hygon, whose CPUs (AMD's
 * design) Linux treats alike: no CPUID leaf gives the TSC rate, so the guest is told it.
 */
int cpuid_vendor_amd(const uint32_t leaf0[4]);

/* Fills @p from the host CPU: vendor and the host CPUID function. */
void cpuid_policy_init(struct cpuid_policy *p, uint64_t tsc_khz);
/* What the guest's CPUID returns for @leaf/@subleaf: r = EAX, EBX, ECX, EDX. */
void cpuid_guest(const struct cpuid_policy *p, uint32_t leaf, uint32_t subleaf, uint32_t r[4]);
/* The host's CPUID instruction. */
void cpuid_host(uint32_t leaf, uint32_t subleaf, uint32_t r[4]);

#endif
