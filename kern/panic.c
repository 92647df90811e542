// SPDX-License-Identifier: MIT
/* panic: say what happened, with registers and a backtrace, and stop. */
#include <arch/x86/asm.h>
#include <arch/x86/emu.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <dyad/panic.h>
#include <dyad/printf.h>

bool panic_exits_emulator;
static int panic_depth;

#define BACKTRACE_MAX_FRAMES 24

void backtrace_from(u64 rbp)
{
	printf("backtrace (addr2line -e build/dyad.elf ADDR):\n");
	for (int i = 0; i < BACKTRACE_MAX_FRAMES; i++) {
		/* Frames live in the kernel image's stacks or the direct map; stop at anything else. */
		if (rbp < DIRECT_MAP_BASE || (rbp & 7))
			break;
		u64 *frame = (u64 *)rbp;
		u64 ret = frame[1];
		if (ret < KERNEL_VMA)
			break;
		printf("  #%d %#lx\n", i, ret);
		rbp = frame[0];
	}
}

static __noreturn void panic_stop(void)
{
	if (panic_exits_emulator) {
		printf("ktest: 0 passed, 1 failed (panic)\n");
		emu_exit(false);
	}
	for (;;) {
		irq_disable();
		halt();
	}
}

static void dump_control_registers(void)
{
	printf("CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx\n", read_cr0(), read_cr2(), read_cr3(),
	       read_cr4());
}

void panic(const char *fmt, ...)
{
	va_list ap;
	u64 rbp, rsp;

	irq_disable();
	if (panic_depth++) {
		printf("panic: nested panic, stopping\n");
		panic_stop();
	}
	printf("\npanic: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	__asm__ volatile("mov %%rbp, %0; mov %%rsp, %1" : "=r"(rbp), "=r"(rsp));
	printf("RSP=%016lx RBP=%016lx RFLAGS=%016lx\n", rsp, rbp, read_rflags());
	dump_control_registers();
	backtrace_from(rbp);
	panic_stop();
}

void panic_trap(const struct trap_frame *tf, const char *what)
{
	irq_disable();
	panic_depth++;
	printf("\npanic: %s: vector %lu error %#lx at RIP %#lx, CR2 %#lx\n", what, tf->vector,
	       tf->error, tf->rip, read_cr2());
	printf("RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	printf("RSI=%016lx RDI=%016lx RBP=%016lx RSP=%016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->rsp);
	printf("R8 =%016lx R9 =%016lx R10=%016lx R11=%016lx\n", tf->r8, tf->r9, tf->r10, tf->r11);
	printf("R12=%016lx R13=%016lx R14=%016lx R15=%016lx\n", tf->r12, tf->r13, tf->r14, tf->r15);
	printf("CS=%04lx SS=%04lx RFLAGS=%016lx\n", tf->cs, tf->ss, tf->rflags);
	dump_control_registers();
	printf("  #- %#lx (faulting instruction)\n", tf->rip);
	backtrace_from(tf->rbp);
	panic_stop();
}
