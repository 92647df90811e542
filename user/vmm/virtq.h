/* SPDX-License-Identifier: MIT */
#ifndef VMM_VIRTQ_H
#define VMM_VIRTQ_H

/*
 * Split virtqueues (virtio 1.x, 2.7), device side, against a driver that may be hostile. The
 * three rings are checked to lie in guest RAM once, when the queue is enabled; every descriptor
 * is copied out of guest memory before it is looked at, and its buffer, its next index and an
 * indirect table are checked (gpa_ptr, the ring size) before anything reads them. A chain
 * longer than the descriptors that exist loops. Any violation makes virtq_pop() return -1 with
 * a sentence in the queue's err: the device is then broken until the driver resets it.
 */

#include <stdint.h>

#include "bus.h"

#define VIRTQ_MAX_SIZE 256 /* the largest ring the devices offer */
#define VIRTQ_MAX_BUFS 64 /* buffers in one chain (after dropping empty ones) */

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* One buffer of a chain: @len bytes at @p, all of them guest RAM. */
struct virtq_buf {
	uint8_t *p;
	uint32_t len;
};

/*
 * A chain taken from the available ring: the device-readable buffers first (out), then the
 * device-writable ones (in), as the driver must order them.
 */
struct virtq_chain {
	uint16_t head;
	unsigned nout, nin;
	struct virtq_buf buf[VIRTQ_MAX_BUFS]; /* out ones, then in ones */
	uint64_t out_len, in_len;
};

struct virtq {
	const struct guest_ram *ram;
	uint16_t size;
	int indirect; /* VIRTIO_F_INDIRECT_DESC was negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint8_t *desc, *avail, *used; /* checked at virtq_setup */
	uint16_t last_avail, used_idx;
	int ready;
	char err[120];
};

/*
 * Sets up @q on @ram with @size descriptors (a power of two, 1 to VIRTQ_MAX_SIZE) and the rings
 * at the given guest-physical addresses, checked for alignment (16, 2, 4) and to lie whole in
 * RAM. Returns 0, or -1 with @q->err set.
 */
int virtq_setup(struct virtq *q, const struct guest_ram *ram, uint16_t size, uint64_t desc,
		uint64_t avail, uint64_t used, int indirect);

/* Forgets the queue (a device reset). */
void virtq_reset(struct virtq *q);

/* Whether a chain is available (the driver's index moved past the device's). */
int virtq_has_avail(const struct virtq *q);

/*
 * Takes the next available chain into @c. Returns 1, 0 when there is none, or -1 when the
 * driver broke the rules (@q->err says how; nothing was taken).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* Returns chain @head to the driver with @written bytes written into its buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt for used buffers (no VIRTQ_AVAIL_F_NO_INTERRUPT). */
int virtq_wants_interrupt(const struct virtq *q);

/* Copies up to @len bytes of the chain's readable buffers from @offset into @dst; returns the
 * count copied. */
uint64_t virtq_read(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len);
/* Copies up to @len bytes into the chain's writable buffers from @offset; returns the count. */
uint64_t virtq_write(const struct virtq_chain *c, uint64_t offset, const void *src, uint64_t len);

#endif
