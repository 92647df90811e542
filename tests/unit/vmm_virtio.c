// SPDX-License-Identifier: MIT
/*
 * The virtio PCI transport and its devices, driven through the BAR as Linux's virtio_pci does
 * (virtio_pci.h): feature negotiation, queue setup, notifications and MSI-X; virtio-blk's
 * request parsing (read, write, flush, get-id, unsupported, out of range, malformed); the device
 * broken by a hostile ring, with DEVICE_NEEDS_RESET and a configuration interrupt, until reset;
 * the console's output per buffer and its input; the rng; and the disk backends' refusals.
 * Guest RAM has inaccessible pages on both sides.
 */
#define _GNU_SOURCE /* memfd_create */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"
#include "pci.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_rng.h"

#define RAM (1u << 20)
#define PAGE 4096u
#define QSZ 16
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define DATA 0x10000u
#define SECTORS 64

static uint8_t *area, *ram_base;
static struct guest_ram ram;
static struct bus bus;
static struct pci_bus pci;
static struct virtio_blk blk;
static struct virtio_console con;
static struct virtio_rng rng;
static struct blk_backend disk;
static uint8_t disk_mem[SECTORS * 512];
static uint8_t vectors[64];
static unsigned nvectors;
static struct virtio_dev *cur;
static uint16_t avail_idx, used_seen;
static char out[4096];
static size_t out_len;
static unsigned out_calls;

static int deliver(void *ctx, const struct msi_msg *m)
{
	vectors[nvectors++ % 64] = m->vector;
	return 0;
}

static void console_out(void *ctx, const uint8_t *buf, size_t len)
{
	assert_true(out_len + len <= sizeof(out));
	memcpy(out + out_len, buf, len);
	out_len += len;
	out_calls++;
}

static size_t fake_fill(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(0xa0 + i);
	return len;
}

static int setup_ram(void **state)
{
	area = mmap(NULL, RAM + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(area != MAP_FAILED);
	ram_base = area + PAGE;
	assert_int_equal(mprotect(ram_base, RAM, PROT_READ | PROT_WRITE), 0);
	ram = (struct guest_ram){ .base = ram_base, .size = RAM, .high = 0 };
	return 0;
}

static int teardown_ram(void **state)
{
	munmap(area, RAM + 2 * PAGE);
	return 0;
}

static uint64_t bar(uint64_t off, unsigned size, int write, uint64_t v)
{
	uint64_t a = pci_bar_addr(&cur->pci, VIRTIO_BAR) + off;

	assert_int_equal(bus_access(&bus, BUS_MMIO, a, size, write, &v), 0);
	return v;
}

static int setup_read_only;

static int setup(void **state)
{
	memset(ram_base, 0, RAM);
	for (unsigned i = 0; i < sizeof(disk_mem); i++)
		disk_mem[i] = (uint8_t)(i / 512 + i);
	blk_backend_mem(&disk, disk_mem, sizeof(disk_mem));
	disk.read_only = setup_read_only;
	bus_init(&bus);
	pci_init(&pci, &bus);
	assert_int_equal(pci_register(&pci), 0);
	assert_int_equal(virtio_blk_init(&blk, &ram, deliver, NULL, &disk, "dyad-test-disk"), 0);
	assert_int_equal(virtio_console_init(&con, &ram, deliver, NULL, console_out, NULL), 0);
	assert_int_equal(virtio_rng_init(&rng, &ram, deliver, NULL, fake_fill), 0);
	assert_int_equal(pci_add(&pci, &blk.v.pci), 0);
	assert_int_equal(pci_add(&pci, &con.v.pci), 0);
	assert_int_equal(pci_add(&pci, &rng.v.pci), 0);
	nvectors = 0;
	out_len = 0;
	out_calls = 0;
	cur = &blk.v;
	return 0;
}

static int setup_ro(void **state)
{
	setup_read_only = 1;
	setup(state);
	setup_read_only = 0;
	return 0;
}

/* What Linux's virtio_pci_modern does to bring @v up with queue @qi, MSI-X vectors 0 (config)
 * and 1 + qi (the queue), all pointing at vector 0x30 + n of CPU 0. */
static void bring_up(struct virtio_dev *v, unsigned nq, uint64_t features)
{
	cur = v;
	pci_cfg_write(&v->pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	pci_cfg_write(&v->pci, v->msix.cap + 2, 2, MSIX_CTRL_ENABLE);
	for (unsigned n = 0; n <= nq; n++) {
		bar(VIRTIO_MSIX_TABLE + 16 * n, 4, 1, 0xfee00000);
		bar(VIRTIO_MSIX_TABLE + 16 * n + 8, 4, 1, 0x30 + n);
		bar(VIRTIO_MSIX_TABLE + 16 * n + 12, 4, 1, 0);
	}
	bar(0x14, 1, 1, 0);
	bar(0x14, 1, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	bar(0x08, 4, 1, 0);
	bar(0x0c, 4, 1, (uint32_t)features);
	bar(0x08, 4, 1, 1);
	bar(0x0c, 4, 1, (uint32_t)(features >> 32));
	bar(0x14, 1, 1,
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_true(bar(0x14, 1, 0, 0) & VIRTIO_STATUS_FEATURES_OK);
	bar(0x10, 2, 1, 0);
	assert_int_equal(bar(0x10, 2, 0, 0), 0);
	for (unsigned qi = 0; qi < nq; qi++) {
		uint64_t base = 0x4000u * qi;
		bar(0x16, 2, 1, qi);
		assert_true(bar(0x18, 2, 0, 0) >= QSZ);
		bar(0x18, 2, 1, QSZ);
		bar(0x1a, 2, 1, 1 + qi);
		assert_int_equal(bar(0x1a, 2, 0, 0), 1 + qi);
		bar(0x20, 4, 1, DESC + base);
		bar(0x24, 4, 1, 0);
		bar(0x28, 4, 1, AVAIL + base);
		bar(0x2c, 4, 1, 0);
		bar(0x30, 4, 1, USED + base);
		bar(0x34, 4, 1, 0);
		assert_int_equal(bar(0x1e, 2, 0, 0), qi);
		bar(0x1c, 2, 1, 1);
		assert_int_equal(bar(0x1c, 2, 0, 0), 1);
	}
	bar(0x14, 1, 1,
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK);
	avail_idx = used_seen = 0;
}

static void put_desc(unsigned qi, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = ram_base + DESC + 0x4000u * qi + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void kick(unsigned qi, uint16_t head)
{
	uint8_t *avail = ram_base + AVAIL + 0x4000u * qi;

	memcpy(avail + 4 + 2 * (avail_idx % QSZ), &head, 2);
	avail_idx++;
	memcpy(avail + 2, &avail_idx, 2);
	bar(VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * qi, 2, 1, qi);
}

static uint16_t used_idx(unsigned qi)
{
	uint16_t v;

	memcpy(&v, ram_base + USED + 0x4000u * qi + 2, 2);
	return v;
}

static uint32_t used_len(unsigned qi, unsigned n)
{
	uint32_t v;

	memcpy(&v, ram_base + USED + 0x4000u * qi + 4 + 8 * (n % QSZ) + 4, 4);
	return v;
}

/* A block request: header at DATA, data at DATA + 0x1000 (@len bytes, device-writable when
 * @in), status at DATA + 0x3000. Returns the status byte. */
static uint8_t blk_req(uint32_t type, uint64_t sector, uint32_t len, int in)
{
	uint32_t hdr[4] = { type, 0, (uint32_t)sector, (uint32_t)(sector >> 32) };
	unsigned n = 0;

	memcpy(ram_base + DATA, hdr, sizeof(hdr));
	ram_base[DATA + 0x3000] = 0xee;
	put_desc(0, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	if (len) {
		put_desc(0, 1, DATA + 0x1000, len,
			 VIRTQ_DESC_F_NEXT | (in ? VIRTQ_DESC_F_WRITE : 0), 2);
		n = 2;
	} else {
		n = 1;
	}
	put_desc(0, n, DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	kick(0, 0);
	assert_int_equal(used_idx(0), ++used_seen);
	return ram_base[DATA + 0x3000];
}

static void test_features_and_layout(void **state)
{
	cur = &blk.v;
	pci_cfg_write(&blk.v.pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(pci_cfg_read(&blk.v.pci, 0, 4), 0x10421af4);
	assert_int_equal(pci_cfg_read(&blk.v.pci, PCI_REVISION_ID, 1), 1);
	assert_int_equal(pci_cfg_read(&con.v.pci, 0, 4), 0x10431af4);
	assert_int_equal(pci_cfg_read(&rng.v.pci, 0, 4), 0x10441af4);
	/* The four vendor capabilities, each naming BAR 0 and its region. */
	unsigned at = pci_cfg_read(&blk.v.pci, PCI_CAPABILITY_LIST, 1), types = 0;
	while (at) {
		if (pci_cfg_read(&blk.v.pci, at, 1) == PCI_CAP_ID_VNDR) {
			unsigned type = pci_cfg_read(&blk.v.pci, at + 3, 1);
			types |= 1u << type;
			assert_int_equal(pci_cfg_read(&blk.v.pci, at + 4, 1), VIRTIO_BAR);
			uint32_t off = pci_cfg_read(&blk.v.pci, at + 8, 4);
			uint32_t len = pci_cfg_read(&blk.v.pci, at + 12, 4);
			assert_true(len && off + len <= VIRTIO_BAR_SIZE);
			if (type == 1)
				assert_true(len >= 0x38);
			if (type == 2)
				assert_int_equal(pci_cfg_read(&blk.v.pci, at + 16, 4),
						 VIRTIO_NOTIFY_MULT);
		}
		at = pci_cfg_read(&blk.v.pci, at + 1, 1);
	}
	assert_int_equal(types, 0x1e);
	/* Features: VERSION_1 in word 1; FLUSH and INDIRECT_DESC in word 0. */
	bar(0x00, 4, 1, 1);
	assert_int_equal(bar(0x04, 4, 0, 0), 1);
	bar(0x00, 4, 1, 0);
	assert_int_equal(bar(0x04, 4, 0, 0), (1u << 9) | (1u << 28));
	bar(0x00, 4, 1, 7);
	assert_int_equal(bar(0x04, 4, 0, 0), 0);
	assert_int_equal(bar(0x12, 2, 0, 0), 1);
	/* A legacy driver (no VERSION_1) and one asking for what is not offered: refused. */
	bar(0x14, 1, 1, 3);
	bar(0x08, 4, 1, 0);
	bar(0x0c, 4, 1, 1u << 9);
	bar(0x14, 1, 1, 3 | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(bar(0x14, 1, 0, 0), 3);
	bar(0x08, 4, 1, 1);
	bar(0x0c, 4, 1, 1 | 2);
	bar(0x14, 1, 1, 3 | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(bar(0x14, 1, 0, 0), 3);
	bar(0x0c, 4, 1, 1);
	bar(0x14, 1, 1, 3 | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(bar(0x14, 1, 0, 0), 3 | VIRTIO_STATUS_FEATURES_OK);
	/* Features are fixed once accepted. */
	bar(0x0c, 4, 1, 0);
	assert_int_equal(bar(0x0c, 4, 0, 0), 1);
	/* A queue that does not exist has size 0; a vector beyond the table is NO_VECTOR. */
	bar(0x16, 2, 1, 5);
	assert_int_equal(bar(0x18, 2, 0, 0), 0);
	bar(0x16, 2, 1, 0);
	bar(0x1a, 2, 1, 9);
	assert_int_equal(bar(0x1a, 2, 0, 0), VIRTIO_NO_VECTOR);
	/* Fields at a width of their own only. */
	assert_int_equal(bar(0x14, 4, 0, 0), 0);
	/* Reset. */
	bar(0x14, 1, 1, 0);
	assert_int_equal(bar(0x14, 1, 0, 0), 0);
	bar(0x08, 4, 1, 1);
	assert_int_equal(bar(0x0c, 4, 0, 0), 0);
}

static void test_blk_requests(void **state)
{
	pci_cfg_write(&blk.v.pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	bar(0x00, 4, 1, 0);
	assert_false(bar(0x04, 4, 0, 0) & (1u << 5)); /* read-write: no VIRTIO_BLK_F_RO */
	bring_up(&blk.v, 1, (1ULL << 32) | (1u << 9));
	/* Capacity. */
	assert_int_equal(bar(VIRTIO_DEVCFG_OFF, 4, 0, 0), SECTORS);
	assert_int_equal(bar(VIRTIO_DEVCFG_OFF + 4, 4, 0, 0), 0);
	/* Read sector 3, two sectors. */
	assert_int_equal(blk_req(0, 3, 1024, 1), 0);
	assert_memory_equal(ram_base + DATA + 0x1000, disk_mem + 3 * 512, 1024);
	assert_int_equal(used_len(0, 0), 1025);
	assert_int_equal(nvectors, 1);
	assert_int_equal(vectors[0], 0x31);
	/* Write sector 5, then read it back. */
	memset(ram_base + DATA + 0x1000, 0x5c, 512);
	assert_int_equal(blk_req(1, 5, 512, 0), 0);
	assert_int_equal(disk_mem[5 * 512], 0x5c);
	assert_int_equal(disk_mem[5 * 512 + 511], 0x5c);
	assert_int_equal(disk_mem[6 * 512], (uint8_t)(6 + 6 * 512));
	assert_int_equal(used_len(0, 1), 1);
	assert_int_equal(blk_req(4, 0, 0, 0), 0); /* flush */
	assert_int_equal(blk.flushes, 1);
	/* Get-id: 20 bytes, not NUL-terminated when 20 long. */
	memset(ram_base + DATA + 0x1000, 0xff, 32);
	assert_int_equal(blk_req(8, 0, 32, 1), 0);
	assert_memory_equal(ram_base + DATA + 0x1000, "dyad-test-disk\0\0\0\0\0\0", 20);
	assert_int_equal(used_len(0, 3), 21);
	/* Out of range, partly out of range, a length that is no whole sector: I/O error. */
	assert_int_equal(blk_req(0, SECTORS, 512, 1), 1);
	assert_int_equal(blk_req(0, SECTORS - 1, 1024, 1), 1);
	assert_int_equal(blk_req(1, ~0ULL, 512, 0), 1);
	assert_int_equal(blk_req(1, ~0ULL / 512 + 1, 512, 0), 1);
	assert_int_equal(blk_req(0, 0, 100, 1), 1);
	assert_int_equal(blk.errors, 5);
	/* The last sector exactly, and an unknown type. */
	assert_int_equal(blk_req(0, SECTORS - 1, 512, 1), 0);
	assert_int_equal(blk_req(99, 0, 0, 0), 2);
	assert_int_equal(blk.reads, 2);
	assert_int_equal(blk.writes, 1);
	/* The driver's NO_INTERRUPT flag holds the MSI. */
	unsigned before = nvectors;
	uint16_t flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	memcpy(ram_base + AVAIL, &flags, 2);
	assert_int_equal(blk_req(4, 0, 0, 0), 0);
	assert_int_equal(nvectors, before);
	assert_true(virtio_running(&blk.v));
}

/* A backend that takes whole sectors only, as Dyad's /dev/vda does. */
static const struct blk_ops *mem_ops;
static unsigned odd_calls;

static int strict_read(struct blk_backend *b, uint64_t off, void *buf, size_t len)
{
	odd_calls += (off | len) % 512 != 0;
	return mem_ops->read(b, off, buf, len);
}

static int strict_write(struct blk_backend *b, uint64_t off, const void *buf, size_t len)
{
	odd_calls += (off | len) % 512 != 0;
	return mem_ops->write(b, off, buf, len);
}

static int strict_flush(struct blk_backend *b)
{
	return mem_ops->flush(b);
}

static const struct blk_ops strict_ops = { strict_read, strict_write, strict_flush };

/* A read-only disk (a read-only drive's /dev/vda): VIRTIO_BLK_F_RO offered, reads and flushes
 * served, a write refused with an I/O error status and the disk unchanged. */
static void test_blk_read_only(void **state)
{
	cur = &blk.v;
	pci_cfg_write(&blk.v.pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	bar(0x00, 4, 1, 0);
	assert_true(bar(0x04, 4, 0, 0) & (1u << 5));
	bring_up(&blk.v, 1, (1ULL << 32) | (1u << 5) | (1u << 9));
	assert_int_equal(blk_req(0, 3, 512, 1), 0);
	assert_memory_equal(ram_base + DATA + 0x1000, disk_mem + 3 * 512, 512);
	memset(ram_base + DATA + 0x1000, 0x5c, 512);
	assert_int_equal(blk_req(1, 5, 512, 0), 1);
	assert_int_equal(disk_mem[5 * 512], (uint8_t)(5 + 5 * 512));
	assert_int_equal(blk.ro_writes, 1);
	assert_int_equal(blk.writes, 0);
	assert_int_equal(blk_req(4, 0, 0, 0), 0);
}

/* A backend whose device fails (a bad sector, a flush the disk refuses): the guest gets
 * VIRTIO_BLK_S_IOERR for that request, the next request is served. */
static int fail_at;
static int failing_read(struct blk_backend *b, uint64_t off, void *buf, size_t len)
{
	return off == (uint64_t)fail_at * 512 ? -1 : mem_ops->read(b, off, buf, len);
}

static int failing_flush(struct blk_backend *b)
{
	return -1;
}

static const struct blk_ops failing_ops = { failing_read, strict_write, failing_flush };

static void test_blk_device_errors(void **state)
{
	mem_ops = disk.ops;
	disk.ops = &failing_ops;
	fail_at = 6;
	bring_up(&blk.v, 1, (1ULL << 32) | (1u << 9));
	assert_int_equal(blk_req(0, 6, 512, 1), 1);
	assert_int_equal(used_len(0, 0), 1); /* the status only: no data was read */
	assert_int_equal(blk_req(0, 5, 512, 1), 0);
	assert_memory_equal(ram_base + DATA + 0x1000, disk_mem + 5 * 512, 512);
	assert_int_equal(blk_req(4, 0, 0, 0), 1);
	assert_int_equal(blk.errors, 2);
	assert_true(virtio_running(&blk.v));
	disk.ops = mem_ops;
}

static void test_blk_odd_buffers(void **state)
{
	mem_ops = disk.ops;
	disk.ops = &strict_ops;
	odd_calls = 0;
	bring_up(&blk.v, 1, 1ULL << 32);
	/* A read of sectors 2-3 into buffers of 100, 412 and 512 bytes, then the status. */
	uint32_t hdr[4] = { 0, 0, 2, 0 };
	memcpy(ram_base + DATA, hdr, sizeof(hdr));
	put_desc(0, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(0, 1, DATA + 0x1000, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	put_desc(0, 2, DATA + 0x2000, 412, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	put_desc(0, 3, DATA + 0x4000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
	put_desc(0, 4, DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	kick(0, 0);
	assert_int_equal(ram_base[DATA + 0x3000], 0);
	assert_memory_equal(ram_base + DATA + 0x1000, disk_mem + 1024, 100);
	assert_memory_equal(ram_base + DATA + 0x2000, disk_mem + 1124, 412);
	assert_memory_equal(ram_base + DATA + 0x4000, disk_mem + 1536, 512);
	assert_int_equal(used_len(0, 0), 1025);
	/* A write of sector 7 whose first buffer holds the header and 300 bytes of data. */
	hdr[0] = 1;
	hdr[2] = 7;
	memcpy(ram_base + DATA, hdr, sizeof(hdr));
	memset(ram_base + DATA + 16, 0x61, 300);
	memset(ram_base + DATA + 0x1000, 0x62, 212);
	put_desc(0, 0, DATA, 316, VIRTQ_DESC_F_NEXT, 1);
	put_desc(0, 1, DATA + 0x1000, 212, VIRTQ_DESC_F_NEXT, 2);
	put_desc(0, 2, DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	kick(0, 0);
	assert_int_equal(ram_base[DATA + 0x3000], 0);
	assert_int_equal(disk_mem[7 * 512], 0x61);
	assert_int_equal(disk_mem[7 * 512 + 299], 0x61);
	assert_int_equal(disk_mem[7 * 512 + 300], 0x62);
	assert_int_equal(disk_mem[7 * 512 + 511], 0x62);
	assert_int_equal(disk_mem[8 * 512], (uint8_t)(8 + 8 * 512));
	assert_int_equal(odd_calls, 0);
}

static void expect_broken(struct virtio_dev *v, unsigned config_vector_before)
{
	assert_true(bar(0x14, 1, 0, 0) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(virtio_running(v));
	assert_int_equal(nvectors, config_vector_before + 1);
	assert_int_equal(vectors[(nvectors - 1) % 64], 0x30); /* the configuration vector */
	assert_int_equal(bar(VIRTIO_ISR_OFF, 1, 0, 0) & 2, 2);
}

static void test_blk_broken_by_the_driver(void **state)
{
	bring_up(&blk.v, 1, 1ULL << 32);
	/* A request without a status byte. */
	put_desc(0, 0, DATA, 16, 0, 0);
	unsigned n = nvectors;
	kick(0, 0);
	expect_broken(&blk.v, n);
	assert_int_equal(blk.v.breaks, 1);
	/* Broken: notifications are ignored. */
	put_desc(0, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc(0, 2, DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t before = used_idx(0);
	kick(0, 1);
	assert_int_equal(used_idx(0), before);
	/* Reset and again: fine. */
	bar(0x14, 1, 1, 0);
	assert_int_equal(bar(0x14, 1, 0, 0), 0);
	memset(ram_base + DESC, 0, 0x3000);
	bring_up(&blk.v, 1, 1ULL << 32);
	assert_int_equal(blk_req(4, 0, 0, 0), 0);
	/* A loop in the chain. */
	put_desc(0, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(0, 1, DATA + 0x1000, 16, VIRTQ_DESC_F_NEXT, 0);
	n = nvectors;
	kick(0, 0);
	expect_broken(&blk.v, n);
	/* Indirect descriptors were not negotiated this time. */
	bar(0x14, 1, 1, 0);
	memset(ram_base + DESC, 0, 0x3000);
	bring_up(&blk.v, 1, 1ULL << 32);
	put_desc(0, 0, DATA + 0x2000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	n = nvectors;
	kick(0, 0);
	expect_broken(&blk.v, n);
	/* Rings outside RAM when the queue is enabled: broken before DRIVER_OK (no interrupt). */
	bar(0x14, 1, 1, 0);
	bar(0x14, 1, 1, 3);
	bar(0x08, 4, 1, 1);
	bar(0x0c, 4, 1, 1);
	bar(0x14, 1, 1, 3 | VIRTIO_STATUS_FEATURES_OK);
	bar(0x16, 2, 1, 0);
	bar(0x20, 4, 1, RAM - 16);
	bar(0x1c, 2, 1, 1);
	assert_int_equal(bar(0x1c, 2, 0, 0), 0);
	assert_true(bar(0x14, 1, 0, 0) & VIRTIO_STATUS_NEEDS_RESET);
	/* A queue size that is no power of two. */
	bar(0x14, 1, 1, 0);
	bar(0x16, 2, 1, 0);
	bar(0x18, 2, 1, 6);
	bar(0x20, 4, 1, DESC);
	bar(0x28, 4, 1, AVAIL);
	bar(0x30, 4, 1, USED);
	bar(0x1c, 2, 1, 1);
	assert_true(bar(0x14, 1, 0, 0) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_console(void **state)
{
	bring_up(&con.v, 2, 1ULL << 32);
	/* Two buffers of output, one notification: two calls, the bytes whole. */
	memcpy(ram_base + DATA, "hello, ", 7);
	memcpy(ram_base + DATA + 0x100, "world\n", 6);
	put_desc(1, 0, DATA, 7, 0, 0);
	put_desc(1, 1, DATA + 0x100, 6, 0, 0);
	uint8_t *avail = ram_base + AVAIL + 0x4000;
	uint16_t heads[2] = { 0, 1 }, idx = 2;
	memcpy(avail + 4, heads, 4);
	memcpy(avail + 2, &idx, 2);
	bar(VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT, 2, 1, 1);
	assert_int_equal(out_len, 13);
	assert_memory_equal(out, "hello, world\n", 13);
	assert_int_equal(out_calls, 2);
	assert_int_equal(con.v.queue_notifies[VCON_TX], 1);
	assert_int_equal(used_idx(1), 2);
	assert_int_equal(vectors[nvectors - 1], 0x32);
	/* Input: none until the driver posts a receive buffer. */
	assert_int_equal(virtio_console_rx_room(&con), 0);
	put_desc(0, 0, DATA + 0x1000, 4, VIRTQ_DESC_F_WRITE, 0);
	put_desc(0, 1, DATA + 0x1100, 64, VIRTQ_DESC_F_WRITE, 0);
	avail = ram_base + AVAIL;
	memcpy(avail + 4, heads, 4);
	memcpy(avail + 2, &idx, 2);
	assert_true(virtio_console_rx_room(&con) > 0);
	virtio_console_receive(&con, (const uint8_t *)"ls -l\n", 6);
	assert_memory_equal(ram_base + DATA + 0x1000, "ls -", 4);
	assert_memory_equal(ram_base + DATA + 0x1100, "l\n", 2);
	assert_int_equal(used_idx(0), 2);
	assert_int_equal(used_len(0, 0), 4);
	assert_int_equal(used_len(0, 1), 2);
	assert_int_equal(virtio_console_rx_room(&con), 0);
	virtio_console_receive(&con, (const uint8_t *)"x", 1);
	assert_int_equal(con.rx_dropped, 1);
	/* A transmit buffer outside RAM breaks the device, and nothing is printed. */
	put_desc(1, 2, RAM - 2, 8, 0, 0);
	heads[0] = 2;
	idx = 3;
	avail = ram_base + AVAIL + 0x4000;
	memcpy(avail + 4 + 2 * 2, heads, 2);
	memcpy(avail + 2, &idx, 2);
	bar(VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT, 2, 1, 1);
	assert_int_equal(out_len, 13);
	assert_true(bar(0x14, 1, 0, 0) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_rng(void **state)
{
	bring_up(&rng.v, 1, 1ULL << 32);
	put_desc(0, 0, DATA, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(0, 1, DATA + 0x100, 6, VIRTQ_DESC_F_WRITE, 0);
	kick(0, 0);
	assert_int_equal(used_idx(0), 1);
	assert_int_equal(used_len(0, 0), 16);
	assert_int_equal(ram_base[DATA], 0xa0);
	assert_int_equal(ram_base[DATA + 9], 0xa9);
	assert_int_equal(ram_base[DATA + 0x100 + 5], 0xa5);
	assert_int_equal(rng.bytes, 16);
	/* The CPU's source, where there is one, gives bytes. */
	const char *name;
	rng_fill_fn fill = virtio_rng_source(&name);
	if (fill) {
		uint8_t a[64] = { 0 }, b[64] = { 0 };
		assert_int_equal(fill(a, sizeof(a)), sizeof(a));
		assert_int_equal(fill(b, sizeof(b)), sizeof(b));
		assert_memory_not_equal(a, b, sizeof(a));
	} else {
		assert_string_equal(name, "none");
	}
}

/* A file of @len bytes of @data with a name to open: an anonymous memory file, through
 * /proc/self/fd. Its descriptor stays open until forget(). */
static int temp_fd = -1;

static char *temp_file(const void *data, size_t len)
{
	static char path[64];

	temp_fd = memfd_create("vmm-virtio-disk", 0);
	assert_true(temp_fd >= 0);
	assert_int_equal(write(temp_fd, data, len), (ssize_t)len);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", temp_fd);
	return path;
}

static void forget(const char *path)
{
	close(temp_fd);
	temp_fd = -1;
}

static void test_backends(void **state)
{
	static uint8_t img[4096];
	char err[160];
	struct blk_backend b;

	assert_int_equal(blk_backend_open(&b, "/nonexistent/disk.img", 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/disk.img"));
	char *p = temp_file(img, 0);
	assert_int_equal(blk_backend_open(&b, p, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	forget(p);
	p = temp_file(img, 1000);
	assert_int_equal(blk_backend_open(&b, p, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1000 bytes is not a whole number of 512-byte sectors"));
	forget(p);
	for (unsigned i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)i;
	p = temp_file(img, sizeof(img));
	/* Read-write: writes reach the file. */
	assert_int_equal(blk_backend_open(&b, p, 0, err, sizeof(err)), 0);
	assert_int_equal(b.size, 4096);
	assert_int_equal(b.private_copy, 0);
	uint8_t buf[512];
	assert_int_equal(b.ops->read(&b, 512, buf, 512), 0);
	assert_memory_equal(buf, img + 512, 512);
	memset(buf, 0x42, sizeof(buf));
	assert_int_equal(b.ops->write(&b, 1024, buf, 512), 0);
	assert_int_equal(b.ops->flush(&b), 0);
	close(b.fd);
	/* A private copy: the file's contents, and writes stay in the copy. */
	assert_int_equal(blk_backend_open(&b, p, 1, err, sizeof(err)), 0);
	assert_int_equal(b.private_copy, 1);
	assert_int_equal(b.copy[1024], 0x42);
	assert_int_equal(b.copy[0], 0);
	memset(buf, 0x17, sizeof(buf));
	assert_int_equal(b.ops->write(&b, 0, buf, 512), 0);
	assert_int_equal(b.copy[0], 0x17);
	struct blk_backend again;
	assert_int_equal(blk_backend_open(&again, p, 0, err, sizeof(err)), 0);
	assert_int_equal(again.ops->read(&again, 0, buf, 1), 0);
	assert_int_equal(buf[0], 0); /* the file did not change */
	close(again.fd);
	munmap(b.copy, b.size);
	forget(p);
}

static int parse(struct options *o, char *err, const char *a0, const char *a1, const char *a2,
		 const char *a3)
{
	char *argv[] = { "vmm", (char *)a0, (char *)a1, (char *)a2, (char *)a3, NULL };
	int argc = 1;

	while (argv[argc])
		argc++;
	return options_parse(argc, argv, o, err, 160);
}

static void test_options(void **state)
{
	struct options o;
	char err[160];

	/* -C hvc: hvc0 in place of ttyS0 in the default line, early boot still on the 16550. */
	assert_int_equal(parse(&o, err, "-C", "hvc", "k", NULL), 0);
	assert_true(o.hvc);
	assert_non_null(strstr(o.cmdline, "console=hvc0 earlyprintk=serial"));
	assert_null(strstr(o.cmdline, "ttyS0"));
	assert_int_equal(o.default_len, strlen(o.cmdline));
	assert_null(strstr(o.cmdline, "pci=off"));
	assert_non_null(strstr(o.cmdline, " iommu=noaperture "));
	/* A line of the user's own gets console=hvc0 at its end. */
	assert_int_equal(parse(&o, err, "-C", "hvc", "k", "console=ttyS0"), 0);
	assert_string_equal(o.cmdline, "console=ttyS0 console=hvc0");
	/* Without virtio functions the default line as it is: no PCI for Linux to scan. */
	assert_int_equal(parse(&o, err, "k", NULL, NULL, NULL), 0);
	assert_false(o.hvc || o.rng || o.disk);
	assert_string_equal(o.cmdline, OPTIONS_DEFAULT_CMDLINE);
	assert_non_null(strstr(o.cmdline, " pci=off "));
	/* With them, PCI on and the serial console kept. */
	assert_int_equal(parse(&o, err, "-R", "-d", "/boot/disk.img", "k"), 0);
	assert_true(o.rng);
	assert_string_equal(o.disk, "/boot/disk.img");
	assert_non_null(strstr(o.cmdline, "console=ttyS0,115200 earlyprintk=serial"));
	assert_null(strstr(o.cmdline, "pci=off"));
	assert_non_null(strstr(o.cmdline, " iommu=noaperture "));
	assert_int_equal(o.default_len, strlen(o.cmdline));
	/* Bad values. */
	assert_int_equal(parse(&o, err, "-C", "ttyS1", "k", NULL), -1);
	assert_non_null(strstr(err, "unknown console 'ttyS1'"));
	assert_int_equal(parse(&o, err, "-d", NULL, NULL, NULL), -1);
	assert_non_null(strstr(err, "-d needs a disk image"));
	assert_int_equal(parse(&o, err, "-d", "", "k", NULL), -1);
	assert_int_equal(parse(&o, err, "-C", NULL, NULL, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_features_and_layout, setup),
		cmocka_unit_test_setup(test_blk_requests, setup),
		cmocka_unit_test_setup(test_blk_broken_by_the_driver, setup),
		cmocka_unit_test_setup(test_blk_odd_buffers, setup),
		cmocka_unit_test_setup(test_blk_read_only, setup_ro),
		cmocka_unit_test_setup(test_blk_device_errors, setup),
		cmocka_unit_test_setup(test_console, setup),
		cmocka_unit_test_setup(test_rng, setup),
		cmocka_unit_test_setup(test_backends, setup),
		cmocka_unit_test(test_options),
	};

	return cmocka_run_group_tests(tests, setup_ram, teardown_ram);
}
