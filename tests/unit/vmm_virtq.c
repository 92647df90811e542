// SPDX-License-Identifier: MIT
/*
 * Split virtqueues against a hostile driver (virtq.h). Guest RAM is an mmap with inaccessible
 * pages on both sides, so any read or write outside it kills the test. Each rule the driver can
 * break is broken once by hand: rings outside RAM or misaligned, heads and next indexes past
 * the ring, loops, buffers outside RAM or wrapping, readable after writable, every indirect
 * table rule. Then seeded random rings: whatever the bytes, a pop either gives buffers that lie
 * in RAM or fails with a reason, and a chain never has more buffers than allowed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "virtq.h"

#define RAM (1u << 20)
#define PAGE 4096u
#define QSZ 8
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define DATA 0x10000u

static uint8_t *area, *ram_base;
static struct guest_ram ram;
static struct virtq q;
static struct virtq_chain c;

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

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

static int setup(void **state)
{
	memset(ram_base, 0, RAM);
	assert_int_equal(virtq_setup(&q, &ram, QSZ, DESC, AVAIL, USED, 1), 0);
	return 0;
}

static void put_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct desc d = { addr, len, flags, next };

	memcpy(ram_base + DESC + 16 * i, &d, sizeof(d));
}

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(ram_base + gpa, &v, 2);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram_base + gpa, 2);
	return v;
}

/* Makes chain @head available as the driver's next entry. */
static void offer(uint16_t head)
{
	uint16_t idx = get16(AVAIL + 2);

	put16(AVAIL + 4 + 2 * (idx % QSZ), head);
	put16(AVAIL + 2, (uint16_t)(idx + 1));
}

static void expect_broken(const char *what)
{
	assert_int_equal(virtq_pop(&q, &c), -1);
	if (!strstr(q.err, what))
		fail_msg("error '%s' does not say '%s'", q.err, what);
}

static void test_a_good_chain(void **state)
{
	put_desc(3, DATA, 16, VIRTQ_DESC_F_NEXT, 5);
	put_desc(5, DATA + 0x100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6);
	put_desc(6, DATA + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(virtq_has_avail(&q), 0);
	assert_int_equal(virtq_pop(&q, &c), 0);
	offer(3);
	assert_int_equal(virtq_has_avail(&q), 1);
	memcpy(ram_base + DATA, "0123456789abcdef", 16);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.out_len, 16);
	assert_int_equal(c.in_len, 513);
	assert_ptr_equal(c.buf[0].p, ram_base + DATA);
	assert_ptr_equal(c.buf[2].p, ram_base + DATA + 0x400);
	char hdr[20] = { 0 };
	assert_int_equal(virtq_read(&c, 4, hdr, sizeof(hdr)), 12);
	assert_string_equal(hdr, "456789abcdef");
	uint8_t fill[600];
	memset(fill, 0x77, sizeof(fill));
	assert_int_equal(virtq_write(&c, 0, fill, sizeof(fill)), 513);
	assert_int_equal(ram_base[DATA + 0x400], 0x77);
	assert_int_equal(ram_base[DATA + 0x401], 0);
	virtq_push(&q, c.head, 513);
	assert_int_equal(get16(USED + 2), 1);
	uint32_t used[2];
	memcpy(used, ram_base + USED + 4, 8);
	assert_int_equal(used[0], 3);
	assert_int_equal(used[1], 513);
	assert_int_equal(virtq_pop(&q, &c), 0);
	/* The interrupt suppression flag is the driver's. */
	assert_int_equal(virtq_wants_interrupt(&q), 1);
	put16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(virtq_wants_interrupt(&q), 0);
	/* Empty descriptors carry nothing and are skipped. */
	put_desc(0, 0, 0, VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, DATA, 4, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.out_len, 4);
	/* The index wraps at 65536 like the driver's. */
	q.last_avail = 0xffff;
	put16(AVAIL + 2, 0xffff);
	offer(1);
	assert_int_equal(get16(AVAIL + 2), 0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(q.last_avail, 0);
}

static void test_setup_checks(void **state)
{
	struct virtq x;

	assert_int_equal(virtq_setup(&x, &ram, 0, DESC, AVAIL, USED, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, 6, DESC, AVAIL, USED, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, VIRTQ_MAX_SIZE * 2, DESC, AVAIL, USED, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, 8, DESC + 8, AVAIL, USED, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, 8, DESC, AVAIL + 1, USED, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, 8, DESC, AVAIL, USED + 2, 0), -1);
	assert_int_equal(x.ready, 0);
	/* The last byte of each ring must be RAM. */
	assert_int_equal(virtq_setup(&x, &ram, 8, RAM - 128, AVAIL, USED, 0), 0);
	assert_int_equal(virtq_setup(&x, &ram, 8, RAM - 112, AVAIL, USED, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, 8, DESC, RAM - 22, USED, 0), 0);
	assert_int_equal(virtq_setup(&x, &ram, 8, DESC, RAM - 20, USED, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, 8, DESC, AVAIL, RAM - 72, 0), 0);
	assert_int_equal(virtq_setup(&x, &ram, 8, DESC, AVAIL, RAM - 68, 0), -1);
	assert_int_equal(virtq_setup(&x, &ram, 8, ~0ULL - 15, AVAIL, USED, 0), -1);
	assert_true(strstr(x.err, "outside guest RAM") != NULL);
	/* A queue never set up gives nothing. */
	virtq_reset(&x);
	assert_int_equal(virtq_pop(&x, &c), 0);
	assert_int_equal(virtq_has_avail(&x), 0);
}

static void test_bad_indexes_and_loops(void **state)
{
	/* The driver's index more than a ring ahead. */
	put16(AVAIL + 2, QSZ + 1);
	expect_broken("more than the ring");
	setup(state);
	/* A head past the ring. */
	offer(QSZ);
	expect_broken("head descriptor 8");
	setup(state);
	/* A next past the ring. */
	put_desc(0, DATA, 4, VIRTQ_DESC_F_NEXT, 200);
	offer(0);
	expect_broken("next 200");
	setup(state);
	/* Loops: to itself, and through three. */
	put_desc(2, DATA, 4, VIRTQ_DESC_F_NEXT, 2);
	offer(2);
	expect_broken("loops");
	setup(state);
	put_desc(1, DATA, 4, VIRTQ_DESC_F_NEXT, 4);
	put_desc(4, DATA, 4, VIRTQ_DESC_F_NEXT, 7);
	put_desc(7, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
	offer(1);
	expect_broken("loops");
	/* Nothing was taken: the device is broken, not advanced. */
	assert_int_equal(q.last_avail, 0);
	/* A chain through every descriptor once is fine. */
	setup(state);
	for (unsigned i = 0; i < QSZ; i++)
		put_desc(i, DATA + 16 * i, 16, i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.nout, QSZ);
}

static void test_bad_buffers(void **state)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{ RAM, 1 }, /* just past the end */
		{ RAM - 4, 8 }, /* across the end */
		{ ~0ULL - 3, 16 }, /* wrapping */
		{ 1ULL << 40, 4096 }, /* far away */
		{ GUEST_RAM_HIGH, 4 }, /* where high RAM would be, but there is none */
	};

	for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		setup(state);
		put_desc(0, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
		put_desc(1, bad[k].addr, bad[k].len, VIRTQ_DESC_F_WRITE, 0);
		offer(0);
		expect_broken("not guest RAM");
	}
	setup(state);
	put_desc(0, RAM - 4, 4, 0, 0); /* the very last bytes are fine */
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	/* Readable after writable. */
	setup(state);
	put_desc(0, DATA, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, DATA, 4, 0, 0);
	offer(0);
	expect_broken("device-readable after device-writable");
}

static void test_indirect(void **state)
{
	const uint64_t table = DATA + 0x1000;
	struct desc t[4] = {
		{ DATA, 16, VIRTQ_DESC_F_NEXT, 2 },
		{ 0, 0, 0, 0 },
		{ DATA + 0x100, 64, VIRTQ_DESC_F_WRITE, 0 },
	};

	memcpy(ram_base + table, t, sizeof(t));
	put_desc(0, table, sizeof(t), VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &c), 1);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 1);
	assert_int_equal(c.in_len, 64);

	/* Without the feature. */
	assert_int_equal(virtq_setup(&q, &ram, QSZ, DESC, AVAIL, USED, 0), 0);
	put16(AVAIL + 2, 0);
	offer(0);
	expect_broken("not negotiated");
	/* Indirect and next at once. */
	setup(state);
	memcpy(ram_base + table, t, sizeof(t));
	put_desc(0, table, sizeof(t), VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	offer(0);
	expect_broken("both indirect and next");
	/* A length that is no whole number of descriptors, and an empty one. */
	setup(state);
	put_desc(0, table, 24, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("indirect table length");
	setup(state);
	put_desc(0, table, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("indirect table length");
	/* A table across the end of RAM. */
	setup(state);
	put_desc(0, RAM - 32, 64, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("not guest RAM");
	/* Nested, looping, and a next past the table. */
	struct desc nested[1] = { { table, 16, VIRTQ_DESC_F_INDIRECT, 0 } };
	setup(state);
	memcpy(ram_base + table, nested, sizeof(nested));
	put_desc(0, table, sizeof(nested), VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("indirect inside an indirect");
	struct desc loop[2] = { { DATA, 4, VIRTQ_DESC_F_NEXT, 1 },
				{ DATA, 4, VIRTQ_DESC_F_NEXT, 0 } };
	setup(state);
	memcpy(ram_base + table, loop, sizeof(loop));
	put_desc(0, table, sizeof(loop), VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("indirect chain loops");
	struct desc past[2] = { { DATA, 4, VIRTQ_DESC_F_NEXT, 2 }, { 0 } };
	setup(state);
	memcpy(ram_base + table, past, sizeof(past));
	put_desc(0, table, sizeof(past), VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("beyond its table");
	/* A chain of more buffers than the device takes at once. */
	static struct desc many[VIRTQ_MAX_BUFS + 1];
	for (unsigned i = 0; i <= VIRTQ_MAX_BUFS; i++)
		many[i] = (struct desc){ DATA, 4, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1) };
	many[VIRTQ_MAX_BUFS].flags = 0;
	setup(state);
	memcpy(ram_base + table, many, sizeof(many));
	put_desc(0, table, sizeof(many), VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_broken("more than");
}

/* xorshift64*: the same rings for the same seed. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A value near the edges that matter more often than chance would give. */
static uint64_t nasty_addr(void)
{
	switch (rnd() % 6) {
	case 0:
		return rnd();
	case 1:
		return RAM - (rnd() % 64);
	case 2:
		return ~0ULL - (rnd() % 64);
	case 3:
		return GUEST_RAM_HIGH + rnd() % 4096;
	default:
		return rnd() % RAM;
	}
}

static void test_random_rings(void **state)
{
	const char *env = getenv("VMM_VIRTQ_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed0001ULL;
	unsigned popped = 0, broken = 0;

	print_message("virtq seed %#llx (VMM_VIRTQ_SEED to repeat)\n", (unsigned long long)seed);
	rng_state = seed | 1;
	for (unsigned round = 0; round < 3000; round++) {
		memset(ram_base + DESC, 0, 0x3000);
		assert_int_equal(virtq_setup(&q, &ram, QSZ, DESC, AVAIL, USED, rnd() & 1), 0);
		for (unsigned i = 0; i < QSZ; i++) {
			uint16_t flags = (uint16_t)(rnd() & 3),
				 next = (uint16_t)(rnd() % (QSZ + 2));
			if (rnd() % 4 == 0)
				flags |= VIRTQ_DESC_F_INDIRECT;
			uint32_t len = (uint32_t)(rnd() % 3 ? rnd() % 600 : rnd());
			uint64_t addr = nasty_addr();
			if ((flags & VIRTQ_DESC_F_INDIRECT) && rnd() % 2) {
				/* An indirect table of random descriptors somewhere in RAM. */
				addr = DATA + 16 * (rnd() % 64);
				len = 16 * (uint32_t)(rnd() % 12);
				for (unsigned k = 0; k < 12; k++) {
					struct desc e = { nasty_addr(), (uint32_t)(rnd() % 700),
							  (uint16_t)(rnd() & 7),
							  (uint16_t)(rnd() % 14) };
					memcpy(ram_base + addr + 16 * k, &e, sizeof(e));
				}
			}
			put_desc(i, addr, len, flags, next);
		}
		for (unsigned i = 0; i < QSZ; i++)
			put16(AVAIL + 4 + 2 * i, (uint16_t)(rnd() % (QSZ + 2)));
		put16(AVAIL + 2, (uint16_t)(rnd() % 4 ? rnd() % (QSZ + 1) : rnd()));
		for (unsigned k = 0; k < QSZ + 2; k++) {
			int r = virtq_pop(&q, &c);
			if (r == 0)
				break;
			if (r < 0) {
				assert_true(q.err[0] != 0);
				broken++;
				break;
			}
			popped++;
			assert_true(c.nout + c.nin <= VIRTQ_MAX_BUFS);
			for (unsigned b = 0; b < c.nout + c.nin; b++) {
				assert_true(c.buf[b].p >= ram_base);
				assert_true(c.buf[b].len > 0 && c.buf[b].len <= RAM);
				assert_true(c.buf[b].p + c.buf[b].len <= ram_base + RAM);
				/* Touch every byte: the guard pages catch what the asserts miss. */
				volatile uint8_t sum = 0;
				for (uint32_t i = 0; i < c.buf[b].len; i++)
					sum += c.buf[b].p[i];
				(void)sum;
			}
			virtq_push(&q, c.head, (uint32_t)c.in_len);
		}
	}
	print_message("virtq random rings: %u chains taken, %u rings refused\n", popped, broken);
	/* The generator is meant to hit both outcomes; if not, it tests nothing. */
	assert_true(popped > 100 && broken > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_a_good_chain, setup),
		cmocka_unit_test_setup(test_setup_checks, setup),
		cmocka_unit_test_setup(test_bad_indexes_and_loops, setup),
		cmocka_unit_test_setup(test_bad_buffers, setup),
		cmocka_unit_test_setup(test_indirect, setup),
		cmocka_unit_test_setup(test_random_rings, setup),
	};

	return cmocka_run_group_tests(tests, setup_ram, teardown_ram);
}
