// SPDX-License-Identifier: MIT
/*
 * The virtio-blk driver: one request queue, interrupt-driven completion, read/write/flush, a
 * block device (include/dyad/blk.h) per disk. It talks to the device through the transport
 * (virtio_pci.c) and the virtqueue (virtqueue.c) only.
 *
 * Each request is three descriptors: the header (device-readable), the data (readable for a
 * write, writable for a read; absent for a flush) and the status byte (writable). Header and
 * status live in a per-device slot page, one 32-byte slot per request in flight; the data is
 * the caller's physically contiguous kernel buffer.
 *
 * Locking: vb->lock (taken with interrupts off) guards the queue, the slots and the counters;
 * the interrupt handler takes it too, and completes requests under it. The interrupt goes to
 * one CPU chosen at probe (pci_irq_cpu: not the boot CPU when there are others), which is
 * seldom the issuer's: blk_complete() wakes the issuer wherever it sleeps. A request's issuer
 * sleeps in blk_wait() without it and takes it once more before it returns, so the thread
 * that blk_complete() wakes cannot have ended by then.
 *
 * Nothing the device returns is trusted: the virtqueue checks used-ring indexes, ids and
 * lengths, virtio_blk_judge() the status byte and the length per request. A device that
 * breaks the protocol is marked FAILED, every request in flight fails with -EIO, and so does
 * every later one: the kernel goes on without the disk.
 */
#include <arch/x86/asm.h>
#include <arch/x86/lapic.h>
#include <arch/x86/percpu.h>
#include <arch/x86/trap.h>
#include <dyad/blk.h>
#include <dyad/errno.h>
#include <dyad/pci.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/sched.h>
#include <dyad/spinlock.h>
#include <dyad/string.h>
#include <dyad/time.h>
#include <dyad/virtio.h>

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

/* Device configuration offsets. */
#define CFG_CAPACITY 0 /* u64, 512-byte sectors */
#define CFG_SIZE_MAX 8 /* u32 */
#define CFG_BLK_SIZE 20 /* u32 */

#define SLOT_LEN 32
#define SLOT_STATUS 16
#define MAX_SLOTS 64
#define REQ_DESCS 3
#define ERRORS_PRINTED_MAX 10
#define MAX_IO (1024 * 1024) /* one data descriptor, physically contiguous */

struct vblk {
	struct virtio_pci vp;
	struct virtq vq;
	struct blk_dev blk;
	struct spinlock lock;
	u8 *slots; /* MAX_SLOTS x SLOT_LEN, one page */
	u64 slots_pa;
	u64 slot_busy; /* bit i: slot i belongs to a request not yet reaped by its issuer */
	unsigned nr_slots;
	unsigned vector; /* 0: no interrupt, issuers poll at each timer tick */
	unsigned irq_cpu; /* the CPU the vector is routed to */
	bool failed;
	const char *fail_why; /* what the device did, printed once by an issuer */
	unsigned errors_printed; /* device-reported errors printed, at most ERRORS_PRINTED_MAX */
	u64 irqs, requests;
	u64 irqs_elsewhere; /* taken on a CPU other than irq_cpu: a misrouted message */
};

static struct vblk vblks[BLK_MAX_DEVS];
static unsigned nr_vblks;

static u32 req_type(enum blk_op op)
{
	return op == BLK_READ	 ? VIRTIO_BLK_T_IN
	       : op == BLK_WRITE ? VIRTIO_BLK_T_OUT
				 : VIRTIO_BLK_T_FLUSH;
}

/*
 * With vb->lock held: the device broke the protocol. Fails it and everything in flight. Runs
 * in the interrupt handler, where printing could wait for a console lock the interrupted code
 * holds: the reason is kept and an issuer prints it (vblk_report).
 */
static void vblk_fail(struct vblk *vb, const char *why)
{
	if (!vb->failed)
		vb->fail_why = why;
	vb->failed = true;
	vb->vq.broken = true;
	virtio_pci_fail(&vb->vp);
	for (struct blk_req *r; (r = virtq_take_any(&vb->vq));)
		blk_complete(&r->c, -EIO, 0);
}

/* With vb->lock held: completes every request the device has returned. */
static void vblk_reap(struct vblk *vb)
{
	void *cookie;
	u32 len;
	int got;

	while ((got = virtq_get_used(&vb->vq, &cookie, &len)) > 0) {
		struct blk_req *r = cookie;
		/* Read once: the device could change the byte between a check and a use. */
		u8 status = __atomic_load_n(vb->slots + r->slot * SLOT_LEN + SLOT_STATUS,
					    __ATOMIC_RELAXED);
		int err = virtio_blk_judge(req_type(r->op), r->op == BLK_FLUSH ? 0 : r->len, len,
					   status);
		if (err == -EPROTO) {
			blk_complete(&r->c, -EIO, len);
			vblk_fail(vb, "a completion with an impossible status or length");
			return;
		}
		blk_complete(&r->c, err, len);
	}
	if (got < 0)
		vblk_fail(vb, "a used ring with an impossible index, id or length");
}

static void vblk_irq(struct trap_frame *tf)
{
	for (unsigned i = 0; i < nr_vblks; i++) {
		struct vblk *vb = &vblks[i];
		if (vb->vector != tf->vector)
			continue;
		/* With MSI the device signals as on INTx: reading the ISR acknowledges it. */
		if (vb->vp.irq_mode == VIRTIO_IRQ_MSI)
			virtio_pci_isr(&vb->vp);
		spin_lock(&vb->lock);
		vb->irqs++;
		vb->irqs_elsewhere += this_cpu_id() != vb->irq_cpu;
		vblk_reap(vb);
		spin_unlock(&vb->lock);
	}
	lapic_eoi();
}

/* Waits for @r; without an interrupt the issuer reaps the queue itself at each wake-up. */
static void vblk_wait(struct vblk *vb, struct blk_req *r)
{
	if (vb->vector) {
		blk_wait(&r->c);
		return;
	}
	while (!__atomic_load_n(&r->c.done, __ATOMIC_ACQUIRE)) {
		u64 flags = spin_lock_irqsave(&vb->lock);
		vblk_reap(vb);
		spin_unlock_irqrestore(&vb->lock, flags);
		if (!__atomic_load_n(&r->c.done, __ATOMIC_ACQUIRE))
			halt(); /* the timer tick wakes us */
	}
}

static bool all_slots_busy(const struct vblk *vb)
{
	return vb->slot_busy == (vb->nr_slots == 64 ? ~0ull : BIT(vb->nr_slots) - 1);
}

/*
 * Frees @r's slot and prints, from the issuer, what went wrong: a failed device's reason
 * (once) or the device's own error on @r (the first ERRORS_PRINTED_MAX). Taking the lock the
 * completion ran under also waits until blk_complete() has woken this thread: only then may the
 * thread go on and, perhaps, end.
 */
static int vblk_release(struct vblk *vb, struct blk_req *r, int err)
{
	struct blk_dev *b = &vb->blk;
	u64 flags = spin_lock_irqsave(&vb->lock);

	vb->slot_busy &= ~BIT(r->slot);
	const char *why = vb->fail_why;
	vb->fail_why = NULL;
	bool print_error = err == -EIO && !vb->failed && vb->errors_printed < ERRORS_PRINTED_MAX;
	vb->errors_printed += print_error;
	spin_unlock_irqrestore(&vb->lock, flags);
	if (why)
		printf("virtio-blk: %s: %s; the device is failed, its requests end with EIO\n",
		       b->name, why);
	if (print_error)
		printf("virtio-blk: %s: the device reported an error on a %s of %u bytes at byte "
		       "%lu (EIO)%s\n",
		       b->name,
		       r->op == BLK_READ    ? "read"
		       : r->op == BLK_WRITE ? "write"
					    : "flush",
		       r->len, r->off,
		       vb->errors_printed == ERRORS_PRINTED_MAX ? "; no more of these are printed"
								: "");
	return err < 0 ? err : 0;
}

static int vblk_submit(struct blk_dev *b, struct blk_req *r, u64 pa, bool may_wait)
{
	struct vblk *vb = b->priv;
	u32 len = r->op == BLK_FLUSH ? 0 : r->len;
	int err;

	if (r->op != BLK_FLUSH &&
	    (!len || len > b->max_io || (r->off | len) & (b->block_size - 1) || r->off >= b->size ||
	     len > b->size - r->off))
		return -EINVAL;
	if (r->op == BLK_WRITE && b->read_only)
		return -EROFS;
	blk_completion_init(&r->c);
	u64 flags = spin_lock_irqsave(&vb->lock);
	/*
	 * A free slot; every slot busy means as many requests in flight: wait for one, unless the
	 * caller has requests of its own in flight (!@may_wait), which it must finish first: a
	 * wait then could be for slots that only its own finish frees.
	 */
	while (!vb->failed && all_slots_busy(vb)) {
		spin_unlock_irqrestore(&vb->lock, flags);
		if (!may_wait)
			return -EAGAIN;
		if (r->c.waiter)
			sched_yield();
		else
			halt();
		flags = spin_lock_irqsave(&vb->lock);
	}
	if (vb->failed) {
		spin_unlock_irqrestore(&vb->lock, flags);
		return -EIO;
	}
	r->slot = (unsigned)__builtin_ctzll(~vb->slot_busy);
	vb->slot_busy |= BIT(r->slot);
	u8 *slot = vb->slots + r->slot * SLOT_LEN;
	u64 slot_pa = vb->slots_pa + r->slot * SLOT_LEN;
	struct virtio_blk_hdr h = { .type = req_type(r->op), .sector = r->off / BLK_SECTOR };
	memcpy(slot, &h, sizeof(h));
	slot[SLOT_STATUS] = VIRTIO_BLK_S_UNSET;
	struct virtq_buf bufs[REQ_DESCS] = {
		{ .pa = slot_pa, .len = sizeof(h) },
		{ .pa = pa, .len = len, .device_writes = r->op == BLK_READ },
		{ .pa = slot_pa + SLOT_STATUS, .len = 1, .device_writes = true },
	};
	if (r->op == BLK_FLUSH)
		bufs[1] = bufs[2];
	err = virtq_add(&vb->vq, bufs, r->op == BLK_FLUSH ? 2 : 3, r);
	if (err >= 0) {
		vb->requests++;
		virtio_pci_notify(&vb->vp, 0);
	}
	spin_unlock_irqrestore(&vb->lock, flags);
	return err < 0 ? vblk_release(vb, r, err) : 0;
}

static int vblk_finish(struct blk_dev *b, struct blk_req *r)
{
	struct vblk *vb = b->priv;

	vblk_wait(vb, r);
	return vblk_release(vb, r, r->c.err);
}

static int vblk_rw(struct blk_dev *b, enum blk_op op, u64 off, u64 pa, u32 len)
{
	struct blk_req r = { .op = op, .off = off, .len = len };
	int err = vblk_submit(b, &r, pa, true);

	return err ? err : vblk_finish(b, &r);
}

static const struct blk_ops vblk_ops = { .rw = vblk_rw,
					 .submit = vblk_submit,
					 .finish = vblk_finish };

u64 virtio_blk_irqs(const struct blk_dev *b)
{
	const struct vblk *vb = b->priv;

	return __atomic_load_n(&vb->irqs, __ATOMIC_RELAXED);
}

bool virtio_blk_has_irq(const struct blk_dev *b)
{
	return ((const struct vblk *)b->priv)->vector != 0;
}

unsigned virtio_blk_irq_cpu(const struct blk_dev *b)
{
	return ((const struct vblk *)b->priv)->irq_cpu;
}

u64 virtio_blk_irqs_elsewhere(const struct blk_dev *b)
{
	const struct vblk *vb = b->priv;

	return __atomic_load_n(&vb->irqs_elsewhere, __ATOMIC_RELAXED);
}

/* The logical block size the device states, if it is one Dyad accepts, else 512. */
static u32 block_size(struct vblk *vb)
{
	if (!(vb->vp.features & BIT(VIRTIO_BLK_F_BLK_SIZE)))
		return BLK_SECTOR;
	u32 bs = virtio_pci_cfg32(&vb->vp, CFG_BLK_SIZE);
	if (bs < BLK_SECTOR || bs > PAGE_SIZE || (bs & (bs - 1))) {
		printf("virtio-blk: block size %u ignored, 512 used\n", bs);
		return BLK_SECTOR;
	}
	return bs;
}

int virtio_blk_probe(struct virtio_pci *vp)
{
	if (nr_vblks == BLK_MAX_DEVS)
		return -ENOSPC;
	struct vblk *vb = &vblks[nr_vblks];
	memset(vb, 0, sizeof(*vb));
	vb->vp = *vp;
	spin_init(&vb->lock);
	int err = virtio_pci_negotiate(&vb->vp,
				       BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) |
					       BIT(VIRTIO_BLK_F_RO) | BIT(VIRTIO_BLK_F_BLK_SIZE) |
					       BIT(VIRTIO_BLK_F_FLUSH));
	if (err)
		return err;

	struct blk_dev *b = &vb->blk;
	b->block_size = block_size(vb);
	u64 sectors = virtio_pci_cfg64(&vb->vp, CFG_CAPACITY);
	if (sectors > (~0ull >> 10)) {
		virtio_pci_fail(&vb->vp);
		printf("virtio-blk: capacity of %lu sectors refused\n", sectors);
		return -EINVAL;
	}
	b->size = ALIGN_DOWN(sectors * BLK_SECTOR, (u64)b->block_size);
	b->max_io = MAX_IO;
	if (vb->vp.features & BIT(VIRTIO_BLK_F_SIZE_MAX)) {
		u32 size_max = virtio_pci_cfg32(&vb->vp, CFG_SIZE_MAX);
		if (size_max >= b->block_size && size_max < b->max_io)
			b->max_io = ALIGN_DOWN(size_max, b->block_size);
	}
	b->read_only = vb->vp.features & BIT(VIRTIO_BLK_F_RO);
	b->has_flush = vb->vp.features & BIT(VIRTIO_BLK_F_FLUSH);
	b->ops = &vblk_ops;
	b->priv = vb;

	/*
	 * MSI-X entry 0, else MSI, to the CPU with the fewest device interrupts; without either
	 * the queue still works, polled at timer ticks.
	 */
	unsigned vector = pci_irq_vector_alloc(vblk_irq);
	if (vector) {
		vb->irq_cpu = pci_irq_cpu();
		if (virtio_pci_irq_route(&vb->vp, vector, vb->irq_cpu) == VIRTIO_IRQ_NONE) {
			pci_irq_vector_free(vector);
			vector = 0;
		}
	}
	u16 msix = virtio_pci_queue_vector(&vb->vp);
	err = virtio_pci_queue_setup(&vb->vp, 0, &vb->vq, VIRTQ_MAX_SIZE, msix);
	if (err == -ENODEV && msix != VIRTIO_NO_VECTOR) {
		/* The device has no room for the vector: polled. */
		pci_irq_vector_free(vector);
		vector = 0;
		err = virtio_pci_queue_setup(&vb->vp, 0, &vb->vq, VIRTQ_MAX_SIZE, VIRTIO_NO_VECTOR);
	}
	u64 slots = err ? 0 : pmem_alloc_zeroed(0);
	if (err || !slots) {
		virtio_pci_fail(&vb->vp);
		pci_irq_vector_free(vector);
		printf("virtio-blk: no request queue (error %d)\n", err ? err : -ENOMEM);
		return err ? err : -ENOMEM;
	}
	vb->slots = pmem_va(slots);
	vb->slots_pa = slots;
	vb->nr_slots = MIN((unsigned)MAX_SLOTS, vb->vq.size / REQ_DESCS);
	vb->vector = vector;
	err = blk_register(b);
	if (err) {
		virtio_pci_fail(&vb->vp);
		pci_irq_vector_free(vector);
		return err;
	}
	nr_vblks++;
	virtio_pci_driver_ok(&vb->vp);
	printf("virtio-blk: %s: %lu bytes (%lu MiB), block %u, %s%s, queue of %u, %s\n", b->name,
	       b->size, b->size >> 20, b->block_size, b->read_only ? "read-only" : "read-write",
	       b->has_flush ? ", write cache flushed on fsync" : "", vb->vq.size,
	       !vb->vector			    ? "no interrupt: polled at timer ticks"
	       : vb->vp.irq_mode == VIRTIO_IRQ_MSIX ? "MSI-X interrupts"
						    : "MSI interrupts");
	if (vb->vector)
		printf("virtio-blk: %s: vector %#x to CPU %u (APIC ID %u)\n", b->name, vb->vector,
		       vb->irq_cpu, percpu_of(vb->irq_cpu)->apic_id);
	return 0;
}
