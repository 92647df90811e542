// SPDX-License-Identifier: MIT
/*
 * The block device /dev/vda (include/dyad/blk.h has the rules): random-offset, random-size
 * writes read back and checked against a copy of the whole disk kept here (so a write that
 * lands where it was not asked shows too), the last sector and past it, misaligned requests,
 * bad buffers, access modes, the ioctls, one holder at a time (a second opener, a child, a
 * child that dies holding it), and four threads at once where the kernel has threads.
 *
 * The disk is scratch: everything on it is overwritten. Without a disk (QEMU started without
 * DISK=) every check is a skip.
 *
 *   /bin/blk [SEED]                    the tests (SEED: the random run to replay)
 *   /bin/blk persist-write SEED        boot 1: a pattern and its checksum
 * (tests/tools/test_blk_persist.sh) /bin/blk persist-check SEED        boot 2: the same pattern
 * must be there /bin/blk child-busy | child-hold   children of the holder tests
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "utest.h"

/* Linux's block ioctls (<linux/fs.h>, which musl does not ship). */
#define BLKGETSIZE 0x1260
#define BLKSSZGET 0x1268
#define BLKGETSIZE64 0x80081272
#ifndef CLONE_THREAD
#define CLONE_THREAD 0x10000
#endif

#define DISK "/dev/vda"
#define SECTOR 512
#define ROUNDS 200
#define MAX_SECTORS 300 /* a request of up to 150 KiB: more than one kernel buffer's worth */
#define BIG_LEN ((3l << 20) + 7 * SECTOR) /* several rounds of the kernel's 1 MiB buffer */
#define THREADS 4
#define THREAD_ROUNDS 50

static uint64_t rng;

static uint64_t next(void)
{
	/* xorshift64*: a replayable stream from the printed seed */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static long disk_open(int flags)
{
	return sys4(SYS_openat, AT_FDCWD, DISK, flags, 0);
}

static long pread_(long fd, void *buf, long len, long off)
{
	return sys4(SYS_pread64, fd, buf, len, off);
}

static long pwrite_(long fd, const void *buf, long len, long off)
{
	return sys4(SYS_pwrite64, fd, buf, len, off);
}

/* Fills @len bytes with a pattern that names @seed and each byte's disk offset. */
static void pattern(uint8_t *p, long len, long off, uint64_t seed)
{
	for (long i = 0; i < len; i++) {
		uint64_t x = (uint64_t)(off + i) * 0x9e3779b97f4a7c15ull ^ seed;
		p[i] = (uint8_t)(x >> 29);
	}
}

static uint64_t fnv(const uint8_t *p, long len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (long i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void *map(long len)
{
	void *p =
		mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Reads the whole disk into @buf in 1 MiB calls; returns 0 or the first bad result. */
static long read_all(long fd, uint8_t *buf, long size)
{
	for (long off = 0; off < size;) {
		long n = size - off < (1 << 20) ? size - off : (1 << 20);
		long r = pread_(fd, buf + off, n, off);
		if (r != n)
			return r < 0 ? r : -1;
		off += n;
	}
	return 0;
}

static void random_rounds(long fd, uint8_t *shadow, long size, uint8_t *buf, uint8_t *back)
{
	long bad = 0, sectors = size / SECTOR;

	for (int i = 0; i < ROUNDS && !bad; i++) {
		long n = 1 + (long)(next() % MAX_SECTORS);
		if (n > sectors)
			n = sectors;
		long off = (long)(next() % (uint64_t)(sectors - n + 1)) * SECTOR;
		long len = n * SECTOR;
		pattern(buf, len, off, rng);
		long w = pwrite_(fd, buf, len, off);
		long r = pread_(fd, back, len, off);
		if (w != len || r != len || memcmp(buf, back, (size_t)len)) {
			printf("#   round %d: %ld bytes at %ld: write %ld, read %ld, %s\n", i, len,
			       off, w, r,
			       memcmp(buf, back, (size_t)len) ? "data differ" : "data equal");
			bad++;
		}
		memcpy(shadow + off, buf, (size_t)len);
	}
	ut_eq(bad, 0, "%d writes of 1..%d sectors at random offsets read back equal", ROUNDS,
	      MAX_SECTORS);
}

static void whole_disk_matches(long fd, const uint8_t *shadow, long size, uint8_t *all)
{
	long r = read_all(fd, all, size);
	long first = -1;

	for (long i = 0; !r && i < size && first < 0; i++)
		if (all[i] != shadow[i])
			first = i;
	if (first >= 0)
		printf("#   first difference at byte %ld\n", first);
	ut_ok(r == 0 && first < 0,
	      "the whole disk reads back as written: no byte changed where nothing was asked");
}

static void end_of_disk(long fd, uint8_t *shadow, long size, uint8_t *buf)
{
	long last = size - SECTOR;

	pattern(buf, SECTOR, last, 77);
	ut_eq(pwrite_(fd, buf, SECTOR, last), SECTOR, "a write of the last sector");
	memcpy(shadow + last, buf, SECTOR);
	memset(buf, 0, 2 * SECTOR);
	ut_eq(pread_(fd, buf, SECTOR, last), SECTOR, "a read of the last sector");
	ut_ok(memcmp(buf, shadow + last, SECTOR) == 0, "the last sector holds what was written");
	ut_eq(pread_(fd, buf, 2 * SECTOR, last), SECTOR, "a read across the end is cut at the end");
	ut_eq(pread_(fd, buf, SECTOR, size), 0, "a read at the end gives 0 bytes");
	ut_eq(pread_(fd, buf, SECTOR, size + 4096 * SECTOR), 0,
	      "a read past the end gives 0 bytes");
	ut_eq(pwrite_(fd, buf, SECTOR, size), -ENOSPC, "a write at the end is ENOSPC");
	pattern(buf, 2 * SECTOR, last, 78);
	ut_eq(pwrite_(fd, buf, 2 * SECTOR, last), SECTOR,
	      "a write across the end is cut at the end");
	memcpy(shadow + last, buf, SECTOR);
}

static void bad_requests(long fd, uint8_t *shadow, uint8_t *buf)
{
	ut_eq(pread_(fd, buf, SECTOR, 1), -EINVAL,
	      "a read at an offset that is no sector multiple is EINVAL");
	ut_eq(pwrite_(fd, buf, SECTOR, 100), -EINVAL,
	      "a write at an offset that is no sector multiple is EINVAL");
	ut_eq(pread_(fd, buf, 100, 0), -EINVAL,
	      "a read of a length that is no sector multiple is EINVAL");
	ut_eq(pwrite_(fd, buf, SECTOR + 1, 0), -EINVAL,
	      "a write of a length that is no sector multiple is EINVAL");
	ut_eq(pread_(fd, buf, SECTOR, -SECTOR), -EINVAL, "a negative offset is EINVAL");
	ut_eq(pread_(fd, buf, 0, 0), 0, "a read of 0 bytes gives 0");
	ut_eq(pread_(fd, NULL, SECTOR, 0), -EFAULT, "a read into NULL is EFAULT");
	ut_eq(pwrite_(fd, (void *)0xffff800000000000ul, SECTOR, 0), -EFAULT,
	      "a write from a kernel address is EFAULT");
	ut_ok(pread_(fd, buf, SECTOR, 0) == SECTOR && memcmp(buf, shadow, SECTOR) == 0,
	      "the failed write from a kernel address left sector 0 as it was");
	/* The user buffer may have any alignment: the kernel copies through its own. */
	pattern(buf + 1, 2 * SECTOR, SECTOR, 99);
	long w = pwrite_(fd, buf + 1, 2 * SECTOR, SECTOR);
	memcpy(shadow + SECTOR, buf + 1, 2 * SECTOR);
	memset(buf, 0, 3 * SECTOR);
	long r = pread_(fd, buf + 3, 2 * SECTOR, SECTOR);
	ut_ok(w == 2 * SECTOR && r == 2 * SECTOR &&
		      memcmp(buf + 3, shadow + SECTOR, 2 * SECTOR) == 0,
	      "an unaligned user buffer is written and read whole (%ld, %ld)", w, r);
}

static void queries(long fd, long size)
{
	struct stat st;
	int ssz = 0;
	long sectors = 0;

	ut_ok(sys2(SYS_fstat, fd, &st) == 0 && S_ISBLK(st.st_mode), "fstat says a block device");
	ut_eq(st.st_size, size, "fstat's size is the device's");
	ut_eq(sys3(SYS_ioctl, fd, BLKSSZGET, &ssz), 0, "BLKSSZGET");
	ut_eq(ssz, SECTOR, "the logical block size is 512");
	ut_eq(sys3(SYS_ioctl, fd, BLKGETSIZE, &sectors), 0, "BLKGETSIZE");
	ut_eq(sectors, size / SECTOR, "BLKGETSIZE counts 512-byte sectors");
	ut_eq(sys3(SYS_ioctl, fd, BLKGETSIZE64, NULL), -EFAULT, "BLKGETSIZE64 into NULL is EFAULT");
	ut_eq(sys3(SYS_ioctl, fd, TCGETS, &st), -ENOTTY, "a terminal ioctl is ENOTTY");
	ut_eq(sys3(SYS_lseek, fd, 0, SEEK_END), size, "lseek SEEK_END gives the size");
	ut_eq(sys1(SYS_fsync, fd), 0, "fsync flushes the disk");
	ut_eq(sys1(SYS_fdatasync, fd), 0, "fdatasync flushes the disk");
}

static long spawn_self(const char *arg)
{
	char *argv[] = { "/bin/blk", (char *)arg, NULL };

	fflush(stdout);
	return dyad_spawn("/bin/blk", argv);
}

static void holders(long fd)
{
	ut_eq(disk_open(O_RDONLY), -EBUSY, "a second open while the disk is held is EBUSY");
	ut_eq(spawn_self("child-busy"), 0,
	      "a child's open while its parent holds the disk is EBUSY");
	ut_eq(sys1(SYS_close, fd), 0, "close");
	ut_eq(spawn_self("child-hold"), 0, "a child opens the disk and exits without closing it");
	long again = disk_open(O_RDONLY);
	ut_ok(again >= 0, "the disk is free again after its holder's exit (%ld)", again);
	char buf[SECTOR];
	ut_eq(pwrite_(again, buf, SECTOR, 0), -EBADF,
	      "a write through an O_RDONLY descriptor is EBADF");
	ut_eq(sys3(SYS_fcntl, again, F_GETFL, 0) & O_ACCMODE, O_RDONLY, "F_GETFL says O_RDONLY");
	sys1(SYS_close, again);
	long wo = disk_open(O_WRONLY);
	ut_eq(pread_(wo, buf, SECTOR, 0), -EBADF, "a read through an O_WRONLY descriptor is EBADF");
	sys1(SYS_close, wo);
	ut_eq(disk_open(O_RDWR | O_WRONLY | O_RDONLY | 3), -EINVAL, "access mode 3 is EINVAL");
	ut_eq(sys4(SYS_openat, AT_FDCWD, "/dev/vdz", O_RDWR, 0), -ENOENT, "/dev/vdz is ENOENT");
}

/* ---- four threads at once ------------------------------------------------------------------ */

struct worker {
	long fd, base, span;
	uint64_t seed;
	long bad;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	static __thread uint8_t a[16 * SECTOR], b[16 * SECTOR];

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		long n = 1 + (long)((w->seed + (uint64_t)i * 7) % 16);
		long off =
			w->base +
			(long)(((uint64_t)i * 104729) % (uint64_t)(w->span / SECTOR - 16)) * SECTOR;
		pattern(a, n * SECTOR, off, w->seed);
		if (pwrite_(w->fd, a, n * SECTOR, off) != n * SECTOR ||
		    pread_(w->fd, b, n * SECTOR, off) != n * SECTOR ||
		    memcmp(a, b, (size_t)n * SECTOR))
			w->bad++;
	}
	return NULL;
}

static void threads(long fd, long size)
{
	/* CLONE_THREAD without CLONE_SIGHAND is EINVAL on a kernel with clone, ENOSYS without. */
	if (sys2(SYS_clone, CLONE_THREAD, 0) == -ENOSYS) {
		ut_skip("4 threads write and read their own regions at once", "no clone (ENOSYS)");
		return;
	}
	pthread_t t[THREADS];
	struct worker w[THREADS];
	long span = size / THREADS / SECTOR * SECTOR;
	int started = 0;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){
			.fd = fd, .base = i * span, .span = span, .seed = rng + (uint64_t)i
		};
		if (pthread_create(&t[i], NULL, work, &w[i]) == 0)
			started++;
	}
	long bad = 0;
	for (int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
	}
	ut_eq(started, THREADS, "4 threads started");
	ut_eq(bad, 0, "4 threads x %d writes and reads of their own regions at once",
	      THREAD_ROUNDS);
}

/* ---- persistence across boots ---------------------------------------------------------------- */

#define PERSIST_MAGIC 0x44796164426c6b31ull /* "DyadBlk1" */
#define PERSIST_LEN (4l << 20)

static int persist(const char *mode, uint64_t seed)
{
	long fd = disk_open(O_RDWR);
	if (fd < 0) {
		printf("blk: %s: cannot open %s (error %ld)\n", mode, DISK, -fd);
		return 1;
	}
	uint8_t *p = map(PERSIST_LEN);
	uint64_t hdr[3];
	if (!p)
		return 1;
	if (strcmp(mode, "persist-write") == 0) {
		pattern(p, PERSIST_LEN, SECTOR, seed);
		hdr[0] = PERSIST_MAGIC, hdr[1] = seed, hdr[2] = fnv(p, PERSIST_LEN);
		uint8_t s0[SECTOR] = { 0 };
		memcpy(s0, hdr, sizeof(hdr));
		long w1 = pwrite_(fd, p, PERSIST_LEN, SECTOR), w0 = pwrite_(fd, s0, SECTOR, 0);
		long f = sys1(SYS_fsync, fd);
		printf("blk: persist-write: seed %lu, %ld bytes, checksum %#lx: %s\n",
		       (unsigned long)seed, PERSIST_LEN, (unsigned long)hdr[2],
		       w1 == PERSIST_LEN && w0 == SECTOR && f == 0 ? "written and flushed"
								   : "FAILED");
		return !(w1 == PERSIST_LEN && w0 == SECTOR && f == 0);
	}
	uint8_t s0[SECTOR];
	long r0 = pread_(fd, s0, SECTOR, 0), r1 = pread_(fd, p, PERSIST_LEN, SECTOR);
	memcpy(hdr, s0, sizeof(hdr));
	uint64_t sum = fnv(p, PERSIST_LEN);
	uint8_t *want = map(PERSIST_LEN);
	if (!want)
		return 1;
	pattern(want, PERSIST_LEN, SECTOR, seed);
	bool ok = r0 == SECTOR && r1 == PERSIST_LEN && hdr[0] == PERSIST_MAGIC && hdr[1] == seed &&
		  hdr[2] == sum && memcmp(p, want, PERSIST_LEN) == 0;
	printf("blk: persist-check: seed %lu, checksum %#lx on disk, %#lx read: %s\n",
	       (unsigned long)seed, (unsigned long)hdr[2], (unsigned long)sum,
	       ok ? "the pattern survived" : "MISMATCH");
	return !ok;
}

/*
 * The device reports an error on reads at byte @off (QEMU's blkdebug, tests/tools/
 * test_blk_errors.sh): that read is EIO, and the disk goes on working elsewhere.
 */
static int io_error(long off)
{
	static uint8_t buf[4096];
	long fd = disk_open(O_RDWR);
	long bad = pread_(fd, buf, SECTOR, off), good = pread_(fd, buf, SECTOR, 0);
	long again = pread_(fd, buf, SECTOR, off), w = pwrite_(fd, buf, SECTOR, 0);

	printf("blk: ioerr: read at %ld: %ld, read at 0: %ld, again at %ld: %ld, write at 0: %ld: "
	       "%s\n",
	       off, bad, good, off, again, w,
	       fd >= 0 && bad == -EIO && good == SECTOR && again == -EIO && w == SECTOR
		       ? "as expected"
		       : "WRONG");
	return !(fd >= 0 && bad == -EIO && good == SECTOR && again == -EIO && w == SECTOR);
}

/*
 * One call larger than the kernel's buffer (1 MiB): its requests go out several at a time and
 * the buffer is reused; what it wrote reads back equal in one call.
 */
static void big_calls(long fd, uint8_t *shadow, long size)
{
	long len = BIG_LEN < size ? BIG_LEN : size;
	uint8_t *w = map(len), *r = map(len);

	if (!ut_ok(w && r, "memory for a %ld-byte call", len))
		return;
	long off = (long)(next() % (uint64_t)((size - len) / SECTOR + 1)) * SECTOR;
	pattern(w, len, off, rng);
	ut_eq(pwrite_(fd, w, len, off), len, "a write of %ld bytes in one call", len);
	memcpy(shadow + off, w, (size_t)len);
	ut_ok(pread_(fd, r, len, off) == len && memcmp(w, r, (size_t)len) == 0,
	      "a read of %ld bytes in one call reads back what was written", len);
	munmap(w, (size_t)len);
	munmap(r, (size_t)len);
}

/*
 * A buffer with an unmapped page in its middle: the call moves what comes before the hole and
 * says how much (a block multiple below the hole, those bytes right), or is EFAULT. Nothing
 * after what it reports is written, not even past the hole: the whole-disk comparison after
 * this checks it.
 */
static void partial_buffers(long fd, uint8_t *shadow, long size)
{
	long len = 1 << 20, hole = len / 2 + 4096, off = size >= 3 * len ? 2 * len : 0;
	uint8_t *p = map(len);

	if (!ut_ok(p && munmap(p + hole, 4096) == 0, "a 1 MiB buffer with a hole at %ld", hole))
		return;
	pattern(p, hole, off, 55);
	pattern(p + hole + 4096, len - hole - 4096, off + hole + 4096, 56);
	long w = pwrite_(fd, p, len, off);
	ut_ok(w == -EFAULT || (w > 0 && w <= hole && w % SECTOR == 0),
	      "a write from a buffer with a hole moves what comes before it, or none (%ld)", w);
	if (w > 0)
		memcpy(shadow + off, p, (size_t)w);
	long r = pread_(fd, p, len, off);
	ut_ok(r == -EFAULT || (r > 0 && r <= hole && r % SECTOR == 0 &&
			       memcmp(p, shadow + off, (size_t)r) == 0),
	      "a read into a buffer with a hole moves what comes before it, or none (%ld)", r);
	munmap(p, (size_t)hole);
	munmap(p + hole + 4096, (size_t)(len - hole - 4096));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child-busy") == 0)
		return disk_open(O_RDWR) == -EBUSY ? 0 : 1;
	if (argc > 1 && strcmp(argv[1], "child-hold") == 0)
		return disk_open(O_RDWR) >= 0 ? 0 : 1; /* exits holding it */
	if (argc > 2 && strcmp(argv[1], "ioerr") == 0)
		return io_error(strtol(argv[2], NULL, 0));
	if (argc > 2 && strncmp(argv[1], "persist-", 8) == 0)
		return persist(argv[1], strtoull(argv[2], NULL, 0));

	ut_begin("blk");
	rng = argc > 1 ? strtoull(argv[1], NULL, 0) : rdtsc();
	rng = rng ? rng : 1;
	printf("# blk: seed %lu (replay: /bin/blk %lu)\n", (unsigned long)rng, (unsigned long)rng);
	long fd = disk_open(O_RDWR);
	if (fd == -ENOENT) {
		ut_skip("the block device tests",
			"no virtio disk: the emulator was started without DISK=");
		return ut_end("blk");
	}
	if (!ut_ok(fd >= 0, "%s opens read-write (%ld)", DISK, fd))
		return ut_end("blk");
	long size = 0;
	ut_eq(sys3(SYS_ioctl, fd, BLKGETSIZE64, &size), 0, "BLKGETSIZE64");
	uint8_t *shadow = map(size), *all = map(size);
	uint8_t *buf = map(MAX_SECTORS * SECTOR + 4096), *back = map(MAX_SECTORS * SECTOR);
	if (!ut_ok(size >= (1 << 20) && shadow && all && buf && back,
		   "a disk of at least 1 MiB (%ld bytes) and memory to check it", size))
		return ut_end("blk");
	ut_eq(read_all(fd, shadow, size), 0, "the whole disk is read in 1 MiB requests");
	queries(fd, size);
	random_rounds(fd, shadow, size, buf, back);
	end_of_disk(fd, shadow, size, buf);
	bad_requests(fd, shadow, buf);
	big_calls(fd, shadow, size);
	partial_buffers(fd, shadow, size);
	whole_disk_matches(fd, shadow, size, all);
	threads(fd, size);
	holders(fd);
	return ut_end("blk");
}
