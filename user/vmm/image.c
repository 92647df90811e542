// SPDX-License-Identifier: MIT
/*
 * Kernel image parsers: the bzImage setup header (Documentation/x86/boot.rst, "The Linux/x86
 * Boot Protocol") and ELF64 program headers (System V gABI). Both work on the first bytes of
 * the file and its size, so that a truncated, corrupt or foreign file is refused before any of
 * it is loaded.
 */
#include <elf.h>
#include <string.h>

#include "image.h"
#include "vmm.h"

#define SETUP_HEADER_OFFSET 0x1f1
#define BOOT_FLAG 0xaa55
#define HDRS 0x53726448 /* "HdrS" */
#define ENTRY64_OFFSET 0x200 /* startup_64 from the start of the protected-mode kernel */

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

static int parse_bzimage(const uint8_t *head, size_t head_len, uint64_t file_size,
			 struct image_info *out, const char **why)
{
	struct setup_header *h = &out->hdr;

	memcpy(h, head + SETUP_HEADER_OFFSET, sizeof(*h));
	if (h->version < 0x20c)
		return fail(why, "bzImage boot protocol older than 2.12: no 64-bit entry");
	if (!(h->xloadflags & XLF_KERNEL_64))
		return fail(why, "bzImage has no 64-bit entry point (XLF_KERNEL_64 clear)");
	if (!(h->loadflags & LOADED_HIGH))
		return fail(why, "not a bzImage: a zImage loaded low");
	unsigned sects = h->setup_sects ? h->setup_sects : 4;
	out->kernel_offset = (uint64_t)(sects + 1) * 512;
	if (out->kernel_offset >= file_size)
		return fail(why, "truncated bzImage: the file ends inside the setup code");
	out->kernel_size = file_size - out->kernel_offset;
	if ((uint64_t)h->syssize * 16 > out->kernel_size)
		return fail(why, "truncated bzImage: shorter than its header's syssize");
	if (h->payload_length &&
	    ((uint64_t)h->payload_offset + h->payload_length > out->kernel_size))
		return fail(why, "corrupt bzImage: the payload lies beyond the file");
	if (!h->init_size || h->init_size < h->syssize * 16)
		return fail(why, "corrupt bzImage: init_size smaller than the kernel");
	if (h->kernel_alignment & (h->kernel_alignment - 1))
		return fail(why, "corrupt bzImage: kernel_alignment is not a power of two");
	out->kind = IMAGE_BZIMAGE;
	return 0;
}

static int parse_elf(const uint8_t *head, size_t head_len, uint64_t file_size,
		     struct image_info *out, const char **why)
{
	Elf64_Ehdr eh;

	if (head_len < sizeof(eh))
		return fail(why, "truncated ELF: shorter than its header");
	memcpy(&eh, head, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return fail(why, "ELF is not a little-endian x86-64 (ELFCLASS64) image");
	if (eh.e_type != ET_EXEC)
		return fail(why, "ELF is not an executable (ET_EXEC)");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > IMAGE_MAX_SEGMENTS * 2)
		return fail(why, "corrupt ELF: bad program header size or count");
	uint64_t ph_end = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (eh.e_phoff > file_size || ph_end > file_size)
		return fail(why, "truncated ELF: the program headers lie beyond the file");
	if (ph_end > head_len)
		return fail(why, "ELF program headers lie too far into the file");

	out->lowest = UINT64_MAX;
	out->highest = 0;
	out->entry = UINT64_MAX;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, head + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		if (out->nsegments == IMAGE_MAX_SEGMENTS)
			return fail(why, "ELF has too many loadable segments");
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > file_size ||
		    ph.p_filesz > file_size - ph.p_offset)
			return fail(why, "truncated ELF: a segment lies beyond the file");
		if (ph.p_paddr + ph.p_memsz < ph.p_paddr)
			return fail(why, "corrupt ELF: a segment wraps around the address space");
		out->seg[out->nsegments++] =
			(struct image_segment){ ph.p_offset, ph.p_filesz, ph.p_paddr, ph.p_memsz };
		out->lowest = MIN(out->lowest, ph.p_paddr);
		out->highest = MAX(out->highest, ph.p_paddr + ph.p_memsz);
		/* The entry may be given physical (Linux's vmlinux) or virtual. */
		if (eh.e_entry >= ph.p_paddr && eh.e_entry - ph.p_paddr < ph.p_memsz)
			out->entry = eh.e_entry;
		else if (out->entry == UINT64_MAX && eh.e_entry >= ph.p_vaddr &&
			 eh.e_entry - ph.p_vaddr < ph.p_memsz)
			out->entry = ph.p_paddr + (eh.e_entry - ph.p_vaddr);
	}
	if (!out->nsegments)
		return fail(why, "ELF has no loadable segment");
	if (out->entry == UINT64_MAX)
		return fail(why, "corrupt ELF: the entry point is in no loadable segment");
	for (unsigned i = 0; i < out->nsegments; i++)
		for (unsigned j = 0; j < i; j++)
			if (out->seg[i].paddr < out->seg[j].paddr + out->seg[j].memsz &&
			    out->seg[j].paddr < out->seg[i].paddr + out->seg[i].memsz)
				return fail(why, "corrupt ELF: loadable segments overlap");
	out->kind = IMAGE_ELF;
	return 0;
}

int image_parse(const uint8_t *head, size_t head_len, uint64_t file_size, struct image_info *out,
		const char **why)
{
	memset(out, 0, sizeof(*out));
	if (head_len > file_size)
		head_len = file_size;
	if (head_len >= 4 && !memcmp(head, ELFMAG, SELFMAG))
		return parse_elf(head, head_len, file_size, out, why);
	if (head_len >= 0x206) {
		uint16_t flag;
		uint32_t magic;
		memcpy(&flag, head + 0x1fe, 2);
		memcpy(&magic, head + 0x202, 4);
		if (flag == BOOT_FLAG && magic == HDRS) {
			if (head_len < SETUP_HEADER_OFFSET + sizeof(struct setup_header))
				return fail(why,
					    "truncated bzImage: shorter than its setup header");
			return parse_bzimage(head, head_len, file_size, out, why);
		}
	}
	if (!file_size)
		return fail(why, "empty file: neither a bzImage nor an ELF image");
	return fail(why, "neither a bzImage nor an ELF image");
}

int image_place(struct image_info *img, uint64_t ram, const char **why)
{
	if (img->kind == IMAGE_ELF) {
		if (img->highest > ram)
			return fail(why, "RAM too small for the ELF kernel's segments");
		if (img->lowest < 0x100000)
			return fail(why, "ELF kernel wants memory below 1 MiB, which the VMM uses");
		return 0;
	}
	struct setup_header *h = &img->hdr;
	uint64_t align = h->kernel_alignment ? h->kernel_alignment : 0x200000;
	uint64_t addr = h->pref_address ? h->pref_address : 0x100000;

	if (h->relocatable_kernel)
		addr = (addr + align - 1) & ~(align - 1);
	if (addr < 0x100000)
		return fail(why, "bzImage wants to be loaded below 1 MiB");
	if (addr + h->init_size > ram || addr + h->init_size < addr)
		return fail(why, "RAM too small for the kernel's init_size at its load address");
	img->lowest = addr;
	img->highest = addr + h->init_size;
	img->entry = addr + ENTRY64_OFFSET;
	return 0;
}
