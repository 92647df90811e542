// SPDX-License-Identifier: MIT
/*
 * boot_params for the 64-bit boot protocol (Documentation/x86/boot.rst and zero-page.rst).
 * The e820 map must list usable RAM below 0x9fc00: Linux 6.1 places its real-mode trampoline
 * there and panics ("Real mode trampoline was not allocated") without it.
 */
#include <string.h>

#include "boot.h"
#include "vmm.h"

#define E820_TYPE_RAM 1
#define E820_TYPE_RESERVED 2
#define LOADER_UNDEFINED 0xff /* type_of_loader: a loader with no assigned ID */

unsigned boot_e820(struct boot_e820_entry *e, unsigned max, uint64_t ram)
{
	uint64_t low = boot_ram_low(ram);
	const struct boot_e820_entry map[] = {
		{ 0, BOOT_EBDA, E820_TYPE_RAM },
		{ BOOT_EBDA, BOOT_LOW_END - BOOT_EBDA, E820_TYPE_RESERVED },
		{ BOOT_BIOS, 0x100000 - BOOT_BIOS, E820_TYPE_RESERVED },
		{ 0x100000, low - 0x100000, E820_TYPE_RAM },
		{ GUEST_RAM_HIGH, ram - low, E820_TYPE_RAM }, /* only when there is RAM above 4 GiB */
	};
	unsigned n = MIN(max, (unsigned)ARRAY_SIZE(map) - (ram == low));

	memcpy(e, map, n * sizeof(*e));
	return n;
}

uint64_t boot_initrd_addr(const struct image_info *img, uint64_t ram, uint64_t size)
{
	uint64_t limit = ram;

	if (img->kind == IMAGE_BZIMAGE && img->hdr.initrd_addr_max)
		limit = MIN(limit, (uint64_t)img->hdr.initrd_addr_max + 1);
	else
		limit = MIN(limit, 0x80000000ULL); /* the protocol's default initrd_addr_max */
	if (size > limit)
		return 0;
	uint64_t addr = (limit - size) & ~0xfffULL;
	return addr >= img->highest ? addr : 0;
}

void boot_params_build(struct boot_params *bp, const struct image_info *img, uint64_t ram,
		       uint64_t initrd, uint64_t initrd_size)
{
	struct setup_header *h = &bp->hdr;

	memset(bp, 0, sizeof(*bp));
	if (img->kind == IMAGE_BZIMAGE) {
		*h = img->hdr;
	} else {
		/* An ELF kernel has no header: say what a 2.15 loader would. */
		h->boot_flag = 0xaa55;
		h->header = 0x53726448;
		h->version = 0x20f;
		h->kernel_alignment = 0x200000;
		h->cmdline_size = BOOT_CMDLINE_MAX - 1;
	}
	h->type_of_loader = LOADER_UNDEFINED;
	h->loadflags |= LOADED_HIGH;
	h->loadflags &= ~(KEEP_SEGMENTS | CAN_USE_HEAP);
	h->cmd_line_ptr = BOOT_CMDLINE;
	h->ramdisk_image = (uint32_t)initrd;
	h->ramdisk_size = (uint32_t)initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(initrd >> 32);
	bp->ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	h->code32_start = (uint32_t)img->lowest;
	bp->e820_entries = boot_e820(bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE, ram);
}
