// SPDX-License-Identifier: MIT
/* The disk image behind virtio-blk (virtio_blk.h): a read-write file, or a private copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio_blk.h"
#include "vmm.h"

/* BLKGETSIZE64 (<linux/fs.h>: _IOR(0x12, 114, size_t)), without the header, whose ioctl
 * macros clash with musl's. */
#define BLK_GETSIZE64 0x80081272u
int ioctl(int fd, int request, ...);

/* The size of the image open at @fd: st_size, or for a block device whose st_size is 0 (as on
 * Linux) what BLKGETSIZE64 says. */
static long long image_size(int fd, const struct stat *st)
{
	uint64_t bytes = 0;

	if (S_ISBLK(st->st_mode) && !st->st_size && !ioctl(fd, (int)BLK_GETSIZE64, &bytes))
		return (long long)bytes;
	return (long long)st->st_size;
}

/*
 * One line on the VMM's log for a failed backend call (the guest gets VIRTIO_BLK_S_IOERR), at
 * most BLK_ERRORS_LOGGED of them, so that a guest retrying a bad sector cannot flood the log.
 * Returns -1, the backend's error.
 */
#define BLK_ERRORS_LOGGED 8
static int io_error(struct blk_backend *b, const char *what, uint64_t off, size_t len, int err)
{
	b->io_errors++;
	if (b->io_errors <= BLK_ERRORS_LOGGED)
		vmm_log("virtio-blk: %s of %zu bytes at sector %llu failed: %s%s", what, len,
			(unsigned long long)(off / BLK_SECTOR), err ? strerror(err) : "end of file",
			b->io_errors == BLK_ERRORS_LOGGED ? " (further errors are not logged)"
							  : "");
	return -1;
}

static int file_read(struct blk_backend *b, uint64_t off, void *buf, size_t len)
{
	while (len) {
		ssize_t n = pread(b->fd, buf, len, (off_t)off);
		if (n <= 0)
			return io_error(b, "read", off, len, n ? errno : 0);
		buf = (uint8_t *)buf + n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_write(struct blk_backend *b, uint64_t off, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = pwrite(b->fd, buf, len, (off_t)off);
		if (n <= 0)
			return io_error(b, "write", off, len, n ? errno : 0);
		buf = (const uint8_t *)buf + n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_flush(struct blk_backend *b)
{
	if (b->read_only)
		return 0; /* nothing was written */
	return fsync(b->fd) ? io_error(b, "flush", 0, 0, errno) : 0;
}

static int mem_read(struct blk_backend *b, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, b->copy + off, len);
	return 0;
}

static int mem_write(struct blk_backend *b, uint64_t off, const void *buf, size_t len)
{
	memcpy(b->copy + off, buf, len);
	return 0;
}

static int mem_flush(struct blk_backend *b)
{
	return 0; /* nothing outlives the VMM */
}

static const struct blk_ops file_ops = { file_read, file_write, file_flush };
static const struct blk_ops mem_ops = { mem_read, mem_write, mem_flush };

void blk_backend_mem(struct blk_backend *b, uint8_t *mem, uint64_t size)
{
	*b = (struct blk_backend){
		.ops = &mem_ops, .size = size, .fd = -1, .copy = mem, .private_copy = 1
	};
}

int blk_backend_open(struct blk_backend *b, const char *path, int force_copy, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd = force_copy ? -1 : open(path, O_RDWR);
	int rw = fd >= 0, rw_errno = errno;

	if (!rw)
		fd = open(path, O_RDONLY);
	if (fd < 0 && errno == ENOENT && !strncmp(path, "/dev/vd", 7)) {
		snprintf(err, errlen,
			 "disk %s: Dyad has no such disk (it needs a virtio-blk drive from QEMU; "
			 "Bochs has none)",
			 path);
		return -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "disk %s: %s", path, strerror(errno));
		return -1;
	}
	long long bytes = fstat(fd, &st) ? -1 : image_size(fd, &st);
	if (bytes <= 0 || bytes % BLK_SECTOR) {
		if (bytes <= 0)
			snprintf(err, errlen,
				 "disk %s: empty (a disk image is whole 512-byte sectors)", path);
		else
			snprintf(err, errlen,
				 "disk %s: %lld bytes is not a whole number of 512-byte sectors",
				 path, bytes);
		close(fd);
		return -1;
	}
	uint64_t size = (uint64_t)bytes;
	/*
	 * A block device that may only be read (a read-only drive) is served read-only: the guest
	 * sees VIRTIO_BLK_F_RO, and a write it sends anyway gets an I/O error status. A copy of
	 * a whole disk in memory would cost its size and hide from the user that nothing lasts.
	 */
	if (rw ||
	    (S_ISBLK(st.st_mode) && !force_copy && (rw_errno == EACCES || rw_errno == EROFS))) {
		*b = (struct blk_backend){
			.ops = &file_ops, .size = size, .fd = fd, .read_only = !rw
		};
		return 0;
	}
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		snprintf(err, errlen, "disk %s: no memory for a private copy of %llu bytes", path,
			 (unsigned long long)size);
		close(fd);
		return -1;
	}
	for (uint64_t done = 0; done < size;) {
		ssize_t n = read(fd, (uint8_t *)mem + done, size - done);
		if (n <= 0) {
			snprintf(err, errlen, "disk %s: read failed at byte %llu", path,
				 (unsigned long long)done);
			munmap(mem, size);
			close(fd);
			return -1;
		}
		done += (uint64_t)n;
	}
	close(fd);
	blk_backend_mem(b, mem, size);
	return 0;
}
