/* SPDX-License-Identifier: MIT */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

#include <pthread.h>
#include <stdint.h>

#include <dyad/vcpu.h>

#include "bus.h"
#include "console.h"
#include "cpuid.h"
#include "fw_cfg.h"
#include "image.h"
#include "ioapic.h"
#include "msr.h"
#include "options.h"
#include "pci.h"
#include "pic.h"
#include "pit.h"
#include "pm.h"
#include "ports.h"
#include "rtc.h"
#include "uart.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_rng.h"
#include "x2apic.h"

struct vcpu_ctx;

/*
 * The machine the VMM emulates: opt.ncpus vCPUs, its RAM and its platform devices, on one bus.
 * (The kernel's VM, reached through vm_fd, is the hardware-assisted part of it.) Guest-physical
 * X is the VMM's virtual X. vcpu_fd, run and apic are vCPU 0's (the bootstrap processor's);
 * every vCPU's are in vcpus[] (vcpu_thread.h).
 *
 * Threads: one per vCPU. Everything below is guarded by `lock` (the bus lock), which a vCPU's
 * thread holds from the return of DYAD_VCPU_RUN until its next call; device files know
 * nothing of threads.
 */
struct machine {
	struct options opt;
	unsigned phys_bits; /* the guest's physical address width */
	struct guest_ram ram; /* base 0: guest-physical 0 is the VMM's address 0 */
	struct image_info image;
	uint64_t initrd, initrd_size;
	int kernel_fd, initrd_fd;
	int vm_fd, vcpu_fd;
	struct dyad_run *run;
	struct vcpu_ctx *vcpus; /* [opt.ncpus] */
	pthread_mutex_t lock;
	int ended, end_status; /* a vCPU ended the run with end_status (VMM_EXIT_*) */
	unsigned long ipis, ipi_kicks, ipi_nmis, ipi_nmi_dropped, ipi_ignored, sipis, inits;
	uint64_t tsc_khz;
	uint64_t start_tsc;
	uint64_t start_ns, banner_ns;
	/* Every vCPU's counters when the banner appeared: the boot's share of the run's exits. */
	struct dyad_vcpu_stats banner_stats;

	struct bus bus;
	struct cpuid_policy cpuid;
	struct pic pic;
	struct x2apic apic;
	struct ioapic ioapic;
	struct pit pit;
	struct pm pm;
	struct uart uart;
	struct rtc rtc;
	struct ports ports;
	struct msrs msrs;
	struct console console;
	struct fw_cfg fw_cfg;
	struct pci_bus pci;
	/* The virtio functions the options asked for: NULL when absent. */
	struct virtio_console *vcon;
	struct virtio_rng *vrng;
	struct virtio_blk *vblk;
	struct blk_backend disk;
	unsigned long msi_undeliverable; /* MSI messages no local APIC accepts */

	unsigned long vmm_exits[DYAD_EXIT_REASONS];
	unsigned long gp_injected, mmio_unhandled, string_io, injected;
	unsigned long ioapic_undeliverable; /* messages no local APIC accepts */
	unsigned long reported; /* senseless-guest reports printed so far */
};

/*
 * musl's <sys/ioctl.h> and the kernel's <asm/bootparam.h> (through <linux/ioctl.h>) define the
 * _IO macros differently; the VMM needs only the function.
 */
int ioctl(int fd, int request, ...);

/* Reads the TSC. */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Monotonic nanoseconds. */
uint64_t now_ns(void);

/* Opens and checks the kernel and initrd against the RAM size. Returns 0, or VMM_EXIT_USAGE
 * after printing why. */
int machine_open(struct machine *mach);

/* Maps guest RAM, loads the kernel and initrd, writes boot_params, the ACPI tables and the boot
 * CPU state's memory; closes the images. Returns 0, or VMM_EXIT_* after printing why. */
int machine_load(struct machine *mach, struct dyad_sregs *sregs, struct dyad_regs *regs);

/* A multiboot kernel's modules once opened: their count, the first's address and the bytes
 * from it to the last one's end. */
unsigned machine_mb_modules(uint64_t *first, uint64_t *span);

/* Runs the guest until it powers off, resets or fails; returns the VMM's exit status. */
int machine_run(struct machine *mach);

/* Prints the end-of-run summary. */
void machine_summary(struct machine *mach);
/* Adds up every vCPU's counters (vCPU 0's alone before the vCPUs exist) into @sum. */
void machine_stats_sum(const struct machine *mach, struct dyad_vcpu_stats *sum);

#endif
