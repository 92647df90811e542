// SPDX-License-Identifier: MIT
/*
 * A multiboot (v1) test kernel for Dyad's VMM. Entered by entry.asm in long mode, it checks what
 * the loader promised (entry registers, the information structure, the memory map, modules),
 * reads fw_cfg, pokes the PC's port B, prints TAP on COM1 and reports the number of failed
 * checks on the debug port 0xf4.
 *
 * Its command line says what to expect: ram_mib=N (guest RAM), mods=N (module count),
 * exit_width=1|2|4 (the debug port write's width), fail=N (N extra checks that fail on purpose,
 * so that a failing verdict can be seen to come through).
 */
#include <stdint.h>

#include "../guest_cmdline.h"
#include "../guest_io.h"

#define DEBUG_EXIT 0xf4

extern uint32_t entry_eax, entry_ebx, entry_cr0, entry_cr4, entry_efer, entry_eflags;
extern uint32_t entry_cs_limit, entry_cs_ar, entry_ds_limit, entry_ds_ar;
extern uint16_t entry_cs, entry_ds, entry_ss;
extern char __load_start[], __bss_end[];

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
	uint32_t boot_loader_name;
} __attribute__((packed));

struct mb_mmap {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

struct mb_mod {
	uint32_t start, end, string, reserved;
};

/* A large zero-initialised object: the loader must have zeroed the BSS it lies in. */
static uint8_t bss_probe[8192];

static unsigned tests, failed;

static void uart_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0x07); /* FIFO on, cleared */
}

/* One TAP line; @a and @b are shown on failure (what was seen, what was expected). */
static void check(int ok, const char *name, uint64_t seen, uint64_t want)
{
	tests++;
	if (!ok)
		failed++;
	puts(ok ? "ok " : "not ok ");
	putu(tests);
	puts(" - ");
	puts(name);
	if (!ok) {
		puts(" # seen ");
		puthex(seen);
		puts(", expected ");
		puthex(want);
	}
	puts("\n");
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static int starts(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

static uint8_t fw_cfg_byte(void)
{
	return inb(0x511);
}

static uint64_t fw_cfg_read(uint16_t key, unsigned n)
{
	uint64_t v = 0;

	outw(0x510, key);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)fw_cfg_byte() << (8 * i);
	return v;
}

static void check_entry(void)
{
	check(entry_eax == 0x2badb002, "entry: EAX holds the boot magic 0x2badb002", entry_eax,
	      0x2badb002);
	check((entry_cr0 & 0x80000001) == 1,
	      "entry: CR0.PE set, CR0.PG clear (protected mode, no paging)", entry_cr0, 1);
	check(!(entry_eflags & (1 << 9)) && !(entry_eflags & (1 << 17)),
	      "entry: EFLAGS.IF and EFLAGS.VM clear", entry_eflags, 2);
	check(!(entry_efer & (1 << 10)), "entry: EFER.LMA clear (not in long mode)", entry_efer, 0);
	check(entry_cs_limit == 0xffffffff && (entry_cs_ar & 0x00c00800) == 0x00c00800,
	      "entry: CS is a flat 4 GiB 32-bit code segment", entry_cs_ar, 0x00c00800);
	check(entry_ds_limit == 0xffffffff && (entry_ds_ar & 0x00000a00) == 0x00000200 &&
		      entry_ds == entry_ss,
	      "entry: DS and SS are one flat 4 GiB writable data segment", entry_ds_ar, 0x200);
	(void)entry_cr4;
	(void)entry_cs;
}

/* A20: an address with bit 20 set must not alias the one without. */
static void check_a20(void)
{
	volatile uint32_t *lo = (uint32_t *)0x70000, *hi = (uint32_t *)0x170000;
	uint32_t save_lo = *lo, save_hi = *hi;

	*lo = 0x11111111;
	*hi = 0x22222222;
	check(*lo == 0x11111111, "A20 is on: 0x170000 does not alias 0x70000", *lo, 0x11111111);
	*lo = save_lo;
	*hi = save_hi;
}

static void check_bss(void)
{
	unsigned nonzero = 0;

	for (unsigned i = 0; i < sizeof(bss_probe); i++)
		nonzero += bss_probe[i] != 0;
	check(!nonzero, "the BSS is zero", nonzero, 0);
}

/* The map: sorted, disjoint, entries of size 20; usable RAM above 1 MiB is mem_upper; the
 * kernel lies in usable RAM; the BIOS area is not usable. */
static void check_mmap(const struct mb_info *mi, uint64_t ram)
{
	uint64_t prev_end = 0, upper = 0, end = 0;
	int sorted = 1, sizes = 1, kernel_in = 0, bios_free = 0;
	unsigned n = 0;

	for (uint32_t off = 0; off < mi->mmap_length; n++) {
		const struct mb_mmap *e = (const struct mb_mmap *)(uintptr_t)(mi->mmap_addr + off);
		sizes &= e->size == 20;
		sorted &= e->addr >= prev_end;
		prev_end = e->addr + e->len;
		if (e->type == 1) {
			if (e->addr >= 0x100000)
				upper += e->len;
			if (e->addr <= (uintptr_t)__load_start &&
			    (uintptr_t)__bss_end <= e->addr + e->len)
				kernel_in = 1;
			if (e->addr < 0x100000 && e->addr + e->len > 0xf0000)
				bios_free = 1;
			end = e->addr + e->len;
		}
		off += e->size + 4;
		if (n > 64)
			break;
	}
	check(n >= 2 && sizes && sorted, "memory map: entries of size 20, sorted and disjoint", n,
	      4);
	check(upper == (uint64_t)mi->mem_upper << 10,
	      "memory map: usable RAM above 1 MiB equals mem_upper", upper,
	      (uint64_t)mi->mem_upper << 10);
	check(end == ram, "memory map: usable RAM ends at the RAM size", end, ram);
	check(kernel_in && !bios_free,
	      "memory map: the kernel is in usable RAM, the BIOS area is not", kernel_in, 1);
}

static void check_modules(const struct mb_info *mi, uint64_t want)
{
	const struct mb_mod *m = (const struct mb_mod *)(uintptr_t)mi->mods_addr;
	uint64_t prev_end = (uintptr_t)__bss_end;
	int placed = 1, content = 1, strings = 1;

	check(mi->mods_count == want, "modules: as many as given", mi->mods_count, want);
	for (unsigned i = 0; i < mi->mods_count && i < 16; i++) {
		char tag[8] = { 'm', 'b', 'm', 'o', 'd', (char)('0' + i), 0 };
		placed &= !(m[i].start & 0xfff) && m[i].start >= prev_end && m[i].end > m[i].start;
		prev_end = m[i].end;
		content &= starts((const char *)(uintptr_t)m[i].start, tag) &&
			   *(const char *)(uintptr_t)(m[i].end - 1) == 'Z';
		/* Module 0 (-i FILE) is named by its path, the others by the string given. */
		const char *s = (const char *)(uintptr_t)m[i].string;
		if (i == 0) {
			while (*s && !starts(s, tag))
				s++;
			strings &= streq(s, tag);
		} else {
			strings &= starts(s, tag) && streq(s + 6, ",x=1");
		}
	}
	check(placed, "modules: page-aligned, above the kernel, in order", prev_end, 0);
	check(content, "modules: each holds its file (first and last bytes)", 0, 0);
	check(strings, "modules: each carries its string", 0, 0);
}

static void check_fw_cfg(uint64_t ram)
{
	uint64_t sig = fw_cfg_read(0x00, 4);

	check(sig == 0x554d4551, "fw_cfg: signature QEMU", sig, 0x554d4551);
	check(fw_cfg_read(0x01, 4) & 1, "fw_cfg: ID has the traditional interface", 0, 1);
	check(fw_cfg_read(0x05, 2) == 1, "fw_cfg: one CPU", fw_cfg_read(0x05, 2), 1);
	check(fw_cfg_read(0x03, 8) == ram, "fw_cfg: RAM size", fw_cfg_read(0x03, 8), ram);
}

static void check_ports(void)
{
	uint8_t a = inb(0x61), b = inb(0x61);

	/* Port B: bit 4 (refresh) toggles from read to read. Bit 5 (PIT OUT2) is not checked: an
	 * 8254 channel's output is undefined until software programs it. */
	check((a ^ b) & 0x10, "port 0x61: refresh bit toggles", a, b);
	outb(0x61, (uint8_t)((b & 0x0c) | 0x01)); /* gate 2 on, speaker off */
	check((inb(0x61) & 0x03) == 0x01, "port 0x61: gate and speaker bits read back", inb(0x61),
	      0x01);
	outb(0x80, 0x42); /* a POST code: must be harmless */
	outb(COM1 + 7, 0x5a);
	check(inb(COM1 + 7) == 0x5a, "COM1: the scratch register keeps a byte", inb(COM1 + 7),
	      0x5a);
}

void mb_main(void)
{
	uart_init();
	puts("mbkernel: long mode reached\n");
	const struct mb_info *mi = (const struct mb_info *)(uintptr_t)entry_ebx;
	const uint32_t need = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9);

	check_entry();
	check_a20();
	check_bss();
	check(entry_ebx && entry_ebx < 0x100000 && (mi->flags & need) == need,
	      "info: flags give memory, command line, modules, memory map and loader name",
	      entry_ebx ? mi->flags : 0, need);
	if ((mi->flags & need) != need) {
		puts("mbkernel: no usable information structure\n");
		outb(DEBUG_EXIT, 0xff);
		return;
	}
	const char *cmd = (const char *)(uintptr_t)mi->cmdline;
	puts("mbkernel: command line '");
	puts(cmd);
	puts("', loader '");
	puts((const char *)(uintptr_t)mi->boot_loader_name);
	puts("'\n");
	/* As GRUB and QEMU give it: the kernel's path, then its arguments. */
	const char *args = cmd;
	while (*args && *args != ' ')
		args++;
	while (*args == ' ')
		args++;
	uint64_t ram = word_value(cmd, "ram_mib", 0) << 20;
	check(ram && args > cmd + 1 && cmd[0] != ' ' && starts(args, "mbtest "),
	      "info: the command line is the kernel's path, then mbtest ram_mib=N ...", ram, 1);
	check(mi->mem_lower == 639, "info: mem_lower is 639 KiB", mi->mem_lower, 639);
	check(((uint64_t)mi->mem_upper << 10) + 0x100000 == ram,
	      "info: mem_upper is RAM above 1 MiB", (uint64_t)mi->mem_upper << 10, ram - 0x100000);
	check(starts((const char *)(uintptr_t)mi->boot_loader_name, "Dyad"),
	      "info: the boot loader names itself", 0, 0);
	check_mmap(mi, ram);
	check_modules(mi, word_value(cmd, "mods", 0));
	check_fw_cfg(ram);
	check_ports();
	for (uint64_t i = 0, n = word_value(cmd, "fail", 0); i < n; i++)
		check(0, "a failure asked for on the command line (fail=N)", i, n);

	puts("mbkernel: ");
	putu(tests - failed);
	puts(" passed, ");
	putu(failed);
	puts(" failed\n");
	switch (word_value(cmd, "exit_width", 1)) {
	case 4:
		outl(DEBUG_EXIT, failed);
		break;
	case 2:
		outw(DEBUG_EXIT, (uint16_t)failed);
		break;
	default:
		outb(DEBUG_EXIT, (uint8_t)failed);
	}
	puts("mbkernel: still running after the debug port write\n");
}
