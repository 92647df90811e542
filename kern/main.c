// SPDX-License-Identifier: MIT
/*
 * kmain: the boot sequence, in the order each layer needs the one before it:
 * console -> traps -> CPU features -> boot information -> physical memory -> direct map ->
 * time -> (self-tests | monitor).
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/emu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/gdt.h>
#include <arch/x86/kmap.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/trap.h>
#include <arch/x86/uart.h>
#include <dyad/bootinfo.h>
#include <dyad/console.h>
#include <dyad/errname.h>
#include <dyad/errno.h>
#include <dyad/ktest.h>
#include <dyad/monitor.h>
#include <dyad/panic.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/string.h>
#include <dyad/time.h>
#include <dyad/ustack.h>
#include <dyad/vcpu.h>

static struct boot_info boot_info;

const struct boot_info *kernel_boot_info(void)
{
	return &boot_info;
}

static void print_memory(const struct boot_info *bi)
{
	u64 ram = bootinfo_ram_bytes(bi);
	u64 meta = pmem_metadata_bytes();

	for (unsigned i = 0; i < bi->nr_ram; i++)
		printf("mem: RAM [0x%011lx, 0x%011lx) %lu MiB\n", bi->ram[i].start, bi->ram[i].end,
		       (bi->ram[i].end - bi->ram[i].start) >> 20);
	for (unsigned i = 0; i < bi->nr_modules; i++)
		printf("mem: module %s [%#lx, %#lx) %lu bytes\n", bi->modules[i].name,
		       bi->modules[i].start, bi->modules[i].end,
		       bi->modules[i].end - bi->modules[i].start);
	printf("mem: %lu MiB RAM, %lu MiB free, direct map in %s pages\n", ram >> 20,
	       pmem_free_frames() >> 8, kmap_direct_page_size() == SZ_1G ? "1 GiB" : "2 MiB");
	/* Metadata scales with the highest frame, holes included: report it per GiB of RAM. */
	printf("mem: frame metadata %lu KiB = %lu bytes per GiB of RAM\n", meta >> 10,
	       ram ? (u64)(meta * SZ_1G / ram) : 0);
}

/*
 * Finds `init=PATH` on the command line and fills @argv with PATH and the words after `--`.
 * Returns PATH, or NULL when there is no init=. More than ARGV_MAX - 1 words after `--` set
 * *@too_many (the first process is then not started); each word and all of them together fit
 * the other argument limits, since the whole line is shorter than BOOT_CMDLINE_MAX.
 */
static const char *parse_init(const struct boot_info *bi, const char *argv[ARGV_MAX + 1],
			      bool *too_many)
{
	static char words[BOOT_CMDLINE_MAX];
	const char *path = NULL;
	unsigned argc = 1;
	bool after_dashes = false;

	_Static_assert(BOOT_CMDLINE_MAX <= ARGV_ARG_MAX,
		       "a word of the command line is an argument");
	_Static_assert(2 * BOOT_CMDLINE_MAX <= ARGV_STRINGS_MAX, "PATH and the words after --");
	*too_many = false;

	memcpy(words, bi->cmdline, sizeof(words));
	for (char *w = words; *w;) {
		char *end = w;
		while (*end && *end != ' ')
			end++;
		bool last = !*end;
		*end = '\0';
		if (after_dashes && *w && argc < ARGV_MAX)
			argv[argc++] = w;
		else if (after_dashes && *w)
			*too_many = true;
		else if (strcmp(w, "--") == 0)
			after_dashes = true;
		else if (strncmp(w, "init=", 5) == 0)
			path = w + 5;
		w = last ? end : end + 1;
	}
	argv[0] = path;
	argv[argc] = NULL;
	return path;
}

/* Echoes the command line whole: it may be longer than one printf() can format. */
static void print_cmdline(const char *line)
{
	size_t n = strlen(line);

	printf("boot: command line '");
	for (size_t i = 0; i < n; i += 256)
		printf("%.*s", (int)MIN(n - i, (size_t)256), line + i);
	printf("'\n");
}

/* The words the kernel reads on its command line; everything after `--` goes to init. */
static const char *const boot_options[] = { "ktest", "init=", "smp_seed=", "shoot_seed=", NULL };

static void warn_unknown_option(const char *word, size_t len)
{
	printf("boot: warning: unknown option '%.*s' ignored (known: ktest init=PATH smp_seed=N "
	       "shoot_seed=N --)\n",
	       (int)len, word);
}

/* Lists the modules the boot loader gave, the files a process can be started from. */
static void print_modules(const struct boot_info *bi)
{
	if (!bi->nr_modules) {
		printf("init: no modules were loaded: the ISO carries no programs\n");
		return;
	}
	printf("init: the modules are:");
	for (unsigned i = 0; i < bi->nr_modules; i++)
		printf(" %s", bi->modules[i].name);
	printf("\n");
}

/* Runs the first process to its end; true if it exited with status 0. */
static bool run_init(const char *path, const char *const argv[])
{
	static const char *const envp[] = { "PATH=/bin", "TERM=dumb", NULL };
	long status;

	printf("init: starting %s\n", path);
	status = proc_spawn(path, argv, envp);
	if (status < 0) {
		const char *name = errno_name(status);

		printf("init: %s could not start: %s (error %ld)\n", path,
		       name ? name : "unknown error", -status);
		if (status == -ENOENT)
			print_modules(&boot_info);
	} else {
		printf("init: %s exited with status %ld\n", path, status);
	}
	return status == 0;
}

void kmain(u32 magic, paddr_t mbi_pa);
void kmain(u32 magic, paddr_t mbi_pa)
{
	uart_init();
	printf("\nDyad: booting\n");
	gdt_init();
	trap_init();
	if (magic != MULTIBOOT2_BOOTLOADER_MAGIC)
		panic("not started by a multiboot2 loader (magic %#x)", magic);
	cpu_detect();
	fpu_init();
	cpu_init_local();

	/* The boot tables reach the first GiB through the direct map; the information is there. */
	if (mbi_pa + PAGE_SIZE > SZ_1G)
		panic("multiboot2 information at %#lx lies above 1 GiB", mbi_pa);
	const char *err = bootinfo_parse(pmem_va(mbi_pa), mbi_pa, &boot_info);
	panic_exits_emulator = bootinfo_has_flag(&boot_info, "ktest");
	if (err && boot_info.bad_name[0])
		panic("boot: %s: '%s...'", err, boot_info.bad_name);
	if (err)
		panic("boot: %s", err);
	print_cmdline(boot_info.cmdline);
	if (boot_info.nr_modules_dropped)
		printf("boot: warning: %u modules not kept, from %s on: the table holds %u\n",
		       boot_info.nr_modules_dropped, boot_info.first_dropped, BOOT_MAX_MODULES);
	bootinfo_check_options(&boot_info, boot_options, warn_unknown_option);

	pmem_init(&boot_info, SZ_1G);
	kmap_init(&boot_info);
	pmem_init_rest(&boot_info);
	cpu_print();
	print_memory(&boot_info);

	timer_init();
	time_wall_clock_init();
	console_input_init();
	pmap_kernel_half_init(kmap_kernel_pml4(), KERNEL_IMAGE_PA(kmap_kernel_pml4()));
	proc_init();
	vcpu_init();
	sched_init(); /* kmain becomes a thread; every CPU started below runs the others */
	irq_enable();
	smp_init(&boot_info);

	/* A test run (ktest), a first process (init=), or both, end the emulator with a verdict. */
	static const char *init_argv[ARGV_MAX + 1];
	bool too_many;
	const char *init = parse_init(&boot_info, init_argv, &too_many);
	bool ktest = bootinfo_has_flag(&boot_info, "ktest");
	bool pass = true;

	if (ktest)
		pass = ktest_run_all() == 0;
	if (init && too_many) {
		printf("init: %s not started: more than %u arguments after -- (E2BIG)\n", init,
		       ARGV_MAX - 1);
		pass = false;
	} else if (init) {
		pass = run_init(init, init_argv) && pass;
	}
	if (ktest || init)
		emu_exit(pass);
	monitor_run();
}
