// SPDX-License-Identifier: MIT
/*
 * vmmrun: runs the VMM several times in one boot and checks each run's exit status and that
 * every frame came back. Booted as the first process (init=/bin/vmmrun -- RUN [, RUN]...),
 * where each RUN is `STATUS VMM-ARGS...`: the status the run must end with, then the VMM's
 * arguments; a word "," separates runs. For each run it prints
 *
 *   vmmrun: run K: /bin/vmm ARGS...
 *   (whatever the VMM prints)
 *   vmmrun: ok - run K: status S (want W), free frames B -> A
 *
 * (or "vmmrun: FAIL - ..."), and at the end `vmmrun: N passed, M failed`. Its exit status is
 * the number of failed runs. Free frames are read with dyad_stats() before the spawn and after
 * the VMM has exited: a VMM that leaves a frame behind in the kernel (a VM, a vCPU, a run page,
 * guest RAM, a page-table pair) makes them differ.
 */
#include <stdlib.h>

#include "../user/utest.h"

#define VMM_PATH "/bin/vmm"
#define RUN_ARGS_MAX 600

static unsigned long free_frames(void)
{
	struct dyad_stats st;

	return dyad_stats(&st) ? 0 : st.free_frames;
}

/* Runs the VMM with @argc words of @args; returns whether it passed. */
static int run_one(int k, long want, char **args, int argc)
{
	static char *argv[RUN_ARGS_MAX + 2];

	argv[0] = VMM_PATH;
	printf("vmmrun: run %d:", k);
	for (int i = 0; i < argc; i++) {
		argv[i + 1] = args[i];
		printf(" %s", args[i]);
	}
	argv[argc + 1] = NULL;
	printf("\n");
	fflush(stdout);
	unsigned long before = free_frames();
	long status = dyad_spawn(VMM_PATH, argv);
	unsigned long after = free_frames();
	int ok = status == want && before == after && before;

	printf("vmmrun: %s - run %d: status %ld (want %ld), free frames %lu -> %lu%s\n",
	       ok ? "ok" : "FAIL", k, status, want, before, after,
	       before == after ? "" : " (frames leaked or gained)");
	fflush(stdout);
	return ok;
}

int main(int argc, char **argv)
{
	int k = 0, failed = 0;

	for (int i = 1; i < argc;) {
		char *end;
		long want = strtol(argv[i], &end, 10);
		if (*end || end == argv[i]) {
			printf("vmmrun: FAIL - '%s' is not an exit status (usage: vmmrun STATUS "
			       "ARGS... [, STATUS ARGS...]...)\n",
			       argv[i]);
			return 1;
		}
		int start = ++i;
		while (i < argc && strcmp(argv[i], ","))
			i++;
		if (i - start > RUN_ARGS_MAX) {
			printf("vmmrun: FAIL - run %d has more than %d words\n", k + 1,
			       RUN_ARGS_MAX);
			return 1;
		}
		failed += !run_one(++k, want, argv + start, i - start);
		i += i < argc; /* past the "," */
	}
	printf("vmmrun: %d passed, %d failed\n", k - failed, failed);
	return failed;
}
