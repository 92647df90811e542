// SPDX-License-Identifier: MIT
/*
 * Host tests of kern/pmem.c: which RAM the boot memory map hands to the allocator. The buddy
 * allocator and the console are stand-ins that record their calls, so a memory map of any
 * size (terabytes) costs nothing. pmem.c keeps its state in statics that boot sets once, so
 * each scenario runs in a child process that reports through shared memory; the parent checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <arch/x86/memlayout.h>
#include <dyad/bootinfo.h>
#include <dyad/buddy.h>
#include <dyad/pmem.h>

#define GIB(n) ((u64)(n) << 30)
#define MIB(n) ((u64)(n) << 20)
#define MAX_ADDED 256

/* What the child saw, in memory shared with the parent. */
struct record {
	int status; /* 0 once the child ran to the end */
	u64 nframes; /* buddy_init's frame count */
	paddr_t meta; /* where the frame array went */
	unsigned nr_added;
	struct phys_range added[MAX_ADDED]; /* buddy_add_range calls */
	char console[1024];
	size_t console_len;
};

static struct record *rec;

/* Stand-in for the kernel image symbols: their "physical" addresses are wherever they land. */
char kernel_image_start[1], kernel_image_end[1];

/* ---- recording stand-ins -------------------------------------------------------------------- */

void buddy_init(struct buddy *b, struct buddy_frame *frames, u64 nframes, uintptr_t va_offset)
{
	rec->nframes = nframes;
	rec->meta = (uintptr_t)frames - va_offset;
}

void buddy_add_range(struct buddy *b, paddr_t start, paddr_t end)
{
	if (rec->nr_added < MAX_ADDED)
		rec->added[rec->nr_added] = (struct phys_range){ start, end };
	rec->nr_added++;
}

paddr_t buddy_alloc(struct buddy *b, unsigned order)
{
	return 0;
}

void buddy_free(struct buddy *b, paddr_t pa, unsigned order)
{
}

void buddy_free_part(struct buddy *b, paddr_t pa, unsigned order)
{
}

u64 buddy_free_frames(const struct buddy *b)
{
	return 0;
}

/* kern/pmem.c's printf: the link wraps it (tests/unit/pmem.mk). */
int __wrap_printf(const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(rec->console) - rec->console_len;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rec->console + rec->console_len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		rec->console_len += (size_t)n < room ? (size_t)n : room - 1;
	return n;
}

void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	_exit(3);
}

/* ---- running a boot ------------------------------------------------------------------------- */

/* Runs pmem_init (with the boot tables' 1 GiB reach) and pmem_init_rest on @bi in a child. */
static void boot(const struct boot_info *bi)
{
	int status;
	pid_t pid;

	memset(rec, 0, sizeof(*rec));
	rec->status = -1;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pmem_init(bi, GIB(1));
		pmem_init_rest(bi);
		rec->status = 0;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || rec->status != 0)
		fail_msg("pmem_init in the child did not finish (wait status %#x)", status);
	assert_true(rec->nr_added <= MAX_ADDED);
}

static u64 overlap(u64 a0, u64 a1, u64 b0, u64 b1)
{
	u64 lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;

	return hi > lo ? hi - lo : 0;
}

/*
 * The allocator got exactly the RAM below @limit that nothing reserves: every range added
 * lies in RAM below @limit and outside @reserved, no frame twice, and the total is RAM below
 * @limit minus the reserved bytes in it.
 */
static void expect_added_exactly(const struct boot_info *bi, u64 limit,
				 const struct phys_range *reserved, unsigned nr_reserved)
{
	u64 added = 0, want = 0;

	for (unsigned i = 0; i < rec->nr_added; i++) {
		const struct phys_range *a = &rec->added[i];
		u64 in_ram = 0;

		added += a->end - a->start;
		if (a->end > limit)
			fail_msg("range [%#llx, %#llx) given to the allocator ends above %#llx, "
				 "where the direct map stops",
				 (unsigned long long)a->start, (unsigned long long)a->end,
				 (unsigned long long)limit);
		for (unsigned r = 0; r < bi->nr_ram; r++)
			in_ram += overlap(a->start, a->end, bi->ram[r].start, bi->ram[r].end);
		assert_int_equal(in_ram, a->end - a->start);
		for (unsigned r = 0; r < nr_reserved; r++)
			if (overlap(a->start, a->end, reserved[r].start, reserved[r].end))
				fail_msg("range [%#llx, %#llx) overlaps reserved [%#llx, %#llx)",
					 (unsigned long long)a->start, (unsigned long long)a->end,
					 (unsigned long long)reserved[r].start,
					 (unsigned long long)reserved[r].end);
		for (unsigned j = 0; j < i; j++)
			assert_int_equal(overlap(a->start, a->end, rec->added[j].start,
						 rec->added[j].end),
					 0);
	}
	for (unsigned r = 0; r < bi->nr_ram; r++) {
		u64 end = bi->ram[r].end < limit ? bi->ram[r].end : limit;

		if (end <= bi->ram[r].start)
			continue;
		want += end - bi->ram[r].start;
		for (unsigned x = 0; x < nr_reserved; x++)
			want -= overlap(bi->ram[r].start, end, reserved[x].start, reserved[x].end);
	}
	if (added != want)
		fail_msg("expected %llu MiB given to the allocator, saw %llu MiB",
			 (unsigned long long)(want >> 20), (unsigned long long)(added >> 20));
}

/* The ranges pmem must keep from the allocator, given where it put the frame array. */
static unsigned reserved_of(const struct boot_info *bi, struct phys_range *out)
{
	unsigned n = 0;

	out[n++] = (struct phys_range){ 0, MIB(1) };
	out[n++] = (struct phys_range){ ALIGN_DOWN(KERNEL_IMAGE_PA(kernel_image_start), PAGE_SIZE),
					ALIGN_UP(KERNEL_IMAGE_PA(kernel_image_end), PAGE_SIZE) };
	for (unsigned i = 0; i < bi->nr_modules; i++)
		out[n++] = (struct phys_range){ ALIGN_DOWN(bi->modules[i].start, PAGE_SIZE),
						ALIGN_UP(bi->modules[i].end, PAGE_SIZE) };
	out[n++] = (struct phys_range){
		rec->meta,
		rec->meta + ALIGN_UP(rec->nframes * sizeof(struct buddy_frame), PAGE_SIZE)
	};
	return n;
}

/* ---- scenarios ------------------------------------------------------------------------------ */

static void add_module(struct boot_info *bi, paddr_t start, u64 len)
{
	bi->modules[bi->nr_modules++] = (struct boot_module){ .start = start, .end = start + len };
}

static void test_small_machine_gives_all_free_ram_and_prints_nothing(void **state)
{
	struct boot_info bi = { .nr_ram = 2 };
	struct phys_range reserved[8];

	bi.ram[0] = (struct phys_range){ 0x1000, 0x9f000 };
	bi.ram[1] = (struct phys_range){ MIB(1), GIB(3) };
	add_module(&bi, MIB(16), 100000);
	boot(&bi);
	assert_int_equal(rec->nframes, GIB(3) >> PAGE_SHIFT);
	expect_added_exactly(&bi, GIB(3), reserved, reserved_of(&bi, reserved));
	assert_int_equal(rec->console_len, 0);
}

/*
 * 600 GiB of RAM, 78 GiB of it above 512 GiB, where the direct map ends: the allocator is
 * told about mapped RAM only (its frame array too), and the console says what was left out.
 */
static void test_ram_above_the_direct_map_is_left_out_and_reported(void **state)
{
	struct boot_info bi = { .nr_ram = 4 };
	struct phys_range reserved[8];

	bi.ram[0] = (struct phys_range){ 0x1000, 0x9f000 };
	bi.ram[1] = (struct phys_range){ MIB(1), GIB(3) };
	bi.ram[2] = (struct phys_range){ GIB(4), GIB(520) };
	bi.ram[3] = (struct phys_range){ GIB(530), GIB(600) };
	add_module(&bi, MIB(16), 100000);
	boot(&bi);
	expect_added_exactly(&bi, PMEM_MAPPED_LIMIT, reserved, reserved_of(&bi, reserved));
	assert_int_equal(rec->nframes, PMEM_MAPPED_LIMIT >> PAGE_SHIFT);
	if (!strstr(rec->console, "79872 MiB") || !strstr(rec->console, "512 GiB"))
		fail_msg("expected the console to report 79872 MiB above 512 GiB left out, saw "
			 "\"%s\"",
			 rec->console);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_machine_gives_all_free_ram_and_prints_nothing),
		cmocka_unit_test(test_ram_above_the_direct_map_is_left_out_and_reported),
	};

	rec = mmap(NULL, sizeof(*rec), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rec == MAP_FAILED)
		return 1;
	return cmocka_run_group_tests_name("pmem", tests, NULL, NULL);
}
