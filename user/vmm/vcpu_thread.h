/* SPDX-License-Identifier: MIT */
#ifndef VMM_VCPU_THREAD_H
#define VMM_VCPU_THREAD_H

#include <pthread.h>

#include "machine.h"
#include "mmio.h"

/*
 * One vCPU of the machine and the VMM thread that runs it. vCPU 0 is the bootstrap processor
 * and runs on the VMM's main thread; the others (application processors) wait for INIT and
 * SIPI, as on a PC, each on a thread of its own. Their state changes under the bus lock.
 */
enum vcpu_state {
	VCPU_RUNNING,
	VCPU_WAIT_SIPI, /* after reset or INIT: only a SIPI starts it */
	VCPU_STARTING, /* a SIPI came: its thread loads the real-mode state, then runs */
	VCPU_PARKED, /* HLT with interrupts off: only INIT wakes it */
};

struct vcpu_ctx {
	struct machine *mach;
	unsigned id; /* index in mach->vcpus, and the APIC ID */
	int fd;
	struct dyad_run *run;
	struct x2apic *apic; /* &mach->apic for vCPU 0, else &own_apic */
	struct x2apic own_apic;
	enum vcpu_state state;
	uint8_t sipi_vector;
	pthread_t thread;
	pthread_cond_t wake; /* state changes for a waiting vCPU (with mach->lock) */
	unsigned long ipis_received, kicks_received;
	struct mmio_stuck stuck; /* the same unfinished MMIO exit in a row (mmio.h) */
	/*
	 * An external interrupt already taken from the APIC or PIC (in service there) that an
	 * exception the VMM raised pushed out of run->inject before the guest could take it:
	 * it goes back into run->inject before any new one is taken. -1: none.
	 */
	int held_vector;
};

/* The vCPU whose thread this is (NULL on a thread that runs none). */
extern __thread struct vcpu_ctx *vcpu_self;

/*
 * Creates the machine's vCPUs 1..ncpus-1 in the kernel (vCPU 0's descriptor and run page are
 * mach->vcpu_fd and mach->run already), their APICs, and the IPI routing between all APICs.
 * Call after the devices are set up. Returns 0, or -1 after printing why.
 */
int vcpus_create(struct machine *mach);

/* Starts the threads of vCPUs 1..ncpus-1 (they wait for INIT-SIPI-SIPI). 0 or -1. */
int vcpus_start(struct machine *mach);

/*
 * Makes @vc's thread look at its APIC and state soon: a kick (DYAD_VCPU_KICK) if it runs,
 * a condition signal if it waits. Nothing for the calling thread's own vCPU. Bus lock held.
 */
void vcpu_notify(struct vcpu_ctx *vc);

/* Ends the run for every vCPU with @status (the first caller's status wins). Bus lock held. */
void machine_end(struct machine *mach, int status);

/* Waits under the bus lock while @vc is not running; false when the run ended. */
int vcpu_wait_start(struct vcpu_ctx *vc);

/* The loop of one vCPU (run.c); returns the VMM's exit status. Bus lock held on entry/exit. */
int vcpu_run_loop(struct vcpu_ctx *vc);

#endif
