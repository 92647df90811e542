// SPDX-License-Identifier: MIT
/*
 * The virtio-blk driver on the real (emulated) device, when the machine has one (QEMU with
 * DISK=): requests complete by interrupt, a write reaches the disk and reads back, flush works,
 * and the driver refuses requests it cannot carry before the device sees them. The disk's
 * last 8 KiB are put back as they were. Without a disk (Bochs) the tests skip.
 */
#include <arch/x86/asm.h>
#include <arch/x86/smp.h>
#include <dyad/blk.h>
#include <dyad/errno.h>
#include <dyad/ktest.h>
#include <dyad/pmem.h>
#include <dyad/string.h>
#include <dyad/virtio.h>

KTEST(virtio_blk_requests_complete_by_interrupt)
{
	struct blk_dev *b = blk_find("vda");

	if (!b)
		KT_SKIP(kt, "no virtio disk (QEMU without DISK=)");
	KT_ASSERT(kt, virtio_blk_has_irq(b), "vda has no interrupt: its issuers poll");
	/* Spread: with other CPUs the first device's interrupt is not the boot CPU's. */
	if (smp_cpus_online() > 1)
		KT_EXPECT(kt, virtio_blk_irq_cpu(b) != 0, "vda's interrupt on the boot CPU of %u",
			  smp_cpus_online());
	u64 pa = pmem_alloc(0);
	KT_ASSERT(kt, pa, "no page");
	u64 before = virtio_blk_irqs(b);
	for (int i = 0; i < 8; i++)
		KT_EXPECT(kt, b->ops->rw(b, BLK_READ, (u64)i * PAGE_SIZE, pa, PAGE_SIZE) == 0,
			  "read %d", i);
	u64 irqs = virtio_blk_irqs(b) - before;
	/* One interrupt may carry several completions, never fewer than one per wait here. */
	KT_EXPECT(kt, irqs >= 8 && irqs <= 9, "%lu interrupts for 8 reads one after another", irqs);
	KT_EXPECT(kt, virtio_blk_irqs_elsewhere(b) == 0,
		  "%lu interrupts taken on a CPU other than CPU %u, where they are routed",
		  virtio_blk_irqs_elsewhere(b), virtio_blk_irq_cpu(b));
	pmem_free(pa, 0);
}

KTEST(virtio_blk_write_reads_back_and_flushes)
{
	struct blk_dev *b = blk_find("vda");

	if (!b)
		KT_SKIP(kt, "no virtio disk (QEMU without DISK=)");
	KT_ASSERT(kt, b->size >= 2 * PAGE_SIZE, "a disk of %lu bytes", b->size);
	u64 pa = pmem_alloc(2); /* saved, pattern, read back */
	KT_ASSERT(kt, pa, "no pages");
	u8 *saved = pmem_va(pa), *pat = saved + 2 * PAGE_SIZE, *back = saved + 3 * PAGE_SIZE;
	u64 off = b->size - 2 * PAGE_SIZE;

	KT_ASSERT(kt, b->ops->rw(b, BLK_READ, off, pa, 2 * PAGE_SIZE) == 0, "saving the end");
	for (unsigned i = 0; i < PAGE_SIZE; i++)
		pat[i] = (u8)(i * 7 + 3);
	KT_EXPECT(kt, b->ops->rw(b, BLK_WRITE, off + PAGE_SIZE, pmem_pa(pat), PAGE_SIZE) == 0,
		  "write");
	memset(back, 0, PAGE_SIZE);
	KT_EXPECT(kt, b->ops->rw(b, BLK_READ, off + PAGE_SIZE, pmem_pa(back), PAGE_SIZE) == 0,
		  "read back");
	KT_EXPECT(kt, memcmp(pat, back, PAGE_SIZE) == 0, "the last page reads back as written");
	if (b->has_flush)
		KT_EXPECT(kt, b->ops->rw(b, BLK_FLUSH, 0, 0, 0) == 0, "flush");
	/* Refused by the driver, before the device: */
	KT_EXPECT(kt, b->ops->rw(b, BLK_READ, off + 1, pa, 512) == -EINVAL, "unaligned offset");
	KT_EXPECT(kt, b->ops->rw(b, BLK_READ, off, pa, 100) == -EINVAL, "unaligned length");
	KT_EXPECT(kt, b->ops->rw(b, BLK_READ, b->size, pa, 512) == -EINVAL, "at the end");
	KT_EXPECT(kt, b->ops->rw(b, BLK_READ, off, pa, 4 * PAGE_SIZE) == -EINVAL, "across the end");
	KT_EXPECT(kt, b->ops->rw(b, BLK_READ, 0, pa, 0) == -EINVAL, "empty");
	KT_EXPECT(kt, b->ops->rw(b, BLK_WRITE, off, pa, 2 * PAGE_SIZE) == 0, "restoring the end");
	pmem_free(pa, 2);
}

/*
 * Several requests in flight from one caller (blk_ops.submit/finish, as pread64 pipelines
 * them): eight one-page reads at once, finished in reverse order, read what one eight-page
 * read reads; submitting without waiting until the slots run out gives -EAGAIN, not a sleep,
 * and every submitted request still finishes.
 */
#define MANY_MAX 64
static struct blk_req many[MANY_MAX + 1];

KTEST(virtio_blk_requests_in_flight_at_once)
{
	struct blk_dev *b = blk_find("vda");

	if (!b)
		KT_SKIP(kt, "no virtio disk (QEMU without DISK=)");
	KT_ASSERT(kt, b->size >= 8 * PAGE_SIZE, "a disk of %lu bytes", b->size);
	u64 pa = pmem_alloc(4); /* one 8-page read, eight 1-page reads */
	KT_ASSERT(kt, pa, "no pages");
	u8 *whole = pmem_va(pa), *parts = whole + 8 * PAGE_SIZE;

	KT_ASSERT(kt, b->ops->rw(b, BLK_READ, 0, pa, 8 * PAGE_SIZE) == 0, "one read of 8 pages");
	memset(parts, 0x5a, 8 * PAGE_SIZE);
	unsigned n = 0;
	for (; n < 8; n++) {
		many[n] =
			(struct blk_req){ .op = BLK_READ, .off = n * PAGE_SIZE, .len = PAGE_SIZE };
		if (b->ops->submit(b, &many[n], pmem_pa(parts) + n * PAGE_SIZE, n == 0) != 0)
			break;
	}
	KT_EXPECT(kt, n == 8, "only %u of 8 reads submitted at once", n);
	while (n--)
		KT_EXPECT(kt, b->ops->finish(b, &many[n]) == 0, "read %u", n);
	KT_EXPECT(kt, memcmp(whole, parts, 8 * PAGE_SIZE) == 0,
		  "8 reads in flight at once read what one read of 8 pages reads");

	int err = 0;
	for (n = 0; n <= MANY_MAX; n++) {
		many[n] = (struct blk_req){ .op = BLK_READ, .off = 0, .len = PAGE_SIZE };
		err = b->ops->submit(b, &many[n], pa, n == 0);
		if (err)
			break;
	}
	KT_EXPECT(kt, err == -EAGAIN && n >= 8 && n <= MANY_MAX,
		  "%u submitted, then %d (want -EAGAIN once the slots are taken)", n, err);
	while (n--)
		KT_EXPECT(kt, b->ops->finish(b, &many[n]) == 0, "request %u", n);
	pmem_free(pa, 4);
}
