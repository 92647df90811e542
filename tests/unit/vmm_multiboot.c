// SPDX-License-Identifier: MIT
/*
 * The multiboot (v1) loader against synthetic kernels: the header search and checksum, ELF32
 * and ELF64 images by their program headers, the a.out-kludge address fields, the placement in
 * RAM clear of the VMM's own areas, the modules above the image, the information structure and
 * the entry state. Every refusal must name its reason.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot.h"
#include "multiboot.h"
#include "options.h"
#include "vmm.h"

#define RAM (64ULL << 20)
#define FILE_SIZE 16384

static uint8_t file[FILE_SIZE] __attribute__((aligned(8)));

/* Writes a header at @off with @flags and a correct checksum; returns a pointer to its words
 * (aligned when @off is). */
static uint32_t *put_header(uint32_t off, uint32_t flags)
{
	const uint32_t h[3] = { MB_HEADER_MAGIC, flags, -(MB_HEADER_MAGIC + flags) };

	memcpy(file + off, h, sizeof(h));
	return (uint32_t *)(file + off);
}

/* An ELF32 i386 kernel: two PT_LOAD segments at 1 MiB and 1 MiB + 64 KiB (the second with
 * BSS), a header at 0x80, the entry virtual at 0xc0100000 + 0x40 (linked high, loaded low). */
static void elf32_kernel(void)
{
	Elf32_Ehdr *e = (Elf32_Ehdr *)file;
	Elf32_Phdr *ph = (Elf32_Phdr *)(file + sizeof(*e));

	memset(file, 0, sizeof(file));
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS32;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_type = ET_EXEC;
	e->e_machine = EM_386;
	e->e_entry = 0xc0101040;
	e->e_phoff = sizeof(*e);
	e->e_phentsize = sizeof(*ph);
	e->e_phnum = 3;
	ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD,
			      .p_offset = 0x1000,
			      .p_vaddr = 0xc0100000,
			      .p_paddr = 0x100000,
			      .p_filesz = 0x2000,
			      .p_memsz = 0x2000 };
	ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = 0x100, .p_filesz = 0x10 };
	ph[2] = (Elf32_Phdr){ .p_type = PT_LOAD,
			      .p_offset = 0x3000,
			      .p_vaddr = 0xc0110000,
			      .p_paddr = 0x110000,
			      .p_filesz = 0x800,
			      .p_memsz = 0x5000 };
	put_header(0x1000, MB_HF_PAGE_ALIGN | MB_HF_MEMORY);
}

static void elf64_kernel(void)
{
	Elf64_Ehdr *e = (Elf64_Ehdr *)file;
	Elf64_Phdr *ph = (Elf64_Phdr *)(file + sizeof(*e));

	memset(file, 0, sizeof(file));
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_entry = 0x200010;
	e->e_phoff = sizeof(*e);
	e->e_phentsize = sizeof(*ph);
	e->e_phnum = 1;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
			      .p_offset = 0x1000,
			      .p_vaddr = 0x200000,
			      .p_paddr = 0x200000,
			      .p_filesz = 0x3000,
			      .p_memsz = 0x9000 };
	put_header(0x1000, 0);
}

/* A flat binary with the a.out-kludge fields: loaded at 1 MiB from file offset 0, the header
 * at 0x40, 0x3000 bytes of file then BSS to 1 MiB + 0x8000. */
static void aout_kernel(void)
{
	memset(file, 0, sizeof(file));
	file[0] = 0xfa; /* cli: not ELF */
	uint32_t *h = put_header(0x40, MB_HF_PAGE_ALIGN | MB_HF_AOUT_KLUDGE);
	h[3] = 0x100040; /* header_addr */
	h[4] = 0x100000; /* load_addr */
	h[5] = 0x103000; /* load_end_addr */
	h[6] = 0x108000; /* bss_end_addr */
	h[7] = 0x100080; /* entry_addr */
}

static int parse(struct image_info *img, const char **why)
{
	*why = NULL;
	return mb_parse(file, sizeof(file), sizeof(file), img, why);
}

/* @why is read after the call that set it (arguments are evaluated in no fixed order). */
static void refused(int rc, const char *const *why, const char *words)
{
	assert_int_equal(rc, -1);
	assert_non_null(*why);
	if (!strstr(*why, words))
		fail_msg("expected a reason naming '%s', got '%s'", words, *why);
}

static void test_good_elf32_header(void **state)
{
	struct image_info img;
	const char *why;

	elf32_kernel();
	assert_int_equal(parse(&img, &why), 0);
	assert_int_equal(img.kind, IMAGE_MULTIBOOT);
	assert_int_equal(img.nsegments, 2);
	assert_int_equal(img.seg[0].offset, 0x1000);
	assert_int_equal(img.seg[0].paddr, 0x100000);
	assert_int_equal(img.seg[1].filesz, 0x800);
	assert_int_equal(img.seg[1].memsz, 0x5000);
	/* The virtual entry is translated by its segment's vaddr - paddr. */
	assert_int_equal(img.entry, 0x101040);
	assert_int_equal(img.lowest, 0x100000);
	assert_int_equal(img.highest, 0x115000);
	assert_int_equal(mb_place(&img, RAM, &why), 0);
}

static void test_good_elf64_header(void **state)
{
	struct image_info img;
	const char *why;

	elf64_kernel();
	assert_int_equal(parse(&img, &why), 0);
	assert_int_equal(img.nsegments, 1);
	assert_int_equal(img.entry, 0x200010);
	assert_int_equal(img.highest, 0x209000);
}

static void test_no_header_is_not_multiboot(void **state)
{
	struct image_info img = { .kind = IMAGE_ELF };
	const char *why;

	elf32_kernel();
	memset(file + 0x1000, 0, 12);
	assert_int_equal(parse(&img, &why), 1);
	assert_int_equal(img.kind, IMAGE_ELF); /* untouched */
	/* A header past the first 8 KiB does not count; nor one that is not 4-aligned. */
	put_header(MB_SEARCH, 0);
	assert_int_equal(parse(&img, &why), 1);
	memset(file + MB_SEARCH, 0, 12);
	put_header(0x1002, 0);
	assert_int_equal(parse(&img, &why), 1);
	/* Nor one cut off by the end of the file. */
	memset(file, 0, sizeof(file));
	put_header(0, 0);
	assert_int_equal(mb_parse(file, 8, 8, &img, &why), 1);
}

static void test_bad_checksum(void **state)
{
	struct image_info img;
	const char *why;

	elf32_kernel();
	((uint32_t *)(file + 0x1000))[2] += 1;
	refused(parse(&img, &why), &why, "checksum");
}

static void test_unknown_required_flag(void **state)
{
	struct image_info img;
	const char *why;

	elf32_kernel();
	put_header(0x1000, 1u << 3);
	refused(parse(&img, &why), &why, "flag bits 3-15");
	/* Bits 17-31 are optional: ignored. */
	put_header(0x1000, 1u << 20);
	assert_int_equal(parse(&img, &why), 0);
}

static void test_aout_kludge(void **state)
{
	struct image_info img;
	const char *why;

	aout_kernel();
	assert_int_equal(parse(&img, &why), 0);
	assert_int_equal(img.kind, IMAGE_MULTIBOOT);
	assert_int_equal(img.nsegments, 1);
	assert_int_equal(img.seg[0].offset, 0);
	assert_int_equal(img.seg[0].filesz, 0x3000);
	assert_int_equal(img.seg[0].paddr, 0x100000);
	assert_int_equal(img.seg[0].memsz, 0x8000); /* BSS to bss_end_addr */
	assert_int_equal(img.entry, 0x100080);
	assert_int_equal(mb_place(&img, RAM, &why), 0);

	/* load_end_addr 0: the rest of the file; bss_end_addr 0: no BSS. */
	uint32_t *h = (uint32_t *)(file + 0x40);
	h[5] = h[6] = 0;
	assert_int_equal(parse(&img, &why), 0);
	assert_int_equal(img.seg[0].filesz, FILE_SIZE);
	assert_int_equal(img.seg[0].memsz, FILE_SIZE);

	/* The header says the file holds more than it does. */
	h[5] = 0x100000 + FILE_SIZE + 1;
	refused(parse(&img, &why), &why, "beyond the file");
	/* load_addr above header_addr; entry outside; BSS ending before the load. */
	aout_kernel();
	h[4] = 0x100041;
	refused(parse(&img, &why), &why, "load_addr");
	aout_kernel();
	h[7] = 0x108000;
	refused(parse(&img, &why), &why, "entry_addr");
	aout_kernel();
	h[6] = 0x102000;
	refused(parse(&img, &why), &why, "bss_end_addr");
	/* header_addr - load_addr larger than the header's file offset. */
	aout_kernel();
	h[3] = 0x100100;
	refused(parse(&img, &why), &why, "load_addr");
}

static void test_not_elf_without_kludge(void **state)
{
	struct image_info img;
	const char *why;

	aout_kernel();
	put_header(0x40, 0);
	refused(parse(&img, &why), &why, "flag 16");
}

static void test_image_larger_than_ram(void **state)
{
	struct image_info img;
	const char *why;

	aout_kernel();
	((uint32_t *)(file + 0x40))[6] = (uint32_t)RAM + 0x1000; /* BSS past the end of RAM */
	assert_int_equal(parse(&img, &why), 0);
	refused(mb_place(&img, RAM, &why), &why, "RAM too small");
	/* Exactly filling RAM is fine. */
	((uint32_t *)(file + 0x40))[6] = (uint32_t)RAM;
	assert_int_equal(parse(&img, &why), 0);
	assert_int_equal(mb_place(&img, RAM, &why), 0);
	/* A segment beyond 4 GiB is refused by the parser. */
	elf64_kernel();
	((Elf64_Phdr *)(file + sizeof(Elf64_Ehdr)))->p_paddr = 0xfffff000;
	((Elf64_Phdr *)(file + sizeof(Elf64_Ehdr)))->p_vaddr = 0xfffff000;
	((Elf64_Ehdr *)file)->e_entry = 0xfffff010;
	refused(parse(&img, &why), &why, "beyond 4 GiB");
}

static void test_overlapping_segments(void **state)
{
	struct image_info img;
	const char *why;

	elf32_kernel();
	Elf32_Phdr *ph = (Elf32_Phdr *)(file + sizeof(Elf32_Ehdr));
	ph[2].p_paddr = 0x101fff; /* one byte into segment 0 */
	refused(parse(&img, &why), &why, "overlap");
	ph[2].p_paddr = 0x102000; /* touching is fine */
	assert_int_equal(parse(&img, &why), 0);
}

static void test_platform_areas(void **state)
{
	struct image_info img;
	const char *why;

	aout_kernel();
	uint32_t *h = (uint32_t *)(file + 0x40);
	h[3] = 0x8040, h[4] = 0x8000, h[5] = 0x9000, h[6] = 0, h[7] = 0x8080;
	assert_int_equal(parse(&img, &why), 0);
	refused(mb_place(&img, RAM, &why), &why, "boot data");
	h[3] = 0x9f040, h[4] = 0x9f000, h[5] = 0xa0000, h[7] = 0x9f080;
	assert_int_equal(parse(&img, &why), 0);
	refused(mb_place(&img, RAM, &why), &why, "EBDA");
	/* Between the two, low memory is the kernel's. */
	h[3] = 0x20040, h[4] = 0x20000, h[5] = 0x23000, h[7] = 0x20080;
	assert_int_equal(parse(&img, &why), 0);
	assert_int_equal(mb_place(&img, RAM, &why), 0);
}

static void test_modules_placed_above_image(void **state)
{
	struct image_info img;
	const char *why;
	struct mb_module m[3] = { { "a", NULL, 5000, 0 },
				  { "b", "b args", 0, 0 },
				  { "c", NULL, 4096, 0 } };

	elf32_kernel();
	assert_int_equal(parse(&img, &why), 0);
	assert_int_equal(mb_place_modules(&img, RAM, m, 3, &why), 0);
	assert_int_equal(m[0].addr, 0x115000);
	assert_int_equal(m[1].addr, 0x117000); /* 5000 bytes take two pages */
	assert_int_equal(m[2].addr, 0x117000); /* an empty module takes none */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(m[i].addr & 0xfff, 0);
}

static void test_modules_that_do_not_fit(void **state)
{
	struct image_info img;
	const char *why;
	struct mb_module m[2] = { { "a", NULL, 0x1000, 0 }, { "b", NULL, 0, 0 } };

	elf32_kernel();
	assert_int_equal(parse(&img, &why), 0);
	m[1].size = RAM - 0x116000; /* exactly what is left */
	assert_int_equal(mb_place_modules(&img, RAM, m, 2, &why), 0);
	m[1].size++;
	refused(mb_place_modules(&img, RAM, m, 2, &why), &why, "RAM too small");
	m[1].size = UINT64_MAX; /* no wrap-around */
	refused(mb_place_modules(&img, RAM, m, 2, &why), &why, "RAM too small");
	static struct mb_module many[MB_MAX_MODULES + 1];
	refused(mb_place_modules(&img, RAM, many, MB_MAX_MODULES + 1, &why), &why, "too many");
}

/* Guest RAM of RAM bytes for the builders (untouched pages cost nothing). */
static struct guest_ram ram_new(void)
{
	struct guest_ram r = { .base = calloc(1, RAM), .size = RAM };

	assert_non_null(r.base);
	return r;
}

static void test_information_structure(void **state)
{
	struct guest_ram ram = ram_new();
	uint8_t *mem = ram.base;
	struct mb_module m[2] = { { "/boot/initrd", NULL, 100, 0x200000 },
				  { "/boot/m1", "m1 x=1", 0, 0x201000 } };
	struct mb_info info;
	const char *why;

	memset(mem, 0xcc, MB_LOW_END);
	assert_int_equal(mb_info_build(&ram, "console=ttyS0 hello", m, 2, &why), 0);
	memcpy(&info, mem + MB_INFO, sizeof(info));
	assert_int_equal(sizeof(info), 116);
	assert_int_equal(info.flags, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9));
	assert_int_equal(info.mem_lower, 639);
	assert_int_equal(info.mem_upper, (RAM >> 10) - 1024);
	assert_string_equal((char *)mem + info.cmdline, "console=ttyS0 hello");
	assert_string_equal((char *)mem + info.boot_loader_name, MB_LOADER_NAME);

	assert_int_equal(info.mods_count, 2);
	struct mb_module_entry me[2];
	memcpy(me, mem + info.mods_addr, sizeof(me));
	assert_int_equal(me[0].mod_start, 0x200000);
	assert_int_equal(me[0].mod_end, 0x200064);
	assert_string_equal((char *)mem + me[0].string, "/boot/initrd");
	assert_int_equal(me[1].mod_start, me[1].mod_end);
	assert_string_equal((char *)mem + me[1].string, "m1 x=1");

	/* The map: entries of size 20, sorted, disjoint; usable RAM above 1 MiB is mem_upper. */
	uint64_t upper = 0, prev_end = 0;
	unsigned n = 0;
	for (uint32_t off = 0; off < info.mmap_length; n++) {
		struct mb_mmap_entry e;
		memcpy(&e, mem + info.mmap_addr + off, sizeof(e));
		assert_int_equal(e.size, 20);
		assert_true(e.addr >= prev_end);
		prev_end = e.addr + e.len;
		if (e.type == 1 && e.addr >= 0x100000)
			upper += e.len;
		off += e.size + 4;
	}
	assert_int_equal(n, 4);
	assert_int_equal(upper, (uint64_t)info.mem_upper << 10);
	assert_int_equal(prev_end, RAM);
	/* Nothing the kernel is told about lies in the GDT the entry state uses. */
	assert_true(info.mmap_addr + info.mmap_length <= info.mods_addr);
	free(mem);
}

static void test_information_limits(void **state)
{
	struct guest_ram ram = ram_new();
	static char longline[BOOT_CMDLINE_MAX + 1];
	static char longstring[MB_STRINGS_SIZE];
	struct mb_module m[2] = { { "a", longstring, 1, 0x200000 }, { "b", "bb", 1, 0x201000 } };
	const char *why;

	memset(longline, 'x', BOOT_CMDLINE_MAX);
	refused(mb_info_build(&ram, longline, NULL, 0, &why), &why, "command line");
	longline[BOOT_CMDLINE_MAX - 1] = 0;
	assert_int_equal(mb_info_build(&ram, longline, NULL, 0, &why), 0);
	memset(longstring, 's', sizeof(longstring) - 1);
	assert_int_equal(mb_info_build(&ram, "", m, 1, &why), 0); /* exactly fills */
	refused(mb_info_build(&ram, "", m, 2, &why), &why, "module strings");
	/* RAM that does not reach the information area. */
	struct guest_ram tiny = { .base = ram.base, .size = MB_LOW_END - 1 };
	refused(mb_info_build(&tiny, "", NULL, 0, &why), &why, "RAM");
	free(ram.base);
}

static void test_entry_state(void **state)
{
	uint8_t *mem = calloc(1, MB_LOW_END);
	struct guest_ram ram = { .base = mem, .size = MB_LOW_END };
	struct dyad_sregs s;
	struct dyad_regs r;

	assert_non_null(mem);
	assert_int_equal(mb_cpu_state(&ram, 0x101040, &s, &r), 0);
	assert_int_equal(r.rax, MB_BOOT_MAGIC);
	assert_int_equal(r.rbx, MB_INFO);
	assert_int_equal(r.rip, 0x101040);
	assert_int_equal(r.rflags & (1 << 9), 0); /* IF clear */
	assert_int_equal(s.cr0 & 1, 1); /* PE */
	assert_int_equal(s.cr0 & (1UL << 31), 0); /* no PG */
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.cr4, 0);
	const struct dyad_segment *segs[] = { &s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
	for (unsigned i = 0; i < ARRAY_SIZE(segs); i++) {
		assert_int_equal(segs[i]->base, 0);
		assert_int_equal(segs[i]->limit, 0xffffffff);
		assert_int_equal(segs[i]->db, 1); /* 32-bit */
		assert_int_equal(segs[i]->l, 0);
		assert_true(segs[i]->present && segs[i]->s);
	}
	assert_int_equal(s.cs.type & 0x8, 0x8); /* code */
	assert_int_equal(s.ds.type & 0xa, 0x2); /* writable data */
	/* The GDT in memory describes the same segments the registers hold. */
	uint64_t cs, ds;
	memcpy(&cs, mem + s.gdt.base + s.cs.selector, 8);
	memcpy(&ds, mem + s.gdt.base + s.ds.selector, 8);
	assert_int_equal(cs, 0x00cf9b000000ffffULL);
	assert_int_equal(ds, 0x00cf93000000ffffULL);
	assert_true(s.gdt.limit >= s.ds.selector + 7);
	/* RAM that does not hold the GDT is refused. */
	ram.size = BOOT_GDT + 8;
	assert_int_equal(mb_cpu_state(&ram, 0x101040, &s, &r), -1);
	free(mem);
}

/* --module on the VMM's command line, and what the loader needs to drop Linux's default line. */
static void test_module_options(void **state)
{
	static struct options o;
	char err[200];
	char *ok[] = {
		"vmm", "-i", "/m0", "--module", "/m1,s1 x", "--module", "/m2", "k.elf", NULL
	};
	char *words[] = { "vmm", "-a", "extra", "k.elf", "a", "b", NULL };
	char *defaults[] = { "vmm", "-a", "extra", "k.elf", NULL };
	char *empty[] = { "vmm", "--module", ",s", "k.elf", NULL };
	char *missing[] = { "vmm", "--module", NULL };
	char *many[2 * OPTIONS_MAX_MODULES + 4];

	assert_int_equal(options_parse(8, ok, &o, err, sizeof(err)), 0);
	assert_int_equal(o.nmodules, 2);
	assert_string_equal(o.modules[0], "/m1,s1 x");
	assert_string_equal(o.initrd, "/m0");
	assert_string_equal(o.kernel, "k.elf");
	/* Words after the kernel replace the default line: nothing of it to drop. */
	assert_int_equal(options_parse(6, words, &o, err, sizeof(err)), 0);
	assert_int_equal(o.default_len, 0);
	assert_string_equal(o.cmdline, "a b extra");
	/* Without them the default line comes first and default_len covers it. */
	assert_int_equal(options_parse(4, defaults, &o, err, sizeof(err)), 0);
	assert_int_equal(o.default_len, strlen(OPTIONS_DEFAULT_CMDLINE));
	assert_string_equal(o.cmdline + o.default_len, " extra");
	/* A module needs a file; too many are refused. */
	assert_int_equal(options_parse(4, empty, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--module"));
	assert_int_equal(options_parse(2, missing, &o, err, sizeof(err)), -1);
	many[0] = "vmm";
	for (unsigned i = 0; i <= OPTIONS_MAX_MODULES; i++) {
		many[1 + 2 * i] = "--module";
		many[2 + 2 * i] = "/m";
	}
	many[2 * OPTIONS_MAX_MODULES + 3] = "k.elf";
	assert_int_equal(options_parse(2 * OPTIONS_MAX_MODULES + 4, many, &o, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_elf32_header),
		cmocka_unit_test(test_good_elf64_header),
		cmocka_unit_test(test_no_header_is_not_multiboot),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_unknown_required_flag),
		cmocka_unit_test(test_aout_kludge),
		cmocka_unit_test(test_not_elf_without_kludge),
		cmocka_unit_test(test_image_larger_than_ram),
		cmocka_unit_test(test_overlapping_segments),
		cmocka_unit_test(test_platform_areas),
		cmocka_unit_test(test_modules_placed_above_image),
		cmocka_unit_test(test_modules_that_do_not_fit),
		cmocka_unit_test(test_information_structure),
		cmocka_unit_test(test_information_limits),
		cmocka_unit_test(test_entry_state),
		cmocka_unit_test(test_module_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
