// SPDX-License-Identifier: MIT
/*
 * Every CPU of the machine (include/arch/x86/smp.h): found in the firmware's tables, started
 * one at a time with INIT-SIPI-SIPI through the trampoline in arch/x86/ap_start.asm, and then
 * reachable through call IPIs.
 *
 * One AP starts at a time: the trampoline's parameter block (its stack, its per-CPU data) is
 * for one AP only, and the next is written only after this one has reached C and copied what
 * it needs, or has been sent INIT again after its time ran out.
 */
#include <arch/x86/acpi.h>
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/fpu.h>
#include <arch/x86/gdt.h>
#include <arch/x86/kmap.h>
#include <arch/x86/lapic.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/trap.h>
#include <dyad/bootinfo.h>
#include <dyad/errno.h>
#include <dyad/panic.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/sched.h>
#include <dyad/spinlock.h>
#include <dyad/string.h>
#include <dyad/time.h>

_Static_assert(offsetof(struct percpu, self) == 0, "percpu.inc: PERCPU_SELF");
_Static_assert(offsetof(struct percpu, kernel_rsp) == 8, "percpu.inc: PERCPU_KERNEL_RSP");
_Static_assert(offsetof(struct percpu, user_rsp) == 16, "percpu.inc: PERCPU_USER_RSP");
_Static_assert(offsetof(struct percpu, cpu) == 24, "this_cpu_id() reads %gs:24");
_Static_assert(SMP_MAX_CPUS == CPU_TABLE_MAX, "one limit for the tables and the CPUs");

struct percpu percpu_cpus[SMP_MAX_CPUS];

/* The trampoline's parameter block; offsets as ap_start.asm's P_* definitions. */
struct ap_params {
	u16 gdt_limit;
	u32 gdt_base;
	u16 pad0;
	u32 pm32_off;
	u16 pm32_sel;
	u16 pad1;
	u32 lm64_off;
	u16 lm64_sel;
	u16 pad2;
	u32 cr0, cr3, cr4, efer;
	u64 entry, stack, percpu, kernel_cr3;
	u32 apic_id, x2apic;
} __packed;
_Static_assert(offsetof(struct ap_params, pm32_off) == 8, "P_PM32");
_Static_assert(offsetof(struct ap_params, lm64_off) == 16, "P_LM64");
_Static_assert(offsetof(struct ap_params, cr0) == 24, "P_CR0");
_Static_assert(offsetof(struct ap_params, entry) == 40, "P_ENTRY");
_Static_assert(offsetof(struct ap_params, kernel_cr3) == 64, "P_KERNEL_CR3");
_Static_assert(offsetof(struct ap_params, x2apic) == 76, "P_X2APIC");
_Static_assert(sizeof(struct ap_params) == 80, "the block ap_start.asm reserves");

extern const u8 ap_tramp_start[], ap_tramp_end[], ap_tramp_params[], ap_tramp_pm32[],
	ap_tramp_lm64[], ap_tramp_gdt[];
void ap_entry64(void);
__noreturn void smp_ap_main(struct percpu *pc);

#define AP_STACKS_ORDER 4 /* 64 KiB: the idle stack, then the three IST stacks */
#define AP_IDLE_STACK_SIZE (32 * 1024)
#define AP_START_TIMEOUT_US 5000000 /* generous: QEMU's CPU threads share a loaded host */
#define CALL_TIMEOUT_NS 10000000000ULL

#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define MSR_X2APIC_ICR 0x830
#define ICR_PENDING BIT(12)
#define ICR_ASSERT BIT(14)
#define ICR_FIXED (0u << 8)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)

/*
 * The trampoline's page tables, pairs like every other (zero odd halves): the first 2 MiB
 * identity-mapped and executable (the trampoline page is in it), and the kernel half's PML4
 * slots copied from the kernel's. In the image, so below 4 GiB for the 32-bit CR3 load.
 */
static u64 tramp_pml4[2 * PMAP_ENTRIES] __aligned(2 * PAGE_SIZE);
static u64 tramp_pdpt[2 * PMAP_ENTRIES] __aligned(2 * PAGE_SIZE);
static u64 tramp_pd[2 * PMAP_ENTRIES] __aligned(2 * PAGE_SIZE);

static paddr_t tramp_pa;
static cpumask_t online_mask;
static unsigned nr_online;
static struct cpu_table cpu_table;

struct smp_call {
	smp_call_fn fn;
	void *arg;
	u32 remaining; /* target CPUs that have not finished fn */
};

static struct spinlock call_lock = SPINLOCK_INIT;

unsigned smp_cpus_online(void)
{
	return __atomic_load_n(&nr_online, __ATOMIC_ACQUIRE);
}

const cpumask_t *smp_online_mask(void)
{
	return &online_mask;
}

/* ---- reading the firmware's tables ------------------------------------------------------- */

/* True if the kernel's tables map @va (the direct map: 1 GiB, 2 MiB or 4 KiB leaves). */
static bool kernel_va_mapped(u64 va)
{
	const u64 *table = kmap_kernel_pml4();

	for (unsigned shift = 39;; shift -= 9) {
		u64 e = table[(va >> shift) & (PMAP_ENTRIES - 1)];
		if (!(e & KPTE_P))
			return false;
		if (shift == 12 || (shift < 39 && (e & KPTE_PS)))
			return true;
		table = pmem_va(e & PTE_ADDR_4K);
	}
}

/* phys_read_fn over the direct map: the firmware's tables are in RAM or next to it. */
const void *acpi_direct_map_read(void *ctx, u64 pa, u64 len)
{
	if (len == 0 || pa >= PMEM_MAPPED_LIMIT || len > PMEM_MAPPED_LIMIT - pa)
		return NULL;
	for (u64 page = ALIGN_DOWN(pa, PAGE_SIZE); page < pa + len; page += PAGE_SIZE)
		if (!kernel_va_mapped((u64)pmem_va(page)))
			return NULL;
	return pmem_va(pa);
}

/* The MADT, else the MP table, else the boot CPU alone; says which and why. */
static void find_cpus(const struct boot_info *bi, u32 boot_apic_id)
{
	const char *madt_err = "the boot loader passed no ACPI RSDP";
	const char *mp_err = NULL;

	if (bi->acpi_rsdp_len)
		madt_err = acpi_madt_cpus(bi->acpi_rsdp, bi->acpi_rsdp_len, acpi_direct_map_read,
					  NULL, &cpu_table);
	if (madt_err) {
		mp_err = mptable_cpus(acpi_direct_map_read, NULL, &cpu_table);
		if (mp_err) {
			printf("smp: no CPU table (ACPI: %s; MP: %s): the boot CPU alone\n",
			       madt_err, mp_err);
			cpu_table = (struct cpu_table){ .nr = 1, .apic_id = { boot_apic_id } };
			return;
		}
		printf("smp: no ACPI MADT (%s): using the MP table\n", madt_err);
	}
	printf("smp: %s lists %u CPU%s, APIC IDs", madt_err ? "the MP table" : "the ACPI MADT",
	       cpu_table.nr, cpu_table.nr == 1 ? "" : "s");
	for (unsigned i = 0; i < cpu_table.nr; i++)
		printf(" %u", cpu_table.apic_id[i]);
	printf("; local APIC at %#lx", cpu_table.lapic_pa);
	if (cpu_table.nr_disabled)
		printf(", %u disabled", cpu_table.nr_disabled);
	if (cpu_table.nr_ignored)
		printf(", %u ignored (repeated, invalid or beyond %u)", cpu_table.nr_ignored,
		       SMP_MAX_CPUS);
	printf("\n");
}

const struct cpu_table *smp_cpu_table(void)
{
	return &cpu_table;
}

const char *smp_read_mptable(struct cpu_table *out)
{
	return mptable_cpus(acpi_direct_map_read, NULL, out);
}

/* ---- the trampoline ---------------------------------------------------------------------- */

static bool range_overlaps(paddr_t a, paddr_t a_end, paddr_t b, paddr_t b_end)
{
	return a < b_end && b < a_end;
}

/*
 * A RAM page below 1 MiB for the trampoline (a SIPI vector names a page there), clear of the
 * modules and the boot information. pmem never hands out the low MiB, so nothing else uses it.
 */
static paddr_t choose_tramp_page(const struct boot_info *bi)
{
	for (unsigned i = 0; i < 0x9f; i++) {
		paddr_t pa = ((i + 8) % 0x9f + 1) * PAGE_SIZE; /* from 0x9000 up, then the rest */
		bool ok = false;

		for (unsigned r = 0; r < bi->nr_ram; r++)
			ok |= bi->ram[r].start <= pa && pa + PAGE_SIZE <= bi->ram[r].end;
		ok &= !range_overlaps(pa, pa + PAGE_SIZE, bi->mbi_start, bi->mbi_end);
		for (unsigned m = 0; m < bi->nr_modules; m++)
			ok &= !range_overlaps(pa, pa + PAGE_SIZE, bi->modules[m].start,
					      bi->modules[m].end);
		if (ok)
			return pa;
	}
	return 0;
}

static void tramp_install(void)
{
	const u64 *kernel_pml4 = kmap_kernel_pml4();
	u8 *page = pmem_va(tramp_pa);
	struct ap_params *p;

	tramp_pd[0] = 0 | KPTE_P | KPTE_W | KPTE_PS;
	tramp_pdpt[0] = KERNEL_IMAGE_PA(tramp_pd) | KPTE_P | KPTE_W;
	tramp_pml4[0] = KERNEL_IMAGE_PA(tramp_pdpt) | KPTE_P | KPTE_W;
	for (unsigned i = KERNEL_HALF_FIRST_SLOT; i < PMAP_ENTRIES; i++)
		tramp_pml4[i] = kernel_pml4[i];

	memcpy(page, ap_tramp_start, ap_tramp_end - ap_tramp_start);
	p = (struct ap_params *)(page + (ap_tramp_params - ap_tramp_start));
	p->gdt_limit = 4 * 8 - 1;
	p->gdt_base = tramp_pa + (ap_tramp_gdt - ap_tramp_start);
	p->pm32_off = tramp_pa + (ap_tramp_pm32 - ap_tramp_start);
	p->pm32_sel = 0x08;
	p->lm64_off = tramp_pa + (ap_tramp_lm64 - ap_tramp_start);
	p->lm64_sel = 0x18;
	/* PG PE WP NE ET MP, caches on; cpu_init_local() completes CR0 and CR4 in C. */
	p->cr0 = (u32)(BIT(31) | CR0_WP | CR0_NE | BIT(4) | CR0_MP | BIT(0));
	p->cr3 = KERNEL_IMAGE_PA(tramp_pml4);
	p->cr4 = BIT(5); /* PAE */
	p->efer = BIT(8) | (cpu_features.nx ? EFER_NXE : 0); /* LME: NX bits are in the tables */
	p->entry = (u64)ap_entry64;
	p->kernel_cr3 = read_cr3();
	p->x2apic = lapic_x2apic_mode();
}

static struct ap_params *tramp_params(void)
{
	return (struct ap_params *)((u8 *)pmem_va(tramp_pa) + (ap_tramp_params - ap_tramp_start));
}

/* ---- IPIs -------------------------------------------------------------------------------- */

/* Sends one IPI; interrupts are off so that no handler on this CPU writes the ICR in between. */
static void icr_send(u32 apic_id, u32 low)
{
	u64 flags = read_rflags();

	irq_disable();
	if (lapic_x2apic_mode()) {
		wrmsr(MSR_X2APIC_ICR, ((u64)apic_id << 32) | low);
	} else {
		lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
		lapic_write(LAPIC_ICR_LOW, low);
		while (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING)
			cpu_relax();
	}
	if (flags & RFLAGS_IF)
		irq_enable();
}

/* Per CPU: the call its fn is running, until it returns or calls smp_call_release(). */
static struct smp_call *call_running[SMP_MAX_CPUS];

/* Runs the call waiting for this CPU, if any (from the IPI, or while waiting for call_lock). */
static void run_pending_call(struct percpu *pc)
{
	struct smp_call *c = __atomic_exchange_n(&pc->call, NULL, __ATOMIC_ACQUIRE);
	struct smp_call *outer = call_running[pc->cpu];

	if (!c) {
		pc->call_ipis_empty++;
		return;
	}
	call_running[pc->cpu] = c;
	c->fn(c->arg);
	pc->calls_run++;
	/* The caller's stack holds *c: after this it may be gone. */
	if (call_running[pc->cpu] == c)
		__atomic_sub_fetch(&c->remaining, 1, __ATOMIC_RELEASE);
	call_running[pc->cpu] = outer;
}

void smp_call_release(void)
{
	unsigned cpu = this_cpu_id();
	struct smp_call *c = call_running[cpu];

	if (!c)
		return;
	call_running[cpu] = NULL;
	__atomic_sub_fetch(&c->remaining, 1, __ATOMIC_RELEASE);
}

static void call_irq(struct trap_frame *tf)
{
	struct percpu *pc = this_cpu();

	pc->call_ipis++;
	run_pending_call(pc);
	lapic_eoi();
}

void smp_call_poll(void)
{
	struct percpu *pc = this_cpu();
	u64 flags;

	if (!__atomic_load_n(&pc->call, __ATOMIC_RELAXED))
		return;
	flags = read_rflags();
	irq_disable();
	/* Again with interrupts off: the IPI may have run it in between. */
	if (__atomic_load_n(&pc->call, __ATOMIC_RELAXED))
		run_pending_call(pc);
	if (flags & RFLAGS_IF)
		irq_enable();
}

static void call_lock_acquire(void)
{
	struct percpu *pc = this_cpu();

	/* While another CPU's call holds the lock, ours may be the one it waits for. */
	while (__atomic_exchange_n(&call_lock.locked, 1, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&pc->call, __ATOMIC_RELAXED)) {
			u64 flags = read_rflags();

			irq_disable();
			run_pending_call(pc);
			if (flags & RFLAGS_IF)
				irq_enable();
		}
		cpu_relax();
	}
}

unsigned smp_call_mask(const cpumask_t *mask, smp_call_fn fn, void *arg)
{
	struct smp_call c = { .fn = fn, .arg = arg };
	unsigned self = this_cpu_id(), cpu, n;
	cpumask_t targets;

	call_lock_acquire();
	cpumask_clear(&targets);
	for_each_cpu (cpu, mask)
		if (cpu != self && cpumask_test(&online_mask, cpu))
			cpumask_set(&targets, cpu);
	n = cpumask_weight(&targets);
	c.remaining = n;
	for_each_cpu (cpu, &targets) {
		__atomic_store_n(&percpu_of(cpu)->call, &c, __ATOMIC_RELEASE);
		icr_send(percpu_of(cpu)->apic_id, ICR_ASSERT | ICR_FIXED | IRQ_CALL);
	}
	if (cpumask_test(mask, self)) {
		u64 flags = read_rflags();

		irq_disable();
		fn(arg);
		if (flags & RFLAGS_IF)
			irq_enable();
		n++;
	}
	u64 deadline = time_ns() + CALL_TIMEOUT_NS;
	while (__atomic_load_n(&c.remaining, __ATOMIC_ACQUIRE)) {
		if (time_ns() > deadline) {
			for_each_cpu (cpu, &targets)
				if (__atomic_load_n(&percpu_of(cpu)->call, __ATOMIC_RELAXED) == &c)
					panic("smp: CPU %u (APIC ID %u) did not take a call IPI in "
					      "10 s",
					      cpu, percpu_of(cpu)->apic_id);
			panic("smp: a call IPI's function did not return in 10 s");
		}
		cpu_relax();
	}
	spin_unlock(&call_lock);
	return n;
}

void smp_send_resched(unsigned cpu)
{
	if (cpu < SMP_MAX_CPUS && cpumask_test(&online_mask, cpu))
		icr_send(percpu_of(cpu)->apic_id, ICR_ASSERT | ICR_FIXED | IRQ_RESCHED);
}

unsigned smp_call_on(unsigned cpu, smp_call_fn fn, void *arg)
{
	cpumask_t m;

	if (cpu >= SMP_MAX_CPUS)
		return 0;
	cpumask_clear(&m);
	cpumask_set(&m, cpu);
	return smp_call_mask(&m, fn, arg);
}

/* ---- starting an AP ---------------------------------------------------------------------- */

/* The AP's first C code, on its idle stack with the kernel's page tables, interrupts off. */
void smp_ap_main(struct percpu *pc)
{
	gdt_load_cpu(pc);
	trap_load_idt();
	cpu_init_local();
	timer_init_ap();
	__atomic_store_n(&pc->state, CPU_ONLINE, __ATOMIC_RELEASE);
	sched_ap_enter(); /* this CPU's idle thread from now on: it runs what the queue holds */
}

/* Waits until @pc is online or @deadline (TSC) passes. */
static bool wait_online(struct percpu *pc, u64 deadline)
{
	while (rdtsc() < deadline) {
		if (__atomic_load_n(&pc->state, __ATOMIC_ACQUIRE) == CPU_ONLINE)
			return true;
		cpu_relax();
	}
	return __atomic_load_n(&pc->state, __ATOMIC_ACQUIRE) == CPU_ONLINE;
}

int smp_start_cpu(u32 apic_id, u64 timeout_us)
{
	unsigned cpu = smp_cpus_online(), i;
	struct percpu *pc;
	paddr_t stacks;

	for_each_cpu (i, &online_mask)
		if (percpu_of(i)->apic_id == apic_id)
			return -EEXIST;
	if (cpu == SMP_MAX_CPUS || !tramp_pa)
		return -ENOSPC;
	stacks = pmem_alloc_zeroed(AP_STACKS_ORDER);
	if (!stacks)
		return -ENOSPC;
	pc = percpu_of(cpu);
	memset(pc, 0, sizeof(*pc));
	pc->cpu = cpu;
	pc->apic_id = apic_id;
	pc->stacks_pa = stacks;
	for (i = 0; i < IST_STACKS; i++)
		pc->ist_top[i] =
			(u64)pmem_va(stacks) + AP_IDLE_STACK_SIZE + (i + 1) * IST_STACK_SIZE;
	pc->state = CPU_STARTING;

	struct ap_params *p = tramp_params();
	p->stack = (u64)pmem_va(stacks) + AP_IDLE_STACK_SIZE;
	p->percpu = (u64)pc;
	p->apic_id = apic_id;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	/* The MP start sequence: INIT, 10 ms, SIPI, 200 us, and a second SIPI if it is not up. */
	u64 deadline = rdtsc() + tsc_hz * timeout_us / 1000000;
	icr_send(apic_id, ICR_ASSERT | ICR_INIT);
	time_udelay(10000);
	icr_send(apic_id, ICR_ASSERT | ICR_STARTUP | (u32)(tramp_pa >> PAGE_SHIFT));
	time_udelay(200);
	if (__atomic_load_n(&pc->state, __ATOMIC_ACQUIRE) != CPU_ONLINE)
		icr_send(apic_id, ICR_ASSERT | ICR_STARTUP | (u32)(tramp_pa >> PAGE_SHIFT));
	if (!wait_online(pc, deadline)) {
		/* Parked in wait-for-SIPI: it cannot wake later on the next AP's parameters. */
		icr_send(apic_id, ICR_ASSERT | ICR_INIT);
		time_udelay(10000);
		pc->state = CPU_ABSENT;
		pmem_free(stacks, AP_STACKS_ORDER);
		return -EIO;
	}
	cpumask_set_atomic(&online_mask, cpu);
	__atomic_store_n(&nr_online, cpu + 1, __ATOMIC_RELEASE);
	return (int)cpu;
}

void smp_init(const struct boot_info *bi)
{
	struct percpu *bsp = percpu_of(0);
	unsigned failed = 0;

	bsp->apic_id = lapic_id();
	bsp->state = CPU_ONLINE;
	cpumask_set(&online_mask, 0);
	nr_online = 1;
	trap_set_irq_handler(IRQ_CALL, call_irq);

	find_cpus(bi, bsp->apic_id);
	tramp_pa = choose_tramp_page(bi);
	if (cpu_table.nr > 1 && !tramp_pa)
		printf("smp: no free RAM page below 1 MiB for the AP trampoline: the boot CPU "
		       "alone\n");
	if (tramp_pa)
		tramp_install();
	for (unsigned i = 0; tramp_pa && i < cpu_table.nr; i++) {
		u32 id = cpu_table.apic_id[i];
		if (id == bsp->apic_id)
			continue;
		int cpu = smp_start_cpu(id, AP_START_TIMEOUT_US);
		if (cpu < 0) {
			failed++;
			printf("smp: the CPU with APIC ID %u did not answer INIT-SIPI-SIPI within "
			       "%u ms (error %d): left out\n",
			       id, AP_START_TIMEOUT_US / 1000, cpu);
		}
	}
	printf("smp: %u CPU%s online (boot CPU APIC ID %u%s)", nr_online, nr_online == 1 ? "" : "s",
	       bsp->apic_id, lapic_x2apic_mode() ? ", x2APIC" : ", xAPIC");
	for (unsigned c = 1; c < nr_online; c++)
		printf("%s CPU %u APIC ID %u", c == 1 ? ":" : ",", c, percpu_of(c)->apic_id);
	if (failed)
		printf("; %u left out", failed);
	printf("\n");
}

void smp_snapshot_regs(struct cpu_regs_snapshot *s)
{
	*s = (struct cpu_regs_snapshot){
		.cr0 = read_cr0(),
		.cr4 = read_cr4(),
		.efer = rdmsr(MSR_EFER),
		.pat = rdmsr(0x277),
		.xcr0 = fpu_xcr0(),
		.star = rdmsr(MSR_STAR),
		.lstar = rdmsr(MSR_LSTAR),
		.sfmask = rdmsr(MSR_SFMASK),
		.apic_base_mode = rdmsr(MSR_APIC_BASE) & (BIT(10) | BIT(11)),
	};
	if (fpu_xsave_enabled()) {
		u32 lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		s->xcr0 = ((u64)hi << 32) | lo;
	}
}
