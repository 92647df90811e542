// SPDX-License-Identifier: MIT
/* Writes through a NULL pointer: the kernel must kill it with DYAD_KILLED_STATUS and carry on. */
#include <stdio.h>

int main(void)
{
	printf("crash: writing to address 0, expecting to be killed\n");
	fflush(stdout);
	*(volatile int *)0 = 1;
	printf("crash: still alive after writing to address 0\n");
	return 0;
}
