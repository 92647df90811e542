// SPDX-License-Identifier: MIT
/*
 * Multiboot (v1) kernels, after the Multiboot Specification version 0.6.96: the header in the
 * first 8 KiB, the image loaded by its ELF program headers or by the header's address fields
 * ("a.out kludge"), modules page-aligned above it, the information structure in low memory,
 * and the entry in 32-bit protected mode with paging off.
 */
#include <elf.h>
#include <string.h>

#include "boot.h"
#include "multiboot.h"
#include "vmm.h"

#define FOUR_GIB (1ULL << 32)
#define PAGE_UP(x) (((x) + 0xfffULL) & ~0xfffULL)

/* The header: magic, flags, checksum, then the a.out-kludge address fields. */
struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

/* Adds [paddr, +memsz) with @filesz bytes at file @offset to @out; rejects what cannot load. */
static int add_segment(struct image_info *out, uint64_t offset, uint64_t filesz, uint64_t paddr,
		       uint64_t memsz, uint64_t file_size, const char **why)
{
	if (out->nsegments == IMAGE_MAX_SEGMENTS)
		return fail(why, "multiboot image has too many loadable segments");
	if (filesz > memsz || offset > file_size || filesz > file_size - offset)
		return fail(why, "truncated multiboot image: a segment lies beyond the file");
	if (paddr >= FOUR_GIB || memsz > FOUR_GIB - paddr)
		return fail(why, "multiboot image has a segment beyond 4 GiB");
	for (unsigned j = 0; j < out->nsegments; j++)
		if (paddr < out->seg[j].paddr + out->seg[j].memsz &&
		    out->seg[j].paddr < paddr + memsz)
			return fail(why, "corrupt multiboot image: loadable segments overlap");
	out->seg[out->nsegments++] = (struct image_segment){ offset, filesz, paddr, memsz };
	out->lowest = MIN(out->lowest, paddr);
	out->highest = MAX(out->highest, paddr + memsz);
	return 0;
}

/* One program header of either class, widened. */
struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

static void read_phdr(const uint8_t *p, int is64, struct phdr *ph)
{
	if (is64) {
		Elf64_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct phdr){ h.p_type,	h.p_offset, h.p_vaddr,
				     h.p_paddr, h.p_filesz, h.p_memsz };
	} else {
		Elf32_Phdr h;
		memcpy(&h, p, sizeof(h));
		*ph = (struct phdr){ h.p_type,	h.p_offset, h.p_vaddr,
				     h.p_paddr, h.p_filesz, h.p_memsz };
	}
}

/* The image by its program headers, at their physical addresses (as GRUB loads it). */
static int parse_elf(const uint8_t *head, size_t head_len, uint64_t file_size,
		     struct image_info *out, const char **why)
{
	Elf64_Ehdr e64;
	Elf32_Ehdr e32;
	int is64;
	uint64_t entry, phoff;
	unsigned phnum, phentsize;

	if (head_len < sizeof(e32))
		return fail(why, "truncated multiboot ELF: shorter than its header");
	is64 = head[EI_CLASS] == ELFCLASS64;
	if (is64) {
		if (head_len < sizeof(e64))
			return fail(why, "truncated multiboot ELF: shorter than its header");
		memcpy(&e64, head, sizeof(e64));
		if (e64.e_machine != EM_X86_64)
			return fail(why, "multiboot ELF64 is not an x86-64 image");
		entry = e64.e_entry, phoff = e64.e_phoff;
		phnum = e64.e_phnum, phentsize = e64.e_phentsize;
	} else {
		memcpy(&e32, head, sizeof(e32));
		if (head[EI_CLASS] != ELFCLASS32 || e32.e_machine != EM_386)
			return fail(why, "multiboot ELF is neither i386 ELF32 nor x86-64 ELF64");
		entry = e32.e_entry, phoff = e32.e_phoff;
		phnum = e32.e_phnum, phentsize = e32.e_phentsize;
	}
	if (head[EI_DATA] != ELFDATA2LSB)
		return fail(why, "multiboot ELF is not little-endian");
	if (phentsize != (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) || !phnum ||
	    phnum > IMAGE_MAX_SEGMENTS * 2)
		return fail(why, "corrupt multiboot ELF: bad program header size or count");
	uint64_t ph_end = phoff + (uint64_t)phnum * phentsize;
	if (phoff > file_size || ph_end > file_size)
		return fail(why,
			    "truncated multiboot ELF: the program headers lie beyond the file");
	if (ph_end > head_len)
		return fail(why, "multiboot ELF program headers lie too far into the file");

	out->entry = UINT64_MAX;
	for (unsigned i = 0; i < phnum; i++) {
		struct phdr ph;
		read_phdr(head + phoff + (uint64_t)i * phentsize, is64, &ph);
		if (ph.type != PT_LOAD || !ph.memsz)
			continue;
		if (add_segment(out, ph.offset, ph.filesz, ph.paddr, ph.memsz, file_size, why))
			return -1;
		/* The entry may be physical, or virtual in a segment linked elsewhere. */
		if (entry >= ph.paddr && entry - ph.paddr < ph.memsz)
			out->entry = entry;
		else if (out->entry == UINT64_MAX && entry >= ph.vaddr &&
			 entry - ph.vaddr < ph.memsz)
			out->entry = ph.paddr + (entry - ph.vaddr);
	}
	if (!out->nsegments)
		return fail(why, "multiboot ELF has no loadable segment");
	if (out->entry == UINT64_MAX)
		return fail(why,
			    "corrupt multiboot ELF: the entry point is in no loadable segment");
	return 0;
}

/*
 * The image by the header's address fields: the file from the header's offset less
 * (header_addr - load_addr) is loaded at load_addr up to load_end_addr (0: the end of the
 * file), then zeroed up to bss_end_addr (0: no BSS).
 */
static int parse_aout(const struct mb_header *h, uint64_t hoff, uint64_t file_size,
		      struct image_info *out, const char **why)
{
	if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > hoff)
		return fail(why, "corrupt multiboot header: load_addr does not fit header_addr");
	uint64_t offset = hoff - (h->header_addr - h->load_addr);
	uint64_t filesz = file_size - offset;
	if (h->load_end_addr) {
		if (h->load_end_addr <= h->load_addr)
			return fail(why,
				    "corrupt multiboot header: load_end_addr before load_addr");
		filesz = h->load_end_addr - h->load_addr;
	}
	uint64_t memsz = filesz;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + filesz)
			return fail(why,
				    "corrupt multiboot header: bss_end_addr before the load end");
		memsz = h->bss_end_addr - h->load_addr;
	}
	if (!memsz)
		return fail(why, "multiboot image loads nothing");
	if (add_segment(out, offset, filesz, h->load_addr, memsz, file_size, why))
		return -1;
	if (h->entry_addr < h->load_addr || h->entry_addr - h->load_addr >= memsz)
		return fail(why, "corrupt multiboot header: entry_addr outside the loaded image");
	out->entry = h->entry_addr;
	return 0;
}

int mb_parse(const uint8_t *head, size_t head_len, uint64_t file_size, struct image_info *out,
	     const char **why)
{
	struct mb_header h;
	uint64_t hoff;
	size_t limit;

	if (head_len > file_size)
		head_len = file_size;
	limit = MIN(head_len, (size_t)MB_SEARCH);
	for (hoff = 0; hoff + 12 <= limit; hoff += 4) {
		uint32_t magic;
		memcpy(&magic, head + hoff, 4);
		if (magic == MB_HEADER_MAGIC)
			break;
	}
	if (hoff + 12 > limit)
		return 1;
	memset(out, 0, sizeof(*out));
	out->kind = IMAGE_MULTIBOOT;
	out->lowest = UINT64_MAX;
	memset(&h, 0, sizeof(h));
	memcpy(&h, head + hoff, MIN(sizeof(h), head_len - hoff));
	if ((uint32_t)(h.magic + h.flags + h.checksum))
		return fail(why,
			    "multiboot header checksum is wrong (magic + flags + checksum != 0)");
	if (h.flags & 0xffff & ~MB_HF_KNOWN_REQUIRED)
		return fail(why, "multiboot header requires a feature this loader does not know "
				 "(flag bits 3-15)");
	if (h.flags & MB_HF_AOUT_KLUDGE) {
		if (hoff + sizeof(h) > head_len)
			return fail(why,
				    "truncated multiboot header: the address fields are missing");
		return parse_aout(&h, hoff, file_size, out, why);
	}
	if (head_len >= SELFMAG && !memcmp(head, ELFMAG, SELFMAG))
		return parse_elf(head, head_len, file_size, out, why);
	return fail(why, "multiboot image is not ELF and its header has no address fields "
			 "(flag 16)");
}

int mb_place(const struct image_info *img, uint64_t ram, const char **why)
{
	for (unsigned i = 0; i < img->nsegments; i++) {
		const struct image_segment *s = &img->seg[i];
		if (s->paddr < MB_LOW_END)
			return fail(why,
				    "multiboot image overlaps the VMM's boot data below 64 KiB");
		if (s->paddr < 0x100000 && s->paddr + s->memsz > BOOT_EBDA)
			return fail(why, "multiboot image overlaps the EBDA, VGA and BIOS areas "
					 "(0x9fc00 to 1 MiB)");
		if (s->paddr + s->memsz > ram)
			return fail(why, "RAM too small for the multiboot image");
	}
	return 0;
}

int mb_place_modules(const struct image_info *img, uint64_t ram, struct mb_module *mods, unsigned n,
		     const char **why)
{
	uint64_t at = PAGE_UP(MAX(img->highest, 0x100000ULL));

	if (n > MB_MAX_MODULES)
		return fail(why, "too many multiboot modules");
	for (unsigned i = 0; i < n; i++) {
		if (at > ram || mods[i].size > ram - at)
			return fail(why, "RAM too small for the multiboot modules above the image");
		mods[i].addr = at;
		at = PAGE_UP(at + mods[i].size);
	}
	return 0;
}

/* Copies @len bytes to guest-physical @gpa; -1 unless all of them are RAM. */
static int put(const struct guest_ram *ram, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst;

	if (gpa_ptr(ram, gpa, len, &dst))
		return -1;
	memcpy(dst, src, len);
	return 0;
}

int mb_info_build(const struct guest_ram *ram, const char *cmdline, const struct mb_module *mods,
		  unsigned n, const char **why)
{
	struct mb_info info = { 0 };
	struct boot_e820_entry e820[8];
	size_t len = strlen(cmdline), used = 0;
	void *low;

	if (gpa_ptr(ram, 0, MB_LOW_END, &low))
		return fail(why, "RAM does not reach the multiboot information area");
	if (len >= BOOT_CMDLINE_MAX)
		return fail(why, "multiboot command line too long");
	if (n > MB_MAX_MODULES)
		return fail(why, "too many multiboot modules");
	/* Every write below lies in [0, MB_LOW_END), checked above. */
	put(ram, BOOT_CMDLINE, cmdline, len + 1);
	put(ram, MB_NAME, MB_LOADER_NAME, sizeof(MB_LOADER_NAME));
	for (unsigned i = 0; i < n; i++) {
		const char *s = mods[i].string ? mods[i].string : mods[i].path;
		size_t sl = strlen(s) + 1;
		if (sl > MB_STRINGS_SIZE - used)
			return fail(why, "multiboot module strings too long");
		put(ram, MB_STRINGS + used, s, sl);
		struct mb_module_entry m = { (uint32_t)mods[i].addr,
					     (uint32_t)(mods[i].addr + mods[i].size),
					     (uint32_t)(MB_STRINGS + used), 0 };
		put(ram, MB_MODS + i * sizeof(m), &m, sizeof(m));
		used += sl;
	}

	unsigned ne = boot_e820(e820, ARRAY_SIZE(e820), ram->size);
	for (unsigned i = 0; i < ne; i++) {
		struct mb_mmap_entry m = { sizeof(m) - 4, e820[i].addr, e820[i].size,
					   e820[i].type };
		put(ram, MB_MMAP + i * sizeof(m), &m, sizeof(m));
	}

	info.flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP |
		     MB_INFO_LOADER_NAME;
	info.mem_lower = BOOT_EBDA >> 10;
	info.mem_upper = (uint32_t)((ram->size - 0x100000) >> 10);
	info.cmdline = BOOT_CMDLINE;
	info.mods_count = n;
	info.mods_addr = MB_MODS;
	info.mmap_length = ne * sizeof(struct mb_mmap_entry);
	info.mmap_addr = MB_MMAP;
	info.boot_loader_name = MB_NAME;
	put(ram, MB_INFO, &info, sizeof(info));
	return 0;
}

static struct dyad_segment flat32(uint16_t sel, uint8_t type)
{
	return (struct dyad_segment){ .limit = 0xffffffff,
				      .selector = sel,
				      .type = type,
				      .s = 1,
				      .present = 1,
				      .db = 1,
				      .g = 1 };
}

int mb_cpu_state(const struct guest_ram *ram, uint32_t entry, struct dyad_sregs *s,
		 struct dyad_regs *r)
{
	const uint64_t gdt[4] = { 0, 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL };

	if (put(ram, BOOT_GDT, gdt, sizeof(gdt)))
		return -1;
	memset(s, 0, sizeof(*s));
	s->cs = flat32(BOOT_CS, 0xb);
	s->ds = s->es = s->fs = s->gs = s->ss = flat32(BOOT_DS, 0x3);
	s->tr = (struct dyad_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s->ldt = (struct dyad_segment){ .type = 0x2, .unusable = 1 };
	s->gdt = (struct dyad_dtable){ .base = BOOT_GDT, .limit = sizeof(gdt) - 1 };
	s->cr0 = 0x11; /* ET, PE: paging off */

	memset(r, 0, sizeof(*r));
	r->rip = entry;
	r->rax = MB_BOOT_MAGIC;
	r->rbx = MB_INFO;
	r->rsp = BOOT_STACK_TOP;
	r->rflags = 0x2; /* IF clear */
	return 0;
}
