// SPDX-License-Identifier: MIT
/*
 * The kernel image parsers against well-formed synthetic images and each way one can be
 * truncated, corrupt or foreign: every refusal must come with a reason, and a good image must
 * be described exactly.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "image.h"

#define BZ_SIZE 8192
#define BZ_SETUP_SECTS 1 /* kernel at (1 + 1) * 512 */

static uint8_t bz[BZ_SIZE];

static struct setup_header *bz_hdr(void)
{
	return (struct setup_header *)(bz + 0x1f1);
}

static void bz_init(void)
{
	struct setup_header *h = bz_hdr();

	memset(bz, 0, sizeof(bz));
	h->setup_sects = BZ_SETUP_SECTS;
	h->boot_flag = 0xaa55;
	h->header = 0x53726448;
	h->version = 0x20f;
	h->loadflags = LOADED_HIGH;
	h->xloadflags = XLF_KERNEL_64;
	h->syssize = (BZ_SIZE - 1024) / 16;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->pref_address = 0x1000000;
	h->init_size = 0x2000000;
	h->initrd_addr_max = 0x7fffffff;
	h->payload_offset = 0x100;
	h->payload_length = 0x200;
}

static int parse(const uint8_t *buf, size_t len, struct image_info *out, const char **why)
{
	*why = NULL;
	return image_parse(buf, len, len, out, why);
}

static void test_bzimage_ok(void **state)
{
	struct image_info img;
	const char *why;

	bz_init();
	assert_int_equal(parse(bz, BZ_SIZE, &img, &why), 0);
	assert_int_equal(img.kind, IMAGE_BZIMAGE);
	assert_int_equal(img.kernel_offset, 1024);
	assert_int_equal(img.kernel_size, BZ_SIZE - 1024);
	assert_int_equal(image_place(&img, 256 << 20, &why), 0);
	assert_int_equal(img.lowest, 0x1000000);
	assert_int_equal(img.highest, 0x3000000);
	assert_int_equal(img.entry, 0x1000200);
}

static void test_bzimage_zero_setup_sects_means_four(void **state)
{
	struct image_info img;
	const char *why;

	bz_init();
	bz_hdr()->setup_sects = 0;
	bz_hdr()->syssize = (BZ_SIZE - 2560) / 16;
	assert_int_equal(parse(bz, BZ_SIZE, &img, &why), 0);
	assert_int_equal(img.kernel_offset, 5 * 512);
}

static void expect_refused(const uint8_t *buf, size_t len, uint64_t file_size, const char *word)
{
	struct image_info img;
	const char *why = NULL;

	assert_int_equal(image_parse(buf, len, file_size, &img, &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, word));
}

static void test_bzimage_truncated(void **state)
{
	bz_init();
	/* Cut inside the protected-mode kernel: shorter than syssize. */
	expect_refused(bz, BZ_SIZE, BZ_SIZE - 16, "truncated");
	/* Cut inside the setup code. */
	expect_refused(bz, 1000, 1000, "truncated");
	/* Cut inside the setup header itself. */
	expect_refused(bz, 0x210, 0x210, "truncated");
}

static void test_bzimage_corrupt(void **state)
{
	bz_init();
	bz_hdr()->version = 0x20b;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "2.12");
	bz_init();
	bz_hdr()->xloadflags = 0;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "64-bit");
	bz_init();
	bz_hdr()->loadflags = 0;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "zImage");
	bz_init();
	bz_hdr()->payload_length = BZ_SIZE;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "payload");
	bz_init();
	bz_hdr()->init_size = 16;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "init_size");
	bz_init();
	bz_hdr()->kernel_alignment = 0x300000;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "alignment");
}

static void test_neither_format(void **state)
{
	static const uint8_t text[] = "#!/bin/sh\necho hello\n";

	bz_init();
	bz_hdr()->header = 0x12345678;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "neither");
	bz_init();
	bz_hdr()->boot_flag = 0;
	expect_refused(bz, BZ_SIZE, BZ_SIZE, "neither");
	expect_refused(text, sizeof(text), sizeof(text), "neither");
	expect_refused(text, 0, 0, "empty");
}

static void test_bzimage_ram_too_small(void **state)
{
	struct image_info img;
	const char *why;

	bz_init();
	assert_int_equal(parse(bz, BZ_SIZE, &img, &why), 0);
	assert_int_equal(image_place(&img, 32 << 20, &why), -1);
	assert_non_null(strstr(why, "RAM too small"));
}

/* ---- ELF ---- */

#define ELF_SIZE 0x3000
static uint8_t elf[ELF_SIZE];

static Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)elf;
}

static Elf64_Phdr *ph(int i)
{
	return (Elf64_Phdr *)(elf + sizeof(Elf64_Ehdr)) + i;
}

/* Shaped like Linux's vmlinux: virtual addresses high, physical at 16 MiB, entry physical. */
static void elf_init(void)
{
	memset(elf, 0, sizeof(elf));
	memcpy(eh()->e_ident, ELFMAG, SELFMAG);
	eh()->e_ident[EI_CLASS] = ELFCLASS64;
	eh()->e_ident[EI_DATA] = ELFDATA2LSB;
	eh()->e_ident[EI_VERSION] = EV_CURRENT;
	eh()->e_type = ET_EXEC;
	eh()->e_machine = EM_X86_64;
	eh()->e_entry = 0x1000000;
	eh()->e_phoff = sizeof(Elf64_Ehdr);
	eh()->e_phentsize = sizeof(Elf64_Phdr);
	eh()->e_phnum = 3;
	*ph(0) = (Elf64_Phdr){ .p_type = PT_LOAD,
			       .p_offset = 0x1000,
			       .p_vaddr = 0xffffffff81000000,
			       .p_paddr = 0x1000000,
			       .p_filesz = 0x1000,
			       .p_memsz = 0x1000 };
	*ph(1) = (Elf64_Phdr){ .p_type = PT_LOAD,
			       .p_offset = 0x2000,
			       .p_vaddr = 0xffffffff82000000,
			       .p_paddr = 0x2000000,
			       .p_filesz = 0x1000,
			       .p_memsz = 0x5000 };
	*ph(2) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x1800, .p_filesz = 0x10 };
}

static void test_elf_ok(void **state)
{
	struct image_info img;
	const char *why;

	elf_init();
	assert_int_equal(parse(elf, ELF_SIZE, &img, &why), 0);
	assert_int_equal(img.kind, IMAGE_ELF);
	assert_int_equal(img.nsegments, 2);
	assert_int_equal(img.entry, 0x1000000);
	assert_int_equal(img.lowest, 0x1000000);
	assert_int_equal(img.highest, 0x2005000);
	assert_int_equal(img.seg[1].memsz, 0x5000);
	assert_int_equal(image_place(&img, 64 << 20, &why), 0);
	assert_int_equal(image_place(&img, 32 << 20, &why), -1);
	assert_non_null(strstr(why, "RAM too small"));
}

static void test_elf_virtual_entry(void **state)
{
	struct image_info img;
	const char *why;

	elf_init();
	eh()->e_entry = 0xffffffff81000040;
	assert_int_equal(parse(elf, ELF_SIZE, &img, &why), 0);
	assert_int_equal(img.entry, 0x1000040);
}

static void test_elf_truncated(void **state)
{
	elf_init();
	expect_refused(elf, ELF_SIZE, ELF_SIZE - 1, "truncated");
	expect_refused(elf, 40, 40, "truncated");
	expect_refused(elf, 0x80, 0x80, "truncated"); /* program headers cut */
}

static void test_elf_corrupt(void **state)
{
	elf_init();
	eh()->e_machine = EM_386;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "x86-64");
	elf_init();
	eh()->e_ident[EI_CLASS] = ELFCLASS32;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "x86-64");
	elf_init();
	eh()->e_type = ET_DYN;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "ET_EXEC");
	elf_init();
	eh()->e_phentsize = 32;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "program header");
	elf_init();
	eh()->e_entry = 0x5000000;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "entry");
	elf_init();
	ph(1)->p_paddr = 0x1000800;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "overlap");
	elf_init();
	ph(1)->p_filesz = 0x6000;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "truncated");
	elf_init();
	ph(1)->p_paddr = 0xfffffffffffff000;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "wraps");
	elf_init();
	ph(0)->p_type = PT_NULL;
	ph(1)->p_type = PT_NULL;
	expect_refused(elf, ELF_SIZE, ELF_SIZE, "no loadable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_ok),
		cmocka_unit_test(test_bzimage_zero_setup_sects_means_four),
		cmocka_unit_test(test_bzimage_truncated),
		cmocka_unit_test(test_bzimage_corrupt),
		cmocka_unit_test(test_neither_format),
		cmocka_unit_test(test_bzimage_ram_too_small),
		cmocka_unit_test(test_elf_ok),
		cmocka_unit_test(test_elf_virtual_entry),
		cmocka_unit_test(test_elf_truncated),
		cmocka_unit_test(test_elf_corrupt),
	};
	return cmocka_run_group_tests_name("vmm_image", tests, NULL, NULL);
}
