// SPDX-License-Identifier: MIT
/*
 * Self-tests of the kernel half's rights: no kernel mapping of a data frame is executable, and
 * the image window maps the image alone, W^X per section.
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/trap.h>
#include <dyad/ktest.h>
#include <dyad/pmem.h>

#define RET 0xc3

static u8 ret_in_data = RET;
static const u8 ret_in_rodata = RET;

static void call_code(void *arg)
{
	((void (*)(void))arg)();
}

/* Calls the RET at @va; true if that faulted as an instruction fetch at @va. */
static bool exec_faults(u64 va)
{
	struct fault_info fi = { 0 };

	return trap_catch(call_code, (void *)va, &fi) && fi.vector == T_PF && (fi.error & PF_I) &&
	       fi.rip == va;
}

static void rewrite_byte(void *arg)
{
	volatile u8 *p = arg;

	*p = *p; /* the same value: harmless if the write wrongly goes through */
}

static void read_byte(void *arg)
{
	(void)*(volatile u8 *)arg;
}

KTEST(kernel_mappings_of_data_do_not_execute)
{
	paddr_t pa = pmem_alloc_zeroed(0);

	KT_ASSERT(kt, pa, "no frame");
	if (!cpu_features.nx) {
		pmem_free(pa, 0);
		KT_SKIP(kt, "this CPU has no NX");
	}
	*(u8 *)pmem_va(pa) = RET;
	KT_EXPECT(kt, exec_faults((u64)pmem_va(pa)), "a data frame ran through the direct map");
	/* The image window reaches the first GiB of physical memory if anything does. */
	if (pa < SZ_1G)
		KT_EXPECT(kt, exec_faults(KERNEL_VMA + pa),
			  "a data frame ran through the image window at %#llx", KERNEL_VMA + pa);
	KT_EXPECT(kt, exec_faults((u64)&ret_in_data), "the image's .data ran");
	KT_EXPECT(kt, exec_faults((u64)&ret_in_rodata), "the image's .rodata ran");
	KT_EXPECT(kt, exec_faults((u64)pmem_va(KERNEL_IMAGE_PA(&ret_in_data))),
		  ".data ran through the direct map");
	KT_EXPECT(kt, exec_faults((u64)pmem_va(KERNEL_IMAGE_PA(call_code))),
		  "kernel text ran through the direct map");
	pmem_free(pa, 0);
}

KTEST(image_window_is_the_image_alone_and_w_xor_x)
{
	extern char kernel_image_start[], kernel_image_end[];
	struct fault_info fi = { 0 };

	KT_EXPECT(kt,
		  trap_catch(rewrite_byte, (void *)call_code, &fi) && fi.vector == T_PF &&
			  (fi.error & (PF_P | PF_W)) == (PF_P | PF_W),
		  "kernel text is writable");
	KT_EXPECT(kt, trap_catch(rewrite_byte, (void *)&ret_in_rodata, &fi) && fi.vector == T_PF,
		  ".rodata is writable");
	KT_EXPECT(kt, !trap_catch(rewrite_byte, &ret_in_data, &fi), ".data is not writable");
	/* Physical memory around the image is not in the window: 0-2 MiB and past its end. */
	KT_EXPECT(kt, trap_catch(read_byte, (void *)KERNEL_VMA, &fi) && !(fi.error & PF_P),
		  "physical page 0 is mapped in the image window");
	KT_EXPECT(kt, trap_catch(read_byte, (void *)((u64)kernel_image_start - PAGE_SIZE), &fi),
		  "the page before the image is mapped");
	KT_EXPECT(kt, trap_catch(read_byte, kernel_image_end, &fi),
		  "the page after the image is mapped");
}
