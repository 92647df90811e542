// SPDX-License-Identifier: MIT
/*
 * The split virtqueue (kern/virtio/virtqueue.c) and the virtio-blk completion judge
 * (kern/virtio/virtio_blk_req.c) against a fake device that works on the same ring memory.
 * The fake device behaves, or breaks one rule on purpose: a used index that runs ahead, an id
 * out of range or not a chain head in flight, a chain returned twice, a length beyond what
 * the chain lets it write, a status it may not give. Each must be caught, the queue must stay
 * broken afterwards, and every request in flight must be handed back for failing. A random
 * run (VIRTQ_SEED replays it) checks the free list against a model through thousands of
 * adds and out-of-order completions, across the 16-bit index wrap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dyad/errno.h>
#include <dyad/virtio.h>

#include "test_rng.h"

#define QSIZE 16

struct fixture {
	struct virtq vq;
	void *mem;
	u16 dev_avail; /* available-ring entries the fake device has taken */
	u16 dev_used; /* used-ring entries it has written */
};

static struct fixture *fx_new(u16 size)
{
	struct fixture *f = calloc(1, sizeof(*f));
	u64 bytes = virtq_mem_size(size);

	f->mem = aligned_alloc(4096, ALIGN_UP(bytes, 4096));
	memset(f->mem, 0, ALIGN_UP(bytes, 4096));
	/* The "physical" address is the host address: the fake device reads it back. */
	virtq_init(&f->vq, size, f->mem, (u64)(uintptr_t)f->mem);
	return f;
}

static void fx_free(struct fixture *f)
{
	free(f->mem);
	free(f);
}

/* The device takes the next available chain; returns its head and the bytes it may write. */
static u16 dev_take(struct fixture *f, u32 *writable)
{
	struct virtq *vq = &f->vq;
	u16 avail_idx = vq->avail[1];

	assert_true((u16)(avail_idx - f->dev_avail) > 0);
	u16 head = vq->avail[2 + (f->dev_avail & (vq->size - 1))];
	f->dev_avail++;
	*writable = 0;
	u16 d = head;
	for (unsigned n = 0;; n++) {
		assert_true(n < vq->size); /* a chain is never a loop */
		struct virtq_desc *desc = (struct virtq_desc *)(uintptr_t)vq->desc_pa + d;
		if (desc->flags & VIRTQ_DESC_F_WRITE)
			*writable += desc->len;
		if (!(desc->flags & VIRTQ_DESC_F_NEXT))
			break;
		d = desc->next;
	}
	return head;
}

/* The device writes a used entry (any id and length it likes) and publishes @bump of them. */
static void dev_put(struct fixture *f, u32 id, u32 len, u16 bump)
{
	struct virtq *vq = &f->vq;
	struct virtq_used_elem *ring = (struct virtq_used_elem *)((u8 *)vq->used + 4);

	ring[f->dev_used & (vq->size - 1)] = (struct virtq_used_elem){ .id = id, .len = len };
	f->dev_used = (u16)(f->dev_used + bump);
	vq->used[1] = f->dev_used;
}

static int add_req(struct fixture *f, void *cookie, u32 data_len, bool read)
{
	struct virtq_buf bufs[3] = {
		{ .pa = 0x1000, .len = 16 },
		{ .pa = 0x2000, .len = data_len, .device_writes = read },
		{ .pa = 0x3000, .len = 1, .device_writes = true },
	};
	return virtq_add(&f->vq, bufs, 3, cookie);
}

static int cookies[64];

static void good_device_round_trip(void **state)
{
	struct fixture *f = fx_new(QSIZE);
	u32 writable, len;
	void *cookie;

	int head = add_req(f, &cookies[0], 4096, true);
	assert_true(head >= 0);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), 0); /* nothing yet */
	u16 h = dev_take(f, &writable);
	assert_int_equal(h, head);
	assert_int_equal(writable, 4097);
	dev_put(f, h, writable, 1);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), 1);
	assert_ptr_equal(cookie, &cookies[0]);
	assert_int_equal(len, 4097);
	assert_int_equal(f->vq.nr_free, QSIZE);
	assert_int_equal(f->vq.in_flight, 0);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), 0);
	fx_free(f);
}

/* After -EIO the queue refuses everything and gives back each chain in flight once. */
static void assert_broken(struct fixture *f, unsigned in_flight)
{
	void *cookie;
	u32 len;

	assert_true(f->vq.broken);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), -EIO);
	assert_int_equal(add_req(f, &cookies[9], 512, false), -EIO);
	for (unsigned i = 0; i < in_flight; i++)
		assert_non_null(virtq_take_any(&f->vq));
	assert_null(virtq_take_any(&f->vq));
	assert_int_equal(f->vq.nr_free, f->vq.size);
}

static void used_index_ahead_of_requests(void **state)
{
	struct fixture *f = fx_new(QSIZE);
	u32 writable, len;
	void *cookie;

	add_req(f, &cookies[0], 512, true);
	u16 h = dev_take(f, &writable);
	dev_put(f, h, writable, 2); /* claims two completions, one request was made */
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), -EIO);
	assert_broken(f, 1);
	fx_free(f);
}

static void used_index_with_nothing_in_flight(void **state)
{
	struct fixture *f = fx_new(QSIZE);
	u32 len;
	void *cookie;

	dev_put(f, 0, 0, 1);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), -EIO);
	assert_broken(f, 0);
	fx_free(f);
}

/* Ids past the queue, past any queue, and one whose low 16 bits name the chain in flight. */
static void id_out_of_range(void **state)
{
	const u32 ids[] = { QSIZE, VIRTQ_MAX_SIZE, 0x10000, 0xffffffff };

	for (unsigned i = 0; i < ARRAY_SIZE(ids); i++) {
		struct fixture *f = fx_new(QSIZE);
		u32 writable, len;
		void *cookie;

		int head = add_req(f, &cookies[0], 512, true);
		dev_take(f, &writable);
		dev_put(f, ids[i] | (u32)head, writable, 1);
		assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), -EIO);
		assert_broken(f, 1);
		fx_free(f);
	}
}

static void id_not_a_head_in_flight(void **state)
{
	struct fixture *f = fx_new(QSIZE);
	u32 writable, len;
	void *cookie;

	int head = add_req(f, &cookies[0], 512, true);
	dev_take(f, &writable);
	/* The chain's second descriptor: in use, but no head. */
	dev_put(f, f->vq.desc[head].next, writable, 1);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), -EIO);
	assert_broken(f, 1);
	fx_free(f);
}

static void chain_returned_twice(void **state)
{
	struct fixture *f = fx_new(QSIZE);
	u32 w0, w1, len;
	void *cookie;

	add_req(f, &cookies[0], 512, true);
	add_req(f, &cookies[1], 512, true);
	u16 h0 = dev_take(f, &w0);
	dev_take(f, &w1);
	dev_put(f, h0, w0, 1);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), 1);
	dev_put(f, h0, w0, 1); /* the same chain again, while another is still in flight */
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), -EIO);
	assert_broken(f, 1);
	fx_free(f);
}

static void length_beyond_writable(void **state)
{
	struct fixture *f = fx_new(QSIZE);
	u32 writable, len;
	void *cookie;

	add_req(f, &cookies[0], 512, false); /* a write: the device may write the status only */
	u16 h = dev_take(f, &writable);
	assert_int_equal(writable, 1);
	dev_put(f, h, 2, 1);
	assert_int_equal(virtq_get_used(&f->vq, &cookie, &len), -EIO);
	assert_broken(f, 1);
	fx_free(f);
}

static void bad_adds(void **state)
{
	struct fixture *f = fx_new(4);
	struct virtq_buf b[5] = { { .pa = 1, .len = 1 } };

	assert_int_equal(virtq_add(&f->vq, b, 0, &cookies[0]), -EINVAL);
	assert_int_equal(virtq_add(&f->vq, b, 5, &cookies[0]), -EINVAL);
	assert_int_equal(virtq_add(&f->vq, b, 1, NULL), -EINVAL);
	assert_true(add_req(f, &cookies[0], 512, true) >= 0);
	assert_int_equal(add_req(f, &cookies[1], 512, true), -ENOSPC); /* 1 descriptor left */
	assert_int_equal(f->vq.nr_free, 1);
	assert_int_equal(f->vq.in_flight, 1);
	fx_free(f);
}

/*
 * Random adds (1..3 descriptors) and completions in random order against a model of which
 * cookie is in flight at which head, starting near the 16-bit index wrap.
 */
static void random_model(void **state)
{
	struct fixture *f = fx_new(QSIZE);
	struct virtq *vq = &f->vq;
	void *model[QSIZE] = { 0 };
	u16 pending[QSIZE];
	u32 pending_w[QSIZE];
	unsigned nr_pending = 0, descs_used = 0;

	vq->avail_idx = vq->last_used = 65500;
	vq->avail[1] = 65500;
	f->dev_avail = f->dev_used = 65500;
	vq->used[1] = 65500;
	for (int step = 0; step < 20000; step++) {
		if (rnd() % 2) {
			unsigned n = 1 + rnd() % 3;
			struct virtq_buf b[3];
			for (unsigned i = 0; i < n; i++)
				b[i] = (struct virtq_buf){ .pa = 0x1000 * (i + 1),
							   .len = 512,
							   .device_writes = i + 1 == n };
			void *c = &cookies[step % 64];
			int h = virtq_add(vq, b, n, c);
			if (descs_used + n > QSIZE) {
				assert_int_equal(h, -ENOSPC);
				continue;
			}
			assert_true(h >= 0 && h < QSIZE);
			assert_null(model[h]);
			model[h] = c;
			descs_used += n;
			u32 w;
			assert_int_equal(dev_take(f, &w), h);
			pending[nr_pending] = (u16)h;
			pending_w[nr_pending++] = w;
		} else if (nr_pending) {
			unsigned k = (unsigned)(rnd() % nr_pending);
			u16 h = pending[k];
			u32 w = pending_w[k];
			pending[k] = pending[--nr_pending];
			pending_w[k] = pending_w[nr_pending];
			dev_put(f, h, w, 1);
			void *c;
			u32 len;
			assert_int_equal(virtq_get_used(vq, &c, &len), 1);
			assert_ptr_equal(c, model[h]);
			assert_int_equal(len, w);
			model[h] = NULL;
			descs_used -= vq->chain_len[h];
		}
		assert_int_equal(vq->nr_free, QSIZE - descs_used);
		assert_int_equal(vq->in_flight, nr_pending);
	}
	assert_false(vq->broken);
	fx_free(f);
}

static void blk_judge(void **state)
{
	/* A read of 4096 bytes: data and status written. */
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_IN, 4096, 4097, VIRTIO_BLK_S_OK), 0);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_IN, 4096, 4096, VIRTIO_BLK_S_OK), -EPROTO);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_IN, 4096, 1, VIRTIO_BLK_S_OK), -EPROTO);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_OUT, 4096, 1, VIRTIO_BLK_S_OK), 0);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_OUT, 4096, 0, VIRTIO_BLK_S_OK), -EPROTO);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_FLUSH, 0, 1, VIRTIO_BLK_S_OK), 0);
	/* Errors the device may report. */
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_IN, 4096, 1, VIRTIO_BLK_S_IOERR), -EIO);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_OUT, 512, 1, VIRTIO_BLK_S_IOERR), -EIO);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_FLUSH, 0, 1, VIRTIO_BLK_S_UNSUPP), -EIO);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_OUT, 512, 0, VIRTIO_BLK_S_IOERR), -EPROTO);
	/* Statuses no device may give, and the byte it never wrote. */
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_IN, 512, 513, 3), -EPROTO);
	assert_int_equal(virtio_blk_judge(VIRTIO_BLK_T_OUT, 512, 1, VIRTIO_BLK_S_UNSET), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_device_round_trip),
		cmocka_unit_test(used_index_ahead_of_requests),
		cmocka_unit_test(used_index_with_nothing_in_flight),
		cmocka_unit_test(id_out_of_range),
		cmocka_unit_test(id_not_a_head_in_flight),
		cmocka_unit_test(chain_returned_twice),
		cmocka_unit_test(length_beyond_writable),
		cmocka_unit_test(bad_adds),
		cmocka_unit_test(random_model),
		cmocka_unit_test(blk_judge),
	};
	rnd_seed_from_env("VIRTQ_SEED");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
