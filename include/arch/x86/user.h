/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_USER_H
#define ARCH_X86_USER_H

#include <dyad/types.h>

/* Ring 3: entering it, and the stack the CPU comes back on (arch/x86/user_entry.asm). */

/* Enables SYSCALL and points it at the kernel's entry. */
void user_init(void);

/* The kernel stack used for system calls and for interrupts from ring 3. */
void user_set_kernel_stack(u64 top);

/* Loads the user FS base (the thread pointer). @base must be canonical. */
void user_set_fs_base(u64 base);

/* Starts ring-3 execution at @rip with stack @rsp and all registers zero. */
__attribute__((noreturn)) void user_enter(u64 rip, u64 rsp);

#endif
