/* SPDX-License-Identifier: MIT */
#ifndef VMM_VMM_H
#define VMM_VMM_H

/*
 * The VMM's core: the dispatch tables devices register in, and what every file shares. Device
 * models are plain C with no system calls (the host unit tests link them as they are); time
 * reaches them as a TSC value passed in.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * The debug port: a value the guest writes to port VMM_DEBUG_PORT, 1, 2 or 4 bytes wide, is its
 * verdict, 0 for pass, else the number of failed checks, and ends the VM at once (as QEMU's
 * isa-debug-exit does). The VMM's exit status is then 0 for 0, else VMM_EXIT_VERDICT + the value,
 * values above VMM_VERDICT_MAX counting as VMM_VERDICT_MAX: 17 to 116.
 */
#define VMM_DEBUG_PORT 0xf4
#define VMM_VERDICT_MAX 100

/* A range of I/O ports one device owns. size is 1, 2 or 4; IN returns the value. */
struct io_range {
	const char *name;
	uint16_t first, last;
	uint32_t (*in)(void *dev, uint16_t port, int size);
	void (*out)(void *dev, uint16_t port, int size, uint32_t value);
	void *dev;
};

/* A range of MSRs one device owns. Return 0, or -1 for a #GP. */
struct msr_range {
	const char *name;
	uint32_t first, last;
	int (*rd)(void *dev, uint32_t index, uint64_t *value);
	int (*wr)(void *dev, uint32_t index, uint64_t value);
	void *dev;
};

/* Registers @r (kept by reference) for its ports; -1 if it overlaps another or the table is full. */
int io_register(const struct io_range *r);
/* Registers @r (kept by reference) for its MSRs; -1 if it overlaps another or the table is full. */
int msr_register(const struct msr_range *r);
/* Forgets every registration (for tests). */
void bus_reset(void);

/* Dispatch an IN: unowned ports read all ones (counted in io_unowned). */
uint32_t io_in(uint16_t port, int size);
/* Dispatch an OUT: writes to unowned ports are dropped (counted in io_unowned). */
void io_out(uint16_t port, int size, uint32_t value);
/* Dispatch RDMSR/WRMSR: 0, or -1 when no device owns the MSR or the device refuses (#GP). */
int msr_read(uint32_t index, uint64_t *value);
int msr_write(uint32_t index, uint64_t value);

struct bus_stats {
	unsigned long io_unowned, msr_unowned;
	uint16_t last_unowned_port;
	uint32_t last_unowned_msr;
};
extern struct bus_stats bus_stats;

/* Logging to stderr with a "vmm: " prefix. */
void vmm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
