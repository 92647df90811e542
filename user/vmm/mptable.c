// SPDX-License-Identifier: MIT
/*
 * The MP table (Intel MultiProcessor Specification 1.4, ch. 4): a floating pointer Linux finds
 * by scanning the last KiB of base memory, and a configuration table with one processor entry,
 * one ISA bus and the local interrupt assignments of virtual-wire mode (ExtINT on LINT0, NMI
 * on LINT1). No I/O APIC: with an MP table Linux uses the LAPIC timer, and legacy IRQs go
 * through the 8259 as ExtINT. The floating pointer sets IMCRP (feature byte 2, bit 7), which
 * makes Linux keep PIC mode and unmask ExtINT on LINT0.
 */
#include <string.h>

#include "mptable.h"

struct mpf {
	char signature[4];
	uint32_t config;
	uint8_t length, revision, checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc {
	char signature[4];
	uint16_t length;
	uint8_t revision, checksum;
	char oem[8], product[12];
	uint32_t oem_table;
	uint16_t oem_size, count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apic_id, apic_version, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, id;
	char name[6];
} __attribute__((packed));

struct mpc_lint {
	uint8_t type, irq_type;
	uint16_t flags;
	uint8_t src_bus, src_irq, dst_apic, dst_lint;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf) == 16, "MP floating pointer is 16 bytes");
_Static_assert(sizeof(struct mpc) == 44, "MP configuration header is 44 bytes");
_Static_assert(sizeof(struct mpc_cpu) == 20, "processor entry is 20 bytes");

uint8_t mptable_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

size_t mptable_build(uint8_t *buf, uint32_t gpa, uint32_t signature, uint32_t features)
{
	struct mpf *f = (struct mpf *)buf;
	struct mpc *c = (struct mpc *)(buf + sizeof(*f));
	uint8_t *e = (uint8_t *)(c + 1);

	memset(buf, 0, MPTABLE_MAX_SIZE);
	struct mpc_cpu cpu = { .type = 0,
			       .apic_id = 0,
			       .apic_version = 0x14,
			       .flags = 3,
			       .signature = signature,
			       .features = features };
	struct mpc_bus bus = { .type = 1, .id = 0, .name = "ISA   " };
	struct mpc_lint lint[2] = {
		{ .type = 4, .irq_type = 3, .dst_apic = 0xff, .dst_lint = 0 }, /* ExtINT */
		{ .type = 4, .irq_type = 1, .dst_apic = 0xff, .dst_lint = 1 }, /* NMI */
	};
	memcpy(e, &cpu, sizeof(cpu));
	e += sizeof(cpu);
	memcpy(e, &bus, sizeof(bus));
	e += sizeof(bus);
	memcpy(e, lint, sizeof(lint));
	e += sizeof(lint);

	memcpy(c->signature, "PCMP", 4);
	c->length = (uint16_t)(e - (uint8_t *)c);
	c->revision = 4;
	memcpy(c->oem, "DYAD    ", 8);
	memcpy(c->product, "VMM         ", 12);
	c->count = 4;
	c->lapic = 0xfee00000;
	c->checksum = -mptable_sum((uint8_t *)c, c->length);

	memcpy(f->signature, "_MP_", 4);
	f->config = gpa + sizeof(*f);
	f->length = 1; /* in 16-byte units */
	f->revision = 4;
	f->feature[1] = 0x80; /* IMCRP: the IMCR is present, PIC mode */
	f->checksum = -mptable_sum(buf, sizeof(*f));
	return (size_t)(e - buf);
}
