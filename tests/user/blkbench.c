// SPDX-License-Identifier: MIT
/*
 * Throughput of /dev/vda from a Dyad process (tools/bench-blk.sh boots it): sequential reads
 * and writes in 1 MiB calls over the first SEQ_BYTES of the disk, then 4 KiB reads and writes
 * at random 4 KiB-aligned offsets. Prints one `blkbench:` line per figure; it is a benchmark:
 * it does not pass or fail, but exits 1 when the disk cannot be used. It uses Linux's system
 * calls only, so the same binary runs on Linux (tools/bench-blk.sh boots it there too); O_DIRECT
 * keeps Linux's page cache out of the figures (Dyad has none and ignores the flag).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>

#include "utest.h"

#define BLKGETSIZE64 0x80081272
#ifndef O_DIRECT
#define O_DIRECT 040000
#endif
#define SEQ_CALL (1l << 20)
#define SEQ_BYTES (64l << 20)
#define RAND_OPS 2000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char sysname[65];

static void report(const char *what, long bytes, long ops, double s)
{
	printf("blkbench: %s: %-20s %8.1f MiB/s %9.0f IOPS (%ld bytes in %ld calls, %.3f s)\n",
	       sysname, what, (double)bytes / s / (1 << 20), (double)ops / s, bytes, ops, s);
}

int main(void)
{
	struct utsname u;
	long fd = sys4(SYS_openat, AT_FDCWD, "/dev/vda", O_RDWR | O_DIRECT, 0);
	long size = 0;

	if (fd < 0 || sys3(SYS_ioctl, fd, BLKGETSIZE64, &size) || size < SEQ_CALL) {
		printf("blkbench: no usable /dev/vda (open %ld, size %ld)\n", fd, size);
		return 1;
	}
	if (sys1(SYS_uname, &u) == 0)
		snprintf(sysname, sizeof(sysname), "%s", u.sysname);
	uint8_t *buf =
		mmap(NULL, SEQ_CALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	for (long i = 0; i < SEQ_CALL; i++)
		buf[i] = (uint8_t)(i * 131);
	long span = size < SEQ_BYTES ? size / SEQ_CALL * SEQ_CALL : SEQ_BYTES;
	int bad = 0;

	double t = now();
	for (long off = 0; off < span; off += SEQ_CALL)
		bad |= sys4(SYS_pwrite64, fd, buf, SEQ_CALL, off) != SEQ_CALL;
	bad |= sys1(SYS_fsync, fd) != 0;
	report("sequential write 1M", span, span / SEQ_CALL, now() - t);

	t = now();
	for (long off = 0; off < span; off += SEQ_CALL)
		bad |= sys4(SYS_pread64, fd, buf, SEQ_CALL, off) != SEQ_CALL;
	report("sequential read 1M", span, span / SEQ_CALL, now() - t);

	uint64_t x = 0x9e3779b97f4a7c15ull;
	long blocks = span / 4096;
	t = now();
	for (int i = 0; i < RAND_OPS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		bad |= sys4(SYS_pwrite64, fd, buf, 4096,
			    (long)((x >> 33) % (uint64_t)blocks) * 4096) != 4096;
	}
	bad |= sys1(SYS_fsync, fd) != 0;
	report("random write 4K", RAND_OPS * 4096l, RAND_OPS, now() - t);

	t = now();
	for (int i = 0; i < RAND_OPS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		bad |= sys4(SYS_pread64, fd, buf, 4096,
			    (long)((x >> 33) % (uint64_t)blocks) * 4096) != 4096;
	}
	report("random read 4K", RAND_OPS * 4096l, RAND_OPS, now() - t);
	if (bad)
		printf("blkbench: some calls failed: the figures are not valid\n");
	return bad;
}
