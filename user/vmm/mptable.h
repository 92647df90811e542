/* SPDX-License-Identifier: MIT */
#ifndef VMM_MPTABLE_H
#define VMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

/* Room the floating pointer and the configuration table need. */
#define MPTABLE_MAX_SIZE 256

/*
 * Writes an MP floating pointer and configuration table (one CPU, one ISA bus, no I/O APIC)
 * into @buf, which the guest sees at @gpa (16-byte aligned). @signature and @features are
 * CPUID.1 EAX and EDX. Returns the bytes written.
 */
size_t mptable_build(uint8_t *buf, uint32_t gpa, uint32_t signature, uint32_t features);

/* The byte sum of @len bytes at @p (0 for a valid MP structure). */
uint8_t mptable_sum(const uint8_t *p, size_t len);

#endif
