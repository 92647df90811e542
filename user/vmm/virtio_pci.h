/* SPDX-License-Identifier: MIT */
#ifndef VMM_VIRTIO_PCI_H
#define VMM_VIRTIO_PCI_H

/*
 * The virtio 1.x PCI transport, modern only (virtio 1.2, 4.1): a PCI function 1af4:1040+ID with
 * one 64-bit memory BAR holding the common configuration, the ISR, the device configuration, the
 * queue notification addresses and the MSI-X table and pending bits; the vendor capabilities
 * point the driver at each. Split virtqueues (virtq.h) with indirect descriptors; one MSI-X
 * vector per queue plus one for configuration changes. A driver that breaks the queue rules
 * sets DEVICE_NEEDS_RESET: the device says why in one line, raises a configuration-change
 * interrupt and ignores the queues until the driver resets it.
 */

#include <stdint.h>

#include "msix.h"
#include "pci.h"
#include "virtq.h"

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_NO_VECTOR 0xffff

#define VIRTIO_F_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_VERSION_1 (1ULL << 32)

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* The BAR's layout. */
#define VIRTIO_BAR 0
#define VIRTIO_BAR_SIZE 0x4000
#define VIRTIO_COMMON_OFF 0x0000
#define VIRTIO_COMMON_LEN 0x40
#define VIRTIO_ISR_OFF 0x0800
#define VIRTIO_DEVCFG_OFF 0x1000
#define VIRTIO_DEVCFG_LEN 0x100
#define VIRTIO_NOTIFY_OFF 0x1800
#define VIRTIO_NOTIFY_MULT 4
#define VIRTIO_MSIX_TABLE 0x2000
#define VIRTIO_MSIX_PBA 0x3000

struct virtio_dev;

/* What a device type adds to the transport. */
struct virtio_ops {
	const char *name; /* "virtio-blk" */
	uint16_t id; /* the virtio device ID */
	uint32_t class_code; /* PCI class */
	unsigned nqueues;
	uint16_t queue_size; /* the largest ring per queue (a power of two) */
	uint64_t features; /* device-type features; VERSION_1 and INDIRECT_DESC are added */
	/* A read of @size bytes of the device configuration at @off (inside VIRTIO_DEVCFG_LEN):
	 * fills *@value. Writes go to cfg_write if not NULL, else are dropped. */
	void (*cfg_read)(struct virtio_dev *v, unsigned off, unsigned size, uint64_t *value);
	void (*cfg_write)(struct virtio_dev *v, unsigned off, unsigned size, uint64_t value);
	/* The driver notified queue @q (enabled, DRIVER_OK, device not broken). */
	void (*notify)(struct virtio_dev *v, unsigned q);
	/* The driver reset the device (may be NULL). */
	void (*reset)(struct virtio_dev *v);
};

struct virtio_queue {
	uint16_t size, vector, enable;
	uint64_t desc, driver, device;
	struct virtq vq;
};

struct virtio_dev {
	struct pci_dev pci;
	struct msix msix;
	const struct virtio_ops *ops;
	void *priv; /* the device type's state */
	const struct guest_ram *ram;
	uint64_t driver_features;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t msix_config, queue_select;
	uint8_t status, config_generation, isr;
	struct virtio_queue q[VIRTIO_MAX_QUEUES];
	unsigned long notifies, used_interrupts, breaks;
	unsigned long queue_notifies[VIRTIO_MAX_QUEUES]; /* the driver's writes, by queue */
};

/*
 * Prepares @v as a PCI function for @ops with @priv, reading guest memory through @ram and
 * sending MSI-X messages through @deliver with @ctx. Put it on the bus with
 * pci_add(bus, &v->pci). Returns 0, or -1 (a VMM bug: bad @ops).
 */
int virtio_pci_init(struct virtio_dev *v, const struct virtio_ops *ops, void *priv,
		    const struct guest_ram *ram, msi_deliver_fn deliver, void *ctx);

/* The queue @q's ring, or NULL when the queue is not enabled (or the device broken). */
struct virtq *virtio_queue(struct virtio_dev *v, unsigned q);

/* Tells the driver that queue @q has used buffers: ISR bit 0 and the queue's MSI-X vector,
 * unless the driver asked for no interrupts. */
void virtio_used(struct virtio_dev *v, unsigned q);

/*
 * Marks the device broken because of queue @q: one line on the VMM's log with @why,
 * DEVICE_NEEDS_RESET, a configuration-change interrupt; the queues stop until a reset.
 */
void virtio_break(struct virtio_dev *v, unsigned q, const char *why);

/*
 * Ends a device's pass over queue @qi, whose ring is @q (NULL if it was not enabled): the
 * driver is told if any buffer was @used, and a pass that stopped on a bad ring (@ret < 0 from
 * virtq_pop, @q->err saying why) breaks the device.
 */
void virtio_queue_done(struct virtio_dev *v, unsigned qi, const struct virtq *q, int used, int ret);

/* Whether the driver set DRIVER_OK and the device is not broken. */
int virtio_running(const struct virtio_dev *v);

#endif
