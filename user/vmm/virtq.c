// SPDX-License-Identifier: MIT
/*
 * Split virtqueues (virtq.h). The guest's memory is read only through pointers gpa_ptr()
 * returned for a range that covers the whole access: the rings once at setup (their size fixes
 * every index into them), each buffer and indirect table when its descriptor is read. A
 * descriptor is copied out before it is checked, so what is checked is what is used.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "virtq.h"

/* The most descriptors an indirect table may have (its length / 16). */
#define VIRTQ_MAX_INDIRECT 1024

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

_Static_assert(sizeof(struct desc) == 16, "a split-ring descriptor is 16 bytes");

static int fail(struct virtq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct virtq *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	return -1;
}

static uint16_t load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static void store16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

int virtq_setup(struct virtq *q, const struct guest_ram *ram, uint16_t size, uint64_t desc,
		uint64_t avail, uint64_t used, int indirect)
{
	void *d, *a, *u;

	virtq_reset(q);
	if (!size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return fail(q, "queue size %u is not a power of two up to %u", size,
			    VIRTQ_MAX_SIZE);
	if ((desc & 15) || (avail & 1) || (used & 3))
		return fail(q, "misaligned rings (descriptors %#llx, available %#llx, used %#llx)",
			    (unsigned long long)desc, (unsigned long long)avail,
			    (unsigned long long)used);
	if (gpa_ptr(ram, desc, 16ULL * size, &d) || gpa_ptr(ram, avail, 6 + 2ULL * size, &a) ||
	    gpa_ptr(ram, used, 6 + 8ULL * size, &u))
		return fail(q,
			    "rings outside guest RAM (descriptors %#llx, available %#llx, used "
			    "%#llx, size %u)",
			    (unsigned long long)desc, (unsigned long long)avail,
			    (unsigned long long)used, size);
	*q = (struct virtq){ .ram = ram,
			     .size = size,
			     .indirect = indirect,
			     .desc_gpa = desc,
			     .avail_gpa = avail,
			     .used_gpa = used,
			     .desc = d,
			     .avail = a,
			     .used = u,
			     .ready = 1 };
	return 0;
}

int virtq_has_avail(const struct virtq *q)
{
	return q->ready && load16(q->avail + 2) != q->last_avail;
}

int virtq_wants_interrupt(const struct virtq *q)
{
	return !(load16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* Adds the buffer of descriptor @d (number @i, for the message) to @c. */
static int add_buf(struct virtq *q, struct virtq_chain *c, const struct desc *d, unsigned i)
{
	void *p;

	if (!d->len)
		return 0; /* nothing to read or write */
	if (!(d->flags & VIRTQ_DESC_F_WRITE) && c->nin)
		return fail(q, "descriptor %u: device-readable after device-writable", i);
	if (gpa_ptr(q->ram, d->addr, d->len, &p))
		return fail(q, "descriptor %u: buffer %#llx+%#x is not guest RAM", i,
			    (unsigned long long)d->addr, d->len);
	if (c->nout + c->nin == VIRTQ_MAX_BUFS)
		return fail(q, "a chain of more than %u buffers", VIRTQ_MAX_BUFS);
	c->buf[c->nout + c->nin] = (struct virtq_buf){ p, d->len };
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		c->nin++;
		c->in_len += d->len;
	} else {
		c->nout++;
		c->out_len += d->len;
	}
	return 0;
}

/* Walks the indirect table of descriptor @d (number @i). */
static int walk_indirect(struct virtq *q, struct virtq_chain *c, const struct desc *d, unsigned i)
{
	void *t;

	if (!q->indirect)
		return fail(q, "descriptor %u: indirect, but the feature was not negotiated", i);
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return fail(q, "descriptor %u: both indirect and next", i);
	if (!d->len || d->len % sizeof(struct desc) ||
	    d->len / sizeof(struct desc) > VIRTQ_MAX_INDIRECT)
		return fail(q, "descriptor %u: indirect table length %#x", i, d->len);
	if (gpa_ptr(q->ram, d->addr, d->len, &t))
		return fail(q, "descriptor %u: indirect table %#llx+%#x is not guest RAM", i,
			    (unsigned long long)d->addr, d->len);
	unsigned n = d->len / sizeof(struct desc), j = 0;
	for (unsigned steps = 1;; steps++) {
		struct desc e;
		if (steps > n)
			return fail(q, "descriptor %u: the indirect chain loops", i);
		memcpy(&e, (uint8_t *)t + j * sizeof(e), sizeof(e));
		if (e.flags & VIRTQ_DESC_F_INDIRECT)
			return fail(q, "descriptor %u: indirect inside an indirect table", i);
		if (add_buf(q, c, &e, i))
			return -1;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (e.next >= n)
			return fail(q, "descriptor %u: indirect next %u beyond its table's %u", i,
				    e.next, n);
		j = e.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!q->ready)
		return 0;
	uint16_t idx = load16(q->avail + 2);
	if (idx == q->last_avail)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the ring entries after the index */
	if ((uint16_t)(idx - q->last_avail) > q->size)
		return fail(q, "available index %u is more than the ring's %u ahead of %u", idx,
			    q->size, q->last_avail);
	uint16_t head = load16(q->avail + 4 + 2 * (q->last_avail & (q->size - 1)));
	if (head >= q->size)
		return fail(q, "head descriptor %u beyond the ring's %u", head, q->size);
	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	unsigned i = head;
	for (unsigned steps = 1;; steps++) {
		struct desc d;
		if (steps > q->size)
			return fail(q, "the chain from descriptor %u loops", head);
		memcpy(&d, q->desc + i * sizeof(d), sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (walk_indirect(q, c, &d, i))
				return -1;
			break;
		}
		if (add_buf(q, c, &d, i))
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return fail(q, "descriptor %u: next %u beyond the ring's %u", i, d.next,
				    q->size);
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *e = q->used + 4 + 8 * (q->used_idx & (q->size - 1));
	uint32_t id = head;

	memcpy(e, &id, 4);
	memcpy(e + 4, &written, 4);
	__atomic_thread_fence(__ATOMIC_RELEASE); /* the entry before the index */
	store16(q->used + 2, ++q->used_idx);
}

uint64_t virtq_read(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len)
{
	uint64_t done = 0;

	for (unsigned k = 0; k < c->nout && done < len; k++) {
		const struct virtq_buf *b = &c->buf[k];
		if (offset >= b->len) {
			offset -= b->len;
			continue;
		}
		uint64_t n = b->len - offset < len - done ? b->len - offset : len - done;
		memcpy((uint8_t *)dst + done, b->p + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

uint64_t virtq_write(const struct virtq_chain *c, uint64_t offset, const void *src, uint64_t len)
{
	uint64_t done = 0;

	for (unsigned k = c->nout; k < c->nout + c->nin && done < len; k++) {
		const struct virtq_buf *b = &c->buf[k];
		if (offset >= b->len) {
			offset -= b->len;
			continue;
		}
		uint64_t n = b->len - offset < len - done ? b->len - offset : len - done;
		memcpy(b->p + offset, (const uint8_t *)src + done, n);
		done += n;
		offset = 0;
	}
	return done;
}
