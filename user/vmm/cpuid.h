/* SPDX-License-Identifier: MIT */
#ifndef VMM_CPUID_H
#define VMM_CPUID_H

#include <stdint.h>

struct cpuid_policy {
	uint64_t tsc_khz; /* the TSC rate Dyad measured (run->tsc_khz) */
	int amd; /* the host vendor is AuthenticAMD */
	/* The host's CPUID (what the VMM itself reads). */
	void (*host)(uint32_t leaf, uint32_t subleaf, uint32_t r[4]);
};

/* Fills @p from the host CPU: vendor and the host CPUID function. */
void cpuid_policy_init(struct cpuid_policy *p, uint64_t tsc_khz);
/* What the guest's CPUID returns for @leaf/@subleaf: r = EAX, EBX, ECX, EDX. */
void cpuid_guest(const struct cpuid_policy *p, uint32_t leaf, uint32_t subleaf, uint32_t r[4]);
/* The host's CPUID instruction. */
void cpuid_host(uint32_t leaf, uint32_t subleaf, uint32_t r[4]);

#endif
