/* SPDX-License-Identifier: MIT */
#ifndef VMM_HALT_H
#define VMM_HALT_H

#include <stdint.h>

/*
 * What HLT with interrupts off ("cli; hlt", no NMI pending) means on a machine of one or more
 * vCPUs. Pure: the caller gives the vCPUs that still run.
 */
enum halt_verdict {
	HALT_PARK, /* the vCPU stops until INIT (an AP) or an NMI; the others go on */
	HALT_POWER_OFF, /* nothing runs any more: the machine is off */
};

/*
 * @running: bit i set for each vCPU i that runs or is starting after a SIPI (the halting one's
 * own bit is ignored); @self: the halting vCPU. Power-off only when no other vCPU runs: Linux
 * without ACPI powers off with every AP stopped and the boot CPU in "cli; hlt", but a boot
 * CPU that another CPU stopped (panic, crash dump: an NMI or a stop IPI, then "cli; hlt")
 * leaves that CPU running, and the run must go on to its panic line or reset.
 */
enum halt_verdict halt_interrupts_off(uint64_t running, unsigned self);

#endif
