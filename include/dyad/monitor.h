/* SPDX-License-Identifier: MIT */
#ifndef DYAD_MONITOR_H
#define DYAD_MONITOR_H

/* A line-oriented kernel monitor on the serial console, for interactive boots. */
__attribute__((noreturn)) void monitor_run(void);

#endif
