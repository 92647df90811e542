// SPDX-License-Identifier: MIT
/*
 * Self-tests of what every backend must do at an entry, run on whichever backend this CPU has
 * (QEMU: SVM; Bochs: VMX, or SVM on `ryzen`): a kick latched before the backend's last look
 * with interrupts off, or a VM closed, means no entry at all (VCPU_EXIT_CANCEL, the guest not
 * run one instruction); without either the same call enters. The run loop's own look comes
 * before the backend's with interrupts on, so a kick whose IPI lands between the two was
 * missed until the next exit of the guest before the backends looked again.
 */
#include <arch/x86/pmap.h>
#include <dyad/errno.h>
#include <dyad/ktest.h>
#include <dyad/pmem.h>
#include <dyad/proc.h>
#include <dyad/string.h>
#include <dyad/vcpu.h>

#define CODE_GPA 0x1000

/* Real mode at 0:0x1000. */
static const u8 out_hlt[] = {
	0xe6, 0x80, /* out 0x80, al */
	0xf4, /* hlt (IF = 0) */
};

static struct proc entry_proc;

static int free_leaf(void *arg, const struct pmap_leaf *leaf)
{
	pmem_free(leaf->pa, 0);
	return 0;
}

/* Enters until an exit the kernel would not finish itself: the kind, or -1. */
static int enter_until(const struct vcpu_backend *b, struct vcpu *v, struct vcpu_exit *e)
{
	for (int i = 0; i < 1000; i++) {
		int err = b->enter(v, e);

		if (err)
			return err;
		if (e->kind != VCPU_EXIT_RESUME)
			return (int)e->kind;
	}
	return -1;
}

static int real_mode_at_zero(const struct vcpu_backend *b, struct vcpu *v)
{
	struct dyad_sregs s;
	int err = b->get_sregs(v, &s);

	if (err)
		return err;
	s.cs = (struct dyad_segment){ .limit = 0xffff, .type = 0xb, .s = 1, .present = 1 };
	s.ds = s.es = s.fs = s.gs = s.ss =
		(struct dyad_segment){ .limit = 0xffff, .type = 0x3, .s = 1, .present = 1 };
	s.cr0 = 0x10;
	s.cr4 = 0;
	s.efer = 0;
	err = b->set_sregs(v, &s);
	v->run->regs = (struct dyad_regs){ .rip = CODE_GPA, .rflags = 2, .rax = 0x42 };
	return err;
}

KTEST(vcpu_entry_with_a_latched_kick_is_cancelled)
{
	const struct vcpu_backend *b = vcpu_backend;
	struct vm vm = { .proc = &entry_proc };
	struct vcpu v = { .vm = &vm, .run_cpu = VCPU_NO_CPU };
	struct vcpu_exit e;
	paddr_t code = 0, run = 0;
	int err, kind;

	if (!b)
		KT_SKIP(kt, "no VMX/SVM backend");
	memset(&entry_proc, 0, sizeof(entry_proc));
	KT_ASSERT(kt, pmap_create(&entry_proc.pmap) == 0, "pmap");
	code = pmem_alloc_zeroed(0);
	run = pmem_alloc_zeroed(0);
	KT_ASSERT(kt, code && run, "memory");
	memcpy(pmem_va(code), out_hlt, sizeof(out_hlt));
	KT_ASSERT(kt,
		  pmap_map(&entry_proc.pmap, CODE_GPA, code, PAGE_SIZE, PMAP_X | PMAP_VISIBLE) == 0,
		  "map");
	v.run = pmem_va(run);
	v.run_pa = run;
	err = b->enable();
	KT_ASSERT(kt, err == 0, "enable: %d", err);
	err = b->create(&v);
	KT_ASSERT(kt, err == 0, "create: %d", err);
	KT_ASSERT(kt, real_mode_at_zero(b, &v) == 0, "state");

	v.kick = 1;
	err = b->enter(&v, &e);
	if (b->sync)
		b->sync(&v);
	KT_EXPECT(kt, err == 0 && e.kind == VCPU_EXIT_CANCEL,
		  "a latched kick: entered anyway (error %d, kind %d, exit reason %u)", err, e.kind,
		  v.run->exit_reason);
	KT_EXPECT(kt, v.run->regs.rip == CODE_GPA && v.run->stats.exits[DYAD_STAT_IO] == 0,
		  "the guest ran: rip %#lx", v.run->regs.rip);
	v.kick = 0;
	vm.closed = true;
	err = b->enter(&v, &e);
	KT_EXPECT(kt, err == 0 && e.kind == VCPU_EXIT_CANCEL, "a closed VM: entered (kind %d)",
		  e.kind);
	vm.closed = false;
	kind = enter_until(b, &v, &e);
	if (b->sync)
		b->sync(&v);
	KT_EXPECT(kt,
		  kind == VCPU_EXIT_USER && v.run->exit_reason == DYAD_EXIT_IO &&
			  v.run->exit.io.port == 0x80 && v.run->exit.io.value == 0x42,
		  "without a kick the same call enters: kind %d, exit %u, port %#x", kind,
		  v.run->exit_reason, v.run->exit.io.port);

	b->destroy(&v);
	b->disable();
	pmap_destroy(&entry_proc.pmap, free_leaf, NULL);
	pmem_free(run, 0);
}
