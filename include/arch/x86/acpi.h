/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_ACPI_H
#define ARCH_X86_ACPI_H

#include <dyad/types.h>

/*
 * Finding the CPUs from the firmware's tables: the ACPI MADT (reached through the RSDP that the
 * boot loader copied into the multiboot2 information) and, when there is none, the Intel
 * MultiProcessor table. Pure code over table bytes: every byte comes through a read function,
 * so the host tests feed it hand-made and hostile tables. Nothing in a table is trusted: each
 * length is checked against what the read function can give and against the table that holds
 * it, each checksum is verified, and a count derives from a checked length, never the reverse.
 */

#define CPU_TABLE_MAX 64

enum cpu_table_source {
	CPU_TABLE_NONE,
	CPU_TABLE_MADT,
	CPU_TABLE_MPTABLE,
};

struct cpu_table {
	enum cpu_table_source source;
	unsigned nr; /* usable CPUs found, boot CPU included, at most CPU_TABLE_MAX */
	u32 apic_id[CPU_TABLE_MAX]; /* distinct, in table order */
	unsigned nr_disabled; /* entries the firmware marked unusable */
	unsigned nr_ignored; /* usable entries beyond CPU_TABLE_MAX, repeated or invalid IDs */
	u64 lapic_pa; /* the local APIC's registers as the table states them */
};

/*
 * Reads physical memory for the parsers: returns a pointer to @len readable bytes at @pa, or
 * NULL when any of them cannot be read. The pointer need only stay valid until the next call.
 */
typedef const void *(*phys_read_fn)(void *ctx, u64 pa, u64 len);

/* The RSDP as the multiboot2 ACPI tags carry it: 20 bytes (revision 0) or 36 and more (2+). */
#define ACPI_RSDP_V1_LEN 20
#define ACPI_RSDP_V2_LEN 36
/* No table Dyad reads may claim more: a longer one is refused as corrupt. */
#define ACPI_TABLE_MAX_LEN (1u << 20)

/*
 * Fills @out with the CPUs of the MADT found from the RSDP copy @rsdp (@rsdp_len bytes, as the
 * tag holds them). Uses the XSDT when the RSDP is revision 2 or later with a valid extended
 * checksum, else the RSDT. Returns NULL, or a sentence that says what is wrong (then @out says
 * CPU_TABLE_NONE with no CPUs).
 */
const char *acpi_madt_cpus(const void *rsdp, size_t rsdp_len, phys_read_fn rd, void *ctx,
			   struct cpu_table *out);

/*
 * Fills @out with the processors of the MP configuration table, found where the MP
 * specification puts its floating pointer: the first KiB of the EBDA (its segment at 0x40e),
 * else the last KiB of base memory, then the BIOS ROM at 0xf0000-0xfffff. Returns NULL, or a
 * sentence that says what is wrong.
 */
const char *mptable_cpus(phys_read_fn rd, void *ctx, struct cpu_table *out);

#endif
