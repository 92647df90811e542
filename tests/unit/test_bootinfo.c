// SPDX-License-Identifier: MIT
/* Multiboot2 parsing: good information is copied out, broken information is named, not trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <dyad/bootinfo.h>

/* Builds a multiboot2 information structure tag by tag. */
struct mbi_builder {
	uint8_t buf[16 * BOOT_CMDLINE_MAX] __attribute__((aligned(8)));
	uint32_t len;
};

static void mbi_begin(struct mbi_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->len = 8;
}

static void *mbi_tag(struct mbi_builder *b, uint32_t type, uint32_t size)
{
	uint8_t *t = b->buf + b->len;

	memcpy(t, &type, 4);
	memcpy(t + 4, &size, 4);
	b->len = (b->len + size + 7) & ~7u;
	return t;
}

static void mbi_cmdline(struct mbi_builder *b, const char *s)
{
	char *t = mbi_tag(b, 1, 8 + strlen(s) + 1);
	strcpy(t + 8, s);
}

static void mbi_module(struct mbi_builder *b, uint32_t start, uint32_t end, const char *name)
{
	uint8_t *t = mbi_tag(b, 3, 16 + strlen(name) + 1);
	memcpy(t + 8, &start, 4);
	memcpy(t + 12, &end, 4);
	strcpy((char *)t + 16, name);
}

struct mmap_entry {
	uint64_t addr, len;
	uint32_t type, reserved;
};

static void mbi_mmap(struct mbi_builder *b, const struct mmap_entry *e, unsigned n)
{
	uint8_t *t = mbi_tag(b, 6, 16 + n * sizeof(*e));
	uint32_t esize = sizeof(*e), version = 0;
	memcpy(t + 8, &esize, 4);
	memcpy(t + 12, &version, 4);
	memcpy(t + 16, e, n * sizeof(*e));
}

static const char *mbi_finish_and_parse(struct mbi_builder *b, struct boot_info *bi)
{
	mbi_tag(b, 0, 8);
	memcpy(b->buf, &b->len, 4);
	return bootinfo_parse(b->buf, 0x10000, bi);
}

static const struct mmap_entry qemu_map[] = {
	{ 0x0, 0x9fc00, 1, 0 },	       { 0x9fc00, 0x400, 2, 0 },
	{ 0xf0000, 0x10000, 2, 0 },    { 0x100000, 0xbfee0000, 1, 0 },
	{ 0xbffe0000, 0x20000, 2, 0 }, { 0xfffc0000, 0x40000, 2, 0 },
};

static void good_information_is_copied_out(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;

	(void)state;
	mbi_begin(&b);
	mbi_cmdline(&b, "ktest init=/bin/init");
	mbi_module(&b, 0x400000, 0x401234, "/bin/init");
	mbi_mmap(&b, qemu_map, 6);
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_string_equal(bi.cmdline, "ktest init=/bin/init");
	assert_int_equal(bi.nr_ram, 2);
	assert_int_equal(bi.ram[0].start, 0);
	assert_int_equal(bi.ram[0].end, 0x9f000); /* trimmed inward to 4 KiB */
	assert_int_equal(bi.ram[1].start, 0x100000);
	assert_int_equal(bi.ram[1].end, 0xbffe0000);
	assert_int_equal(bi.nr_modules, 1);
	assert_string_equal(bi.modules[0].name, "/bin/init");
	assert_int_equal(bi.modules[0].end - bi.modules[0].start, 0x1234);
	assert_non_null(bootinfo_module(&bi, "/bin/init"));
	assert_null(bootinfo_module(&bi, "/bin/ini"));
	assert_true(bootinfo_has_flag(&bi, "ktest"));
	assert_false(bootinfo_has_flag(&bi, "ktes"));
	assert_false(bootinfo_has_flag(&bi, "init"));
	assert_int_equal(bootinfo_ram_bytes(&bi), 0x9f000 + 0xbfee0000);
}

static void overlapping_and_unsorted_ram_is_merged(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;
	const struct mmap_entry map[] = {
		{ 0x200000, 0x100000, 1, 0 },
		{ 0x100000, 0x180000, 1, 0 },
		{ 0x1000000, 0x1000, 1, 0 },
	};

	(void)state;
	mbi_begin(&b);
	mbi_mmap(&b, map, 3);
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_int_equal(bi.nr_ram, 2);
	assert_int_equal(bi.ram[0].start, 0x100000);
	assert_int_equal(bi.ram[0].end, 0x300000);
	assert_int_equal(bi.ram[1].start, 0x1000000);
}

static void missing_memory_map_is_named(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;

	(void)state;
	mbi_begin(&b);
	mbi_cmdline(&b, "ktest");
	const char *err = mbi_finish_and_parse(&b, &bi);
	assert_non_null(err);
	assert_non_null(strstr(err, "no memory map"));
	assert_true(bootinfo_has_flag(&bi, "ktest")); /* so the panic can end a test run */
}

static void flags_after_double_dash_belong_to_the_program(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;

	(void)state;
	mbi_begin(&b);
	mbi_cmdline(&b, "quiet init=/bin/vmm -- -m 64M /boot/k.elf ktest");
	mbi_finish_and_parse(&b, &bi);
	assert_true(bootinfo_has_flag(&bi, "quiet"));
	assert_false(bootinfo_has_flag(&bi, "ktest"));
	assert_false(bootinfo_has_flag(&bi, "--"));
}

static void truncated_module_is_named(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;

	(void)state;
	mbi_begin(&b);
	mbi_module(&b, 0xbffd0000, 0xc0100000, "/boot/vmlinuz"); /* runs past the end of RAM */
	mbi_mmap(&b, qemu_map, 6);
	const char *err = mbi_finish_and_parse(&b, &bi);
	assert_non_null(err);
	assert_non_null(strstr(err, "truncated"));

	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	mbi_module(&b, 0x500000, 0x400000, "/boot/initrd"); /* end before start */
	err = mbi_finish_and_parse(&b, &bi);
	assert_non_null(err);
	assert_non_null(strstr(err, "truncated"));
}

static void tag_running_past_the_end_is_rejected(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;

	(void)state;
	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	uint8_t *t = mbi_tag(&b, 1, 16);
	uint32_t huge = 4000;
	memcpy(t + 4, &huge, 4);
	const char *err = mbi_finish_and_parse(&b, &bi);
	assert_non_null(err);
	assert_non_null(strstr(err, "runs past"));
}

static void memory_map_without_ram_is_rejected(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;
	const struct mmap_entry map[] = { { 0x0, 0x800, 1, 0 }, { 0x100000, 0x100000, 2, 0 } };

	(void)state;
	mbi_begin(&b);
	mbi_mmap(&b, map, 2);
	const char *err = mbi_finish_and_parse(&b, &bi);
	assert_non_null(err);
	assert_non_null(strstr(err, "no usable RAM"));
}

/* The unknown words bootinfo_check_options reported, space-separated. */
static char unknown_seen[256];

/* A command line of @len bytes: "init=/bin/vmm --" then words of x up to the length. */
static void long_cmdline(char *s, size_t len)
{
	memset(s, 'x', len);
	memcpy(s, "init=/bin/vmm --", 16);
	for (size_t i = 16; i < len; i += 8)
		s[i] = ' ';
	s[len] = '\0';
}

static void longest_command_line_is_copied_whole(void **state)
{
	static struct mbi_builder b;
	static char line[BOOT_CMDLINE_MAX];
	struct boot_info bi;

	(void)state;
	long_cmdline(line, BOOT_CMDLINE_MAX - 1);
	mbi_begin(&b);
	mbi_cmdline(&b, line);
	mbi_mmap(&b, qemu_map, 6);
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_int_equal(strlen(bi.cmdline), BOOT_CMDLINE_MAX - 1);
	assert_string_equal(bi.cmdline, line);
}

static void too_long_command_line_is_named_not_cut(void **state)
{
	static struct mbi_builder b;
	static char line[2 * BOOT_CMDLINE_MAX];
	struct boot_info bi;

	(void)state;
	for (size_t len = BOOT_CMDLINE_MAX; len <= BOOT_CMDLINE_MAX + 1; len++) {
		long_cmdline(line, len);
		mbi_begin(&b);
		mbi_cmdline(&b, line);
		mbi_mmap(&b, qemu_map, 6);
		const char *err = mbi_finish_and_parse(&b, &bi);
		assert_non_null(err);
		assert_non_null(strstr(err, "command line is too long"));
	}
}

static void note_unknown(const char *word, size_t len)
{
	size_t used = strlen(unknown_seen);

	assert_true(used + len + 2 < sizeof(unknown_seen));
	if (used)
		unknown_seen[used++] = ' ';
	memcpy(unknown_seen + used, word, len);
	unknown_seen[used + len] = '\0';
}

static void unknown_options_are_reported_known_ones_are_not(void **state)
{
	static const char *const known[] = { "ktest", "init=", NULL };
	struct boot_info bi;

	memset(&bi, 0, sizeof(bi));
	strcpy(bi.cmdline, " ktest  ktests init=/bin/init init colour=blue -- -v colour=red");
	unknown_seen[0] = '\0';
	assert_int_equal(bootinfo_check_options(&bi, known, note_unknown), 3);
	assert_string_equal(unknown_seen, "ktests init colour=blue");

	strcpy(bi.cmdline, "");
	unknown_seen[0] = '\0';
	assert_int_equal(bootinfo_check_options(&bi, known, note_unknown), 0);
	assert_string_equal(unknown_seen, "");
}

/* More modules than the table holds: the first BOOT_MAX_MODULES are kept, the rest counted. */
static void modules_beyond_the_table_are_counted_not_fatal(void **state)
{
	static struct mbi_builder b;
	static struct boot_info bi;
	const unsigned extra = 20;
	char name[32];

	(void)state;
	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	for (unsigned i = 0; i < BOOT_MAX_MODULES + extra; i++) {
		snprintf(name, sizeof(name), "/m/%u", i);
		mbi_module(&b, 0x400000 + i * 0x1000, 0x400000 + i * 0x1000 + 100, name);
	}
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_int_equal(bi.nr_modules, BOOT_MAX_MODULES);
	assert_int_equal(bi.nr_modules_dropped, extra);
	snprintf(name, sizeof(name), "/m/%u", BOOT_MAX_MODULES);
	assert_string_equal(bi.first_dropped, name);
	snprintf(name, sizeof(name), "/m/%u", BOOT_MAX_MODULES - 1);
	assert_non_null(bootinfo_module(&bi, name));
	assert_int_equal(bootinfo_module(&bi, name)->start,
			 0x400000 + (BOOT_MAX_MODULES - 1) * 0x1000);
	assert_null(bootinfo_module(&bi, bi.first_dropped));

	/* Exactly a full table: nothing dropped. */
	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	for (unsigned i = 0; i < BOOT_MAX_MODULES; i++)
		mbi_module(&b, 0x400000, 0x400100, "/m/x");
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_int_equal(bi.nr_modules, BOOT_MAX_MODULES);
	assert_int_equal(bi.nr_modules_dropped, 0);
}

/* A module name is the path a process opens: one that does not fit is refused, never cut. */
static void too_long_module_name_is_refused_not_cut(void **state)
{
	struct mbi_builder b;
	struct boot_info bi;
	char name[BOOT_NAME_MAX + 2];

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[0] = '/';
	name[BOOT_NAME_MAX - 1] = '\0'; /* 63 bytes: the longest that fits */
	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	mbi_module(&b, 0x400000, 0x400100, name);
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_string_equal(bi.modules[0].name, name);
	assert_int_equal(bi.bad_name[0], '\0');

	for (size_t len = BOOT_NAME_MAX; len <= BOOT_NAME_MAX + 1; len++) {
		memset(name, 'n', sizeof(name) - 1);
		name[0] = '/';
		name[len] = '\0';
		mbi_begin(&b);
		mbi_mmap(&b, qemu_map, 6);
		mbi_module(&b, 0x400000, 0x400100, name);
		const char *err = mbi_finish_and_parse(&b, &bi);
		assert_non_null(err);
		assert_non_null(strstr(err, "longer than 63 bytes"));
		assert_int_equal(strlen(bi.bad_name), BOOT_NAME_MAX - 1);
		assert_memory_equal(bi.bad_name, name, BOOT_NAME_MAX - 1);
	}
}

static void acpi_rsdp_tags_are_copied_newest_first(void **state)
{
	static struct mbi_builder b;
	static struct boot_info bi;
	uint8_t *t;

	(void)state;
	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_int_equal(bi.acpi_rsdp_len, 0); /* no tag: nothing */

	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	t = mbi_tag(&b, 15, 8 + 36);
	memset(t + 8, 'N', 36);
	t = mbi_tag(&b, 14, 8 + 20); /* the old tag after the new one does not replace it */
	memset(t + 8, 'O', 20);
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_int_equal(bi.acpi_rsdp_len, 36);
	assert_true(bi.acpi_rsdp_new);
	assert_int_equal(bi.acpi_rsdp[35], 'N');

	/* A tag longer than the copy is cut to the copy; its length is never trusted further. */
	mbi_begin(&b);
	mbi_mmap(&b, qemu_map, 6);
	t = mbi_tag(&b, 14, 8 + 20);
	memset(t + 8, 'O', 20);
	t = mbi_tag(&b, 15, 8 + 200);
	assert_null(mbi_finish_and_parse(&b, &bi));
	assert_int_equal(bi.acpi_rsdp_len, sizeof(bi.acpi_rsdp));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_information_is_copied_out),
		cmocka_unit_test(overlapping_and_unsorted_ram_is_merged),
		cmocka_unit_test(missing_memory_map_is_named),
		cmocka_unit_test(flags_after_double_dash_belong_to_the_program),
		cmocka_unit_test(truncated_module_is_named),
		cmocka_unit_test(tag_running_past_the_end_is_rejected),
		cmocka_unit_test(memory_map_without_ram_is_rejected),
		cmocka_unit_test(unknown_options_are_reported_known_ones_are_not),
		cmocka_unit_test(longest_command_line_is_copied_whole),
		cmocka_unit_test(too_long_command_line_is_named_not_cut),
		cmocka_unit_test(modules_beyond_the_table_are_counted_not_fatal),
		cmocka_unit_test(too_long_module_name_is_refused_not_cut),
		cmocka_unit_test(acpi_rsdp_tags_are_copied_newest_first),
	};
	return cmocka_run_group_tests_name("bootinfo", tests, NULL, NULL);
}
