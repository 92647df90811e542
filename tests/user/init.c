// SPDX-License-Identifier: MIT
/*
 * The test runner: the kernel's first process in test runs. It spawns each test program and
 * judges it by its exit status, checks that a crashing process is killed and the next one
 * runs, and that 1000 spawn/exit cycles give every free frame back. Its exit status is the
 * number of failed checks. Its closing line, `user: N passed, M failed, K skipped`, counts its
 * own checks; each program it runs prints its own summary (tools/boot-test.sh counts the SKIP
 * lines of all of them).
 *
 * With arguments, it runs just those programs (by path) and expects status 0 from each.
 */
#include <errno.h>

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
	ut_eq(spawn("/bin/crash", "nx-exec"), DYAD_KILLED_STATUS,
	      "a call into a PROT_READ|PROT_WRITE page (NX) kills the caller");
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
	crash_is_killed_and_next_runs();
	spawn_errors();
	spawn_cycles_return_memory();
	run_test("/bin/fuzz");
	run_test("/bin/vm");
	run_test("/bin/vmfuzz");
	ut_summary("user");
	return ut_failed;
}
