/* SPDX-License-Identifier: MIT */
#ifndef VMM_VMM_H
#define VMM_VMM_H

/*
 * What every file of the VMM shares: the bus devices register on (bus.h), exit statuses,
 * logging. Device models are plain C with no system calls (the host unit tests link them as
 * they are); time reaches them as a TSC value passed in.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Exit status of the VMM (also what the kernel passes on to the emulator). */
#define VMM_EXIT_POWEROFF 0 /* the guest powered off and reported no failure */
#define VMM_EXIT_USAGE 1 /* bad option or image: nothing was run */
#define VMM_EXIT_RESET 2 /* the guest asked for a reset (0xcf9, keyboard controller) */
#define VMM_EXIT_TRIPLE_FAULT 3
#define VMM_EXIT_ERROR 4 /* the VMM or the kernel could not go on */
#define VMM_EXIT_VERDICT 16 /* + n: the guest reported n failures on the debug port */

/*
 * The debug port: a byte the guest writes to port VMM_DEBUG_PORT is its verdict, 0 for pass,
 * else the number of failed checks. It becomes the VMM's exit status at power-off.
 */
#define VMM_DEBUG_PORT 0xf4

/* Logging to stderr with a "vmm: " prefix. */
void vmm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
