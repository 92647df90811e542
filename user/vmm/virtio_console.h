/* SPDX-License-Identifier: MIT */
#ifndef VMM_VIRTIO_CONSOLE_H
#define VMM_VIRTIO_CONSOLE_H

/*
 * virtio-console (virtio 1.2, 5.3) with one port, no multiport: Linux's hvc0. Output: each
 * buffer of the transmit queue is handed whole to the machine's console, so a line the guest
 * writes costs one notification exit, not one per byte as on the 16550. Input: bytes from
 * Dyad's console fill the receive queue's buffers.
 */

#include <stddef.h>
#include <stdint.h>

#include "virtio_pci.h"

#define VCON_RX 0
#define VCON_TX 1

struct virtio_console {
	struct virtio_dev v;
	void (*out)(void *ctx, const uint8_t *buf, size_t len); /* guest output */
	void *out_ctx;
	unsigned long tx_buffers, tx_bytes, rx_bytes, rx_dropped;
};

/* Prepares the device (see virtio_pci_init); @out receives the guest's output. */
int virtio_console_init(struct virtio_console *c, const struct guest_ram *ram,
			msi_deliver_fn deliver, void *ctx,
			void (*out)(void *ctx, const uint8_t *buf, size_t len), void *out_ctx);

/* How many input bytes the guest can take now (0 when it has posted no receive buffer). */
unsigned virtio_console_rx_room(struct virtio_console *c);

/* Hands @n bytes of input to the guest; what finds no buffer is dropped (and counted). */
void virtio_console_receive(struct virtio_console *c, const uint8_t *buf, unsigned n);

#endif
