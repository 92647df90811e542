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

#include "vm.h"
#include "vmm.h"

#define BANNER "=== dyad-guest:"

static struct vm the_vm;

static const char usage[] =
	"usage: vmm [-m SIZE] [-i INITRD] [-a APPEND]... [-q] [-s] KERNEL [GUEST CMDLINE...]\n"
	"  KERNEL    a bzImage (64-bit boot protocol) or an ELF vmlinux\n"
	"  -m SIZE   guest RAM, 32M to 3G (default 256M)\n"
	"  -i FILE   initrd\n"
	"  -a TEXT   appended to the guest command line (repeatable)\n"
	"  -q        no summary\n"
	"  -s        guest RAM in 4 KiB pages instead of 2 MiB / 1 GiB\n";

static void uart_tx(void *ctx, uint8_t b)
{
	struct vm *vm = ctx;

	console_put(&vm->console, b, vm->apic.now);
}

/*
 * The ISA interrupt lines reach both interrupt controllers, as on a PC: the 8259 pair (the
 * legacy path, through LINT0) and the I/O APIC, whose pins are the ISA IRQs but for IRQ 0 on
 * pin 2 (the MADT's override). Linux masks whichever it does not use.
 */
static void isa_irq(struct vm *vm, int irq, int level)
{
	pic_set_irq(&vm->pic, irq, level);
	ioapic_set_irq(&vm->ioapic, irq == 0 ? 2 : irq, level);
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
	struct vm *vm = ctx;

	if ((m->mode != IOAPIC_DM_FIXED && m->mode != IOAPIC_DM_LOWEST) ||
	    (!m->logical && m->dest != 0 && m->dest != 0xff)) {
		vm->ioapic_undeliverable++;
		return;
	}
	x2apic_accept(&vm->apic, m->vector, m->level);
}

static void apic_eoi(void *ctx, int vector)
{
	struct vm *vm = ctx;

	ioapic_eoi(&vm->ioapic, vector);
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

static int devices_init(struct vm *vm)
{
	int err = 0;

	pic_init(&vm->pic);
	x2apic_init(&vm->apic, vm->tsc_khz, &vm->pic);
	vm->apic.eoi_broadcast = apic_eoi;
	vm->apic.eoi_ctx = vm;
	ioapic_init(&vm->ioapic, IOAPIC_ID, ioapic_deliver, vm);
	pit_init(&vm->pit, vm->tsc_khz, pit_irq, vm);
	pm_init(&vm->pm);
	uart_init(&vm->uart, uart_tx, uart_irq, vm);
	rtc_init(&vm->rtc, NULL);
	ports_init(&vm->ports);
	msrs_init(&vm->msrs);
	console_init(&vm->console, 1, vm->tsc_khz, BANNER);
	err |= pic_register(&vm->pic);
	err |= x2apic_register(&vm->apic);
	err |= uart_register(&vm->uart);
	err |= rtc_register(&vm->rtc);
	err |= ports_register(&vm->ports);
	err |= pit_register(&vm->pit);
	err |= pm_register(&vm->pm);
	err |= msrs_register(&vm->msrs);
	return err;
}

static int vcpu_create(struct vm *vm)
{
	long fd = syscall(DYAD_SYS_VM_CREATE, 0);

	if (fd < 0) {
		vmm_log(errno == ENODEV ? "this machine has no VMX or SVM: no guest can run"
					: "cannot create a VM: %s",
			strerror(errno));
		return -1;
	}
	vm->vm_fd = (int)fd;
	vm->vcpu_fd = ioctl(vm->vm_fd, DYAD_VM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0) {
		vmm_log("cannot create a vCPU: %s", strerror(errno));
		return -1;
	}
	void *p = mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (p == MAP_FAILED) {
		vmm_log("cannot map the run page: %s", strerror(errno));
		return -1;
	}
	vm->run = p;
	return 0;
}

int main(int argc, char **argv, char **envp)
{
	struct vm *vm = &the_vm;
	struct dyad_sregs sregs;
	struct dyad_regs regs;
	char err[200];

	vm->start_ns = now_ns();
	vm->start_tsc = rdtsc();
	if (options_parse(argc, argv, &vm->opt, err, sizeof(err))) {
		vmm_log("%s", err);
		fputs(usage, stderr);
		return VMM_EXIT_USAGE;
	}
	vm->ram = vm->opt.ram;
	int status = vm_open(vm);
	if (status)
		return status;

	if (vcpu_create(vm))
		return VMM_EXIT_ERROR;
	/* The kernel measured the TSC; the guest's CPUID, command line and APIC timer use it. */
	vm->tsc_khz = vm->run->tsc_khz ? vm->run->tsc_khz : measure_tsc_khz();
	cpuid_policy_init(&vm->cpuid, vm->tsc_khz);
	status = vm_load(vm, &sregs, &regs);
	if (status)
		return status;
	vmm_log("%s: %s kernel at %#llx, entry %#llx; initrd %llu KiB at %#llx; %llu MiB RAM",
		vm->opt.kernel, vm->image.kind == IMAGE_ELF ? "ELF" : "bzImage",
		(unsigned long long)vm->image.lowest, (unsigned long long)vm->image.entry,
		(unsigned long long)vm->initrd_size >> 10, (unsigned long long)vm->initrd,
		(unsigned long long)vm->ram >> 20);
	if (ioctl(vm->vcpu_fd, DYAD_VCPU_SET_SREGS, &sregs) < 0) {
		vmm_log("the kernel refused the boot CPU state: %s", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	vm->run->regs = regs;
	if (devices_init(vm)) {
		vmm_log("device registration overlaps (a VMM bug)");
		return VMM_EXIT_ERROR;
	}
	status = vm_run(vm);
	console_flush(&vm->console);
	if (!vm->opt.quiet)
		vm_summary(vm);
	vmm_log("exit status %d", status);
	return status;
}
