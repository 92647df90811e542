// SPDX-License-Identifier: MIT
/* virtio-console (virtio_console.h). */
#include "virtio_console.h"

#define VIRTIO_ID_CONSOLE 3
#define RX_ROOM 64 /* input passed per wake-up: Linux posts page-sized receive buffers */

static void cfg_read(struct virtio_dev *v, unsigned off, unsigned size, uint64_t *value)
{
	*value = 0; /* cols, rows, max_nr_ports, emerg_wr: no feature makes them valid */
}

static void transmit(struct virtio_console *c)
{
	struct virtq *q = virtio_queue(&c->v, VCON_TX);
	struct virtq_chain ch;
	int r = 0, used = 0;

	while (q && (r = virtq_pop(q, &ch)) > 0) {
		for (unsigned k = 0; k < ch.nout; k++)
			c->out(c->out_ctx, ch.buf[k].p, ch.buf[k].len);
		c->tx_buffers++;
		c->tx_bytes += ch.out_len;
		virtq_push(q, ch.head, 0);
		used = 1;
	}
	virtio_queue_done(&c->v, VCON_TX, q, used, r);
}

static void notify(struct virtio_dev *v, unsigned q)
{
	if (q == VCON_TX)
		transmit(v->priv);
	/* The receive queue's buffers wait for input. */
}

static const struct virtio_ops ops = {
	.name = "virtio-console",
	.id = VIRTIO_ID_CONSOLE,
	.class_code = 0x078000, /* communication controller, other */
	.nqueues = 2,
	.queue_size = 64,
	.cfg_read = cfg_read,
	.notify = notify,
};

int virtio_console_init(struct virtio_console *c, const struct guest_ram *ram,
			msi_deliver_fn deliver, void *ctx,
			void (*out)(void *ctx, const uint8_t *buf, size_t len), void *out_ctx)
{
	c->out = out;
	c->out_ctx = out_ctx;
	c->tx_buffers = c->tx_bytes = c->rx_bytes = c->rx_dropped = 0;
	return virtio_pci_init(&c->v, &ops, c, ram, deliver, ctx);
}

unsigned virtio_console_rx_room(struct virtio_console *c)
{
	struct virtq *q = virtio_queue(&c->v, VCON_RX);

	return q && virtq_has_avail(q) ? RX_ROOM : 0;
}

void virtio_console_receive(struct virtio_console *c, const uint8_t *buf, unsigned n)
{
	struct virtq *q = virtio_queue(&c->v, VCON_RX);
	struct virtq_chain ch;
	unsigned done = 0;
	int r = 0, used = 0;

	while (q && done < n && (r = virtq_pop(q, &ch)) > 0) {
		uint32_t k = (uint32_t)virtq_write(&ch, 0, buf + done, n - done);
		virtq_push(q, ch.head, k);
		done += k;
		used = 1;
	}
	c->rx_bytes += done;
	c->rx_dropped += n - done;
	virtio_queue_done(&c->v, VCON_RX, q, used, r);
}
