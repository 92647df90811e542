// SPDX-License-Identifier: MIT
/*
 * The exit loop: before each entry, time-driven work (the APIC timer, the console's batch)
 * and the next interrupt to inject; after each exit, dispatch by reason to the port, MSR and
 * CPUID tables. Anything the guest does that the platform does not have is reported (the
 * first few of each kind) and answered as a PC would: all ones, a dropped write, a #GP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mmio.h"
#include "vm.h"
#include "vmm.h"

#define REPORT_MAX 20 /* senseless-guest reports printed before going quiet */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void report(struct vm *vm, const char *fmt, unsigned long a, unsigned long b)
{
	if (vm->reported++ < REPORT_MAX) {
		char msg[160];
		snprintf(msg, sizeof(msg), fmt, a, b);
		vmm_log("guest at rip %#lx: %s", vm->run->regs.rip, msg);
	}
}

static void skip(struct dyad_run *run, unsigned fallback)
{
	run->regs.rip += run->insn_len ? run->insn_len : fallback;
}

static void inject_gp(struct vm *vm)
{
	struct dyad_run *run = vm->run;

	vm->gp_injected++;
	run->inject = (struct dyad_event){ .pending = 1,
					   .type = DYAD_EVENT_EXCEPTION,
					   .vector = 13,
					   .has_error_code = 1,
					   .error_code = 0 };
}

static void exit_io(struct vm *vm)
{
	struct dyad_run *run = vm->run;
	uint16_t port = run->exit.io.port;
	int size = run->exit.io.size;

	if (run->exit.io.string) {
		/* No device of this platform is driven by INS/OUTS. */
		vm->string_io++;
		report(vm, "string I/O on port %#lx (size %lu): skipped", port,
		       (unsigned long)size);
		if (run->exit.io.rep)
			run->regs.rcx = 0;
		skip(run, 1);
		return;
	}
	if (size != 1 && size != 2 && size != 4) {
		report(vm, "I/O on port %#lx with size %lu", port, (unsigned long)size);
		skip(run, 1);
		return;
	}
	vm->apic.now = vm->pit.now = rdtsc();
	if (run->exit.io.direction == DYAD_IO_IN) {
		uint32_t v = io_in(port, size);
		if (size == 4)
			run->regs.rax = v; /* a 32-bit result zero-extends */
		else if (size == 2)
			run->regs.rax = (run->regs.rax & ~0xffffUL) | v;
		else
			run->regs.rax = (run->regs.rax & ~0xffUL) | v;
	} else {
		io_out(port, size, run->exit.io.value);
	}
	skip(run, 1);
}

static void exit_mmio(struct vm *vm)
{
	struct dyad_run *run = vm->run;
	struct mmio_insn d;

	if (mmio_decode(run->exit.mmio.insn, run->exit.mmio.insn_bytes, &d)) {
		vm->mmio_unhandled++;
		report(vm, "MMIO at %#lx (access %lu) by an instruction the VMM cannot decode: #GP",
		       run->exit.mmio.gpa, run->exit.mmio.access);
		inject_gp(vm);
		return;
	}
	uint64_t gpa = run->exit.mmio.gpa;
	if (gpa - APIC_MMIO_BASE < APIC_MMIO_SIZE && d.size == 4) {
		uint32_t v;
		vm->apic.now = rdtsc();
		int err = d.is_write ? x2apic_mmio_write(&vm->apic, gpa - APIC_MMIO_BASE,
							 d.reg < 0 ? (uint32_t)d.imm
								   : (uint32_t)*mmio_reg(&run->regs,
											 d.reg))
				     : x2apic_mmio_read(&vm->apic, gpa - APIC_MMIO_BASE, &v);
		if (!err) {
			if (!d.is_write)
				*mmio_reg(&run->regs, d.reg) = v;
			vm->apic_mmio++;
			run->regs.rip += d.len;
			return;
		}
	}
	if (gpa - IOAPIC_BASE < IOAPIC_SIZE && d.size == 4) {
		uint32_t v = 0;
		int err = d.is_write ? ioapic_mmio_write(&vm->ioapic, gpa - IOAPIC_BASE,
							 d.reg < 0 ? (uint32_t)d.imm
								   : (uint32_t)*mmio_reg(&run->regs,
											 d.reg))
				     : ioapic_mmio_read(&vm->ioapic, gpa - IOAPIC_BASE, &v);
		if (!err) {
			if (!d.is_write)
				*mmio_reg(&run->regs, d.reg) = v;
			vm->ioapic_mmio++;
			run->regs.rip += d.len;
			return;
		}
	}
	vm->mmio_unhandled++;
	report(vm, "MMIO %s at %#lx: no device there",
	       (unsigned long)(d.is_write ? "write" : "read"), run->exit.mmio.gpa);
	if (!d.is_write) {
		unsigned long *r = mmio_reg(&run->regs, d.reg);
		if (d.high8)
			*r |= 0xff00;
		else if (d.zero_extend || d.size == 4)
			*r = d.size == 1 ? 0xff : d.size == 2 ? 0xffff : 0xffffffff;
		else if (d.size == 8)
			*r = ~0UL;
		else
			*r |= d.size == 1 ? 0xff : 0xffff;
	}
	run->regs.rip += d.len;
}

static void exit_msr(struct vm *vm, int write)
{
	struct dyad_run *run = vm->run;
	uint32_t index = run->exit.msr.index;
	uint64_t v = 0;

	vm->apic.now = rdtsc();
	int err = write ? msr_write(index, run->exit.msr.value) : msr_read(index, &v);
	if (err) {
		report(vm, write ? "WRMSR %#lx: #GP" : "RDMSR %#lx: #GP", index, 0);
		inject_gp(vm);
		return;
	}
	if (!write) {
		run->regs.rax = (uint32_t)v;
		run->regs.rdx = v >> 32;
	}
	skip(run, 2);
}

static void exit_cpuid(struct vm *vm)
{
	struct dyad_run *run = vm->run;
	uint32_t r[4];

	cpuid_guest(&vm->cpuid, (uint32_t)run->regs.rax, (uint32_t)run->regs.rcx, r);
	run->regs.rax = r[0];
	run->regs.rbx = r[1];
	run->regs.rcx = r[2];
	run->regs.rdx = r[3];
	skip(run, 2);
}

static void exit_console(struct vm *vm)
{
	uint8_t buf[UART_FIFO];
	unsigned room = uart_rx_room(&vm->uart);

	if (!room)
		return;
	/* Input is waiting: this read returns at once with what is there. */
	ssize_t n = read(0, buf, room);
	if (n > 0)
		uart_receive(&vm->uart, buf, (unsigned)n);
}

/* Time-driven work and the interrupt to queue, before an entry. */
static void before_entry(struct vm *vm)
{
	struct dyad_run *run = vm->run;
	uint64_t now = rdtsc();

	x2apic_tick(&vm->apic, now);
	pit_tick(&vm->pit, now);
	if (vm->console.due && now >= vm->console.due)
		console_flush(&vm->console);
	if (vm->console.banner_tsc && !vm->banner_ns)
		vm->banner_ns = now_ns();
	if (!run->inject.pending) {
		int v = x2apic_take_interrupt(&vm->apic);
		if (v >= 0) {
			run->inject = (struct dyad_event){ .pending = 1,
							   .type = DYAD_EVENT_EXTINT,
							   .vector = (uint8_t)v };
			vm->injected++;
		}
	}
	uint64_t due = x2apic_next_deadline(&vm->apic), pit_due = pit_next_deadline(&vm->pit);
	if (pit_due && (!due || pit_due < due))
		due = pit_due;
	if (vm->console.due && (!due || vm->console.due < due))
		due = vm->console.due;
	run->deadline_tsc = due;
	run->request = uart_rx_room(&vm->uart) ? DYAD_RUN_WAKE_CONSOLE : 0;
}

/* The status of a power-off: the guest's verdict, if it reported failures. */
static int poweroff_status(const struct vm *vm)
{
	if (vm->ports.verdict > 0)
		return VMM_EXIT_VERDICT + MIN(vm->ports.verdict, 100);
	return VMM_EXIT_POWEROFF;
}

int vm_run(struct vm *vm)
{
	struct dyad_run *run = vm->run;

	for (;;) {
		before_entry(vm);
		if (ioctl(vm->vcpu_fd, DYAD_VCPU_RUN, 0) < 0) {
			vmm_log("DYAD_VCPU_RUN failed: %s", strerror(errno));
			return VMM_EXIT_ERROR;
		}
		unsigned reason = run->exit_reason;
		if (reason < DYAD_EXIT_REASONS)
			vm->vmm_exits[reason]++;
		switch (reason) {
		case DYAD_EXIT_IO:
			exit_io(vm);
			if (vm->ports.reset) {
				vmm_log("guest reset through port %#x", vm->ports.reset);
				return VMM_EXIT_RESET;
			}
			if (vm->pm.poweroff) {
				vmm_log("guest entered ACPI S5: power-off");
				return poweroff_status(vm);
			}
			break;
		case DYAD_EXIT_MMIO:
			exit_mmio(vm);
			break;
		case DYAD_EXIT_CPUID:
			exit_cpuid(vm);
			break;
		case DYAD_EXIT_RDMSR:
			exit_msr(vm, 0);
			break;
		case DYAD_EXIT_WRMSR:
			exit_msr(vm, 1);
			break;
		case DYAD_EXIT_HLT:
			/* IF = 0 and no NMI source: nothing can wake the guest. Linux without ACPI
			 * powers off this way ("cli; hlt"). */
			vmm_log("guest halted with interrupts off: power-off");
			return poweroff_status(vm);
		case DYAD_EXIT_HYPERCALL:
			report(vm, "hypercall %lu: -ENOSYS", run->regs.rax, 0);
			run->regs.rax = (unsigned long)-1000; /* KVM_ENOSYS */
			skip(run, 3);
			break;
		case DYAD_EXIT_SHUTDOWN:
			vmm_log("guest triple fault at rip %#lx", run->regs.rip);
			return VMM_EXIT_TRIPLE_FAULT;
		case DYAD_EXIT_FAIL_ENTRY:
			vmm_log("the CPU refused the guest state: reason %#lx, qualification %#lx",
				run->exit.fail.hw_reason, run->exit.fail.qualification);
			return VMM_EXIT_ERROR;
		case DYAD_EXIT_DEADLINE:
		case DYAD_EXIT_NONE:
			break;
		case DYAD_EXIT_CONSOLE:
			exit_console(vm);
			break;
		case DYAD_EXIT_INTERNAL:
		default:
			vmm_log("exit the VMM cannot handle: reason %u, hardware %#lx (%#lx %#lx) "
				"at rip %#lx",
				reason, run->exit.internal.hw_reason, run->exit.internal.info[0],
				run->exit.internal.info[1], run->regs.rip);
			return VMM_EXIT_ERROR;
		}
	}
}
