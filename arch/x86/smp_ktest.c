// SPDX-License-Identifier: MIT
/*
 * SMP self-tests: every CPU the firmware lists is online and runs a test on itself with its own
 * per-CPU data and the boot CPU's control state; every CPU's timer ticks; call IPIs arrive
 * exactly once, in fixed and in randomized rounds (smp_seed=N on the command line replays one).
 */
#include <arch/x86/acpi.h>
#include <arch/x86/asm.h>
#include <arch/x86/lapic.h>
#include <arch/x86/smp.h>
#include <dyad/bootinfo.h>
#include <dyad/errno.h>
#include <dyad/ktest.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/time.h>

struct cpu_report {
	u32 ran;
	u32 cpu_id;
	u32 apic_id;
	u64 gs_base, kernel_gs_base, self;
	u64 gdt_base, idt_base;
	struct cpu_regs_snapshot regs;
};

static struct cpu_report reports[SMP_MAX_CPUS];

struct __packed desc_ptr {
	u16 limit;
	u64 base;
};

static void report_self(void *arg)
{
	struct cpu_report *r = &reports[this_cpu_id()];
	struct desc_ptr gdt, idt;

	__asm__ volatile("sgdt %0; sidt %1" : "=m"(gdt), "=m"(idt));
	r->ran++;
	r->cpu_id = this_cpu_id();
	r->apic_id = lapic_id();
	r->gs_base = rdmsr(MSR_GS_BASE);
	r->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
	r->self = (u64)this_cpu();
	r->gdt_base = gdt.base;
	r->idt_base = idt.base;
	smp_snapshot_regs(&r->regs);
}

KTEST(smp_every_cpu_is_online_and_runs_a_ktest_on_itself)
{
	unsigned online = smp_cpus_online(), cpu;
	cpumask_t all;

	memset(reports, 0, sizeof(reports));
	report_self(NULL); /* the boot CPU's reference, before the round */
	struct cpu_report bsp = reports[0];
	memset(reports, 0, sizeof(reports));

	KT_EXPECT(kt, cpumask_weight(smp_online_mask()) == online, "%u CPUs in the mask, %u online",
		  cpumask_weight(smp_online_mask()), online);
	/* Every CPU the firmware lists came up (tools/boot-test.sh also demands no skip). */
	KT_EXPECT(kt, online == smp_cpu_table()->nr, "%u CPUs online, the firmware lists %u",
		  online, smp_cpu_table()->nr);
	cpumask_clear(&all);
	for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++)
		cpumask_set(&all, cpu);
	unsigned ran = smp_call_mask(&all, report_self, NULL);
	KT_EXPECT(kt, ran == online, "the call ran on %u CPUs, %u are online", ran, online);
	for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
		const struct cpu_report *r = &reports[cpu];
		struct percpu *pc = percpu_of(cpu);

		if (!cpumask_test(smp_online_mask(), cpu)) {
			KT_EXPECT(kt, r->ran == 0, "CPU %u is not online but ran the call", cpu);
			continue;
		}
		KT_EXPECT(kt, r->ran == 1, "CPU %u ran the call %u times", cpu, r->ran);
		KT_EXPECT(kt, r->cpu_id == cpu, "CPU %u says it is CPU %u", cpu, r->cpu_id);
		KT_EXPECT(kt, r->apic_id == pc->apic_id, "CPU %u: APIC ID %u, its percpu says %u",
			  cpu, r->apic_id, pc->apic_id);
		KT_EXPECT(kt, r->gs_base == (u64)pc && r->self == (u64)pc,
			  "CPU %u: GS.base %#lx, self %#lx, its percpu is at %p", cpu, r->gs_base,
			  r->self, pc);
		KT_EXPECT(kt, r->kernel_gs_base == 0, "CPU %u: KERNEL_GS_BASE %#lx, ring 3's is 0",
			  cpu, r->kernel_gs_base);
		KT_EXPECT(kt, r->gdt_base == (u64)pc->gdt,
			  "CPU %u runs on GDT %#lx, not its own %p", cpu, r->gdt_base, pc->gdt);
		KT_EXPECT(kt, r->idt_base == bsp.idt_base, "CPU %u: IDT %#lx, the boot CPU's %#lx",
			  cpu, r->idt_base, bsp.idt_base);
		const struct cpu_regs_snapshot *a = &r->regs, *b = &bsp.regs;
		KT_EXPECT(kt, a->cr0 == b->cr0, "CPU %u: CR0 %#lx, the boot CPU's %#lx", cpu,
			  a->cr0, b->cr0);
		KT_EXPECT(kt, a->cr4 == b->cr4, "CPU %u: CR4 %#lx, the boot CPU's %#lx", cpu,
			  a->cr4, b->cr4);
		KT_EXPECT(kt, a->efer == b->efer, "CPU %u: EFER %#lx, the boot CPU's %#lx", cpu,
			  a->efer, b->efer);
		KT_EXPECT(kt, a->pat == b->pat, "CPU %u: PAT %#lx, the boot CPU's %#lx", cpu,
			  a->pat, b->pat);
		KT_EXPECT(kt, a->xcr0 == b->xcr0, "CPU %u: XCR0 %#lx, the boot CPU's %#lx", cpu,
			  a->xcr0, b->xcr0);
		KT_EXPECT(kt, a->star == b->star && a->lstar == b->lstar && a->sfmask == b->sfmask,
			  "CPU %u: SYSCALL MSRs differ from the boot CPU's", cpu);
		KT_EXPECT(kt, a->apic_base_mode == b->apic_base_mode,
			  "CPU %u: APIC mode bits %#lx, the boot CPU's %#lx", cpu,
			  a->apic_base_mode, b->apic_base_mode);
	}
	/* Distinct per-CPU state: two CPUs on one TSS or stack would corrupt each other. */
	for (unsigned i = 1; i < online; i++)
		for (unsigned j = 0; j < i; j++)
			KT_EXPECT(kt,
				  percpu_of(i)->ist_top[0] != percpu_of(j)->ist_top[0] &&
					  percpu_of(i)->apic_id != percpu_of(j)->apic_id,
				  "CPUs %u and %u share IST stacks or an APIC ID", j, i);
}

/*
 * Every CPU's timer ticks, and never faster than TIMER_HZ. How often it ticks under an emulator
 * depends on how the host runs the emulator's CPU threads (a loaded host runs one late and the
 * missed ticks merge), so the lower bound is a count reached within a generous time, not a
 * rate: a CPU whose timer is off, or masked, never gets there.
 */
#define TICKS_WANTED 10
#define TICKS_WAIT_NS 10000000000ULL

KTEST(smp_every_cpu_timer_ticks)
{
	unsigned online = smp_cpus_online(), slow = 0;
	u64 before[SMP_MAX_CPUS], t0 = time_ns(), elapsed;

	if (!(read_rflags() & RFLAGS_IF))
		KT_SKIP(kt, "interrupts are off on the boot CPU");
	for (unsigned c = 0; c < online; c++)
		before[c] = percpu_of(c)->ticks;
	do {
		cpu_relax();
		slow = 0;
		for (unsigned c = 0; c < online; c++)
			slow += percpu_of(c)->ticks - before[c] < TICKS_WANTED;
		elapsed = time_ns() - t0;
	} while (slow && elapsed < TICKS_WAIT_NS);
	u64 most = elapsed * TIMER_HZ / 1000000000ULL + 2;
	for (unsigned c = 0; c < online; c++) {
		u64 ticks = percpu_of(c)->ticks - before[c];
		KT_EXPECT(kt, ticks >= TICKS_WANTED && ticks <= most,
			  "CPU %u: %lu ticks in %lu ms (want %u to %lu)", c, ticks,
			  elapsed / 1000000, TICKS_WANTED, most);
	}
}

static u64 hits[SMP_MAX_CPUS];

static void count_hit(void *arg)
{
	__atomic_add_fetch(&hits[this_cpu_id()], (u64)(uintptr_t)arg, __ATOMIC_RELAXED);
}

struct ipi_counts {
	u64 calls_run, ipis, empty;
};

static void snapshot_counts(struct ipi_counts *c)
{
	for (unsigned cpu = 0; cpu < SMP_MAX_CPUS; cpu++)
		c[cpu] = (struct ipi_counts){ percpu_of(cpu)->calls_run, percpu_of(cpu)->call_ipis,
					      percpu_of(cpu)->call_ipis_empty };
}

/*
 * Compares what each CPU ran and took with the expected: @want_hits (the sum of the calls'
 * weights), @want_calls (calls; the caller's own run directly, the others' each by one IPI).
 */
static void expect_counts(struct ktest_ctx *kt, const struct ipi_counts *before,
			  const u64 *want_hits, const u64 *want_calls)
{
	struct ipi_counts after[SMP_MAX_CPUS];
	unsigned self = this_cpu_id();

	snapshot_counts(after);
	for (unsigned cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
		u64 ipis = cpu == self ? 0 : want_calls[cpu];

		KT_EXPECT(kt, hits[cpu] == want_hits[cpu], "CPU %u counted %lu, want %lu", cpu,
			  hits[cpu], want_hits[cpu]);
		KT_EXPECT(kt, after[cpu].calls_run - before[cpu].calls_run == ipis,
			  "CPU %u ran %lu calls from its IPI, want %lu", cpu,
			  after[cpu].calls_run - before[cpu].calls_run, ipis);
		KT_EXPECT(kt, after[cpu].ipis - before[cpu].ipis == ipis,
			  "CPU %u took %lu call IPIs, want %lu", cpu,
			  after[cpu].ipis - before[cpu].ipis, ipis);
		KT_EXPECT(kt, after[cpu].empty == before[cpu].empty,
			  "CPU %u took %lu call IPIs with no call", cpu,
			  after[cpu].empty - before[cpu].empty);
	}
}

#define IPI_ROUNDS 200

KTEST(smp_call_ipis_are_delivered_exactly_once)
{
	struct ipi_counts before[SMP_MAX_CPUS];
	u64 want[SMP_MAX_CPUS] = { 0 };
	unsigned online = smp_cpus_online(), self = this_cpu_id();
	cpumask_t others;

	if (online < 2)
		KT_SKIP(kt, "one CPU online: no other CPU to send an IPI to");
	memset(hits, 0, sizeof(hits));
	snapshot_counts(before);
	others = *smp_online_mask();
	cpumask_unset(&others, self);
	for (unsigned r = 0; r < IPI_ROUNDS; r++) {
		unsigned ran = smp_call_mask(&others, count_hit, (void *)1);
		KT_EXPECT(kt, ran == online - 1, "round %u ran on %u CPUs, want %u", r, ran,
			  online - 1);
	}
	for (unsigned cpu = 0; cpu < online; cpu++)
		want[cpu] = cpu == self ? 0 : IPI_ROUNDS;
	/* One CPU at a time, each with itself excluded, then the caller itself. */
	for (unsigned cpu = 0; cpu < online; cpu++) {
		KT_EXPECT(kt, smp_call_on(cpu, count_hit, (void *)1) == 1, "CPU %u did not run it",
			  cpu);
		want[cpu]++;
	}
	/* CPU indices are dense: index `online` is never online. */
	KT_EXPECT(kt, smp_call_on(online, count_hit, (void *)1) == 0,
		  "a call to CPU %u, which is not online, ran", online);
	expect_counts(kt, before, want, want);
}

static u64 parse_u64(const char *s, bool *ok)
{
	u64 v = 0;
	unsigned base = 10;

	*ok = *s != '\0' && *s != ' ';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		*ok = *s != '\0' && *s != ' ';
	}
	for (; *s && *s != ' '; s++) {
		unsigned d = *s >= '0' && *s <= '9'   ? (unsigned)(*s - '0')
			     : *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10)
			     : *s >= 'A' && *s <= 'F' ? (unsigned)(*s - 'A' + 10)
						      : 99;
		if (d >= base)
			*ok = false;
		v = v * base + d;
	}
	return v;
}

/* smp_seed=N from the command line, else a fresh one from the TSC. */
static u64 random_seed(struct ktest_ctx *kt)
{
	const char *line = kernel_boot_info()->cmdline, *w = line;

	for (; *w; w++) {
		if ((w == line || w[-1] == ' ') && strncmp(w, "smp_seed=", 9) == 0) {
			bool ok;
			u64 v = parse_u64(w + 9, &ok);
			if (ok)
				return v;
			ktest_fail(kt, __FILE__, __LINE__, "smp_seed= is not a number");
		}
	}
	return rdtsc() * 0x9e3779b97f4a7c15ULL;
}

static u64 rng_next(u64 *s)
{
	u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#define RANDOM_ROUNDS 500

KTEST(smp_call_random_rounds_count_exactly)
{
	struct ipi_counts before[SMP_MAX_CPUS];
	u64 want[SMP_MAX_CPUS] = { 0 }, want_calls[SMP_MAX_CPUS] = { 0 };
	unsigned online = smp_cpus_online();
	u64 seed = random_seed(kt), s = seed;

	printf("# smp_call_random_rounds_count_exactly: seed %#lx (replay: smp_seed=%#lx)\n", seed,
	       seed);
	if (online < 2)
		KT_SKIP(kt, "one CPU online: no other CPU to send an IPI to");
	memset(hits, 0, sizeof(hits));
	snapshot_counts(before);
	for (unsigned r = 0; r < RANDOM_ROUNDS; r++) {
		u64 bits = rng_next(&s), weight = 1 + rng_next(&s) % 3;
		cpumask_t m;
		unsigned expect = 0;

		cpumask_clear(&m);
		/* Any subset of the online CPUs (the caller included or not), plus one that is not.
		 */
		for (unsigned cpu = 0; cpu < online; cpu++) {
			if (bits & BIT(cpu % 64)) {
				cpumask_set(&m, cpu);
				want[cpu] += weight;
				want_calls[cpu]++;
				expect++;
			}
		}
		if ((bits & BIT(63)) && online < SMP_MAX_CPUS)
			cpumask_set(&m, online);
		unsigned ran = smp_call_mask(&m, count_hit, (void *)(uintptr_t)weight);
		KT_EXPECT(kt, ran == expect, "round %u ran on %u CPUs, want %u", r, ran, expect);
	}
	expect_counts(kt, before, want, want_calls);
}

KTEST(smp_cpu_that_does_not_answer_is_left_out)
{
	unsigned online = smp_cpus_online();
	u32 ghost = 1;

	/* An APIC ID no CPU has (never 0xff: in xAPIC mode that is the broadcast). */
	for (bool taken = true; taken && ghost < 0xfe;) {
		taken = false;
		for (unsigned c = 0; c < online; c++)
			taken |= percpu_of(c)->apic_id == ghost;
		if (taken)
			ghost++;
	}
	u64 t0 = time_ns();
	int r = smp_start_cpu(ghost, 50000);
	u64 ms = (time_ns() - t0) / 1000000;

	KT_EXPECT(kt, r == -EIO, "starting APIC ID %u gave %d, want -EIO", ghost, r);
	KT_EXPECT(kt, ms < 2000, "the failed start took %lu ms", ms);
	KT_EXPECT(kt, smp_cpus_online() == online, "%u CPUs online after, %u before",
		  smp_cpus_online(), online);
	KT_EXPECT(kt, smp_start_cpu(percpu_of(0)->apic_id, 50000) == -EEXIST,
		  "the boot CPU was started a second time");
}

/*
 * The MP table, the fallback, read from the real firmware (SeaBIOS and Bochs's BIOS build one
 * next to ACPI). They need not list the same CPUs: SeaBIOS lists one CPU per package (QEMU's
 * -smp 4 is one package of 4 cores), so the MP table's CPUs are a subset of the MADT's, the boot
 * CPU among them, and the local APIC is at the same address.
 */
KTEST(smp_mp_table_agrees_with_the_madt)
{
	const struct cpu_table *madt = smp_cpu_table();
	static struct cpu_table mp;
	const char *err;
	bool boot_cpu_listed = false;

	if (madt->source != CPU_TABLE_MADT)
		KT_SKIP(kt, "the CPUs did not come from an ACPI MADT");
	err = smp_read_mptable(&mp);
	if (err)
		KT_SKIP(kt, "no MP table to compare: %s", err);
	printf("# smp_mp_table_agrees_with_the_madt: the MP table lists %u CPU%s, the MADT %u\n",
	       mp.nr, mp.nr == 1 ? "" : "s", madt->nr);
	KT_EXPECT(kt, mp.nr >= 1 && mp.nr <= madt->nr, "the MP table lists %u CPUs, the MADT %u",
		  mp.nr, madt->nr);
	for (unsigned i = 0; i < mp.nr; i++) {
		bool in_madt = false;

		for (unsigned j = 0; j < madt->nr; j++)
			in_madt |= madt->apic_id[j] == mp.apic_id[i];
		KT_EXPECT(kt, in_madt, "APIC ID %u is in the MP table, not in the MADT",
			  mp.apic_id[i]);
		boot_cpu_listed |= mp.apic_id[i] == percpu_of(0)->apic_id;
	}
	KT_EXPECT(kt, boot_cpu_listed, "the MP table does not list the boot CPU (APIC ID %u)",
		  percpu_of(0)->apic_id);
	KT_EXPECT(kt, mp.lapic_pa == madt->lapic_pa, "local APIC at %#lx (MP), %#lx (MADT)",
		  mp.lapic_pa, madt->lapic_pa);
}
