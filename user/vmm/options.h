/* SPDX-License-Identifier: MIT */
#ifndef VMM_OPTIONS_H
#define VMM_OPTIONS_H

#include <stdint.h>

#include "boot.h"

#define OPTIONS_MAX_MODULES 32
#define OPTIONS_MAX_CPUS 32 /* DYAD_VCPUS_MAX */

struct options {
	const char *kernel; /* bzImage or ELF vmlinux (required) */
	const char *initrd; /* optional */
	uint64_t ram; /* bytes */
	unsigned ncpus; /* -c: vCPUs, 1..OPTIONS_MAX_CPUS */
	char cmdline[BOOT_CMDLINE_MAX];
	int quiet; /* no summary */
	int small_pages; /* guest RAM without DYAD_MAP_HUGE (4 KiB pages), for comparison */
	/* Multiboot modules after -i's: "FILE" or "FILE,STRING", as given to --module. */
	const char *modules[OPTIONS_MAX_MODULES];
	unsigned nmodules;
	unsigned default_len; /* bytes of cmdline that are the default line (0: words were given) */
	unsigned phys_bits; /* the guest's physical address width (CPUID 0x80000008); 0: the host's */
	int hvc; /* -C hvc: a virtio console, and console=hvc0 on the guest command line */
	int rng; /* -R: a virtio-rng */
	const char *disk; /* -d PATH: a virtio-blk on this image */
};

#define OPTIONS_DEFAULT_RAM (256ULL << 20)
/* -a options: as many as fit the kernel's argument limit (512 arguments, two each). */
#define OPTIONS_MAX_APPEND 256
/*
 * The platform is described by ACPI (acpi.c): Linux finds its local APIC, the I/O APIC that
 * legacy IRQs reach it through, the PM1a power-off and the reset register there. With a virtio
 * function (-C, -R, -d) the default line has iommu=noaperture in place of pci=off: Linux then
 * scans PCI, but not twice every slot of 256 buses for an AMD GART aperture (16k port exits).
 * tsc=nowatchdog, not tsc=reliable: Linux still checks the vCPUs' TSCs against each other as each
 * comes up (one host TSC, CPUID's invariant TSC: they agree), but does not judge the TSC by its
 * only other clock here, the jiffies, which lag when the host is slow to run a vCPU (under a
 * loaded emulator it marked the TSC unstable after a 35 ms lag over 0.5 s).
 */
#define OPTIONS_SERIAL_CONSOLE "console=ttyS0,115200" /* how the default line starts */
#define OPTIONS_DEFAULT_CMDLINE                                                                    \
	OPTIONS_SERIAL_CONSOLE                                                                     \
	" earlyprintk=serial nokaslr tsc=nowatchdog pci=off mitigations=off i8042.noaux panic=-1"

/*
 * Parses the VMM's arguments:
 *   vmm [-m SIZE] [-i INITRD] [-a APPEND] [-q] KERNEL [CMDLINE...]
 *   -m SIZE   guest RAM: a number with an optional K, M or G suffix (default 256M)
 *   -i FILE   the initrd
 *   -a TEXT   appended to the guest command line (repeatable); the words after KERNEL replace
 *             the default command line
 *   -q        no summary at the end
 *   -s        guest RAM in 4 KiB pages (no DYAD_MAP_HUGE), to compare
 *   --module FILE[,STRING]  a multiboot module, after -i's (repeatable)
 *   -p BITS   the guest's physical address width, 32 to 52 (default: the host's)
 *   -C hvc    a virtio console, and console=hvc0 in place of the default line's ttyS0
 *             (appended to a line of the user's own); earlyprintk keeps early boot on the 16550;
 *             with -R and -d, the default line has no pci=off (see above)
 *   -R        a virtio-rng fed from RDSEED or RDRAND
 *   -d PATH   a virtio-blk disk on the image PATH (whole 512-byte sectors)
 * Returns 0, or -1 with a sentence in @err (size @errlen).
 */
int options_parse(int argc, char **argv, struct options *o, char *err, unsigned errlen);

/* Parses a size with an optional K/M/G suffix; 0 on error. */
uint64_t options_size(const char *s);

#endif
