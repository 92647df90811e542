// SPDX-License-Identifier: MIT
/*
 * Figures of the vCPU layer, not pass/fail (tools/bench-vm.sh runs it under QEMU, also with
 * -icount shift=0 where the TSC counts instructions):
 *   - the round trip of an exit the VMM handles (guest OUT -> VMM -> resume);
 *   - a second-stage 4 KiB fault served as a page fault, against a host 4 KiB fault;
 *   - the second-stage faults it takes to touch 1 GiB of guest RAM at 4K / 2M / 1G;
 *   - VM create + destroy (with the backend switched on and off each time: no other VM).
 */
#include <sys/syscall.h>
#include <time.h>

#include "vm_lib.h"

#define EXIT_ROUNDS 5000
#define FAULT_PAGES 2048
#define CREATE_ROUNDS 200
#define SZ_2M (2UL << 20)
#define SZ_1G (1UL << 30)
#define RAM 0x40000000UL /* guest RAM for the fault figures: inside the guest's 4 GiB map */

DECLARE_GUEST(lm_outloop);
DECLARE_GUEST(lm_touch);

static long now_ns(void)
{
	struct timespec t;

	sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void exit_round_trip(void)
{
	struct vmctx c;

	if (vm_open(&c) || vm_start_long(&c, GUEST(lm_outloop)))
		return;
	for (int i = 0; i < 100; i++) /* warm: code and tables faulted in */
		vm_expect_out(&c, 0x10, "warm");
	long t0 = now_ns();
	unsigned long c0 = rdtsc();
	for (int i = 0; i < EXIT_ROUNDS; i++) {
		vm_ioctl(c.cpu, DYAD_VCPU_RUN, 0);
		c.run->regs.rip += c.run->insn_len;
	}
	unsigned long c1 = rdtsc();
	long t1 = now_ns();
	printf("vmbench: VMM-handled exit round trip (guest OUT -> VMM -> resume, x %d): "
	       "%lu TSC cycles, %ld ns\n",
	       EXIT_ROUNDS, (c1 - c0) / EXIT_ROUNDS, (t1 - t0) / EXIT_ROUNDS);
	vm_shut(&c);
}

/* Runs guest_lm_touch over [base, base + len) at @stride; returns TSC cycles of the run. */
static unsigned long guest_touch(struct vmctx *c, unsigned long base, unsigned long len,
				 unsigned long stride)
{
	vm_start_long(c, GUEST(lm_touch));
	c->run->regs.rdi = base;
	c->run->regs.rsi = stride;
	c->run->regs.rdx = len;
	unsigned long t0 = rdtsc();
	long r = vm_run(c);
	unsigned long t1 = rdtsc();
	if (r != DYAD_EXIT_IO)
		printf("vmbench: touch run ended with %s\n", exit_name(r));
	return t1 - t0;
}

static void fault_costs(void)
{
	struct vmctx c;
	unsigned long len = FAULT_PAGES * 4096UL;

	if (vm_open(&c))
		return;
	/* The guest's fault path: the same pages touched twice, the second time without faults. */
	guest_map(RAM, len, GUEST_PROT, 0);
	unsigned long cold = guest_touch(&c, RAM, len, 4096);
	unsigned long warm = guest_touch(&c, RAM, len, 4096);
	unsigned long faults = c.run->stats.guest_faults[0];
	sys2(__NR_munmap, RAM, len);

	/* The host's: an ordinary private mapping touched by the VMM. */
	char *p = (char *)vm_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				  -1, 0);
	unsigned long h0 = rdtsc();
	for (unsigned long off = 0; off < len; off += 4096)
		p[off] = 1;
	unsigned long h1 = rdtsc();
	for (unsigned long off = 0; off < len; off += 4096)
		p[off] = 2;
	unsigned long h2 = rdtsc();
	/* Zeroing, counted apart: what clearing one 4 KiB page costs here. */
	unsigned long z0 = rdtsc();
	for (unsigned long off = 0; off < len; off += 4096)
		memset(p + off, 0, 4096);
	unsigned long z1 = rdtsc();
	sys2(__NR_munmap, p, len);

	unsigned long gf = (cold - warm) / FAULT_PAGES, hf = ((h1 - h0) - (h2 - h1)) / FAULT_PAGES;
	unsigned long zero = (z1 - z0) / FAULT_PAGES;
	printf("vmbench: second-stage 4 KiB fault served as a page fault: %lu TSC cycles "
	       "(%lu faults for %d pages); host 4 KiB fault: %lu; ratio %lu.%02lu\n",
	       gf, faults, FAULT_PAGES, hf, hf ? gf / hf : 0, hf ? gf * 100 / hf % 100 : 0);
	/*
	 * The ratio also moves when the work both faults share (region lookup, allocation,
	 * zeroing, the page tables) gets cheaper; the difference is what the second stage adds.
	 */
	printf("vmbench:   the second stage adds %ld of them: exit, dispatch, re-entry, less the "
	       "host's trap path\n",
	       (long)gf - (long)hf);
	printf("vmbench:   zeroing a 4 KiB page costs about %lu of each: without it %lu vs %lu\n",
	       zero, gf > zero ? gf - zero : 0, hf > zero ? hf - zero : 0);
	vm_shut(&c);
}

static void touch_1g(const char *what, unsigned long base, int extra, unsigned long stride)
{
	struct vmctx c;

	if (vm_open(&c))
		return;
	if (guest_map(base, SZ_1G, GUEST_PROT, extra) != (long)base) {
		printf("vmbench: %s: 1 GiB of guest RAM not mapped\n", what);
		vm_shut(&c);
		return;
	}
	unsigned long t = guest_touch(&c, base, SZ_1G, stride);
	const unsigned long *f = c.run->stats.guest_faults;
	printf("vmbench: touching 1 GiB of guest RAM %s: %lu faults (4K %lu, 2M %lu, 1G %lu), "
	       "%lu TSC cycles\n",
	       what, f[0] + f[1] + f[2], f[0], f[1], f[2], t);
	vm_shut(&c);
	sys2(__NR_munmap, base, SZ_1G);
}

static void create_destroy(void)
{
	unsigned long t0 = rdtsc();

	for (int i = 0; i < CREATE_ROUNDS; i++) {
		long vm = dyad_vm_create(0);
		long cpu = vm_ioctl((int)vm, DYAD_VM_CREATE_VCPU, 0);
		vm_close((int)cpu);
		vm_close((int)vm);
	}
	unsigned long t1 = rdtsc();
	printf("vmbench: VM + vCPU create and destroy (backend on and off each time): %lu TSC "
	       "cycles\n",
	       (t1 - t0) / CREATE_ROUNDS);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	long r = dyad_vm_create(0);
	if (r < 0) {
		printf("vmbench: no VM (%ld): nothing to measure\n", r);
		return 0;
	}
	vm_close((int)r);
	exit_round_trip();
	fault_costs();
	touch_1g("at 4 KiB", RAM, 0, 4096);
	touch_1g("at 2 MiB", RAM + SZ_2M, DYAD_MAP_HUGE, 4096);
	touch_1g("at 1 GiB", RAM, DYAD_MAP_HUGE, 4096);
	create_destroy();
	return 0;
}
