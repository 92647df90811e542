/* SPDX-License-Identifier: MIT */
#ifndef VMM_IMAGE_H
#define VMM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

/* Bytes of a kernel image its parser needs to see: the bzImage setup header or the ELF
 * program headers must lie within them. */
#define IMAGE_HEAD_SIZE 65536
#define IMAGE_MAX_SEGMENTS 16

enum image_kind { IMAGE_BZIMAGE = 1, IMAGE_ELF = 2, IMAGE_MULTIBOOT = 3 /* multiboot.h */ };

struct image_segment {
	uint64_t offset, filesz, paddr, memsz;
};

/* What a kernel image asks of its loader. */
struct image_info {
	enum image_kind kind;
	/* bzImage: the setup header, and where the protected-mode kernel lies in the file. */
	struct setup_header hdr;
	uint64_t kernel_offset, kernel_size;
	/* ELF: the loadable segments (physical addresses) and the physical entry point. */
	unsigned nsegments;
	struct image_segment seg[IMAGE_MAX_SEGMENTS];
	uint64_t entry;
	/* Physical memory the kernel occupies once placed: [lowest, highest). */
	uint64_t lowest, highest;
};

/*
 * Parses a kernel image from @head (its first @head_len bytes, at most IMAGE_HEAD_SIZE) given
 * the whole file's @file_size. A bzImage must carry the 64-bit boot protocol (2.12+,
 * XLF_KERNEL_64); an ELF must be a 64-bit x86-64 executable. Returns 0, or -1 with @why set to
 * a sentence naming what is wrong (truncated, corrupt, neither format).
 */
int image_parse(const uint8_t *head, size_t head_len, uint64_t file_size, struct image_info *out,
		const char **why);

/*
 * Chooses where a bzImage's protected-mode kernel goes in @ram bytes of guest RAM: its
 * preferred address, aligned as it asks, with room for init_size. Fills lowest/highest and
 * entry (the 64-bit entry, load address + 0x200). ELF images are placed where they say and only
 * checked. Returns 0, or -1 with @why set when @ram is too small.
 */
int image_place(struct image_info *img, uint64_t ram, const char **why);

#endif
