/* SPDX-License-Identifier: MIT */
#ifndef DYAD_PANIC_H
#define DYAD_PANIC_H

#include <dyad/types.h>

struct trap_frame;

/* When set (the `ktest` command-line flag), a panic ends the emulator with a failing verdict. */
extern bool panic_exits_emulator;

/* Prints a backtrace following the frame-pointer chain from @rbp. */
void backtrace_from(u64 rbp);

/* A fatal exception: dumps @tf and its backtrace, then stops like panic(). */
__noreturn void panic_trap(const struct trap_frame *tf, const char *what);

#endif
