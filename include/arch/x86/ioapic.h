/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_IOAPIC_H
#define ARCH_X86_IOAPIC_H

#include <dyad/types.h>

/*
 * The I/O APIC at its standard address (0xfec00000: QEMU's and Bochs's PC, and PC firmware
 * without ACPI). It routes the legacy interrupts Dyad uses (the UART's IRQ 4) to the boot
 * CPU's local APIC; the 8259 pair stays masked.
 */

/*
 * Routes ISA IRQ @irq (identity-mapped to the pin, as on a PC for every IRQ but 0) to @vector,
 * edge-triggered, active high, to the calling CPU's APIC ID (the boot CPU, at boot). Returns
 * false if no I/O APIC answers.
 */
bool ioapic_route(unsigned irq, unsigned vector);

#endif
