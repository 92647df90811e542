// SPDX-License-Identifier: MIT
/*
 * The end-of-run summary: exits by reason (the kernel's counters, which include the exits it
 * finished itself), second-stage faults by page size, the page sizes backing guest RAM, the
 * VMM's own memory beyond guest RAM, and time from VMM start to the guest's banner.
 */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dyad/abi.h>

#include "vm.h"
#include "vmm.h"

static const char *const stat_names[DYAD_STATS] = {
	[DYAD_STAT_IO] = "io",
	[DYAD_STAT_MMIO] = "mmio",
	[DYAD_STAT_CPUID] = "cpuid",
	[DYAD_STAT_RDMSR] = "rdmsr",
	[DYAD_STAT_WRMSR] = "wrmsr",
	[DYAD_STAT_HLT] = "hlt",
	[DYAD_STAT_HYPERCALL] = "hypercall",
	[DYAD_STAT_SHUTDOWN] = "shutdown",
	[DYAD_STAT_FAIL_ENTRY] = "fail-entry",
	[DYAD_STAT_DEADLINE] = "deadline",
	[DYAD_STAT_CONSOLE] = "console",
	[DYAD_STAT_INTERNAL] = "internal",
	[DYAD_STAT_GUEST_FAULT] = "guest-fault",
	[DYAD_STAT_SPURIOUS_FAULT] = "spurious-fault",
	[DYAD_STAT_EXTINT] = "host-interrupt",
	[DYAD_STAT_NMI] = "nmi",
	[DYAD_STAT_INTR_WINDOW] = "interrupt-window",
	[DYAD_STAT_PREEMPT] = "preempt",
	[DYAD_STAT_MSR_KERNEL] = "msr-kernel",
	[DYAD_STAT_XSETBV] = "xsetbv",
	[DYAD_STAT_CR] = "cr",
	[DYAD_STAT_HALT_SLEEP] = "halt-sleep",
	[DYAD_STAT_EXCEPTION] = "exception",
	[DYAD_STAT_OTHER] = "other",
};

extern char __executable_start[];

static long vm_query(unsigned long addr, struct dyad_vm_info *info)
{
	return syscall(DYAD_SYS_VM_QUERY, addr, info);
}

/* Bytes resident in [start, end), counted page by page. */
static unsigned long resident(unsigned long start, unsigned long end)
{
	struct dyad_vm_info info;
	unsigned long bytes = 0;

	for (unsigned long a = start & ~0xfffUL; a < end; a += 4096)
		if (vm_query(a, &info) == 0 && info.page_size)
			bytes += 4096;
	return bytes;
}

/* The VMM's own memory: its image, heap and stack pages, the run page and its page tables. */
static void memory_report(struct vm *vm)
{
	unsigned long image_end = (unsigned long)sbrk(0);
	unsigned long image = resident((unsigned long)__executable_start, image_end);
	unsigned long sp = (unsigned long)&image_end, stack = 0;
	struct dyad_vm_info info;
	struct dyad_stats st;

	/* The stack: from this frame up to the first unmapped page. */
	for (unsigned long a = sp & ~0xfffUL; vm_query(a, &info) == 0 && info.prot; a += 4096)
		stack += info.page_size ? 4096 : 0;
	unsigned long tables = 0;
	if (syscall(DYAD_SYS_STATS, &st) == 0)
		tables = st.pairs_in_use * 8192;
	unsigned long total = image + stack + DYAD_RUN_SIZE + tables;
	printf("vmm: memory beyond guest RAM: %lu KiB (image+heap %lu KiB, stack %lu KiB, run page "
	       "4 KiB, page-table pairs %lu KiB)\n",
	       total >> 10, image >> 10, stack >> 10, tables >> 10);
	(void)vm;
}

static void ram_report(struct vm *vm)
{
	unsigned long counts[3] = { 0 }, unmapped = 0;
	struct dyad_vm_info info;

	for (uint64_t a = 0; a < vm->ram;) {
		if (vm_query(a, &info) || !info.page_size) {
			unmapped++;
			a += 4096;
			continue;
		}
		counts[info.page_size >= (1UL << 30) ? 2 : info.page_size >= (2UL << 20) ? 1 : 0]++;
		a = (a & ~(info.page_size - 1)) + info.page_size;
	}
	printf("vmm: guest RAM %llu MiB in %lu x 1G + %lu x 2M + %lu x 4K pages (%lu 4K pages not "
	       "yet mapped)\n",
	       (unsigned long long)vm->ram >> 20, counts[2], counts[1], counts[0], unmapped);
}

void vm_summary(struct vm *vm)
{
	const struct dyad_vcpu_stats *s = &vm->run->stats;
	unsigned long total = 0;

	printf("vmm: ---- summary ----\nvmm: VM exits by reason:");
	for (int i = 0; i < DYAD_STATS; i++) {
		total += s->exits[i];
		if (s->exits[i])
			printf(" %s=%lu", stat_names[i], s->exits[i]);
	}
	printf("\nvmm: %lu exits, %lu entries; %lu reached the VMM\n", total, s->entries,
	       s->exits[DYAD_STAT_IO] + s->exits[DYAD_STAT_MMIO] + s->exits[DYAD_STAT_CPUID] +
		       s->exits[DYAD_STAT_RDMSR] + s->exits[DYAD_STAT_WRMSR] +
		       s->exits[DYAD_STAT_DEADLINE] + s->exits[DYAD_STAT_CONSOLE]);
	printf("vmm: second-stage faults: %lu at 4K, %lu at 2M, %lu at 1G\n", s->guest_faults[0],
	       s->guest_faults[1], s->guest_faults[2]);
	ram_report(vm);
	memory_report(vm);
	printf("vmm: xAPIC MMIO accesses %lu, other MMIO %lu\n", vm->apic_mmio, vm->mmio_unhandled);
	printf("vmm: interrupts injected %lu (timer fired %lu, PIC %lu); #GP injected %lu; "
	       "unowned ports %lu, unowned MSRs %lu; console %lu bytes in %lu writes\n",
	       vm->injected, vm->apic.timer_fired, vm->apic.extint_delivered, vm->gp_injected,
	       bus_stats.io_unowned, bus_stats.msr_unowned, vm->console.bytes, vm->console.writes);
	printf("vmm: at the end: PIC IMR %02x/%02x IRR %02x ISR %02x base %#x; LVT0 %#x, SVR %#x; "
	       "UART IER %02x MCR %02x line %d; verdict %d\n",
	       vm->pic.chip[0].imr, vm->pic.chip[1].imr, vm->pic.chip[0].irr, vm->pic.chip[0].isr,
	       vm->pic.chip[0].base, vm->apic.lvt_lint0, vm->apic.svr, vm->uart.ier, vm->uart.mcr,
	       vm->uart.irq_level, vm->ports.verdict);
	if (vm->console.banner_tsc)
		printf("vmm: start to banner: %llu ms wall, %llu TSC ticks (%llu kHz TSC)\n",
		       (unsigned long long)(vm->banner_ns - vm->start_ns) / 1000000,
		       (unsigned long long)(vm->console.banner_tsc - vm->start_tsc),
		       (unsigned long long)vm->tsc_khz);
	else
		printf("vmm: the guest printed no banner\n");
	printf("vmm: total %llu ms wall\n",
	       (unsigned long long)(now_ns() - vm->start_ns) / 1000000);
	fflush(stdout);
}
