/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_LAPIC_H
#define ARCH_X86_LAPIC_H

/* Sends an NMI to this CPU through the local APIC's ICR (timer_init() enables the APIC). */
void lapic_send_self_nmi(void);

#endif
