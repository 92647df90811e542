// SPDX-License-Identifier: MIT
/*
 * The virtio 1.x modern PCI transport (include/dyad/virtio.h): the vendor capabilities name a
 * BAR range for each register block (common configuration, notification, ISR, device
 * configuration); only those ranges are mapped. Legacy (I/O-port) virtio is not supported.
 */
#include <dyad/errno.h>
#include <dyad/pci.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/virtio.h>

/* virtio_pci_cap.cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* Offsets in the common configuration structure. */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX_CONFIG 0x10
#define C_NUM_QUEUES 0x12
#define C_STATUS 0x14
#define C_GENERATION 0x15
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOTIFY_OFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_DRIVER 0x28
#define C_Q_DEVICE 0x30
#define COMMON_LEN 0x38

#define RESET_SPINS 1000000

static inline u8 rd8(volatile u8 *b, u32 off)
{
	return *(volatile u8 *)(b + off);
}

static inline u16 rd16(volatile u8 *b, u32 off)
{
	return *(volatile u16 *)(b + off);
}

static inline u32 rd32(volatile u8 *b, u32 off)
{
	return *(volatile u32 *)(b + off);
}

static inline void wr8(volatile u8 *b, u32 off, u8 v)
{
	*(volatile u8 *)(b + off) = v;
}

static inline void wr16(volatile u8 *b, u32 off, u16 v)
{
	*(volatile u16 *)(b + off) = v;
}

static inline void wr32(volatile u8 *b, u32 off, u32 v)
{
	*(volatile u32 *)(b + off) = v;
}

/* 64-bit registers are written as two 32-bit halves, low first, as the specification allows. */
static inline void wr64(volatile u8 *b, u32 off, u64 v)
{
	wr32(b, off, (u32)v);
	wr32(b, off + 4, (u32)(v >> 32));
}

unsigned virtio_pci_device_type(const struct pci_dev *d)
{
	if (d->vendor != VIRTIO_PCI_VENDOR)
		return 0;
	if (d->device >= VIRTIO_PCI_MODERN_BASE && d->device <= VIRTIO_PCI_MODERN_BASE + 0x3f)
		return d->device - VIRTIO_PCI_MODERN_BASE;
	/* Transitional devices (0x1000..0x103f) carry the type in the subsystem ID. */
	if (d->device >= 0x1000 && d->device <= 0x103f)
		return d->subsys_device;
	return 0;
}

int virtio_pci_probe(struct pci_dev *d, struct virtio_pci *vp)
{
	memset(vp, 0, sizeof(*vp));
	vp->pci = d;
	for (u8 cap = pci_cap_find(d, PCI_CAP_VENDOR, 0); cap;
	     cap = pci_cap_find(d, PCI_CAP_VENDOR, cap)) {
		u8 type = pci_cfg_read8(d, cap + 3), bar = pci_cfg_read8(d, cap + 4);
		u32 off = pci_cfg_read32(d, cap + 8), len = pci_cfg_read32(d, cap + 12);
		if (type < CAP_COMMON || type > CAP_DEVICE)
			continue; /* the PCI configuration access window and later types */
		volatile u8 *p = pci_bar_map(d, bar, off, len);
		if (!p)
			return -ENODEV;
		switch (type) {
		case CAP_COMMON:
			if (len < COMMON_LEN)
				return -ENODEV;
			vp->common = vp->common ? vp->common : p;
			break;
		case CAP_NOTIFY:
			if (!vp->notify) {
				vp->notify = p;
				vp->notify_len = len;
				vp->notify_mult = pci_cfg_read32(d, cap + 16);
			}
			break;
		case CAP_ISR:
			vp->isr = vp->isr ? vp->isr : p;
			break;
		case CAP_DEVICE:
			if (!vp->device_cfg) {
				vp->device_cfg = p;
				vp->device_cfg_len = len;
			}
			break;
		}
	}
	if (!vp->common || !vp->notify || !vp->isr)
		return -ENODEV;
	pci_enable(d);
	return 0;
}

u8 virtio_pci_status(struct virtio_pci *vp)
{
	return rd8(vp->common, C_STATUS);
}

static void status_set(struct virtio_pci *vp, u8 bits)
{
	wr8(vp->common, C_STATUS, rd8(vp->common, C_STATUS) | bits);
}

void virtio_pci_fail(struct virtio_pci *vp)
{
	status_set(vp, VIRTIO_STATUS_FAILED);
}

int virtio_pci_negotiate(struct virtio_pci *vp, u64 wanted)
{
	wr8(vp->common, C_STATUS, 0);
	/* Reset completes when the device reads back 0. */
	for (unsigned i = 0; rd8(vp->common, C_STATUS) != 0; i++)
		if (i == RESET_SPINS)
			return -ENODEV;
	status_set(vp, VIRTIO_STATUS_ACK);
	status_set(vp, VIRTIO_STATUS_DRIVER);

	wr32(vp->common, C_DFSELECT, 0);
	u64 offered = rd32(vp->common, C_DF);
	wr32(vp->common, C_DFSELECT, 1);
	offered |= (u64)rd32(vp->common, C_DF) << 32;
	if (!(offered & BIT(VIRTIO_F_VERSION_1))) {
		virtio_pci_fail(vp);
		return -ENODEV;
	}
	vp->features = offered & (wanted | BIT(VIRTIO_F_VERSION_1));
	wr32(vp->common, C_GFSELECT, 0);
	wr32(vp->common, C_GF, (u32)vp->features);
	wr32(vp->common, C_GFSELECT, 1);
	wr32(vp->common, C_GF, (u32)(vp->features >> 32));
	status_set(vp, VIRTIO_STATUS_FEATURES_OK);
	if (!(rd8(vp->common, C_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_pci_fail(vp);
		return -ENODEV;
	}
	wr16(vp->common, C_MSIX_CONFIG, VIRTIO_NO_VECTOR); /* configuration changes: not used */
	return 0;
}

int virtio_pci_queue_setup(struct virtio_pci *vp, u16 index, struct virtq *vq, u16 max_size,
			   u16 msix)
{
	if (index >= VIRTIO_PCI_MAX_QUEUES || index >= rd16(vp->common, C_NUM_QUEUES))
		return -ENODEV;
	wr16(vp->common, C_Q_SELECT, index);
	u16 dev_size = rd16(vp->common, C_Q_SIZE);
	if (!dev_size)
		return -ENODEV;
	/* The largest power of two within the device's maximum and ours. */
	u16 size = 1;
	while ((u32)size * 2 <= MIN(dev_size, MIN(max_size, (u16)VIRTQ_MAX_SIZE)))
		size = (u16)(size * 2);
	u64 bytes = virtq_mem_size(size);
	if (bytes > PAGE_SIZE)
		return -ENOMEM;
	u64 pa = pmem_alloc_zeroed(0);
	if (!pa)
		return -ENOMEM;
	virtq_init(vq, size, pmem_va(pa), pa);
	wr16(vp->common, C_Q_SIZE, size);
	wr16(vp->common, C_Q_MSIX, msix);
	if (rd16(vp->common, C_Q_MSIX) != msix) {
		pmem_free(pa, 0);
		return -ENODEV; /* no room for our vector in the device */
	}
	wr64(vp->common, C_Q_DESC, vq->desc_pa);
	wr64(vp->common, C_Q_DRIVER, vq->avail_pa);
	wr64(vp->common, C_Q_DEVICE, vq->used_pa);
	/* In 64 bits: a hostile multiplier must not wrap the offset back into the window. */
	u64 notify_off = (u64)rd16(vp->common, C_Q_NOTIFY_OFF) * vp->notify_mult;
	if (notify_off > vp->notify_len || vp->notify_len - notify_off < 2) {
		pmem_free(pa, 0);
		return -ENODEV;
	}
	vp->notify_off[index] = (u32)notify_off;
	wr16(vp->common, C_Q_ENABLE, 1);
	return 0;
}

enum virtio_irq_mode virtio_pci_irq_route(struct virtio_pci *vp, unsigned vector, unsigned cpu)
{
	vp->irq_mode = VIRTIO_IRQ_NONE;
	if (vp->pci->msix_cap) {
		if (pci_msix_route(vp->pci, 0, vector, cpu) == 0)
			vp->irq_mode = VIRTIO_IRQ_MSIX;
	} else if (pci_msi_route(vp->pci, vector, cpu) == 0) {
		vp->irq_mode = VIRTIO_IRQ_MSI;
	}
	return vp->irq_mode;
}

u16 virtio_pci_queue_vector(const struct virtio_pci *vp)
{
	return vp->irq_mode == VIRTIO_IRQ_MSIX ? 0 : VIRTIO_NO_VECTOR;
}

/* The offset was checked against the notification capability's length at setup. */
void virtio_pci_notify(struct virtio_pci *vp, u16 index)
{
	wr16(vp->notify, vp->notify_off[index], index);
}

u32 virtio_pci_cfg32(struct virtio_pci *vp, u32 off)
{
	u8 gen;
	u32 v;

	if (!vp->device_cfg || off + 4 > vp->device_cfg_len)
		return 0;
	do {
		gen = rd8(vp->common, C_GENERATION);
		v = rd32(vp->device_cfg, off);
	} while (gen != rd8(vp->common, C_GENERATION));
	return v;
}

u64 virtio_pci_cfg64(struct virtio_pci *vp, u32 off)
{
	u8 gen;
	u64 v;

	if (!vp->device_cfg || off + 8 > vp->device_cfg_len)
		return 0;
	do {
		gen = rd8(vp->common, C_GENERATION);
		v = rd32(vp->device_cfg, off) | (u64)rd32(vp->device_cfg, off + 4) << 32;
	} while (gen != rd8(vp->common, C_GENERATION));
	return v;
}

void virtio_pci_driver_ok(struct virtio_pci *vp)
{
	status_set(vp, VIRTIO_STATUS_DRIVER_OK);
}

u8 virtio_pci_isr(struct virtio_pci *vp)
{
	return rd8(vp->isr, 0);
}

/* The drivers by device type: a second device type is one line here and its own file. */
static const struct {
	unsigned type;
	const char *name;
	int (*probe)(struct virtio_pci *vp);
} drivers[] = {
	{ VIRTIO_ID_BLOCK, "virtio-blk", virtio_blk_probe },
};

void virtio_init(void)
{
	struct pci_dev *d;

	for (unsigned i = 0; (d = pci_dev_at(i)); i++) {
		unsigned type = virtio_pci_device_type(d);
		if (!type || d->claimed)
			continue;
		for (unsigned k = 0; k < ARRAY_SIZE(drivers); k++) {
			if (drivers[k].type != type)
				continue;
			struct virtio_pci vp;
			int err = virtio_pci_probe(d, &vp);
			if (!err)
				err = drivers[k].probe(&vp);
			if (err)
				printf("%s: %02x:%02x.%x not used (error %d)\n", drivers[k].name,
				       d->bus, d->dev, d->fn, err);
			else
				d->claimed = true;
		}
	}
}
