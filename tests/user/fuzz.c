// SPDX-License-Identifier: MIT
/*
 * A system-call fuzzer that checks what it sees. Each call has a random number (any Linux
 * number below 512, the Dyad range, now and then any 64-bit value, and half of the time one of
 * the calls Dyad implements) and random arguments (small integers, random 64-bit values, kernel
 * addresses, addresses in a scratch window, NULL). Around each call every register ring 3 owns
 * is random too: the general registers that are not arguments, XMM0-15 (YMM0-15 when the kernel
 * has enabled AVX state), and RFLAGS, loaded by fuzz_enter() just before its `syscall`.
 *
 * What is checked:
 *   - each result is a valid result of that call, or an errno that call may return (the table
 *     in result_wrong()); a number Dyad does not implement must give exactly -ENOSYS;
 *   - the kernel keeps the Linux register contract: every register but RAX, RCX and R11 comes
 *     back as it went in, vector registers included; RCX is the return address, R11 and RFLAGS
 *     are the flags the call was made with;
 *   - after the run, with the window, the regions the run created and the heap given back, the
 *     machine has as many free frames as at the start;
 *   - two read-only canary pages, just below and just above the window, still hold their
 *     pattern, at the same frame, read-only.
 * The seed is printed and can be given as argv[1] (argv[2]: the number of calls), so a failing
 * run can be repeated.
 *
 * RFLAGS: every bit ring 3 can set is random except TF, whose #DB after the call's return is
 * an ordinary user trap (Dyad kills the process, as Linux would send SIGTRAP): it would end
 * the fuzzer, not test the kernel. IF and IOPL are requested at random too; POPF in ring 3
 * leaves them alone, so the flags checked are the ones read back after POPF.
 *
 * The fuzzer must not end or stop itself, so some calls are skipped (exit, signals to itself,
 * calls that wait, new processes other than dyad_spawn, ...) and others are tamed:
 * memory-management calls are confined to the scratch window; console descriptors are never
 * closed, read or written; nanosleep mostly gets an invalid or very short request; dyad_spawn
 * only ever runs /bin/nop (or fails on a path that is not a program); after arch_prctl the
 * thread pointer musl keeps in FS is put back. Exit itself runs in every /bin/nop spawned.
 * The only valid user pointers it passes point into the window, into argument blocks it builds
 * (which the kernel only reads), or, by chance (1 << n), into the heap the run grew with brk
 * (which nothing else uses) or the program's read-only first page: the kernel can write into
 * no memory the fuzzer itself relies on.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include <dyad/vcpu.h>

#include "utest.h"

#define DEFAULT_SEED 0x5eed0f0dd1ad0001UL
#define DEFAULT_CALLS 100000
#define LINUX_NRS 512
#define DYAD_NRS 16
#define WINDOW 0x500000000000UL /* far from the image, heap, stack and mmap area */
#define WINDOW_SIZE (4UL << 20)
#define CANARY_BELOW (WINDOW - 4096)
#define CANARY_ABOVE (WINDOW + WINDOW_SIZE)
#define MAX_ERRNO 4095
#define MAX_REPORTS 20 /* detailed lines per kind of failure */
#define MAX_TRACKED 1024 /* regions mmap placed outside the window, unmapped at the end */
#define USER_TOP 0x0000800000000000UL
#define DYAD_MAX_FDS 32 /* the kernel's descriptor table (PROC_MAX_FDS): no fd beyond it */
/* Newer than musl's list; Linux kills a caller outside its uprobe trampolines with SIGILL. */
#define SYS_uretprobe 335
#define SYS_uprobe 336
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

#define RFLAGS_CF (1UL << 0)
#define RFLAGS_FIXED (1UL << 1) /* always 1 */
#define RFLAGS_PF (1UL << 2)
#define RFLAGS_AF (1UL << 4)
#define RFLAGS_ZF (1UL << 6)
#define RFLAGS_SF (1UL << 7)
#define RFLAGS_TF (1UL << 8)
#define RFLAGS_IF (1UL << 9)
#define RFLAGS_DF (1UL << 10)
#define RFLAGS_OF (1UL << 11)
#define RFLAGS_IOPL (3UL << 12)
#define RFLAGS_NT (1UL << 14)
#define RFLAGS_RF (1UL << 16)
#define RFLAGS_AC (1UL << 18)
#define RFLAGS_ID (1UL << 21)
/* What the fuzzer asks POPF for: all ring-3 flags but TF, and IF/IOPL (which POPF ignores). */
#define RFLAGS_FUZZED                                                                              \
	(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_IF | RFLAGS_DF |       \
	 RFLAGS_OF | RFLAGS_IOPL | RFLAGS_AC | RFLAGS_ID | RFLAGS_NT)

/* Register state around one call; the layout is fixed by fuzz_enter()'s offsets. */
enum {
	R_AX,
	R_BX,
	R_CX,
	R_DX,
	R_SI,
	R_DI,
	R_BP,
	R_SP,
	R_8,
	R_9,
	R_10,
	R_11,
	R_12,
	R_13,
	R_14,
	R_15
};
static const char *const gpr_name[16] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
					  "r8",	 "r9",	"r10", "r11", "r12", "r13", "r14", "r15" };

struct fuzz_regs {
	uint64_t gpr[16]; /* offset 0, in the order above */
	uint64_t rflags; /* 128: asked for (fuzz_in) or seen after the call (fuzz_out) */
	uint64_t rflags_set; /* 136: fuzz_in only: RFLAGS as POPF left it, just before `syscall` */
	uint64_t rsp; /* 144: fuzz_in only: RSP at `syscall` */
	uint64_t pad;
	uint8_t vec[16][32]; /* 160: XMM (16 bytes) or YMM (32 bytes) registers */
};

struct fuzz_regs fuzz_in __attribute__((aligned(32))), fuzz_out __attribute__((aligned(32)));
int fuzz_use_ymm;
void fuzz_enter(void);
extern const char fuzz_after_syscall[];

_Static_assert(__builtin_offsetof(struct fuzz_regs, rflags) == 128, "layout");
_Static_assert(__builtin_offsetof(struct fuzz_regs, vec) == 160, "layout");

/*
 * void fuzz_enter(void): loads fuzz_in into every register (vectors as fuzz_use_ymm says),
 * RFLAGS last, records the flags and RSP in effect, makes the system call, and stores every
 * register, RFLAGS and the vectors in fuzz_out; then restores the caller's callee-saved
 * registers and RFLAGS (C code must not run with DF or AC set).
 */
#define VEC_LOAD(op, r, n) op " " #n "*32+160(%rax), %" r #n "\n"
#define VEC_STORE(op, r, n) op " %" r #n ", " #n "*32+160(%rax)\n"
#define VEC_ALL(m, op, r)                                                                          \
	m(op, r, 0) m(op, r, 1) m(op, r, 2) m(op, r, 3) m(op, r, 4) m(op, r, 5) m(op, r, 6)        \
		m(op, r, 7) m(op, r, 8) m(op, r, 9) m(op, r, 10) m(op, r, 11) m(op, r, 12)         \
			m(op, r, 13) m(op, r, 14) m(op, r, 15)
__asm__(".text\n"
	".globl fuzz_enter\n"
	".type fuzz_enter, @function\n"
	"fuzz_enter:\n"
	"push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n pushfq\n"
	"lea fuzz_in(%rip), %rax\n"
	"cmpl $0, fuzz_use_ymm(%rip)\n"
	"je 1f\n" VEC_ALL(
		VEC_LOAD, "vmovdqu",
		"ymm") "jmp 2f\n"
		       "1:\n" VEC_ALL(
			       VEC_LOAD, "movdqu",
			       "xmm") "2:\n"
				      "pushq 128(%rax)\n"
				      "mov 8(%rax), %rbx\n mov 16(%rax), %rcx\n mov 24(%rax), "
				      "%rdx\n mov 32(%rax), %rsi\n"
				      "mov 40(%rax), %rdi\n mov 48(%rax), %rbp\n mov 64(%rax), "
				      "%r8\n mov 72(%rax), %r9\n"
				      "mov 80(%rax), %r10\n mov 88(%rax), %r11\n mov 96(%rax), "
				      "%r12\n mov 104(%rax), %r13\n"
				      "mov 112(%rax), %r14\n mov 120(%rax), %r15\n mov 0(%rax), "
				      "%rax\n"
				      "popfq\n"
				      "pushfq\n popq fuzz_in+136(%rip)\n"
				      "mov %rsp, fuzz_in+144(%rip)\n"
				      "syscall\n"
				      ".globl fuzz_after_syscall\n"
				      "fuzz_after_syscall:\n"
				      "mov %rax, fuzz_out+0(%rip)\n mov %rbx, fuzz_out+8(%rip)\n "
				      "mov %rcx, fuzz_out+16(%rip)\n"
				      "mov %rdx, fuzz_out+24(%rip)\n mov %rsi, fuzz_out+32(%rip)\n "
				      "mov %rdi, fuzz_out+40(%rip)\n"
				      "mov %rbp, fuzz_out+48(%rip)\n mov %rsp, fuzz_out+56(%rip)\n "
				      "mov %r8, fuzz_out+64(%rip)\n"
				      "mov %r9, fuzz_out+72(%rip)\n mov %r10, fuzz_out+80(%rip)\n "
				      "mov %r11, fuzz_out+88(%rip)\n"
				      "mov %r12, fuzz_out+96(%rip)\n mov %r13, fuzz_out+104(%rip)\n"
				      "mov %r14, fuzz_out+112(%rip)\n mov %r15, "
				      "fuzz_out+120(%rip)\n"
				      "pushfq\n popq fuzz_out+128(%rip)\n"
				      "lea fuzz_out(%rip), %rax\n"
				      "cmpl $0, fuzz_use_ymm(%rip)\n"
				      "je 3f\n" VEC_ALL(
					      VEC_STORE, "vmovdqu",
					      "ymm") "vzeroupper\n jmp 4f\n"
						     "3:\n" VEC_ALL(
							     VEC_STORE, "movdqu",
							     "xmm") "4:\n"
								    "popfq\n pop %r15\n pop %r14\n "
								    "pop %r13\n pop %r12\n pop "
								    "%rbp\n pop %rbx\n ret\n"
								    ".size fuzz_enter, . - "
								    "fuzz_enter\n");

/* True when the kernel has enabled AVX state (CR4.OSXSAVE and XCR0 bits 1-2): YMM can be used. */
static int ymm_usable(void)
{
	unsigned a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return (a & 6) == 6;
}

static unsigned long rng;

/* xorshift64*: fast, and the same sequence for the same seed on every machine. */
static unsigned long next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dUL;
}

/* Spreads @seed over the state (splitmix64's finaliser, a bijection): every seed its own run. */
static void seed_rng(unsigned long seed)
{
	unsigned long z = seed + 0x9e3779b97f4a7c15UL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
	rng = (z ^ (z >> 31)) ?: 0x5eed; /* xorshift's one forbidden state */
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

/* Argument blocks for the tamed calls: the kernel only reads these. */
static const char *const spawn_paths[] = { "/bin/nop", "/etc/motd", "/bin/no-such-program",
					   "",	       "/bin/nop/", "bin/nop" };
static char status_arg[4];
static char *nop_argv[] = { "/bin/nop", status_arg, NULL };
static char *bad_argv[] = { "/bin/nop", (char *)0x1, NULL };
static struct timespec sleep_req;

static long bad_pointer(void)
{
	static const unsigned long bad[] = { 0,
					     1,
					     0xffff800000000000UL,
					     0xffffffff80000000UL,
					     0x0000800000000000UL,
					     0x00005a5a00000000UL };

	return (long)bad[next() % (sizeof(bad) / sizeof(bad[0]))];
}

static void tame_spawn(long a[6])
{
	unsigned long r = next() % 16;

	/* The path: most spawns fail before running anything; /bin/nop is the one program run. */
	if (r < 10)
		a[0] = (long)spawn_paths[next() % (sizeof(spawn_paths) / sizeof(spawn_paths[0]))];
	else if (r < 14)
		a[0] = bad_pointer();
	else
		a[0] = (long)spawn_paths[0];
	switch (next() % 5) {
	case 0:
		a[1] = 0;
		break;
	case 1:
		a[1] = (long)bad_argv;
		break;
	case 2:
		a[1] = bad_pointer();
		break;
	default:
		snprintf(status_arg, sizeof(status_arg), "%lu", next() % 256);
		a[1] = (long)nop_argv;
	}
	/* The flags: the synchronous form (a child left running would hold frames), or bad ones. */
	a[2] = next() % 8 ? 0 : (long)(next() | 2);
}

static void tame_arch_prctl(long a[6])
{
	static const long codes[] = { ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS };

	if (next() % 8)
		a[0] = codes[next() % 4];
	if (a[0] == ARCH_GET_FS || a[0] == ARCH_GET_GS)
		a[1] = next() % 2 ? (long)window_addr() : bad_pointer();
}

static void tame_nanosleep(long a[6])
{
	switch (next() % 16) {
	case 0: /* a real sleep: at most a microsecond, which may still wait for a tick */
		sleep_req = (struct timespec){ 0, (long)(next() % 1000) };
		a[0] = (long)&sleep_req;
		break;
	case 1:
	case 2:
	case 3:
		sleep_req =
			(struct timespec){ (long)next() | (1L << 63), 0 }; /* negative: EINVAL */
		a[0] = (long)&sleep_req;
		break;
	case 4:
	case 5:
	case 6:
		sleep_req =
			(struct timespec){ 0, 1000000000L + (long)(next() % 1000) }; /* EINVAL */
		a[0] = (long)&sleep_req;
		break;
	default:
		a[0] = bad_pointer();
	}
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
	case DYAD_SYS_SPAWN:
		tame_spawn(a);
		break;
	case SYS_arch_prctl:
		tame_arch_prctl(a);
		break;
	case SYS_nanosleep:
		tame_nanosleep(a);
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
	SYS_read,	    SYS_write,	    SYS_open,	    SYS_close,		 SYS_fstat,
	SYS_lseek,	    SYS_mmap,	    SYS_mprotect,   SYS_munmap,		 SYS_brk,
	SYS_rt_sigprocmask, SYS_ioctl,	    SYS_writev,	    SYS_nanosleep,	 SYS_getpid,
	SYS_uname,	    SYS_getuid,	    SYS_getgid,	    SYS_geteuid,	 SYS_getegid,
	SYS_getppid,	    SYS_arch_prctl, SYS_gettid,	    SYS_set_tid_address, SYS_clock_gettime,
	SYS_openat,	    DYAD_SYS_SPAWN, DYAD_SYS_STATS, DYAD_SYS_VM_QUERY,
	SYS_sched_yield,    SYS_sched_getaffinity, SYS_sched_setaffinity,
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

/* ---- what a call may return ----------------------------------------------------------- */

#define E(e) ((unsigned __int128)1 << (e)) /* wider than 64 bits: EOPNOTSUPP is 95 */
/* How a successful result looks. */
enum success {
	S_ZERO, /* 0 */
	S_COUNT, /* 0 .. the length argument a[2] */
	S_NONNEG, /* >= 0 */
	S_FD, /* a descriptor above stdio */
	S_ADDR, /* a page-aligned user address */
	S_BRK, /* a user address, and never an error: brk reports the break */
	S_PID, /* > 0 */
	S_STATUS, /* an exit status, 0..255 */
};

struct call_rule {
	long nr;
	const char *name;
	enum success ok;
	unsigned __int128 errnos; /* E(errno) for each errno the call may return */
};

/* Linux's results and errors for each call Dyad implements, as far as Dyad can meet them. */
static const struct call_rule rules[] = {
	{ SYS_read, "read", S_COUNT, E(EBADF) | E(EINVAL) | E(EFAULT) },
	{ SYS_write, "write", S_COUNT, E(EBADF) | E(EINVAL) | E(EFAULT) },
	{ SYS_open, "open", S_FD, E(ENOENT) | E(EFAULT) | E(EROFS) | E(EMFILE) | E(ENAMETOOLONG) },
	{ SYS_openat, "openat", S_FD,
	  E(ENOENT) | E(EFAULT) | E(EROFS) | E(EMFILE) | E(ENAMETOOLONG) | E(EBADF) },
	{ SYS_close, "close", S_ZERO, E(EBADF) },
	{ SYS_fstat, "fstat", S_ZERO, E(EBADF) | E(EFAULT) },
	{ SYS_lseek, "lseek", S_NONNEG, E(EBADF) | E(ESPIPE) | E(EINVAL) },
	{ SYS_fcntl, "fcntl", S_NONNEG, E(EBADF) | E(EINVAL) },
	{ SYS_mmap, "mmap", S_ADDR,
	  E(EINVAL) | E(ENOMEM) | E(EBADF) | E(EACCES) | E(EEXIST) | E(ENODEV) | E(EOPNOTSUPP) },
	{ SYS_mprotect, "mprotect", S_ZERO, E(EINVAL) | E(ENOMEM) | E(EACCES) },
	{ SYS_munmap, "munmap", S_ZERO, E(EINVAL) | E(ENOMEM) },
	{ SYS_brk, "brk", S_BRK, 0 },
	{ SYS_rt_sigprocmask, "rt_sigprocmask", S_ZERO, E(EINVAL) | E(EFAULT) },
	{ SYS_ioctl, "ioctl", S_ZERO, E(EBADF) | E(ENOTTY) | E(EFAULT) | E(EINVAL) },
	{ SYS_writev, "writev", S_NONNEG, E(EBADF) | E(EINVAL) | E(EFAULT) },
	{ SYS_nanosleep, "nanosleep", S_ZERO, E(EFAULT) | E(EINVAL) },
	{ SYS_getpid, "getpid", S_PID, 0 },
	{ SYS_gettid, "gettid", S_PID, 0 },
	{ SYS_getppid, "getppid", S_NONNEG, 0 },
	{ SYS_uname, "uname", S_ZERO, E(EFAULT) },
	{ SYS_getuid, "getuid", S_ZERO, 0 },
	{ SYS_getgid, "getgid", S_ZERO, 0 },
	{ SYS_geteuid, "geteuid", S_ZERO, 0 },
	{ SYS_getegid, "getegid", S_ZERO, 0 },
	{ SYS_arch_prctl, "arch_prctl", S_ZERO, E(EINVAL) | E(EPERM) | E(EFAULT) },
	{ SYS_set_tid_address, "set_tid_address", S_PID, 0 },
	{ SYS_clock_gettime, "clock_gettime", S_ZERO, E(EINVAL) | E(EFAULT) },
	{ DYAD_SYS_SPAWN, "dyad_spawn", S_STATUS,
	  E(ENOENT) | E(ENOEXEC) | E(EFAULT) | E(E2BIG) | E(ENAMETOOLONG) | E(ENOMEM) | E(EAGAIN) |
		  E(EINVAL) },
	{ SYS_sched_yield, "sched_yield", S_ZERO, 0 },
	{ SYS_sched_getaffinity, "sched_getaffinity", S_NONNEG, E(EINVAL) | E(EFAULT) | E(ESRCH) },
	{ SYS_sched_setaffinity, "sched_setaffinity", S_ZERO, E(EINVAL) | E(EFAULT) | E(ESRCH) },
	{ DYAD_SYS_STATS, "dyad_stats", S_ZERO, E(EFAULT) },
	{ DYAD_SYS_VM_QUERY, "dyad_vm_query", S_ZERO, E(EINVAL) | E(EFAULT) },
	{ DYAD_SYS_VM_CREATE, "dyad_vm_create", S_FD,
	  E(ENODEV) | E(EINVAL) | E(EBUSY) | E(EMFILE) | E(ENOMEM) },
};

static const struct call_rule *rule_of(long nr)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].nr == nr)
			return &rules[i];
	return NULL;
}

/* Returns NULL when @r is a result call @nr with arguments @a may give, else what is wrong. */
static const char *result_wrong(long nr, const long a[6], long r)
{
	const struct call_rule *rule = rule_of(nr);

	if (!rule)
		return r == -ENOSYS ? NULL : "a call Dyad does not implement must be ENOSYS";
	if (r < 0 && r >= -MAX_ERRNO) {
		if (rule->ok == S_BRK)
			return "brk never fails: it reports the current break";
		return -r < 128 && (rule->errnos & E(-r)) ? NULL
							  : "an errno this call may not return";
	}
	switch (rule->ok) {
	case S_ZERO:
		return r == 0 ? NULL : "success must be 0";
	case S_COUNT:
		return r >= 0 && r <= a[2] ? NULL : "a count beyond the length asked";
	case S_NONNEG:
		return r >= 0 ? NULL : "a negative result that is no errno";
	case S_FD:
		return r >= 3 && r < DYAD_MAX_FDS ? NULL : "not a descriptor above stdio";
	case S_ADDR:
		return r > 0 && (unsigned long)r < USER_TOP && !(r & 4095)
			       ? NULL
			       : "not a page-aligned user address";
	case S_BRK:
		return r > 0 && (unsigned long)r < USER_TOP ? NULL : "not a user address";
	case S_PID:
		return r > 0 ? NULL : "not a process id";
	case S_STATUS:
		return r >= 0 && r <= 255 ? NULL : "not an exit status";
	}
	return "no rule";
}

static const char *name_of(long nr)
{
	const struct call_rule *rule = rule_of(nr);

	return rule ? rule->name : "(not implemented)";
}

/* ---- the run --------------------------------------------------------------------------- */

static unsigned long by_errno[MAX_ERRNO + 1];
static struct {
	unsigned long addr, len;
} tracked[MAX_TRACKED];
static unsigned n_tracked;
static unsigned long bad_results, bad_regs, bad_flags, bad_fs;

static void report_call(const char *kind, unsigned long *count, long i, long nr, const long a[6],
			long r)
{
	if ((*count)++ >= MAX_REPORTS)
		return;
	printf("#   %s: call %ld: %s (%ld)(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) = %ld (%#lx)\n",
	       kind, i, name_of(nr), nr, a[0], a[1], a[2], a[3], a[4], a[5], r, r);
}

static void random_regs(long nr, const long a[6])
{
	for (int k = 0; k < 16; k++)
		fuzz_in.gpr[k] = next() % 2 ? next() : (unsigned long)random_arg();
	fuzz_in.gpr[R_AX] = nr;
	fuzz_in.gpr[R_DI] = a[0];
	fuzz_in.gpr[R_SI] = a[1];
	fuzz_in.gpr[R_DX] = a[2];
	fuzz_in.gpr[R_10] = a[3];
	fuzz_in.gpr[R_8] = a[4];
	fuzz_in.gpr[R_9] = a[5];
	fuzz_in.rflags = RFLAGS_FIXED | (next() & RFLAGS_FUZZED);
	for (int v = 0; v < 16; v++)
		for (int q = 0; q < 32; q += 8) {
			unsigned long x = next();
			memcpy(&fuzz_in.vec[v][q], &x, 8);
		}
}

/* Checks the register contract of the call just made; prints the first differences. */
static void check_regs(long i, long nr)
{
	unsigned long flags_in = fuzz_in.rflags_set & ~RFLAGS_RF;
	int vec_bytes = fuzz_use_ymm ? 32 : 16;
	char what[96];
	int bad = 0;

	for (int k = 0; k < 16; k++) {
		unsigned long want = fuzz_in.gpr[k];
		if (k == R_AX)
			continue;
		if (k == R_SP)
			want = fuzz_in.rsp;
		else if (k == R_CX)
			want = (unsigned long)fuzz_after_syscall;
		else if (k == R_11)
			want = flags_in;
		if (fuzz_out.gpr[k] != want && bad++ < 3 && bad_regs < MAX_REPORTS)
			printf("#   call %ld (%s): %s %#lx, want %#lx\n", i, name_of(nr),
			       gpr_name[k], fuzz_out.gpr[k], want);
	}
	for (int v = 0; v < 16; v++) {
		if (!memcmp(fuzz_out.vec[v], fuzz_in.vec[v], vec_bytes))
			continue;
		snprintf(what, sizeof(what), "%smm%d changed", fuzz_use_ymm ? "y" : "x", v);
		if (bad++ < 3 && bad_regs < MAX_REPORTS)
			printf("#   call %ld (%s): %s\n", i, name_of(nr), what);
	}
	if (bad)
		bad_regs++;
	if ((fuzz_out.rflags & ~RFLAGS_RF) != flags_in) {
		if (bad_flags++ < MAX_REPORTS)
			printf("#   call %ld (%s): RFLAGS %#lx after the call, %#lx before\n", i,
			       name_of(nr), fuzz_out.rflags, flags_in);
	}
}

/* After arch_prctl: checks what ARCH_SET_FS reported, then gives musl its thread pointer back. */
static void after_arch_prctl(long i, const long a[6], long r, unsigned long tp)
{
	unsigned long fs = 0;

	if (a[0] == ARCH_SET_FS && r == 0) {
		sys2(SYS_arch_prctl, ARCH_GET_FS, &fs);
		if ((unsigned long)a[1] != fs && bad_fs++ < MAX_REPORTS)
			printf("#   call %ld: ARCH_SET_FS %#lx succeeded, ARCH_GET_FS says %#lx\n",
			       i, a[1], fs);
	}
	sys2(SYS_arch_prctl, ARCH_SET_FS, tp);
}

/* Remembers a region mmap placed outside the window, to unmap it at the end. */
static void track(long nr, const long a[6], long r)
{
	unsigned long len = ((unsigned long)a[1] + 4095) & ~4095UL;

	if (nr != SYS_mmap || r < 0 ||
	    ((unsigned long)r >= WINDOW && (unsigned long)r < CANARY_ABOVE))
		return;
	if (n_tracked < MAX_TRACKED) {
		tracked[n_tracked].addr = r;
		tracked[n_tracked++].len = len;
	} else {
		sys2(SYS_munmap, r, len);
	}
}

static unsigned long free_frames(void)
{
	struct dyad_stats st = { 0 };

	dyad_stats(&st);
	return st.free_frames;
}

/*
 * Maps a read-only page at @addr holding @pattern and describes it in *@start; returns 0 or
 * -1. (Without NX a read-only page is executable too: the check compares with *@start.)
 */
static int map_canary(unsigned long addr, unsigned char pattern, struct dyad_vm_info *start)
{
	if (sys6(SYS_mmap, addr, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (long)addr)
		return -1;
	memset((void *)addr, pattern, 4096);
	if (sys3(SYS_mprotect, addr, 4096, PROT_READ) || dyad_vm_query((void *)addr, start) ||
	    !start->pa || (start->prot & PROT_WRITE))
		return -1;
	return 0;
}

/* The canary at @addr is still mapped as *@start says, and holds @pattern. */
static void check_canary(const char *which, unsigned long addr, unsigned char pattern,
			 const struct dyad_vm_info *start)
{
	struct dyad_vm_info now = { 0 };
	const unsigned char *p = (const unsigned char *)addr;
	int same = 1;

	dyad_vm_query(p, &now);
	if (!ut_ok(now.pa == start->pa && now.page_size == start->page_size &&
			   now.prot == start->prot && now.guest_visible == start->guest_visible,
		   "the canary %s the window is mapped as it was (frame %#lx, prot %#x)", which,
		   now.pa, now.prot))
		return;
	for (int k = 0; k < 4096; k++)
		same &= p[k] == pattern;
	ut_ok(same, "the canary %s the window holds its pattern", which);
}

/* Touches the stack deeper than the run goes, so its pages are not counted as the run's. */
static void __attribute__((noinline)) warm_stack(void)
{
	volatile char deep[64 * 1024];

	for (size_t k = 0; k < sizeof(deep); k += 4096)
		deep[k] = 0;
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : DEFAULT_SEED;
	long calls = argc > 2 ? strtol(argv[2], NULL, 0) : DEFAULT_CALLS;
	unsigned long ok = 0, skipped = 0, tp = 0, ran[3] = { 0 }, spawned = 0;
	long brk_start = sys1(SYS_brk, 0);

	ut_begin("fuzz");
	seed_rng(seed);
	fuzz_use_ymm = ymm_usable();
	printf("# fuzz: seed %#lx, %ld calls (run `fuzz SEED CALLS` to repeat); RFLAGS mask %#lx "
	       "vector registers %s\n",
	       seed, calls, RFLAGS_FUZZED,
	       fuzz_use_ymm ? "YMM0-15" : "XMM0-15 (no AVX state enabled)");
	if (!ut_eq(sys2(SYS_arch_prctl, ARCH_GET_FS, &tp), 0, "read musl's thread pointer"))
		return ut_end("fuzz");
	struct dyad_vm_info below = { 0 }, above = { 0 };
	if (!ut_ok(!map_canary(CANARY_BELOW, 0x5a, &below) &&
			   !map_canary(CANARY_ABOVE, 0xa5, &above),
		   "map the canaries at %#lx and %#lx", CANARY_BELOW, CANARY_ABOVE))
		return ut_end("fuzz");
	/* Everything the run itself touches is touched once before the count starts. */
	memset(by_errno, 0, sizeof(by_errno));
	memset(tracked, 0, sizeof(tracked));
	warm_stack();
	unsigned long free_start = free_frames();
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
		random_regs(nr, a);
		fuzz_enter();
		r = (long)fuzz_out.gpr[R_AX];
		if (nr == SYS_arch_prctl)
			after_arch_prctl(done, a, r,
					 tp); /* no C code that uses FS runs before this */
		check_regs(done, nr);
		const char *why = result_wrong(nr, a, r);
		if (why)
			report_call(why, &bad_results, done, nr, a, r);
		track(nr, a, r);
		spawned += nr == DYAD_SYS_SPAWN && r >= 0;
		if (r < 0 && r >= -MAX_ERRNO)
			by_errno[-r]++;
		else
			ok++;
		ran[rule_of(nr) ? (nr >= DYAD_SYS_BASE && nr < DYAD_SYS_BASE + DYAD_NRS ? 1 : 0)
				: 2]++;
		if (++done % 20000 == 0)
			printf("# fuzz: %ld calls\n", done);
	}

	printf("# fuzz: %lu implemented Linux calls, %lu Dyad calls, %lu others; %lu skipped, %lu "
	       "succeeded\n",
	       ran[0], ran[1], ran[2], skipped, ok);
	printf("# fuzz: %lu spawns ran /bin/nop to its exit\n", spawned);
	for (int e = 1; e <= MAX_ERRNO; e++)
		if (by_errno[e])
			printf("# fuzz: %lu x -%d (%s)\n", by_errno[e], e, strerror(e));
	ut_ok(bad_results == 0, "%ld calls: every result is one its call may give (%lu are not)",
	      calls, bad_results);
	ut_ok(bad_regs == 0, "every register but rax, rcx, r11 survives each call (%lu calls not)",
	      bad_regs);
	ut_ok(bad_flags == 0, "RFLAGS survives each call (%lu calls not)", bad_flags);
	ut_ok(bad_fs == 0, "ARCH_GET_FS reads back every successful ARCH_SET_FS (%lu not)", bad_fs);

	/*
	 * Give back what the run holds: the descriptors it opened (a VM descriptor holds the
	 * backend's pages), the window, the regions mmap placed, the grown heap.
	 */
	for (long fd = 3; fd < 1024; fd++)
		sys1(SYS_close, fd);
	ut_eq(sys2(SYS_munmap, WINDOW, WINDOW_SIZE), 0, "unmap the window");
	for (unsigned k = 0; k < n_tracked; k++)
		sys2(SYS_munmap, tracked[k].addr, tracked[k].len);
	ut_eq(sys1(SYS_brk, brk_start), brk_start, "put the break back at %#lx", brk_start);
	check_canary("below", CANARY_BELOW, 0x5a, &below);
	check_canary("above", CANARY_ABOVE, 0xa5, &above);
	unsigned long free_end = free_frames();
	ut_eq(free_end, free_start, "free frames are back at their start value (%lu, now %lu)",
	      free_start, free_end);
	return ut_end("fuzz");
}
