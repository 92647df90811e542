/* SPDX-License-Identifier: MIT */
#ifndef VMM_PM_H
#define VMM_PM_H

#include <stdint.h>

#include "bus.h"

/* The ACPI fixed-hardware PM1a event and control registers (ports in acpi.h). */
struct pm {
	uint16_t sts, en, cnt;
	int poweroff; /* the guest entered S5: PM1a_CNT written with SLP_EN and the S5 type */
	unsigned long sleep_refused; /* SLP_EN with a type the DSDT does not offer */
};

/* As after reset, but already in ACPI mode (SCI_EN set: the FADT has no SMI command port). */
void pm_init(struct pm *p);
/* Registers PM1a_EVT (4 ports) and PM1a_CNT (2 ports) on @b. */
int pm_register(struct pm *p, struct bus *b);

#endif
