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

#include "ipi.h"
#include "machine.h"
#include "vcpu_thread.h"
#include "vmm.h"

#define BANNER "=== dyad-guest:"

static struct machine the_machine;
/* The guest's first instruction and its first byte on COM1 (TSC and wall time). */
static uint64_t entry_tsc, entry_ns, first_tx_tsc, first_tx_ns;

static const char usage[] =
	"usage: vmm [-c N] [-m SIZE] [-i INITRD] [--module FILE[,STRING]]... [-a APPEND]... [-p BITS] [-q]\n"
	"           [-s] [-C hvc] [-R] [-d DISK] KERNEL [GUEST CMDLINE...]\n"
	"  KERNEL    a bzImage (64-bit boot protocol), an ELF vmlinux or a multiboot kernel\n"
	"  -c N      vCPUs, 1 to 32 (default 1): one VMM thread each, APs started by INIT-SIPI\n"
	"  -m SIZE   guest RAM, 32M up (default 256M); above 3G it continues at 4G\n"
	"  -p BITS   the guest's physical address width, 32 to 52 (default: the host's)\n"
	"  -i FILE   initrd (a multiboot kernel's module 0)\n"
	"  --module FILE[,STRING]  a further multiboot module and its string (repeatable)\n"
	"  -a TEXT   appended to the guest command line (repeatable)\n"
	"  -C hvc    a virtio console, the guest's console=hvc0 (the 16550 keeps early boot)\n"
	"  -R        a virtio-rng fed from RDSEED/RDRAND\n"
	"  -d DISK   a virtio-blk disk on the image DISK (whole 512-byte sectors); a read-only\n"
	"            file is served from a private copy whose writes last until power-off\n"
	"  -q        no summary\n"
	"  -s        guest RAM in 4 KiB pages instead of 2 MiB / 1 GiB\n";

/* Guest console output: lines and the exits they cost, by device (the end-of-run figures). */
static unsigned long uart_lines, uart_exits, vcon_lines;
static bus_fn uart_fn;

static void uart_tx(void *ctx, uint8_t b)
{
	struct machine *mach = ctx;

	uart_lines += b == '\n';
	if (!first_tx_tsc) {
		first_tx_tsc = rdtsc();
		first_tx_ns = now_ns();
	}
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

static struct x2apic *apic_for(struct machine *mach, uint32_t dest, int logical);

/*
 * An I/O APIC message: fixed and lowest-priority interrupts, to the local APIC its destination
 * names (apic_for). Others, and destinations no APIC matches, are counted.
 */
static void ioapic_deliver(void *ctx, const struct ioapic_msg *m)
{
	struct machine *mach = ctx;
	struct x2apic *apic = apic_for(mach, m->dest, m->logical);

	if ((m->mode != IOAPIC_DM_FIXED && m->mode != IOAPIC_DM_LOWEST) || !apic) {
		mach->ioapic_undeliverable++;
		return;
	}
	x2apic_accept(apic, m->vector, m->level);
}

static void apic_eoi(void *ctx, int vector)
{
	struct machine *mach = ctx;

	ioapic_eoi(&mach->ioapic, vector);
}

/* Counts the exits the 16550's ports cost, on the way to its handler. */
static int uart_counted(void *dev, uint64_t addr, unsigned size, int write, uint64_t *value)
{
	uart_exits++;
	return uart_fn(dev, addr, size, write, value);
}

static void count_uart_exits(struct bus *b, void *uart)
{
	struct bus_table *t = &b->space[BUS_PIO];

	for (unsigned i = 0; i < t->count; i++)
		if (t->range[i].dev == uart) {
			uart_fn = t->range[i].fn;
			t->range[i].fn = uart_counted;
		}
}

static void vcon_out(void *ctx, const uint8_t *buf, size_t len)
{
	struct machine *mach = ctx;
	uint64_t now = rdtsc();

	for (size_t i = 0; i < len; i++) {
		vcon_lines += buf[i] == '\n';
		console_put(&mach->console, buf[i], now);
	}
}

/*
 * The local APIC an interrupt message (I/O APIC or MSI) is for, or NULL for none. One vCPU:
 * physical destination 0 or the broadcast 0xff, or any logical destination (the only CPU's
 * logical ID is the guest's to set). Several: the physical ID, or the first logical match in
 * the BSP's mode (ipi.c), as a lowest-priority message; the broadcast 0xff goes to the BSP.
 */
static struct x2apic *apic_for(struct machine *mach, uint32_t dest, int logical)
{
	unsigned n = mach->vcpus ? mach->opt.ncpus : 1;
	struct ipi_cpu cpus[IPI_MAX_CPUS];

	if (n == 1)
		return (logical ? dest != 0 : (dest == 0 || dest == 0xff)) ? &mach->apic : NULL;
	if (!logical && dest == 0xff)
		return &mach->apic;
	for (unsigned i = 0; i < n; i++)
		cpus[i] = (struct ipi_cpu){ .id = mach->vcpus[i].apic->id,
					    .ldr = mach->vcpus[i].apic->ldr };
	uint32_t low = ICR_DM_LOWEST << 8 | (logical ? 1u << 11 : 0);
	uint64_t set = ipi_targets(cpus, n, 0, low, dest, x2apic_is_x2apic(&mach->apic));
	return set ? mach->vcpus[__builtin_ctzll(set)].apic : NULL;
}

/* An MSI from a PCI function (msix.c): fixed or lowest priority, edge-triggered. */
static int msi_deliver(void *ctx, const struct msi_msg *m)
{
	struct machine *mach = ctx;
	struct x2apic *apic = apic_for(mach, m->dest, m->logical);

	if (!apic) {
		mach->msi_undeliverable++;
		return -1;
	}
	x2apic_accept(apic, m->vector, 0);
	return 0;
}

/* The virtio functions the options ask for, on the PCI bus. Returns 0, or -1 (a VMM bug). */
static int virtio_init(struct machine *mach)
{
	static struct virtio_console vcon;
	static struct virtio_rng vrng;
	static struct virtio_blk vblk;
	int err = 0;

	if (mach->opt.hvc) {
		err |= virtio_console_init(&vcon, &mach->ram, msi_deliver, mach, vcon_out, mach) |
		       pci_add(&mach->pci, &vcon.v.pci);
		mach->vcon = &vcon;
	}
	if (mach->opt.rng) {
		const char *src;
		rng_fill_fn fill = virtio_rng_source(&src);
		if (fill) {
			err |= virtio_rng_init(&vrng, &mach->ram, msi_deliver, mach, fill) |
			       pci_add(&mach->pci, &vrng.v.pci);
			mach->vrng = &vrng;
			vmm_log("virtio-rng at 00:%02x.0 from %s", vrng.v.pci.slot, src);
		} else {
			vmm_log("-R: this CPU has neither RDSEED nor RDRAND: no virtio-rng");
		}
	}
	if (mach->opt.disk) {
		err |= virtio_blk_init(&vblk, &mach->ram, msi_deliver, mach, &mach->disk,
				       "dyad-vda") |
		       pci_add(&mach->pci, &vblk.v.pci);
		mach->vblk = &vblk;
		vmm_log("virtio-blk at 00:%02x.0: %s, %llu sectors, %s", vblk.v.pci.slot,
			mach->opt.disk, (unsigned long long)mach->disk.size / BLK_SECTOR,
			mach->disk.private_copy
				? "read-only file: a private copy, writes last until power-off"
			: mach->disk.read_only ? "read-only: the guest may not write"
					       : "read-write: writes go to the disk");
	}
	if (mach->vcon)
		vmm_log("virtio-console at 00:%02x.0: the guest's console=hvc0", vcon.v.pci.slot);
	return err;
}

/* Console lines and what they cost; the virtio functions' traffic. */
static void virtio_summary(struct machine *mach)
{
	vmm_log("console: 16550 %lu lines, %lu port exits (%.1f per line); virtio-console %lu "
		"lines, %lu transmit notifications (%.2f per line)",
		uart_lines, uart_exits, uart_lines ? (double)uart_exits / uart_lines : 0.0,
		vcon_lines, mach->vcon ? mach->vcon->v.queue_notifies[VCON_TX] : 0,
		vcon_lines && mach->vcon
			? (double)mach->vcon->v.queue_notifies[VCON_TX] / vcon_lines
			: 0.0);
	vmm_log("pci: %lu configuration reads, %lu writes; %lu to no function (buses up to %u)",
		mach->pci.cfg_reads, mach->pci.cfg_writes, mach->pci.cfg_absent,
		mach->pci.absent_bus_max);
	if (mach->vcon)
		vmm_log("virtio-console: %lu buffers, %lu bytes out; %lu bytes in, %lu dropped",
			mach->vcon->tx_buffers, mach->vcon->tx_bytes, mach->vcon->rx_bytes,
			mach->vcon->rx_dropped);
	if (mach->vrng)
		vmm_log("virtio-rng: %lu bytes", mach->vrng->bytes);
	if (mach->vblk)
		vmm_log("virtio-blk: %lu reads, %lu writes, %lu flushes, %lu get-ids, %lu errors",
			mach->vblk->reads, mach->vblk->writes, mach->vblk->flushes,
			mach->vblk->get_ids, mach->vblk->errors);
	if (mach->msi_undeliverable)
		vmm_log("MSI messages no local APIC accepted: %lu", mach->msi_undeliverable);
}

static void end_guest_line(void *console)
{
	console_end_line(console);
}

/* The exit status in words (vmm.h). */
static const char *status_words(int status)
{
	switch (status) {
	case VMM_EXIT_POWEROFF:
		return "the guest powered off";
	case VMM_EXIT_RESET:
		return "the guest reset";
	case VMM_EXIT_TRIPLE_FAULT:
		return "the guest triple-faulted";
	case VMM_EXIT_ERROR:
		return "the VMM could not go on";
	case VMM_EXIT_GUEST_PANIC:
		return "the guest kernel panicked";
	default:
		return status >= VMM_EXIT_VERDICT ? "the guest reported failed checks" : "?";
	}
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
	fw_cfg_init(&mach->fw_cfg, mach->ram.size, 1);
	pci_init(&mach->pci, &mach->bus);
	err |= pic_register(&mach->pic, &mach->bus);
	err |= x2apic_register(&mach->apic, &mach->bus);
	err |= ioapic_register(&mach->ioapic, &mach->bus);
	err |= uart_register(&mach->uart, &mach->bus);
	err |= rtc_register(&mach->rtc, &mach->bus);
	err |= ports_register(&mach->ports, &mach->bus);
	err |= pit_register(&mach->pit, &mach->bus);
	err |= pm_register(&mach->pm, &mach->bus);
	err |= msrs_register(&mach->msrs, &mach->bus);
	err |= fw_cfg_register(&mach->fw_cfg, &mach->bus);
	err |= pci_register(&mach->pci);
	err |= virtio_init(mach);
	count_uart_exits(&mach->bus, &mach->uart);
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
	if (mach->opt.disk && blk_backend_open(&mach->disk, mach->opt.disk, 0, err, sizeof(err))) {
		vmm_log("%s", err);
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
	if (mach->image.kind == IMAGE_MULTIBOOT) {
		uint64_t first, span;
		unsigned n = machine_mb_modules(&first, &span);
		vmm_log("%s: multiboot kernel at %#llx-%#llx, entry %#llx (32-bit, paging off); "
			"%u modules, %llu KiB at %#llx; %llu MiB RAM",
			mach->opt.kernel, (unsigned long long)mach->image.lowest,
			(unsigned long long)mach->image.highest,
			(unsigned long long)mach->image.entry, n, (unsigned long long)span >> 10,
			(unsigned long long)first, (unsigned long long)(mach->ram.size + mach->ram.high) >> 20);
	} else {
		vmm_log("%s: %s kernel at %#llx, entry %#llx; initrd %llu KiB at %#llx; %llu MiB "
			"RAM",
			mach->opt.kernel, mach->image.kind == IMAGE_ELF ? "ELF" : "bzImage",
			(unsigned long long)mach->image.lowest,
			(unsigned long long)mach->image.entry,
			(unsigned long long)mach->initrd_size >> 10,
			(unsigned long long)mach->initrd, (unsigned long long)(mach->ram.size + mach->ram.high) >> 20);
	}
	if (ioctl(mach->vcpu_fd, DYAD_VCPU_SET_SREGS, &sregs) < 0) {
		vmm_log("the kernel refused the boot CPU state: %s", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	mach->run->regs = regs;
	if (devices_init(mach)) {
		vmm_log("device registration overlaps (a VMM bug)");
		return VMM_EXIT_ERROR;
	}
	if (vcpus_create(mach))
		return VMM_EXIT_ERROR;
	entry_ns = now_ns();
	entry_tsc = rdtsc();
	vmm_log_before(end_guest_line, &mach->console);
	status = machine_run(mach);
	console_end_line(&mach->console);
	if (first_tx_tsc)
		vmm_log("guest entry to its first serial byte: %llu us wall, %llu TSC ticks",
			(unsigned long long)(first_tx_ns - entry_ns) / 1000,
			(unsigned long long)(first_tx_tsc - entry_tsc));
	if (!mach->opt.quiet) {
		machine_summary(mach);
		virtio_summary(mach);
	}
	vmm_log("exit status %d (%s)", status, status_words(status));
	return status;
}
