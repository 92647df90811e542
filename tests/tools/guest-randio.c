// SPDX-License-Identifier: MIT
/*
 * 4 KiB random I/O on a block device, for the guest-disk benchmark (tools/bench-guest-disk.sh):
 * a static Linux program the benchmark's guest runs on /dev/vda, under Dyad's VMM and under
 * bare QEMU alike. Direct I/O (no page cache), one request at a time, offsets drawn from a
 * fixed-seed xorshift over the whole device, so both runs touch the same blocks in the same
 * order. Writes first (so reads meet written blocks), then reads; a read that does not return
 * what was written there is counted.
 * Usage: guest-randio DEV OPS
 * Prints "dtest: rand4k write|read N ops in S s: I IOPS" and "dtest: rand4k mismatches M".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The block's expected first word: its number, so a read from the wrong place shows. */
static uint64_t tag(uint64_t block)
{
	return block * 0x9e3779b97f4a7c15ULL + 1;
}

int main(int argc, char **argv)
{
	uint64_t blocks, seed, mismatches = 0;
	off_t size;
	long ops;
	void *buf;
	int fd;

	if (argc != 3 || (ops = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: %s DEV OPS\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END); /* a block device's size */
	if (size < BLOCK) {
		perror(argv[1]);
		return 1;
	}
	blocks = (uint64_t)size / BLOCK;
	if (posix_memalign(&buf, BLOCK, BLOCK))
		return 1;
	for (int write = 1; write >= 0; write--) {
		double t0 = now_s(), d;

		seed = 0x2545f4914f6cdd1dULL;
		for (long i = 0; i < ops; i++) {
			uint64_t b = xorshift(&seed) % blocks;
			off_t off = (off_t)(b * BLOCK);
			ssize_t n;

			if (write) {
				memset(buf, (int)(b & 0xff), BLOCK);
				*(uint64_t *)buf = tag(b);
				n = pwrite(fd, buf, BLOCK, off);
			} else {
				n = pread(fd, buf, BLOCK, off);
				mismatches += n == BLOCK && *(uint64_t *)buf != tag(b);
			}
			if (n != BLOCK) {
				perror(write ? "pwrite" : "pread");
				return 1;
			}
		}
		if (write && fsync(fd) < 0) {
			perror("fsync");
			return 1;
		}
		d = now_s() - t0;
		printf("dtest: rand4k %s %ld ops in %.2f s: %.0f IOPS\n", write ? "write" : "read",
		       ops, d, d > 0 ? (double)ops / d : 0.0);
	}
	/* A block drawn twice holds its tag either way: every read must match. */
	printf("dtest: rand4k mismatches %llu\n", (unsigned long long)mismatches);
	return mismatches != 0;
}
