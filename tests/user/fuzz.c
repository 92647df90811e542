// SPDX-License-Identifier: MIT
/*
 * A system-call fuzzer: random numbers in [0, 512) and in the Dyad range, with random
 * arguments (small integers, random 64-bit values, kernel addresses, addresses in a scratch
 * window, NULL). The seed is printed and can be given as argv[1] (argv[2]: the number of
 * calls), so a failing run can be repeated. The test passes if the fuzzer reaches its end:
 * the kernel surviving is what is checked.
 *
 * The fuzzer must not end or stop itself, so some calls are skipped (exit, signals to itself,
 * sleeps, reads from the console or from pipes and the like, new processes, ...) and others
 * are tamed: memory-management calls are confined to the scratch window, and console
 * descriptors are never closed or written to. Only pointers into the window are valid user
 * pointers it passes, so the kernel can only ever write there.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "utest.h"

#define DEFAULT_SEED 0x5eed0f0dd1ad0001UL
#define DEFAULT_CALLS 100000
#define LINUX_NRS 512
#define DYAD_NRS 16
#define WINDOW 0x500000000000UL /* far from the image, heap, stack and mmap area */
#define WINDOW_SIZE (4UL << 20)
#define MAX_ERRNO 4095
/* Newer than musl's list; Linux kills a caller outside its uprobe trampolines with SIGILL. */
#define SYS_uretprobe 335
#define SYS_uprobe 336

static unsigned long rng;

/* xorshift64*: fast, and the same sequence for the same seed on every machine. */
static unsigned long next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dUL;
}

static unsigned long window_addr(void)
{
	return WINDOW + next() % WINDOW_SIZE;
}

static long random_arg(void)
{
	switch (next() % 9) {
	case 0:
		return next() % 64;
	case 1:
		return -(long)(next() % 8) - 1;
	case 2:
		return next();
	case 3:
		return 0xffff800000000000UL + (next() & 0x7fffffffffffUL);
	case 4:
		return 0xffffffff80000000UL + (next() % 0x1000000);
	case 5:
	case 6:
		return window_addr();
	case 7:
		return 0;
	default:
		return 1L << (next() % 48);
	}
}

enum action { RUN, SKIP, CONFINE };

/* What to do with system call @nr; see the file comment for why. */
static enum action action_of(long nr)
{
	switch (nr) {
	case SYS_exit:
	case SYS_exit_group:
	case SYS_rt_sigreturn:
	case SYS_rt_sigaction:
	case SYS_rt_sigsuspend:
	case SYS_rt_sigtimedwait:
	case SYS_rt_sigqueueinfo:
	case SYS_rt_tgsigqueueinfo:
	case SYS_kill:
	case SYS_tkill:
	case SYS_tgkill:
	case SYS_pidfd_send_signal:
	case SYS_pause:
	case SYS_alarm:
	case SYS_setitimer:
	case SYS_timer_create:
	case SYS_timer_settime:
	case SYS_timerfd_settime:
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_select:
	case SYS_pselect6:
	case SYS_poll:
	case SYS_ppoll:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_futex:
	case SYS_wait4:
	case SYS_waitid:
	case SYS_msgrcv:
	case SYS_semop:
	case SYS_semtimedop:
	case SYS_mq_timedreceive:
	case SYS_io_getevents:
	case SYS_accept:
	case SYS_accept4:
	case SYS_connect:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
	case SYS_flock:
	case SYS_fork:
	case SYS_vfork:
	case SYS_clone:
	case SYS_clone3:
	case SYS_execve:
	case SYS_execveat:
	case SYS_ptrace:
	case SYS_arch_prctl: /* FS holds musl's thread pointer */
	case SYS_prctl:
	case SYS_seccomp:
	case SYS_rseq:
	case SYS_setrlimit:
	case SYS_prlimit64:
	case SYS_reboot:
	case SYS_kexec_load:
	case SYS_kexec_file_load:
	case SYS_mremap: /* could move memory out of the window */
	case SYS_remap_file_pages:
	case SYS_shmat:
	case SYS_process_vm_readv:
	case SYS_process_vm_writev:
	case SYS_process_madvise:
	case SYS_move_pages:
	case SYS_migrate_pages:
	case SYS_close_range:
	case SYS_splice:
	case SYS_tee:
	case SYS_vmsplice:
	case SYS_copy_file_range:
	/* Descriptors a read can wait on forever (Dyad has none of them yet). */
	case SYS_pipe:
	case SYS_pipe2:
	case SYS_socket:
	case SYS_socketpair:
	case SYS_eventfd:
	case SYS_eventfd2:
	case SYS_signalfd:
	case SYS_signalfd4:
	case SYS_timerfd_create:
	case SYS_inotify_init:
	case SYS_inotify_init1:
	case SYS_fanotify_init:
	case SYS_userfaultfd:
	case SYS_perf_event_open:
	case SYS_io_uring_setup:
	case SYS_uretprobe:
	case SYS_uprobe:
	case DYAD_SYS_SPAWN: /* would run programs, init among them */
		return SKIP;
	case SYS_mmap:
	case SYS_mprotect:
	case SYS_munmap:
	case SYS_msync:
	case SYS_mincore:
	case SYS_madvise:
	case SYS_mlock:
	case SYS_munlock:
	case SYS_mlock2:
	case SYS_mbind:
	case SYS_pkey_mprotect:
		return CONFINE;
	default:
		return RUN;
	}
}

/*
 * A descriptor that is not the console: 3 and up (mostly bad, sometimes an open module). The
 * kernel, like Linux, reads a descriptor as a 32-bit int, so 0x100000000 is fd 0 too.
 */
static long not_console(long fd)
{
	int low = (int)fd;

	return low >= 0 && low <= 2 ? low + 3 + (long)(next() % 8) : fd;
}

/* Rewrites @a for system call @nr as action_of() and the file comment describe. */
static void tame(long nr, long a[6])
{
	switch (nr) {
	case SYS_read: /* reading the console would wait for input */
	case SYS_readv:
	case SYS_pread64:
	case SYS_preadv:
	case SYS_preadv2:
	case SYS_write: /* writing it would fill the log with noise */
	case SYS_writev:
	case SYS_pwrite64:
	case SYS_pwritev:
	case SYS_pwritev2:
	case SYS_sendto:
	case SYS_sendmsg:
	case SYS_close: /* the results are printed on fd 1 */
	case SYS_ioctl:
	case SYS_fcntl:
		a[0] = not_console(a[0]);
		break;
	case SYS_sendfile:
		a[0] = not_console(a[0]);
		a[1] = not_console(a[1]);
		break;
	case SYS_dup2:
	case SYS_dup3:
		a[1] = not_console(a[1]);
		break;
	}
	if (action_of(nr) != CONFINE)
		return;
	/* mmap without MAP_FIXED or MAP_FIXED_NOREPLACE never replaces: any hint is safe. */
	if (nr == SYS_mmap && !(a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE)))
		return;
	a[0] = window_addr();
	if (next() % 2)
		a[0] &= ~4095L;
	a[1] = next() % (WINDOW + WINDOW_SIZE - a[0] + 1);
}

/* The calls Dyad implements: half of the fuzzing goes where there is code to break. */
static const long implemented[] = {
	SYS_read,	     SYS_write,	      SYS_open,		SYS_close,	SYS_fstat,
	SYS_lseek,	     SYS_mmap,	      SYS_mprotect,	SYS_munmap,	SYS_brk,
	SYS_rt_sigprocmask, SYS_ioctl,	      SYS_writev,	SYS_getpid,	SYS_uname,
	SYS_set_tid_address, SYS_clock_gettime, SYS_openat,	SYS_gettid,	SYS_getppid,
	DYAD_SYS_STATS,	     DYAD_SYS_VM_QUERY,
};

static long random_nr(void)
{
	unsigned long r = next() % 64;

	if (r == 0)
		return next(); /* now and then, any number at all */
	if (r < 5)
		return DYAD_SYS_BASE + next() % DYAD_NRS;
	if (r < 34)
		return implemented[next() % (sizeof(implemented) / sizeof(implemented[0]))];
	return next() % LINUX_NRS;
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : DEFAULT_SEED;
	long calls = argc > 2 ? strtol(argv[2], NULL, 0) : DEFAULT_CALLS;
	static unsigned long by_errno[MAX_ERRNO + 1];
	unsigned long ok = 0, skipped = 0;

	ut_begin("fuzz");
	printf("# fuzz: seed %#lx, %ld calls (run `fuzz SEED CALLS` to repeat)\n", seed, calls);
	rng = seed ? seed : 1;
	void *w = (void *)sys6(SYS_mmap, WINDOW, WINDOW_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (!ut_ok(w == (void *)WINDOW, "map the scratch window at %#lx", WINDOW))
		return ut_end("fuzz");

	for (long done = 0; done < calls;) {
		long nr = random_nr(), a[6], r;

		for (int k = 0; k < 6; k++)
			a[k] = random_arg();
		if (action_of(nr) == SKIP) {
			skipped++;
			continue;
		}
		tame(nr, a);
		r = sys6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (r < 0 && r >= -MAX_ERRNO)
			by_errno[-r]++;
		else
			ok++;
		if (++done % 20000 == 0)
			printf("# fuzz: %ld calls\n", done);
	}

	printf("# fuzz: %lu skipped, %lu succeeded (>= 0 or an address)\n", skipped, ok);
	for (int e = 1; e <= MAX_ERRNO; e++)
		if (by_errno[e])
			printf("# fuzz: %lu x -%d (%s)\n", by_errno[e], e, strerror(e));
	ut_ok(1, "%ld random system calls, and the kernel is still here", calls);
	return ut_end("fuzz");
}
