/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_ACPI_H
#define ARCH_X86_ACPI_H

#include <dyad/types.h>

/*
 * The firmware's tables. Finding the CPUs: the ACPI MADT (reached through the RSDP that the
 * boot loader copied into the multiboot2 information) and, when there is none, the Intel
 * MultiProcessor table; the PCI configuration windows: the ACPI MCFG. Pure code over table bytes:
 * every byte comes through a read function, so the host tests feed it hand-made and hostile tables.
 * Nothing in a table is trusted: each length is checked against what the read function can give and
 * against the table that holds it, each checksum is verified, and a count derives from a checked
 * length, never the reverse.
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

/* The kernel's phys_read_fn (arch/x86/smp.c): the direct map, where it maps every page asked. */
const void *acpi_direct_map_read(void *ctx, u64 pa, u64 len);

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

/*
 * The PCI Express enhanced configuration windows (ECAM) of the ACPI MCFG: function
 * bus:dev.fn of a window has its 4 KiB of configuration space at
 * base + (bus << 20 | dev << 15 | fn << 12), for bus_first <= bus <= bus_last.
 */
#define MCFG_MAX_REGIONS 8
#define MCFG_BUS_WINDOW (1ull << 20) /* configuration bytes per bus */

struct mcfg_region {
	u64 base; /* bus 0's address, even when bus_first is larger */
	u16 segment;
	u8 bus_first, bus_last;
};

struct mcfg {
	unsigned nr; /* segment-0 windows, their bus ranges disjoint */
	struct mcfg_region r[MCFG_MAX_REGIONS];
	unsigned nr_bad; /* entries refused: reversed bus range, or a base at 0, unaligned or too
			    high */
	unsigned nr_ignored; /* good entries not used: another segment, or beyond MCFG_MAX_REGIONS */
};

/*
 * Fills @out with the windows of the MCFG found from the RSDP copy @rsdp, as acpi_madt_cpus()
 * finds the MADT. Returns NULL, or a sentence that says what is wrong (no MCFG, a length that
 * is no whole number of entries, a bad checksum, two windows for one bus, no usable window);
 * @out then holds no window.
 */
const char *acpi_mcfg(const void *rsdp, size_t rsdp_len, phys_read_fn rd, void *ctx,
		      struct mcfg *out);

#endif
