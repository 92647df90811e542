// SPDX-License-Identifier: MIT
/*
 * The exit loop: before each entry, time-driven work (the APIC timer, the console's batch)
 * and the next interrupt to inject; after each exit, dispatch by reason to the port, MSR and
 * CPUID tables. Anything the guest does that the platform does not have is reported (the
 * first few of each kind) and answered as a PC would: all ones, a dropped write, a #GP. A Linux
 * panic on the guest's console ends the run once the guest has printed its dump.
 *
 * Each vCPU's thread runs this loop for its vCPU (vcpu_self), holding the bus lock except
 * inside DYAD_VCPU_RUN. vCPU 0 also drives the shared time-driven devices (the PIT, the
 * console's batch, the panic grace) and takes console input; every vCPU drives its own APIC.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "halt.h"
#include "machine.h"
#include "mmio.h"
#include "vcpu_thread.h"
#include "vmm.h"

#define REPORT_MAX 20 /* senseless-guest reports printed before going quiet */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void report(struct machine *mach, const char *fmt, unsigned long a, unsigned long b)
{
	if (mach->reported++ < REPORT_MAX) {
		char msg[160];
		snprintf(msg, sizeof(msg), fmt, a, b);
		vmm_log("guest at rip %#lx: %s", vcpu_self->run->regs.rip, msg);
	}
}

static void skip(struct dyad_run *run, unsigned fallback)
{
	run->regs.rip += run->insn_len ? run->insn_len : fallback;
}

/*
 * The exiting instruction faults. An external interrupt waiting in run->inject (taken from the
 * APIC or PIC before this exit, not yet deliverable: RFLAGS.IF = 0 or a shadow) is not dropped:
 * it is held and goes back into run->inject once the #GP is delivered. Dropped, its vector would
 * stay in service forever and block every vector of its priority class and below.
 */
static void inject_gp(struct machine *mach)
{
	struct dyad_run *run = vcpu_self->run;

	if (run->inject.pending && run->inject.type == DYAD_EVENT_EXTINT)
		vcpu_self->held_vector = run->inject.vector;
	mach->gp_injected++;
	run->inject = (struct dyad_event){ .pending = 1,
					   .type = DYAD_EVENT_EXCEPTION,
					   .vector = 13,
					   .has_error_code = 1,
					   .error_code = 0 };
}

static void exit_io(struct machine *mach)
{
	struct dyad_run *run = vcpu_self->run;
	uint16_t port = run->exit.io.port;
	int size = run->exit.io.size;

	if (run->exit.io.string) {
		/* No device of this platform is driven by INS/OUTS. */
		mach->string_io++;
		report(mach, "string I/O on port %#lx (size %lu): skipped", port,
		       (unsigned long)size);
		if (run->exit.io.rep)
			run->regs.rcx = 0;
		skip(run, 1);
		return;
	}
	if (size != 1 && size != 2 && size != 4) {
		report(mach, "I/O on port %#lx with size %lu", port, (unsigned long)size);
		skip(run, 1);
		return;
	}
	mach->apic.now = mach->pit.now = vcpu_self->apic->now = rdtsc();
	if (run->exit.io.direction == DYAD_IO_IN) {
		uint32_t v = bus_in(&mach->bus, port, size);
		if (size == 4)
			run->regs.rax = v; /* a 32-bit result zero-extends */
		else if (size == 2)
			run->regs.rax = (run->regs.rax & ~0xffffUL) | v;
		else
			run->regs.rax = (run->regs.rax & ~0xffUL) | v;
	} else {
		bus_out(&mach->bus, port, size, run->exit.io.value);
	}
	skip(run, 1);
}

/* An MMIO exit: the access done and the instruction skipped, or #GP. -1 to go on, or the
 * VMM's exit status when the guest is stuck (mmio.h: mmio_stuck_note). */
static int exit_mmio(struct machine *mach)
{
	struct dyad_run *run = vcpu_self->run;
	uint64_t gpa = run->exit.mmio.gpa;
	struct mmio_insn d;

	if (mmio_decode(run->exit.mmio.insn, run->exit.mmio.insn_bytes, &d)) {
		mach->mmio_unhandled++;
		if (mmio_stuck_note(&vcpu_self->stuck, run->regs.rip, gpa, 1)) {
			vmm_log("guest stuck at rip %#lx: %u times in a row an access at %#lx "
				"(not RAM) that no instruction explains (page tables, IDT or "
				"stack outside RAM?): ended as a triple fault",
				run->regs.rip, MMIO_STUCK_LIMIT, gpa);
			return VMM_EXIT_TRIPLE_FAULT;
		}
		report(mach,
		       "MMIO at %#lx (access %lu) by an instruction the VMM cannot decode: #GP",
		       gpa, run->exit.mmio.access);
		inject_gp(mach);
		return -1;
	}
	mmio_stuck_note(&vcpu_self->stuck, run->regs.rip, gpa, 0);
	uint64_t v = d.is_write ? mmio_store_value(&run->regs, &d) : 0;
	vcpu_self->apic->now = rdtsc();
	if (bus_access(&mach->bus, BUS_MMIO, gpa, d.size, d.is_write, &v)) {
		/* v is all ones for a read: a PC's floating bus. */
		mach->mmio_unhandled++;
		report(mach, "MMIO %s at %#lx: no device there",
		       (unsigned long)(d.is_write ? "write" : "read"), gpa);
	}
	if (!d.is_write)
		mmio_load(&run->regs, &d, v);
	run->regs.rip += d.len;
	return -1;
}

static void exit_msr(struct machine *mach, int write)
{
	struct dyad_run *run = vcpu_self->run;
	uint32_t index = run->exit.msr.index;
	uint64_t v = 0;

	vcpu_self->apic->now = rdtsc();
	int err = write ? bus_wrmsr(&mach->bus, index, run->exit.msr.value)
			: bus_rdmsr(&mach->bus, index, &v);
	if (err) {
		report(mach, write ? "WRMSR %#lx: #GP" : "RDMSR %#lx: #GP", index, 0);
		inject_gp(mach);
		return;
	}
	if (!write) {
		run->regs.rax = (uint32_t)v;
		run->regs.rdx = v >> 32;
	}
	skip(run, 2);
}

static void exit_cpuid(struct machine *mach)
{
	struct dyad_run *run = vcpu_self->run;
	uint32_t r[4];

	cpuid_guest(&mach->cpuid, (uint32_t)run->regs.rax, (uint32_t)run->regs.rcx, r);
	if (run->regs.rax == 1) /* the initial APIC ID is this vCPU's */
		r[1] = (r[1] & 0x00ffffffu) | vcpu_self->id << 24;
	run->regs.rax = r[0];
	run->regs.rbx = r[1];
	run->regs.rcx = r[2];
	run->regs.rdx = r[3];
	skip(run, 2);
}

/* Where console input goes: the virtio console once its driver posted buffers, else COM1. */
static unsigned console_room(struct machine *mach, int *hvc)
{
	unsigned room = mach->vcon ? virtio_console_rx_room(mach->vcon) : 0;

	*hvc = room > 0;
	return room ? room : uart_rx_room(&mach->uart);
}

static void exit_console(struct machine *mach)
{
	uint8_t buf[UART_FIFO > 64 ? UART_FIFO : 64];
	int hvc;
	unsigned room = console_room(mach, &hvc);

	if (!room)
		return;
	if (room > sizeof(buf))
		room = sizeof(buf);
	if (hvc) {
		ssize_t n = read(0, buf, room);
		if (n > 0)
			virtio_console_receive(mach->vcon, buf, (unsigned)n);
		return;
	}
	/* Input is waiting: this read returns at once with what is there. */
	ssize_t n = read(0, buf, room);
	if (n > 0)
		uart_receive(&mach->uart, buf, (unsigned)n);
}

#define PANIC_GRACE_MS 2000

static uint64_t panic_grace(const struct machine *mach)
{
	return mach->tsc_khz * PANIC_GRACE_MS;
}

/*
 * With several vCPUs a HLT must sleep in the kernel until a kick even when no timer is armed:
 * the deadline is then this far away (a spurious deadline exit at worst).
 */
#define HALT_HEARTBEAT_MS 10000

/*
 * With an interrupt held behind an exception (inject_gp), the deadline is at most this far: the
 * guest takes the exception at the entry, and the next exit, at the latest this deadline, gives
 * the interrupt back to run->inject. The guest's handler may otherwise end without any exit.
 */
#define HELD_RETRY_MS 1

/* Time-driven work and the interrupt to queue, before an entry. */
static void before_entry(struct machine *mach)
{
	struct dyad_run *run = vcpu_self->run;
	struct x2apic *apic = vcpu_self->apic;
	int bsp = vcpu_self->id == 0;
	uint64_t now = rdtsc();

	x2apic_tick(apic, now);
	if (bsp) {
		pit_tick(&mach->pit, now);
		if (mach->console.due && now >= mach->console.due)
			console_flush(&mach->console);
		if (mach->console.banner_tsc && !mach->banner_ns) {
			mach->banner_ns = now_ns();
			/* Other vCPUs' counters are read as they run: a figure, not an invariant. */
			machine_stats_sum(mach, &mach->banner_stats);
		}
	}
	if (!run->inject.pending && vcpu_self->held_vector >= 0) {
		run->inject = (struct dyad_event){ .pending = 1,
						   .type = DYAD_EVENT_EXTINT,
						   .vector = (uint8_t)vcpu_self->held_vector };
		vcpu_self->held_vector = -1;
	} else if (!run->inject.pending) {
		unsigned long held = apic->extint_below_16;
		int v = x2apic_take_interrupt(apic);
		if (!held && apic->extint_below_16)
			report(mach,
			       "the 8259 requests vector %#lx (base %#lx, its reset value?): "
			       "vectors below 16 cannot be injected, left pending",
			       (unsigned long)pic_vector(&mach->pic), mach->pic.chip[0].base);
		if (v >= 0) {
			run->inject = (struct dyad_event){ .pending = 1,
							   .type = DYAD_EVENT_EXTINT,
							   .vector = (uint8_t)v };
			mach->injected++;
		}
	}
	uint64_t due = x2apic_next_deadline(apic);
	if (bsp) {
		uint64_t pit_due = pit_next_deadline(&mach->pit);
		if (pit_due && (!due || pit_due < due))
			due = pit_due;
		if (mach->console.due && (!due || mach->console.due < due))
			due = mach->console.due;
		if (mach->console.panic_tsc) {
			uint64_t end = mach->console.panic_tsc + panic_grace(mach);
			due = due && due < end ? due : end;
		}
	}
	x2apic_pv_eoi_enter(apic);
	/* A held interrupt goes back into run->inject at the next exit: make one come soon. */
	if (vcpu_self->held_vector >= 0) {
		uint64_t soon = now + mach->tsc_khz * HELD_RETRY_MS;
		due = due && due < soon ? due : soon;
	}
	if (!due && mach->opt.ncpus > 1)
		due = now + mach->tsc_khz * HALT_HEARTBEAT_MS;
	run->deadline_tsc = due;
	int hvc;
	run->request = bsp && console_room(mach, &hvc) ? DYAD_RUN_WAKE_CONSOLE : 0;
}

/* Whether the guest panicked and has had its time to print the dump: Linux's end-of-panic
 * line came, or PANIC_GRACE_MS passed (a guest with panic=0 never ends by itself). */
static int panic_over(const struct machine *mach)
{
	const struct console *c = &mach->console;

	return c->panic_tsc && (c->panic_end || rdtsc() - c->panic_tsc >= panic_grace(mach));
}

/* One exit of the calling thread's vCPU: -1 to go on, else the VMM's exit status. */
static int handle_exit(struct machine *mach)
{
	struct dyad_run *run = vcpu_self->run;

	unsigned reason = run->exit_reason;
	int status;
	if (reason < DYAD_EXIT_REASONS)
		mach->vmm_exits[reason]++;
	/* An instruction of the guest's own ran: it is not stuck on an MMIO exit. */
	if (reason == DYAD_EXIT_IO || reason == DYAD_EXIT_CPUID || reason == DYAD_EXIT_RDMSR ||
	    reason == DYAD_EXIT_WRMSR || reason == DYAD_EXIT_HLT || reason == DYAD_EXIT_HYPERCALL)
		mmio_stuck_reset(&vcpu_self->stuck);
	switch (reason) {
	case DYAD_EXIT_IO:
		exit_io(mach);
		if (mach->ports.reset) {
			vmm_log("guest reset through port %#x", mach->ports.reset);
			return VMM_EXIT_RESET;
		}
		if (mach->ports.debug_exit) {
			console_flush(&mach->console); /* the guest's last words first */
			vmm_log("guest wrote %d to the debug port", mach->ports.verdict);
			return ports_status(&mach->ports);
		}
		if (mach->pm.poweroff) {
			vmm_log("guest entered ACPI S5: power-off");
			return ports_status(&mach->ports);
		}
		break;
	case DYAD_EXIT_MMIO:
		status = exit_mmio(mach);
		if (status >= 0)
			return status;
		break;
	case DYAD_EXIT_CPUID:
		exit_cpuid(mach);
		break;
	case DYAD_EXIT_RDMSR:
		exit_msr(mach, 0);
		break;
	case DYAD_EXIT_WRMSR:
		exit_msr(mach, 1);
		break;
	case DYAD_EXIT_HLT: {
		/* IF = 0: an AP stopped (Linux's stop_this_cpu, or a CPU taken offline) waits
		 * for INIT, a boot CPU another CPU stopped for an NMI; with no other vCPU
		 * running nothing can wake the guest. Linux without ACPI powers off this way. */
		uint64_t running = 0;
		for (unsigned i = 0; i < mach->opt.ncpus; i++)
			if (mach->vcpus[i].state == VCPU_RUNNING ||
			    mach->vcpus[i].state == VCPU_STARTING)
				running |= UINT64_C(1) << i;
		if (halt_interrupts_off(running, vcpu_self->id) == HALT_PARK) {
			vcpu_self->state = VCPU_PARKED;
			break;
		}
		vmm_log("guest halted with interrupts off: power-off");
		return ports_status(&mach->ports);
	}
	case DYAD_EXIT_HYPERCALL:
		report(mach, "hypercall %lu: -ENOSYS", run->regs.rax, 0);
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
	case DYAD_EXIT_KICK:
	case DYAD_EXIT_NONE:
		break;
	case DYAD_EXIT_CONSOLE:
		exit_console(mach);
		break;
	case DYAD_EXIT_INTERNAL:
	default:
		vmm_log("exit the VMM cannot handle: reason %u, hardware %#lx (%#lx %#lx) "
			"at rip %#lx",
			reason, run->exit.internal.hw_reason, run->exit.internal.info[0],
			run->exit.internal.info[1], run->regs.rip);
		return VMM_EXIT_ERROR;
	}
	if (panic_over(mach))
		return VMM_EXIT_GUEST_PANIC;
	return -1;
}

int vcpu_run_loop(struct vcpu_ctx *vc)
{
	struct machine *mach = vc->mach;
	struct dyad_run *run = vc->run;

	for (;;) {
		if (vc->state != VCPU_RUNNING && !vcpu_wait_start(vc))
			return mach->end_status;
		if (mach->ended)
			return mach->end_status;
		before_entry(mach);
		pthread_mutex_unlock(&mach->lock);
		long r = ioctl(vc->fd, DYAD_VCPU_RUN, 0);
		int e = errno;
		pthread_mutex_lock(&mach->lock);
		if (mach->ended)
			return mach->end_status;
		x2apic_pv_eoi_exit(vc->apic); /* an EOI the guest made in memory comes first */
		if (r < 0) {
			if (e == EINVAL && run->inject.pending)
				vmm_log("vCPU %u: DYAD_VCPU_RUN refused the event to inject (type "
					"%u, "
					"vector %u): %s",
					vc->id, run->inject.type, run->inject.vector, strerror(e));
			else
				vmm_log("vCPU %u: DYAD_VCPU_RUN failed: %s", vc->id, strerror(e));
			return VMM_EXIT_ERROR;
		}
		int status = handle_exit(mach);
		if (status >= 0)
			return status;
		/* The 8259 is behind the BSP's LINT0 alone: a device an AP drove may have raised
		 * it. */
		if (vc->id && pic_pending(&mach->pic))
			vcpu_notify(&mach->vcpus[0]);
	}
}

int machine_run(struct machine *mach)
{
	pthread_mutex_lock(&mach->lock);
	if (vcpus_start(mach))
		machine_end(mach, VMM_EXIT_ERROR);
	int status = vcpu_run_loop(&mach->vcpus[0]);
	machine_end(mach, status);
	status = mach->end_status;
	pthread_mutex_unlock(&mach->lock);

	/* Whatever ended the run after a panic (Linux's panic=-1 resets), the panic is the news. */
	if (mach->console.panic_tsc) {
		vmm_log("the guest kernel panicked: %s", mach->console.panic);
		status = VMM_EXIT_GUEST_PANIC;
	}
	return status;
}
