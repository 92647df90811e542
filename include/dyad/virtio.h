/* SPDX-License-Identifier: MIT */
#ifndef DYAD_VIRTIO_H
#define DYAD_VIRTIO_H

#include <dyad/types.h>

/*
 * Virtio 1.x for the host kernel, in two layers kept apart so that a second device type is one
 * new file:
 *
 *  - the split virtqueue (kern/virtio/virtqueue.c): pure code over ring memory, built on the
 *    host too, where tests/unit/test_virtq.c drives it against a fake device. The device is not
 *    trusted: every used-ring entry is checked before the driver acts on it (see virtq_get_used);
 *  - the modern PCI transport (kern/virtio/virtio_pci.c): capabilities, status, features, queue
 *    setup, notification, MSI-X or MSI.
 *
 * Device drivers (kern/virtio/virtio_blk.c) use both and know nothing of PCI registers.
 */

/* A device that broke the protocol (Linux's value; kept here, no system call returns it). */
#ifndef EPROTO
#define EPROTO 71
#endif

/* Device status bits. */
#define VIRTIO_STATUS_ACK 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_F_VERSION_1 32

/* ---- split virtqueue ------------------------------------------------------------------------ */

#define VIRTQ_MAX_SIZE 128 /* entries; the rings of such a queue fit one 4 KiB page */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct virtq_used_elem {
	u32 id;
	u32 len;
};

/* One buffer of a request: @len bytes at physical @pa, written by the device if @device_writes. */
struct virtq_buf {
	u64 pa;
	u32 len;
	bool device_writes;
};

/*
 * A queue of @size entries (a power of two, at most VIRTQ_MAX_SIZE) in one zeroed, physically
 * contiguous area: the descriptor table, the available ring, the used ring. The caller
 * serializes every call on one queue (the driver's lock).
 */
struct virtq {
	u16 size;
	struct virtq_desc *desc;
	volatile u16 *avail; /* flags, idx, ring[size], used_event */
	volatile u16 *used; /* flags, idx, then struct virtq_used_elem ring[size] */
	u64 desc_pa, avail_pa, used_pa;
	u16 free_head, nr_free;
	u16 avail_idx; /* the next available-ring slot the driver fills */
	u16 last_used; /* used-ring entries consumed */
	u16 in_flight; /* chains handed to the device and not yet returned */
	bool broken; /* the device returned something impossible: no more requests */
	void *cookie[VIRTQ_MAX_SIZE]; /* per chain head: the request, NULL when not in flight */
	u16 chain_len[VIRTQ_MAX_SIZE];
	u32 writable[VIRTQ_MAX_SIZE]; /* bytes the device may write in the chain at that head */
};

/* Bytes a queue of @size entries needs (virtq_init's @mem). */
u64 virtq_mem_size(u16 size);

/* Lays out a queue in @mem (zeroed, at physical @pa, virtq_mem_size(@size) bytes). */
void virtq_init(struct virtq *vq, u16 size, void *mem, u64 pa);

/*
 * Makes @n buffers one chain and publishes it with @cookie (non-NULL). Returns the chain's
 * head, -ENOSPC when fewer than @n descriptors are free, -EINVAL for an empty chain or
 * @n > size, -EIO when the queue is broken. The caller notifies the device afterwards.
 */
int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *cookie);

/*
 * Takes one completed chain from the used ring: returns 1 with its *@cookie and the bytes the
 * device says it wrote (*@len), 0 when there is none, or -EIO when the device broke a rule:
 * its used index ran ahead of the chains in flight, an id is no chain head in flight, or a
 * length exceeds what the chain lets it write. Once -EIO is returned the queue stays broken;
 * virtq_take_any() then returns the chains still in flight so that their waiters can fail.
 */
int virtq_get_used(struct virtq *vq, void **cookie, u32 *len);

/* Removes any chain still in flight and returns its cookie, or NULL. For a broken queue. */
void *virtq_take_any(struct virtq *vq);

/* ---- modern PCI transport -------------------------------------------------------------------- */

struct pci_dev;

#define VIRTIO_PCI_MAX_QUEUES 4

/* How the device interrupts (virtio_pci_irq_route). */
enum virtio_irq_mode {
	VIRTIO_IRQ_NONE, /* it does not: its queues are polled */
	VIRTIO_IRQ_MSIX, /* MSI-X table entry 0, named by each queue */
	VIRTIO_IRQ_MSI, /* MSI: the device signals as on INTx, and reading the ISR acknowledges */
};

struct virtio_pci {
	struct pci_dev *pci;
	volatile u8 *common;
	volatile u8 *isr;
	volatile u8 *device_cfg;
	u32 device_cfg_len;
	volatile u8 *notify;
	u32 notify_len;
	u32 notify_mult;
	u32 notify_off[VIRTIO_PCI_MAX_QUEUES]; /* each queue's, checked once at setup */
	u64 features; /* negotiated */
	enum virtio_irq_mode irq_mode;
};

/* Virtio's PCI vendor, and the first modern device ID (0x1040 + device type). */
#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_BASE 0x1040
#define VIRTIO_ID_BLOCK 2

/* The virtio device type of @d (VIRTIO_ID_*), or 0 when it is no virtio device. */
unsigned virtio_pci_device_type(const struct pci_dev *d);

/*
 * Finds the modern capabilities of @d and maps their registers. Returns 0, or -ENODEV (a
 * legacy-only device, or a capability that points outside its BAR).
 */
int virtio_pci_probe(struct pci_dev *d, struct virtio_pci *vp);

/*
 * Resets the device and negotiates: VERSION_1 is required, @wanted is offered, the result is
 * in vp->features. Returns 0, or -ENODEV (no VERSION_1, or FEATURES_OK refused); the device is
 * then marked FAILED.
 */
int virtio_pci_negotiate(struct virtio_pci *vp, u64 wanted);

/*
 * Routes the device's interrupt to @vector on CPU @cpu: by MSI-X when it has MSI-X (queues
 * then name entry 0: see virtio_pci_queue_vector), else by MSI. Sets and returns vp->irq_mode,
 * VIRTIO_IRQ_NONE when neither can be used.
 */
enum virtio_irq_mode virtio_pci_irq_route(struct virtio_pci *vp, unsigned vector, unsigned cpu);

/* The MSI-X entry a queue names for the routed interrupt: 0, or VIRTIO_NO_VECTOR without MSI-X. */
u16 virtio_pci_queue_vector(const struct virtio_pci *vp);

/*
 * Sets up queue @index with at most @max_size entries in fresh memory, its interrupts on MSI-X
 * table entry @msix (VIRTIO_NO_VECTOR for none). Returns 0, -ENODEV (no such queue, or the
 * device refused the vector), -ENOMEM.
 */
#define VIRTIO_NO_VECTOR 0xffff
int virtio_pci_queue_setup(struct virtio_pci *vp, u16 index, struct virtq *vq, u16 max_size,
			   u16 msix);

/* Device configuration reads, retried until the configuration generation holds still. */
u32 virtio_pci_cfg32(struct virtio_pci *vp, u32 off);
u64 virtio_pci_cfg64(struct virtio_pci *vp, u32 off);

/* DRIVER_OK: the device may use the queues. */
void virtio_pci_driver_ok(struct virtio_pci *vp);

/* Marks the device FAILED (after it broke a rule): it must not touch our memory again. */
void virtio_pci_fail(struct virtio_pci *vp);

/* Tells the device that queue @index has new buffers. */
void virtio_pci_notify(struct virtio_pci *vp, u16 index);

/* Reads (and so clears) the ISR status; with MSI-X it is not needed. */
u8 virtio_pci_isr(struct virtio_pci *vp);

/* The device status byte (NEEDS_RESET says the device gave up). */
u8 virtio_pci_status(struct virtio_pci *vp);

/* Probes every virtio PCI function found by pci_init() and starts the driver of its type. */
void virtio_init(void);

/* ---- virtio-blk requests (kern/virtio/virtio_blk_req.c: pure, tested on the host) ------------ */

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
/* Written into the status byte before a request goes out: no device ever writes it. */
#define VIRTIO_BLK_S_UNSET 0xff

struct virtio_blk_hdr {
	u32 type;
	u32 reserved;
	u64 sector; /* in 512-byte units whatever the block size */
};

/*
 * Judges a completed request of @type that carried @data_len bytes: the device reported
 * writing @used_len bytes and left @status in the status byte. Returns 0 (done), -EIO (the
 * device reported an error), or -EPROTO (the device broke the protocol: a status it may not
 * give, or a length that says it did not write all it had to: a read's data and status, or
 * the status alone).
 */
int virtio_blk_judge(u32 type, u32 data_len, u32 used_len, u8 status);

/* Starts the virtio-blk driver on @vp (a probed transport). Returns 0 or -errno. */
int virtio_blk_probe(struct virtio_pci *vp);

struct blk_dev;

/* The completion interrupts @b has taken (0 for a disk without one), for the self-tests. */
u64 virtio_blk_irqs(const struct blk_dev *b);
/* True when @b completes by interrupt (MSI-X or MSI), false when its issuers poll at ticks. */
bool virtio_blk_has_irq(const struct blk_dev *b);
/* The CPU @b's interrupt is routed to, and how many of its interrupts arrived on another. */
unsigned virtio_blk_irq_cpu(const struct blk_dev *b);
u64 virtio_blk_irqs_elsewhere(const struct blk_dev *b);

#endif
