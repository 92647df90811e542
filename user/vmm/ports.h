/* SPDX-License-Identifier: MIT */
#ifndef VMM_PORTS_H
#define VMM_PORTS_H

#include <stdint.h>

#include "bus.h"

/* The small fixed-function ports of a PC: what they asked the VMM to do. */
struct ports {
	int reset; /* the guest asked for a reset (0xcf9 or the keyboard controller) */
	int verdict; /* last value written to VMM_DEBUG_PORT (at most VMM_VERDICT_MAX), -1 if none */
	int debug_exit; /* VMM_DEBUG_PORT was written: the VM ends */
	uint8_t port_b, refresh; /* port 0x61: bits 0-3 as written, bit 4 toggling */
	/* PIT channel 2's count and when it started (TSC), for OUT2 (ports.c). */
	const uint64_t *now; /* the TSC at the current exit; NULL: OUT2 always high */
	uint64_t tsc_khz;
	uint64_t ch2_start;
	uint16_t ch2_count;
	uint8_t ch2_access, ch2_msb_next, ch2_running;
	uint32_t pci_addr; /* 0xcf8 */
	uint8_t cf9;
	unsigned long post_writes;
};

void ports_init(struct ports *p);
/*
 * Registers POST (0x80), PCI configuration (0xcf8-0xcff: no PCI, reads all ones), the reset
 * control register (0xcf9), the keyboard controller (0x60, 0x64: reset command only), the PIT
 * (0x40-0x43) with port B (0x61), and the VMM debug port.
 */
int ports_register(struct ports *p, struct bus *b);

/* The VMM's exit status for the verdict: VMM_EXIT_POWEROFF when none or 0, else
 * VMM_EXIT_VERDICT + verdict. */
int ports_status(const struct ports *p);

#endif
