/* SPDX-License-Identifier: MIT */
#ifndef VMM_MSR_H
#define VMM_MSR_H

#include <stdint.h>

#include "bus.h"

/* The model-specific registers outside the APIC that Linux reads on the way up. */
struct msrs {
	uint64_t misc_enable;
	uint64_t bios_sign_id;
	unsigned long ignored_writes;
};

void msrs_init(struct msrs *m);
/* Registers the MSRs below (msr.c's table). */
int msrs_register(struct msrs *m, struct bus *b);

#endif
