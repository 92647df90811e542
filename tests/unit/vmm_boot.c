// SPDX-License-Identifier: MIT
/*
 * What the guest finds in memory at entry: the e820 map, boot_params, the initrd placement,
 * and the identity page tables and GDT of the 64-bit boot protocol (the ACPI tables have
 * their own test, vmm_acpi.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot.h"
#include "vmm.h"

#define RAM (256ULL << 20)

static struct image_info bzimage(void)
{
	struct image_info img = { .kind = IMAGE_BZIMAGE };

	img.hdr.boot_flag = 0xaa55;
	img.hdr.header = 0x53726448;
	img.hdr.version = 0x20f;
	img.hdr.loadflags = LOADED_HIGH | CAN_USE_HEAP;
	img.hdr.initrd_addr_max = 0x7fffffff;
	img.hdr.cmdline_size = 2047;
	img.hdr.kernel_alignment = 0x200000;
	img.lowest = 0x1000000;
	img.highest = 0x3000000;
	img.entry = 0x1000200;
	return img;
}

static void test_e820(void **state)
{
	struct boot_e820_entry e[8];
	unsigned n = boot_e820(e, 8, RAM);
	uint64_t usable_low = 0, usable_total = 0;

	assert_int_equal(n, 4);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			assert_true(e[i].addr >=
				    e[i - 1].addr + e[i - 1].size); /* sorted, disjoint */
		if (e[i].type == 1) {
			usable_total += e[i].size;
			if (e[i].addr < 0x9fc00)
				usable_low += MIN(e[i].addr + e[i].size, 0x9fc00) - e[i].addr;
		}
		assert_true(e[i].addr + e[i].size <= RAM);
	}
	/* Linux 6.1 needs RAM below 0x9fc00 for its real-mode trampoline. */
	assert_int_equal(usable_low, 0x9fc00);
	assert_int_equal(usable_total, 0x9fc00 + RAM - 0x100000);
	/* The EBDA is not RAM the kernel may take. */
	assert_int_equal(e[1].addr, BOOT_EBDA);
	assert_int_equal(e[1].type, 2);
	assert_int_equal(boot_e820(e, 2, RAM), 2);
}

/* 6 GiB: 3 GiB below the 32-bit hole, the other 3 GiB from 4 GiB up, the hole not RAM. */
static void test_e820_split_around_the_hole(void **state)
{
	struct boot_e820_entry e[8];
	unsigned n = boot_e820(e, 8, 6ULL << 30);

	assert_int_equal(n, 5);
	assert_int_equal(e[3].addr + e[3].size, BOOT_RAM_LOW_MAX);
	assert_int_equal(e[4].addr, GUEST_RAM_HIGH);
	assert_int_equal(e[4].size, 3ULL << 30);
	assert_int_equal(e[4].type, 1);
	/* Exactly the low limit: no entry above 4 GiB. */
	assert_int_equal(boot_e820(e, 8, BOOT_RAM_LOW_MAX), 4);
}

static void test_boot_params_bzimage(void **state)
{
	struct boot_params *bp = malloc(sizeof(*bp));
	struct image_info img = bzimage();

	assert_non_null(bp);
	memset(bp, 0xcc, sizeof(*bp));
	boot_params_build(bp, &img, RAM, 0x8000000, 0x123456);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.version, 0x20f);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.loadflags & (LOADED_HIGH | CAN_USE_HEAP | KEEP_SEGMENTS),
			 LOADED_HIGH);
	assert_int_equal(bp->hdr.cmd_line_ptr, BOOT_CMDLINE);
	assert_int_equal(bp->hdr.ramdisk_image, 0x8000000);
	assert_int_equal(bp->hdr.ramdisk_size, 0x123456);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->e820_entries, 4);
	assert_int_equal(bp->e820_table[3].addr + bp->e820_table[3].size, RAM);
	/* Everything else is zero, not left over. */
	assert_int_equal(bp->screen_info.orig_video_isVGA, 0);
	assert_int_equal(bp->acpi_rsdp_addr, 0);
	free(bp);
}

static void test_boot_params_elf(void **state)
{
	struct boot_params *bp = malloc(sizeof(*bp));
	struct image_info img = { .kind = IMAGE_ELF, .lowest = 0x1000000, .highest = 0x4000000 };

	assert_non_null(bp);
	boot_params_build(bp, &img, RAM, 0, 0);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_true(bp->hdr.version >= 0x20c);
	assert_int_equal(bp->hdr.cmd_line_ptr, BOOT_CMDLINE);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	free(bp);
}

static void test_initrd_placement(void **state)
{
	struct image_info img = bzimage();

	uint64_t a = boot_initrd_addr(&img, RAM, 0x200001);
	assert_int_equal(a & 0xfff, 0);
	assert_true(a + 0x200001 <= RAM);
	assert_true(a >= img.highest);
	assert_int_equal(a, (RAM - 0x200001) & ~0xfffULL);
	/* initrd_addr_max below the end of RAM wins. */
	img.hdr.initrd_addr_max = 0x5ffffff;
	a = boot_initrd_addr(&img, RAM, 0x1000);
	assert_int_equal(a, 0x5fff000);
	/* No room above the kernel. */
	assert_int_equal(boot_initrd_addr(&img, RAM, 0x5000000), 0);
	assert_int_equal(boot_initrd_addr(&img, RAM, 1ULL << 40), 0);
}

/* Linux's smp_scan_config: "_MP_", length 1, checksum over 16 bytes, revision 1 or 4. */
static void test_cpu_state(void **state)
{
	uint8_t *mem = calloc(1, BOOT_CMDLINE);
	struct dyad_sregs s;
	struct dyad_regs r;
	uint64_t v;

	assert_non_null(mem);
	/* RAM smaller than the boot area is refused, not written past. */
	struct guest_ram small = { mem, BOOT_STACK_TOP - 1, 0 };
	assert_int_equal(boot_cpu_state(&small, 0x1000200, &s, &r), -1);
	struct guest_ram ram = { mem, BOOT_CMDLINE, 0 };
	assert_int_equal(boot_cpu_state(&ram, 0x1000200, &s, &r), 0);
	assert_int_equal(r.rip, 0x1000200);
	assert_int_equal(r.rsi, BOOT_PARAMS);
	assert_int_equal(r.rflags & 0x200, 0); /* interrupts off */
	assert_int_equal(s.cr3, BOOT_PML4);
	assert_true(s.cr0 & 0x80000001);
	assert_true(s.cr4 & 0x20);
	assert_int_equal(s.efer & 0x500, 0x500);
	assert_int_equal(s.cs.selector, 0x10);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.db, 0);
	assert_int_equal(s.ds.selector, 0x18);
	assert_int_equal(s.gdt.base, BOOT_GDT);
	/* The GDT entries behind the selectors. */
	memcpy(&v, mem + BOOT_GDT + 0x10, 8);
	assert_true(v & (1ULL << 53)); /* L */
	assert_true(v & (1ULL << 47)); /* P */
	memcpy(&v, mem + BOOT_GDT + 0x18, 8);
	assert_int_equal((v >> 40) & 0x1f, 0x13); /* data, read/write, accessed */
	/* Walk the identity map for a few addresses below 4 GiB. */
	const uint64_t probes[] = { 0, 0x1000200, 0x9fc00, RAM - 1, 0xfee00000, 0xffffffff };
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t va = probes[i], e;
		memcpy(&e, mem + BOOT_PML4 + ((va >> 39) & 511) * 8, 8);
		assert_true(e & 1);
		memcpy(&e, mem + (e & ~0xfffULL) + ((va >> 30) & 511) * 8, 8);
		assert_true(e & 1);
		memcpy(&e, mem + (e & ~0xfffULL) + ((va >> 21) & 511) * 8, 8);
		assert_int_equal(e & 0x83, 0x83); /* present, writable, 2 MiB */
		assert_int_equal((e & ~0x1fffffULL & 0xfffffffffULL) | (va & 0x1fffff), va);
	}
	/* Nothing above the PDs: the stack page and boot_params stay untouched. */
	for (unsigned i = 0x7000; i < BOOT_CMDLINE; i++)
		assert_int_equal(mem[i], 0);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820),
		cmocka_unit_test(test_e820_split_around_the_hole),
		cmocka_unit_test(test_boot_params_bzimage),
		cmocka_unit_test(test_boot_params_elf),
		cmocka_unit_test(test_initrd_placement),
		cmocka_unit_test(test_cpu_state),
	};
	return cmocka_run_group_tests_name("vmm_boot", tests, NULL, NULL);
}
