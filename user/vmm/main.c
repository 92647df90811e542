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

#include "fw_cfg.h"
#include "vm.h"
#include "vmm.h"

#define BANNER "=== dyad-guest:"

static struct vm the_vm;
static struct fw_cfg fw_cfg;
/* The guest's first instruction and its first byte on COM1 (TSC and wall time). */
static uint64_t entry_tsc, entry_ns, first_tx_tsc, first_tx_ns;

static const char usage[] =
	"usage: vmm [-m SIZE] [-i INITRD] [--module FILE[,STRING]]... [-a APPEND]... [-q] [-s]\n"
	"           KERNEL [GUEST CMDLINE...]\n"
	"  KERNEL    a bzImage (64-bit boot protocol), an ELF vmlinux or a multiboot kernel\n"
	"  -m SIZE   guest RAM, 32M to 3G (default 256M)\n"
	"  -i FILE   initrd (a multiboot kernel's module 0)\n"
	"  --module FILE[,STRING]  a further multiboot module and its string (repeatable)\n"
	"  -a TEXT   appended to the guest command line (repeatable)\n"
	"  -q        no summary\n"
	"  -s        guest RAM in 4 KiB pages instead of 2 MiB / 1 GiB\n";

static void uart_tx(void *ctx, uint8_t b)
{
	struct vm *vm = ctx;

	if (!first_tx_tsc) {
		first_tx_tsc = rdtsc();
		first_tx_ns = now_ns();
	}
	console_put(&vm->console, b, vm->apic.now);
}

static void uart_irq(void *ctx, int level)
{
	struct vm *vm = ctx;

	pic_set_irq(&vm->pic, 4, level);
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
	uart_init(&vm->uart, uart_tx, uart_irq, vm);
	rtc_init(&vm->rtc, NULL);
	ports_init(&vm->ports);
	vm->ports.now = &vm->apic.now; /* set at every port exit */
	vm->ports.tsc_khz = vm->tsc_khz;
	msrs_init(&vm->msrs);
	console_init(&vm->console, 1, vm->tsc_khz, BANNER);
	fw_cfg_init(&fw_cfg, vm->ram, 1);
	err |= pic_register(&vm->pic);
	err |= x2apic_register(&vm->apic);
	err |= uart_register(&vm->uart);
	err |= rtc_register(&vm->rtc);
	err |= ports_register(&vm->ports);
	err |= msrs_register(&vm->msrs);
	err |= fw_cfg_register(&fw_cfg);
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
	if (vm->image.kind == IMAGE_MULTIBOOT) {
		uint64_t first, span;
		unsigned n = vm_mb_modules(&first, &span);
		vmm_log("%s: multiboot kernel at %#llx-%#llx, entry %#llx (32-bit, paging off); "
			"%u modules, %llu KiB at %#llx; %llu MiB RAM",
			vm->opt.kernel, (unsigned long long)vm->image.lowest,
			(unsigned long long)vm->image.highest, (unsigned long long)vm->image.entry,
			n, (unsigned long long)span >> 10, (unsigned long long)first,
			(unsigned long long)vm->ram >> 20);
	} else {
		vmm_log("%s: %s kernel at %#llx, entry %#llx; initrd %llu KiB at %#llx; %llu MiB "
			"RAM",
			vm->opt.kernel, vm->image.kind == IMAGE_ELF ? "ELF" : "bzImage",
			(unsigned long long)vm->image.lowest, (unsigned long long)vm->image.entry,
			(unsigned long long)vm->initrd_size >> 10, (unsigned long long)vm->initrd,
			(unsigned long long)vm->ram >> 20);
	}
	if (ioctl(vm->vcpu_fd, DYAD_VCPU_SET_SREGS, &sregs) < 0) {
		vmm_log("the kernel refused the boot CPU state: %s", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	vm->run->regs = regs;
	if (devices_init(vm)) {
		vmm_log("device registration overlaps (a VMM bug)");
		return VMM_EXIT_ERROR;
	}
	entry_ns = now_ns();
	entry_tsc = rdtsc();
	status = vm_run(vm);
	console_flush(&vm->console);
	if (first_tx_tsc)
		vmm_log("guest entry to its first serial byte: %llu us wall, %llu TSC ticks",
			(unsigned long long)(first_tx_ns - entry_ns) / 1000,
			(unsigned long long)(first_tx_tsc - entry_tsc));
	if (!vm->opt.quiet)
		vm_summary(vm);
	vmm_log("exit status %d", status);
	return status;
}
