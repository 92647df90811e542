// SPDX-License-Identifier: MIT
/*
 * NMIs for a guest (DYAD_VCPU_NMI). A tiny guest's NMI handler counts and keeps the RIP each
 * NMI interrupted; the test sends NMIs from the VMM's own thread before RUN, while the handler
 * runs (they must wait for its IRET and make one NMI, not two, not none), from another thread
 * to a guest asleep on HLT and to one spinning, and checks the counts, the interrupted RIPs
 * (an NMI that waited goes in right after the IRET, at the RIP the first one interrupted, never
 * at the IRET itself), the guest's registers and flags afterwards, and what bad requests
 * return. The same checks run on SVM (QEMU, Bochs ryzen) and VMX (Bochs).
 */
#include <pthread.h>
#include <time.h>

#include "vm_lib.h"

DECLARE_GUEST(lm_nmi);
extern const unsigned char guest_lm_nmi_handler[], guest_lm_nmi_ready[], guest_lm_nmi_two[],
	guest_lm_nmi_after_hlt[], guest_lm_nmi_spin[], guest_lm_nmi_spun[];

#define GUEST_ADDR(label) (GUEST_CODE + (unsigned long)(label - guest_lm_nmi))
#define COUNT (*(volatile unsigned long *)0x30200)
#define REPORT (*(volatile unsigned long *)0x30208)
#define NMI_RIP(i) (((volatile unsigned long *)0x30220)[i])
#define SAFETY_MS 5000UL
#define RFLAGS_TF 0x100UL
#define RFLAGS_IF 0x200UL

struct sender {
	int fd;
	unsigned delay_ms;
	long result;
	unsigned long tsc; /* when the request was made */
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void *send_later(void *arg)
{
	struct sender *s = arg;

	sleep_ms(s->delay_ms);
	s->tsc = rdtsc();
	s->result = vm_ioctl(s->fd, DYAD_VCPU_NMI, 0);
	return NULL;
}

/* Runs to the next exit and checks it is an OUT to @port (at RIP @rip if non-zero); skips it. */
static int expect_out_at(struct vmctx *c, unsigned port, unsigned long rip, const char *what)
{
	unsigned long at;

	if (!vm_expect_out(c, port, what))
		return 0;
	at = c->run->regs.rip - c->run->insn_len;
	if (rip && at != rip) {
		printf("#   %s: OUT at %#lx, expected at %#lx\n", what, at, rip);
		return 0;
	}
	return 1;
}

static void test_bad_requests(struct vmctx *c)
{
	ut_eq(vm_ioctl(c->cpu, DYAD_VCPU_NMI, (void *)1), -EINVAL,
	      "an NMI request with arg 1 is EINVAL");
	ut_eq(vm_ioctl(c->vm, DYAD_VCPU_NMI, 0), -ENOTTY,
	      "an NMI request on the VM descriptor is ENOTTY");
	c->run->inject = (struct dyad_event){ .pending = 1, .type = 2, .vector = 2 };
	ut_eq(vm_run(c), -EINVAL,
	      "an NMI through run->inject (type 2) is EINVAL: DYAD_VCPU_NMI is the way");
	c->run->inject.pending = 0;
	ut_eq(vm_ioctl(c->cpu, DYAD_VCPU_NMI, (void *)~0UL), -EINVAL, "arg ~0 is EINVAL too");
}

/* From the VMM's own thread: one NMI (requested before RUN), then two while its handler runs. */
static void test_nested(struct vmctx *c)
{
	struct dyad_run *run = c->run;
	unsigned long ready = GUEST_ADDR(guest_lm_nmi_ready);
	int ok;

	ok = expect_out_at(c, 0x20, 0, "handler 1") && COUNT == 1 && NMI_RIP(1) == ready &&
	     run->nmi_state == DYAD_NMI_BLOCKED;
	ut_ok(ok,
	      "the next entry delivers it: the handler runs (count %lu, interrupted %#lx, "
	      "nmi_state %#x), with IF = 0 in the guest",
	      COUNT, NMI_RIP(1), run->nmi_state);
	ut_eq(vm_ioctl(c->cpu, DYAD_VCPU_NMI, 0), 0, "a second NMI while the handler runs");
	ut_eq(vm_ioctl(c->cpu, DYAD_VCPU_NMI, 0), 0, "and a third");
	ok = expect_out_at(c, 0x21, 0, "handler 1 end") && COUNT == 1 &&
	     run->nmi_state == (DYAD_NMI_BLOCKED | DYAD_NMI_PENDING);
	ut_ok(ok, "they wait while the handler runs (count %lu, nmi_state %#x)", COUNT,
	      run->nmi_state);
	ok = expect_out_at(c, 0x20, 0, "handler 2") && COUNT == 2 && NMI_RIP(2) == ready &&
	     run->nmi_state == DYAD_NMI_BLOCKED;
	ut_ok(ok,
	      "one goes in right after the IRET, at the RIP the first interrupted (%#lx, "
	      "expected %#lx; nmi_state %#x)",
	      NMI_RIP(2), ready, run->nmi_state);
	ok = expect_out_at(c, 0x21, 0, "handler 2 end") &&
	     expect_out_at(c, 0x11, GUEST_ADDR(guest_lm_nmi_two), "two") && COUNT == 2 &&
	     run->nmi_state == 0;
	ut_ok(ok,
	      "the two that came during the handler made one NMI, not two, not none "
	      "(count %lu, nmi_state %#x)",
	      COUNT, run->nmi_state);
	ok = run->regs.rbx == 0x1122334455667788UL && run->regs.r12 == 0x0123456789abcdefUL &&
	     !(run->regs.rflags & (RFLAGS_TF | RFLAGS_IF)) && !run->interrupt_shadow;
	ut_ok(ok,
	      "the guest's registers and flags are its own afterwards (rbx %#lx, r12 %#lx, "
	      "rflags %#lx)",
	      run->regs.rbx, run->regs.r12, run->regs.rflags);
}

/* From another thread: a guest asleep on HLT (IF = 1) wakes, one spinning takes it. */
static void test_other_thread(struct vmctx *c)
{
	struct dyad_run *run = c->run;
	unsigned long khz = run->tsc_khz ? run->tsc_khz : 1, sleeps, us;
	struct sender s = { .fd = c->cpu, .delay_ms = 50 };
	pthread_t t;
	int ok;

	REPORT = 0;
	run->deadline_tsc = rdtsc() + khz * SAFETY_MS;
	sleeps = run->stats.exits[DYAD_STAT_HALT_SLEEP];
	pthread_create(&t, NULL, send_later, &s);
	ok = expect_out_at(c, 0x13, GUEST_ADDR(guest_lm_nmi_after_hlt), "after HLT");
	us = (rdtsc() - s.tsc) * 1000 / khz;
	pthread_join(t, NULL);
	ok = ok && s.result == 0 && COUNT == 3 &&
	     NMI_RIP(3) == GUEST_ADDR(guest_lm_nmi_after_hlt) &&
	     run->stats.exits[DYAD_STAT_HALT_SLEEP] == sleeps + 1;
	ut_ok(ok,
	      "an NMI from another thread wakes a HLT sleep and its handler returns past "
	      "the HLT, with no exit to the VMM (count %lu, interrupted %#lx, %lu us)",
	      COUNT, NMI_RIP(3), us);

	s = (struct sender){ .fd = c->cpu, .delay_ms = 50 };
	unsigned long exits_before = run->stats.exits[DYAD_STAT_IO];
	pthread_create(&t, NULL, send_later, &s);
	ok = expect_out_at(c, 0x15, GUEST_ADDR(guest_lm_nmi_spun), "spun");
	us = (rdtsc() - s.tsc) * 1000 / khz;
	pthread_join(t, NULL);
	ok = ok && s.result == 0 && COUNT == 4 && NMI_RIP(4) >= GUEST_ADDR(guest_lm_nmi_spin) &&
	     NMI_RIP(4) < GUEST_ADDR(guest_lm_nmi_spun) &&
	     run->stats.exits[DYAD_STAT_IO] == exits_before + 1;
	ut_ok(ok,
	      "an NMI from another thread reaches a spinning guest in guest mode, without "
	      "an exit to the VMM (count %lu, interrupted %#lx, %lu us)",
	      COUNT, NMI_RIP(4), us);
	ok = run->nmi_state == 0 && (run->regs.rflags & RFLAGS_IF) &&
	     !(run->regs.rflags & RFLAGS_TF) && run->regs.rbx == 0x1122334455667788UL;
	ut_ok(ok, "and the guest goes on with its own flags (rflags %#lx)", run->regs.rflags);
	run->deadline_tsc = 0;
}

/* A vCPU descriptor outlives its VM's: it keeps the VM; once closed, every use is EBADF. */
static void test_after_close(struct vmctx *c)
{
	ut_eq(vm_close(c->vm), 0, "the VM descriptor closes with its vCPU's still open");
	c->vm = -1;
	ut_eq(vm_ioctl(c->cpu, DYAD_VCPU_NMI, 0), 0, "the vCPU's descriptor keeps the VM: NMI");
	ut_eq(vm_run(c), DYAD_EXIT_HLT, "and RUN (the NMI's handler runs; the guest halts)");
	ut_ok(COUNT == 5, "the NMI was delivered (count %lu)", COUNT);
	int fd = c->cpu;
	sys2(__NR_munmap, c->run, DYAD_RUN_SIZE);
	c->run = NULL;
	ut_eq(vm_close(fd), 0, "the last descriptor closes");
	c->cpu = -1;
	ut_eq(vm_ioctl(fd, DYAD_VCPU_NMI, 0), -EBADF, "NMI on the closed vCPU descriptor is EBADF");
	ut_eq(vm_ioctl(fd, DYAD_VCPU_RUN, 0), -EBADF, "so is RUN");
	ut_eq(vm_ioctl(fd, DYAD_VCPU_KICK, 0), -EBADF, "and KICK");
	long m = vm_mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ut_ok(m < 0 && m > -4096, "and mapping its run page (%ld)", m);
	long vm = dyad_vm_create(0);
	ut_ok(vm >= 0, "the VM is gone: a new one can be made (%ld)", vm);
	if (vm >= 0)
		vm_close((int)vm);
}

int main(void)
{
	struct vmctx c;
	long r;

	ut_begin("vmnmi");
	r = vm_open(&c);
	if (r == -ENODEV) {
		ut_skip("NMI tests", "no VMX/SVM");
		return ut_end("vmnmi");
	}
	if (r) {
		ut_ok(0, "VM set up (%ld)", r);
		return ut_end("vmnmi");
	}
	vm_start_long(&c, GUEST(lm_nmi));
	memset((void *)GUEST_DATA, 0, 4096);
	guest_idt_set(2, GUEST_ADDR(guest_lm_nmi_handler));
	REPORT = 1;
	test_bad_requests(&c);
	ut_ok(expect_out_at(&c, 0x10, 0, "ready") && COUNT == 0 && c.run->nmi_state == 0,
	      "the guest runs, no NMI yet (nmi_state %#x)", c.run->nmi_state);
	r = vm_ioctl(c.cpu, DYAD_VCPU_NMI, 0);
	if (r == -ENODEV) {
		ut_skip("NMI tests", "ENODEV: this VMX has no virtual NMIs");
	} else {
		ut_eq(r, 0, "DYAD_VCPU_NMI before RUN");
		test_nested(&c);
		test_other_thread(&c);
		test_after_close(&c);
	}
	if (c.run || c.cpu >= 0 || c.vm >= 0)
		vm_shut(&c);
	else
		sys2(__NR_munmap, GUEST_LOW, GUEST_LOW_END - GUEST_LOW);
	return ut_end("vmnmi");
}
