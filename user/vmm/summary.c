// SPDX-License-Identifier: MIT
/*
 * The end-of-run summary: exits by reason (the kernel's counters, which include the exits it
 * finished itself), second-stage faults by page size, the page sizes backing guest RAM, the
 * VMM's own memory beyond guest RAM, and time from VMM start to the guest's banner.
 */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dyad/abi.h>

#include "machine.h"
#include "vcpu_thread.h"
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
	[DYAD_STAT_KICK] = "kick",
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
static void memory_report(struct machine *mach)
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
	(void)mach;
}

static void ram_report(struct machine *mach)
{
	unsigned long counts[3] = { 0 }, unmapped = 0;
	struct dyad_vm_info info;

	for (uint64_t a = 0; a < GUEST_RAM_HIGH + mach->ram.high;) {
		if (a >= mach->ram.size && a < GUEST_RAM_HIGH)
			a = GUEST_RAM_HIGH; /* the hole */
		if (a >= GUEST_RAM_HIGH + mach->ram.high)
			break;
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
	       (unsigned long long)(mach->ram.size + mach->ram.high) >> 20, counts[2], counts[1],
	       counts[0], unmapped);
}

void machine_stats_sum(const struct machine *mach, struct dyad_vcpu_stats *sum)
{
	unsigned n = mach->vcpus ? mach->opt.ncpus : 1;

	memset(sum, 0, sizeof(*sum));
	for (unsigned c = 0; c < n; c++) {
		const struct dyad_vcpu_stats *s = mach->vcpus ? &mach->vcpus[c].run->stats
							      : &mach->run->stats;
		for (int i = 0; i < DYAD_STATS; i++)
			sum->exits[i] += s->exits[i];
		for (int i = 0; i < 3; i++)
			sum->guest_faults[i] += s->guest_faults[i];
		sum->entries += s->entries;
		sum->cpus_entered |= s->cpus_entered;
	}
}

/* Per vCPU: exits, IPIs received and kicks; the IPI traffic. Several vCPUs only. */
static void vcpus_report(const struct machine *mach)
{
	if (!mach->vcpus || mach->opt.ncpus < 2)
		return;
	printf("vmm: %u vCPUs; exits, IPIs received, kicks per vCPU:", mach->opt.ncpus);
	for (unsigned c = 0; c < mach->opt.ncpus; c++) {
		const struct vcpu_ctx *vc = &mach->vcpus[c];
		unsigned long t = 0;
		for (int i = 0; i < DYAD_STATS; i++)
			t += vc->run->stats.exits[i];
		printf(" [%u] %lu %lu %lu", c, t, vc->ipis_received, vc->kicks_received);
	}
	printf("\nvmm: IPIs sent %lu (kicks of other vCPUs %lu), INIT %lu, SIPI %lu, NMI %lu "
	       "(dropped %lu), ignored %lu\n",
	       mach->ipis, mach->ipi_kicks, mach->inits, mach->sipis, mach->ipi_nmis,
	       mach->ipi_nmi_dropped, mach->ipi_ignored);
}

void machine_summary(struct machine *mach)
{
	struct dyad_vcpu_stats sum;
	const struct dyad_vcpu_stats *s = &sum;
	unsigned long total = 0;

	machine_stats_sum(mach, &sum);
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
	printf("vmm: host CPUs the guest entered on:");
	for (unsigned c = 0; c < 64; c++)
		if (s->cpus_entered & (1UL << c))
			printf(" %u", c);
	printf("\n");
	vcpus_report(mach);
	printf("vmm: second-stage faults: %lu at 4K, %lu at 2M, %lu at 1G\n", s->guest_faults[0],
	       s->guest_faults[1], s->guest_faults[2]);
	ram_report(mach);
	memory_report(mach);
	const struct bus_table *pio = &mach->bus.space[BUS_PIO], *msr = &mach->bus.space[BUS_MSR];
	printf("vmm: MMIO accesses handled %lu, unhandled %lu\n", mach->bus.space[BUS_MMIO].handled,
	       mach->mmio_unhandled);
	unsigned long pv_eois = mach->vcpus ? 0 : mach->apic.pv_eois;
	for (unsigned i = 0; mach->vcpus && i < mach->opt.ncpus; i++)
		pv_eois += mach->vcpus[i].apic->pv_eois;
	printf("vmm: interrupts injected %lu (timer fired %lu, PIC %lu, EOIs by PV EOI %lu); #GP "
	       "injected %lu; unowned ports %lu, unowned MSRs %lu; console %lu bytes in %lu "
	       "writes\n",
	       mach->injected, mach->apic.timer_fired, mach->apic.extint_delivered, pv_eois,
	       mach->gp_injected, pio->unowned, msr->unowned, mach->console.bytes,
	       mach->console.writes);
	printf("vmm: I/O APIC messages %lu (%lu undeliverable, %lu masked edges lost); PIT "
	       "interrupts %lu; local APIC in %s mode\n",
	       mach->ioapic.delivered, mach->ioapic_undeliverable, mach->ioapic.masked_edges,
	       mach->pit.irqs, (mach->apic.base_msr & 0x400) ? "x2APIC" : "xAPIC");
	printf("vmm: at the end: PIC IMR %02x/%02x IRR %02x ISR %02x base %#x; LVT0 %#x, SVR %#x; "
	       "UART IER %02x MCR %02x line %d\n",
	       mach->pic.chip[0].imr, mach->pic.chip[1].imr, mach->pic.chip[0].irr,
	       mach->pic.chip[0].isr, mach->pic.chip[0].base, mach->apic.lvt_lint0, mach->apic.svr,
	       mach->uart.ier, mach->uart.mcr, mach->uart.irq_level);
	if (mach->apic.illegal_vectors || mach->apic.extint_below_16)
		printf("vmm: APIC sources given vectors below 16 (logged in ESR) %lu; 8259 "
		       "requests "
		       "below vector 16 held back %lu\n",
		       mach->apic.illegal_vectors, mach->apic.extint_below_16);
	if (mach->ports.verdict < 0)
		printf("vmm: verdict none: the guest wrote nothing to the debug port %#x\n",
		       VMM_DEBUG_PORT);
	else
		printf("vmm: verdict %d: %s on the debug port %#x\n", mach->ports.verdict,
		       mach->ports.verdict ? "failed checks reported" : "pass reported",
		       VMM_DEBUG_PORT);
	if (mach->console.banner_tsc) {
		const struct dyad_vcpu_stats *b = &mach->banner_stats;
		unsigned long boot = 0;

		printf("vmm: start to banner: %llu ms wall, %llu TSC ticks (%llu kHz TSC)\n",
		       (unsigned long long)(mach->banner_ns - mach->start_ns) / 1000000,
		       (unsigned long long)(mach->console.banner_tsc - mach->start_tsc),
		       (unsigned long long)mach->tsc_khz);
		printf("vmm: VM exits up to the banner (the boot) by reason:");
		for (int i = 0; i < DYAD_STATS; i++) {
			boot += b->exits[i];
			if (b->exits[i])
				printf(" %s=%lu", stat_names[i], b->exits[i]);
		}
		printf("\nvmm: %lu exits up to the banner, %lu entries\n", boot, b->entries);
	} else
		printf("vmm: the guest printed no banner\n");
	printf("vmm: total %llu ms wall\n",
	       (unsigned long long)(now_ns() - mach->start_ns) / 1000000);
	fflush(stdout);
}
