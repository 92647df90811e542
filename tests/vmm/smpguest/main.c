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
 *      with interrupts on, then to the AP in HLT: "smpg: latency ..." lines, for the figures.
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
#define STORM_SLOTS 4
#define LAT_MAX 200

enum ap_cmd { CMD_SPIN = 1, CMD_HLT, CMD_STORM, CMD_PARK };

/* Per CPU (0: BSP, 1: AP): the mode its local APIC is in. */
static volatile int x2[2];
static uint64_t tsc_khz;
static unsigned failed;

/* Shared with the AP. */
static volatile int ap_want_x2, ap_cmd, ap_seen;
static volatile uint32_t ap_apic_id;
static volatile unsigned ap_alive, ap_pings, ap_nudges, spurious[2];
static volatile uint64_t lat_recv;
static volatile uint32_t storm_flag[2][STORM_SLOTS];
static volatile uint64_t storm_sent[2], storm_handled[2], storm_dup[2], storm_lost[2];
static volatile uint64_t storm_end;
static volatile int storm_done;

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

void trap_entry(struct trap_frame *f)
{
	uint64_t vector = f->vector;
	int cpu = this_cpu();

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

void ap_main(void)
{
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
	storm_end = rdtsc() + us_to_tsc(seconds * 1000000);
	storm_done = 0;
	if (!ap_command(CMD_STORM)) {
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

int bsp_main(const uint8_t *boot_params)
{
	const char *cmdline = (const char *)(uint64_t) * (const uint32_t *)(boot_params + 0x228);
	uint32_t r[4];

	cpuid(0x15, r);
	tsc_khz = r[0] && r[1] ? (uint64_t)r[2] * r[1] / r[0] / 1000 : 1000000;
	uint64_t storm_s = word_value(cmdline, "smpg.storm", 2);
	unsigned lat_n = (unsigned)word_value(cmdline, "smpg.lat", 25);
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
	check(!spurious[0] && !spurious[1], "no interrupt with an unexpected vector");
	ap_command(CMD_PARK);
	puts("smpg: done, ");
	putu(failed);
	puts(" failed\n");
	return (int)failed;
}
