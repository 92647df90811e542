/* SPDX-License-Identifier: MIT */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>
#include <dyad/vcpu.h>

#include "bus.h"
#include "image.h"

/*
 * Guest-physical layout below 1 MiB, all in the first e820 RAM range except the BIOS area:
 *   0x00500 GDT (null, null, code 0x10, data 0x18)
 *   0x01000 PML4, 0x2000 PDPT, 0x3000-0x6fff four PDs: 4 GiB identity-mapped in 2 MiB pages
 *   0x07000-0x07fff the stack the kernel is entered with
 *   0x08000 boot_params (the "zero page")
 *   0x09000 the command line (BOOT_CMDLINE_MAX bytes with its NUL)
 *   0x9fc00 the reserved last KiB of base memory (the EBDA), empty
 *   0xf0000 the ACPI tables (acpi.c), RSDP first, in the reserved BIOS area
 */
#define BOOT_GDT 0x500
#define BOOT_PML4 0x1000
#define BOOT_PDPT 0x2000
#define BOOT_PD 0x3000
#define BOOT_STACK_TOP 0x8000
#define BOOT_PARAMS 0x8000
#define BOOT_CMDLINE 0x9000
#define BOOT_CMDLINE_MAX 2048
#define BOOT_EBDA 0x9fc00
#define BOOT_LOW_END 0xa0000
#define BOOT_BIOS 0xf0000 /* 0xf0000-0xfffff reserved, as a BIOS would leave it */

#define BOOT_CS 0x10
#define BOOT_DS 0x18

/*
 * Guest RAM the VMM accepts: above the kernel's needs. Up to BOOT_RAM_LOW_MAX lies below the
 * 32-bit hole for MMIO (the I/O APIC, the local APIC) that ends at 4 GiB; the rest from 4 GiB up
 * (GUEST_RAM_HIGH). The guest's physical address width bounds it too (options.h).
 */
#define BOOT_RAM_MIN (32ULL << 20)
#define BOOT_RAM_LOW_MAX (3ULL << 30)
#define BOOT_RAM_MAX (1ULL << 40)

/* The part of @ram bytes of guest RAM below the hole. */
static inline uint64_t boot_ram_low(uint64_t ram)
{
	return ram < BOOT_RAM_LOW_MAX ? ram : BOOT_RAM_LOW_MAX;
}

/* Fills @e with the e820 map of @ram bytes of guest RAM (split around the hole); returns the
 * number of entries. */
unsigned boot_e820(struct boot_e820_entry *e, unsigned max, uint64_t ram);

/*
 * Fills @bp for @img: the setup header (copied from a bzImage, synthesised for an ELF), the
 * e820 map, the command line at BOOT_CMDLINE and the initrd at [@initrd, +@initrd_size).
 */
void boot_params_build(struct boot_params *bp, const struct image_info *img, uint64_t ram,
		       uint64_t initrd, uint64_t initrd_size);

/*
 * Where an initrd of @size bytes goes: the highest page-aligned address below both the end of
 * RAM and the kernel's initrd_addr_max, above the kernel. 0 if it does not fit.
 */
uint64_t boot_initrd_addr(const struct image_info *img, uint64_t ram, uint64_t size);

/*
 * Writes the identity page tables and the GDT into guest RAM @ram and fills @s and @r for the
 * 64-bit boot protocol: long mode, paging on, flat segments, RIP at @entry, RSI at
 * boot_params. Returns 0, or -1 when RAM does not hold [0, BOOT_STACK_TOP).
 */
int boot_cpu_state(const struct guest_ram *ram, uint64_t entry, struct dyad_sregs *s,
		   struct dyad_regs *r);

#endif
