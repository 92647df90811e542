// SPDX-License-Identifier: MIT
/*
 * Time: the TSC frequency and the periodic LAPIC timer, both measured against PIT channel 2,
 * whose 1.193182 MHz input is the one rate every PC (and every emulator) gets right. Emulators
 * make CPUID's TSC claims unreliable (Bochs claims 3.5 GHz and ticks at its ips rate).
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/kmap.h>
#include <arch/x86/lapic.h>
#include <arch/x86/percpu.h>
#include <arch/x86/rtc.h>
#include <arch/x86/trap.h>
#include <dyad/printf.h>
#include <dyad/sched.h>
#include <dyad/time.h>

#define PIT_HZ 1193182ULL
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61 /* bit 0: channel 2 gate, bit 1: speaker, bit 5: channel 2 output */
#define CALIBRATE_MS 20

#define LAPIC_MMIO_PA 0xfee00000ULL
#define APIC_BASE_ENABLE BIT(11)
#define APIC_BASE_X2APIC BIT(10)
#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0b0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define MSR_X2APIC_ID 0x802
#define MSR_X2APIC_ICR 0x830
#define ICR_NMI (4u << 8)
#define ICR_ASSERT BIT(14)
#define LAPIC_SVR 0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LVT_MASKED BIT(16)
#define LVT_PERIODIC BIT(17)
#define TIMER_DIV_16 0x3

u64 tsc_hz;
volatile u64 timer_ticks;
u64 timer_start_tsc;
static u64 lapic_timer_hz;
/* CLOCK_REALTIME minus time_ns(): the RTC's reading, moved back to CPU reset. */
static u64 realtime_at_reset_ns;
static volatile u32 *lapic_mmio;

/* Register access: MSR 0x800 + reg/16 in x2APIC mode, MMIO otherwise. */
u32 lapic_read(u32 reg)
{
	if (!lapic_mmio)
		return (u32)rdmsr(0x800 + (reg >> 4));
	return lapic_mmio[reg / 4];
}

void lapic_write(u32 reg, u32 v)
{
	if (!lapic_mmio)
		wrmsr(0x800 + (reg >> 4), v);
	else
		lapic_mmio[reg / 4] = v;
}

/* Every CPU's LAPIC sits at the same address and in the same mode as the boot CPU's. */
static void lapic_enable(void)
{
	u64 base = rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE;

	if (cpu_features.x2apic) {
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_X2APIC);
	} else {
		wrmsr(MSR_APIC_BASE, base);
		if (!lapic_mmio)
			lapic_mmio = kmap_mmio(base & 0xfffff000ULL, 4096);
	}
	lapic_write(LAPIC_SVR, 0x100 | IRQ_SPURIOUS); /* software enable */
}

bool lapic_x2apic_mode(void)
{
	return !lapic_mmio;
}

u32 lapic_id(void)
{
	return lapic_mmio ? lapic_read(LAPIC_ID) >> 24 : (u32)rdmsr(MSR_X2APIC_ID);
}

/* Masks the 8259 pair after moving it off the exception vectors. */
void lapic_send_self_nmi(void)
{
	/* Physical destination = our own APIC ID, no shorthand ("self" allows fixed mode only). */
	if (!lapic_mmio) {
		wrmsr(MSR_X2APIC_ICR, (rdmsr(MSR_X2APIC_ID) << 32) | ICR_NMI | ICR_ASSERT);
		return;
	}
	lapic_write(LAPIC_ICR_HIGH, lapic_read(LAPIC_ID) & 0xff000000u);
	lapic_write(LAPIC_ICR_LOW, ICR_NMI | ICR_ASSERT);
}

static void pic_disable(void)
{
	static const u8 init[][2] = {
		{ 0x20, 0x11 }, { 0xa0, 0x11 }, /* ICW1: init, ICW4 follows */
		{ 0x21, 0x20 }, { 0xa1, 0x28 }, /* ICW2: vectors 0x20 / 0x28 */
		{ 0x21, 0x04 }, { 0xa1, 0x02 }, /* ICW3: cascade on IRQ2 */
		{ 0x21, 0x01 }, { 0xa1, 0x01 }, /* ICW4: 8086 mode */
		{ 0x21, 0xff }, { 0xa1, 0xff }, /* mask everything */
	};

	for (unsigned i = 0; i < ARRAY_SIZE(init); i++)
		outb(init[i][0], init[i][1]);
}

/*
 * Runs PIT channel 2 one-shot for CALIBRATE_MS and counts TSC ticks and LAPIC timer decrements
 * over the same interval.
 */
static void calibrate(void)
{
	u32 pit_count = PIT_HZ * CALIBRATE_MS / 1000;

	outb(PIT_GATE, (inb(PIT_GATE) & ~0x02) | 0x01); /* gate on, speaker off */
	outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0 */
	outb(PIT_CH2, pit_count & 0xff);
	outb(PIT_CH2, pit_count >> 8);

	lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	u64 tsc0 = rdtsc();

	/* Restart the count (mode 0 starts on the gate's rising edge), then wait for OUT. */
	outb(PIT_GATE, inb(PIT_GATE) & ~0x01);
	outb(PIT_GATE, inb(PIT_GATE) | 0x01);
	while (!(inb(PIT_GATE) & 0x20))
		cpu_relax();

	u64 tsc1 = rdtsc();
	u32 lapic_elapsed = 0xffffffff - lapic_read(LAPIC_TIMER_CUR);

	tsc_hz = (tsc1 - tsc0) * 1000 / CALIBRATE_MS;
	lapic_timer_hz = (u64)lapic_elapsed * 1000 / CALIBRATE_MS;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/* Every CPU counts its own ticks; timer_ticks is the boot CPU's, the clock the rest reads. */
static void timer_irq(struct trap_frame *tf)
{
	struct percpu *pc = this_cpu();

	pc->ticks++;
	if (pc->cpu == 0)
		timer_ticks++;
	lapic_write(LAPIC_EOI, 0);
	sched_tick(); /* deadlines and time slices */
}

/* The periodic timer at TIMER_HZ on this CPU, at the rate the boot CPU measured. */
static void timer_start_local(void)
{
	lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | IRQ_TIMER);
	lapic_write(LAPIC_TIMER_INIT, (u32)(lapic_timer_hz / TIMER_HZ));
}

void timer_init_ap(void)
{
	lapic_enable();
	timer_start_local();
}

static void spurious_irq(struct trap_frame *tf)
{
	/* No EOI for a spurious interrupt. */
}

void timer_init(void)
{
	pic_disable();
	lapic_enable();
	calibrate();
	trap_set_irq_handler(IRQ_TIMER, timer_irq);
	trap_set_irq_handler(IRQ_SPURIOUS, spurious_irq);
	timer_start_tsc = rdtsc();
	timer_start_local();
	printf("time: TSC %lu.%03lu MHz (measured), LAPIC timer %lu kHz, %s mode, %d Hz tick\n",
	       tsc_hz / 1000000, tsc_hz / 1000 % 1000, lapic_timer_hz / 1000,
	       lapic_mmio ? "xAPIC" : "x2APIC", TIMER_HZ);
}

static u64 tsc_to_ns(u64 t)
{
	if (!tsc_hz)
		return 0;
	/* Split so the product cannot overflow: (t % hz) * 1e9 < 2^64 for any hz below 18 GHz. */
	return t / tsc_hz * 1000000000ULL + t % tsc_hz * 1000000000ULL / tsc_hz;
}

u64 time_ns(void)
{
	return tsc_to_ns(rdtsc());
}

void time_wall_clock_init(void)
{
	struct rtc_regs r;
	struct rtc_date d;

	if (!rtc_read(&r)) {
		printf("time: warning: the real-time clock never settles: wall clock from 1970\n");
		return;
	}
	/* Read right after the registers, so that the second they name starts close to now. */
	u64 now = time_ns();
	if (!rtc_decode(&r, &d)) {
		printf("time: warning: the real-time clock reads %02x:%02x:%02x %02x/%02x/%02x%02x"
		       " (status B %#x), not a date: wall clock from 1970\n",
		       r.hour, r.min, r.sec, r.mday, r.mon, r.century, r.year, r.status_b);
		return;
	}
	u64 wall = rtc_date_to_unix(&d) * 1000000000ULL;
	realtime_at_reset_ns = wall > now ? wall - now : 0;
	printf("time: wall clock %04u-%02u-%02u %02u:%02u:%02u from the CMOS RTC (%s, %s)\n",
	       d.year, d.mon, d.mday, d.hour, d.min, d.sec,
	       (r.status_b & RTC_B_BINARY) ? "binary" : "BCD",
	       (r.status_b & RTC_B_24H) ? "24-hour" : "12-hour");
}

u64 time_realtime_ns(void)
{
	return realtime_at_reset_ns + time_ns();
}

u64 time_since_timer_ns(void)
{
	return tsc_to_ns(rdtsc() - timer_start_tsc);
}

void time_udelay(u64 us)
{
	u64 end = rdtsc() + tsc_hz * us / 1000000;

	while (rdtsc() < end)
		cpu_relax();
}
