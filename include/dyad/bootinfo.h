/* SPDX-License-Identifier: MIT */
#ifndef DYAD_BOOTINFO_H
#define DYAD_BOOTINFO_H

#include <dyad/types.h>

/*
 * What the boot loader told us, copied out of the multiboot2 information into fixed arrays so
 * that nothing later depends on the loader's memory.
 */
#define BOOT_MAX_RANGES 64
/*
 * The module table. It is filled before any allocator exists (the physical allocator needs it
 * to know what to keep), so it is a fixed array: 256 entries, 20 KiB. Modules beyond it are
 * counted and warned about at boot, not kept; nothing panics.
 */
#define BOOT_MAX_MODULES 256
/* A module's name (the path a process opens), its NUL included: a longer one is refused. */
#define BOOT_NAME_MAX 64
/*
 * The kernel command line, its NUL included. A Linux guest's command line may be 2 KiB and
 * travels after `--` as the VMM's arguments, so the whole line gets 4 KiB; a longer one is
 * refused at boot, never cut.
 */
#define BOOT_CMDLINE_MAX 4096

struct phys_range {
	paddr_t start, end; /* [start, end) */
};

struct boot_module {
	paddr_t start, end; /* [start, end) */
	char name[BOOT_NAME_MAX]; /* the module's command line, e.g. "/boot/vmlinuz" */
};

struct boot_info {
	struct phys_range ram[BOOT_MAX_RANGES]; /* usable RAM, sorted, page-aligned inward */
	unsigned nr_ram;
	struct boot_module modules[BOOT_MAX_MODULES];
	unsigned nr_modules;
	/* Module tags beyond the table (not kept), and the first such module's name. */
	unsigned nr_modules_dropped;
	char first_dropped[BOOT_NAME_MAX];
	/* A module name too long to keep, for the message that refuses the boot (cut to fit). */
	char bad_name[BOOT_NAME_MAX];
	char cmdline[BOOT_CMDLINE_MAX];
	paddr_t mbi_start, mbi_end; /* the information structure itself */
	/* The ACPI RSDP as the loader copied it (tag 15 preferred to 14), unchecked; empty: none. */
	u8 acpi_rsdp[64];
	u32 acpi_rsdp_len;
	bool acpi_rsdp_new;
};

#define MULTIBOOT2_BOOTLOADER_MAGIC 0x36d76289

/*
 * Parses the multiboot2 information at @mbi (@mbi_pa is its physical address) into @bi.
 * Returns NULL, or a sentence saying what is wrong: no memory map, a module that is truncated
 * or lies outside RAM, a malformed tag, a command line of BOOT_CMDLINE_MAX bytes or more, a
 * module name of BOOT_NAME_MAX bytes or more (its start is then in bi->bad_name). The kernel
 * panics with that sentence. Modules beyond BOOT_MAX_MODULES are not an error: they are
 * counted in bi->nr_modules_dropped and left out.
 */
const char *bootinfo_parse(const void *mbi, paddr_t mbi_pa, struct boot_info *bi);

/* The module whose name is @name, or NULL. */
const struct boot_module *bootinfo_module(const struct boot_info *bi, const char *name);

/* True if the kernel command line has the word @flag (e.g. "ktest") before any "--". */
bool bootinfo_has_flag(const struct boot_info *bi, const char *flag);

/*
 * Calls @unknown(word, len) for each word before `--` on the command line that @known does not
 * list; an entry ending in '=' (such as "init=") matches any word that starts with it. @known
 * ends with NULL. Words after `--` belong to the first process and are not checked.
 * Returns the number of unknown words.
 */
unsigned bootinfo_check_options(const struct boot_info *bi, const char *const known[],
				void (*unknown)(const char *word, size_t len));

/* The total bytes of RAM. */
u64 bootinfo_ram_bytes(const struct boot_info *bi);

/* What the kernel booted with (kern/main.c); its modules are the files processes open. */
const struct boot_info *kernel_boot_info(void);

#endif
