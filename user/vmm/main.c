// SPDX-License-Identifier: MIT
/*
 * vmm: boots a Linux kernel (bzImage or ELF vmlinux) in a Dyad VM. See options.h for the
 * arguments and vmm.h for the exit status. The whole device model is in this process.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dyad/abi.h>

#include "machine.h"
#include "vmm.h"

#define BANNER "=== dyad-guest:"

static struct machine the_machine;

static const char usage[] =
	"usage: vmm [-m SIZE] [-i INITRD] [-a APPEND]... [-p BITS] [-q] [-s] KERNEL [GUEST CMDLINE...]\n"
	"  KERNEL    a bzImage (64-bit boot protocol) or an ELF vmlinux\n"
	"  -m SIZE   guest RAM, 32M up (default 256M); above 3G it continues at 4G\n"
	"  -p BITS   the guest's physical address width, 32 to 52 (default: the host's)\n"
	"  -i FILE   initrd\n"
	"  -a TEXT   appended to the guest command line (repeatable)\n"
	"  -q        no summary\n"
	"  -s        guest RAM in 4 KiB pages instead of 2 MiB / 1 GiB\n";

static void uart_tx(void *ctx, uint8_t b)
{
	struct machine *mach = ctx;

	console_put(&mach->console, b, mach->apic.now);
}

/*
 * The ISA interrupt lines reach both interrupt controllers, as on a PC: the 8259 pair (the
 * legacy path, through LINT0) and the I/O APIC, whose pins are the ISA IRQs but for IRQ 0 on
 * pin 2 (the MADT's override). Linux masks whichever it does not use.
 */
static void isa_irq(struct machine *mach, int irq, int level)
{
	pic_set_irq(&mach->pic, irq, level);
	ioapic_set_irq(&mach->ioapic, irq == 0 ? 2 : irq, level);
}

static void uart_irq(void *ctx, int level)
{
	isa_irq(ctx, 4, level);
}

static void pit_irq(void *ctx, int level)
{
	isa_irq(ctx, 0, level);
}

/*
 * An I/O APIC message to the one local APIC (ID 0): fixed and lowest-priority interrupts whose
 * destination includes it. Physical destination 0 or the broadcast 0xff; any logical
 * destination, since the only CPU's logical ID is set by the guest. Others are counted.
 */
static void ioapic_deliver(void *ctx, const struct ioapic_msg *m)
{
	struct machine *mach = ctx;

	if ((m->mode != IOAPIC_DM_FIXED && m->mode != IOAPIC_DM_LOWEST) ||
	    (!m->logical && m->dest != 0 && m->dest != 0xff)) {
		mach->ioapic_undeliverable++;
		return;
	}
	x2apic_accept(&mach->apic, m->vector, m->level);
}

static void apic_eoi(void *ctx, int vector)
{
	struct machine *mach = ctx;

	ioapic_eoi(&mach->ioapic, vector);
}

/* The TSC rate when the kernel did not say: counted against the monotonic clock. */
static uint64_t measure_tsc_khz(void)
{
	uint64_t t0 = now_ns(), c0 = rdtsc(), t1, c1;

	do {
		t1 = now_ns();
		c1 = rdtsc();
	} while (t1 - t0 < 20000000ULL);
	return (c1 - c0) * 1000000ULL / (t1 - t0);
}

static int devices_init(struct machine *mach)
{
	int err = 0;

	pic_init(&mach->pic);
	x2apic_init(&mach->apic, mach->tsc_khz, &mach->pic);
	mach->apic.eoi_broadcast = apic_eoi;
	mach->apic.eoi_ctx = mach;
	ioapic_init(&mach->ioapic, IOAPIC_ID, ioapic_deliver, mach);
	pit_init(&mach->pit, mach->tsc_khz, pit_irq, mach);
	pm_init(&mach->pm);
	uart_init(&mach->uart, uart_tx, uart_irq, mach);
	rtc_init(&mach->rtc, NULL);
	ports_init(&mach->ports);
	msrs_init(&mach->msrs);
	console_init(&mach->console, 1, mach->tsc_khz, BANNER);
	bus_init(&mach->bus);
	err |= pic_register(&mach->pic, &mach->bus);
	err |= x2apic_register(&mach->apic, &mach->bus);
	err |= ioapic_register(&mach->ioapic, &mach->bus);
	err |= uart_register(&mach->uart, &mach->bus);
	err |= rtc_register(&mach->rtc, &mach->bus);
	err |= ports_register(&mach->ports, &mach->bus);
	err |= pit_register(&mach->pit, &mach->bus);
	err |= pm_register(&mach->pm, &mach->bus);
	err |= msrs_register(&mach->msrs, &mach->bus);
	return err;
}

static int vcpu_create(struct machine *mach)
{
	long fd = syscall(DYAD_SYS_VM_CREATE, 0);

	if (fd < 0) {
		vmm_log(errno == ENODEV ? "this machine has no VMX or SVM: no guest can run"
					: "cannot create a VM: %s",
			strerror(errno));
		return -1;
	}
	mach->vm_fd = (int)fd;
	mach->vcpu_fd = ioctl(mach->vm_fd, DYAD_VM_CREATE_VCPU, 0);
	if (mach->vcpu_fd < 0) {
		vmm_log("cannot create a vCPU: %s", strerror(errno));
		return -1;
	}
	void *p = mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mach->vcpu_fd, 0);
	if (p == MAP_FAILED) {
		vmm_log("cannot map the run page: %s", strerror(errno));
		return -1;
	}
	mach->run = p;
	return 0;
}

int main(int argc, char **argv, char **envp)
{
	struct machine *mach = &the_machine;
	struct dyad_sregs sregs;
	struct dyad_regs regs;
	char err[200];

	mach->start_ns = now_ns();
	mach->start_tsc = rdtsc();
	if (options_parse(argc, argv, &mach->opt, err, sizeof(err))) {
		vmm_log("%s", err);
		fputs(usage, stderr);
		return VMM_EXIT_USAGE;
	}
	mach->ram = (struct guest_ram){ .base = NULL,
					.size = boot_ram_low(mach->opt.ram),
					.high = mach->opt.ram - boot_ram_low(mach->opt.ram) };
	int status = machine_open(mach);
	if (status)
		return status;

	if (vcpu_create(mach))
		return VMM_EXIT_ERROR;
	/* The kernel measured the TSC; the guest's CPUID, command line and APIC timer use it. */
	mach->tsc_khz = mach->run->tsc_khz ? mach->run->tsc_khz : measure_tsc_khz();
	cpuid_policy_init(&mach->cpuid, mach->tsc_khz);
	mach->cpuid.phys_bits = mach->phys_bits;
	status = machine_load(mach, &sregs, &regs);
	if (status)
		return status;
	vmm_log("%s: %s kernel at %#llx, entry %#llx; initrd %llu KiB at %#llx; %llu MiB RAM",
		mach->opt.kernel, mach->image.kind == IMAGE_ELF ? "ELF" : "bzImage",
		(unsigned long long)mach->image.lowest, (unsigned long long)mach->image.entry,
		(unsigned long long)mach->initrd_size >> 10, (unsigned long long)mach->initrd,
		(unsigned long long)(mach->ram.size + mach->ram.high) >> 20);
	if (ioctl(mach->vcpu_fd, DYAD_VCPU_SET_SREGS, &sregs) < 0) {
		vmm_log("the kernel refused the boot CPU state: %s", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	mach->run->regs = regs;
	if (devices_init(mach)) {
		vmm_log("device registration overlaps (a VMM bug)");
		return VMM_EXIT_ERROR;
	}
	status = machine_run(mach);
	console_flush(&mach->console);
	if (!mach->opt.quiet)
		machine_summary(mach);
	vmm_log("exit status %d", status);
	return status;
}
