/* SPDX-License-Identifier: MIT */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

/*
 * virtio-blk (virtio 1.2, 5.2): read, write, flush and get-id on a disk image of whole 512-byte
 * sectors, one request queue. The image is a backend (virtio_blk_backend.c): a file or block
 * device the VMM may write (pread/pwrite/fsync; Dyad's /dev/vda, whose fsync is a flush of the
 * machine's disk), a block device it may only read (served read-only: VIRTIO_BLK_F_RO, writes
 * get an I/O error status), or a private copy in the VMM's memory of a read-only file (a boot
 * module), whose writes last until power-off.
 */

#include <stddef.h>
#include <stdint.h>

#include "virtio_pci.h"

#define BLK_SECTOR 512
#define BLK_ID_LEN 20 /* VIRTIO_BLK_ID_BYTES */

struct blk_backend;

/* A backend's operations: 0, or -1 for an I/O error. Offsets and lengths are checked against
 * the size before they are called. */
struct blk_ops {
	int (*read)(struct blk_backend *b, uint64_t off, void *buf, size_t len);
	int (*write)(struct blk_backend *b, uint64_t off, const void *buf, size_t len);
	int (*flush)(struct blk_backend *b);
};

struct blk_backend {
	const struct blk_ops *ops;
	uint64_t size; /* bytes, a whole number of sectors */
	int fd; /* the file (read-write backend) */
	uint8_t *copy; /* the private copy (read-only file) */
	int private_copy;
	int read_only; /* a read-only block device: the guest may not write */
	unsigned long io_errors; /* failed reads, writes and flushes (each logged, up to a cap) */
};

/*
 * Opens @path as a disk: read-write when the file allows it; else read-only when it is a block
 * device that refuses writing (EACCES, EROFS); else (or when @force_copy) a private copy of its
 * contents. Refuses a file that cannot be opened, an empty one and one whose size is
 * not a multiple of 512, with a sentence in @err. Returns 0 or -1.
 */
int blk_backend_open(struct blk_backend *b, const char *path, int force_copy, char *err,
		     size_t errlen);

/* A backend over @size bytes of memory at @mem (the tests', and the private copy's). */
void blk_backend_mem(struct blk_backend *b, uint8_t *mem, uint64_t size);

struct virtio_blk {
	struct virtio_dev v;
	struct blk_backend *disk;
	char id[BLK_ID_LEN];
	unsigned long reads, writes, flushes, get_ids, errors, unsupported, ro_writes;
};

/* Prepares the device on @disk with serial @id (cut at 20 bytes); see virtio_pci_init. */
int virtio_blk_init(struct virtio_blk *d, const struct guest_ram *ram, msi_deliver_fn deliver,
		    void *ctx, struct blk_backend *disk, const char *id);

#endif
