// SPDX-License-Identifier: MIT
/*
 * fw_cfg through the port bus, as a guest drives it: select with a 16-bit write to 0x510, read
 * bytes from 0x511.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fw_cfg.h"
#include "vmm.h"

static struct fw_cfg dev;
static struct bus bus;

static int setup(void **state)
{
	bus_init(&bus);
	fw_cfg_init(&dev, 96ULL << 20, 1);
	return fw_cfg_register(&dev, &bus);
}

static void read_item(uint16_t key, uint8_t *buf, unsigned n)
{
	bus_out(&bus, FW_CFG_PORT_SEL, 2, key);
	for (unsigned i = 0; i < n; i++)
		buf[i] = (uint8_t)bus_in(&bus, FW_CFG_PORT_DATA, 1);
}

static void test_signature_at_reset_and_on_select(void **state)
{
	uint8_t b[5];

	/* Selected at reset, as in QEMU. */
	for (unsigned i = 0; i < 4; i++)
		b[i] = (uint8_t)bus_in(&bus, FW_CFG_PORT_DATA, 1);
	assert_memory_equal(b, "QEMU", 4);
	/* Selecting rewinds; past the end reads 0. */
	read_item(FW_CFG_SIGNATURE, b, 5);
	assert_memory_equal(b, "QEMU\0", 5);
}

static void test_ram_cpus_and_id(void **state)
{
	uint8_t b[8];
	uint64_t ram;
	uint16_t cpus;
	uint32_t id;

	read_item(FW_CFG_RAM_SIZE, b, 8);
	memcpy(&ram, b, 8); /* little-endian */
	assert_int_equal(ram, 96ULL << 20);
	read_item(FW_CFG_NB_CPUS, b, 2);
	memcpy(&cpus, b, 2);
	assert_int_equal(cpus, 1);
	read_item(FW_CFG_MAX_CPUS, b, 2);
	memcpy(&cpus, b, 2);
	assert_int_equal(cpus, 1);
	read_item(FW_CFG_ID, b, 4);
	memcpy(&id, b, 4);
	assert_int_equal(id, 1); /* no DMA interface */
	read_item(FW_CFG_FILE_DIR, b, 4);
	assert_memory_equal(b, "\0\0\0\0", 4);
}

static void test_unknown_key_reads_zero(void **state)
{
	uint8_t b[4];

	read_item(0x4242, b, 4);
	assert_memory_equal(b, "\0\0\0\0", 4);
	assert_int_equal(dev.unknown_keys, 1);
}

static void test_wide_reads_and_stray_writes(void **state)
{
	/* A 2-byte read takes two bytes, the first in the high place (QEMU's composition). */
	bus_out(&bus, FW_CFG_PORT_SEL, 2, FW_CFG_SIGNATURE);
	assert_int_equal(bus_in(&bus, FW_CFG_PORT_DATA, 2), ('Q' << 8) | 'E');
	/* A byte write to the selector or any write to the data port changes nothing. */
	bus_out(&bus, FW_CFG_PORT_SEL, 1, FW_CFG_RAM_SIZE);
	bus_out(&bus, FW_CFG_PORT_DATA, 1, 0x55);
	assert_int_equal(bus_in(&bus, FW_CFG_PORT_DATA, 1), 'M');
	/* The selector does not read back. */
	assert_int_equal(bus_in(&bus, FW_CFG_PORT_SEL, 2), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_signature_at_reset_and_on_select, setup),
		cmocka_unit_test_setup(test_ram_cpus_and_id, setup),
		cmocka_unit_test_setup(test_unknown_key_reads_zero, setup),
		cmocka_unit_test_setup(test_wide_reads_and_stray_writes, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
