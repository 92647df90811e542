/* SPDX-License-Identifier: MIT */
#ifndef VMM_IPI_H
#define VMM_IPI_H

#include <stdint.h>

/*
 * Interprocessor-interrupt routing (Intel SDM vol. 3A, 11.6 "Issuing Interprocessor
 * Interrupts"): which local APICs an ICR write reaches. Pure: no machine, no threads, so the
 * unit tests call it directly.
 */

#define IPI_MAX_CPUS 64

/* ICR fields (the low 32 bits). */
#define ICR_VECTOR(low) ((low) & 0xffu)
#define ICR_MODE(low) (((low) >> 8) & 7u)
#define ICR_LOGICAL(low) (((low) >> 11) & 1u)
#define ICR_LEVEL_ASSERT(low) (((low) >> 14) & 1u)
#define ICR_TRIGGER_LEVEL(low) (((low) >> 15) & 1u)
#define ICR_SHORTHAND(low) (((low) >> 18) & 3u)

#define ICR_DM_FIXED 0
#define ICR_DM_LOWEST 1
#define ICR_DM_SMI 2
#define ICR_DM_NMI 4
#define ICR_DM_INIT 5
#define ICR_DM_SIPI 6

#define ICR_SH_NONE 0
#define ICR_SH_SELF 1
#define ICR_SH_ALL 2
#define ICR_SH_OTHERS 3

/* What a destination match needs of one local APIC. */
struct ipi_cpu {
	uint32_t id; /* the APIC ID (x2APIC ID; xAPIC mode uses its low 8 bits) */
	uint32_t ldr; /* the logical destination register as the mode defines it */
};

/*
 * The set of CPUs (bit i: @cpus[i]) that an IPI sent by @cpus[@self] with ICR low @low and
 * destination @dest reaches. @x2apic: the sender's mode; @dest is then the 32-bit x2APIC
 * destination (0xffffffff: broadcast), else the 8-bit xAPIC one (0xff: broadcast). Logical
 * destinations: x2APIC clusters (LDR bits 31:16 cluster, 15:0 member bits), xAPIC flat model
 * (LDR bits 31:24 ANDed with @dest). Lowest-priority is delivered as fixed to the first match
 * (the lowest index). Shorthands ignore @dest. @n at most IPI_MAX_CPUS.
 */
uint64_t ipi_targets(const struct ipi_cpu *cpus, unsigned n, unsigned self, uint32_t low,
		     uint32_t dest, int x2apic);

/* The x2APIC LDR of APIC ID @id (SDM 11.12.10.2: cluster ID id >> 4, bit id & 15). */
static inline uint32_t ipi_x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 15));
}

#endif
