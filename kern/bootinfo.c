// SPDX-License-Identifier: MIT
/*
 * Multiboot2 information parsing. Pure code over a byte buffer, so the host tests feed it
 * hand-made, broken information structures.
 */
#include <dyad/bootinfo.h>
#include <dyad/string.h>

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_MODULE 3
#define MB2_TAG_MMAP 6
#define MB2_TAG_ACPI_OLD 14 /* a copy of the ACPI 1.0 RSDP */
#define MB2_TAG_ACPI_NEW 15 /* a copy of the ACPI 2.0+ RSDP */
#define MB2_MMAP_AVAILABLE 1

struct mb2_tag {
	u32 type;
	u32 size;
};

struct mb2_tag_module {
	u32 type, size;
	u32 mod_start, mod_end;
	char cmdline[];
};

struct mb2_tag_mmap {
	u32 type, size;
	u32 entry_size, entry_version;
};

struct mb2_mmap_entry {
	u64 addr, len;
	u32 type, reserved;
};

static void copy_string(char *dst, size_t cap, const char *src, size_t max)
{
	size_t n = strnlen(src, max);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Adds [start, end) trimmed inward to 4 KiB, keeping the list sorted and merged. */
static void add_ram(struct boot_info *bi, u64 start, u64 end)
{
	start = ALIGN_UP(start, PAGE_SIZE);
	end = ALIGN_DOWN(end, PAGE_SIZE);
	if (start >= end || bi->nr_ram == BOOT_MAX_RANGES)
		return;
	unsigned i = bi->nr_ram;
	while (i > 0 && bi->ram[i - 1].start > start) {
		bi->ram[i] = bi->ram[i - 1];
		i--;
	}
	bi->ram[i] = (struct phys_range){ start, end };
	bi->nr_ram++;
	/* Merge neighbours that touch or overlap. */
	for (unsigned j = 0; j + 1 < bi->nr_ram;) {
		if (bi->ram[j].end >= bi->ram[j + 1].start) {
			bi->ram[j].end = MAX(bi->ram[j].end, bi->ram[j + 1].end);
			memmove(&bi->ram[j + 1], &bi->ram[j + 2],
				(bi->nr_ram - j - 2) * sizeof(bi->ram[0]));
			bi->nr_ram--;
		} else {
			j++;
		}
	}
}

static const char *parse_mmap(const struct mb2_tag_mmap *t, struct boot_info *bi)
{
	if (t->size < sizeof(*t) || t->entry_size < sizeof(struct mb2_mmap_entry))
		return "multiboot2 memory map tag is malformed";
	const u8 *p = (const u8 *)(t + 1);
	const u8 *end = (const u8 *)t + t->size;
	for (; p + t->entry_size <= end; p += t->entry_size) {
		const struct mb2_mmap_entry *e = (const void *)p;
		if (e->type == MB2_MMAP_AVAILABLE && e->addr + e->len > e->addr)
			add_ram(bi, e->addr, e->addr + e->len);
	}
	return NULL;
}

static bool inside_ram(const struct boot_info *bi, paddr_t start, paddr_t end)
{
	for (unsigned i = 0; i < bi->nr_ram; i++)
		if (start >= bi->ram[i].start && end <= bi->ram[i].end)
			return true;
	return false;
}

/* Modules are checked after the memory map, whatever order the tags came in. */
static const char *check_modules(const struct boot_info *bi)
{
	for (unsigned i = 0; i < bi->nr_modules; i++) {
		const struct boot_module *m = &bi->modules[i];
		if (m->end < m->start)
			return "a multiboot2 module is truncated (its end lies before its start)";
		if (!inside_ram(bi, ALIGN_DOWN(m->start, PAGE_SIZE), ALIGN_UP(m->end, PAGE_SIZE)))
			return "a multiboot2 module is truncated or lies outside RAM";
	}
	return NULL;
}

const char *bootinfo_parse(const void *mbi, paddr_t mbi_pa, struct boot_info *bi)
{
	const u8 *base = mbi;
	u32 total = *(const u32 *)base;
	bool have_mmap = false;
	const char *err;

	memset(bi, 0, sizeof(*bi));
	if (total < 16 || total > (64u << 20))
		return "multiboot2 information has an impossible size";
	bi->mbi_start = mbi_pa;
	bi->mbi_end = mbi_pa + total;

	for (u32 off = 8; off + sizeof(struct mb2_tag) <= total; off = ALIGN_UP(off + 0u, 8)) {
		const struct mb2_tag *tag = (const void *)(base + off);
		if (tag->type == MB2_TAG_END)
			break;
		if (tag->size < sizeof(*tag) || tag->size > total - off)
			return "multiboot2 information has a tag that runs past its end";
		switch (tag->type) {
		case MB2_TAG_CMDLINE: {
			const char *s = (const char *)(tag + 1);
			_Static_assert(BOOT_CMDLINE_MAX == 4096,
				       "the message below states the limit");
			/* Cut, a guest's or the first process's arguments would change meaning. */
			if (strnlen(s, tag->size - sizeof(*tag)) >= sizeof(bi->cmdline))
				return "kernel command line is too long (the limit is 4095 bytes)";
			copy_string(bi->cmdline, sizeof(bi->cmdline), s, tag->size - sizeof(*tag));
			break;
		}
		case MB2_TAG_MODULE: {
			const struct mb2_tag_module *m = (const void *)tag;
			if (tag->size < sizeof(*m))
				return "multiboot2 module tag is malformed";
			size_t max = tag->size - sizeof(*m);
			_Static_assert(BOOT_NAME_MAX == 64, "the message below states the limit");
			/* Cut, the name would not be the path a process asks for. */
			if (strnlen(m->cmdline, max) >= BOOT_NAME_MAX) {
				copy_string(bi->bad_name, sizeof(bi->bad_name), m->cmdline, max);
				return "a module's name is longer than 63 bytes";
			}
			if (bi->nr_modules == BOOT_MAX_MODULES) {
				if (!bi->nr_modules_dropped++)
					copy_string(bi->first_dropped, sizeof(bi->first_dropped),
						    m->cmdline, max);
				break;
			}
			struct boot_module *bm = &bi->modules[bi->nr_modules++];
			bm->start = m->mod_start;
			bm->end = m->mod_end;
			copy_string(bm->name, sizeof(bm->name), m->cmdline, max);
			break;
		}
		case MB2_TAG_ACPI_OLD:
		case MB2_TAG_ACPI_NEW:
			/* The newer RSDP wins whatever the order; its contents are checked later. */
			if (tag->type == MB2_TAG_ACPI_OLD && bi->acpi_rsdp_new)
				break;
			bi->acpi_rsdp_len = MIN(tag->size - sizeof(*tag), sizeof(bi->acpi_rsdp));
			bi->acpi_rsdp_new = tag->type == MB2_TAG_ACPI_NEW;
			memcpy(bi->acpi_rsdp, tag + 1, bi->acpi_rsdp_len);
			break;
		case MB2_TAG_MMAP:
			err = parse_mmap((const void *)tag, bi);
			if (err)
				return err;
			have_mmap = true;
			break;
		}
		off += tag->size;
	}
	if (!have_mmap)
		return "multiboot2 information has no memory map (tag 6): cannot find RAM";
	if (bi->nr_ram == 0)
		return "the memory map lists no usable RAM";
	return check_modules(bi);
}

const struct boot_module *bootinfo_module(const struct boot_info *bi, const char *name)
{
	for (unsigned i = 0; i < bi->nr_modules; i++)
		if (strcmp(bi->modules[i].name, name) == 0)
			return &bi->modules[i];
	return NULL;
}

bool bootinfo_has_flag(const struct boot_info *bi, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = bi->cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		if (p - word == 2 && strncmp(word, "--", 2) == 0)
			break; /* the rest is the first program's */
		if ((size_t)(p - word) == n && strncmp(word, flag, n) == 0)
			return true;
	}
	return false;
}

static bool option_is_known(const char *word, size_t len, const char *const known[])
{
	for (unsigned i = 0; known[i]; i++) {
		size_t n = strlen(known[i]);
		bool prefix = n > 0 && known[i][n - 1] == '=';

		if (prefix ? len >= n && strncmp(word, known[i], n) == 0
			   : len == n && strncmp(word, known[i], n) == 0)
			return true;
	}
	return false;
}

unsigned bootinfo_check_options(const struct boot_info *bi, const char *const known[],
				void (*unknown)(const char *word, size_t len))
{
	unsigned nr = 0;

	for (const char *p = bi->cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		size_t len = (size_t)(p - word);
		if (len == 2 && strncmp(word, "--", 2) == 0)
			break;
		if (len && !option_is_known(word, len, known)) {
			unknown(word, len);
			nr++;
		}
	}
	return nr;
}

u64 bootinfo_ram_bytes(const struct boot_info *bi)
{
	u64 sum = 0;

	for (unsigned i = 0; i < bi->nr_ram; i++)
		sum += bi->ram[i].end - bi->ram[i].start;
	return sum;
}
