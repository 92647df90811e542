// SPDX-License-Identifier: MIT
/*
 * The split virtqueue (include/dyad/virtio.h). Pure code over ring memory; it builds on the host.
 *
 * Invariants, with the caller's lock held:
 *  - a descriptor is either on the free list (linked by .next from free_head, nr_free of them)
 *    or in exactly one chain in flight, whose head has a non-NULL cookie;
 *  - in_flight counts the heads with a cookie, so the device can have completed at most
 *    in_flight chains that we have not consumed: used.idx - last_used <= in_flight;
 *  - nothing the device writes (the used ring) is read twice: each entry is copied once, then
 *    checked, so the device cannot change it between the check and the use.
 */
#include <dyad/errno.h>
#include <dyad/string.h>
#include <dyad/virtio.h>

#define AVAIL_IDX 1
#define AVAIL_RING 2
#define USED_IDX 1
#define USED_RING_BYTE 4

u64 virtq_mem_size(u16 size)
{
	/* Descriptors (16-byte aligned), avail ring (2), used ring at a 4-byte boundary. */
	u64 avail = (u64)size * sizeof(struct virtq_desc);
	u64 used = ALIGN_UP(avail + 2 * (3 + (u64)size), 4);
	return used + 6 + (u64)size * sizeof(struct virtq_used_elem);
}

void virtq_init(struct virtq *vq, u16 size, void *mem, u64 pa)
{
	u64 avail = (u64)size * sizeof(struct virtq_desc);
	u64 used = ALIGN_UP(avail + 2 * (3 + (u64)size), 4);

	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->desc = mem;
	vq->avail = (volatile u16 *)((u8 *)mem + avail);
	vq->used = (volatile u16 *)((u8 *)mem + used);
	vq->desc_pa = pa;
	vq->avail_pa = pa + avail;
	vq->used_pa = pa + used;
	for (u16 i = 0; i < size; i++)
		vq->desc[i].next = (u16)(i + 1);
	vq->free_head = 0;
	vq->nr_free = size;
}

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *cookie)
{
	if (vq->broken)
		return -EIO;
	if (!n || n > vq->size || !cookie)
		return -EINVAL;
	if (n > vq->nr_free)
		return -ENOSPC;
	u16 head = vq->free_head, d = head;
	u32 writable = 0;
	for (unsigned i = 0; i < n; i++) {
		struct virtq_desc *desc = &vq->desc[d];
		u16 next = desc->next;
		desc->addr = bufs[i].pa;
		desc->len = bufs[i].len;
		desc->flags = (u16)((bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
				    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		if (bufs[i].device_writes)
			writable += bufs[i].len;
		if (i + 1 < n)
			d = next;
		else
			vq->free_head = next;
	}
	vq->nr_free = (u16)(vq->nr_free - n);
	vq->cookie[head] = cookie;
	vq->chain_len[head] = (u16)n;
	vq->writable[head] = writable;
	vq->in_flight++;
	vq->avail[AVAIL_RING + (vq->avail_idx & (vq->size - 1))] = head;
	vq->avail_idx++;
	/* The descriptors and the ring slot are visible before the index that publishes them. */
	__atomic_store_n(&vq->avail[AVAIL_IDX], vq->avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* Returns the chain at @head to the free list (its length came from virtq_add, not the device). */
static void *chain_free(struct virtq *vq, u16 head)
{
	void *cookie = vq->cookie[head];
	u16 d = head;

	for (unsigned i = 1; i < vq->chain_len[head]; i++)
		d = vq->desc[d].next;
	vq->desc[d].next = vq->free_head;
	vq->free_head = head;
	vq->nr_free = (u16)(vq->nr_free + vq->chain_len[head]);
	vq->cookie[head] = NULL;
	vq->in_flight--;
	return cookie;
}

int virtq_get_used(struct virtq *vq, void **cookie, u32 *len)
{
	if (vq->broken)
		return -EIO;
	u16 idx = __atomic_load_n(&vq->used[USED_IDX], __ATOMIC_ACQUIRE);
	u16 ready = (u16)(idx - vq->last_used);
	if (!ready)
		return 0;
	if (ready > vq->in_flight) {
		vq->broken = true; /* completions for requests never made */
		return -EIO;
	}
	struct virtq_used_elem e;
	memcpy(&e,
	       (const u8 *)vq->used + USED_RING_BYTE +
		       (vq->last_used & (vq->size - 1)) * sizeof(struct virtq_used_elem),
	       sizeof(e));
	if (e.id >= vq->size || !vq->cookie[e.id] || e.len > vq->writable[e.id]) {
		vq->broken = true;
		return -EIO;
	}
	vq->last_used++;
	*len = e.len;
	*cookie = chain_free(vq, (u16)e.id);
	return 1;
}

void *virtq_take_any(struct virtq *vq)
{
	for (u16 i = 0; i < vq->size; i++)
		if (vq->cookie[i])
			return chain_free(vq, i);
	return NULL;
}
