// SPDX-License-Identifier: MIT
/* HLT with interrupts off: park the vCPU or end the machine (halt.h). */
#include "halt.h"

enum halt_verdict halt_interrupts_off(uint64_t running, unsigned self)
{
	if (self < 64)
		running &= ~(UINT64_C(1) << self);
	return running ? HALT_PARK : HALT_POWER_OFF;
}
