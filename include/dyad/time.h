/* SPDX-License-Identifier: MIT */
#ifndef DYAD_TIME_H
#define DYAD_TIME_H

#include <dyad/types.h>

#define TIMER_HZ 100

/* TSC ticks per second, measured against the PIT at boot (CPUID's claim is not trusted). */
extern u64 tsc_hz;
/* Periodic timer interrupts since timer_init(). */
extern volatile u64 timer_ticks;

/* Measures the TSC and starts the periodic LAPIC timer at TIMER_HZ. */
void timer_init(void);

/* Ends the local APIC's current interrupt (handlers of I/O APIC interrupts call it). */
void lapic_eoi(void);

/* Nanoseconds since boot, from the TSC. */
u64 time_ns(void);

/* Busy-waits @us microseconds on the TSC. */
void time_udelay(u64 us);

#endif
