/* SPDX-License-Identifier: MIT */
#ifndef VMM_MULTIBOOT_H
#define VMM_MULTIBOOT_H

/*
 * Multiboot (version 0.6.96, "v1") kernels: the header, the image, the information structure
 * and the entry state. Pure functions over a file's first bytes and over guest memory given as
 * a pointer and a size, so the host unit tests run them as they are.
 */

#include <stddef.h>
#include <stdint.h>

#include <dyad/vcpu.h>

#include "bus.h"
#include "image.h"

#define MB_HEADER_MAGIC 0x1badb002
#define MB_BOOT_MAGIC 0x2badb002 /* in EAX at entry */
#define MB_SEARCH 8192 /* the header lies, 4-aligned, in the file's first 8 KiB */

/* Header flags. Bits 0-15 are requirements: a loader must refuse one it does not know. */
#define MB_HF_PAGE_ALIGN (1u << 0) /* modules page-aligned: always done */
#define MB_HF_MEMORY (1u << 1) /* mem_* and the memory map: always given */
#define MB_HF_VIDEO (1u << 2) /* a video mode: there is no display; ignored, as QEMU does */
#define MB_HF_AOUT_KLUDGE (1u << 16) /* load by the header's address fields, not as ELF */
#define MB_HF_KNOWN_REQUIRED (MB_HF_PAGE_ALIGN | MB_HF_MEMORY | MB_HF_VIDEO)

/* Information structure flags (what the loader filled). */
#define MB_INFO_MEMORY (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)
#define MB_INFO_MMAP (1u << 6)
#define MB_INFO_LOADER_NAME (1u << 9)

/* The information structure (the specification's layout; 116 bytes through color_info). */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper; /* KiB below 640 KiB / above 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info, vbe_mode_info;
	uint16_t vbe_mode, vbe_interface_seg, vbe_interface_off, vbe_interface_len;
	uint64_t framebuffer_addr;
	uint32_t framebuffer_pitch, framebuffer_width, framebuffer_height;
	uint8_t framebuffer_bpp, framebuffer_type, color_info[6];
} __attribute__((packed));

/* A memory map entry: size counts the bytes after itself (20). */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

struct mb_module_entry {
	uint32_t mod_start, mod_end, string, reserved;
};

/*
 * Guest-physical layout of a multiboot boot, below 64 KiB (the rest of low memory up to the
 * EBDA is the guest's, and the memory map says so):
 *   BOOT_GDT (0x500)  GDT: flat 32-bit code at 0x10, data at 0x18
 *   0x7000-0x7fff     the stack ESP points at (the kernel must set its own; this one is spare)
 *   MB_INFO           the information structure, then the memory map and the module list
 *   BOOT_CMDLINE      the command line (boot.h)
 *   MB_NAME           the boot loader's name
 *   MB_STRINGS        the module strings, MB_STRINGS_SIZE bytes in all with their NULs
 */
#define MB_INFO 0x8000
#define MB_MMAP (MB_INFO + 0x100)
#define MB_MODS (MB_INFO + 0x400)
#define MB_MAX_MODULES 48
#define MB_NAME 0x9800
#define MB_STRINGS 0xa000
#define MB_STRINGS_SIZE 0x6000
#define MB_LOW_END 0x10000 /* end of the VMM's boot data */

/* Loader name given to the kernel. */
#define MB_LOADER_NAME "Dyad VMM"

/* A module: set path, string (may be NULL: the path is used) and size; mb_place_modules sets
 * addr. */
struct mb_module {
	const char *path;
	const char *string;
	uint64_t size;
	uint64_t addr;
};

/*
 * Looks for a multiboot header, 4-aligned, in @head's first MB_SEARCH bytes (@head holds the
 * file's first @head_len bytes, up to IMAGE_HEAD_SIZE; the file has @file_size bytes). Returns 1
 * when there is none (not a multiboot kernel; @out untouched). Otherwise parses the image into
 * @out (kind IMAGE_MULTIBOOT: segments with file offset, size and physical address; entry,
 * lowest, highest), by its ELF32/ELF64 program headers or, with MB_HF_AOUT_KLUDGE, by the
 * header's address fields, and returns 0; or -1 with @why naming what is wrong (bad checksum,
 * a requirement flag it does not know, truncated, segments overlapping or beyond 4 GiB).
 */
int mb_parse(const uint8_t *head, size_t head_len, uint64_t file_size, struct image_info *out,
	     const char **why);

/*
 * Checks that @img fits in @ram bytes of guest RAM and lies clear of the VMM's platform areas
 * (boot data below MB_LOW_END; EBDA, VGA hole and BIOS from BOOT_EBDA to 1 MiB). Returns 0, or
 * -1 with @why set.
 */
int mb_place(const struct image_info *img, uint64_t ram, const char **why);

/*
 * Places @n modules page-aligned one after the other above the image's highest byte; sets
 * each one's addr. Returns 0, or -1 with @why set when they do not fit in @ram or there are more
 * than MB_MAX_MODULES.
 */
int mb_place_modules(const struct image_info *img, uint64_t ram, struct mb_module *mods, unsigned n,
		     const char **why);

/*
 * Writes the information structure, the memory map of all of @ram, the module list (@mods
 * placed), the module strings and the loader name, and @cmdline at BOOT_CMDLINE, into guest
 * RAM below MB_LOW_END. Returns 0, or -1 with @why set when the command line or the module
 * strings do not fit their areas or RAM does not reach MB_LOW_END.
 */
int mb_info_build(const struct guest_ram *ram, const char *cmdline, const struct mb_module *mods,
		  unsigned n, const char **why);

/*
 * Writes the GDT into guest RAM and fills @s and @r with the specification's entry state:
 * 32-bit protected mode, paging off, flat 4 GiB code and data segments, EAX = MB_BOOT_MAGIC,
 * EBX = MB_INFO, EIP = @entry, interrupts off. Returns 0, or -1 if the GDT is not in RAM.
 */
int mb_cpu_state(const struct guest_ram *ram, uint32_t entry, struct dyad_sregs *s,
		 struct dyad_regs *r);

#endif
