// SPDX-License-Identifier: MIT
/*
 * The ACPI tables, parsed back the way an OS finds them: the RSDP's two checksums, the XSDT's
 * entries, each table's checksum, the FADT's fixed hardware and reset register, the DSDT's \_S5
 * package, the MADT's CPUs, I/O APIC and overrides. Then the PM1a registers those tables
 * describe: S5 through PM1a_CNT is power-off, other sleep types are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"
#include "ioapic.h"
#include "pm.h"
#include "vmm.h"

static struct bus bus;

#define GPA 0xf0000u

static uint8_t mem[ACPI_TABLES_MAX];

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The table at guest-physical @gpa, checked: inside the area, its length fits, sum 0. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	assert_true(gpa >= GPA && gpa + 36 <= GPA + sizeof(mem));
	const uint8_t *t = mem + (gpa - GPA);
	uint32_t len = rd32(t + 4);
	assert_true(len >= 36 && gpa + len <= GPA + sizeof(mem));
	assert_memory_equal(t, sig, 4);
	assert_int_equal(acpi_sum(t, len), 0);
	return t;
}

static size_t build(unsigned ncpus)
{
	struct acpi_config c = {
		.gpa = GPA, .ncpus = ncpus, .ioapic_addr = IOAPIC_BASE, .ioapic_id = IOAPIC_ID
	};

	memset(mem, 0xa5, sizeof(mem)); /* nothing may depend on the buffer being zero */
	return acpi_build(mem, sizeof(mem), &c);
}

/* The XSDT's entry with signature @sig. */
static const uint8_t *find(const char *sig)
{
	assert_memory_equal(mem, "RSD PTR ", 8);
	const uint8_t *x = table(rd64(mem + 24), "XSDT");
	for (uint32_t off = 36; off + 8 <= rd32(x + 4); off += 8) {
		uint64_t gpa = rd64(x + off);
		assert_true(gpa >= GPA && gpa < GPA + sizeof(mem));
		if (!memcmp(mem + (gpa - GPA), sig, 4))
			return table(gpa, sig);
	}
	fail_msg("no %s in the XSDT", sig);
	return NULL;
}

static void test_rsdp(void **state)
{
	assert_true(build(1) > 0);
	assert_memory_equal(mem, "RSD PTR ", 8);
	assert_int_equal(acpi_sum(mem, 20), 0);
	assert_int_equal(mem[15], 2); /* revision: ACPI 2.0+, XSDT present */
	assert_int_equal(rd32(mem + 20), 36);
	assert_int_equal(acpi_sum(mem, 36), 0);
	table(rd64(mem + 24), "XSDT");
}

static void test_fadt(void **state)
{
	assert_true(build(1) > 0);
	const uint8_t *f = find("FACP");
	assert_int_equal(rd32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(f[46] | f[47] << 8, ACPI_SCI_IRQ);
	assert_int_equal(rd32(f + 48), 0); /* no SMI command port: always in ACPI mode */
	assert_int_equal(rd32(f + 56), ACPI_PM1A_EVT);
	assert_int_equal(rd32(f + 64), ACPI_PM1A_CNT);
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(rd32(f + 76), 0); /* no PM timer */
	assert_int_equal((f[109] | f[110] << 8) & 2, 0); /* no 8042 */
	uint32_t flags = rd32(f + 112);
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_false(flags & (1u << 20)); /* not hardware-reduced */
	assert_int_equal(f[116], 1); /* reset register: system I/O */
	assert_int_equal(f[117], 8);
	assert_int_equal(rd64(f + 120), ACPI_RESET_PORT);
	assert_int_equal(f[128], ACPI_RESET_VALUE);
	const uint8_t *facs = mem + (rd32(f + 36) - GPA);
	assert_int_equal(rd32(f + 36) % 64, 0);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(rd32(facs + 4), 64);
	table(rd32(f + 40), "DSDT");
}

static void test_dsdt_s5(void **state)
{
	assert_true(build(1) > 0);
	const uint8_t *f = find("FACP");
	const uint8_t *d = table(rd32(f + 40), "DSDT");
	uint32_t len = rd32(d + 4);
	const uint8_t *aml = d + 36, *end = d + len;
	/* NameOp "_S5_" PackageOp PkgLength NumElements, then BytePrefix SLP_TYPa. */
	assert_true(end - aml >= 10);
	assert_int_equal(aml[0], 0x08);
	assert_memory_equal(aml + 1, "_S5_", 4);
	assert_int_equal(aml[5], 0x12);
	assert_int_equal(aml + 6 + aml[6], end); /* the package ends the table */
	assert_true(aml[7] >= 2);
	assert_int_equal(aml[8], 0x0a);
	assert_int_equal(aml[9], ACPI_S5_SLP_TYP);
}

/* Walks the MADT, counting CPUs by entry type and checking the I/O APIC and overrides. */
static void check_madt(unsigned ncpus)
{
	assert_true(build(ncpus) > 0);
	const uint8_t *m = find("APIC");
	uint32_t len = rd32(m + 4);
	unsigned lapics = 0, x2apics = 0, ioapics = 0, irq0 = 0, nmi = 0;
	uint32_t next_id = 0;

	assert_int_equal(rd32(m + 36), 0xfee00000u);
	assert_int_equal(rd32(m + 40) & 1, 1); /* PCAT_COMPAT */
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[3], next_id++);
			assert_true(rd32(e + 4) & 1);
			lapics++;
			break;
		case 9:
			assert_int_equal(rd32(e + 4), next_id++);
			assert_true(next_id - 1 >= 255);
			x2apics++;
			break;
		case 1:
			assert_int_equal(rd32(e + 4), IOAPIC_BASE);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			if (e[3] == 0) {
				assert_int_equal(rd32(e + 4), 2);
				irq0++;
			}
			break;
		case 4:
			assert_int_equal(e[5], 1);
			nmi++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(lapics + x2apics, ncpus);
	assert_int_equal(x2apics, ncpus > 255 ? ncpus - 255 : 0);
	assert_int_equal(ioapics, 1);
	assert_int_equal(irq0, 1);
	assert_int_equal(nmi, 1);
}

static void test_madt_one_cpu(void **state)
{
	check_madt(1);
}

static void test_madt_many_cpus(void **state)
{
	check_madt(8);
	check_madt(ACPI_MAX_CPUS); /* IDs 255 and up in x2APIC entries */
}

static void test_bad_config(void **state)
{
	struct acpi_config c = { .gpa = GPA, .ncpus = 0, .ioapic_addr = IOAPIC_BASE };

	assert_int_equal(acpi_build(mem, sizeof(mem), &c), 0);
	c.ncpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(mem, sizeof(mem), &c), 0);
	c.ncpus = 1;
	c.gpa = GPA + 8; /* the RSDP must be 16-byte aligned */
	assert_int_equal(acpi_build(mem, sizeof(mem), &c), 0);
	c.gpa = GPA;
	assert_int_equal(acpi_build(mem, 100, &c), 0); /* does not fit */
}

static struct pm pm;

static int pm_setup(void **state)
{
	bus_init(&bus);
	pm_init(&pm);
	return pm_register(&pm, &bus);
}

static void test_pm_s5_powers_off(void **state)
{
	assert_int_equal(bus_in(&bus, ACPI_PM1A_CNT, 2) & 1, 1); /* SCI_EN: already in ACPI mode */
	/* Linux's acpi_hw_legacy_sleep: the type first, then the type with SLP_EN. */
	bus_out(&bus, ACPI_PM1A_CNT, 2, 1 | ACPI_S5_SLP_TYP << 10);
	assert_false(pm.poweroff);
	bus_out(&bus, ACPI_PM1A_CNT, 2, 1 | ACPI_S5_SLP_TYP << 10 | 0x2000);
	assert_true(pm.poweroff);
	assert_int_equal(bus_in(&bus, ACPI_PM1A_CNT, 2) & 0x2000, 0); /* SLP_EN reads 0 */
}

static void test_pm_other_sleep_refused(void **state)
{
	bus_out(&bus, ACPI_PM1A_CNT, 2, 1 | ((ACPI_S5_SLP_TYP + 1) & 7) << 10 | 0x2000);
	assert_false(pm.poweroff);
	assert_int_equal(pm.sleep_refused, 1);
	/* The high byte alone, as a byte write, carries SLP_EN too. */
	bus_out(&bus, ACPI_PM1A_CNT + 1, 1, (ACPI_S5_SLP_TYP << 2) | 0x20);
	assert_true(pm.poweroff);
}

static void test_pm_status_write_one_to_clear(void **state)
{
	pm.sts = 0x8101;
	bus_out(&bus, ACPI_PM1A_EVT, 2, 0x0001);
	assert_int_equal(bus_in(&bus, ACPI_PM1A_EVT, 2), 0x8100);
	bus_out(&bus, ACPI_PM1A_EVT + 2, 2, 0x0120);
	assert_int_equal(bus_in(&bus, ACPI_PM1A_EVT + 2, 2), 0x0120);
	assert_int_equal(bus_in(&bus, ACPI_PM1A_EVT, 4), 0x01208100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp),
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_dsdt_s5),
		cmocka_unit_test(test_madt_one_cpu),
		cmocka_unit_test(test_madt_many_cpus),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test_setup(test_pm_s5_powers_off, pm_setup),
		cmocka_unit_test_setup(test_pm_other_sleep_refused, pm_setup),
		cmocka_unit_test_setup(test_pm_status_write_one_to_clear, pm_setup),
	};
	return cmocka_run_group_tests_name("vmm_acpi", tests, NULL, NULL);
}
