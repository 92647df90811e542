// SPDX-License-Identifier: MIT
/* The virtio 1.x modern PCI transport (virtio_pci.h). */
#include <string.h>

#include "virtio_pci.h"
#include "vmm.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_DEVICE_BASE 0x1040

/* virtio_pci_cap.cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* Offsets in the common configuration structure (virtio 1.2, 4.1.4.3). */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX = 0x10,
	CC_NUMQ = 0x12,
	CC_STATUS = 0x14,
	CC_CFGGEN = 0x15,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e,
	CC_Q_DESCLO = 0x20,
	CC_Q_DESCHI = 0x24,
	CC_Q_AVAILLO = 0x28,
	CC_Q_AVAILHI = 0x2c,
	CC_Q_USEDLO = 0x30,
	CC_Q_USEDHI = 0x34,
};

static uint64_t features(const struct virtio_dev *v)
{
	return v->ops->features | VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC;
}

int virtio_running(const struct virtio_dev *v)
{
	return (v->status & VIRTIO_STATUS_DRIVER_OK) && !(v->status & VIRTIO_STATUS_NEEDS_RESET);
}

struct virtq *virtio_queue(struct virtio_dev *v, unsigned q)
{
	if (q >= v->ops->nqueues || !v->q[q].enable || !virtio_running(v))
		return NULL;
	return &v->q[q].vq;
}

static void config_interrupt(struct virtio_dev *v)
{
	v->isr |= 2;
	if (v->msix_config != VIRTIO_NO_VECTOR)
		msix_notify(&v->msix, v->msix_config);
}

void virtio_used(struct virtio_dev *v, unsigned q)
{
	struct virtio_queue *vq = &v->q[q];

	if (!virtq_wants_interrupt(&vq->vq))
		return;
	v->isr |= 1;
	v->used_interrupts++;
	if (vq->vector != VIRTIO_NO_VECTOR)
		msix_notify(&v->msix, vq->vector);
}

void virtio_break(struct virtio_dev *v, unsigned q, const char *why)
{
	if (v->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	v->breaks++;
	vmm_log("%s 00:%02x.0: queue %u: %s: device needs reset", v->ops->name, v->pci.slot, q,
		why);
	v->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (v->status & VIRTIO_STATUS_DRIVER_OK)
		config_interrupt(v);
}

void virtio_queue_done(struct virtio_dev *v, unsigned qi, const struct virtq *q, int used, int ret)
{
	if (used)
		virtio_used(v, qi);
	if (q && ret < 0)
		virtio_break(v, qi, q->err);
}

static void reset(struct virtio_dev *v)
{
	v->driver_features = 0;
	v->device_feature_select = v->driver_feature_select = 0;
	v->msix_config = VIRTIO_NO_VECTOR;
	v->queue_select = 0;
	v->status = 0;
	v->isr = 0;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct virtio_queue *q = &v->q[i];
		*q = (struct virtio_queue){ .size = v->ops->queue_size,
					    .vector = VIRTIO_NO_VECTOR };
	}
	if (v->ops->reset)
		v->ops->reset(v);
}

static void write_status(struct virtio_dev *v, uint8_t s)
{
	if (!s) {
		reset(v);
		return;
	}
	if ((s & VIRTIO_STATUS_FEATURES_OK) && !(v->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((v->driver_features & ~features(v)) || !(v->driver_features & VIRTIO_F_VERSION_1)))
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */
	uint8_t was = v->status;
	v->status = (uint8_t)(s | (v->status & VIRTIO_STATUS_NEEDS_RESET));
	/* Buffers the driver made available before DRIVER_OK are served now. */
	if (!(was & VIRTIO_STATUS_DRIVER_OK) && virtio_running(v))
		for (unsigned q = 0; q < v->ops->nqueues; q++)
			if (v->q[q].enable)
				v->ops->notify(v, q);
}

static void enable_queue(struct virtio_dev *v, unsigned qi)
{
	struct virtio_queue *q = &v->q[qi];

	if (virtq_setup(&q->vq, v->ram, q->size, q->desc, q->driver, q->device,
			!!(v->driver_features & VIRTIO_F_INDIRECT_DESC))) {
		virtio_break(v, qi, q->vq.err);
		return;
	}
	q->enable = 1;
}

static uint64_t common_read(struct virtio_dev *v, unsigned off)
{
	unsigned qi = v->queue_select;
	struct virtio_queue *q = qi < v->ops->nqueues ? &v->q[qi] : NULL;

	switch (off) {
	case CC_DFSELECT:
		return v->device_feature_select;
	case CC_DF:
		return v->device_feature_select < 2
			       ? (uint32_t)(features(v) >> (32 * v->device_feature_select))
			       : 0;
	case CC_GFSELECT:
		return v->driver_feature_select;
	case CC_GF:
		return v->driver_feature_select < 2
			       ? (uint32_t)(v->driver_features >> (32 * v->driver_feature_select))
			       : 0;
	case CC_MSIX:
		return v->msix_config;
	case CC_NUMQ:
		return v->ops->nqueues;
	case CC_STATUS:
		return v->status;
	case CC_CFGGEN:
		return v->config_generation;
	case CC_Q_SELECT:
		return v->queue_select;
	}
	if (!q)
		return 0; /* a queue that does not exist: size 0 */
	switch (off) {
	case CC_Q_SIZE:
		return q->size;
	case CC_Q_MSIX:
		return q->vector;
	case CC_Q_ENABLE:
		return q->enable;
	case CC_Q_NOFF:
		return qi;
	case CC_Q_DESCLO:
	case CC_Q_DESCHI:
		return (uint32_t)(q->desc >> (off == CC_Q_DESCHI ? 32 : 0));
	case CC_Q_AVAILLO:
	case CC_Q_AVAILHI:
		return (uint32_t)(q->driver >> (off == CC_Q_AVAILHI ? 32 : 0));
	case CC_Q_USEDLO:
	case CC_Q_USEDHI:
		return (uint32_t)(q->device >> (off == CC_Q_USEDHI ? 32 : 0));
	}
	return 0;
}

static void set_half(uint64_t *field, int high, uint32_t v)
{
	*field = high ? (*field & 0xffffffffULL) | (uint64_t)v << 32
		      : (*field & ~0xffffffffULL) | v;
}

static void common_write(struct virtio_dev *v, unsigned off, uint64_t val)
{
	unsigned qi = v->queue_select;
	struct virtio_queue *q = qi < v->ops->nqueues ? &v->q[qi] : NULL;
	unsigned nvec = v->ops->nqueues + 1;

	switch (off) {
	case CC_DFSELECT:
		v->device_feature_select = (uint32_t)val;
		return;
	case CC_GFSELECT:
		v->driver_feature_select = (uint32_t)val;
		return;
	case CC_GF:
		if (v->driver_feature_select < 2 && !(v->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&v->driver_features, v->driver_feature_select, (uint32_t)val);
		return;
	case CC_MSIX:
		v->msix_config = val < nvec ? (uint16_t)val : VIRTIO_NO_VECTOR;
		return;
	case CC_STATUS:
		write_status(v, (uint8_t)val);
		return;
	case CC_Q_SELECT:
		v->queue_select = (uint16_t)val;
		return;
	}
	/* A queue's fields are the driver's only until it enables the queue. */
	if (!q || q->enable)
		return;
	switch (off) {
	case CC_Q_SIZE:
		q->size = (uint16_t)val; /* checked when the queue is enabled */
		break;
	case CC_Q_MSIX:
		q->vector = val < nvec ? (uint16_t)val : VIRTIO_NO_VECTOR;
		break;
	case CC_Q_ENABLE:
		if (val == 1)
			enable_queue(v, qi);
		break;
	case CC_Q_DESCLO:
	case CC_Q_DESCHI:
		set_half(&q->desc, off == CC_Q_DESCHI, (uint32_t)val);
		break;
	case CC_Q_AVAILLO:
	case CC_Q_AVAILHI:
		set_half(&q->driver, off == CC_Q_AVAILHI, (uint32_t)val);
		break;
	case CC_Q_USEDLO:
	case CC_Q_USEDHI:
		set_half(&q->device, off == CC_Q_USEDHI, (uint32_t)val);
		break;
	}
}

/* The width of the common configuration field at @off, 0 for none. */
static unsigned common_width(unsigned off)
{
	if (off < CC_MSIX || (off >= CC_Q_DESCLO && off < 0x38))
		return (off & 3) ? 0 : 4;
	if (off == CC_STATUS || off == CC_CFGGEN)
		return 1;
	if (off < 0x20)
		return (off & 1) ? 0 : 2;
	return 0;
}

static int bar_fn(struct pci_dev *d, unsigned bar, uint64_t off, unsigned size, int write,
		  uint64_t *value)
{
	struct virtio_dev *v = d->priv;

	if (!msix_access(&v->msix, off, size, write, value))
		return 0;
	if (off < VIRTIO_COMMON_OFF + VIRTIO_COMMON_LEN) {
		/* Each field at its own width; anything else reads 0 and is dropped. */
		if (common_width((unsigned)off) != size) {
			if (!write)
				*value = 0;
		} else if (write) {
			common_write(v, (unsigned)off, *value);
		} else {
			*value = common_read(v, (unsigned)off);
		}
		return 0;
	}
	if (off == VIRTIO_ISR_OFF) {
		if (!write) {
			*value = v->isr; /* reading acknowledges */
			v->isr = 0;
		}
		return 0;
	}
	if (off >= VIRTIO_DEVCFG_OFF && off + size <= VIRTIO_DEVCFG_OFF + VIRTIO_DEVCFG_LEN) {
		unsigned o = (unsigned)(off - VIRTIO_DEVCFG_OFF);
		if (!write) {
			*value = 0;
			v->ops->cfg_read(v, o, size, value);
		} else if (v->ops->cfg_write) {
			v->ops->cfg_write(v, o, size, *value);
		}
		return 0;
	}
	if (off >= VIRTIO_NOTIFY_OFF &&
	    off < VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * v->ops->nqueues) {
		unsigned qi = (unsigned)(off - VIRTIO_NOTIFY_OFF) / VIRTIO_NOTIFY_MULT;
		if (!write) {
			*value = 0;
			return 0;
		}
		v->notifies++;
		v->queue_notifies[qi]++;
		if (virtio_queue(v, qi))
			v->ops->notify(v, qi);
		return 0;
	}
	if (!write)
		*value = 0; /* holes in the BAR */
	return 0;
}

/* Adds a virtio_pci_cap (or the notify cap, with its multiplier) for @type. */
static int add_cap(struct pci_dev *d, uint8_t type, uint32_t off, uint32_t len)
{
	uint8_t cap[20] = { PCI_CAP_ID_VNDR, 0, 0, type, VIRTIO_BAR };
	unsigned n = type == CAP_NOTIFY ? 20 : 16;

	cap[2] = (uint8_t)n;
	pci_put32(cap + 8, off);
	pci_put32(cap + 12, len);
	if (type == CAP_NOTIFY)
		pci_put32(cap + 16, VIRTIO_NOTIFY_MULT);
	return pci_dev_cap(d, cap, n, NULL) ? 0 : -1;
}

int virtio_pci_init(struct virtio_dev *v, const struct virtio_ops *ops, void *priv,
		    const struct guest_ram *ram, msi_deliver_fn deliver, void *ctx)
{
	if (!ops->nqueues || ops->nqueues > VIRTIO_MAX_QUEUES || !ops->queue_size ||
	    ops->queue_size > VIRTQ_MAX_SIZE || (ops->queue_size & (ops->queue_size - 1)))
		return -1;
	memset(v, 0, sizeof(*v));
	v->ops = ops;
	v->priv = priv;
	v->ram = ram;
	/* Revision 1: a modern-only device (virtio 1.2, 4.1.2.1). */
	pci_dev_init(&v->pci, ops->name, VIRTIO_VENDOR, VIRTIO_DEVICE_BASE + ops->id,
		     ops->class_code, 1, VIRTIO_VENDOR, VIRTIO_DEVICE_BASE + ops->id);
	v->pci.priv = v;
	v->pci.bar_fn = bar_fn;
	int err =
		pci_dev_bar(&v->pci, VIRTIO_BAR, VIRTIO_BAR_SIZE, 1) |
		add_cap(&v->pci, CAP_COMMON, VIRTIO_COMMON_OFF, VIRTIO_COMMON_LEN) |
		add_cap(&v->pci, CAP_NOTIFY, VIRTIO_NOTIFY_OFF, VIRTIO_NOTIFY_MULT * ops->nqueues) |
		add_cap(&v->pci, CAP_ISR, VIRTIO_ISR_OFF, 1) |
		add_cap(&v->pci, CAP_DEVICE, VIRTIO_DEVCFG_OFF, VIRTIO_DEVCFG_LEN) |
		msix_init(&v->msix, &v->pci, ops->nqueues + 1, VIRTIO_BAR, VIRTIO_MSIX_TABLE,
			  VIRTIO_MSIX_PBA, deliver, ctx);
	if (err)
		return -1;
	reset(v);
	return 0;
}
