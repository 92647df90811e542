// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio_blk.h). A request is a chain: a 16-byte header the device reads (type,
 * reserved, sector), data (read by the device for a write, written for a read or get-id), and a
 * status byte the device writes last. Requests run to completion in the notification exit.
 */
#include <stdlib.h>
#include <string.h>

#include "virtio_blk.h"
#include "vmm.h"

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

struct blk_req_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static void cfg_read(struct virtio_dev *v, unsigned off, unsigned size, uint64_t *value)
{
	struct virtio_blk *d = v->priv;
	uint8_t cfg[24] = { 0 };
	uint64_t sectors = d->disk->size / BLK_SECTOR;

	/* capacity (le64) at 0; size_max, seg_max, geometry, blk_size: no feature offers them */
	memcpy(cfg, &sectors, 8);
	if (off + size <= sizeof(cfg))
		memcpy(value, cfg + off, size);
}

/* Whether @len bytes from @sector lie on the disk. */
static int in_range(const struct virtio_blk *d, uint64_t sector, uint64_t len)
{
	uint64_t sectors = d->disk->size / BLK_SECTOR;

	return sector <= sectors && len / BLK_SECTOR <= sectors - sector && !(len % BLK_SECTOR);
}

/*
 * Whether every buffer of the request's data is whole sectors: then each goes to the backend as
 * it is. Otherwise (the driver may split the data anywhere) it goes through a bounce buffer, so
 * that the backend sees sector-sized pieces only (Dyad's /dev/vda takes nothing else).
 */
static int whole_sectors(const struct virtq_chain *ch, unsigned first, unsigned end, uint64_t skip,
			 uint64_t len)
{
	for (unsigned k = first; k < end && len; k++) {
		uint64_t n = ch->buf[k].len > skip ? ch->buf[k].len - skip : 0;
		skip = n ? 0 : skip - ch->buf[k].len;
		n = n < len ? n : len;
		if (n % BLK_SECTOR)
			return 0;
		len -= n;
	}
	return 1;
}

static uint8_t do_read(struct virtio_blk *d, const struct virtq_chain *ch, uint64_t sector,
		       uint64_t len)
{
	uint64_t off = sector * BLK_SECTOR, left = len;

	if (!in_range(d, sector, len))
		return VIRTIO_BLK_S_IOERR;
	d->reads++;
	if (!whole_sectors(ch, ch->nout, ch->nout + ch->nin, 0, len)) {
		uint8_t *bounce = malloc(len ? len : 1);
		int err = !bounce || d->disk->ops->read(d->disk, off, bounce, len);
		if (!err)
			virtq_write(ch, 0, bounce, len);
		free(bounce);
		return err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	}
	for (unsigned k = ch->nout; k < ch->nout + ch->nin && left; k++) {
		uint64_t n = ch->buf[k].len < left ? ch->buf[k].len : left;
		if (d->disk->ops->read(d->disk, off, ch->buf[k].p, n))
			return VIRTIO_BLK_S_IOERR;
		off += n;
		left -= n;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct virtio_blk *d, const struct virtq_chain *ch, uint64_t sector,
			uint64_t len)
{
	uint64_t off = sector * BLK_SECTOR, skip = sizeof(struct blk_req_hdr);

	if (!in_range(d, sector, len))
		return VIRTIO_BLK_S_IOERR;
	d->writes++;
	if (!whole_sectors(ch, 0, ch->nout, skip, len)) {
		uint8_t *bounce = malloc(len ? len : 1);
		int err = !bounce;
		if (!err) {
			virtq_read(ch, skip, bounce, len);
			err = d->disk->ops->write(d->disk, off, bounce, len);
		}
		free(bounce);
		return err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	}
	for (unsigned k = 0; k < ch->nout; k++) {
		if (skip >= ch->buf[k].len) {
			skip -= ch->buf[k].len;
			continue;
		}
		uint64_t n = ch->buf[k].len - skip;
		if (d->disk->ops->write(d->disk, off, ch->buf[k].p + skip, n))
			return VIRTIO_BLK_S_IOERR;
		off += n;
		skip = 0;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Serves one request; returns the bytes written into the chain (data and status), or -1 for a
 * chain that is no request at all (no header, no status byte).
 */
static int64_t serve(struct virtio_blk *d, const struct virtq_chain *ch)
{
	struct blk_req_hdr h;
	uint64_t data_in, written = 1;
	uint8_t status;

	if (ch->out_len < sizeof(h) || !ch->in_len)
		return -1;
	virtq_read(ch, 0, &h, sizeof(h));
	data_in = ch->in_len - 1;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		status = do_read(d, ch, h.sector, data_in);
		if (status == VIRTIO_BLK_S_OK)
			written += data_in;
		break;
	case VIRTIO_BLK_T_OUT:
		if (d->disk->read_only) {
			/* A driver that ignores VIRTIO_BLK_F_RO: refused, said once. */
			if (!d->ro_writes++)
				vmm_log("virtio-blk: the guest wrote to the read-only disk: "
					"I/O error status (further such writes are not logged)");
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		status = do_write(d, ch, h.sector, ch->out_len - sizeof(h));
		break;
	case VIRTIO_BLK_T_FLUSH:
		d->flushes++;
		status = d->disk->ops->flush(d->disk) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_GET_ID:
		d->get_ids++;
		written += virtq_write(ch, 0, d->id, data_in < BLK_ID_LEN ? data_in : BLK_ID_LEN);
		status = VIRTIO_BLK_S_OK;
		break;
	default:
		d->unsupported++;
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (status == VIRTIO_BLK_S_IOERR)
		d->errors++;
	virtq_write(ch, ch->in_len - 1, &status, 1);
	return (int64_t)written;
}

static void notify(struct virtio_dev *v, unsigned qi)
{
	struct virtio_blk *d = v->priv;
	struct virtq *q = virtio_queue(v, 0);
	struct virtq_chain ch;
	int ret = 0, used = 0;

	while (q && (ret = virtq_pop(q, &ch)) > 0) {
		int64_t n = serve(d, &ch);
		if (n < 0) {
			virtio_break(v, 0, "a request without a 16-byte header or a status byte");
			break;
		}
		virtq_push(q, ch.head, (uint32_t)n);
		used = 1;
	}
	virtio_queue_done(v, 0, q, used, ret);
}

static const struct virtio_ops ops = {
	.name = "virtio-blk",
	.id = VIRTIO_ID_BLOCK,
	.class_code = 0x018000, /* mass storage, other */
	.nqueues = 1,
	.queue_size = 128,
	.features = VIRTIO_BLK_F_FLUSH,
	.cfg_read = cfg_read,
	.notify = notify,
};

/* The same device on a read-only disk: the driver is told (VIRTIO_BLK_F_RO). */
static const struct virtio_ops ops_ro = {
	.name = "virtio-blk",
	.id = VIRTIO_ID_BLOCK,
	.class_code = 0x018000,
	.nqueues = 1,
	.queue_size = 128,
	.features = VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_RO,
	.cfg_read = cfg_read,
	.notify = notify,
};

int virtio_blk_init(struct virtio_blk *d, const struct guest_ram *ram, msi_deliver_fn deliver,
		    void *ctx, struct blk_backend *disk, const char *id)
{
	d->disk = disk;
	memset(d->id, 0, sizeof(d->id));
	memcpy(d->id, id, strnlen(id, sizeof(d->id))); /* no NUL when it is 20 bytes */
	d->reads = d->writes = d->flushes = d->get_ids = d->errors = d->unsupported = 0;
	d->ro_writes = 0;
	return virtio_pci_init(&d->v, disk->read_only ? &ops_ro : &ops, d, ram, deliver, ctx);
}
