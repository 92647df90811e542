// SPDX-License-Identifier: MIT
#include <arch/x86/asm.h>
#include <arch/x86/emu.h>

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define BOCHS_SHUTDOWN_PORT 0x8900

void emu_exit(bool pass)
{
	irq_disable();
	outb(QEMU_DEBUG_EXIT_PORT, pass ? 0 : 1);
	if (pass) {
		__asm__ volatile("xchg %bx, %bx");
	} else {
		for (const char *s = "Shutdown"; *s; s++)
			outb(BOCHS_SHUTDOWN_PORT, (u8)*s);
	}
	for (;;)
		halt();
}
