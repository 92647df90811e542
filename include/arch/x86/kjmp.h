/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_KJMP_H
#define ARCH_X86_KJMP_H

#include <dyad/types.h>

/*
 * A saved kernel context (callee-saved registers, stack, resume point, flags): a setjmp/longjmp
 * pair for the two places the kernel abandons a call chain on purpose: trap_catch() after a
 * caught exception, and a process exit, which returns to the proc_run() that started it.
 */
struct kjmp {
	u64 rbx, rbp, r12, r13, r14, r15, rsp, rip, rflags;
};

/* Returns 0 when called, and 1 when kjmp_restore(j) resumes here later. */
int kjmp_save(struct kjmp *j) __attribute__((returns_twice));
__attribute__((noreturn)) void kjmp_restore(struct kjmp *j);

#endif
