/* SPDX-License-Identifier: MIT */
#ifndef DYAD_TESTS_USER_THR_LIB_H
#define DYAD_TESTS_USER_THR_LIB_H

/*
 * What the thread tests and benchmarks share: raw clone/futex/affinity/sleep calls (results are
 * the kernel's, -errno included), a clone entry that needs no libc in the child, a seeded
 * generator, a clock, and a way to run a program and wait for its status that works on Dyad
 * (dyad_spawn) and, for checking the tests themselves, on Linux (fork + execve of this very
 * executable). Everything here has Linux numbers and Linux semantics.
 *
 * Before a kernel has threads, clone is -ENOSYS: threads_missing() says so, and the programs
 * report every thread check as a SKIP with that reason, never as a pass.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "utest.h"

#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#define THR_FUTEX_WAIT 0
#define THR_FUTEX_WAKE 1
#define THR_FUTEX_PRIVATE 128
#define NS_PER_S 1000000000L
/* The pthread_create flags, as the kernel must take them (include/uapi has no copy). */
#define THR_PTHREAD_FLAGS                                                                          \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)
/* CPUs a mask can name here: 1024, as glibc's and musl's cpu_set_t. */
#define THR_MAX_CPUS 1024

/*
 * long raw_clone(flags, stack, ptid, ctid, tls, fn, arg): the clone system call. The child
 * starts on @stack (16-byte aligned below it), calls fn(arg) and exits the thread with its
 * return value; it has no TLS of its own unless CLONE_SETTLS is given, so @fn may use raw
 * system calls and memory only, never errno or stdio. Linux keeps every register but RAX in
 * the child, which is how @fn reaches it (r9), as musl's own clone does.
 */
long raw_clone(unsigned long flags, void *stack, int *ptid, int *ctid, unsigned long tls,
	       int (*fn)(void *), void *arg);
__asm__(".text\n"
	".globl raw_clone\n"
	".type raw_clone, @function\n"
	"raw_clone:\n"
	"	mov 8(%rsp), %rax\n"
	"	and $-16, %rsi\n"
	"	sub $16, %rsi\n"
	"	mov %rax, (%rsi)\n"
	"	mov %rcx, %r10\n"
	"	mov $56, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	mov (%rsp), %rdi\n"
	"	call *%r9\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"1:	ret\n"
	".size raw_clone, . - raw_clone\n");

static inline long futex(volatile int *uaddr, int op, int val, const struct timespec *timeout)
{
	return sys6(SYS_futex, (long)uaddr, op, val, (long)timeout, 0, 0);
}

static inline long thr_gettid(void)
{
	return sys0(SYS_gettid);
}

static inline long now_ns(void)
{
	struct timespec t;

	sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	return t.tv_sec * NS_PER_S + t.tv_nsec;
}

static inline void sleep_ns(long ns)
{
	struct timespec t = { ns / NS_PER_S, ns % NS_PER_S };

	sys2(SYS_nanosleep, &t, NULL);
}

static inline int on_dyad(void)
{
	struct dyad_stats st;

	return dyad_stats(&st) == 0;
}

static inline unsigned long free_frames_now(void)
{
	struct dyad_stats st = { 0 };

	dyad_stats(&st);
	return st.free_frames;
}

/*
 * NULL if this kernel has clone; else why not, as a SKIP reason. CLONE_THREAD alone is
 * invalid on Linux (EINVAL, nothing is created): only a kernel without the call says ENOSYS.
 */
static inline const char *threads_missing(void)
{
	long r = sys6(SYS_clone, CLONE_THREAD, 0, 0, 0, 0, 0);

	return r == -ENOSYS ? "no threads in this kernel (clone is ENOSYS)" : NULL;
}

/* The CPUs this thread may run on (sched_getaffinity); 0 on failure. */
static inline int affinity_count(void)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	if (sys3(SYS_sched_getaffinity, 0, sizeof(s), &s) < 0)
		return 0;
	return CPU_COUNT(&s);
}

/* The @k-th CPU (from 0) of this thread's mask, or -1. */
static inline int affinity_nth(int k)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	if (sys3(SYS_sched_getaffinity, 0, sizeof(s), &s) < 0)
		return -1;
	for (int c = 0; c < THR_MAX_CPUS; c++)
		if (CPU_ISSET(c, &s) && k-- == 0)
			return c;
	return -1;
}

/* Pins thread @tid (0: the caller) to CPU @cpu; the kernel's result. */
static inline long pin_to(long tid, int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sys3(SYS_sched_setaffinity, tid, sizeof(s), &s);
}

/* splitmix64: every 64-bit seed gives its own sequence. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15UL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
	return z ^ (z >> 31);
}

/* A seed from argv: a number in any C base, or -1 (refused) when it is not one. */
static inline int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return *end || errno ? -1 : 0;
}

/*
 * Runs this program again with @argv (argv[0] is its path on Dyad) and waits: the exit
 * status, 128 + signal when it was killed (DYAD_KILLED_STATUS for a fault, on both kernels),
 * or -errno. On Linux, which has no dyad_spawn, it forks and executes /proc/self/exe.
 */
static inline long spawn_self(char *const argv[])
{
	fflush(stdout);
	long r = dyad_spawn(argv[0], argv);

	if (r != -ENOSYS)
		return r;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

#endif
