// SPDX-License-Identifier: MIT
/*
 * IPI routing (ipi.c) and the local APIC's side of it (x2apic.c): which CPUs an ICR write
 * reaches by physical and logical destination (x2APIC clusters, xAPIC flat), the shorthands,
 * self-IPI, lowest priority as fixed to one, and what each APIC hands to the machine's
 * send_ipi hook (the x2APIC ICR's 32-bit destination, the xAPIC ICR high's 8 bits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ipi.h"
#include "x2apic.h"

#define N 20 /* two x2APIC clusters: IDs 0-15 and 16-19 */

static struct ipi_cpu cpus[N];

static int setup(void **state)
{
	(void)state;
	for (unsigned i = 0; i < N; i++)
		cpus[i] = (struct ipi_cpu){ .id = i, .ldr = ipi_x2apic_ldr(i) };
	return 0;
}

static uint32_t icr(unsigned mode, unsigned shorthand, int logical, unsigned vector)
{
	return vector | mode << 8 | (logical ? 1u << 11 : 0) | 1u << 14 | shorthand << 18;
}

static void test_physical(void **state)
{
	(void)state;
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 0, 0x40), 3, 1), 1u << 3);
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 0, 0x40), 19, 1), 1u << 19);
	/* An ID no CPU has reaches none; the x2APIC broadcast reaches all. */
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 0, 0x40), 20, 1), 0);
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 0, 0x40), 0xffffffff, 1),
			 (1u << N) - 1);
	/* In xAPIC mode 0xff is the broadcast; in x2APIC mode it is just ID 255. */
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 0, 0x40), 0xff, 0),
			 (1u << N) - 1);
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 0, 0x40), 0xff, 1), 0);
	/* Physical destination self is allowed without the shorthand. */
	assert_int_equal(ipi_targets(cpus, N, 5, icr(ICR_DM_FIXED, 0, 0, 0x40), 5, 1), 1u << 5);
}

static void test_logical_x2apic(void **state)
{
	(void)state;
	assert_int_equal(ipi_x2apic_ldr(17), 0x00010002);
	/* Cluster 0, members 1 and 4; cluster 1, member 1 (ID 17). */
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 1, 0x41), 0x00000012, 1),
			 1u << 1 | 1u << 4);
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 1, 0x41), 0x00010002, 1),
			 1u << 17);
	/* The member bits of one cluster never match another cluster's CPU. */
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_FIXED, 0, 1, 0x41), 0x00020001, 1), 0);
	/* Lowest priority: one CPU of the set, as fixed. */
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_LOWEST, 0, 1, 0x41), 0x00000012, 1),
			 1u << 1);
	assert_int_equal(ipi_targets(cpus, N, 0, icr(ICR_DM_LOWEST, 0, 1, 0x41), 0, 1), 0);
}

static void test_logical_xapic_flat(void **state)
{
	struct ipi_cpu flat[4];

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		flat[i] = (struct ipi_cpu){ .id = i, .ldr = (1u << i) << 24 };
	assert_int_equal(ipi_targets(flat, 4, 0, icr(ICR_DM_FIXED, 0, 1, 0x42), 0x0a, 0),
			 1u << 1 | 1u << 3);
	assert_int_equal(ipi_targets(flat, 4, 0, icr(ICR_DM_FIXED, 0, 1, 0x42), 0xf0, 0), 0);
}

static void test_shorthands(void **state)
{
	(void)state;
	/* The destination field is ignored with a shorthand. */
	assert_int_equal(ipi_targets(cpus, N, 7, icr(ICR_DM_FIXED, ICR_SH_SELF, 0, 0x50), 3, 1),
			 1u << 7);
	assert_int_equal(ipi_targets(cpus, N, 7, icr(ICR_DM_FIXED, ICR_SH_ALL, 0, 0x50), 3, 1),
			 (1u << N) - 1);
	assert_int_equal(ipi_targets(cpus, N, 7, icr(ICR_DM_FIXED, ICR_SH_OTHERS, 0, 0x50), 3, 1),
			 ((1u << N) - 1) & ~(1u << 7));
	assert_int_equal(ipi_targets(cpus, 1, 0, icr(ICR_DM_FIXED, ICR_SH_OTHERS, 0, 0x50), 0, 1),
			 0);
	/* A sender that is not one of the CPUs, or too many CPUs: nothing. */
	assert_int_equal(ipi_targets(cpus, N, N, icr(ICR_DM_FIXED, ICR_SH_SELF, 0, 0x50), 0, 1), 0);
	assert_int_equal(ipi_targets(cpus, IPI_MAX_CPUS + 1, 0,
				     icr(ICR_DM_FIXED, ICR_SH_ALL, 0, 0x50), 0, 1),
			 0);
}

static void test_64_cpus(void **state)
{
	static struct ipi_cpu many[IPI_MAX_CPUS];

	(void)state;
	for (unsigned i = 0; i < IPI_MAX_CPUS; i++)
		many[i] = (struct ipi_cpu){ .id = i, .ldr = ipi_x2apic_ldr(i) };
	assert_true(ipi_targets(many, IPI_MAX_CPUS, 0, icr(ICR_DM_FIXED, ICR_SH_ALL, 0, 0x50), 0,
				1) == ~0ULL);
	assert_true(ipi_targets(many, IPI_MAX_CPUS, 0, icr(ICR_DM_FIXED, 0, 0, 0x50), 63, 1) ==
		    1ULL << 63);
}

/* ---- the APIC's ICR, as the machine's send_ipi hook sees it ---------------------------------- */

static uint32_t seen_low, seen_dest;
static int seen;

static void hook(void *ctx, struct x2apic *from, uint32_t low, uint32_t dest)
{
	(void)ctx;
	(void)from;
	seen_low = low;
	seen_dest = dest;
	seen++;
}

static void apic_with_hook(struct x2apic *a, uint32_t id)
{
	x2apic_init(a, 1000000, NULL);
	x2apic_set_id(a, id);
	a->send_ipi = hook;
	seen = 0;
}

static void test_apic_ids(void **state)
{
	struct x2apic a;
	uint32_t v;

	(void)state;
	apic_with_hook(&a, 3);
	assert_int_equal(a.ldr, 0x8);
	assert_int_equal(a.base_msr & 0x100, 0); /* an AP: no BSP flag */
	assert_int_equal(x2apic_mmio_read(&a, 0x20, &v), 0);
	assert_int_equal(v, 3u << 24);
	apic_with_hook(&a, 0);
	assert_int_equal(a.base_msr & 0x100, 0x100);
}

static void test_xapic_icr(void **state)
{
	struct x2apic a;

	(void)state;
	apic_with_hook(&a, 0);
	/* Linux's INIT then SIPI in xAPIC mode: ICR high (destination) first, then ICR low. */
	assert_int_equal(x2apic_mmio_write(&a, 0x310, 2u << 24), 0);
	assert_int_equal(x2apic_mmio_write(&a, 0x300, 0x0000c500), 0);
	assert_int_equal(seen, 1);
	assert_int_equal(seen_low, 0xc500);
	assert_int_equal(seen_dest, 2);
	assert_int_equal(x2apic_mmio_write(&a, 0x300, 0x00000698), 0);
	assert_int_equal(seen, 2);
	assert_int_equal(ICR_MODE(seen_low), ICR_DM_SIPI);
	assert_int_equal(ICR_VECTOR(seen_low), 0x98);
}

static void test_illegal_vector_not_sent(void **state)
{
	struct x2apic a;

	(void)state;
	apic_with_hook(&a, 0);
	/* A fixed IPI with vector 5 is a send error (ESR), never sent; a SIPI's vector is a page. */
	assert_int_equal(x2apic_mmio_write(&a, 0x310, 1u << 24), 0);
	assert_int_equal(x2apic_mmio_write(&a, 0x300, 0x00000005), 0);
	assert_int_equal(seen, 0);
	assert_int_equal(a.esr_pending & 0x20, 0x20);
	assert_int_equal(x2apic_mmio_write(&a, 0x300, 0x00000605), 0);
	assert_int_equal(seen, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_physical, setup),
		cmocka_unit_test_setup(test_logical_x2apic, setup),
		cmocka_unit_test_setup(test_logical_xapic_flat, setup),
		cmocka_unit_test_setup(test_shorthands, setup),
		cmocka_unit_test(test_64_cpus),
		cmocka_unit_test(test_apic_ids),
		cmocka_unit_test(test_xapic_icr),
		cmocka_unit_test(test_illegal_vector_not_sent),
	};
	return cmocka_run_group_tests_name("vmm_ipi", tests, NULL, NULL);
}
