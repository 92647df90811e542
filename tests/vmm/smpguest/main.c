// SPDX-License-Identifier: MIT
/*
 * A two-vCPU test guest for Dyad's VMM (run with -c 2). The bootstrap processor (BSP, APIC ID 0)
 * checks, and reports on COM1 with one "smpg: ok - ..." or "smpg: FAIL - ..." line each:
 *   1. xAPIC: INIT-SIPI-SIPI through the ICR at 0xfee00000 (SIPI vector 0x10) starts the AP
 *      exactly once; the AP's real-mode code writes its CS as a mark, reaches long mode, reads
 *      APIC ID 1 over MMIO and takes a fixed IPI;
 *   2. x2APIC: the BSP switches to x2APIC and starts the running AP again by INIT-SIPI-SIPI
 *      through the ICR MSR (vector 0x11), the AP switching to x2APIC itself;
 *   3. misbehaviour, each of which the VMM reports in one line and the guest survives: a SIPI
 *      to APIC ID 9 (no such CPU), an INIT to itself, a fixed IPI with vector 5 (illegal: the
 *      sender's ESR says "send illegal vector"); the AP is neither started again nor hurt;
 *   4. an IPI storm for smpg.storm=S seconds (default 2): both vCPUs send to each other at once,
 *      four vectors each way, each vector at most once in flight; every IPI is counted by its
 *      sender and by its receiver's handler: the counts must be equal, none handled twice
 *      (a handler finding its vector's flag clear), none lost (a flag left set);
 *   5. IPI latency in TSC ticks (smpg.lat=N samples, default 25) from the BSP to the AP spinning
 *      with interrupts on, then to the AP in HLT: "smpg: latency ..." lines, for the figures;
 *   6. with smpg.inj=S (seconds; 0, the default, leaves it out): the injection stress on
 *      smpg.cpus=N vCPUs (2 to 8, run with -c N; the APs beyond the first are started by
 *      x2APIC INIT-SIPI-SIPI for it), from smpg.seed=X (printed; absent: from the TSC). Each
 *      vCPU does back-to-back x2APIC WRMSRs that exit to the VMM, each in one of four windows
 *      (interrupts on, in an STI shadow, with interrupts off, in a MOV SS shadow): fixed IPIs to
 *      the others, self-IPIs, TSC deadlines a few microseconds ahead, NMI IPIs, and a self-IPI
 *      sent with interrupts off followed by a WRMSR that must raise #GP, while it receives the
 *      others' IPIs and its own timer and self-IPIs. Some vCPUs end their interrupts through
 *      KVM's PV EOI, the others through the EOI MSR (seeded). Checked: every fixed interrupt is
 *      handled exactly once (a flag per source, set before the WRMSR, cleared by the handler:
 *      a clear flag is a double, one still set 10 s after the end a loss), none is taken with
 *      RFLAGS.IF = 0 or at a WRMSR in an STI or MOV SS shadow, each #GP comes once, no NMI comes
 *      inside the NMI handler and every vCPU sent an NMI takes at least one, at most as many.
 * The verdict on the debug port 0xf4 is the number of failed checks; an exception on either
 * vCPU reports itself and ends the VM with verdict 99.
 */
#include <stdint.h>

#include "../guest_cmdline.h"
#include "../guest_cpu.h"
#include "../guest_io.h"

#define DEBUG_EXIT 0xf4
#define MARK_ADDR 0xf000 /* entry.asm: the AP's CS (u16), then its start count (u16) */
#define APIC_MMIO 0xfee00000UL
#define APIC_BASE_MSR 0x1b
#define AP_ID 1
#define NO_SUCH_ID 9

/* xAPIC register offsets; the x2APIC MSR is 0x800 + offset / 16. */
#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR_HIGH 0x310

#define ICR_INIT 0x500
#define ICR_SIPI 0x600
#define ICR_ASSERT 0x4000
#define ICR_LEVEL 0x8000
#define ESR_SEND_ILLEGAL 0x20

#define VEC_NUDGE 0x30 /* a new command for the AP: nothing to do but look */
#define VEC_PING 0x31 /* counted by the AP */
#define VEC_STORM_TO_AP 0x40 /* 0x40-0x43: BSP to AP */
#define VEC_STORM_TO_BSP 0x50 /* 0x50-0x53: AP to BSP */
#define VEC_LATENCY 0x60
#define VEC_INJ_IPI 0x70 /* 0x70 + the sender's number: the injection stress's fixed IPIs */
#define VEC_INJ_SELF 0x80 /* its self-IPIs */
#define VEC_INJ_TIMER 0x90 /* its TSC-deadline timer */
#define MAX_CPUS 8
#define RFLAGS_IF 0x200
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_PV_EOI 0x4b564d04
#define X2APIC_EOI 0x80b
#define X2APIC_LVT_TIMER 0x832
#define X2APIC_ICR 0x830
#define X2APIC_SELF_IPI 0x83f
#define X2APIC_TPR 0x808
#define STORM_SLOTS 4
#define LAT_MAX 200

enum ap_cmd { CMD_SPIN = 1, CMD_HLT, CMD_STORM, CMD_PARK, CMD_INJ };

extern char inj_sti_at[], inj_movss_at[], inj_gp_at[];
void inj_wrmsr(uint32_t msr, uint64_t value, int how);
void inj_gp_pair(uint32_t vector);
/* The stack top the next AP starts on (entry.asm's AP_STACK_TOP); set before each SIPI. */
uint64_t ap_stack_top;

/* The stacks of CPUs 2.. (the injection stress only). */
static uint8_t more_stacks[MAX_CPUS - 2][GUEST_STACK_SIZE] __attribute__((aligned(16)));

/* Per CPU (0: BSP, 1: the AP, 2..: the injection stress's): the mode its local APIC is in. */
static volatile int x2[MAX_CPUS];
static uint64_t tsc_khz;
static unsigned failed;

/* Shared with the AP. */
static volatile int ap_want_x2, ap_cmd, ap_seen;
static volatile uint32_t ap_apic_id;
static volatile unsigned ap_alive, ap_pings, ap_nudges, spurious[MAX_CPUS];
/* Maskable interrupts taken with RFLAGS.IF = 0, or at a WRMSR in an STI / MOV SS shadow. */
static volatile uint64_t bad_if[MAX_CPUS], bad_shadow[MAX_CPUS];
/* Of those in a shadow: NMIs at the MOV SS one, maskable ones at the STI one; the first vector. */
static volatile uint64_t bad_nmi_movss[MAX_CPUS], bad_sti[MAX_CPUS], bad_vector[MAX_CPUS];
/* Where the first interrupt taken with IF = 0 and the first double came: vector << 56 | RIP. */
static volatile uint64_t bad_if_at[MAX_CPUS], dup_at[MAX_CPUS];
static volatile uint64_t lat_recv;
static volatile uint32_t storm_flag[2][STORM_SLOTS];
static volatile uint64_t storm_sent[2], storm_handled[2], storm_dup[2], storm_lost[2];
static volatile uint64_t storm_end;
static volatile int storm_done;

/*
 * The injection stress. Flags: [target][sender] for fixed IPIs, per CPU for self-IPIs and the
 * timer: set by the source before its WRMSR, cleared by the handler. Each counter is written by
 * one CPU only (its own), except nmi_sent, which senders add to atomically.
 */
static unsigned inj_cpus;
static uint64_t inj_seed;
static volatile uint64_t inj_end;
static volatile int inj_go;
static volatile unsigned inj_done;
static volatile uint32_t ipi_flag[MAX_CPUS][MAX_CPUS], self_flag[MAX_CPUS], timer_flag[MAX_CPUS];
static volatile uint64_t ipi_sent[MAX_CPUS], ipi_handled[MAX_CPUS], ipi_dup[MAX_CPUS];
static volatile uint64_t self_sent[MAX_CPUS], self_handled[MAX_CPUS], self_dup[MAX_CPUS];
static volatile uint64_t timer_armed[MAX_CPUS], timer_fired[MAX_CPUS], timer_dup[MAX_CPUS];
static volatile uint64_t gp_expected[MAX_CPUS], gp_seen[MAX_CPUS], inj_lost[MAX_CPUS];
/* What was left at the end of the wait: bit 0 its self-IPI, 1 its timer, 2 + t its IPI to t. */
static volatile uint64_t inj_left[MAX_CPUS], inj_apic[MAX_CPUS];
static volatile uint64_t nmi_sent[MAX_CPUS], nmi_recv[MAX_CPUS], nmi_nested[MAX_CPUS];
static volatile int in_nmi[MAX_CPUS], pv_on[MAX_CPUS];
static volatile uint64_t pv_eois[MAX_CPUS], wrmsrs[MAX_CPUS];
/* KVM's PV EOI words, one per cache line. */
static volatile uint64_t pv_eoi_word[MAX_CPUS][8] __attribute__((aligned(64)));

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (uint64_t)hi << 32;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(0));
}

static inline void pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static void check(int ok, const char *what)
{
	puts(ok ? "smpg: ok - " : "smpg: FAIL - ");
	puts(what);
	putc('\n');
	if (!ok)
		failed++;
}

static uint64_t us_to_tsc(uint64_t us)
{
	return us * tsc_khz / 1000;
}

static void wait_us(uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	while (rdtsc() < end)
		pause();
}

/* Waits up to @us for *@p == @want; returns whether it came. */
static int wait_for(volatile unsigned *p, unsigned want, uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	while (*p != want)
		if (rdtsc() > end)
			return 0;
	return 1;
}

/* The xAPIC page through a plain register MOV: the instructions the VMM decodes. */
static void mmio_write(uint32_t reg, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(APIC_MMIO + reg) : "memory");
}

static uint32_t mmio_read(uint32_t reg)
{
	uint32_t v;

	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(APIC_MMIO + reg) : "memory");
	return v;
}

static void apic_write(int cpu, uint32_t reg, uint32_t v)
{
	if (x2[cpu])
		wrmsr(0x800 + reg / 16, v);
	else
		mmio_write(reg, v);
}

static uint32_t apic_read(int cpu, uint32_t reg)
{
	if (x2[cpu])
		return (uint32_t)rdmsr(0x800 + reg / 16);
	return mmio_read(reg);
}

/* An IPI from @cpu's APIC: ICR low @low to APIC ID @dest (physical). */
static void send_ipi(int cpu, uint32_t dest, uint32_t low)
{
	__asm__ volatile("mfence" ::: "memory"); /* an x2APIC ICR write orders no store */
	if (x2[cpu]) {
		wrmsr(0x830, (uint64_t)dest << 32 | low);
	} else {
		mmio_write(APIC_ICR_HIGH, dest << 24);
		mmio_write(APIC_ICR, low);
	}
}

static void apic_enable(int cpu, int x2apic)
{
	if (x2apic) {
		wrmsr(APIC_BASE_MSR, rdmsr(APIC_BASE_MSR) | 0xc00);
		x2[cpu] = 1;
	} else {
		x2[cpu] = 0;
	}
	apic_write(cpu, APIC_SVR, 0x1ff);
}

/* Which CPU this code runs on: 0 the BSP, 1 the AP, 2.. the injection stress's other APs. */
static int cpu_index(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	if (sp >= (uintptr_t)more_stacks && sp < (uintptr_t)more_stacks + sizeof(more_stacks))
		return 2 + (int)((sp - (uintptr_t)more_stacks) / sizeof(more_stacks[0]));
	return this_cpu();
}

/* The EOI of the injection stress's vectors: through PV EOI where this CPU enabled it. */
static void inj_eoi(int cpu)
{
	if (pv_on[cpu]) {
		uint8_t skipped;

		/* One instruction, as Linux's: the VMM reads the word only while we are out. */
		__asm__ volatile("btrq $0, %1; setc %0"
				 : "=r"(skipped), "+m"(pv_eoi_word[cpu][0])
				 :
				 : "memory", "cc");
		if (skipped) {
			pv_eois[cpu]++;
			return;
		}
	}
	wrmsr(X2APIC_EOI, 0);
}

/* Counts a fixed interrupt whose source set *@flag before sending it. */
static void take_flag(volatile uint32_t *flag, volatile uint64_t *handled, volatile uint64_t *dup)
{
	if (__atomic_exchange_n(flag, 0, __ATOMIC_SEQ_CST))
		(*handled)++;
	else
		(*dup)++;
}

/*
 * Called by the trap stubs with interrupts off; the #GP of inj_gp_pair changes the frame's RIP
 * to step over its WRMSR.
 */
void trap_entry(struct trap_frame *f)
{
	uint64_t vector = f->vector, rip = f->rip;
	int cpu = cpu_index();

	if (vector == 2) { /* NMI IPIs of the injection stress */
		if (in_nmi[cpu])
			nmi_nested[cpu]++;
		in_nmi[cpu] = 1;
		nmi_recv[cpu]++;
		if (rip == (uint64_t)inj_movss_at) {
			bad_shadow[cpu]++;
			bad_nmi_movss[cpu]++;
			bad_vector[cpu] = bad_vector[cpu] ? bad_vector[cpu] : 2;
		}
		in_nmi[cpu] = 0;
		return;
	}
	if (vector == 13 && rip == (uint64_t)inj_gp_at) {
		gp_seen[cpu]++;
		f->rip += 2; /* past the WRMSR */
		return;
	}
	if (vector < 32) {
		puts("smpg: FAIL - exception ");
		putu(vector);
		puts(" on vCPU ");
		putu((uint64_t)cpu);
		puts(" at rip ");
		puthex(f->rip);
		putc('\n');
		outb(DEBUG_EXIT, 99);
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	if (!(f->rflags & RFLAGS_IF) && !bad_if[cpu]++)
		bad_if_at[cpu] = vector << 56 | rip;
	uint64_t dups = ipi_dup[cpu] + self_dup[cpu] + timer_dup[cpu];
	if (rip == (uint64_t)inj_sti_at || rip == (uint64_t)inj_movss_at) {
		bad_shadow[cpu]++;
		bad_sti[cpu] += rip == (uint64_t)inj_sti_at;
		bad_vector[cpu] = bad_vector[cpu] ? bad_vector[cpu] : vector;
	}
	if (vector >= VEC_INJ_IPI && vector < VEC_INJ_IPI + MAX_CPUS) {
		take_flag(&ipi_flag[cpu][vector - VEC_INJ_IPI], &ipi_handled[cpu], &ipi_dup[cpu]);
	}
	if (vector == VEC_INJ_SELF)
		take_flag(&self_flag[cpu], &self_handled[cpu], &self_dup[cpu]);
	if (vector == VEC_INJ_TIMER)
		take_flag(&timer_flag[cpu], &timer_fired[cpu], &timer_dup[cpu]);
	if (vector >= VEC_INJ_IPI && vector <= VEC_INJ_TIMER) {
		if (!dups && ipi_dup[cpu] + self_dup[cpu] + timer_dup[cpu])
			dup_at[cpu] = vector << 56 | rip;
		inj_eoi(cpu);
		return;
	}
	if ((vector & ~3ull) == VEC_STORM_TO_AP || (vector & ~3ull) == VEC_STORM_TO_BSP) {
		int d = (vector & ~3ull) == VEC_STORM_TO_BSP;

		/* Handled once: the sender set the flag before it sent. */
		if (__atomic_exchange_n(&storm_flag[d][vector & 3], 0, __ATOMIC_SEQ_CST))
			storm_handled[d]++;
		else
			storm_dup[d]++;
	} else if (vector == VEC_LATENCY) {
		lat_recv = rdtsc();
	} else if (vector == VEC_PING) {
		ap_pings++;
	} else if (vector == VEC_NUDGE) {
		ap_nudges++;
	} else {
		spurious[cpu]++;
	}
	apic_write(cpu, APIC_EOI, 0);
}

/*
 * Direction @d's sender on @cpu: keeps each of the four vectors in flight to @peer until the
 * TSC passes storm_end. A vector still in flight 10 s later is lost (patient: the emulator's
 * threads share a loaded host).
 */
static void storm_send(int cpu, int d, uint32_t peer)
{
	uint32_t base = d ? VEC_STORM_TO_BSP : VEC_STORM_TO_AP;
	uint64_t last = rdtsc(), patience = us_to_tsc(10000000);

	for (;;) {
		uint64_t now = rdtsc();
		if (now >= storm_end)
			break;
		for (int s = 0; s < STORM_SLOTS; s++) {
			if (storm_flag[d][s])
				continue;
			storm_flag[d][s] = 1;
			storm_sent[d]++;
			send_ipi(cpu, peer, base + (uint32_t)s);
			last = now;
		}
		if (now - last > patience)
			break;
		pause();
	}
	uint64_t end = rdtsc() + patience;
	unsigned left;
	do {
		left = 0;
		for (int s = 0; s < STORM_SLOTS; s++)
			left += storm_flag[d][s] != 0;
	} while (left && rdtsc() < end);
	storm_lost[d] = left;
}

/* xorshift64*: each CPU's sequence of operations follows from the seed and its number. */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

/* A CPU other than @cpu, chosen by @r. */
static unsigned other_cpu(int cpu, uint64_t r)
{
	unsigned t = (unsigned)(r % (inj_cpus - 1));

	return t >= (unsigned)cpu ? t + 1 : t;
}

/*
 * One CPU's part of the injection stress, interrupts on, until the TSC passes inj_end; then it
 * waits (up to 10 s) for the interrupts it sent to be handled and counts those left as lost.
 */
static void inj_worker(int cpu)
{
	uint64_t x = inj_seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(cpu + 1));
	uint64_t window = us_to_tsc(300);

	if (!x)
		x = 1;
	wrmsr(X2APIC_LVT_TIMER, VEC_INJ_TIMER | 2u << 17); /* TSC-deadline mode */
	if (pv_on[cpu]) {
		pv_eoi_word[cpu][0] = 0;
		wrmsr(MSR_PV_EOI, (uint64_t)&pv_eoi_word[cpu][0] | 1);
	}
	while (rdtsc() < inj_end) {
		uint64_t r = next_random(&x);
		int how = (int)(r >> 4) & 3;
		unsigned t = other_cpu(cpu, r >> 8);

		switch (r & 15) {
		case 0 ... 5: /* a fixed IPI to another CPU */
			if (ipi_flag[t][cpu])
				break;
			ipi_flag[t][cpu] = 1;
			ipi_sent[cpu]++;
			__asm__ volatile("mfence" ::: "memory");
			inj_wrmsr(X2APIC_ICR, (uint64_t)t << 32 | (VEC_INJ_IPI + (unsigned)cpu),
				  how);
			break;
		case 6 ... 8: /* a self-IPI */
			if (self_flag[cpu])
				break;
			self_flag[cpu] = 1;
			self_sent[cpu]++;
			inj_wrmsr(X2APIC_SELF_IPI, VEC_INJ_SELF, how);
			break;
		case 9 ... 11: /* the timer, due within 300 us (or already past) */
			if (timer_flag[cpu])
				break;
			timer_flag[cpu] = 1;
			timer_armed[cpu]++;
			inj_wrmsr(MSR_TSC_DEADLINE, rdtsc() + (r >> 32) % window - window / 8, how);
			break;
		case 12: /* a self-IPI with interrupts off, then a #GP, then STI */
			if (self_flag[cpu])
				break;
			self_flag[cpu] = 1;
			self_sent[cpu]++;
			gp_expected[cpu]++;
			inj_gp_pair(VEC_INJ_SELF);
			break;
		case 13: /* now and then an NMI IPI */
			if ((r >> 40) & 7)
				break;
			__atomic_fetch_add(&nmi_sent[t], 1, __ATOMIC_SEQ_CST);
			inj_wrmsr(X2APIC_ICR, (uint64_t)t << 32 | 0x400, how);
			break;
		case 14: /* a pause of up to 64 spins */
			for (unsigned i = (unsigned)(r >> 48) & 63; i; i--)
				pause();
			break;
		default: /* a WRMSR that changes nothing: TPR 0 */
			inj_wrmsr(X2APIC_TPR, 0, how);
		}
		wrmsrs[cpu]++;
	}
	uint64_t end = rdtsc() + us_to_tsc(10000000);
	unsigned left;
	do {
		left = self_flag[cpu] + timer_flag[cpu];
		for (unsigned t = 0; t < inj_cpus; t++)
			left += ipi_flag[t][cpu];
	} while (left && rdtsc() < end);
	inj_lost[cpu] = left;
	if (left) /* the APIC as the VMM has it: ISR and IRR of vectors 0x60-0x9f */
		inj_apic[cpu] = rdmsr(0x813) << 48 | rdmsr(0x814) << 32 | rdmsr(0x823) << 16 |
				rdmsr(0x824);
	inj_left[cpu] = self_flag[cpu] | timer_flag[cpu] << 1;
	for (unsigned t = 0; t < inj_cpus; t++)
		inj_left[cpu] |= (uint64_t)ipi_flag[t][cpu] << (2 + t);
	__atomic_fetch_add(&inj_done, 1, __ATOMIC_SEQ_CST);
}

/* CPUs 2.. of the injection stress: x2APIC, this image's IDT, its part, then parked. */
static void more_ap_main(int cpu)
{
	apic_enable(cpu, 1);
	idt_load();
	__atomic_fetch_add(&ap_alive, 1, __ATOMIC_SEQ_CST);
	__asm__ volatile("sti");
	while (!inj_go)
		pause();
	inj_worker(cpu);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void ap_main(void)
{
	if (cpu_index() >= 2)
		more_ap_main(cpu_index());
	apic_enable(1, ap_want_x2);
	ap_apic_id = x2[1] ? apic_read(1, APIC_ID) : apic_read(1, APIC_ID) >> 24;
	idt_load();
	ap_cmd = CMD_SPIN;
	__atomic_fetch_add(&ap_alive, 1, __ATOMIC_SEQ_CST);
	__asm__ volatile("sti");
	for (;;) {
		int c = ap_cmd;

		ap_seen = c;
		switch (c) {
		case CMD_HLT:
			__asm__ volatile("hlt" ::: "memory");
			break;
		case CMD_STORM:
			storm_send(1, 1, 0);
			storm_done = 1;
			while (ap_cmd == CMD_STORM)
				pause();
			break;
		case CMD_PARK:
			__asm__ volatile("cli; hlt");
			break;
		case CMD_INJ:
			while (!inj_go)
				pause();
			inj_worker(1);
			while (ap_cmd == CMD_INJ)
				pause();
			break;
		default:
			pause();
		}
	}
}

/* Gives the AP a command and waits until its loop has seen it (nudging it out of HLT). */
static int ap_command(int c)
{
	ap_cmd = c;
	for (int i = 0; i < 10000; i++) {
		if (ap_seen == c)
			return 1;
		send_ipi(0, AP_ID, VEC_NUDGE);
		wait_us(1000);
	}
	return ap_seen == c;
}

/*
 * INIT-SIPI-SIPI to the AP through the BSP's APIC in its current mode, the AP to run its APIC
 * in @ap_x2; checks the start and the mark. @what names the interface in the check lines.
 */
static void start_ap(uint8_t vector, int ap_x2, const char *what)
{
	volatile uint16_t *mark = (volatile uint16_t *)MARK_ADDR;
	unsigned alive = ap_alive;
	uint16_t starts = mark[1];

	tramp_install(vector);
	mark[0] = 0;
	ap_want_x2 = ap_x2;
	ap_apic_id = ~0u;
	send_ipi(0, AP_ID, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	if (!ap_x2)
		send_ipi(0, AP_ID,
			 ICR_INIT | ICR_LEVEL); /* de-assert: what the MP spec's BIOS does */
	wait_us(10000);
	send_ipi(0, AP_ID, ICR_SIPI | ICR_ASSERT | vector);
	wait_us(200);
	send_ipi(0, AP_ID, ICR_SIPI | ICR_ASSERT | vector);
	int up = wait_for(&ap_alive, alive + 1, 20000000);

	puts("smpg: ");
	puts(what);
	puts(": AP mark ");
	puthex(mark[0]);
	puts(", starts ");
	putu((uint16_t)(mark[1] - starts));
	puts(", APIC ID ");
	putu(ap_apic_id);
	putc('\n');
	check(up && mark[0] == (uint16_t)(vector << 8),
	      x2[0] ? "x2APIC: INIT-SIPI-SIPI started the AP at the SIPI vector's page (mark = CS)"
		    : "xAPIC: INIT-SIPI-SIPI started the AP at the SIPI vector's page (mark = CS)");
	check(up && (uint16_t)(mark[1] - starts) == 1,
	      x2[0] ? "x2APIC: the AP started once (the second SIPI ignored)"
		    : "xAPIC: the AP started once (the second SIPI ignored)");
	check(ap_apic_id == AP_ID, ap_x2 ? "x2APIC: the AP reads APIC ID 1 from MSR 0x802"
					 : "xAPIC: the AP reads APIC ID 1 at 0xfee00020");
	unsigned pings = ap_pings;
	send_ipi(0, AP_ID, ICR_ASSERT | VEC_PING);
	check(wait_for(&ap_pings, pings + 1, 10000000),
	      ap_x2 ? "x2APIC: a fixed IPI reached the AP" : "xAPIC: a fixed IPI reached the AP");
}

static void misbehave(void)
{
	volatile uint16_t *mark = (volatile uint16_t *)MARK_ADDR;
	uint16_t starts = mark[1];
	unsigned alive = ap_alive;

	send_ipi(0, NO_SUCH_ID, ICR_SIPI | ICR_ASSERT | 0x10);
	send_ipi(0, 0, ICR_INIT | ICR_ASSERT | ICR_LEVEL); /* to APIC ID 0: this CPU */
	apic_write(0, APIC_ESR, 0);
	send_ipi(0, AP_ID, ICR_ASSERT | 5);
	apic_write(0, APIC_ESR, 0); /* loads the errors since the last write */
	uint32_t esr = apic_read(0, APIC_ESR);
	check(esr & ESR_SEND_ILLEGAL,
	      "an IPI with vector 5 is refused: ESR says send illegal vector");
	/* An INIT taken would have put the APIC back in xAPIC mode, software-disabled. */
	check((rdmsr(APIC_BASE_MSR) & 0x400) && apic_read(0, APIC_SVR) == 0x1ff,
	      "an INIT to itself leaves the BSP running, its APIC as it was (x2APIC, enabled)");
	unsigned pings = ap_pings;
	send_ipi(0, AP_ID, ICR_ASSERT | VEC_PING);
	check(wait_for(&ap_pings, pings + 1, 10000000) && mark[1] == starts && ap_alive == alive,
	      "after a SIPI to APIC ID 9 and the illegal vector the AP runs on, not restarted");
}

static void storm(uint64_t seconds)
{
	/* The storm's clock starts once the AP has the command: under Bochs that alone can take
	 * longer than a short storm, and the BSP then sent nothing. */
	storm_end = ~0ULL;
	storm_done = 0;
	int taken = ap_command(CMD_STORM);
	storm_end = rdtsc() + us_to_tsc(seconds * 1000000); /* also ends an AP that began late */
	if (!taken) {
		check(0, "the AP took the storm command");
		return;
	}
	uint64_t t0 = rdtsc();
	storm_send(0, 0, AP_ID);
	wait_for((volatile unsigned *)&storm_done, 1, 30000000);
	uint64_t ticks = rdtsc() - t0;
	ap_command(CMD_SPIN);
	for (int d = 0; d < 2; d++) {
		puts(d ? "smpg: storm AP->BSP: sent " : "smpg: storm BSP->AP: sent ");
		putu(storm_sent[d]);
		puts(", handled ");
		putu(storm_handled[d]);
		puts(", twice ");
		putu(storm_dup[d]);
		puts(", lost ");
		putu(storm_lost[d]);
		puts(", per second ");
		putu(storm_handled[d] * tsc_khz * 1000 / (ticks ? ticks : 1));
		putc('\n');
	}
	check(storm_done, "storm: the AP's sender finished");
	check(storm_sent[0] && storm_sent[1], "storm: both vCPUs sent IPIs");
	check(storm_sent[0] == storm_handled[0] && storm_sent[1] == storm_handled[1],
	      "storm: every IPI sent was handled, counted on both sides");
	check(!storm_dup[0] && !storm_dup[1], "storm: no IPI handled twice");
	check(!storm_lost[0] && !storm_lost[1], "storm: no IPI lost");
}

static void sort(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

static void latency(unsigned n, int halted)
{
	static uint64_t lat[LAT_MAX];
	unsigned got = 0;

	if (!ap_command(halted ? CMD_HLT : CMD_SPIN)) {
		check(0, "the AP took the latency command");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		wait_us(2000); /* the AP back in its loop, or in HLT */
		lat_recv = 0;
		uint64_t t0 = rdtsc();
		send_ipi(0, AP_ID, ICR_ASSERT | VEC_LATENCY);
		uint64_t end = t0 + us_to_tsc(10000000);
		while (!lat_recv && rdtsc() < end)
			pause();
		if (lat_recv)
			lat[got++] = lat_recv - t0;
	}
	sort(lat, got);
	puts(halted ? "smpg: latency to a halted vCPU: " : "smpg: latency to a running vCPU: ");
	if (got) {
		puts("median ");
		putu(lat[got / 2]);
		puts(" ticks (");
		putu(lat[got / 2] * 1000000 / tsc_khz);
		puts(" ns), min ");
		putu(lat[0]);
		puts(", max ");
		putu(lat[got - 1]);
		puts(", of ");
		putu(got);
		puts(" samples\n");
	} else {
		puts("no sample\n");
	}
	check(got == n, halted ? "latency: every IPI woke the halted AP"
			       : "latency: every IPI reached the running AP");
}

static uint64_t sum(const volatile uint64_t *v)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < inj_cpus; i++)
		s += v[i];
	return s;
}

/* Starts CPU @cpu (APIC ID @cpu) by x2APIC INIT-SIPI-SIPI at the page start_ap() left at 0x11. */
static int start_more_ap(int cpu)
{
	unsigned alive = ap_alive;

	ap_stack_top = (uint64_t)more_stacks[cpu - 2] + sizeof(more_stacks[0]);
	ap_want_x2 = 1;
	send_ipi(0, (uint32_t)cpu, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	wait_us(10000);
	send_ipi(0, (uint32_t)cpu, ICR_SIPI | ICR_ASSERT | 0x11);
	wait_us(200);
	send_ipi(0, (uint32_t)cpu, ICR_SIPI | ICR_ASSERT | 0x11);
	return wait_for(&ap_alive, alive + 1, 20000000);
}

static void inject_stress(uint64_t seconds, unsigned cpus, uint64_t seed)
{
	inj_cpus = cpus;
	inj_seed = seed;
	puts("smpg: injection stress on ");
	putu(cpus);
	puts(" vCPUs for ");
	putu(seconds);
	puts(" s, seed ");
	putu(seed);
	puts(" (replay each vCPU's operations: smpg.seed=");
	putu(seed);
	puts("), PV EOI on vCPUs");
	for (unsigned c = 0; c < cpus; c++) {
		pv_on[c] = (int)((seed >> c) & 1);
		if (pv_on[c]) {
			putc(' ');
			putu(c);
		}
	}
	putc('\n');
	int up = 1;
	for (unsigned c = 2; c < cpus; c++)
		up &= start_more_ap((int)c);
	check(up, "injection: every vCPU is up");
	if (!up || !ap_command(CMD_INJ))
		return;
	inj_done = 0;
	inj_end = rdtsc() + us_to_tsc(seconds * 1000000);
	inj_go = 1;
	inj_worker(0);
	wait_for(&inj_done, cpus, 30000000);
	ap_command(CMD_SPIN);
	for (unsigned c = 0; c < cpus; c++) {
		puts("smpg: injection vCPU ");
		putu(c);
		puts(": WRMSRs ");
		putu(wrmsrs[c]);
		puts(", IPIs in ");
		putu(ipi_handled[c]);
		puts(" (twice ");
		putu(ipi_dup[c]);
		puts("), self ");
		putu(self_handled[c]);
		puts("/");
		putu(self_sent[c]);
		puts(" (twice ");
		putu(self_dup[c]);
		puts("), timer ");
		putu(timer_fired[c]);
		puts("/");
		putu(timer_armed[c]);
		puts(" (twice ");
		putu(timer_dup[c]);
		puts("), #GP ");
		putu(gp_seen[c]);
		puts("/");
		putu(gp_expected[c]);
		puts(", NMI ");
		putu(nmi_recv[c]);
		puts("/");
		putu(nmi_sent[c]);
		puts(", lost ");
		putu(inj_lost[c]);
		if (inj_lost[c]) {
			puts(" (");
			puthex(inj_left[c]);
			puts(", APIC ");
			puthex(inj_apic[c]);
			puts(")");
		}
		puts(", IF=0 ");
		putu(bad_if[c]);
		puts(", shadow ");
		putu(bad_shadow[c]);
		puts(" (NMI at MOV SS ");
		putu(bad_nmi_movss[c]);
		puts(", at STI ");
		putu(bad_sti[c]);
		puts(", first vector ");
		puthex(bad_vector[c]);
		puts(")");
		puts(", PV EOIs ");
		putu(pv_eois[c]);
		if (bad_if[c]) {
			puts(", first IF=0 at ");
			puthex(bad_if_at[c]);
		}
		if (ipi_dup[c] + self_dup[c] + timer_dup[c]) {
			puts(", first double at ");
			puthex(dup_at[c]);
		}
		putc('\n');
	}
	int nmi_ok = 1;
	for (unsigned c = 0; c < cpus; c++)
		nmi_ok &= nmi_recv[c] <= nmi_sent[c] && (nmi_recv[c] > 0) == (nmi_sent[c] > 0);
	check(inj_done == cpus, "injection: every vCPU finished");
	check(sum(ipi_sent) && sum(self_sent) && sum(timer_armed) && sum(gp_expected),
	      "injection: IPIs, self-IPIs, timers and #GPs all happened");
	check(sum(ipi_sent) == sum(ipi_handled) && !sum(ipi_dup),
	      "injection: every fixed IPI handled exactly once");
	check(sum(self_sent) == sum(self_handled) && !sum(self_dup),
	      "injection: every self-IPI handled exactly once");
	check(sum(timer_armed) == sum(timer_fired) && !sum(timer_dup),
	      "injection: every TSC deadline fired exactly once");
	check(!sum(inj_lost), "injection: no interrupt lost");
	check(sum(gp_seen) == sum(gp_expected),
	      "injection: each WRMSR to a read-only register raised #GP once");
	check(!sum(bad_if), "injection: no interrupt taken with RFLAGS.IF = 0");
	check(!sum(bad_shadow), "injection: no interrupt taken in an STI or MOV SS shadow");
	check(!sum(nmi_nested), "injection: no NMI inside the NMI handler");
	check(nmi_ok, "injection: every vCPU sent an NMI took one, at most as many as were sent");
}

int bsp_main(const uint8_t *boot_params)
{
	const char *cmdline = (const char *)(uint64_t) * (const uint32_t *)(boot_params + 0x228);
	uint32_t r[4];

	cpuid(0x15, r);
	tsc_khz = r[0] && r[1] ? (uint64_t)r[2] * r[1] / r[0] / 1000 : 1000000;
	uint64_t storm_s = word_value(cmdline, "smpg.storm", 2);
	unsigned lat_n = (unsigned)word_value(cmdline, "smpg.lat", 25);
	uint64_t inj_s = word_value(cmdline, "smpg.inj", 0);
	unsigned cpus = (unsigned)word_value(cmdline, "smpg.cpus", 2);
	uint64_t seed = word_value(cmdline, "smpg.seed", 0);
	if (!seed)
		seed = rdtsc() % 1000000007;
	if (cpus < 2 || cpus > MAX_CPUS) {
		puts("smpg: smpg.cpus must be 2 to 8\n");
		return 1;
	}
	if (lat_n > LAT_MAX)
		lat_n = LAT_MAX;
	puts("smpg: start, TSC ");
	putu(tsc_khz);
	puts(" kHz, storm ");
	putu(storm_s);
	puts(" s, ");
	putu(lat_n);
	puts(" latency samples\n");

	guest_cpu_init();
	ap_stack_top = (uint64_t)ap_stack + GUEST_STACK_SIZE;
	check(!(rdmsr(APIC_BASE_MSR) & 0x400), "the BSP starts in xAPIC mode");
	apic_enable(0, 0);
	__asm__ volatile("sti");
	start_ap(0x10, 0, "xAPIC");
	apic_enable(0, 1);
	start_ap(0x11, 1, "x2APIC");
	misbehave();
	storm(storm_s);
	latency(lat_n, 0);
	latency(lat_n, 1);
	if (inj_s)
		inject_stress(inj_s, cpus, seed);
	check(!spurious[0] && !spurious[1], "no interrupt with an unexpected vector");
	ap_command(CMD_PARK);
	puts("smpg: done, ");
	putu(failed);
	puts(" failed\n");
	return (int)failed;
}
