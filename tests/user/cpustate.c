// SPDX-License-Identifier: MIT
/*
 * CPU state across the kernel boundary.
 *
 * RFLAGS: every flag ring 3 can set (NT, AC, DF, ID and the arithmetic flags) is set around
 * system calls, spawn included, and while timer interrupts arrive; the kernel must clear them
 * on entry, survive, and give them back unchanged. TF is Linux's single step: the process gets
 * a debug trap after the system call returns, which without a handler ends it (as SIGTRAP
 * does on Linux), and the kernel goes on.
 *
 * FPU: the parent dirties x87, MXCSR, XMM0-15 and (with AVX) the upper YMM halves, then spawns
 * itself as a child that checks, at its ELF entry and before the C library runs, that all of
 * it is in the reset state: FCW 0x037f, MXCSR 0x1f80, every register zero. The parent's own
 * state must survive the spawn.
 *
 * Caching: SMSW shows that CR0.CD and NW are clear (firmware may leave them set).
 *
 * User memory through the kernel (SMAP on where the CPU has it): page 0, which a VMM maps
 * since it is guest-physical 0, and pages not yet faulted in, both read and written by system
 * calls.
 */
#include <cpuid.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "utest.h"

#define FL_CF (1UL << 0)
#define FL_PF (1UL << 2)
#define FL_AF (1UL << 4)
#define FL_ZF (1UL << 6)
#define FL_SF (1UL << 7)
#define FL_TF (1UL << 8)
#define FL_DF (1UL << 10)
#define FL_OF (1UL << 11)
#define FL_NT (1UL << 14)
#define FL_AC (1UL << 18)
#define FL_ID (1UL << 21)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define SELF "/bin/cpustate"

/* What the child saw at its ELF entry: the FXSAVE image and, with AVX, YMM0-15's upper halves. */
struct entry_state {
	unsigned char fx[512] __attribute__((aligned(16)));
	unsigned char ymm_hi[16][16];
	unsigned long avx; /* 1 if ymm_hi was filled */
};
struct entry_state cpustate_at_entry;

/*
 * The ELF entry (linked with -e cpustate_entry): records the vector state, then runs musl's
 * _start with every general register as the kernel left it (rsp and rdx matter to _start).
 */
__asm__(".text\n"
	".globl cpustate_entry\n"
	"cpustate_entry:\n\t"
	"fxsave64 cpustate_at_entry(%rip)\n\t"
	"movq %rbx, %r8\n\t"
	"movq %rdx, %r9\n\t"
	"movl $1, %eax\n\t"
	"cpuid\n\t"
	"andl $0x18000000, %ecx\n\t" /* OSXSAVE and AVX */
	"cmpl $0x18000000, %ecx\n\t"
	"jne 1f\n\t"
	"xorl %ecx, %ecx\n\t"
	"xgetbv\n\t"
	"andl $6, %eax\n\t" /* XCR0: SSE and AVX state enabled */
	"cmpl $6, %eax\n\t"
	"jne 1f\n\t"
	"leaq cpustate_at_entry+512(%rip), %rax\n\t"
	"vextractf128 $1, %ymm0, 0(%rax)\n\t"
	"vextractf128 $1, %ymm1, 16(%rax)\n\t"
	"vextractf128 $1, %ymm2, 32(%rax)\n\t"
	"vextractf128 $1, %ymm3, 48(%rax)\n\t"
	"vextractf128 $1, %ymm4, 64(%rax)\n\t"
	"vextractf128 $1, %ymm5, 80(%rax)\n\t"
	"vextractf128 $1, %ymm6, 96(%rax)\n\t"
	"vextractf128 $1, %ymm7, 112(%rax)\n\t"
	"vextractf128 $1, %ymm8, 128(%rax)\n\t"
	"vextractf128 $1, %ymm9, 144(%rax)\n\t"
	"vextractf128 $1, %ymm10, 160(%rax)\n\t"
	"vextractf128 $1, %ymm11, 176(%rax)\n\t"
	"vextractf128 $1, %ymm12, 192(%rax)\n\t"
	"vextractf128 $1, %ymm13, 208(%rax)\n\t"
	"vextractf128 $1, %ymm14, 224(%rax)\n\t"
	"vextractf128 $1, %ymm15, 240(%rax)\n\t"
	"movq $1, 256(%rax)\n"
	"1:\n\t"
	"xorl %eax, %eax\n\t"
	"xorl %ecx, %ecx\n\t"
	"movq %r8, %rbx\n\t"
	"movq %r9, %rdx\n\t"
	"xorl %r8d, %r8d\n\t"
	"xorl %r9d, %r9d\n\t"
	"jmp _start\n");

/* True when the CPU and the kernel let ring 3 use AVX (CPUID OSXSAVE and AVX, XCR0 SSE|AVX). */
static int avx_usable(void)
{
	unsigned a, b, c, d;

	__cpuid(1, a, b, c, d);
	if ((c & (3u << 27)) != (3u << 27))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return (a & 6) == 6;
}

/*
 * One system call with @set ORed into RFLAGS for it; the flags are cleared again before any
 * compiled code runs. *after is RFLAGS right after the call returned. The red zone is stepped
 * over since pushfq writes below rsp.
 */
static long syscall_with_flags(unsigned long set, long nr, long a, long b, long c,
			       unsigned long *after)
{
	long ret;
	unsigned long fl;

	__asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
			 "pushfq\n\t"
			 "orq %[set], (%%rsp)\n\t"
			 "popfq\n\t"
			 "syscall\n\t"
			 "pushfq\n\t"
			 "popq %[fl]\n\t"
			 "pushfq\n\t"
			 "andq %[clr], (%%rsp)\n\t"
			 "popfq\n\t"
			 "leaq 128(%%rsp), %%rsp"
			 : "=a"(ret), [fl] "=&r"(fl)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), [set] "r"(set), [clr] "r"(~set)
			 : "rcx", "r11", "memory", "cc");
	*after = fl;
	return ret;
}

/*
 * Spins @n iterations with @set in RFLAGS, so that timer interrupts arrive from that state; the
 * loop itself rewrites the arithmetic flags.
 */
static unsigned long spin_with_flags(unsigned long set, unsigned long n)
{
	unsigned long fl;

	__asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"
			 "pushfq\n\t"
			 "orq %[set], (%%rsp)\n\t"
			 "popfq\n"
			 "1:\tdecq %[n]\n\t"
			 "jnz 1b\n\t"
			 "pushfq\n\t"
			 "popq %[fl]\n\t"
			 "pushfq\n\t"
			 "andq %[clr], (%%rsp)\n\t"
			 "popfq\n\t"
			 "leaq 128(%%rsp), %%rsp"
			 : [n] "+r"(n), [fl] "=&r"(fl)
			 : [set] "r"(set), [clr] "r"(~set)
			 : "memory", "cc");
	return fl;
}

static void flags_survive(const char *what, unsigned long set)
{
	static const char msg[] = "# a write with odd RFLAGS\n";
	char *nop_argv[] = { "/bin/nop", NULL };
	unsigned long after;
	long pid = sys0(SYS_getpid);
	int bad = 0;

	fflush(stdout);
	if (syscall_with_flags(set, SYS_getpid, 0, 0, 0, &after) != pid || (after & set) != set)
		bad |= 1;
	if (syscall_with_flags(set, SYS_write, 1, (long)msg, sizeof(msg) - 1, &after) !=
	    (long)sizeof(msg) - 1)
		bad |= 2;
	if ((after & set) != set)
		bad |= 2;
	if (syscall_with_flags(set, DYAD_SYS_SPAWN, (long)"/bin/nop", (long)nop_argv, 0, &after) !=
		    0 ||
	    (after & set) != set)
		bad |= 4;
	if (syscall_with_flags(set, DYAD_SYS_SPAWN, (long)"/bin/none", (long)nop_argv, 0, &after) !=
		    -2 ||
	    (after & set) != set)
		bad |= 8;
	if ((spin_with_flags(set, 5000000) & set & ~FL_ARITH) != (set & ~FL_ARITH))
		bad |= 16;
	ut_eq(bad, 0, "%s (%#lx) set: getpid, write, spawn, a failed spawn, interrupts", what, set);
}

/* Child mode "tf": single-steps out of a system call; the debug trap must end only this process. */
static int single_step(void)
{
	unsigned long after;

	syscall_with_flags(FL_TF, SYS_getpid, 0, 0, 0, &after);
	return 0; /* not reached: the trap after the system call ends the process */
}

/* Child mode "fpu": 0 if the state at entry was the reset state; prints what was not. */
static int fpu_is_clean(void)
{
	const struct entry_state *s = &cpustate_at_entry;
	unsigned short fcw, fsw;
	unsigned int mxcsr;
	int bad = 0;

	memcpy(&fcw, s->fx + 0, 2);
	memcpy(&fsw, s->fx + 2, 2);
	memcpy(&mxcsr, s->fx + 24, 4);
	if (fcw != 0x037f || fsw != 0 || s->fx[4] != 0 || mxcsr != 0x1f80) {
		printf("#   child: FCW %#x FSW %#x FTW %#x MXCSR %#x\n", fcw, fsw, s->fx[4], mxcsr);
		bad++;
	}
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 10; j++)
			if (s->fx[32 + 16 * i + j]) {
				printf("#   child: ST%d byte %d is %#x\n", i, j,
				       s->fx[32 + 16 * i + j]);
				bad++;
				break;
			}
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++)
			if (s->fx[160 + 16 * i + j]) {
				printf("#   child: XMM%d byte %d is %#x\n", i, j,
				       s->fx[160 + 16 * i + j]);
				bad++;
				break;
			}
	for (int i = 0; s->avx && i < 16; i++)
		for (int j = 0; j < 16; j++)
			if (s->ymm_hi[i][j]) {
				printf("#   child: YMM%d byte %d is %#x\n", i, 16 + j,
				       s->ymm_hi[i][j]);
				bad++;
				break;
			}
	if (!s->avx && avx_usable()) {
		printf("#   child: AVX usable but not seen at entry\n");
		bad++;
	}
	return bad;
}

/* A pattern in XMM0-15 (and YMM upper halves), x87 and MXCSR; then spawn; then compare. */
static void fpu_not_inherited(void)
{
	static unsigned char pat[32] __attribute__((aligned(32)));
	unsigned char back[16][32];
	char *argv[] = { SELF, "fpu", NULL };
	unsigned short fcw = 0x027f, fcw_after; /* 53-bit precision: differs from the reset 0x37f */
	unsigned int mxcsr = 0x9fc0, mxcsr_after; /* flush-to-zero, denormals-are-zero */
	int avx = avx_usable();
	long st;

	for (int i = 0; i < 32; i++)
		pat[i] = 0xa0 + i;
	fflush(stdout);
	/* Nothing compiled may run between dirtying and the spawn, or back: it may use XMM. */
	if (avx)
		__asm__ volatile("vmovdqa %[p], %%ymm0\n\t"
				 "vmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm2\n\t"
				 "vmovdqa %%ymm0, %%ymm3\n\tvmovdqa %%ymm0, %%ymm4\n\t"
				 "vmovdqa %%ymm0, %%ymm5\n\tvmovdqa %%ymm0, %%ymm6\n\t"
				 "vmovdqa %%ymm0, %%ymm7\n\tvmovdqa %%ymm0, %%ymm8\n\t"
				 "vmovdqa %%ymm0, %%ymm9\n\tvmovdqa %%ymm0, %%ymm10\n\t"
				 "vmovdqa %%ymm0, %%ymm11\n\tvmovdqa %%ymm0, %%ymm12\n\t"
				 "vmovdqa %%ymm0, %%ymm13\n\tvmovdqa %%ymm0, %%ymm14\n\t"
				 "vmovdqa %%ymm0, %%ymm15"
				 :
				 : [p] "m"(pat)
				 : "memory");
	else
		__asm__ volatile("movdqa %[p], %%xmm0\n\t"
				 "movdqa %%xmm0, %%xmm1\n\tmovdqa %%xmm0, %%xmm2\n\t"
				 "movdqa %%xmm0, %%xmm3\n\tmovdqa %%xmm0, %%xmm4\n\t"
				 "movdqa %%xmm0, %%xmm5\n\tmovdqa %%xmm0, %%xmm6\n\t"
				 "movdqa %%xmm0, %%xmm7\n\tmovdqa %%xmm0, %%xmm8\n\t"
				 "movdqa %%xmm0, %%xmm9\n\tmovdqa %%xmm0, %%xmm10\n\t"
				 "movdqa %%xmm0, %%xmm11\n\tmovdqa %%xmm0, %%xmm12\n\t"
				 "movdqa %%xmm0, %%xmm13\n\tmovdqa %%xmm0, %%xmm14\n\t"
				 "movdqa %%xmm0, %%xmm15"
				 :
				 : [p] "m"(pat)
				 : "memory");
	__asm__ volatile("fldpi\n\tfstp %%st(0)\n\t" /* leaves pi in a physical register */
			 "fldcw %[fcw]\n\tldmxcsr %[mx]\n\t"
			 "syscall\n\t"
			 "fnstcw %[fcwa]\n\tstmxcsr %[mxa]"
			 : "=a"(st), [fcwa] "=m"(fcw_after), [mxa] "=m"(mxcsr_after)
			 : "0"((long)DYAD_SYS_SPAWN), "D"(SELF),
			   "S"(argv), "d"(0L), [fcw] "m"(fcw), [mx] "m"(mxcsr)
			 : "rcx", "r11", "memory");
	if (avx)
		__asm__ volatile("vmovdqu %%ymm0, 0(%0)\n\tvmovdqu %%ymm7, 32(%0)\n\t"
				 "vmovdqu %%ymm15, 64(%0)\n\tvzeroupper"
				 :
				 : "r"(back)
				 : "memory");
	else
		__asm__ volatile("movdqu %%xmm0, 0(%0)\n\tmovdqu %%xmm7, 32(%0)\n\t"
				 "movdqu %%xmm15, 64(%0)"
				 :
				 : "r"(back)
				 : "memory");
	/* Back to the usual x87 and SSE modes before any library code runs. */
	unsigned short fcw0 = 0x037f;
	unsigned int mx0 = 0x1f80;
	__asm__ volatile("fldcw %0\n\tldmxcsr %1" : : "m"(fcw0), "m"(mx0));

	ut_eq(st, 0, "a child spawned with dirty x87/SSE%s state starts from the reset state",
	      avx ? "/AVX" : "");
	ut_ok(fcw_after == fcw && mxcsr_after == mxcsr,
	      "the parent's FCW (%#x) and MXCSR (%#x) survive the spawn", fcw_after, mxcsr_after);
	int same = 1;
	for (int r = 0; r < 3; r++)
		same &= memcmp(back[r], pat, avx ? 32 : 16) == 0;
	ut_ok(same, "the parent's XMM%s registers survive the spawn", avx ? "/YMM" : "");
	if (!avx)
		printf("# AVX is not usable here: only XMM and x87 state were checked\n");
}

static void *map_page(unsigned long addr, int flags)
{
	return (void *)sys6(SYS_mmap, addr, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

static void uaccess_reaches_page0_and_fresh_pages(void)
{
	static const char line[] = "# a line the kernel read from page 0\n";
	char *p = map_page(0, MAP_FIXED);
	struct timespec ts = { 0 };

	if (!ut_eq((long)p, 0, "MAP_FIXED maps page 0"))
		return;
	__asm__("" : "+r"(p)); /* p is 0: keep the compiler from reasoning about it */
	memcpy(p, "/bin/nop", 9);
	memcpy(p + 16, line, sizeof(line) - 1);
	fflush(stdout);
	ut_eq(sys3(SYS_write, 1, p + 16, sizeof(line) - 1), sizeof(line) - 1,
	      "write from page 0 returns its length");
	char *argv[] = { p, NULL };
	ut_eq(dyad_spawn(p, argv), 0, "spawn with its path and argv[0] at address 0");
	ut_eq(sys2(SYS_clock_gettime, CLOCK_MONOTONIC, p + 64), 0, "clock_gettime into page 0");
	memcpy(&ts, p + 64, sizeof(ts));
	ut_ok(ts.tv_sec || ts.tv_nsec, "the kernel's write to page 0 landed (%ld.%09ld)",
	      (long)ts.tv_sec, (long)ts.tv_nsec);
	sys2(SYS_munmap, p, 4096);

	/* A page nothing has touched: the kernel's own access faults it in, inside uaccess. */
	char *q = map_page(0, 0);
	if (!ut_ok((long)q > 0, "mmap of a fresh page (%p)", q))
		return;
	unsigned long before = 0, after = 0;
	struct dyad_stats st;
	dyad_stats(&st);
	before = st.page_faults;
	long r = sys2(SYS_clock_gettime, CLOCK_MONOTONIC, q + 128);
	dyad_stats(&st);
	after = st.page_faults;
	ut_ok(r == 0 && after == before + 1,
	      "clock_gettime into an untouched page: %ld, %lu fault(s) served", r, after - before);
	sys2(SYS_munmap, q, 4096);
}

/*
 * Caching is on for user code: CR0.CD and CR0.NW are clear. SMSW is the one window ring 3 has
 * on CR0 (the kernel does not set CR4.UMIP); its 64-bit form returns the whole register on
 * Intel, AMD and the emulators, although the SDM leaves bits 16 and up undefined.
 */
static void caching_is_on(void)
{
	unsigned long cr0;

	__asm__ volatile("smsw %0" : "=r"(cr0));
	ut_ok(!(cr0 & ((1UL << 30) | (1UL << 29))),
	      "SMSW from ring 3 reads CR0 %#lx: CD and NW clear, caching on", cr0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "fpu") == 0)
		return fpu_is_clean();
	if (argc > 1 && strcmp(argv[1], "tf") == 0)
		return single_step();

	ut_begin("cpustate");
	flags_survive("NT", FL_NT);
	flags_survive("AC", FL_AC);
	flags_survive("DF", FL_DF);
	flags_survive("ID", FL_ID);
	flags_survive("arithmetic flags", FL_ARITH);
	flags_survive("NT|AC|DF|ID and arithmetic flags", FL_NT | FL_AC | FL_DF | FL_ID | FL_ARITH);

	char *tf_argv[] = { SELF, "tf", NULL };
	fflush(stdout);
	ut_eq(dyad_spawn(SELF, tf_argv), DYAD_KILLED_STATUS,
	      "a process that single-steps out of a system call gets a debug trap and ends");
	ut_eq(sys0(SYS_getpid) > 0, 1, "the kernel goes on after it");

	fpu_not_inherited();
	caching_is_on();
	uaccess_reaches_page0_and_fresh_pages();
	return ut_end("cpustate");
}
