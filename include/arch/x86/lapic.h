/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_LAPIC_H
#define ARCH_X86_LAPIC_H

#include <dyad/types.h>

/* Sends an NMI to this CPU through the local APIC's ICR (timer_init() enables the APIC). */
void lapic_send_self_nmi(void);

/*
 * This CPU's local APIC registers (xAPIC offsets such as 0x300 for the ICR's low half): MMIO
 * in xAPIC mode, MSR 0x800 + reg/16 in x2APIC mode. Every CPU runs in the boot CPU's mode.
 */
u32 lapic_read(u32 reg);
void lapic_write(u32 reg, u32 v);
bool lapic_x2apic_mode(void);

/* This CPU's APIC ID: the xAPIC ID register's top byte, or the 32-bit x2APIC ID. */
u32 lapic_id(void);

/* An AP's local APIC: enabled in the boot CPU's mode, with its periodic timer at TIMER_HZ. */
void timer_init_ap(void);

#endif
