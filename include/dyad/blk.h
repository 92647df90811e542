/* SPDX-License-Identifier: MIT */
#ifndef DYAD_BLK_H
#define DYAD_BLK_H

#include <dyad/spinlock.h>
#include <dyad/types.h>

/*
 * Block devices: what a disk driver registers (kern/virtio/virtio_blk.c does) and what a process
 * reaches as /dev/vda, /dev/vdb, ... (kern/blk.c, through kern/syscall.c).
 *
 * Rules a process sees (Linux's for a block device opened with O_DIRECT):
 *  - offsets and lengths of pread64/pwrite64 are multiples of the logical block size
 *    (BLKSSZGET, 512 unless the device states more), else -EINVAL; the user buffer may have any
 *    alignment (the kernel copies through its own buffer);
 *  - a read at or past the end returns 0, one that crosses it is cut short; a write at or past
 *    the end is -ENOSPC, one that crosses it is cut short; a negative offset is -EINVAL;
 *  - a device error is -EIO; opening a read-only disk for writing is -EACCES;
 *  - the device is held by one open file at a time: a second openat() anywhere is -EBUSY until
 *    the holder closes it or its process ends.
 */

#define BLK_MAX_DEVS 8
#define BLK_NAME_MAX 8
#define BLK_SECTOR 512

enum blk_op { BLK_READ, BLK_WRITE, BLK_FLUSH };

struct blk_dev;
struct blk_req;

struct blk_ops {
	/*
	 * Moves @len bytes (a multiple of the logical block size, at most max_io) between the
	 * device at byte @off and the physically contiguous kernel memory at @pa, or flushes the
	 * device's write cache (BLK_FLUSH: @pa and @len unused). Sleeps in blk_wait() until the
	 * device answers. Returns 0 or -EIO. Safe to call from several CPUs at once.
	 */
	int (*rw)(struct blk_dev *b, enum blk_op op, u64 off, u64 pa, u32 len);
	/*
	 * rw in two halves, so that a caller can have several requests in flight: submit checks
	 * @r (op, off and len set by the caller; the rest is the driver's) as rw does and hands
	 * it to the device with the data at @pa, without waiting. Returns 0, after which the
	 * caller must finish @r (and keep it and the data in place until then), or an error of
	 * rw, or -EAGAIN: every request slot is taken and @may_wait is false. A caller with
	 * requests of its own in flight passes false and finishes one of them on -EAGAIN; one
	 * without passes true and waits for a slot.
	 */
	int (*submit)(struct blk_dev *b, struct blk_req *r, u64 pa, bool may_wait);
	/* Waits for the submitted @r to complete and releases it. Returns 0 or -EIO. */
	int (*finish)(struct blk_dev *b, struct blk_req *r);
};

struct blk_dev {
	char name[BLK_NAME_MAX]; /* "vda" */
	u64 size; /* bytes */
	u32 block_size; /* logical block: a power of two, at least BLK_SECTOR */
	u32 max_io; /* bytes per rw call, a multiple of block_size */
	bool read_only;
	bool has_flush; /* a volatile write cache that BLK_FLUSH empties */
	const struct blk_ops *ops;
	void *priv;
	struct spinlock open_lock;
	bool held; /* an open file holds it */
};

/* Registers @b under the next free name (vda, vdb, ...). Returns 0 or -ENOSPC. */
int blk_register(struct blk_dev *b);

/* The device called @name ("vda"), or NULL. */
struct blk_dev *blk_find(const char *name);

/*
 * A request's completion: the issuing thread calls blk_completion_init() before the request
 * can reach the device, then sleeps in blk_wait(); the driver's interrupt handler calls
 * blk_complete(), which wakes it. blk_wait() is the one place a disk request waits: a
 * scheduler block for a thread, a halt between interrupts before the scheduler runs. The
 * completion may run on any CPU (where the device's interrupt is routed).
 */
struct thread;

struct blk_completion {
	volatile bool done;
	int err;
	u32 len; /* what the device reported it wrote */
	struct thread *waiter; /* NULL: no scheduler yet, blk_wait() halts */
	unsigned cpu; /* the issuer's CPU: a completion elsewhere ends its halt by IPI */
};

/* A request of blk_ops.submit/finish: the caller sets op, off and len. */
struct blk_req {
	enum blk_op op;
	u64 off;
	u32 len;
	unsigned slot; /* the driver's */
	struct blk_completion c;
};

void blk_completion_init(struct blk_completion *c);
void blk_wait(struct blk_completion *c);
/*
 * From any context, interrupts included. The caller holds a lock that the waiter takes after
 * blk_wait() returns, so the waiting thread is still there when it is woken.
 */
void blk_complete(struct blk_completion *c, int err, u32 len);

/* ---- the file interface (kern/blk.c), called from kern/syscall.c ---------------------------- */

struct fd;

/*
 * openat of "/dev/<name>": fills @f (kind FD_BLK) and holds the device. Returns 0, -ENOENT (no
 * such device), -EBUSY (held), -EACCES (write access to a read-only disk). O_CREAT, O_TRUNC,
 * O_DIRECT, O_SYNC and O_EXCL change nothing, as for a Linux block device (writes are not
 * cached in the kernel, so every write has reached the device when pwrite64 returns).
 */
int blk_fd_open(const char *path, u64 flags, struct fd *f);
/* Returns true if @path names a block device node (/dev/vd*), existing or not. */
bool blk_path(const char *path);
long blk_fd_pread(struct fd *f, u64 ubuf, u64 len, s64 off);
long blk_fd_pwrite(struct fd *f, u64 ubuf, u64 len, s64 off);
long blk_fd_fsync(struct fd *f);
long blk_fd_ioctl(struct fd *f, u64 req, u64 arg);
/* The size in bytes for fstat, and the rdev (major 253 as Linux's virtblk). */
u64 blk_fd_size(const struct fd *f);
u64 blk_fd_rdev(const struct fd *f);
/* close or process end: the device is free for the next opener. */
void blk_fd_release(struct fd *f);

#endif
