// SPDX-License-Identifier: MIT
/*
 * ELF validation: a well-formed static executable is described exactly, and each malformation
 * is rejected with the right error and a reason that names it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/elf.h>

#include <dyad/elf.h>
#include <dyad/errno.h>

#define IMG_SIZE 0x3000

/*
 * A synthetic image shaped like `musl-gcc -static` output: a read-only segment holding the
 * headers, code, and data with bss.
 */
struct img {
	uint8_t bytes[IMG_SIZE + 1] __attribute__((aligned(16)));
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

static void img_init(struct img *m)
{
	memset(m, 0, sizeof(*m));
	m->eh = (Elf64_Ehdr *)m->bytes;
	m->ph = (Elf64_Phdr *)(m->bytes + sizeof(Elf64_Ehdr));
	memcpy(m->eh->e_ident, ELFMAG, SELFMAG);
	m->eh->e_ident[EI_CLASS] = ELFCLASS64;
	m->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh->e_ident[EI_VERSION] = EV_CURRENT;
	m->eh->e_type = ET_EXEC;
	m->eh->e_machine = EM_X86_64;
	m->eh->e_version = EV_CURRENT;
	m->eh->e_entry = 0x401010;
	m->eh->e_phoff = sizeof(Elf64_Ehdr);
	m->eh->e_ehsize = sizeof(Elf64_Ehdr);
	m->eh->e_phentsize = sizeof(Elf64_Phdr);
	m->eh->e_phnum = 4;
	m->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
				 .p_flags = PF_R,
				 .p_offset = 0,
				 .p_vaddr = 0x400000,
				 .p_filesz = 0x200,
				 .p_memsz = 0x200 };
	m->ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD,
				 .p_flags = PF_R | PF_X,
				 .p_offset = 0x1000,
				 .p_vaddr = 0x401000,
				 .p_filesz = 0x800,
				 .p_memsz = 0x800 };
	m->ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD,
				 .p_flags = PF_R | PF_W,
				 .p_offset = 0x2fd0,
				 .p_vaddr = 0x403fd0,
				 .p_filesz = 0x30,
				 .p_memsz = 0x2a8 };
	m->ph[3] = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W };
}

static int img_parse(struct img *m, struct elf_image *out)
{
	return elf_parse(m->bytes, IMG_SIZE, out);
}

/* Parses @m, expecting error @err with a reason containing @words. */
static void expect_reject(struct img *m, int err, const char *words)
{
	struct elf_image out;
	int r = img_parse(m, &out);

	if (r != err || !out.why || !strstr(out.why, words))
		fail_msg("expected %d with \"%s\", saw %d with \"%s\"", err, words, r,
			 out.why ? out.why : "(null)");
}

static void good_executable_is_described(void **state)
{
	struct img m;
	struct elf_image out;

	(void)state;
	img_init(&m);
	assert_int_equal(img_parse(&m, &out), 0);
	assert_null(out.why);
	assert_int_equal(out.entry, 0x401010);
	assert_int_equal(out.phdr_vaddr, 0x400040);
	assert_int_equal(out.phnum, 4);
	assert_int_equal(out.phentsize, sizeof(Elf64_Phdr));
	assert_int_equal(out.nr_segments, 3);
	assert_int_equal(out.seg[0].vaddr, 0x400000);
	assert_int_equal(out.seg[0].prot, ELF_PROT_R);
	assert_int_equal(out.seg[1].vaddr, 0x401000);
	assert_int_equal(out.seg[1].offset, 0x1000);
	assert_int_equal(out.seg[1].filesz, 0x800);
	assert_int_equal(out.seg[1].prot, ELF_PROT_R | ELF_PROT_X);
	assert_int_equal(out.seg[2].vaddr, 0x403fd0);
	assert_int_equal(out.seg[2].offset, 0x2fd0);
	assert_int_equal(out.seg[2].filesz, 0x30);
	assert_int_equal(out.seg[2].memsz, 0x2a8);
	assert_int_equal(out.seg[2].prot, ELF_PROT_R | ELF_PROT_W);
}

static void unaligned_image_is_read(void **state)
{
	static struct img m;
	struct elf_image out;

	(void)state;
	img_init(&m);
	memmove(m.bytes + 1, m.bytes, IMG_SIZE);
	assert_int_equal(elf_parse(m.bytes + 1, IMG_SIZE, &out), 0);
	assert_int_equal(out.entry, 0x401010);
}

static void segments_come_out_sorted_and_empty_ones_skipped(void **state)
{
	struct img m;
	struct elf_image out;
	Elf64_Phdr t;

	(void)state;
	img_init(&m);
	t = m.ph[0];
	m.ph[0] = m.ph[2];
	m.ph[2] = t;
	m.ph[3] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_vaddr = 0x400000 }; /* memsz 0 */
	assert_int_equal(img_parse(&m, &out), 0);
	assert_int_equal(out.nr_segments, 3);
	assert_true(out.seg[0].vaddr < out.seg[1].vaddr && out.seg[1].vaddr < out.seg[2].vaddr);
}

static void headers_outside_loads_give_no_phdr(void **state)
{
	struct img m;
	struct elf_image out;

	(void)state;
	img_init(&m);
	m.ph[0].p_offset = 0x1000; /* the first segment now starts after the headers */
	m.ph[0].p_vaddr = 0x400000;
	m.ph[0].p_filesz = 0x100;
	m.ph[0].p_memsz = 0x100;
	assert_int_equal(img_parse(&m, &out), 0);
	assert_int_equal(out.phdr_vaddr, 0);
}

static void wrong_identity_is_not_executable(void **state)
{
	struct img m;
	struct elf_image out;

	(void)state;
	img_init(&m);
	assert_int_equal(elf_parse(m.bytes, 10, &out), -ENOEXEC);
	assert_non_null(strstr(out.why, "smaller"));
	img_init(&m);
	m.eh->e_ident[1] = 'X';
	expect_reject(&m, -ENOEXEC, "bad magic");
	img_init(&m);
	m.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(&m, -ENOEXEC, "64-bit");
	img_init(&m);
	m.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(&m, -ENOEXEC, "little-endian");
	img_init(&m);
	m.eh->e_version = 2;
	expect_reject(&m, -ENOEXEC, "version");
	img_init(&m);
	m.eh->e_machine = EM_386;
	expect_reject(&m, -ENOEXEC, "x86-64");
	img_init(&m);
	m.eh->e_type = ET_DYN;
	expect_reject(&m, -ENOEXEC, "ET_DYN");
	img_init(&m);
	m.eh->e_type = ET_REL;
	expect_reject(&m, -ENOEXEC, "ET_EXEC");
}

static void dynamic_executable_is_refused(void **state)
{
	struct img m;

	(void)state;
	img_init(&m);
	m.ph[3] = (Elf64_Phdr){ .p_type = PT_INTERP, .p_offset = 0x200, .p_filesz = 20 };
	expect_reject(&m, -ENOEXEC, "PT_INTERP");
}

static void host_executable_is_refused(void **state)
{
	/* The test binary itself: a dynamically linked PIE, which Dyad must not try to run. */
	static uint8_t buf[1 << 16];
	struct elf_image out;
	FILE *f = fopen("/proc/self/exe", "rb");

	(void)state;
	if (!f)
		skip();
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(elf_parse(buf, n, &out), -ENOEXEC);
	assert_non_null(out.why);
}

static void program_headers_must_be_in_file(void **state)
{
	struct img m;

	(void)state;
	img_init(&m);
	m.eh->e_phentsize = 32;
	expect_reject(&m, -EINVAL, "entry size");
	img_init(&m);
	m.eh->e_phnum = 0;
	expect_reject(&m, -EINVAL, "no program headers");
	img_init(&m);
	m.eh->e_phnum = PN_XNUM;
	expect_reject(&m, -EINVAL, "too many program headers");
	img_init(&m);
	m.eh->e_phoff = IMG_SIZE - 100;
	expect_reject(&m, -EINVAL, "program headers lie outside");
	img_init(&m);
	m.eh->e_phoff = UINT64_MAX - 8; /* offset + size wraps */
	expect_reject(&m, -EINVAL, "program headers lie outside");
}

static void segment_file_bytes_must_be_in_file(void **state)
{
	struct img m;

	(void)state;
	img_init(&m);
	m.ph[2].p_filesz = 0x400;
	expect_reject(&m, -EINVAL, "filesz > memsz");
	img_init(&m);
	m.ph[1].p_offset = 0x3000;
	m.ph[1].p_vaddr = 0x402000;
	expect_reject(&m, -EINVAL, "outside the file");
	img_init(&m);
	m.ph[1].p_offset = 0xfffffffffffff000ULL; /* offset + filesz wraps */
	m.ph[1].p_vaddr = 0x401000;
	expect_reject(&m, -EINVAL, "outside the file");
	img_init(&m);
	m.ph[1].p_filesz = 0x2001; /* runs one byte past the end */
	m.ph[1].p_memsz = 0x2001;
	expect_reject(&m, -EINVAL, "outside the file");
}

static void segments_must_be_congruent_and_disjoint(void **state)
{
	struct img m;

	(void)state;
	img_init(&m);
	m.ph[1].p_vaddr = 0x401008;
	m.eh->e_entry = 0x401010;
	expect_reject(&m, -EINVAL, "modulo the page size");
	img_init(&m);
	m.ph[1].p_memsz = 0x3000; /* code now runs over the data */
	expect_reject(&m, -EINVAL, "overlap");
	img_init(&m);
	m.ph[2].p_vaddr = 0x402fd0; /* data shares the code's last page ... */
	m.ph[1].p_memsz = 0x1800;
	m.ph[1].p_filesz = 0x1800;
	expect_reject(&m, -EINVAL, "share a page");
	img_init(&m);
	m.ph[1].p_vaddr = 0x400000; /* identical to segment 0 */
	m.eh->e_entry = 0x400010;
	expect_reject(&m, -EINVAL, "overlap");
}

static void segments_must_be_in_user_space(void **state)
{
	struct img m;

	(void)state;
	img_init(&m);
	m.ph[2].p_vaddr = 0xffffffff80000fd0ULL;
	expect_reject(&m, -EINVAL, "outside user space");
	img_init(&m);
	m.ph[2].p_vaddr = ELF_USER_END + 0xfd0;
	expect_reject(&m, -EINVAL, "outside user space");
	img_init(&m);
	m.ph[2].p_vaddr = 0x7ffffffeffd0ULL; /* bss runs past the end of user space */
	m.ph[2].p_memsz = 0x20000;
	expect_reject(&m, -EINVAL, "outside user space");
	img_init(&m);
	m.ph[2].p_memsz = UINT64_MAX - 0x10; /* vaddr + memsz wraps */
	expect_reject(&m, -EINVAL, "outside user space");
	img_init(&m);
	m.ph[0].p_vaddr = 0; /* page zero must stay unmapped so that NULL faults */
	expect_reject(&m, -EINVAL, "page zero");
}

/*
 * The validator and the loader agree on the top: segments end at or below the stack area that
 * every process gets (vm.h: [MM_STACK_TOP - MM_STACK_SIZE, MM_STACK_TOP)), and one that
 * reaches into it is refused here, with that reason, not later by the loader.
 */
static void segments_must_end_below_the_stack_area(void **state)
{
	const uint64_t stack_bottom = 0x7fffff7ff000ULL, last_page = 0x7ffffffff000ULL;
	struct img m;
	struct elf_image out;

	(void)state;
	assert_int_equal(ELF_LOAD_END, stack_bottom);
	img_init(&m);
	m.ph[2].p_vaddr = stack_bottom - 0x1000 + 0xfd0; /* bss ends right at the stack */
	m.ph[2].p_memsz = 0x30;
	assert_int_equal(img_parse(&m, &out), 0);
	assert_int_equal(ALIGN_UP(out.seg[2].vaddr + out.seg[2].memsz, PAGE_SIZE), stack_bottom);
	m.ph[2].p_memsz = 0x31; /* one byte into the stack area */
	expect_reject(&m, -EINVAL, "stack");
	img_init(&m);
	m.ph[2].p_vaddr = last_page + 0xfd0; /* the last user page: above the stack */
	m.ph[2].p_memsz = 0x30;
	expect_reject(&m, -EINVAL, "stack");
	img_init(&m);
	m.ph[2].p_vaddr = stack_bottom + 0x100fd0; /* inside the stack area */
	expect_reject(&m, -EINVAL, "stack");
}

static void loads_and_entry_are_required(void **state)
{
	struct img m;

	(void)state;
	img_init(&m);
	for (int i = 0; i < 3; i++)
		m.ph[i].p_type = PT_NOTE;
	expect_reject(&m, -EINVAL, "no loadable segment");
	img_init(&m);
	m.eh->e_entry = 0x400010; /* in the read-only segment */
	expect_reject(&m, -EINVAL, "entry point");
	img_init(&m);
	m.eh->e_entry = 0x401800; /* one past the code */
	expect_reject(&m, -EINVAL, "entry point");
	img_init(&m);
	m.eh->e_entry = 0;
	expect_reject(&m, -EINVAL, "entry point");
}

static void too_many_loads_are_refused(void **state)
{
	struct img m;

	(void)state;
	img_init(&m);
	m.eh->e_phnum = ELF_MAX_SEGMENTS + 1;
	for (int i = 0; i < ELF_MAX_SEGMENTS + 1; i++)
		m.ph[i] = (Elf64_Phdr){ .p_type = PT_LOAD,
					.p_flags = PF_R | PF_X,
					.p_offset = 0x1000,
					.p_vaddr = 0x401000 + 0x10000 * i,
					.p_filesz = 0x100,
					.p_memsz = 0x100 };
	expect_reject(&m, -EINVAL, "too many loadable");
	m.eh->e_phnum = ELF_MAX_SEGMENTS;
	struct elf_image out;
	assert_int_equal(img_parse(&m, &out), 0);
	assert_int_equal(out.nr_segments, ELF_MAX_SEGMENTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_executable_is_described),
		cmocka_unit_test(unaligned_image_is_read),
		cmocka_unit_test(segments_come_out_sorted_and_empty_ones_skipped),
		cmocka_unit_test(headers_outside_loads_give_no_phdr),
		cmocka_unit_test(wrong_identity_is_not_executable),
		cmocka_unit_test(dynamic_executable_is_refused),
		cmocka_unit_test(host_executable_is_refused),
		cmocka_unit_test(program_headers_must_be_in_file),
		cmocka_unit_test(segment_file_bytes_must_be_in_file),
		cmocka_unit_test(segments_must_be_congruent_and_disjoint),
		cmocka_unit_test(segments_must_be_in_user_space),
		cmocka_unit_test(segments_must_end_below_the_stack_area),
		cmocka_unit_test(loads_and_entry_are_required),
		cmocka_unit_test(too_many_loads_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
