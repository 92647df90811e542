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
#include "vm.h"
#include "vmm.h"

static uint8_t head[IMAGE_HEAD_SIZE];

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

static int map_ram(struct vm *vm)
{
	struct dyad_stats st;

	if (syscall(DYAD_SYS_STATS, &st) == 0 &&
	    st.free_frames * 4096ULL < vm->ram + (16ULL << 20)) {
		vmm_log("RAM size %llu MiB is more than the %llu MiB free",
			(unsigned long long)vm->ram >> 20,
			(unsigned long long)(st.free_frames * 4096ULL) >> 20);
		return -1;
	}
	int huge = vm->opt.small_pages ? 0 : DYAD_MAP_HUGE;
	/*
	 * No PROT_EXEC: the pair makes every guest-visible page guest-executable whatever the
	 * VMM's own NX (include/arch/x86/pmap.h), so the guest's code never needs to be code for
	 * the VMM, which only reads and writes guest RAM.
	 */
	void *p = mmap(NULL, vm->ram, PROT_READ | PROT_WRITE,
		       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | DYAD_MAP_GUEST | huge, -1, 0);
	if (p == MAP_FAILED) {
		vmm_log("cannot map %llu MiB of guest RAM at 0: %s",
			(unsigned long long)vm->ram >> 20, strerror(errno));
		return -1;
	}
	vm->mem = p;
	return 0;
}

static int load_kernel(struct vm *vm, int fd)
{
	struct image_info *img = &vm->image;

	if (img->kind == IMAGE_BZIMAGE)
		return read_at(fd, img->kernel_offset, vm->mem + img->lowest, img->kernel_size);
	for (unsigned i = 0; i < img->nsegments; i++) {
		const struct image_segment *s = &img->seg[i];
		if (read_at(fd, s->offset, vm->mem + s->paddr, s->filesz))
			return -1;
		/* The rest of memsz is fresh anonymous memory: already zero. */
	}
	return 0;
}

static void build_cmdline(struct vm *vm)
{
	char *dst = (char *)vm->mem + BOOT_CMDLINE;
	size_t n = strlen(vm->opt.cmdline);

	memcpy(dst, vm->opt.cmdline, n + 1);
	/*
	 * On AMD, Linux 6.1 reads no CPUID leaf for the TSC rate and would calibrate against the
	 * PIT; tell it instead. (Intel guests get leaves 0x15/0x16.)
	 */
	if (vm->cpuid.amd && vm->tsc_khz && !strstr(dst, "tsc_early_khz=")) {
		int room = BOOT_CMDLINE_MAX - 1 - (int)n;
		int w = snprintf(dst + n, room > 0 ? (size_t)room + 1 : 0, " tsc_early_khz=%llu",
				 (unsigned long long)vm->tsc_khz);
		if (w > room)
			dst[n] = 0; /* no room: the guest calibrates itself */
	}
}

int vm_open(struct vm *vm)
{
	uint64_t ksize = 0, isize = 0;
	const char *why;

	vm->kernel_fd = vm->initrd_fd = -1;
	vm->kernel_fd = open_sized("kernel", vm->opt.kernel, &ksize);
	if (vm->kernel_fd < 0)
		return VMM_EXIT_USAGE;
	size_t hlen = (size_t)MIN(ksize, (uint64_t)sizeof(head));
	if (read_at(vm->kernel_fd, 0, head, hlen)) {
		vmm_log("cannot read kernel '%s'", vm->opt.kernel);
		return VMM_EXIT_USAGE;
	}
	if (image_parse(head, hlen, ksize, &vm->image, &why) ||
	    image_place(&vm->image, vm->ram, &why)) {
		vmm_log("kernel '%s': %s", vm->opt.kernel, why);
		return VMM_EXIT_USAGE;
	}
	if (vm->opt.initrd) {
		vm->initrd_fd = open_sized("initrd", vm->opt.initrd, &isize);
		if (vm->initrd_fd < 0)
			return VMM_EXIT_USAGE;
		if (!isize) {
			vmm_log("initrd '%s' is empty", vm->opt.initrd);
			return VMM_EXIT_USAGE;
		}
		vm->initrd = boot_initrd_addr(&vm->image, vm->ram, isize);
		if (!vm->initrd) {
			vmm_log("RAM too small: %llu MiB hold the kernel but not the %llu KiB "
				"initrd",
				(unsigned long long)vm->ram >> 20, (unsigned long long)isize >> 10);
			return VMM_EXIT_USAGE;
		}
		vm->initrd_size = isize;
	}
	return 0;
}

int vm_load(struct vm *vm, struct dyad_sregs *sregs, struct dyad_regs *regs)
{
	int err = VMM_EXIT_USAGE;

	if (map_ram(vm))
		goto out;
	if (load_kernel(vm, vm->kernel_fd)) {
		vmm_log("kernel '%s': the file ended early or could not be read", vm->opt.kernel);
		goto out;
	}
	if (vm->initrd_fd >= 0 &&
	    read_at(vm->initrd_fd, 0, vm->mem + vm->initrd, vm->initrd_size)) {
		vmm_log("initrd '%s': the file ended early or could not be read", vm->opt.initrd);
		goto out;
	}
	build_cmdline(vm);
	struct boot_params *bp = (struct boot_params *)(vm->mem + BOOT_PARAMS);
	boot_params_build(bp, &vm->image, vm->ram, vm->initrd, vm->initrd_size);
	/* The ACPI tables in the BIOS area (reserved in e820), where a scan finds the RSDP too. */
	struct acpi_config acpi = { .gpa = BOOT_BIOS,
				    .ncpus = 1,
				    .ioapic_addr = IOAPIC_BASE,
				    .ioapic_id = IOAPIC_ID };
	if (!acpi_build(vm->mem + BOOT_BIOS, 0x100000 - BOOT_BIOS, &acpi)) {
		vmm_log("the ACPI tables do not fit the BIOS area (a VMM bug)");
		err = VMM_EXIT_ERROR;
		goto out;
	}
	bp->acpi_rsdp_addr = BOOT_BIOS;
	/* The BIOS data area's EBDA segment (0x40e) and base memory size in KiB (0x413). */
	uint16_t ebda = BOOT_EBDA >> 4, base_kib = BOOT_EBDA >> 10;
	memcpy(vm->mem + 0x40e, &ebda, 2);
	memcpy(vm->mem + 0x413, &base_kib, 2);
	boot_cpu_state(vm->mem, vm->image.entry, sregs, regs);
	err = 0;
out:
	close(vm->kernel_fd);
	if (vm->initrd_fd >= 0)
		close(vm->initrd_fd);
	vm->kernel_fd = vm->initrd_fd = -1;
	return err;
}
