// SPDX-License-Identifier: MIT
/*
 * Does one forbidden thing, chosen by argv[1]; the kernel must kill it with DYAD_KILLED_STATUS
 * and carry on (init checks the status):
 *   (none)    write to address 0;
 *   ro-write  write to a PROT_READ page (after reading it, so the page is mapped);
 *   nx-exec   call into a PROT_READ|PROT_WRITE page holding a `ret` (NX);
 *   rx-exec   the same call into a PROT_READ|PROT_EXEC page: the control, it must return and
 *             exit 0, so that a kill in nx-exec is the NX bit's doing and not the call's.
 * A step before the forbidden access that goes wrong exits with SETUP_FAILED, and surviving
 * the access exits with SURVIVED: neither is the killed status, so neither can pass for a kill.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "utest.h"

#define SETUP_FAILED 2
#define SURVIVED 3
#define RET_OPCODE 0xc3

static int say(const char *what)
{
	printf("crash: %s, expecting to be killed\n", what);
	fflush(stdout);
	return 0;
}

static unsigned char *map_page(int prot)
{
	long p = sys6(SYS_mmap, 0, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p < 0 ? NULL : (unsigned char *)p;
}

static int write_read_only(void)
{
	volatile unsigned char *p = map_page(PROT_READ);

	if (!p || p[0] != 0)
		return SETUP_FAILED;
	say("writing to a PROT_READ page");
	p[0] = 1;
	return SURVIVED;
}

/* Calls a `ret` placed in a page mapped @prot (made so by mprotect after the byte is written). */
static int call_ret_in(int prot, int expect_kill)
{
	unsigned char *p = map_page(PROT_READ | PROT_WRITE);

	if (!p)
		return SETUP_FAILED;
	p[0] = RET_OPCODE;
	if (prot != (PROT_READ | PROT_WRITE) && sys3(SYS_mprotect, p, 4096, prot) != 0)
		return SETUP_FAILED;
	if (((volatile unsigned char *)p)[0] != RET_OPCODE)
		return SETUP_FAILED;
	if (expect_kill)
		say("calling into a PROT_READ|PROT_WRITE page");
	((void (*)(void))p)();
	return expect_kill ? SURVIVED : 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "ro-write"))
		return write_read_only();
	if (!strcmp(mode, "nx-exec"))
		return call_ret_in(PROT_READ | PROT_WRITE, 1);
	if (!strcmp(mode, "rx-exec"))
		return call_ret_in(PROT_READ | PROT_EXEC, 0);
	if (mode[0]) {
		printf("crash: unknown mode '%s'\n", mode);
		return SETUP_FAILED;
	}
	say("writing to address 0");
	*(volatile int *)0 = 1;
	printf("crash: still alive after writing to address 0\n");
	return SURVIVED;
}
