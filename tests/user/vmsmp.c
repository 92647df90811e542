// SPDX-License-Identifier: MIT
/*
 * Several vCPUs in one VM: they are created up to the limit, run from several threads at once
 * (each pinned to its own CPU where there are enough), and kicked (DYAD_VCPU_KICK) out of a
 * `jmp $` loop and out of a HLT sleep, one at a time while the others keep running. Every run
 * carries a deadline a few seconds away, so a kick that does not work fails a check instead of
 * hanging the test.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "vm_lib.h"

DECLARE_GUEST(lm_smp);
DECLARE_GUEST(lm_sleep);
DECLARE_GUEST(lm_smp_sti);

#define NR_RUNNERS 4
#define SAFETY_MS 5000UL

struct runner {
	int fd;
	unsigned id;
	struct dyad_run *run;
	pthread_t thread;
	int cpu; /* pinned to, or -1 */
	long first, second; /* the two RUN results: exit reasons or -errno */
	unsigned long value; /* OUT 0x10's value */
	int spinning; /* set after the first exit: the next RUN enters the `jmp $` loop */
	int done;
	unsigned long done_tsc;
};

static int online_cpus(void)
{
	unsigned long mask = 0;

	if (sys3(SYS_sched_getaffinity, 0, sizeof(mask), &mask) != sizeof(mask))
		return 1;
	return __builtin_popcountl(mask);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static long run_once(struct runner *r)
{
	long e = vm_ioctl(r->fd, DYAD_VCPU_RUN, 0);

	return e < 0 ? e : (long)r->run->exit_reason;
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;

	if (r->cpu >= 0) {
		unsigned long mask = 1UL << r->cpu;
		sys3(SYS_sched_setaffinity, 0, sizeof(mask), &mask);
	}
	r->run->deadline_tsc = rdtsc() + r->run->tsc_khz * SAFETY_MS;
	r->first = run_once(r);
	r->value = r->run->regs.rax & 0xff;
	r->run->regs.rip += r->run->insn_len;
	__atomic_store_n(&r->spinning, 1, __ATOMIC_RELEASE);
	r->second = run_once(r);
	r->done_tsc = rdtsc();
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int wait_flag(int *flag, unsigned ms)
{
	for (unsigned i = 0; i < ms && !__atomic_load_n(flag, __ATOMIC_ACQUIRE); i++)
		sleep_ms(1);
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static long open_vcpu(struct vmctx *c, struct runner *r, unsigned id)
{
	long fd = id ? vm_ioctl(c->vm, DYAD_VM_CREATE_VCPU, 0) : c->cpu;

	if (fd < 0)
		return fd;
	r->fd = (int)fd;
	r->id = id;
	long m = id ? vm_mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0)
		    : (long)c->run;
	if (m < 0)
		return m;
	r->run = (struct dyad_run *)m;
	struct vmctx one = { .vm = c->vm, .cpu = r->fd, .run = r->run };
	return vm_start_long(&one, GUEST(lm_smp)); /* shared memory: the same code for all */
}

static void test_runners(void)
{
	struct vmctx c;
	struct runner rs[NR_RUNNERS] = { 0 };
	int ncpu = online_cpus(), ok = 1;

	if (vm_open(&c)) {
		ut_ok(0, "multi-vCPU: VM set up");
		return;
	}
	for (unsigned i = 0; i < NR_RUNNERS && ok; i++)
		ok = open_vcpu(&c, &rs[i], i) == 0;
	ut_ok(ok, "%d vCPUs in one VM, each with its own descriptor and run page", NR_RUNNERS);
	if (!ok)
		goto out;
	ut_ok(rs[1].run != rs[0].run && rs[1].fd != rs[0].fd, "run pages and descriptors differ");
	for (unsigned i = 0; i < NR_RUNNERS; i++) {
		rs[i].run->regs.rax = 0x40 + i;
		rs[i].cpu = ncpu >= NR_RUNNERS + 1 ? (int)i + 1 : ncpu > 1 ? (int)(i % ncpu) : -1;
		pthread_create(&rs[i].thread, NULL, runner_main, &rs[i]);
	}
	for (unsigned i = 0; i < NR_RUNNERS; i++)
		wait_flag(&rs[i].spinning, SAFETY_MS);
	for (unsigned i = 0; i < NR_RUNNERS; i++)
		ok &= rs[i].first == DYAD_EXIT_IO && rs[i].value == 0x40 + i;
	ut_ok(ok, "every vCPU ran its own registers on its own thread (OUT of its number)");
	sleep_ms(30); /* all in the `jmp $` loop now */
	ut_eq(vm_ioctl(rs[1].fd, DYAD_VCPU_RUN, 0), -EBUSY,
	      "a second thread's RUN of a running vCPU is EBUSY");
	ut_eq(vm_ioctl(rs[1].fd, DYAD_VCPU_KICK, (void *)1), -EINVAL, "KICK's argument must be 0");

	unsigned long t0 = rdtsc(), khz = rs[1].run->tsc_khz ? rs[1].run->tsc_khz : 1;
	ut_eq(vm_ioctl(rs[1].fd, DYAD_VCPU_KICK, 0), 0, "KICK of a spinning vCPU");
	wait_flag(&rs[1].done, SAFETY_MS + 1000);
	unsigned long us = (rs[1].done_tsc - t0) * 1000 / khz;
	ut_ok(rs[1].second == DYAD_EXIT_KICK && us < 1000000,
	      "the kicked vCPU left its jmp $ loop with a kick exit (reason %ld, %lu us, "
	      "pinned to CPU %d of %d)",
	      rs[1].second, us, rs[1].cpu, ncpu);
	sleep_ms(20);
	ok = 1;
	for (unsigned i = 0; i < NR_RUNNERS; i++)
		if (i != 1)
			ok &= !__atomic_load_n(&rs[i].done, __ATOMIC_ACQUIRE);
	ut_ok(ok, "the other vCPUs keep running");
	for (unsigned i = 0; i < NR_RUNNERS; i++)
		if (i != 1)
			vm_ioctl(rs[i].fd, DYAD_VCPU_KICK, 0);
	ok = 1;
	for (unsigned i = 0; i < NR_RUNNERS; i++) {
		pthread_join(rs[i].thread, NULL);
		ok &= rs[i].second == DYAD_EXIT_KICK && rs[i].run->stats.exits[DYAD_STAT_KICK] == 1;
	}
	ut_ok(ok, "each kicked vCPU returned one kick exit, counted once");

	/* A latched kick: the next RUN returns at once, without entering the guest. */
	unsigned long entries = rs[2].run->stats.entries;
	vm_ioctl(rs[2].fd, DYAD_VCPU_KICK, 0);
	vm_ioctl(rs[2].fd, DYAD_VCPU_KICK, 0);
	ut_ok(run_once(&rs[2]) == DYAD_EXIT_KICK && rs[2].run->stats.entries == entries,
	      "a kick before RUN is latched: RUN returns it without an entry");
	rs[2].run->deadline_tsc = rdtsc() + rs[2].run->tsc_khz * 20;
	ut_eq(run_once(&rs[2]), DYAD_EXIT_DEADLINE, "two kicks make one kick exit");

	/* A vCPU asleep on HLT (IF = 1, a far deadline) wakes on a kick. */
	struct vmctx two = { .vm = c.vm, .cpu = rs[3].fd, .run = rs[3].run };
	memset(&rs[3].done, 0, sizeof(rs[3].done));
	vm_start_long(&two, GUEST(lm_sleep));
	rs[3].cpu = ncpu > 1 ? 1 : -1;
	rs[3].spinning = 0;
	pthread_create(&rs[3].thread, NULL, runner_main, &rs[3]);
	sleep_ms(50);
	t0 = rdtsc();
	vm_ioctl(rs[3].fd, DYAD_VCPU_KICK, 0);
	wait_flag(&rs[3].spinning, SAFETY_MS + 1000);
	us = (rdtsc() - t0) * 1000 / khz;
	pthread_join(rs[3].thread, NULL);
	ut_ok(rs[3].first == DYAD_EXIT_KICK && rs[3].run->stats.exits[DYAD_STAT_HALT_SLEEP] == 1 &&
		      us < 1000000,
	      "a vCPU asleep on HLT wakes on a kick (reason %ld, %lu us)", rs[3].first, us);
	ut_ok(rs[3].second == DYAD_EXIT_IO && rs[3].run->exit.io.port == 0x10,
	      "and its guest goes on after the HLT");
out:
	for (unsigned i = 1; i < NR_RUNNERS; i++) {
		if (rs[i].run)
			sys2(__NR_munmap, rs[i].run, DYAD_RUN_SIZE);
		if (rs[i].fd > 0)
			vm_close(rs[i].fd);
	}
	vm_shut(&c);
}

static void test_limit(void)
{
	struct vmctx c;
	long r = 0, last = -1;
	unsigned n = 1;

	if (vm_open(&c)) {
		ut_ok(0, "vCPU limit: VM set up");
		return;
	}
	/* A vCPU lives as long as its VM: closing its descriptor does not free its slot. */
	while (n < DYAD_VCPUS_MAX && (r = vm_ioctl(c.vm, DYAD_VM_CREATE_VCPU, 0)) >= 0) {
		n++;
		if (last >= 0)
			vm_close((int)last);
		last = r;
	}
	ut_ok(n == DYAD_VCPUS_MAX, "%u vCPUs in one VM (last result %ld)", n, r);
	ut_eq(vm_ioctl(c.vm, DYAD_VM_CREATE_VCPU, 0), -EBUSY, "one more is EBUSY");
	vm_shut(&c); /* one vCPU descriptor stays open: the VM lives on */
	ut_ok(dyad_vm_create(0) == -EBUSY, "an open vCPU descriptor keeps the VM");
	vm_close((int)last);
	r = dyad_vm_create(0);
	ut_ok(r >= 0, "its close ends the VM: a new one can be made (%ld)", r);
	if (r >= 0)
		vm_close((int)r);
}

/* Every descriptor closed by one thread while another runs the vCPU: that RUN returns -EBADF. */
static void test_close_under_run(void)
{
	struct vmctx c;
	struct runner r = { 0 };

	if (vm_open(&c) || open_vcpu(&c, &r, 0)) {
		ut_ok(0, "close under RUN: VM set up");
		return;
	}
	r.run->regs.rax = 0x40;
	r.cpu = online_cpus() > 1 ? 1 : -1;
	pthread_create(&r.thread, NULL, runner_main, &r);
	wait_flag(&r.spinning, SAFETY_MS);
	sleep_ms(30);
	unsigned long t0 = rdtsc(), khz = r.run->tsc_khz ? r.run->tsc_khz : 1;
	vm_close(c.cpu);
	vm_close(c.vm);
	c.cpu = c.vm = -1;
	wait_flag(&r.done, SAFETY_MS + 1000);
	unsigned long us = (r.done_tsc - t0) * 1000 / khz;
	pthread_join(r.thread, NULL);
	ut_ok(r.first == DYAD_EXIT_IO && r.second == -EBADF && us < 1000000,
	      "closing every descriptor ends a RUN inside the guest with EBADF (%ld, %lu us)",
	      r.second, us);
	long vm = dyad_vm_create(0);
	ut_ok(vm >= 0, "and the VM is gone once that RUN returned: a new one can be made (%ld)",
	      vm);
	if (vm >= 0)
		vm_close((int)vm);
	vm_shut(&c);
}

/*
 * The kick racing the entry: the runner re-enters a `jmp $` guest again and again, and each
 * round the kicker kicks it after a delay from the moment the runner calls RUN, the delays
 * sweeping 0..RACE_DELAY_US in equal steps, so the kicks land all over the way in: before the run
 * loop's look at the latch, between that look and the backend's entry, in the guest. A kick that
 * lands between the look and the entry used to be missed until the guest's next exit (the host
 * tick's, up to a tick later); the backends now look again with interrupts off. Every round must
 * end in a kick exit well before its deadline, and no kick may take KICK_LATE_MS or more where the
 * TSC is the CPU's own time (a CPU without the hypervisor bit: hardware, or Bochs, whose TSC counts
 * emulated instructions). Under QEMU TCG (hypervisor bit set) a working kick on a loaded host takes
 * milliseconds of host time too, so there the latency is only printed. The ktest
 * vcpu_entry_with_a_latched_kick_is_cancelled checks the backends' look itself.
 */
#define RACE_ROUNDS 400
#define RACE_DELAY_US 40 /* the kick comes 0..this after the runner's call, in equal steps */
#define KICK_LATE_MS 6 /* above ~1 ms under TCG, below the host's 10 ms tick */

struct race {
	struct runner r;
	unsigned long exit_tsc;
	long reason;
	unsigned round, entering, returned; /* round numbers, from 1 */
	int quit;
};

static void *race_runner(void *arg)
{
	struct race *k = arg;

	if (k->r.cpu >= 0) {
		unsigned long mask = 1UL << k->r.cpu;
		sys3(SYS_sched_setaffinity, 0, sizeof(mask), &mask);
	}
	for (unsigned i = 1;; i++) {
		while (__atomic_load_n(&k->round, __ATOMIC_ACQUIRE) < i)
			if (__atomic_load_n(&k->quit, __ATOMIC_ACQUIRE))
				return NULL;
		__atomic_store_n(&k->entering, i, __ATOMIC_RELEASE);
		k->reason = run_once(&k->r);
		k->exit_tsc = rdtsc();
		__atomic_store_n(&k->returned, i, __ATOMIC_RELEASE);
	}
}

/* CPUID.1:ECX[31]: set by hypervisors and QEMU TCG, clear on hardware and in Bochs. */
static int under_hypervisor(void)
{
	unsigned a = 1, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (c >> 31) & 1;
}

static void test_kick_race(void)
{
	struct vmctx c;
	struct race k = { 0 };
	pthread_t t;
	int ncpu = online_cpus(), ok = 1;
	unsigned late = 0, bad = 0, done = 0;
	unsigned long worst = 0, sum = 0;

	if (ncpu < 2) {
		ut_skip("kick race", "one CPU online");
		return;
	}
	if (vm_open(&c) || open_vcpu(&c, &k.r, 0)) {
		ut_ok(0, "kick race: VM set up");
		return;
	}
	unsigned long khz = k.r.run->tsc_khz ? k.r.run->tsc_khz : 1;
	struct vmctx one = { .vm = c.vm, .cpu = k.r.fd, .run = k.r.run };
	vm_start_long(&one, GUEST(lm_smp_sti)); /* IF = 1 in the loop: see the guest */
	k.r.run->regs.rax = 0x40;
	if (run_once(&k.r) != DYAD_EXIT_IO) {
		ut_ok(0, "kick race: the guest reached its loop");
		vm_shut(&c);
		return;
	}
	k.r.run->regs.rip += k.r.run->insn_len;
	k.r.cpu = 1;
	unsigned long mask = 1UL;
	sys3(SYS_sched_setaffinity, 0, sizeof(mask), &mask);
	pthread_create(&t, NULL, race_runner, &k);
	printf("#   kick race: %u rounds, delays 0-%u us\n", RACE_ROUNDS, RACE_DELAY_US);
	for (unsigned i = 1; i <= RACE_ROUNDS && ok; i++) {
		unsigned long delay = khz * RACE_DELAY_US / 1000 * (i - 1) / RACE_ROUNDS, t0, lat;

		k.r.run->deadline_tsc = rdtsc() + khz * SAFETY_MS;
		__atomic_store_n(&k.round, i, __ATOMIC_RELEASE);
		while (__atomic_load_n(&k.entering, __ATOMIC_ACQUIRE) < i)
			;
		t0 = rdtsc();
		while (rdtsc() - t0 < delay)
			;
		t0 = rdtsc();
		vm_ioctl(k.r.fd, DYAD_VCPU_KICK, 0);
		while (__atomic_load_n(&k.returned, __ATOMIC_ACQUIRE) < i)
			sched_yield();
		if (k.reason != DYAD_EXIT_KICK) {
			bad++;
			ok = 0;
			break;
		}
		lat = k.exit_tsc > t0 ? (k.exit_tsc - t0) * 1000 / khz : 0; /* us */
		sum += lat;
		worst = lat > worst ? lat : worst;
		late += lat >= KICK_LATE_MS * 1000;
		done++;
	}
	__atomic_store_n(&k.quit, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	unsigned long all = ~0UL;
	sys3(SYS_sched_setaffinity, 0, sizeof(all), &all);
	ut_ok(bad == 0 && done == RACE_ROUNDS,
	      "%u kicks at random points of the way into the guest "
	      "each ended that RUN with a kick exit (%u did not)",
	      done, bad);
	printf("#   kick race: kick to RUN's return worst %lu us, mean %lu us; %u of %u took %d ms "
	       "or more\n",
	       worst, done ? sum / done : 0, late, done, KICK_LATE_MS);
	if (under_hypervisor())
		ut_skip("no kick waited for the guest's next exit",
			"the TSC is the host's (hypervisor bit): time cannot tell");
	else
		ut_ok(late == 0,
		      "no kick waited for the guest's next exit: %u of %u took %d ms or more", late,
		      done, KICK_LATE_MS);
	vm_shut(&c);
}

/*
 * Under QEMU's TCG no guest enters on the boot CPU (CPU 0) while other CPUs may take it
 * (docs/smp.md): a thread that asks for RUN there is moved first. Elsewhere the thread enters
 * where it is. Either way run->stats.cpus_entered says where the entries happened.
 */
static void test_boot_cpu_entries(void)
{
	struct vmctx c;
	unsigned long cpu0 = 1, all = ~0UL;
	int tcg = vm_host_is_qemu_tcg();

	if (online_cpus() < 2) {
		ut_skip("guest entries off the boot CPU under QEMU TCG", "one CPU online");
		return;
	}
	if (vm_open(&c) || vm_start_long(&c, GUEST(lm_smp))) {
		ut_ok(0, "boot-CPU entries: VM set up");
		return;
	}
	/* On CPU 0, then free to go anywhere: nothing but the exclusion moves the thread. */
	sys3(SYS_sched_setaffinity, 0, sizeof(cpu0), &cpu0);
	sys3(SYS_sched_setaffinity, 0, sizeof(all), &all);
	c.run->regs.rax = 0x40;
	long r = vm_run(&c);
	unsigned long on = c.run->stats.cpus_entered;
	if (tcg)
		ut_ok(r == DYAD_EXIT_IO && on && !(on & 1),
		      "QEMU TCG: a vCPU asked to run on CPU 0 entered its guest elsewhere "
		      "(exit %ld, CPUs entered %#lx)",
		      r, on);
	else
		ut_ok(r == DYAD_EXIT_IO && on,
		      "the guest entered where its thread ran (exit %ld, CPUs entered %#lx)", r,
		      on);
	vm_shut(&c);
}

int main(void)
{
	ut_begin("vmsmp");
	long r = dyad_vm_create(0);
	if (r == -ENODEV) {
		ut_skip("multi-vCPU tests", "no VMX/SVM");
		return ut_end("vmsmp");
	}
	vm_close((int)r);
	test_runners();
	test_limit();
	test_close_under_run();
	test_kick_race();
	test_boot_cpu_entries();
	return ut_end("vmsmp");
}
