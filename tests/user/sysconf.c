// SPDX-License-Identifier: MIT
/*
 * System-call conformance for the Linux subset Dyad implements: results and errors as Linux
 * gives them, including bad pointers, bad lengths and unknown numbers. Calls go through raw
 * syscall instructions so that the kernel sees exactly the bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

#include "utest.h"

#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003

#define KERNEL_ADDR 0xffffffff80000000UL /* the kernel image */
#define NONCANONICAL 0x0000800000000000UL /* first address past the lower half */
#define UNMAPPED 0x00005a5a00000000UL /* nothing maps it */

static const char *self = "/bin/init"; /* a module that is always there; argv[1] overrides */

static long ns_of(const struct timespec *t)
{
	return t->tv_sec * 1000000000L + t->tv_nsec;
}

static void write_and_read_console(void)
{
	static const char msg[] = "# write to fd 1\n";
	struct iovec iov[2] = { { "# writev ", 9 }, { "to fd 1\n", 8 } };
	char c;

	ut_eq(sys3(SYS_write, 1, msg, sizeof(msg) - 1), sizeof(msg) - 1,
	      "write returns its length");
	ut_eq(sys3(SYS_writev, 1, iov, 2), 17, "writev returns the sum of its lengths");
	ut_eq(sys3(SYS_write, 1, msg, 0), 0, "write of 0 bytes returns 0");
	ut_eq(sys3(SYS_read, 0, &c, 0), 0, "read of 0 bytes from fd 0 returns 0");
}

static void module_file_reads_seeks_and_closes(void)
{
	char buf[8];
	struct stat st;
	long fd = sys3(SYS_open, self, O_RDONLY, 0);

	if (!ut_ok(fd >= 3, "open(%s) gives a descriptor above stdio (%ld)", self, fd))
		return;
	ut_eq(sys3(SYS_read, fd, buf, 4), 4, "read 4 bytes");
	ut_ok(memcmp(buf, "\177ELF", 4) == 0, "the module starts with the ELF magic");
	ut_eq(sys3(SYS_lseek, fd, 0, SEEK_CUR), 4, "lseek SEEK_CUR reports the position");
	ut_eq(sys2(SYS_fstat, fd, &st), 0, "fstat succeeds");
	ut_ok(st.st_size > 64, "fstat gives a plausible size (%ld)", (long)st.st_size);
	ut_ok(S_ISREG(st.st_mode), "fstat says a regular file");
	ut_eq(sys3(SYS_lseek, fd, 0, SEEK_END), st.st_size, "lseek SEEK_END is the fstat size");
	ut_eq(sys3(SYS_read, fd, buf, 4), 0, "read at the end returns 0");
	ut_eq(sys3(SYS_lseek, fd, 1, SEEK_SET), 1, "lseek SEEK_SET");
	ut_eq(sys3(SYS_read, fd, buf, 3), 3, "read after lseek");
	ut_ok(memcmp(buf, "ELF", 3) == 0, "read after lseek gives the bytes at the new offset");
	ut_eq(sys3(SYS_lseek, fd, -2, SEEK_CUR), 2, "lseek SEEK_CUR backwards");
	ut_eq(sys3(SYS_lseek, fd, -1, SEEK_SET), -EINVAL, "lseek to a negative offset is EINVAL");
	ut_eq(sys3(SYS_lseek, fd, 0, 99), -EINVAL, "lseek with an unknown whence is EINVAL");
	ut_eq(sys3(SYS_write, fd, "x", 1), -EBADF, "write to a read-only file is EBADF");
	ut_eq(sys1(SYS_close, fd), 0, "close");
	ut_eq(sys1(SYS_close, fd), -EBADF, "second close is EBADF");
	ut_eq(sys3(SYS_read, fd, buf, 1), -EBADF, "read from a closed descriptor is EBADF");

	fd = sys4(SYS_openat, AT_FDCWD, self, O_RDONLY, 0);
	ut_ok(fd >= 3, "openat(AT_FDCWD, %s) (%ld)", self, fd);
	sys1(SYS_close, fd);
	ut_eq(sys3(SYS_open, "/bin/no-such-file", O_RDONLY, 0), -ENOENT, "open of a missing path");
	ut_eq(sys3(SYS_read, 99, buf, 1), -EBADF, "read from fd 99 is EBADF");
	ut_eq(sys1(SYS_close, -1), -EBADF, "close(-1) is EBADF");
}

/*
 * The wall clock comes from the real-time clock: not before the year this program was compiled
 * (a clock counting from boot says 1970). The date line lets tools/boot-test.sh compare the
 * year with the host's, which the emulators' RTC follows.
 */
static void wall_clock_is_now(const struct timespec *t)
{
	time_t secs = t->tv_sec;
	struct tm tm;
	int built = atoi(__DATE__ + 7);

	gmtime_r(&secs, &tm);
	printf("# wall clock: %04d-%02d-%02d %02d:%02d:%02d\n", tm.tm_year + 1900, tm.tm_mon + 1,
	       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	ut_ok(tm.tm_year + 1900 >= built && tm.tm_year + 1900 < built + 100,
	      "the wall clock's year %d is not before this build (%d)", tm.tm_year + 1900, built);
}

static void time_advances(void)
{
	struct timespec a, b, c, d = { 0, 10 * 1000 * 1000 };

	ut_eq(sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &a), 0, "clock_gettime(MONOTONIC)");
	for (int i = 0; i < 1000000; i++) {
		sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &b);
		if (ns_of(&b) > ns_of(&a))
			break;
	}
	ut_ok(ns_of(&b) > ns_of(&a), "the monotonic clock increases (%ld -> %ld ns)", ns_of(&a),
	      ns_of(&b));
	ut_eq(sys2(SYS_nanosleep, &d, NULL), 0, "nanosleep 10 ms");
	sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &c);
	ut_ok(ns_of(&c) - ns_of(&b) >= 10000000, "nanosleep 10 ms lasts at least 10 ms (%ld ns)",
	      ns_of(&c) - ns_of(&b));
	ut_eq(sys2(SYS_clock_gettime, CLOCK_REALTIME, &a), 0, "clock_gettime(REALTIME)");
	wall_clock_is_now(&a);
	d.tv_nsec = 1000000000;
	ut_eq(sys2(SYS_nanosleep, &d, NULL), -EINVAL, "nanosleep with tv_nsec 1e9 is EINVAL");
}

static void process_identity(void)
{
	struct utsname u;
	int tid_word;

	ut_ok(sys0(SYS_getpid) > 0, "getpid is positive");
	ut_eq(sys1(SYS_uname, &u), 0, "uname");
	ut_ok(strcmp(u.sysname, "Dyad") == 0, "uname sysname is Dyad (\"%s\")", u.sysname);
	ut_ok(strcmp(u.machine, "x86_64") == 0, "uname machine is x86_64 (\"%s\")", u.machine);
	ut_ok(sys1(SYS_set_tid_address, &tid_word) > 0, "set_tid_address returns a tid");
}

/*
 * The console is a terminal of 24 rows and 80 columns (kern/syscall.c): musl line-buffers
 * stdout only when TIOCGWINSZ succeeds. A module file is never a terminal.
 */
static void ioctl_is_enotty_where_unsupported(void)
{
	struct winsize ws;
	long fd = sys3(SYS_open, self, O_RDONLY, 0);

	memset(&ws, 0xa5, sizeof(ws)); /* every field must be written, the pixel sizes too */
	ut_eq(sys3(SYS_ioctl, 1, TIOCGWINSZ, &ws), 0, "ioctl(TIOCGWINSZ) on fd 1 succeeds");
	ut_eq(ws.ws_row, 24, "the console has 24 rows");
	ut_eq(ws.ws_col, 80, "the console has 80 columns");
	ut_ok(ws.ws_xpixel == 0 && ws.ws_ypixel == 0, "the console gives no pixel size (%u x %u)",
	      ws.ws_xpixel, ws.ws_ypixel);
	ut_eq(sys3(SYS_ioctl, 1, TIOCGWINSZ, KERNEL_ADDR), -EFAULT,
	      "ioctl(TIOCGWINSZ) into the kernel is EFAULT");
	ut_eq(sys3(SYS_ioctl, 1, 0x7fab, &ws), -ENOTTY, "an unknown ioctl on fd 1 is ENOTTY");
	ut_eq(sys3(SYS_ioctl, fd, TIOCGWINSZ, &ws), -ENOTTY,
	      "ioctl(TIOCGWINSZ) on a module file is ENOTTY");
	ut_eq(sys3(SYS_ioctl, 99, TIOCGWINSZ, &ws), -EBADF, "ioctl on fd 99 is EBADF");
	sys1(SYS_close, fd);
}

static void brk_grows_and_shrinks(void)
{
	long cur = sys1(SYS_brk, 0);
	long want = cur + 64 * 1024;

	ut_ok(cur > 0, "brk(0) gives the current break (%#lx)", cur);
	if (!ut_eq(sys1(SYS_brk, want), want, "brk grows by 64 KiB"))
		return;
	memset((void *)cur, 0x5a, want - cur);
	ut_ok(((volatile char *)cur)[want - cur - 1] == 0x5a, "the grown heap is writable");
	ut_eq(sys1(SYS_brk, cur), cur, "brk shrinks back");
	ut_eq(sys1(SYS_brk, want), want, "brk grows again");
	ut_ok(((volatile char *)cur)[0] == 0, "memory given back and regrown reads as zero");
	sys1(SYS_brk, cur);
}

/* FS holds musl's thread pointer: between set and restore, only raw system calls run. */
static void fs_base_is_set_and_read(void)
{
	unsigned long old = 0, seen = 0, probe = 0x12345000;
	long r_get = sys2(SYS_arch_prctl, ARCH_GET_FS, &old);
	long r_set = sys2(SYS_arch_prctl, ARCH_SET_FS, probe);
	sys2(SYS_arch_prctl, ARCH_GET_FS, &seen);
	long r_back = sys2(SYS_arch_prctl, ARCH_SET_FS, old);

	ut_eq(r_get, 0, "arch_prctl(ARCH_GET_FS)");
	ut_ok(old != 0, "musl has set a thread pointer (%#lx)", old);
	ut_eq(r_set, 0, "arch_prctl(ARCH_SET_FS)");
	ut_eq(seen, probe, "ARCH_GET_FS reads back what ARCH_SET_FS wrote");
	ut_eq(r_back, 0, "arch_prctl restores the thread pointer");
	ut_eq(sys2(SYS_arch_prctl, 0x9999, 0), -EINVAL, "arch_prctl with an unknown code");
}

static void unknown_numbers_are_enosys(void)
{
	ut_eq(sys0(999), -ENOSYS, "system call 999 is ENOSYS");
	ut_eq(sys0(DYAD_SYS_BASE + 999), -ENOSYS, "system call DYAD_SYS_BASE+999 is ENOSYS");
	ut_eq(sys0(-1L), -ENOSYS, "system call -1 is ENOSYS");
	ut_eq(sys0(0x7fffffffffffffffL), -ENOSYS, "system call 2^63-1 is ENOSYS");
}

static void bad_pointers_are_efault(void)
{
	long fd = sys3(SYS_open, self, O_RDONLY, 0);
	struct iovec bad_iov = { (void *)0x1, 10 };

	ut_eq(sys3(SYS_write, 1, 0x1, 10), -EFAULT, "write from address 1 is EFAULT");
	ut_eq(sys3(SYS_write, 1, 0xffff800000000000UL, 10), -EFAULT,
	      "write from a kernel address is EFAULT");
	ut_eq(sys3(SYS_write, 1, NONCANONICAL, 10), -EFAULT,
	      "write from a non-canonical address is EFAULT");
	ut_eq(sys3(SYS_write, 1, UNMAPPED, 10), -EFAULT,
	      "write from an unmapped address is EFAULT");
	ut_eq(sys3(SYS_write, 1, NONCANONICAL - 5, 10), -EFAULT,
	      "write from a buffer that crosses into the kernel half is EFAULT");
	ut_eq(sys3(SYS_writev, 1, &bad_iov, 1), -EFAULT, "writev of a bad buffer is EFAULT");
	ut_eq(sys3(SYS_writev, 1, KERNEL_ADDR, 1), -EFAULT, "writev of a bad iovec is EFAULT");
	ut_eq(sys3(SYS_read, fd, KERNEL_ADDR, 4), -EFAULT, "read into the kernel is EFAULT");
	ut_eq(sys3(SYS_read, fd, 0, 4), -EFAULT, "read into NULL is EFAULT");
	ut_eq(sys3(SYS_open, NULL, O_RDONLY, 0), -EFAULT, "open of a NULL path is EFAULT");
	ut_eq(sys3(SYS_open, UNMAPPED, O_RDONLY, 0), -EFAULT, "open of an unmapped path is EFAULT");
	ut_eq(sys3(SYS_open, KERNEL_ADDR, O_RDONLY, 0), -EFAULT, "open of a kernel path is EFAULT");
	ut_eq(sys2(SYS_clock_gettime, CLOCK_MONOTONIC, 0x1), -EFAULT,
	      "clock_gettime into address 1 is EFAULT");
	ut_eq(sys2(SYS_clock_gettime, CLOCK_MONOTONIC, KERNEL_ADDR), -EFAULT,
	      "clock_gettime into the kernel is EFAULT");
	ut_eq(sys2(SYS_fstat, fd, KERNEL_ADDR), -EFAULT, "fstat into the kernel is EFAULT");
	ut_eq(sys1(SYS_uname, 0), -EFAULT, "uname into NULL is EFAULT");
	ut_eq(sys2(SYS_nanosleep, KERNEL_ADDR, 0), -EFAULT, "nanosleep from the kernel is EFAULT");
	ut_eq(sys2(SYS_arch_prctl, ARCH_GET_FS, KERNEL_ADDR), -EFAULT,
	      "ARCH_GET_FS into the kernel is EFAULT");
	ut_eq(sys2(SYS_arch_prctl, ARCH_SET_FS, 0xffff800000000000UL), -EPERM,
	      "ARCH_SET_FS to a kernel address is EPERM");
	sys1(SYS_close, fd);
}

/* The kernel fills a fresh, never touched page by demand paging while it copies. */
static void copies_fault_in_fresh_pages(void)
{
	long fd = sys3(SYS_open, self, O_RDONLY, 0);
	char *p = (char *)sys6(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (!ut_ok((long)p > 0, "mmap a scratch area"))
		return;
	ut_eq(sys3(SYS_read, fd, p + 4092, 8), 8, "read into a page never touched, across pages");
	ut_ok(memcmp(p + 4092, "\177ELF", 4) == 0, "the bytes arrived");
	ut_eq(sys3(SYS_write, 1, p + 4096 + 100, 0), 0, "write of 0 bytes from a fresh page");
	sys2(SYS_munmap, p, 8192);
	ut_eq(sys3(SYS_read, fd, p, 4), -EFAULT, "read into an unmapped area is EFAULT");
	sys1(SYS_close, fd);
}

static void bad_lengths_are_einval(void)
{
	struct iovec iov = { "x", 1 };

	ut_eq(sys3(SYS_writev, 1, &iov, -1), -EINVAL, "writev with iovcnt -1 is EINVAL");
	ut_eq(sys3(SYS_writev, 1, &iov, 1025), -EINVAL, "writev with iovcnt 1025 is EINVAL");
	ut_eq(sys6(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -EINVAL,
	      "mmap of length 0 is EINVAL");
	ut_eq(sys6(SYS_mmap, 0x10000123, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		   -1, 0),
	      -EINVAL, "MAP_FIXED at an unaligned address is EINVAL");
	ut_eq(sys6(SYS_mmap, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0), -EINVAL,
	      "mmap without MAP_PRIVATE or MAP_SHARED is EINVAL");
	ut_eq(sys6(SYS_mmap, 0, -4096L, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -ENOMEM,
	      "mmap of nearly 2^64 bytes is ENOMEM");
	ut_eq(sys2(SYS_munmap, 0x10000123, 4096), -EINVAL, "munmap at an unaligned address");
	ut_eq(sys6(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, 99, 0), -EBADF,
	      "mmap of a bad descriptor is EBADF");
}

int main(int argc, char **argv)
{
	if (argc > 1)
		self = argv[1];
	ut_begin("sysconf");
	write_and_read_console();
	module_file_reads_seeks_and_closes();
	time_advances();
	process_identity();
	ioctl_is_enotty_where_unsupported();
	brk_grows_and_shrinks();
	fs_base_is_set_and_read();
	unknown_numbers_are_enosys();
	bad_pointers_are_efault();
	copies_fault_in_fresh_pages();
	bad_lengths_are_einval();
	return ut_end("sysconf");
}
