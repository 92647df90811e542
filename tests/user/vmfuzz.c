// SPDX-License-Identifier: MIT
/*
 * A fuzzer of the vCPU interface: random VM and vCPU descriptor calls, random register and
 * segment state, random run-page contents (events, requests, registers), random MSRs and
 * random guest code, from a fixed seed it prints (argv[1] replays another). Every RUN has a
 * deadline a millisecond away, so no guest can hold the VMM. It passes when the kernel
 * survives, every result is one the call may give, and free memory is back at its baseline
 * once the descriptors are closed.
 */
#include <stdlib.h>

#include "vm_lib.h"

#define CALLS 12000
#define DEFAULT_SEED 0x5eed0fd7a1UL
#define MAX_FDS 8

DECLARE_GUEST(rm_io);
DECLARE_GUEST(lm_rw);
DECLARE_GUEST(lm_irq);
DECLARE_GUEST(lm_spin);

static unsigned long state;

static unsigned long next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static int fds[MAX_FDS], nfds;
static struct dyad_run *run; /* the current vCPU's run page, if mapped */
static int run_fd = -1;
static unsigned long bad, calls, runs, exits[DYAD_EXIT_REASONS + 1];

/* A result the call may not give: reported once per kind, counted always. */
static void check(int ok, const char *call, long r)
{
	calls++;
	if (!ok && bad++ < 10)
		printf("#   %s returned %ld\n", call, r);
}

static int pick_fd(void)
{
	unsigned long k = next() % 10;

	if (k < 8 && nfds)
		return fds[next() % nfds];
	return (int)(next() % 12) - 1; /* stdio, holes, -1 */
}

static void forget_fd(int fd)
{
	for (int i = 0; i < nfds; i++)
		if (fds[i] == fd)
			fds[i] = fds[--nfds];
	if (fd == run_fd) {
		run_fd = -1;
		if (run)
			sys2(__NR_munmap, run, DYAD_RUN_SIZE);
		run = NULL;
	}
}

static void fill_random(void *p, size_t n)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)next();
}

/* An argument pointer: a valid buffer, NULL, a kernel address, or an unmapped one. */
static void *random_ptr(void *valid)
{
	switch (next() % 8) {
	case 0:
		return NULL;
	case 1:
		return (void *)0xffff800000001000UL;
	case 2:
		return (void *)0x7ff0000000UL;
	default:
		return valid;
	}
}

static void op_create(void)
{
	long r = dyad_vm_create(next() % 4 == 0 ? next() : 0);

	check(r >= 0 || r == -EBUSY || r == -EINVAL || r == -EMFILE || r == -ENOMEM, "vm_create",
	      r);
	if (r >= 0 && nfds < MAX_FDS)
		fds[nfds++] = (int)r;
	else if (r >= 0)
		vm_close((int)r);
}

static void op_close(void)
{
	int fd = pick_fd();

	if (fd >= 0 && fd <= 2)
		return; /* keep stdio */
	long r = vm_close(fd);
	check(r == 0 || r == -EBADF, "close", r);
	if (r == 0)
		forget_fd(fd);
}

static void op_mmap(void)
{
	static const int flag_sets[] = { MAP_SHARED, MAP_PRIVATE, MAP_SHARED | DYAD_MAP_GUEST,
					 MAP_SHARED | MAP_FIXED, MAP_SHARED | DYAD_MAP_HUGE };
	int fd = pick_fd();
	int prot = (int)(next() % 8);
	int flags = flag_sets[next() % 5];
	unsigned long len = next() % 3 == 0 ? next() % 20000 : DYAD_RUN_SIZE;
	unsigned long off = next() % 4 == 0 ? next() % 8192 : 0;
	void *addr = (flags & MAP_FIXED) ? (void *)0x6000000000UL : NULL;
	long r = vm_mmap(addr, len, prot, flags, fd, off);

	check((r > 0 && !(r & 4095)) || r == -EINVAL || r == -EBADF || r == -EACCES ||
		      r == -ENODEV || r == -ENOMEM || r == -EEXIST,
	      "mmap", r);
	if (r <= 0)
		return;
	/* Only a mapping no later MAP_FIXED can replace is kept. */
	if (!run && run_fd < 0 && (prot & PROT_WRITE) && (prot & PROT_READ) && !addr) {
		run = (struct dyad_run *)r; /* keep it: RUN needs a deadline set here */
		run_fd = fd;
	} else {
		sys2(__NR_munmap, r, len);
	}
}

static void op_ioctl(void)
{
	static const unsigned long reqs[] = { DYAD_VM_CREATE_VCPU,
					      DYAD_VCPU_GET_SREGS,
					      DYAD_VCPU_SET_SREGS,
					      DYAD_VCPU_GET_MSRS,
					      DYAD_VCPU_SET_MSRS,
					      0x5401,
					      0xd7a6 };
	static struct {
		struct dyad_msrs h;
		struct dyad_msr_entry e[DYAD_MSRS_MAX + 1];
	} buf;
	int fd = pick_fd();
	unsigned long req = next() % 16 == 0 ? next() : reqs[next() % 7];

	fill_random(&buf, sizeof(buf));
	if (req == DYAD_VCPU_GET_MSRS || req == DYAD_VCPU_SET_MSRS) {
		static const unsigned idx[] = {
			DYAD_MSR_TSC,	      DYAD_MSR_EFER, DYAD_MSR_STAR,
			DYAD_MSR_LSTAR,	      DYAD_MSR_PAT,  DYAD_MSR_FS_BASE,
			DYAD_MSR_SYSENTER_CS, 0x1b,	     0xc0010117
		};
		buf.h.nmsrs = (unsigned)(next() % (DYAD_MSRS_MAX + 3));
		for (unsigned i = 0; i <= DYAD_MSRS_MAX; i++)
			buf.e[i].index = next() % 4 ? idx[next() % 9] : (unsigned)next();
	}
	long r = vm_ioctl(fd, req, random_ptr(&buf));
	check(r >= 0 || r == -EBADF || r == -ENOTTY || r == -EFAULT || r == -EINVAL ||
		      r == -EBUSY || r == -ENOMEM || r == -EMFILE || r == -E2BIG,
	      "ioctl", r);
	if (req == DYAD_VM_CREATE_VCPU && r >= 0 && nfds < MAX_FDS)
		fds[nfds++] = (int)r;
	else if (req == DYAD_VM_CREATE_VCPU && r >= 0)
		vm_close((int)r);
}

/* Plausible long-mode or real-mode state with a few random changes. */
static void op_sregs(void)
{
	struct dyad_sregs s;
	long r;

	if (run_fd < 0)
		return;
	r = vm_ioctl(run_fd, DYAD_VCPU_GET_SREGS, &s);
	check(r == 0 || r == -ENOTTY, "get_sregs", r);
	if (r)
		return;
	if (next() % 2) {
		struct vmctx c = { .cpu = run_fd, .run = run };
		const int real = next() % 2;
		r = real ? vm_start_real(&c, GUEST(rm_io)) : vm_start_long(&c, GUEST(lm_irq));
		check(r == 0, "start", r);
		vm_ioctl(run_fd, DYAD_VCPU_GET_SREGS, &s);
	}
	for (unsigned n = (unsigned)(next() % 4); n; n--)
		((unsigned char *)&s)[next() % sizeof(s)] = (unsigned char)next();
	r = vm_ioctl(run_fd, DYAD_VCPU_SET_SREGS, &s);
	check(r == 0 || r == -EINVAL, "set_sregs", r);
}

/* Gets the process a VM, a vCPU and its run page if it has none, the way a VMM would. */
static void op_setup(void)
{
	long vm = -1, cpu = -1;

	if (run)
		return;
	for (int i = 0; i < nfds; i++) {
		long r = vm_ioctl(fds[i], DYAD_VM_CREATE_VCPU, 0);
		if (r == -EBUSY || r >= 0)
			vm = fds[i];
		if (r >= 0)
			cpu = r;
		calls++;
	}
	if (vm < 0) {
		op_create();
		return;
	}
	if (cpu >= 0 && nfds < MAX_FDS)
		fds[nfds++] = (int)cpu;
	for (int i = 0; i < nfds && !run; i++) {
		long r =
			vm_mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		calls++;
		if (r > 0) {
			run = (struct dyad_run *)r;
			run_fd = fds[i];
		}
	}
}

static void op_run(void)
{
	if (!run || run_fd < 0)
		return;
	if (next() % 6 == 0)
		fill_random(&run->regs, sizeof(run->regs));
	if (next() % 8 == 0)
		fill_random(&run->inject, sizeof(run->inject));
	if (next() % 4 == 0)
		fill_random((void *)GUEST_CODE, 64 + next() % 256); /* random guest code */
	run->request = (unsigned)(next() % 3);
	run->deadline_tsc = rdtsc() + run->tsc_khz / 2 + 1;
	long r = vm_ioctl(run_fd, DYAD_VCPU_RUN, 0);
	check((r == 0 && run->exit_reason > DYAD_EXIT_NONE &&
	       run->exit_reason < DYAD_EXIT_REASONS) ||
		      r == -EINVAL || r == -ENOTTY,
	      "run", r);
	runs++;
	if (r == 0 && run->exit_reason < DYAD_EXIT_REASONS)
		exits[run->exit_reason]++;
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : DEFAULT_SEED;
	struct vmctx c;

	ut_begin("vmfuzz");
	state = seed ? seed : 1;
	if (vm_open(&c) == -ENODEV) {
		ut_skip("vCPU interface fuzzing", "no VMX/SVM");
		return ut_end("vmfuzz");
	}
	vm_shut(&c);
	printf("# vmfuzz: seed %#lx (replay: /bin/vmfuzz %#lx)\n", seed, seed);
	unsigned long before = free_frames();

	guest_map(GUEST_LOW, GUEST_LOW_END - GUEST_LOW, GUEST_PROT, 0);
	while (calls < CALLS) {
		switch (next() % 8) {
		case 0:
			if (next() % 2)
				op_create();
			else
				op_setup();
			break;
		case 1:
			if (next() % 4 == 0)
				op_close();
			break;
		case 2:
			op_mmap();
			break;
		case 3:
		case 4:
			op_ioctl();
			break;
		case 5:
			op_sregs();
			break;
		default:
			op_run();
			break;
		}
	}
	printf("# vmfuzz: %lu calls, %lu runs; exits:", calls, runs);
	for (int i = 1; i < DYAD_EXIT_REASONS; i++)
		printf(" %s %lu", exit_name(i), exits[i]);
	printf("\n");
	ut_ok(calls >= 10000, "%lu calls made (at least 10000)", calls);
	ut_eq(bad, 0, "every result is one the call may give");
	while (nfds)
		vm_close(fds[nfds - 1]), forget_fd(fds[nfds - 1]);
	sys2(__NR_munmap, GUEST_LOW, GUEST_LOW_END - GUEST_LOW);
	ut_eq(free_frames(), before, "free frames are back at the baseline once all is closed");
	long r = vm_open(&c);
	ut_ok(r == 0 && vm_start_real(&c, GUEST(rm_io)) == 0 && vm_run(&c) == DYAD_EXIT_IO,
	      "a new VM runs afterwards");
	vm_shut(&c);
	return ut_end("vmfuzz");
}
