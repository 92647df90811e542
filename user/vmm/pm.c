// SPDX-License-Identifier: MIT
/*
 * ACPI PM1a fixed hardware (ACPI 6.4, 4.8.3.1 and 4.8.3.2): PM1_STS (write 1 to clear), PM1_EN,
 * and PM1_CNT with SCI_EN always set and SLP_TYP/SLP_EN. Entering S5 (SLP_EN with the \_S5 type
 * of the DSDT) is the guest's ACPI power-off; other sleep states are not offered by the DSDT and
 * are refused (counted, the guest runs on). Nothing here raises an SCI: the platform has no
 * fixed-feature event sources (no PM timer, no buttons).
 */
#include "pm.h"
#include "acpi.h"
#include "vmm.h"

#define PM1_CNT_SCI_EN 0x0001u
#define PM1_CNT_SLP_TYP(v) (((v) >> 10) & 7)
#define PM1_CNT_SLP_EN 0x2000u

void pm_init(struct pm *p)
{
	*p = (struct pm){ .cnt = PM1_CNT_SCI_EN };
}

/* A byte-addressed view of the 16-bit registers: @off is the byte offset in the block. */
static uint32_t reg_read(uint16_t reg, unsigned off, unsigned size)
{
	return (uint32_t)reg >> (8 * (off & 1)) & (size == 1 ? 0xff : 0xffff);
}

static uint32_t pm_io_in(void *dev, uint16_t port, unsigned size)
{
	struct pm *p = dev;

	if (port >= ACPI_PM1A_CNT)
		return reg_read(p->cnt, port - ACPI_PM1A_CNT, size);
	unsigned off = port - ACPI_PM1A_EVT;
	if (size == 4 && off == 0)
		return p->sts | (uint32_t)p->en << 16;
	return reg_read(off < 2 ? p->sts : p->en, off, size);
}

static void cnt_write(struct pm *p, uint16_t v)
{
	p->cnt = (uint16_t)((v & ~PM1_CNT_SLP_EN) | PM1_CNT_SCI_EN);
	if (!(v & PM1_CNT_SLP_EN))
		return;
	if (PM1_CNT_SLP_TYP(v) == ACPI_S5_SLP_TYP)
		p->poweroff = 1;
	else
		p->sleep_refused++;
}

static void pm_io_out(void *dev, uint16_t port, unsigned size, uint32_t value)
{
	struct pm *p = dev;

	if (port >= ACPI_PM1A_CNT) {
		unsigned off = port - ACPI_PM1A_CNT;
		if (size == 1)
			value = off ? (p->cnt & 0xffu) | (value & 0xff) << 8
				    : (p->cnt & 0xff00u) | (value & 0xff);
		cnt_write(p, (uint16_t)value);
		return;
	}
	unsigned off = port - ACPI_PM1A_EVT;
	if (size == 4 && off == 0) {
		p->sts &= (uint16_t)~value;
		p->en = (uint16_t)(value >> 16);
		return;
	}
	uint16_t v = (uint16_t)(size == 1 ? (value & 0xff) << (8 * (off & 1)) : value);
	if (off < 2)
		p->sts &= (uint16_t)~v;
	else if (size == 1)
		p->en = (uint16_t)((p->en & ~(0xffu << (8 * (off & 1)))) | v);
	else
		p->en = v;
}

/* The bus handler (bus.h). */
static int pm_access(void *dev, uint64_t port, unsigned size, int write, uint64_t *value)
{
	if (write)
		pm_io_out(dev, (uint16_t)port, size, (uint32_t)*value);
	else
		*value = pm_io_in(dev, (uint16_t)port, size);
	return 0;
}

int pm_register(struct pm *p, struct bus *b)
{
	return bus_register(b, BUS_PIO, ACPI_PM1A_EVT, 4, pm_access, p) |
	       bus_register(b, BUS_PIO, ACPI_PM1A_CNT, 2, pm_access, p);
}
