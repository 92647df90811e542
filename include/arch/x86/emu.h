/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_EMU_H
#define ARCH_X86_EMU_H

#include <dyad/types.h>

/*
 * Ends the emulator with a verdict in its exit status, for tests:
 *   QEMU (isa-debug-exit at 0xf4): pass -> status 1, fail -> status 3;
 *   Bochs: pass -> magic breakpoint (xchg bx,bx), whose rc file quits with status 0;
 *          fail -> "Shutdown" to port 0x8900, status 1.
 * Each mechanism is harmless on the other emulator. On real hardware it halts.
 */
__noreturn void emu_exit(bool pass);

#endif
