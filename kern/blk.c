// SPDX-License-Identifier: MIT
/*
 * Block devices as files (include/dyad/blk.h states the rules a process sees): /dev/vda, ...,
 * registered by drivers, held by one open file at a time, read and written through a kernel
 * buffer so that the user's buffer needs no alignment and is never touched by the device.
 */
#include <linux/fcntl.h>
#include <linux/fs.h>

#include <arch/x86/asm.h>
#include <arch/x86/percpu.h>
#include <arch/x86/smp.h>
#include <dyad/blk.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/proc.h>
#include <dyad/sched.h>
#include <dyad/string.h>
#include <dyad/uaccess.h>

#define DEV_PREFIX "/dev/"
#define VIRTBLK_MAJOR 253 /* Linux's dynamic major for virtio-blk, as its /dev/vda shows */
/*
 * A pread64/pwrite64 moves through one kernel buffer of at most XFER_BUF bytes (a small
 * transfer costs a small allocation) as up to XFER_DEPTH device requests in flight. A write goes
 * out in XFER_WRITE_CHUNK pieces, so that copying the next piece in overlaps the device's work
 * on the ones before. A read goes out as one request per buffer (device max_io permitting): its
 * copy out can only start once its data is in, and splitting it cost an interrupt and a wake per
 * piece that outweighed the overlap in make bench-blk (docs/storage.md).
 */
#define XFER_BUF (1024ull * 1024)
#define XFER_WRITE_CHUNK (256ull * 1024)
#define XFER_DEPTH 4

static struct blk_dev *devs[BLK_MAX_DEVS];
static unsigned nr_devs;
static struct spinlock devs_lock = SPINLOCK_INIT;

int blk_register(struct blk_dev *b)
{
	int err = 0;

	spin_lock(&devs_lock);
	if (nr_devs == BLK_MAX_DEVS) {
		err = -ENOSPC;
	} else {
		b->name[0] = 'v';
		b->name[1] = 'd';
		b->name[2] = (char)('a' + nr_devs);
		b->name[3] = '\0';
		spin_init(&b->open_lock);
		b->held = false;
		devs[nr_devs++] = b;
	}
	spin_unlock(&devs_lock);
	return err;
}

struct blk_dev *blk_find(const char *name)
{
	for (unsigned i = 0; i < nr_devs; i++)
		if (strcmp(devs[i]->name, name) == 0)
			return devs[i];
	return NULL;
}

void blk_completion_init(struct blk_completion *c)
{
	struct thread *t = thread_current();

	*c = (struct blk_completion){ .waiter = t && !t->idle ? t : NULL, .cpu = this_cpu_id() };
}

void blk_complete(struct blk_completion *c, int err, u32 len)
{
	struct thread *t = c->waiter;
	unsigned cpu = c->cpu;

	c->err = err;
	c->len = len;
	/* After this store the waiter may return and its stack (which holds *c) be reused. */
	__atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
	if (t)
		sched_wake(t);
	else if (cpu != this_cpu_id())
		smp_send_resched(cpu); /* ends its halt in blk_wait() */
}

/*
 * Sleeps until @c is done. A thread blocks in the scheduler: sched_prepare_block() before the
 * check, so a completion between the check and sched_block() makes the block return at once.
 * The wait goes on while the process is being killed (sched_block() then returns at once): the
 * device still owns the request's memory until it answers, and it answers within the
 * emulator's I/O time. Without a thread (early boot, an idle thread) the CPU halts between
 * interrupts: the check and the halt run with interrupts off and STI's one-instruction shadow
 * covering HLT, so the completion interrupt cannot slip in between.
 */
void blk_wait(struct blk_completion *c)
{
	if (c->waiter) {
		for (;;) {
			sched_prepare_block();
			if (__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
				return;
			sched_block(0);
		}
	}
	bool was_on = read_rflags() & BIT(9);

	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		irq_disable();
		if (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
			__asm__ volatile("sti; hlt" : : : "memory");
		else
			irq_enable();
	}
	if (!was_on)
		irq_disable();
}

bool blk_path(const char *path)
{
	return strncmp(path, DEV_PREFIX "vd", sizeof(DEV_PREFIX "vd") - 1) == 0;
}

int blk_fd_open(const char *path, u64 flags, struct fd *f)
{
	if (!blk_path(path))
		return -ENOENT;
	struct blk_dev *b = blk_find(path + sizeof(DEV_PREFIX) - 1);
	if (!b)
		return -ENOENT; /* as Linux with no such node: O_CREAT does not make a device */
	u32 access = (u32)(flags & O_ACCMODE);
	if (access == O_ACCMODE)
		return -EINVAL;
	if (access != O_RDONLY && b->read_only)
		return -EACCES;
	spin_lock(&b->open_lock);
	bool busy = b->held;
	b->held = true;
	spin_unlock(&b->open_lock);
	if (busy)
		return -EBUSY;
	*f = (struct fd){
		.kind = FD_BLK, .blk = b, .access = access, .flags = (u32)(flags & O_NONBLOCK)
	};
	return 0;
}

void blk_fd_release(struct fd *f)
{
	struct blk_dev *b = f->blk;

	if (!b)
		return;
	spin_lock(&b->open_lock);
	b->held = false;
	spin_unlock(&b->open_lock);
	f->blk = NULL;
}

/*
 * Checks a transfer and cuts it at the end of the device. Returns the bytes to move (0: a read
 * at the end) or -EINVAL (misaligned, negative offset), -ENOSPC (a write at or past the end).
 */
static long clip(const struct blk_dev *b, u64 len, s64 off, bool write)
{
	if (off < 0 || ((u64)off | len) & (b->block_size - 1))
		return -EINVAL;
	if ((s64)len < 0)
		return -EINVAL;
	if ((u64)off >= b->size)
		return write && len ? -ENOSPC : 0;
	return (long)MIN(len, b->size - (u64)off);
}

/*
 * Moves @n bytes (checked by clip) as a pipeline of up to XFER_DEPTH device requests, each with
 * its own part of one kernel buffer: a write copies the next chunk in while the device works on
 * the ones before; a read (pipelined only when max_io splits the buffer) copies a chunk out
 * while the device fills the ones after. Requests finish in the order they were submitted, and the
 * result counts the bytes moved before the first error (as Linux). Every submitted request is
 * finished before the buffer is freed, errors or not: the device owns that memory until it answers.
 */
static long transfer(struct fd *f, u64 ubuf, u64 len, s64 off, bool write)
{
	struct blk_dev *b = f->blk;

	if (write ? f->access == O_RDONLY : f->access == O_WRONLY)
		return -EBADF;
	long n = clip(b, len, off, write);
	if (n <= 0)
		return n;
	u32 chunk = (u32)MIN(MIN((u64)n, (u64)b->max_io), write ? XFER_WRITE_CHUNK : XFER_BUF);
	unsigned depth =
		(unsigned)MIN(MIN((u64)XFER_DEPTH, ((u64)n + chunk - 1) / chunk), XFER_BUF / chunk);
	unsigned order = 0;
	while ((PAGE_SIZE << order) < (u64)chunk * depth)
		order++;
	u64 pa = pmem_alloc(order);
	if (!pa)
		return -ENOMEM;
	u8 *buf = pmem_va(pa);
	struct blk_req reqs[XFER_DEPTH];
	unsigned first = 0, nr = 0; /* in flight: reqs[first], ... in submission order */
	long submitted = 0, done = 0, err = 0;
	long stop = n; /* where the first error struck: nothing from there on counts */

	for (;;) {
		while (stop == n && nr < depth && submitted < n) {
			unsigned i = (first + nr) % depth;
			u32 step = (u32)MIN((u64)chunk, (u64)(n - submitted));
			u64 part = (u64)i * chunk;
			int e = 0;
			if (write && copy_from_user(buf + part, ubuf + (u64)submitted, step))
				e = -EFAULT;
			reqs[i] = (struct blk_req){ .op = write ? BLK_WRITE : BLK_READ,
						    .off = (u64)off + (u64)submitted,
						    .len = step };
			if (!e)
				e = b->ops->submit(b, &reqs[i], pa + part, nr == 0);
			if (e == -EAGAIN)
				break; /* no free slot: finish one of ours first */
			if (e) {
				err = e;
				stop = submitted;
				break;
			}
			nr++;
			submitted += step;
		}
		if (!nr)
			break;
		struct blk_req *r = &reqs[first];
		long at = (long)(r->off - (u64)off);
		u64 part = (u64)first * chunk;
		int e = b->ops->finish(b, r);
		first = (first + 1) % depth;
		nr--;
		if (at >= stop)
			continue; /* after an error: finished, not counted */
		if (!e && !write && copy_to_user(ubuf + (u64)at, buf + part, r->len))
			e = -EFAULT;
		if (e) {
			err = e;
			stop = at;
		} else {
			done = at + r->len;
		}
	}
	pmem_free(pa, order);
	/* As Linux: what was moved before an error is the result; an error alone is returned. */
	return done ? done : err;
}

long blk_fd_pread(struct fd *f, u64 ubuf, u64 len, s64 off)
{
	return transfer(f, ubuf, len, off, false);
}

long blk_fd_pwrite(struct fd *f, u64 ubuf, u64 len, s64 off)
{
	return transfer(f, ubuf, len, off, true);
}

long blk_fd_fsync(struct fd *f)
{
	struct blk_dev *b = f->blk;

	if (!b->has_flush)
		return 0; /* a write-through device: every write is already durable */
	return b->ops->rw(b, BLK_FLUSH, 0, 0, 0);
}

long blk_fd_ioctl(struct fd *f, u64 req, u64 arg)
{
	struct blk_dev *b = f->blk;
	u64 v64;
	int v32;
	long vlong;

	switch (req) {
	case BLKGETSIZE64:
		v64 = b->size;
		return copy_to_user(arg, &v64, sizeof(v64));
	case BLKGETSIZE:
		vlong = (long)(b->size / BLK_SECTOR);
		return copy_to_user(arg, &vlong, sizeof(vlong));
	case BLKSSZGET:
	case BLKPBSZGET:
		v32 = (int)b->block_size;
		return copy_to_user(arg, &v32, sizeof(v32));
	case BLKROGET:
		v32 = b->read_only;
		return copy_to_user(arg, &v32, sizeof(v32));
	case BLKFLSBUF:
		return 0; /* there is no buffer cache */
	default:
		return -ENOTTY;
	}
}

u64 blk_fd_size(const struct fd *f)
{
	return f->blk->size;
}

u64 blk_fd_rdev(const struct fd *f)
{
	for (unsigned i = 0; i < nr_devs; i++)
		if (devs[i] == f->blk)
			return (VIRTBLK_MAJOR << 8) | (i * 16);
	return 0;
}
