// SPDX-License-Identifier: MIT
/*
 * ELF64 executable validation. Every field that the loader will use is checked here against
 * the image size and the user address range, so that the loader can copy and map without
 * checks of its own. Headers are copied out with memcpy: a module need not be aligned.
 */
#include <linux/elf.h>

#include <dyad/elf.h>
#include <dyad/errno.h>
#include <dyad/string.h>

/* Program headers beyond this many are not worth reading; static executables have < 16. */
#define ELF_MAX_PHNUM 64

static int fail(struct elf_image *out, int err, const char *why)
{
	out->why = why;
	return err;
}

/* True if [off, off + len) lies inside a file of @size bytes, without overflow. */
static bool in_file(u64 off, u64 len, size_t size)
{
	return off <= size && len <= size - off;
}

static unsigned int prot_of(u32 p_flags)
{
	return ((p_flags & PF_R) ? ELF_PROT_R : 0) | ((p_flags & PF_W) ? ELF_PROT_W : 0) |
	       ((p_flags & PF_X) ? ELF_PROT_X : 0);
}

static const char *check_ehdr(const Elf64_Ehdr *eh, int *err)
{
	*err = -ENOEXEC;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return "not an ELF file (bad magic)";
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return "not a 64-bit ELF file";
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return "not a little-endian ELF file";
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return "unknown ELF version";
	if (eh->e_machine != EM_X86_64)
		return "not an x86-64 ELF file";
	if (eh->e_type == ET_DYN)
		return "position-independent executable (ET_DYN); link with -static -no-pie";
	if (eh->e_type != ET_EXEC)
		return "not an executable (ELF type is not ET_EXEC)";
	*err = -EINVAL;
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return "program header entry size is not sizeof(Elf64_Phdr)";
	if (eh->e_phnum == 0)
		return "no program headers";
	if (eh->e_phnum > ELF_MAX_PHNUM)
		return "too many program headers";
	return NULL;
}

/* Checks one PT_LOAD header against the file and user space. */
static const char *check_load(const Elf64_Phdr *ph, size_t size)
{
	if (ph->p_filesz > ph->p_memsz)
		return "segment has filesz > memsz";
	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return "segment's file bytes lie outside the file";
	if ((ph->p_vaddr - ph->p_offset) % PAGE_SIZE != 0)
		return "segment's vaddr and offset differ modulo the page size";
	if (ph->p_vaddr < PAGE_SIZE)
		return "segment maps page zero";
	/* Both bounds below keep vaddr + memsz, rounded up to a page, from wrapping. */
	if (ph->p_vaddr >= ELF_USER_END || ph->p_memsz > ELF_USER_END - ph->p_vaddr ||
	    ALIGN_UP(ph->p_vaddr + ph->p_memsz, PAGE_SIZE) > ELF_USER_END)
		return "segment lies outside user space";
	if (ALIGN_UP(ph->p_vaddr + ph->p_memsz, PAGE_SIZE) > ELF_LOAD_END)
		return "segment reaches into the stack area at the top of user space";
	return NULL;
}

/* Inserts @s into out->seg keeping vaddr order; the caller checked there is room. */
static void insert_sorted(struct elf_image *out, const struct elf_segment *s)
{
	unsigned int i = out->nr_segments;

	while (i > 0 && out->seg[i - 1].vaddr > s->vaddr) {
		out->seg[i] = out->seg[i - 1];
		i--;
	}
	out->seg[i] = *s;
	out->nr_segments++;
}

/* Sorted segments are disjoint page by page iff each ends at or below the next's first page. */
static bool pages_disjoint(const struct elf_image *out)
{
	for (unsigned int i = 0; i + 1 < out->nr_segments; i++) {
		const struct elf_segment *a = &out->seg[i], *b = &out->seg[i + 1];

		if (ALIGN_UP(a->vaddr + a->memsz, PAGE_SIZE) > ALIGN_DOWN(b->vaddr, PAGE_SIZE))
			return false;
	}
	return true;
}

static bool entry_is_code(const struct elf_image *out)
{
	for (unsigned int i = 0; i < out->nr_segments; i++) {
		const struct elf_segment *s = &out->seg[i];

		if ((s->prot & ELF_PROT_X) && out->entry >= s->vaddr &&
		    out->entry - s->vaddr < s->memsz)
			return true;
	}
	return false;
}

int elf_parse(const void *image, size_t size, struct elf_image *out)
{
	const u8 *bytes = image;
	Elf64_Ehdr eh;
	const char *why;
	int err;

	memset(out, 0, sizeof(*out));
	if (size < sizeof(eh))
		return fail(out, -ENOEXEC, "file is smaller than an ELF header");
	memcpy(&eh, bytes, sizeof(eh));
	why = check_ehdr(&eh, &err);
	if (why)
		return fail(out, err, why);

	u64 ph_bytes = (u64)eh.e_phnum * sizeof(Elf64_Phdr);
	if (!in_file(eh.e_phoff, ph_bytes, size))
		return fail(out, -EINVAL, "program headers lie outside the file");

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, bytes + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_INTERP)
			return fail(out, -ENOEXEC,
				    "dynamically linked (PT_INTERP); link with -static");
		/* An empty PT_LOAD maps nothing; Linux skips it too. */
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		why = check_load(&ph, size);
		if (why)
			return fail(out, -EINVAL, why);
		if (out->nr_segments == ELF_MAX_SEGMENTS)
			return fail(out, -EINVAL, "too many loadable segments");

		struct elf_segment s = {
			.vaddr = ph.p_vaddr,
			.memsz = ph.p_memsz,
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.prot = prot_of(ph.p_flags),
		};
		insert_sorted(out, &s);
		/* AT_PHDR is where the loaded file bytes put the program headers, as in Linux. */
		if (eh.e_phoff >= ph.p_offset && eh.e_phoff - ph.p_offset <= ph.p_filesz &&
		    ph_bytes <= ph.p_filesz - (eh.e_phoff - ph.p_offset))
			out->phdr_vaddr = ph.p_vaddr + (eh.e_phoff - ph.p_offset);
	}
	if (out->nr_segments == 0)
		return fail(out, -EINVAL, "no loadable segment (PT_LOAD)");
	if (!pages_disjoint(out))
		return fail(out, -EINVAL, "loadable segments overlap or share a page");
	out->entry = eh.e_entry;
	if (!entry_is_code(out))
		return fail(out, -EINVAL, "entry point is outside every executable segment");
	out->phnum = eh.e_phnum;
	out->phentsize = eh.e_phentsize;
	return 0;
}
