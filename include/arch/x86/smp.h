/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_SMP_H
#define ARCH_X86_SMP_H

#include <arch/x86/percpu.h>
#include <dyad/types.h>

/*
 * Every CPU of the machine: found in the firmware's tables (include/arch/x86/acpi.h), started
 * with INIT-SIPI-SIPI through a real-mode trampoline below 1 MiB, each with its own GDT, TSS,
 * IST stacks, per-CPU data (include/arch/x86/percpu.h) and LAPIC timer. Every CPU runs
 * threads from the one run queue (kern/sched.c), and idles in `sti; hlt` when there are none;
 * each also runs what smp_call_*() sends it.
 */

/* A set of CPUs by index. The atomic forms may race with each other on one mask. */
typedef struct {
	u64 bits[(SMP_MAX_CPUS + 63) / 64];
} cpumask_t;

static inline void cpumask_clear(cpumask_t *m)
{
	for (unsigned i = 0; i < ARRAY_SIZE(m->bits); i++)
		m->bits[i] = 0;
}

static inline void cpumask_set(cpumask_t *m, unsigned cpu)
{
	m->bits[cpu / 64] |= BIT(cpu % 64);
}

static inline void cpumask_unset(cpumask_t *m, unsigned cpu)
{
	m->bits[cpu / 64] &= ~BIT(cpu % 64);
}

static inline bool cpumask_test(const cpumask_t *m, unsigned cpu)
{
	return cpu < SMP_MAX_CPUS && (m->bits[cpu / 64] & BIT(cpu % 64));
}

static inline void cpumask_set_atomic(cpumask_t *m, unsigned cpu)
{
	__atomic_fetch_or(&m->bits[cpu / 64], BIT(cpu % 64), __ATOMIC_SEQ_CST);
}

static inline void cpumask_unset_atomic(cpumask_t *m, unsigned cpu)
{
	__atomic_fetch_and(&m->bits[cpu / 64], ~BIT(cpu % 64), __ATOMIC_SEQ_CST);
}

static inline unsigned cpumask_weight(const cpumask_t *m)
{
	unsigned n = 0;

	/* Bit by bit: a freestanding build has no popcount helper to call. */
	for (unsigned i = 0; i < ARRAY_SIZE(m->bits); i++)
		for (u64 b = m->bits[i]; b; b &= b - 1)
			n++;
	return n;
}

/* The next CPU in @m at or after @cpu, or SMP_MAX_CPUS. */
static inline unsigned cpumask_next(const cpumask_t *m, unsigned cpu)
{
	for (; cpu < SMP_MAX_CPUS; cpu++)
		if (m->bits[cpu / 64] & BIT(cpu % 64))
			return cpu;
	return SMP_MAX_CPUS;
}

#define for_each_cpu(cpu, m)                                                                       \
	for ((cpu) = cpumask_next((m), 0); (cpu) < SMP_MAX_CPUS;                                   \
	     (cpu) = cpumask_next((m), (cpu) + 1))

/* The vector of call IPIs (smp_call_mask). */
#define IRQ_CALL 0xf0
/* The vector of resched IPIs: the target looks at the run queue (kern/sched.c). */
#define IRQ_RESCHED 0xf1

/* Sends a resched IPI to CPU @cpu if it is online. Any context. */
void smp_send_resched(unsigned cpu);

struct boot_info;

/*
 * Finds the CPUs (ACPI MADT, else MP table, else the boot CPU alone), prints their count and
 * APIC IDs, and starts each AP in turn. An AP that does not reach its idle loop in time is
 * reported, sent INIT again (so that it cannot wake later on another CPU's stack) and left out;
 * boot goes on. Call with interrupts on, after timer_init() and before the first process.
 */
void smp_init(const struct boot_info *bi);

/* CPUs online (in their idle loop, or the boot CPU), and their set. */
unsigned smp_cpus_online(void);
const cpumask_t *smp_online_mask(void);

typedef void (*smp_call_fn)(void *arg);

/*
 * Runs @fn(@arg) on every online CPU in @mask and returns when all have returned. This CPU,
 * if in @mask, runs it directly (with interrupts off, as the others run it from their IPI
 * handler). @fn must not sleep, take a lock its caller holds, or call smp_call_*(). Call it
 * with interrupts on: a CPU that waits here with them off may hold up another's call. A CPU
 * that does not answer within seconds is a broken machine: panic, never a hang.
 * Returns the number of CPUs that ran @fn.
 */
unsigned smp_call_mask(const cpumask_t *mask, smp_call_fn fn, void *arg);

/*
 * Runs the call waiting for this CPU, if there is one, as its IPI would. For code that spins
 * for a lock whose holder may be waiting in smp_call_mask() for this CPU (the pmap's lock,
 * which a page fault takes with interrupts off).
 */
void smp_call_poll(void);

/*
 * Called by a call's function on a target CPU: its caller stops waiting for this CPU now, and
 * the function goes on (interrupts still off, the call vector still in service, so it must
 * smp_call_poll() to take later calls, and must not touch its caller's argument once the
 * caller may have returned). For tests that keep CPUs busy while the caller works on.
 */
void smp_call_release(void);

/* smp_call_mask() on CPU @cpu alone; 0 if it is not online. */
unsigned smp_call_on(unsigned cpu, smp_call_fn fn, void *arg);

/*
 * Starts the AP with local APIC ID @apic_id and waits up to @timeout_us for it to reach its
 * idle loop. Returns its CPU index, or -ETIMEDOUT (it did not answer: it is sent INIT and left
 * out), -ENOSPC (no CPU slot or memory left) or -EEXIST (that APIC ID is already online).
 */
int smp_start_cpu(u32 apic_id, u64 timeout_us);

struct cpu_table;
/* The CPUs the firmware listed (or the boot CPU alone), as smp_init() found them. */
const struct cpu_table *smp_cpu_table(void);
/* Reads the MP table into @out, whatever smp_init() used; NULL or mptable_cpus()'s sentence. */
const char *smp_read_mptable(struct cpu_table *out);

/* The boot CPU's control state, which smp_ktest compares on every CPU. */
struct cpu_regs_snapshot {
	u64 cr0, cr4, efer, pat, xcr0, star, lstar, sfmask, apic_base_mode;
};
void smp_snapshot_regs(struct cpu_regs_snapshot *s);

#endif
