// SPDX-License-Identifier: MIT
/*
 * mmap, munmap and mprotect at 4 KiB, 2 MiB and 1 GiB, with contents checked: fresh memory
 * reads as zero and keeps what is written, dyad_vm_query reports the page size, protection
 * and guest visibility the kernel chose, splitting a huge page keeps its contents, and a module
 * file maps with the bytes read() gives. Linux's huge-page flags never give guest visibility.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "utest.h"

#define SZ_2M (2UL << 20)
#define SZ_1G (1UL << 30)
#define BASE_1G 0x10000000000UL /* 1 TiB: 1 GiB-aligned and far from everything else */
#define BASE_2M (BASE_1G + SZ_1G) /* 2 MiB-aligned, but not 1 GiB-aligned at its end */
/* Frames a map/unmap cycle may keep for page tables that stay behind. */
#define TABLE_SLACK 16

/*
 * The protection vm_query reports for a mapping made with @prot: the page table's. A CPU
 * without NX (CPUID 0x80000001 EDX[20]) cannot deny execution, so there every readable page
 * is also PROT_EXEC.
 */
static unsigned seen_prot(unsigned prot)
{
	if (prot != PROT_NONE && !(cpuid_ext_edx() & CPUID_EXT_NX))
		return prot | PROT_EXEC;
	return prot;
}

static const char *self = "/bin/init";

static void *map(unsigned long addr, unsigned long len, int prot, int flags)
{
	return (void *)sys6(SYS_mmap, addr, len, prot, flags, -1, 0);
}

static int mapped(void *p)
{
	return (long)p > 0 || (long)p < -4095;
}

static unsigned long pattern(const volatile unsigned long *p)
{
	return (unsigned long)p * 0x9e3779b97f4a7c15UL;
}

/* Checks that [p, p + len) is zero, then fills it with a pattern, every @step bytes. */
static int zero_then_fill(void *p, unsigned long len, unsigned long step)
{
	int zero = 1;

	for (unsigned long off = 0; off < len; off += step) {
		volatile unsigned long *w = (volatile unsigned long *)((char *)p + off);

		zero &= *w == 0;
		*w = pattern(w);
	}
	return zero;
}

static int pattern_holds(void *p, unsigned long len, unsigned long step)
{
	for (unsigned long off = 0; off < len; off += step) {
		volatile unsigned long *w = (volatile unsigned long *)((char *)p + off);

		if (*w != pattern(w))
			return 0;
	}
	return 1;
}

static struct dyad_vm_info query(void *p)
{
	struct dyad_vm_info vi = { 0 };

	if (dyad_vm_query(p, &vi) < 0)
		memset(&vi, 0, sizeof(vi));
	return vi;
}

static unsigned long free_frames(void)
{
	struct dyad_stats st = { 0 };

	dyad_stats(&st);
	return st.free_frames;
}

static void small_pages(void)
{
	unsigned long len = 16 * 4096;
	char *p = map(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);

	if (!ut_ok(mapped(p), "anonymous 64 KiB mmap (%p)", p))
		return;
	ut_eq(query(p).page_size, 0, "vm_query: a page not yet touched is not mapped");
	ut_ok(zero_then_fill(p, len, 8), "4K: fresh memory reads as zero");
	ut_ok(pattern_holds(p, len, 8), "4K: a pattern over the whole mapping reads back");
	struct dyad_vm_info vi = query(p + 4096);
	ut_eq(vi.page_size, 4096, "vm_query: 4 KiB page");
	ut_eq(vi.prot, seen_prot(PROT_READ | PROT_WRITE), "vm_query: prot read+write");
	ut_eq(vi.guest_visible, 0, "vm_query: not guest-visible by default");
	ut_ok(vi.pa && vi.pa % 4096 == 0, "vm_query: a physical address (%#lx)", vi.pa);

	ut_eq(sys3(SYS_mprotect, p + 4096, 4096, PROT_READ), 0, "mprotect one page read-only");
	ut_eq(query(p + 4096).prot, seen_prot(PROT_READ), "vm_query: that page is read-only");
	ut_eq(query(p).prot, seen_prot(PROT_READ | PROT_WRITE),
	      "vm_query: its neighbour is still writable");
	ut_ok(pattern_holds(p, len, 8), "contents survive mprotect");

	ut_eq(sys2(SYS_munmap, p, len), 0, "munmap");
	ut_eq(query(p).page_size, 0, "vm_query: nothing mapped after munmap");

	char *g;

	/* Linux's huge-page flags never mean guest visibility (they once overlapped Dyad's). */
	g = map(0, SZ_2M, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB);
	if (mapped(g))
		g[0] = 1;
	ut_ok(mapped(g) && !query(g).guest_visible, "MAP_HUGE_2MB memory is private");
	sys2(SYS_munmap, g, SZ_2M);
	g = map(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | DYAD_MAP_GUEST);
	if (ut_ok(mapped(g), "DYAD_MAP_GUEST mmap")) {
		g[0] = 1;
		ut_eq(query(g).guest_visible, 1,
		      "vm_query: DYAD_MAP_GUEST memory is guest-visible");
		sys2(SYS_munmap, g, 8192);
	}
}

static void fixed_replaces(void)
{
	unsigned char *p = map(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	int ok = 1;

	if (!ut_ok(mapped(p), "mmap 4 pages"))
		return;
	memset(p, 0xaa, 4 * 4096);
	void *q = map((unsigned long)p + 4096, 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	ut_ok(q == p + 4096, "MAP_FIXED over an existing mapping lands at its address");
	for (int i = 0; i < 4 * 4096; i++)
		ok &= p[i] == (i / 4096 == 1 ? 0 : 0xaa);
	ut_ok(ok, "MAP_FIXED replaced that page with zeros and left its neighbours");
	sys2(SYS_munmap, p, 4 * 4096);
}

static void two_megabyte_pages(void)
{
	unsigned long len = 2 * SZ_2M;
	char *p = map(BASE_2M, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | DYAD_MAP_HUGE | DYAD_MAP_GUEST);

	if (!ut_ok(p == (char *)BASE_2M, "2M: MAP_FIXED huge mmap of 4 MiB (%p)", p))
		return;
	ut_ok(zero_then_fill(p, len, 8), "2M: fresh memory reads as zero");
	ut_ok(pattern_holds(p, len, 8), "2M: a pattern over the whole mapping reads back");
	struct dyad_vm_info vi = query(p + 12345);
	ut_eq(vi.page_size, SZ_2M, "vm_query: 2 MiB page");
	ut_ok(vi.pa && vi.pa % SZ_2M == 12345 % SZ_2M,
	      "vm_query: physical address inside a 2 MiB block (%#lx)", vi.pa);
	ut_eq(vi.guest_visible, 1, "vm_query: DYAD_MAP_GUEST huge memory is guest-visible");

	/* Unmapping 4 KiB from the middle splits the first huge page into small ones. */
	char *hole = p + SZ_2M / 2;
	ut_eq(sys2(SYS_munmap, hole, 4096), 0, "munmap 4 KiB inside a 2 MiB page");
	ut_eq(query(hole).page_size, 0, "vm_query: the hole is not mapped");
	ut_eq(query(p).page_size, 4096, "vm_query: the rest of that 2 MiB is now 4 KiB pages");
	ut_eq(query(p + SZ_2M).page_size, SZ_2M, "vm_query: the next 2 MiB page is untouched");
	ut_ok(pattern_holds(p, hole - p, 8) &&
		      pattern_holds(hole + 4096, len - (hole + 4096 - p), 8),
	      "the split kept every byte around the hole");

	ut_eq(sys3(SYS_mprotect, p + SZ_2M, SZ_2M, PROT_READ), 0,
	      "mprotect a 2 MiB page read-only");
	vi = query(p + SZ_2M);
	ut_eq(vi.prot, seen_prot(PROT_READ), "vm_query: prot read-only");
	ut_eq(vi.page_size, SZ_2M, "vm_query: still a 2 MiB page");
	ut_ok(pattern_holds(p + SZ_2M, SZ_2M, 8), "contents survive mprotect");
	ut_eq(sys2(SYS_munmap, p, len), 0, "munmap the rest");
	ut_eq(query(p + SZ_2M).page_size, 0, "vm_query: nothing mapped after munmap");

	/* Without a hint, the kernel places and backs a huge mapping as it sees fit. */
	char *q = map(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | DYAD_MAP_HUGE);
	if (ut_ok(mapped(q), "huge mmap without a hint (%p)", q)) {
		ut_ok(zero_then_fill(q, len, 64), "huge without a hint: zero, then written");
		ut_ok(pattern_holds(q, len, 64), "huge without a hint: reads back");
		printf("# huge mmap without a hint: %p, page size %lu\n", q, query(q).page_size);
		sys2(SYS_munmap, q, len);
	}
}

static void one_gigabyte_page(void)
{
	unsigned long before = free_frames();
	char *p = map(BASE_1G, SZ_1G, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | DYAD_MAP_HUGE);

	if (!ut_ok(p == (char *)BASE_1G, "1G: MAP_FIXED huge mmap of 1 GiB (%p)", p))
		return;
	ut_ok(zero_then_fill(p, SZ_1G, SZ_2M) && zero_then_fill(p + 4096, SZ_1G - 4096, SZ_2M),
	      "1G: fresh memory reads as zero (sampled every 2 MiB)");
	ut_ok(pattern_holds(p, SZ_1G, SZ_2M) && pattern_holds(p + 4096, SZ_1G - 4096, SZ_2M),
	      "1G: a pattern at every 2 MiB reads back");
	/* A CPU without 1 GiB pages (CPUID 0x80000001 EDX[26]) gets 2 MiB pages instead. */
	unsigned long page = cpuid_ext_edx() & CPUID_EXT_1G_PAGES ? SZ_1G : SZ_2M;
	struct dyad_vm_info vi = query(p + SZ_1G - 8);
	ut_eq(vi.page_size, page, "vm_query: %s page", page == SZ_1G ? "1 GiB" : "2 MiB");
	ut_ok(vi.pa && vi.pa % page == page - 8, "vm_query: physical address ends its page");
	ut_eq(vi.guest_visible, 0, "vm_query: huge memory without DYAD_MAP_GUEST is private");
	ut_eq(sys2(SYS_munmap, p, SZ_1G), 0, "munmap 1 GiB");
	ut_eq(query(p).page_size, 0, "vm_query: nothing mapped after munmap");
	unsigned long after = free_frames();
	ut_ok(after + TABLE_SLACK >= before, "the 1 GiB went back (free frames %lu -> %lu)",
	      before, after);
}

static void module_file_maps(void)
{
	struct stat st;
	long fd = sys3(SYS_open, self, O_RDONLY, 0);

	if (!ut_ok(fd >= 0, "open %s", self) || sys2(SYS_fstat, fd, &st) < 0)
		return;
	unsigned long size = st.st_size;
	char *copy = malloc(size);
	ut_eq(sys3(SYS_read, fd, copy, size), size, "read the whole file");

	char *m = (char *)sys6(SYS_mmap, 0, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (ut_ok(mapped(m), "mmap the file read-only (%p)", m)) {
		ut_ok(memcmp(m, copy, size) == 0, "the mapping shows the bytes read() gives");
		unsigned long tail = -size & 4095;
		int zero = 1;
		for (unsigned long i = 0; i < tail; i++)
			zero &= m[size + i] == 0;
		ut_ok(zero, "the last page is zero past the end of the file");
		ut_eq(query(m).prot, seen_prot(PROT_READ),
		      "vm_query: the file mapping is read-only");
		sys2(SYS_munmap, m, size);
	}
	if (size > 8192) {
		m = (char *)sys6(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
		ut_ok(mapped(m) && memcmp(m, copy + 4096, 4096) == 0,
		      "mmap at file offset 4096 shows those bytes");
		sys2(SYS_munmap, m, 4096);
	}
	m = (char *)sys6(SYS_mmap, 0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (ut_ok(mapped(m), "mmap the file private and writable")) {
		m[0] = 'X';
		char b;
		sys3(SYS_lseek, fd, 0, SEEK_SET);
		sys3(SYS_read, fd, &b, 1);
		ut_ok(m[0] == 'X' && b == 0x7f, "a private write does not reach the file");
		sys2(SYS_munmap, m, size);
	}
	ut_eq(sys6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), -EACCES,
	      "a shared writable mapping of a read-only file is EACCES");
	ut_eq(sys6(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 123), -EINVAL,
	      "an unaligned file offset is EINVAL");
	free(copy);
	sys1(SYS_close, fd);
}

/*
 * PROT_NONE keeps the frames (a later mprotect shows the same bytes), yet the kernel's copies
 * must refuse such a page as a user access would: -EFAULT, and nothing read into it.
 */
static void prot_none_refuses_copies(void)
{
	unsigned long len = 2 * 4096;
	char *p = map(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	int fd;

	if (!ut_ok(mapped(p), "mmap for PROT_NONE copies"))
		return;
	strcpy(p + 4096, self); /* a path that opens while the page is accessible */
	fd = (int)sys4(SYS_openat, AT_FDCWD, p + 4096, O_RDONLY, 0);
	ut_ok(fd >= 0, "openat with the path in an accessible page (%d)", fd);
	if (fd >= 0)
		sys1(SYS_close, fd);
	memset(p, 0, len);
	ut_ok(zero_then_fill(p, len, 8), "PROT_NONE copies: pages filled");
	strcpy(p + 4096, self);
	ut_eq(sys3(SYS_mprotect, p + 4096, 4096, PROT_NONE), 0, "mprotect one page PROT_NONE");
	ut_eq(sys3(SYS_write, 1, p + 4096, 16), -EFAULT, "write() from a PROT_NONE page: EFAULT");
	ut_eq(sys3(SYS_write, 1, p + 4096 - 8, 16), -EFAULT,
	      "write() across into a PROT_NONE page: EFAULT");
	fd = (int)sys4(SYS_openat, AT_FDCWD, self, O_RDONLY, 0);
	if (ut_ok(fd >= 0, "open %s", self)) {
		ut_eq(sys3(SYS_read, fd, p + 4096, 64), -EFAULT,
		      "read() into a PROT_NONE page: EFAULT");
		sys1(SYS_close, fd);
	}
	ut_eq(sys4(SYS_openat, AT_FDCWD, p + 4096, O_RDONLY, 0), -EFAULT,
	      "openat with the path in a PROT_NONE page: EFAULT");
	ut_eq(sys3(SYS_mprotect, p + 4096, 4096, PROT_READ | PROT_WRITE), 0, "mprotect back");
	ut_ok(!strcmp(p + 4096, self), "the path is still there after mprotect back");
	ut_ok(pattern_holds(p, 4096, 8) && pattern_holds(p + 4096 + 64, 4096 - 64, 8),
	      "PROT_NONE copies: contents unchanged, nothing was read into the page");
	sys2(SYS_munmap, p, len);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		self = argv[1];
	ut_begin("mmap");
	small_pages();
	fixed_replaces();
	two_megabyte_pages();
	one_gigabyte_page();
	module_file_maps();
	prot_none_refuses_copies();
	return ut_end("mmap");
}
