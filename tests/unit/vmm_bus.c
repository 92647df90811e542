// SPDX-License-Identifier: MIT
/*
 * The VMM's bus and its checked guest-memory accessor (bus.h): ranges of ports, MMIO addresses
 * and MSRs claimed by devices, each access reaching the claiming device with its own pointer;
 * overlaps refused; what nobody claims counted and answered as a PC would. gpa_ptr: a range is
 * given only if all of it is RAM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"
#include "mmio.h"
#include "vmm.h"

/* A fake device: records the last access it saw, answers reads with its own tag. */
struct fake {
	uint64_t tag;
	int refuse;
	unsigned calls;
	uint64_t addr, value;
	unsigned size;
	int write;
	void *self; /* the dev pointer the bus passed */
};

static int fake_access(void *dev, uint64_t addr, unsigned size, int write, uint64_t *value)
{
	struct fake *f = dev;

	f->calls++;
	f->self = dev;
	f->addr = addr;
	f->size = size;
	f->write = write;
	if (write)
		f->value = *value;
	else
		*value = f->tag;
	return f->refuse ? -1 : 0;
}

static void test_overlap_refused(void **state)
{
	struct bus b;
	struct fake f = { 0 };

	bus_init(&b);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3f8, 8, fake_access, &f), 0);
	/* Any overlap, at either end or inside, is refused. */
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3ff, 1, fake_access, &f), -1);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3f0, 9, fake_access, &f), -1);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3fa, 2, fake_access, &f), -1);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3f0, 0x20, fake_access, &f), -1);
	/* Adjacent ranges are fine. */
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3f0, 8, fake_access, &f), 0);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x400, 1, fake_access, &f), 0);
	/* The same numbers in another space do not overlap. */
	assert_int_equal(bus_register(&b, BUS_MSR, 0x3f8, 8, fake_access, &f), 0);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x3f8, 8, fake_access, &f), 0);
	/* Empty, wrapping, handler-less and unknown-space ranges are refused. */
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1000, 0, fake_access, &f), -1);
	assert_int_equal(bus_register(&b, BUS_MMIO, ~0ULL, 2, fake_access, &f), -1);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1000, 1, NULL, &f), -1);
	assert_int_equal(bus_register(&b, BUS_SPACES, 0x1000, 1, fake_access, &f), -1);
	/* The range reaching the top of the address space is fine. */
	assert_int_equal(bus_register(&b, BUS_MMIO, ~0ULL, 1, fake_access, &f), 0);
}

static void test_table_full(void **state)
{
	struct bus b;
	struct fake f = { 0 };

	bus_init(&b);
	for (unsigned i = 0; i < BUS_RANGES; i++)
		assert_int_equal(bus_register(&b, BUS_PIO, i * 2, 1, fake_access, &f), 0);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x1000, 1, fake_access, &f), -1);
}

static void test_dispatch_passes_device(void **state)
{
	struct bus b;
	struct fake uart = { .tag = 0x11 }, apic = { .tag = 0xfeedface },
		    msr = { .tag = 1ULL << 40 };
	uint64_t v;

	bus_init(&b);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x3f8, 8, fake_access, &uart), 0);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0xfee00000, 0x1000, fake_access, &apic), 0);
	assert_int_equal(bus_register(&b, BUS_MSR, 0x800, 0x100, fake_access, &msr), 0);

	/* Port: absolute port, size, direction, device pointer; the value masked to the size. */
	bus_out(&b, 0x3fd, 1, 0x1234);
	assert_ptr_equal(uart.self, &uart);
	assert_int_equal(uart.addr, 0x3fd);
	assert_int_equal(uart.size, 1);
	assert_int_equal(uart.write, 1);
	assert_int_equal(uart.value, 0x34);
	assert_int_equal(bus_in(&b, 0x3f8, 1), 0x11);
	assert_int_equal(uart.write, 0);

	/* MMIO: the absolute guest-physical address. */
	v = 0;
	assert_int_equal(bus_access(&b, BUS_MMIO, 0xfee00030, 4, 0, &v), 0);
	assert_ptr_equal(apic.self, &apic);
	assert_int_equal(apic.addr, 0xfee00030);
	assert_int_equal(v, 0xfeedface);
	v = 0xabcdef0123456789ULL;
	assert_int_equal(bus_access(&b, BUS_MMIO, 0xfee000b0, 2, 1, &v), 0);
	assert_int_equal(apic.value, 0x6789);
	assert_int_equal(uart.calls, 2); /* nobody else was called */

	/* MSR: 64 bits both ways, never masked. */
	assert_int_equal(bus_wrmsr(&b, 0x80b, 0xffffffff00000001ULL), 0);
	assert_ptr_equal(msr.self, &msr);
	assert_int_equal(msr.value, 0xffffffff00000001ULL);
	assert_int_equal(bus_rdmsr(&b, 0x8ff, &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(msr.addr, 0x8ff);
	assert_int_equal(b.space[BUS_MSR].handled, 2);
}

static void test_unowned_and_refused(void **state)
{
	struct bus b;
	struct fake f = { .tag = 5, .refuse = 1 };
	uint64_t v;

	bus_init(&b);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x70, 2, fake_access, &f), 0);
	assert_int_equal(bus_register(&b, BUS_MSR, 0x10, 1, fake_access, &f), 0);
	assert_int_equal(bus_register(&b, BUS_MMIO, 0x1000, 0x10, fake_access, &f), 0);
	/* Unowned ports read all ones of their size and count; writes are dropped. */
	assert_int_equal(bus_in(&b, 0x1234, 1), 0xff);
	assert_int_equal(bus_in(&b, 0x1234, 2), 0xffff);
	assert_int_equal(bus_in(&b, 0x1235, 4), 0xffffffff);
	bus_out(&b, 0x1236, 1, 0);
	assert_int_equal(b.space[BUS_PIO].unowned, 4);
	assert_int_equal(b.space[BUS_PIO].last_unowned, 0x1236);
	assert_int_equal(f.calls, 0);
	/* A refusing device: reads all ones as well, counted apart. */
	assert_int_equal(bus_in(&b, 0x71, 1), 0xff);
	assert_int_equal(f.calls, 1);
	assert_int_equal(b.space[BUS_PIO].refused, 1);
	/* MSRs: unowned and refused both mean #GP, and a failed read gives 0. */
	v = 99;
	assert_int_equal(bus_rdmsr(&b, 0x11, &v), -1);
	assert_int_equal(v, 0);
	assert_int_equal(bus_rdmsr(&b, 0x10, &v), -1);
	assert_int_equal(bus_wrmsr(&b, 0x10, 1), -1);
	assert_int_equal(b.space[BUS_MSR].unowned, 1);
	assert_int_equal(b.space[BUS_MSR].refused, 2);
	/* MMIO: the status tells unowned from refused; reads give all ones of the size. */
	v = 0;
	assert_int_equal(bus_access(&b, BUS_MMIO, 0x2000, 8, 0, &v), BUS_UNOWNED);
	assert_int_equal(v, ~0ULL);
	v = 0;
	assert_int_equal(bus_access(&b, BUS_MMIO, 0x100f, 2, 0, &v), BUS_REFUSED);
	assert_int_equal(v, 0xffff);
}

/* Accesses alternating between ranges each reach their owner; the gap between them is no one's. */
static void test_alternating_ranges(void **state)
{
	struct bus b;
	struct fake a = { .tag = 0xa }, c = { .tag = 0xc };

	bus_init(&b);
	assert_int_equal(bus_register(&b, BUS_PIO, 0x20, 2, fake_access, &a), 0);
	assert_int_equal(bus_register(&b, BUS_PIO, 0xa0, 2, fake_access, &c), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(bus_in(&b, 0xa1, 1), 0xc);
		assert_int_equal(bus_in(&b, 0x21, 1), 0xa);
		assert_int_equal(bus_in(&b, 0x22, 1), 0xff); /* just past a's range */
	}
	assert_int_equal(a.calls, 3);
	assert_int_equal(c.calls, 3);
}

static void test_gpa_ptr_bounds(void **state)
{
	static uint8_t mem[0x1000];
	struct guest_ram ram = { mem, sizeof(mem), 0 };
	void *p = NULL;

	assert_int_equal(gpa_ptr(&ram, 0, 0x1000, &p), 0);
	assert_ptr_equal(p, mem);
	assert_int_equal(gpa_ptr(&ram, 0xfff, 1, &p), 0);
	assert_ptr_equal(p, mem + 0xfff);
	/* One byte past the end, starting at the end, far beyond. */
	p = NULL;
	assert_int_equal(gpa_ptr(&ram, 0xfff, 2, &p), -1);
	assert_int_equal(gpa_ptr(&ram, 0x1000, 1, &p), -1);
	assert_int_equal(gpa_ptr(&ram, 0, 0x1001, &p), -1);
	assert_int_equal(gpa_ptr(&ram, 0xfee00000, 4, &p), -1);
	assert_null(p); /* left alone on failure */
}

static void test_gpa_ptr_wraps_and_zero(void **state)
{
	static uint8_t mem[0x1000];
	struct guest_ram ram = { mem, sizeof(mem), 0 };
	void *p = NULL;

	/* gpa + size wraps to a small number: refused, not "in range". */
	assert_int_equal(gpa_ptr(&ram, 0x10, ~0ULL - 0xf, &p), -1);
	assert_int_equal(gpa_ptr(&ram, ~0ULL, 2, &p), -1);
	assert_int_equal(gpa_ptr(&ram, ~0ULL - 0x7ff, 0x1000, &p), -1);
	/* Size 0 is refused, even at a valid address. */
	assert_int_equal(gpa_ptr(&ram, 0, 0, &p), -1);
	assert_int_equal(gpa_ptr(&ram, 0x800, 0, &p), -1);
	/* No RAM at all. */
	struct guest_ram none = { mem, 0, 0 };
	assert_int_equal(gpa_ptr(&none, 0, 1, &p), -1);
	assert_null(p);
}

/* RAM in two parts around the 32-bit hole: nothing in the hole, nothing across its edges. */
static void test_gpa_ptr_high_ram(void **state)
{
	struct guest_ram ram = { NULL, 3ULL << 30, 2ULL << 30 };
	void *p = NULL;

	assert_int_equal(gpa_ptr(&ram, (3ULL << 30) - 4096, 4096, &p), 0);
	assert_int_equal(gpa_ptr(&ram, (3ULL << 30) - 4096, 4097, &p), -1);
	assert_int_equal(gpa_ptr(&ram, 0xfec00000, 4, &p), -1);
	assert_int_equal(gpa_ptr(&ram, GUEST_RAM_HIGH - 1, 2, &p), -1);
	assert_int_equal(gpa_ptr(&ram, GUEST_RAM_HIGH, 4096, &p), 0);
	assert_ptr_equal(p, (void *)GUEST_RAM_HIGH);
	assert_int_equal(gpa_ptr(&ram, (6ULL << 30) - 1, 1, &p), 0);
	assert_int_equal(gpa_ptr(&ram, (6ULL << 30) - 1, 2, &p), -1);
	assert_int_equal(gpa_ptr(&ram, 6ULL << 30, 1, &p), -1);
}

/* Guest RAM at the VMM's address 0: gpa 0 is a valid NULL pointer, told apart by the status. */
static void test_gpa_ptr_at_zero(void **state)
{
	struct guest_ram ram = { NULL, 64 << 20, 0 };
	void *p = (void *)1;

	assert_int_equal(gpa_ptr(&ram, 0, 4096, &p), 0);
	assert_null(p);
	assert_int_equal(gpa_ptr(&ram, 0x8000, 4096, &p), 0);
	assert_ptr_equal(p, (void *)0x8000);
	assert_int_equal(gpa_ptr(&ram, (64 << 20) - 4096, 4097, &p), -1);
}

/* The register side of an MMIO access: what a store sends and how a load lands. */
static void test_mmio_register_side(void **state)
{
	struct dyad_regs r = { 0 };
	struct mmio_insn d;

	/* mov %ah, (%rdi): the high byte of rax. */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x88, 0x27 }, 2, &d), 0);
	r.rax = 0x1234;
	assert_int_equal(mmio_store_value(&r, &d), 0x12);
	/* mov (%rdi), %ah keeps the rest of rax. */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x8a, 0x27 }, 2, &d), 0);
	r.rax = 0xffff0000ffffffffULL;
	mmio_load(&r, &d, 0x5a);
	assert_int_equal(r.rax, 0xffff0000ffff5affULL);
	/* mov (%rdi), %eax zero-extends. */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x8b, 0x07 }, 2, &d), 0);
	mmio_load(&r, &d, 0x89abcdef);
	assert_int_equal(r.rax, 0x89abcdef);
	/* mov (%rdi), %ax keeps bits 16-63. */
	assert_int_equal(mmio_decode((const uint8_t[]){ 0x66, 0x8b, 0x07 }, 3, &d), 0);
	r.rax = 0x1111222233334444ULL;
	mmio_load(&r, &d, 0xbeef);
	assert_int_equal(r.rax, 0x111122223333beefULL);
	/* movl $imm, (%rdi): the immediate. */
	assert_int_equal(
		mmio_decode((const uint8_t[]){ 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12 }, 6, &d), 0);
	assert_int_equal(mmio_store_value(&r, &d), 0x12345678);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_refused),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_dispatch_passes_device),
		cmocka_unit_test(test_unowned_and_refused),
		cmocka_unit_test(test_alternating_ranges),
		cmocka_unit_test(test_gpa_ptr_bounds),
		cmocka_unit_test(test_gpa_ptr_wraps_and_zero),
		cmocka_unit_test(test_gpa_ptr_at_zero),
		cmocka_unit_test(test_gpa_ptr_high_ram),
		cmocka_unit_test(test_mmio_register_side),
	};
	return cmocka_run_group_tests_name("vmm_bus", tests, NULL, NULL);
}
