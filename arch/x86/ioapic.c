// SPDX-License-Identifier: MIT
/* The I/O APIC: just enough to route a legacy interrupt (see include/arch/x86/ioapic.h). */
#include <arch/x86/ioapic.h>
#include <arch/x86/kmap.h>
#include <arch/x86/lapic.h>

#define IOAPIC_PA 0xfec00000ULL
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDIR(pin) (0x10 + 2 * (pin))

static volatile u32 *ioapic;

static u32 ioapic_read(u32 reg)
{
	ioapic[IOAPIC_REGSEL / 4] = reg;
	return ioapic[IOAPIC_WIN / 4];
}

static void ioapic_write(u32 reg, u32 v)
{
	ioapic[IOAPIC_REGSEL / 4] = reg;
	ioapic[IOAPIC_WIN / 4] = v;
}

bool ioapic_route(unsigned irq, unsigned vector)
{
	if (!ioapic)
		ioapic = kmap_mmio(IOAPIC_PA, 0x20);
	u32 ver = ioapic_read(IOAPIC_VER);
	unsigned pins = ((ver >> 16) & 0xff) + 1;

	if (ver == 0xffffffff || irq >= pins)
		return false;
	/* The calling CPU (the boot CPU, where processes run), whatever its APIC ID. */
	ioapic_write(IOAPIC_REDIR(irq) + 1, lapic_id() << 24);
	ioapic_write(IOAPIC_REDIR(irq), vector); /* fixed, physical, edge, high, unmasked */
	return true;
}
