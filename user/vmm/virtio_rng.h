/* SPDX-License-Identifier: MIT */
#ifndef VMM_VIRTIO_RNG_H
#define VMM_VIRTIO_RNG_H

/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers the device fills with
 * random bytes from @fill: RDSEED where the CPU has it, else RDRAND (virtio_rng_source()). A
 * CPU with neither gets no virtio-rng: the VMM has no other source it would call entropy.
 */

#include <stddef.h>
#include <stdint.h>

#include "virtio_pci.h"

/* Fills @len bytes at @buf; returns how many it could (the source may run dry for a moment). */
typedef size_t (*rng_fill_fn)(uint8_t *buf, size_t len);

struct virtio_rng {
	struct virtio_dev v;
	rng_fill_fn fill;
	unsigned long bytes, short_fills;
};

/* The CPU's random source: RDSEED, else RDRAND; NULL when it has neither. @name is set to the
 * instruction's name. */
rng_fill_fn virtio_rng_source(const char **name);

/* Prepares the device (see virtio_pci_init). */
int virtio_rng_init(struct virtio_rng *r, const struct guest_ram *ram, msi_deliver_fn deliver,
		    void *ctx, rng_fill_fn fill);

#endif
