/* SPDX-License-Identifier: MIT */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/*
 * The platform as ACPI describes it (ACPI 6.4): RSDP -> XSDT -> FADT (-> FACS, DSDT) and MADT.
 * The guest learns its CPUs, its I/O APIC, the ISA interrupt overrides, the power-management
 * ports and the reset register from these tables alone: no MP table is needed.
 */

#define ACPI_MAX_CPUS 288 /* APIC IDs from 255 up take x2APIC entries */
#define ACPI_TABLES_MAX 0x1000 /* what acpi_build() needs at most for ACPI_MAX_CPUS */

/* The fixed-hardware ports of the PM1a blocks (pm.c), as in the FADT. */
#define ACPI_PM1A_EVT 0x600 /* PM1a_STS (2 bytes), PM1a_EN (2 bytes) */
#define ACPI_PM1A_CNT 0x604 /* PM1a_CNT (2 bytes) */
#define ACPI_SCI_IRQ 9
/* SLP_TYP of S5 in the DSDT's \_S5 package: what a PM1a_CNT write with SLP_EN must carry. */
#define ACPI_S5_SLP_TYP 5
/* The FADT's reset register: 0xcf9 (ports.c) with "reset CPU" and "hard reset". */
#define ACPI_RESET_PORT 0xcf9
#define ACPI_RESET_VALUE 0x06

struct acpi_config {
	uint64_t gpa; /* where the tables start in guest-physical memory: 16-byte aligned */
	unsigned ncpus; /* 1..ACPI_MAX_CPUS; APIC IDs 0..ncpus-1 */
	uint32_t ioapic_addr; /* MMIO base of the one I/O APIC, GSI 0..ioapic_pins-1 */
	uint8_t ioapic_id;
};

/*
 * Writes the tables for @c into @buf (@size bytes, mapped at guest-physical c->gpa): the RSDP
 * first, at c->gpa. Every table's checksum is set. Returns the bytes used, or 0 if @size is too
 * small or @c is out of range.
 */
size_t acpi_build(uint8_t *buf, size_t size, const struct acpi_config *c);

/* The byte sum of [p, p + len): 0 over a table whose checksum is right. */
uint8_t acpi_sum(const void *p, size_t len);

#endif
