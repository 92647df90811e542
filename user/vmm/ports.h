/* SPDX-License-Identifier: MIT */
#ifndef VMM_PORTS_H
#define VMM_PORTS_H

#include <stdint.h>

#include "bus.h"

/* The small fixed-function ports of a PC: what they asked the VMM to do. */
struct ports {
	int reset; /* the port the guest asked for a reset through (0xcf9, 0x64), else 0 */
	int verdict; /* last value written to VMM_DEBUG_PORT (at most VMM_VERDICT_MAX), -1 if none */
	int debug_exit; /* VMM_DEBUG_PORT was written: the VM ends */
	uint8_t cf9;
	unsigned long post_writes;
};

void ports_init(struct ports *p);
/*
 * Registers POST (0x80), the reset control register (0xcf9, also the ACPI reset register), the keyboard controller (0x60, 0x64:
 * reset command only) and the VMM debug port. The PIT and port B are pit.c's.
 */
int ports_register(struct ports *p, struct bus *b);

/* The VMM's exit status for the verdict: VMM_EXIT_POWEROFF when none or 0, else
 * VMM_EXIT_VERDICT + verdict. */
int ports_status(const struct ports *p);

#endif
