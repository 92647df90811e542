/* SPDX-License-Identifier: MIT */
#ifndef DYAD_TIME_H
#define DYAD_TIME_H

#include <dyad/types.h>

#define TIMER_HZ 100

/* TSC ticks per second, measured against the PIT at boot (CPUID's claim is not trusted). */
extern u64 tsc_hz;
/* Periodic timer interrupts since timer_init() started the timer. */
extern volatile u64 timer_ticks;
/* The TSC when the periodic timer started: timer_ticks counts from here, not from CPU reset. */
extern u64 timer_start_tsc;

/* Measures the TSC and starts the periodic LAPIC timer at TIMER_HZ. */
void timer_init(void);

/* Ends the local APIC's current interrupt (handlers of I/O APIC interrupts call it). */
void lapic_eoi(void);

/*
 * Nanoseconds since the TSC started counting at CPU reset, from the TSC: this includes the
 * firmware, the boot loader and the kernel's early boot (about 1.5 s under Bochs).
 */
u64 time_ns(void);

/* Nanoseconds since the periodic timer started: the interval timer_ticks counts. */
u64 time_since_timer_ns(void);

/*
 * Reads the real-time clock once (after timer_init, which measures the TSC) and sets the wall
 * clock from it; prints what it read. Without a readable clock the wall clock counts from 1970
 * at boot, and the boot log says so.
 */
void time_wall_clock_init(void);

/*
 * CLOCK_REALTIME in nanoseconds since 1970-01-01 00:00:00: the real-time clock's reading at
 * boot plus the TSC's count since then. The RTC keeps the host's or firmware's time zone
 * (usually UTC; Bochs with `clock: time0=local` gives local time): Dyad knows no zones.
 */
u64 time_realtime_ns(void);

/* Busy-waits @us microseconds on the TSC. */
void time_udelay(u64 us);

#endif
