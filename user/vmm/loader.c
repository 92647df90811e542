// SPDX-License-Identifier: MIT
/*
 * Guest RAM and the images in it. RAM is one anonymous mapping at address 0 with
 * DYAD_MAP_GUEST | DYAD_MAP_HUGE, so the kernel backs it with 1 GiB / 2 MiB blocks mirrored
 * into the second-stage table, and not executable for the VMM. The kernel and initrd are
 * read() straight into it: no copy through a window.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dyad/abi.h>

#include "acpi.h"
#include "boot.h"
#include "ioapic.h"
#include "machine.h"
#include "multiboot.h"
#include "vmm.h"

static uint8_t head[IMAGE_HEAD_SIZE];

/* A multiboot kernel's modules (-i first, then each --module) and their open files. */
static struct mb_module mb_mods[MB_MAX_MODULES];
static char mb_paths[MB_MAX_MODULES][256];
static int mb_fds[MB_MAX_MODULES];
static unsigned mb_nmods;

/* Reads @len bytes at @off of @fd to @dst. 0, or -1 when the file ends early or fails. */
static int read_at(int fd, uint64_t off, uint8_t *dst, uint64_t len)
{
	if (lseek(fd, (off_t)off, SEEK_SET) != (off_t)off)
		return -1;
	while (len) {
		ssize_t n = read(fd, dst, len);
		if (n <= 0)
			return -1;
		dst += n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int open_sized(const char *what, const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		vmm_log("cannot open %s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		vmm_log("cannot stat %s '%s': %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/*
 * Maps one part of guest RAM, [@gpa, @gpa + @len), at the same VMM address. No PROT_EXEC: the
 * pair makes every guest-visible page guest-executable whatever the VMM's own NX
 * (include/arch/x86/pmap.h), so the guest's code never needs to be code for the VMM, which only
 * reads and writes guest RAM. With DYAD_MAP_HUGE the kernel backs every 1 GiB-aligned GiB of it
 * with a 1 GiB page where it can.
 */
static int map_part(struct machine *mach, uint64_t gpa, uint64_t len)
{
	int huge = mach->opt.small_pages ? 0 : DYAD_MAP_HUGE;
	void *p = mmap((void *)gpa, len, PROT_READ | PROT_WRITE,
		       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | DYAD_MAP_GUEST | huge, -1, 0);

	if (p == MAP_FAILED) {
		vmm_log("cannot map %llu MiB of guest RAM at %#llx: %s",
			(unsigned long long)len >> 20, (unsigned long long)gpa, strerror(errno));
		return -1;
	}
	if (gpa == 0)
		mach->ram.base = p;
	return 0;
}

static int map_ram(struct machine *mach)
{
	uint64_t total = mach->ram.size + mach->ram.high;
	struct dyad_stats st;

	if (syscall(DYAD_SYS_STATS, &st) == 0 &&
	    st.free_frames * 4096ULL < total + (16ULL << 20)) {
		vmm_log("RAM size %llu MiB is more than the %llu MiB free",
			(unsigned long long)total >> 20,
			(unsigned long long)(st.free_frames * 4096ULL) >> 20);
		return -1;
	}
	if (map_part(mach, 0, mach->ram.size) ||
	    (mach->ram.high && map_part(mach, GUEST_RAM_HIGH, mach->ram.high)))
		return -1;
	return 0;
}

/*
 * The guest's physical address width: -p, else the host's (CPUID 0x80000008), which the
 * second-stage tables can map. RAM or MMIO beyond it is refused: the guest could not address it.
 */
static int check_phys_bits(struct machine *mach)
{
	uint32_t r[4];
	uint64_t end = mach->ram.high ? GUEST_RAM_HIGH + mach->ram.high : mach->ram.size;

	cpuid_host(0x80000000, 0, r);
	unsigned host = 36; /* the architectural minimum when the leaf is missing */
	if (r[0] >= 0x80000008) {
		cpuid_host(0x80000008, 0, r);
		host = r[0] & 0xff;
	}
	unsigned bits = mach->opt.phys_bits ? mach->opt.phys_bits : host;
	if (bits > host) {
		vmm_log("a %u-bit guest physical address space is wider than the host's %u bits",
			bits, host);
		return -1;
	}
	/* The highest MMIO is the local APIC's page, below 4 GiB: 32 bits always hold it. */
	if (end > 1ULL << bits) {
		vmm_log("%llu MiB of RAM end at %#llx, beyond the guest's %u-bit physical address "
			"space (-p)",
			(unsigned long long)(mach->ram.size + mach->ram.high) >> 20,
			(unsigned long long)end, bits);
		return -1;
	}
	mach->phys_bits = bits;
	return 0;
}

/* Reads @len bytes at @off of @fd to guest-physical @gpa: 0, or -1 if the file ends early,
 * fails, or the destination is not all RAM. */
static int read_to_guest(struct machine *mach, int fd, uint64_t off, uint64_t gpa, uint64_t len)
{
	void *dst;

	if (!len)
		return 0;
	return gpa_ptr(&mach->ram, gpa, len, &dst) ? -1 : read_at(fd, off, dst, len);
}

static int load_kernel(struct machine *mach, int fd)
{
	struct image_info *img = &mach->image;

	if (img->kind == IMAGE_BZIMAGE)
		return read_to_guest(mach, fd, img->kernel_offset, img->lowest, img->kernel_size);
	for (unsigned i = 0; i < img->nsegments; i++) {
		const struct image_segment *s = &img->seg[i];
		void *seg;
		/* The rest of memsz is fresh anonymous memory: already zero, but it must be RAM. */
		if (s->memsz && gpa_ptr(&mach->ram, s->paddr, s->memsz, &seg))
			return -1;
		if (read_to_guest(mach, fd, s->offset, s->paddr, s->filesz))
			return -1;
		/* The specification asks a multiboot loader to zero the BSS: said, not assumed
		 * (a multiboot segment is never empty nor at 0: mb_parse, mb_place). */
		if (img->kind == IMAGE_MULTIBOOT && s->memsz > s->filesz &&
		    !gpa_ptr(&mach->ram, s->paddr + s->filesz, s->memsz - s->filesz, &seg))
			memset(seg, 0, s->memsz - s->filesz);
	}
	return 0;
}

static int build_cmdline(struct machine *mach)
{
	size_t n = strlen(mach->opt.cmdline);
	void *p;

	if (n >= BOOT_CMDLINE_MAX || gpa_ptr(&mach->ram, BOOT_CMDLINE, BOOT_CMDLINE_MAX, &p))
		return -1;
	char *dst = p;
	memcpy(dst, mach->opt.cmdline, n + 1);
	/*
	 * On AMD, Linux 6.1 reads no CPUID leaf for the TSC rate and would calibrate against the
	 * PIT; tell it instead. (Intel guests get leaves 0x15/0x16.)
	 */
	if (mach->cpuid.amd && mach->tsc_khz && !strstr(dst, "tsc_early_khz=")) {
		int room = BOOT_CMDLINE_MAX - 1 - (int)n;
		int w = snprintf(dst + n, room > 0 ? (size_t)room + 1 : 0, " tsc_early_khz=%llu",
				 (unsigned long long)mach->tsc_khz);
		if (w > room)
			dst[n] = 0; /* no room: the guest calibrates itself */
	}
	return 0;
}

/* The BIOS data area's EBDA segment (0x40e) and base memory size in KiB (0x413), and the MP
 * table in the EBDA. */
/*
 * The BIOS data area's EBDA segment (0x40e) and base memory size in KiB (0x413), and the ACPI
 * tables in the BIOS area at BOOT_BIOS (reserved in e820), where an RSDP scan finds them too;
 * boot_params.acpi_rsdp_addr points there as well.
 */
static int build_bios_tables(struct machine *mach)
{
	uint16_t ebda = BOOT_EBDA >> 4, base_kib = BOOT_EBDA >> 10;
	struct acpi_config acpi = { .gpa = BOOT_BIOS,
				    .ncpus = mach->opt.ncpus,
				    .ioapic_addr = IOAPIC_BASE,
				    .ioapic_id = IOAPIC_ID };
	void *seg, *kib, *tables;

	if (gpa_ptr(&mach->ram, 0x40e, 2, &seg) || gpa_ptr(&mach->ram, 0x413, 2, &kib) ||
	    gpa_ptr(&mach->ram, BOOT_BIOS, ACPI_TABLES_MAX, &tables))
		return -1;
	memcpy(seg, &ebda, 2);
	memcpy(kib, &base_kib, 2);
	return acpi_build(tables, ACPI_TABLES_MAX, &acpi) ? 0 : -1;
}

/* Adds module @i from "FILE" or "FILE,STRING" (@string NULL: @arg is the file). */
static int mb_module_open(unsigned i, const char *arg, const char *string)
{
	const char *comma = string ? NULL : strchr(arg, ',');
	size_t n = comma ? (size_t)(comma - arg) : strlen(arg);

	if (n >= sizeof(mb_paths[i])) {
		vmm_log("module path '%s' too long", arg);
		return -1;
	}
	memcpy(mb_paths[i], arg, n);
	mb_paths[i][n] = 0;
	mb_mods[i] = (struct mb_module){ mb_paths[i], comma ? comma + 1 : string, 0, 0 };
	mb_fds[i] = open_sized("module", mb_paths[i], &mb_mods[i].size);
	return mb_fds[i] < 0 ? -1 : 0;
}

/* A multiboot kernel: the image placed, the modules opened and placed. */
static int mb_open(struct machine *mach)
{
	const char *why;

	if (mb_place(&mach->image, mach->ram.size, &why))
		goto bad;
	if (mach->opt.initrd && mb_module_open(mb_nmods++, mach->opt.initrd, mach->opt.initrd))
		return VMM_EXIT_USAGE;
	for (unsigned i = 0; i < mach->opt.nmodules; i++)
		if (mb_module_open(mb_nmods++, mach->opt.modules[i], NULL))
			return VMM_EXIT_USAGE;
	if (mb_place_modules(&mach->image, mach->ram.size, mb_mods, mb_nmods, &why))
		goto bad;
	return 0;
bad:
	vmm_log("kernel '%s': %s", mach->opt.kernel, why);
	return VMM_EXIT_USAGE;
}

/*
 * Loads the modules, writes the information structure and the entry state. The command line
 * is the kernel's path then the words after it or the -a words (not Linux's default line), as
 * GRUB and QEMU give it.
 */
static int mb_load(struct machine *mach, struct dyad_sregs *sregs, struct dyad_regs *regs)
{
	static char cmdline[BOOT_CMDLINE_MAX];
	const char *words = mach->opt.cmdline + mach->opt.default_len;
	const char *why;

	while (*words == ' ')
		words++;
	int n = snprintf(cmdline, sizeof(cmdline), "%s%s%s", mach->opt.kernel, *words ? " " : "",
			 words);
	if (n < 0 || (size_t)n >= sizeof(cmdline)) {
		vmm_log("multiboot command line longer than %d bytes", BOOT_CMDLINE_MAX - 1);
		return -1;
	}
	for (unsigned i = 0; i < mb_nmods; i++) {
		if (read_to_guest(mach, mb_fds[i], 0, mb_mods[i].addr, mb_mods[i].size)) {
			vmm_log("module '%s': the file ended early or could not be read",
				mb_mods[i].path);
			return -1;
		}
	}
	if (mb_info_build(&mach->ram, cmdline, mb_mods, mb_nmods, &why)) {
		vmm_log("%s", why);
		return -1;
	}
	if (build_bios_tables(mach) ||
	    mb_cpu_state(&mach->ram, (uint32_t)mach->image.entry, sregs, regs)) {
		vmm_log("%llu MiB of RAM cannot hold the boot structures below 1 MiB",
			(unsigned long long)mach->ram.size >> 20);
		return -1;
	}
	return 0;
}

unsigned machine_mb_modules(uint64_t *first, uint64_t *span)
{
	*first = mb_nmods ? mb_mods[0].addr : 0;
	*span = mb_nmods ? mb_mods[mb_nmods - 1].addr + mb_mods[mb_nmods - 1].size - *first : 0;
	return mb_nmods;
}

int machine_open(struct machine *mach)
{
	uint64_t ksize = 0, isize = 0;
	const char *why;

	mach->kernel_fd = mach->initrd_fd = -1;
	mach->kernel_fd = open_sized("kernel", mach->opt.kernel, &ksize);
	if (mach->kernel_fd < 0)
		return VMM_EXIT_USAGE;
	size_t hlen = (size_t)MIN(ksize, (uint64_t)sizeof(head));
	if (read_at(mach->kernel_fd, 0, head, hlen)) {
		vmm_log("cannot read kernel '%s'", mach->opt.kernel);
		return VMM_EXIT_USAGE;
	}
	if (check_phys_bits(mach))
		return VMM_EXIT_USAGE;
	int mb = mb_parse(head, hlen, ksize, &mach->image, &why);
	if (mb == 0)
		return mb_open(mach);
	if (mb < 0 || image_parse(head, hlen, ksize, &mach->image, &why) ||
	    image_place(&mach->image, mach->ram.size, &why)) {
		vmm_log("kernel '%s': %s", mach->opt.kernel, why);
		return VMM_EXIT_USAGE;
	}
	if (mach->opt.nmodules) {
		vmm_log("--module is for multiboot kernels; '%s' is Linux", mach->opt.kernel);
		return VMM_EXIT_USAGE;
	}
	if (mach->opt.initrd) {
		mach->initrd_fd = open_sized("initrd", mach->opt.initrd, &isize);
		if (mach->initrd_fd < 0)
			return VMM_EXIT_USAGE;
		if (!isize) {
			vmm_log("initrd '%s' is empty", mach->opt.initrd);
			return VMM_EXIT_USAGE;
		}
		mach->initrd = boot_initrd_addr(&mach->image, mach->ram.size, isize);
		if (!mach->initrd) {
			vmm_log("RAM too small: %llu MiB hold the kernel but not the %llu KiB "
				"initrd",
				(unsigned long long)mach->ram.size >> 20,
				(unsigned long long)isize >> 10);
			return VMM_EXIT_USAGE;
		}
		mach->initrd_size = isize;
	}
	return 0;
}

int machine_load(struct machine *mach, struct dyad_sregs *sregs, struct dyad_regs *regs)
{
	int err = VMM_EXIT_USAGE;

	if (map_ram(mach))
		goto out;
	if (load_kernel(mach, mach->kernel_fd)) {
		vmm_log("kernel '%s': the file ended early or could not be read", mach->opt.kernel);
		goto out;
	}
	if (mach->image.kind == IMAGE_MULTIBOOT) {
		if (!mb_load(mach, sregs, regs))
			err = 0;
		goto out;
	}
	if (mach->initrd_fd >= 0 &&
	    read_to_guest(mach, mach->initrd_fd, 0, mach->initrd, mach->initrd_size)) {
		vmm_log("initrd '%s': the file ended early or could not be read", mach->opt.initrd);
		goto out;
	}
	void *bp;
	if (build_cmdline(mach) || build_bios_tables(mach) ||
	    gpa_ptr(&mach->ram, BOOT_PARAMS, sizeof(struct boot_params), &bp) ||
	    boot_cpu_state(&mach->ram, mach->image.entry, sregs, regs)) {
		vmm_log("%llu MiB of RAM cannot hold the boot structures below 1 MiB",
			(unsigned long long)mach->ram.size >> 20);
		goto out;
	}
	boot_params_build(bp, &mach->image, mach->ram.size + mach->ram.high, mach->initrd,
			  mach->initrd_size);
	((struct boot_params *)bp)->acpi_rsdp_addr = BOOT_BIOS;
	err = 0;
out:
	close(mach->kernel_fd);
	if (mach->initrd_fd >= 0)
		close(mach->initrd_fd);
	for (unsigned i = 0; i < mb_nmods; i++)
		close(mb_fds[i]);
	mach->kernel_fd = mach->initrd_fd = -1;
	return err;
}
