// SPDX-License-Identifier: MIT
/*
 * The test runner: the kernel's first process in test runs. It spawns each test program and
 * judges it by its exit status, checks that a crashing process is killed and the next one
 * runs, and that 1000 spawn/exit cycles give every free frame back. Its exit status is the
 * number of failed checks. Its closing line, `user: N passed, M failed, K skipped`, counts its
 * own checks; each program it runs prints its own summary (tools/boot-test.sh counts the SKIP
 * lines of all of them).
 *
 * With arguments, it runs just those programs (by path) and expects status 0 from each; with
 * ARGV_CHECK as its first argument it is the child of the argument-limit test instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "utest.h"

#define SPAWN_CYCLES 1000

static long spawn(const char *path, const char *arg)
{
	char *argv[] = { (char *)path, (char *)arg, NULL };

	fflush(stdout);
	return dyad_spawn(path, argv);
}

/* Spawns the test program @path and expects it to pass (exit 0). */
static void run_test(const char *path)
{
	ut_eq(spawn(path, NULL), 0, "%s exits 0", path);
}

static void crash_is_killed_and_next_runs(void)
{
	ut_eq(spawn("/bin/crash", NULL), DYAD_KILLED_STATUS, "/bin/crash is killed");
	ut_eq(spawn("/bin/crash", "ro-write"), DYAD_KILLED_STATUS,
	      "a write to a PROT_READ page kills the writer");
	ut_eq(spawn("/bin/crash", "rx-exec"), 0, "a call into a PROT_READ|PROT_EXEC page returns");
	if (cpuid_ext_edx() & CPUID_EXT_NX)
		ut_eq(spawn("/bin/crash", "nx-exec"), DYAD_KILLED_STATUS,
		      "a call into a PROT_READ|PROT_WRITE page (NX) kills the caller");
	else
		ut_skip("a call into a PROT_READ|PROT_WRITE page kills the caller",
			"this CPU has no NX");
	ut_eq(spawn("/bin/nop", NULL), 0, "a program spawned after the crash runs");
	ut_eq(spawn("/bin/nop", "42"), 42, "exit status 42 reaches the parent");
}

static void spawn_errors(void)
{
	ut_eq(spawn("/bin/no-such-program", NULL), -ENOENT, "spawn of a missing path is ENOENT");
	ut_eq(spawn("/etc/motd", NULL), -ENOEXEC, "spawn of a text file is ENOEXEC");
	ut_eq(dyad_spawn(NULL, NULL), -EFAULT, "spawn of a NULL path is EFAULT");
	ut_eq(dyad_spawn((const char *)0xffff800000000000UL, NULL), -EFAULT,
	      "spawn of a kernel-address path is EFAULT");
	char *bad_argv[] = { "/bin/nop", (char *)0x1, NULL };
	ut_eq(dyad_spawn("/bin/nop", bad_argv), -EFAULT, "spawn with a bad argv string is EFAULT");
}

/* Every frame a process used returns at its exit: free memory is the same after 1000 runs. */
/* dyad_spawn's argument limits (include/dyad/ustack.h); the child checks what arrived. */
#define ARGV_MAX 512
#define ARGV_ARG_MAX 4096
#define ARGV_STRINGS_MAX 8192
#define ARGV_CHECK "--argv-check"

/* Argument @k of the limit test: @len bytes, its number first, then one letter repeated. */
static void argv_word(char *w, int k, size_t len)
{
	memset(w, 'a' + k % 26, len);
	w[len] = '\0';
	char num[16];
	int n = snprintf(num, sizeof(num), "%d", k);
	memcpy(w, num, (size_t)n < len ? (size_t)n : len);
}

/* The child: argv is /bin/init ARGV_CHECK LEN, then words 3.. of LEN bytes. Exit 0 if whole. */
static int argv_check(int argc, char **argv)
{
	size_t len = strtoul(argv[2], NULL, 10);
	char *w = malloc(len + 1);

	for (int k = 3; w && k < argc; k++) {
		argv_word(w, k, len);
		if (strcmp(argv[k], w) != 0)
			return 1;
	}
	free(w);
	return w ? 0 : 2;
}

/* Spawns /bin/init ARGV_CHECK with @n arguments in all, each word @len bytes. */
static long spawn_words(int n, size_t len)
{
	static char lenbuf[16];
	char **argv = calloc(n + 1, sizeof(*argv));
	char *words = malloc((size_t)n * (len + 1));
	long r = -ENOMEM;

	if (argv && words) {
		snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
		argv[0] = "/bin/init";
		argv[1] = ARGV_CHECK;
		argv[2] = lenbuf;
		for (int k = 3; k < n; k++) {
			argv[k] = words + (size_t)k * (len + 1);
			argv_word(argv[k], k, len);
		}
		fflush(stdout);
		r = dyad_spawn("/bin/init", argv);
	}
	free(argv);
	free(words);
	return r;
}

static void spawn_argument_limits(void)
{
	/* A 2 KiB Linux command line passed word by word, as the VMM gets it. */
	ut_eq(spawn_words(3 + 256, 8), 0, "256 words, 2304 bytes of arguments arrive whole");
	ut_eq(spawn_words(ARGV_MAX, 4), 0, "%d arguments arrive whole", ARGV_MAX);
	ut_eq(spawn_words(ARGV_MAX + 1, 4), -E2BIG, "%d arguments are E2BIG", ARGV_MAX + 1);
	ut_eq(spawn_words(4, ARGV_ARG_MAX - 1), 0, "an argument of %d bytes arrives whole",
	      ARGV_ARG_MAX - 1);
	ut_eq(spawn_words(4, ARGV_ARG_MAX), -E2BIG, "an argument of %d bytes is E2BIG",
	      ARGV_ARG_MAX);
	ut_eq(spawn_words(5, ARGV_STRINGS_MAX / 2), -E2BIG,
	      "arguments of more than %d bytes in all are E2BIG", ARGV_STRINGS_MAX);
}

static void spawn_cycles_return_memory(void)
{
	struct dyad_stats before, after;
	int bad = 0;

	/* One run first, so that anything the kernel allocates once is not counted. */
	spawn("/bin/nop", NULL);
	dyad_stats(&before);
	for (int i = 0; i < SPAWN_CYCLES; i++) {
		long st = dyad_spawn("/bin/nop", (char *[]){ "/bin/nop", NULL });

		if (st != 0 && bad++ == 0)
			printf("#   spawn %d returned %ld\n", i, st);
	}
	dyad_stats(&after);
	ut_eq(bad, 0, "%d spawns of /bin/nop all exit 0", SPAWN_CYCLES);
	ut_eq(after.free_frames, before.free_frames,
	      "free frames are the same after %d spawn/exit cycles", SPAWN_CYCLES);
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], ARGV_CHECK) == 0)
		return argv_check(argc, argv);
	ut_begin("init");
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			run_test(argv[i]);
		ut_summary("user");
		return ut_failed;
	}
	run_test("/bin/sysconf");
	run_test("/bin/mmap");
	run_test("/bin/faults");
	run_test("/bin/cpustate");
	run_test("/bin/blk");
	run_test("/bin/schedtest");
	crash_is_killed_and_next_runs();
	spawn_errors();
	spawn_argument_limits();
	spawn_cycles_return_memory();
	/* Threads, then the shared address space under stress (30 s, a new seed each boot). */
	run_test("/bin/threads");
	run_test("/bin/stress");
	run_test("/bin/fuzz");
	run_test("/bin/vm");
	run_test("/bin/vmshoot");
	run_test("/bin/vmsmp");
	run_test("/bin/vmnmi");
	run_test("/bin/vmfuzz");
	ut_summary("user");
	return ut_failed;
}
