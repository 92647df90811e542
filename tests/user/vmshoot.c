// SPDX-License-Identifier: MIT
/*
 * The guest half of the shootdown: a guest on one CPU loops writing a counter to a
 * guest-visible page and reading it back, while the VMM's other thread, on another CPU,
 * takes the page away under it:
 *   - munmap: once munmap returns the guest must leave its loop with an MMIO exit at that
 *     page (a second-stage fault), and the freed frame, when the kernel hands it out again,
 *     reads as zero and stays zero: no guest write reaches it through a stale translation;
 *   - mprotect read-only: once mprotect returns the page's value never changes again, and the
 *     guest leaves its loop with an MMIO write exit at that page.
 * The guest reports a read-back that differs from what it wrote on port 0x1d (a failure).
 * The vCPU thread creates the VM itself after pinning itself, so that the vCPU is made and runs
 * on the CPU it is meant for. A guest that never leaves its loop would hang the test: past a
 * deadline the process reports the failure and exit_group ends the vCPU thread too.
 *
 * SKIP (with the reason) without threads, without VMX/SVM, with one CPU, or when the kernel
 * refuses to run a vCPU on a CPU other than the first one or moves the vCPU thread elsewhere
 * when its VM is created (the test would not be across CPUs).
 */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "thr_lib.h"
#include "vm_lib.h"

#define PAGE 4096UL
#define TARGET 0x40000000UL /* guest-physical = VMM address; under the 4 GiB the guest maps */
#define MAGIC 0x6a6d000000000000UL
#define RUNNING_WRITES 10000 /* the counter the guest must reach before the page goes */
#define DEADLINE_NS (60 * NS_PER_S)
#define REUSE_TRIES 512
#define WATCH_NS (50 * 1000000L)
#define BAD_PORT 0x1d

/*
 * loop: inc rsi; mov [rdi], rsi; mov rax, [rdi]; cmp rax, rsi; jne bad; jmp loop
 * bad:  out 0x1d, al; cli; hlt
 */
static const unsigned char guest_hammer[] = { 0x48, 0xff, 0xc6, 0x48, 0x89, 0x37, 0x48,
					      0x8b, 0x07, 0x48, 0x39, 0xf0, 0x75, 0x02,
					      0xeb, 0xf0, 0xe6, 0x1d, 0xfa, 0xf4 };

enum { TAKE_UNMAP, TAKE_PROTECT };

struct vcpu_thread {
	pthread_t t;
	int cpu;
	atomic_int state; /* 0 starting, 1 running the guest, 2 done, -1 setup failed */
	long setup_err;
	int ran_on, ran_on_count; /* the vCPU thread's mask once its VM exists */
	atomic_int stop_early; /* set before the guest runs: do not run it */
	atomic_int go; /* set when the VMM thread has checked where the vCPU thread runs */
	long exit_reason, runs;
	struct dyad_run last;
};

static void *vcpu_fn(void *arg)
{
	struct vcpu_thread *v = arg;
	struct vmctx c = { .vm = -1, .cpu = -1 };
	long r = pin_to(0, v->cpu);

	if (!r)
		r = vm_open(&c);
	if (!r)
		r = guest_map(TARGET, PAGE, PROT_READ | PROT_WRITE, 0);
	if (r >= 0) {
		*(volatile unsigned long *)TARGET = 0;
		r = vm_start_long(&c, guest_hammer, sizeof(guest_hammer));
	}
	if (r < 0) {
		v->setup_err = r;
		vm_shut(&c);
		sys2(SYS_munmap, TARGET, PAGE);
		atomic_store(&v->state, -1);
		return NULL;
	}
	v->ran_on = affinity_nth(0);
	v->ran_on_count = affinity_count();
	c.run->regs.rdi = TARGET;
	c.run->regs.rsi = MAGIC;
	atomic_store(&v->state, 1);
	while (!atomic_load(&v->go) && !atomic_load(&v->stop_early))
		sys0(SYS_sched_yield);
	if (atomic_load(&v->stop_early)) {
		vm_shut(&c);
		sys2(SYS_munmap, TARGET, PAGE);
		atomic_store(&v->state, 2);
		return NULL;
	}
	/* Exits that are not the page's (a deadline, the console) resume the guest. */
	do {
		r = vm_run(&c);
		v->runs++;
	} while (r == DYAD_EXIT_DEADLINE || r == DYAD_EXIT_CONSOLE || r == DYAD_EXIT_NONE);
	v->exit_reason = r;
	v->last = *c.run;
	vm_shut(&c);
	atomic_store(&v->state, 2);
	return NULL;
}

/* A page that reuses @pa, or NULL: fresh pages are faulted in until one has that frame. */
static volatile unsigned long *reuse_frame(unsigned long pa, void **pages, int *n)
{
	for (*n = 0; *n < REUSE_TRIES; (*n)++) {
		long p = sys6(SYS_mmap, 0, PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct dyad_vm_info vi = { 0 };

		if (p < 0 && p > -4096)
			return NULL;
		pages[*n] = (void *)p;
		(void)*(volatile unsigned long *)p; /* a read fault: the frame's first contents */
		dyad_vm_query((void *)p, &vi);
		if (vi.pa == pa) {
			(*n)++;
			return (volatile unsigned long *)p;
		}
	}
	return NULL;
}

static void take_page_away(int how, int cpu_vcpu, int cpu_vmm)
{
	const char *what = how == TAKE_UNMAP ? "munmap" : "mprotect read-only";
	static struct vcpu_thread v;
	volatile unsigned long *page = (volatile unsigned long *)TARGET;

	memset(&v, 0, sizeof(v));
	v.cpu = cpu_vcpu;
	pin_to(0, cpu_vmm);
	if (!ut_eq(pthread_create(&v.t, NULL, vcpu_fn, &v), 0, "%s: vCPU thread created", what))
		return;
	long end = now_ns() + DEADLINE_NS;
	while (atomic_load(&v.state) == 0 && now_ns() < end)
		sleep_ns(1000000);
	if (atomic_load(&v.state) < 0) {
		pthread_join(v.t, NULL);
		if (v.setup_err == -ENODEV || v.setup_err == -ENOSYS)
			ut_skip(what, "no VMX/SVM (%ld)", v.setup_err);
		else if (v.setup_err == -EINVAL || v.setup_err == -EBUSY)
			ut_skip(what, "the kernel runs no vCPU on CPU %d (%ld)", cpu_vcpu,
				v.setup_err);
		else
			ut_ok(0, "%s: VM set up on CPU %d (error %ld)", what, cpu_vcpu,
			      v.setup_err);
		return;
	}
	if (v.ran_on != cpu_vcpu || v.ran_on_count != 1) {
		/* The VM's creation moved the vCPU thread: the guest would not run where asked. */
		atomic_store(&v.stop_early, 1);
		pthread_join(v.t, NULL);
		ut_skip(what,
			"the kernel runs this vCPU on %d CPU(s) from CPU %d, not on CPU %d alone",
			v.ran_on_count, v.ran_on, cpu_vcpu);
		return;
	}
	atomic_store(&v.go, 1);
	/* The guest's writes arrive through the VMM's own mapping of the same page. */
	while ((*page & ~0xffffffffUL) != MAGIC || (*page & 0xffffffffUL) < RUNNING_WRITES) {
		if (now_ns() > end || atomic_load(&v.state) == 2)
			break;
	}
	unsigned long seen = *page;
	if (!ut_ok((seen & 0xffffffffUL) >= RUNNING_WRITES && atomic_load(&v.state) == 1,
		   "%s: the guest on CPU %d writes the page (%#lx)", what, cpu_vcpu, seen)) {
		printf("#   the guest stopped or never ran: exit %s\n", exit_name(v.exit_reason));
		fflush(stdout);
		sys1(SYS_exit_group, 1);
	}
	struct dyad_vm_info vi = { 0 };
	dyad_vm_query((void *)TARGET, &vi);

	long r;
	if (how == TAKE_UNMAP)
		r = sys2(SYS_munmap, TARGET, PAGE);
	else
		r = sys3(SYS_mprotect, TARGET, PAGE, PROT_READ);
	ut_eq(r, 0, "%s from CPU %d while the guest writes", what, cpu_vmm);

	if (how == TAKE_PROTECT) {
		unsigned long v1 = *page;
		sleep_ns(WATCH_NS);
		unsigned long v2 = *page;
		ut_ok(v1 == v2 && v1 >= seen,
		      "mprotect: no guest write lands after it returned (%#lx, then %#lx)", v1, v2);
	}

	/* munmap: the frame comes back zeroed and nothing writes it any more. */
	void *pages[REUSE_TRIES];
	int n = 0;
	if (how == TAKE_UNMAP) {
		volatile unsigned long *p = reuse_frame(vi.pa, pages, &n);
		if (p) {
			unsigned long bad = 0, v1 = 0;
			long t0 = now_ns();
			while (now_ns() - t0 < WATCH_NS)
				for (unsigned i = 0; i < PAGE / 8; i++)
					if ((v1 = p[i]) != 0 && !bad++)
						printf("#   word %u of the reused frame: %#lx\n", i,
						       v1);
			ut_eq(bad, 0, "munmap: the freed frame %#lx, reused, reads zero for %ld ms",
			      vi.pa, WATCH_NS / 1000000);
		} else {
			ut_skip("munmap: the freed frame reads zero when reused",
				"frame %#lx not handed out again in %d pages", vi.pa, REUSE_TRIES);
		}
	}

	while (atomic_load(&v.state) != 2 && now_ns() < end)
		sleep_ns(1000000);
	if (!ut_eq(atomic_load(&v.state), 2, "%s: the guest leaves its loop", what)) {
		printf("#   the guest still runs %ld s later: ending the process\n",
		       DEADLINE_NS / NS_PER_S);
		fflush(stdout);
		sys1(SYS_exit_group, 1);
	}
	pthread_join(v.t, NULL);
	for (int i = 0; i < n; i++)
		sys2(SYS_munmap, pages[i], PAGE);
	int write = how == TAKE_PROTECT;
	ut_ok(v.exit_reason == DYAD_EXIT_MMIO && v.last.exit.mmio.gpa == TARGET &&
		      (!write || (v.last.exit.mmio.access & DYAD_ACCESS_WRITE)),
	      "%s: the guest's next access is an MMIO%s exit at the page (%s at %#lx, access %u)",
	      what, write ? " write" : "", exit_name(v.exit_reason), v.last.exit.mmio.gpa,
	      v.last.exit.mmio.access);
	if (how == TAKE_PROTECT)
		sys2(SYS_munmap, TARGET, PAGE);
}

int main(void)
{
	ut_begin("vmshoot");
	const char *why = threads_missing();
	if (why) {
		ut_skip("vmshoot: a page taken from a running guest", "%s", why);
		return ut_end("vmshoot");
	}
	/* Only the vCPU thread creates a VM: a kernel may pin a thread that does. */
	int cpus = affinity_count(), a = affinity_nth(0), b = affinity_nth(1);
	if (cpus < 2) {
		ut_skip("vmshoot: a page taken from a running guest", "one CPU online");
		return ut_end("vmshoot");
	}
	take_page_away(TAKE_UNMAP, b, a);
	take_page_away(TAKE_PROTECT, b, a);
	return ut_end("vmshoot");
}
