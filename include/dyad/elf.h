/* SPDX-License-Identifier: MIT */
#ifndef DYAD_ELF_H
#define DYAD_ELF_H

#include <dyad/types.h>

/*
 * Validation of static ELF64 x86-64 executables held in memory (a multiboot module's bytes).
 * The parser is pure: it reads the image, trusts nothing in it, and describes what the loader
 * must map. The structures and constants come from Linux's uapi <linux/elf.h>.
 */
#define ELF_MAX_SEGMENTS 8

/* Segment protections, with the values of PROT_READ, PROT_WRITE and PROT_EXEC. */
#define ELF_PROT_R 1
#define ELF_PROT_W 2
#define ELF_PROT_X 4

/* The first address above the lower canonical half: user mappings end at or below it. */
#define ELF_USER_END 0x0000800000000000ULL
/*
 * Program segments end at or below this address: the bottom of the stack area every process
 * gets, [MM_STACK_TOP - MM_STACK_SIZE, MM_STACK_TOP) (kern/mm.c checks that the two agree).
 * So whatever the validator accepts, the loader can map, and a segment that reaches into the
 * stack is refused here with that reason.
 */
#define ELF_LOAD_END 0x00007fffff7ff000ULL

/*
 * One PT_LOAD segment: bytes [vaddr, vaddr + filesz) come from image[offset, offset + filesz),
 * bytes [vaddr + filesz, vaddr + memsz) are zero. filesz <= memsz, memsz > 0, and
 * vaddr % PAGE_SIZE == offset % PAGE_SIZE.
 */
struct elf_segment {
	u64 vaddr;
	u64 memsz;
	u64 offset;
	u64 filesz;
	unsigned int prot; /* ELF_PROT_* */
};

/*
 * A validated executable. The segments are sorted by vaddr and their page spans
 * [ALIGN_DOWN(vaddr, PAGE_SIZE), ALIGN_UP(vaddr + memsz, PAGE_SIZE)) are disjoint, lie in
 * [PAGE_SIZE, ELF_LOAD_END), and never share a page: the loader maps each page for exactly one
 * segment, with that segment's prot. The entry lies inside an executable segment.
 */
struct elf_image {
	u64 entry;
	u64 phdr_vaddr; /* AT_PHDR: where the program headers land in memory, or 0 */
	u16 phnum; /* AT_PHNUM */
	u16 phentsize; /* AT_PHENT */
	unsigned int nr_segments;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	const char *why; /* on failure: a sentence saying what is wrong; NULL on success */
};

/*
 * Validates the @size bytes at @image as a static ELF64 x86-64 executable (ET_EXEC, as
 * `musl-gcc -static` produces) and fills @out. @image needs no particular alignment.
 * Returns 0; -ENOEXEC if the file is not an executable Dyad runs (not ELF, wrong class,
 * byte order or machine, not ET_EXEC, dynamically linked); -EINVAL if it is malformed (headers
 * or segments outside the file, overlapping or misaligned segments, addresses outside user
 * space or reaching into the stack area, no loadable segment, entry outside executable code). On
 * failure out->why names the reason, for the kernel to print.
 */
int elf_parse(const void *image, size_t size, struct elf_image *out);

#endif
