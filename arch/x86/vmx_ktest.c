// SPDX-License-Identifier: MIT
/*
 * Self-tests of the VMX backend: the control table's decisions on made-up CPUs (everywhere),
 * and on a CPU with VMX (Bochs): VMXON/VMXOFF, and a tiny real-mode guest whose every exit is
 * checked, including an EPT fault served by mapping the page it touched and a VM entry the CPU
 * refuses. Without VMX the latter skip with "no VMX".
 */
#include <arch/x86/asm.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/vmx.h>
#include <dyad/errno.h>
#include <dyad/ktest.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/proc.h>
#include <dyad/string.h>
#include <dyad/time.h>
#include <dyad/vcpu.h>

#include "vmx_priv.h"

#define ALLOW(bits) ((u64)(u32)(bits) << 32)

/* A CPU that allows every control the backend knows, with TRUE controls and full EPT. */
static void caps_everything(struct vmx_caps *c)
{
	memset(c, 0, sizeof(*c));
	c->basic = 1 | (6ULL << 50) | VMX_BASIC_TRUE_CTLS;
	c->ctls[VMX_PIN] = ALLOW(0xffffffff);
	c->ctls[VMX_PROC] = ALLOW(0xffffffff);
	c->ctls[VMX_PROC2] = ALLOW(0xffffffff);
	c->ctls[VMX_EXIT] = ALLOW(0xffffffff);
	c->ctls[VMX_ENTRY] = ALLOW(0xffffffff);
	c->ept_vpid = EPT_CAP_WB | EPT_CAP_WALK_4 | EPT_CAP_INVEPT | EPT_CAP_INVEPT_SINGLE |
		      EPT_CAP_2M | EPT_CAP_1G | EPT_CAP_AD;
	c->misc = 5;
}

static bool contains(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++)
		if (strncmp(s, word, n) == 0)
			return true;
	return false;
}

KTEST(vmx_control_table)
{
	struct vmx_caps c;
	struct vmx_config cfg;
	char missing[VMX_WHY_MAX], dropped[VMX_WHY_MAX];

	caps_everything(&c);
	KT_ASSERT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == 0, "missing '%s'", missing);
	KT_EXPECT(kt, dropped[0] == '\0', "dropped '%s'", dropped);
	KT_EXPECT(kt,
		  cfg.have == (VMX_HAVE_VPID | VMX_HAVE_PREEMPT | VMX_HAVE_TPR_SHADOW |
			       VMX_HAVE_EPT_AD | VMX_HAVE_EPT_2M | VMX_HAVE_EPT_1G | VMX_HAVE_VNMI),
		  "have %#x", cfg.have);
	KT_EXPECT(kt, !(cfg.ctls[VMX_PROC] & PROC_NMI_WINDOW), "NMI window armed from the start");
	KT_EXPECT(kt, cfg.ctls[VMX_PROC2] & PROC2_EPT, "EPT off");
	KT_EXPECT(kt, cfg.ctls[VMX_PROC] & PROC_IO_UNCOND, "I/O passes through");
	KT_EXPECT(kt, !(cfg.ctls[VMX_PROC] & (PROC_INTR_WINDOW | PROC_CR8_LOAD)), "%#x",
		  cfg.ctls[VMX_PROC]);
	KT_EXPECT(kt, !(cfg.ctls[VMX_ENTRY] & ENTRY_IA32E), "IA-32e set before the guest asks");
	KT_EXPECT(kt, cfg.preempt_shift == 5, "shift %u", cfg.preempt_shift);

	/* A must-be-1 bit is kept whatever the table says. */
	c.ctls[VMX_PIN] |= BIT(1);
	KT_ASSERT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == 0, "'%s'", missing);
	KT_EXPECT(kt, cfg.ctls[VMX_PIN] & BIT(1), "default-1 bit dropped");

	/* Wanted and missing: dropped with a note. */
	caps_everything(&c);
	c.ctls[VMX_PROC2] &= ~ALLOW(PROC2_VPID);
	c.ept_vpid &= ~EPT_CAP_AD;
	KT_ASSERT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == 0, "'%s'", missing);
	KT_EXPECT(kt, contains(dropped, "VPID") && contains(dropped, "EPT A/D"), "'%s'", dropped);
	KT_EXPECT(kt, !(cfg.have & (VMX_HAVE_VPID | VMX_HAVE_EPT_AD)), "have %#x", cfg.have);
	KT_EXPECT(kt, !(cfg.ctls[VMX_PROC2] & PROC2_VPID), "VPID set anyway");

	/* No TPR shadow: CR8 accesses exit instead; with neither, the VM is refused. */
	caps_everything(&c);
	c.ctls[VMX_PROC] &= ~ALLOW(PROC_TPR_SHADOW);
	KT_ASSERT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == 0, "'%s'", missing);
	KT_EXPECT(kt,
		  (cfg.ctls[VMX_PROC] & (PROC_CR8_LOAD | PROC_CR8_STORE)) ==
			  (PROC_CR8_LOAD | PROC_CR8_STORE),
		  "%#x", cfg.ctls[VMX_PROC]);
	c.ctls[VMX_PROC] &= ~ALLOW(PROC_CR8_LOAD);
	KT_EXPECT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == -ENODEV, "accepted");
	KT_EXPECT(kt, contains(missing, "CR8"), "'%s'", missing);

	/* Required and missing: refused, every missing one named. */
	caps_everything(&c);
	c.ctls[VMX_PROC2] &= ~ALLOW(PROC2_UNRESTRICTED);
	c.ctls[VMX_EXIT] &= ~ALLOW(EXIT_ACK_INTR);
	c.ept_vpid &= ~EPT_CAP_INVEPT_SINGLE;
	KT_EXPECT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == -ENODEV, "accepted");
	KT_EXPECT(kt,
		  contains(missing, "unrestricted guest") &&
			  contains(missing, "acknowledge interrupt") &&
			  contains(missing, "INVEPT single-context"),
		  "'%s'", missing);

	/* Secondary controls count only when the primary control enabling them is allowed. */
	caps_everything(&c);
	c.ctls[VMX_PROC] &= ~ALLOW(PROC_SECONDARY);
	KT_EXPECT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == -ENODEV, "accepted");
	KT_EXPECT(kt, contains(missing, "EPT"), "'%s'", missing);

	/* CR3 exits forced on (no TRUE controls on an old CPU): refused, not mishandled. */
	caps_everything(&c);
	c.ctls[VMX_PROC] |= PROC_CR3_LOAD;
	KT_EXPECT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == -ENODEV, "accepted");
	KT_EXPECT(kt, contains(missing, "CR3"), "'%s'", missing);

	/* The EPT the pair writes: write-back and a 4-level walk. */
	caps_everything(&c);
	c.ept_vpid &= ~EPT_CAP_WB;
	KT_EXPECT(kt, vmx_config_decide(&c, &cfg, missing, dropped) == -ENODEV, "accepted");
	KT_EXPECT(kt, contains(missing, "write-back"), "'%s'", missing);
}

static bool have_vmx(void)
{
	return vcpu_backend && vcpu_backend == &vmx_backend;
}

KTEST(vmx_on_off)
{
	if (!have_vmx())
		KT_SKIP(kt, "no VMX");
	for (int i = 0; i < 3; i++) {
		u64 t0 = rdtsc();
		int err = vmx_backend.enable();
		u64 t1 = rdtsc();

		KT_ASSERT(kt, err == 0, "enable: %d", err);
		KT_EXPECT(kt, read_cr4() & CR4_VMXE, "CR4.VMXE clear after VMXON");
		vmx_backend.disable();
		KT_EXPECT(kt, !(read_cr4() & CR4_VMXE), "CR4.VMXE set after VMXOFF");
		if (i == 0)
			printf("# vmx: VMXON path %lu TSC ticks, VMXOFF path %lu\n", t1 - t0,
			       rdtsc() - t1);
	}
}

/*
 * The tiny guest, 16-bit real mode at 0x1000. Each line is one exit the test expects.
 */
static const u8 tiny_guest[] = {
	0xb0, 0x5a, /* mov al, 0x5a */
	0xe6, 0x80, /* out 0x80, al         -> I/O exit */
	0x0f, 0xa2, /* cpuid                -> CPUID exit */
	0x0f, 0x01, 0xc1, /* vmcall         -> hypercall exit */
	0x0f, 0x01, 0xd9, /* vmmcall        -> hypercall exit too (#UD intercepted) */
	0xc6, 0x06, 0x00, 0x30, 0xa5, /* mov byte [0x3000], 0xa5 -> EPT violation, write */
	0xa0, 0x00, 0x30, /* mov al, [0x3000] */
	0xe6, 0x81, /* out 0x81, al         -> I/O exit with what the guest read back */
	0xb9, 0x34, 0x12, /* mov cx, 0x1234 */
	0x0f, 0x30, /* wrmsr (ecx 0x1234)   -> WRMSR exit */
	0xf4, /* hlt with IF = 0           -> HLT exit, RIP still at it */
};

#define GUEST_CODE 0x1000
#define GUEST_DATA 0x3000

static struct proc tiny_proc;

static int free_leaf(void *arg, const struct pmap_leaf *leaf)
{
	pmem_free(leaf->pa, 0);
	return 0;
}

/* Enters until an exit the kernel would not finish itself; the kind, or -1 after too many. */
static int run_until(struct vcpu *v, struct vcpu_exit *e)
{
	for (int i = 0; i < 1000; i++) {
		int err = vmx_backend.enter(v, e);

		if (err || e->kind != VCPU_EXIT_RESUME) {
			vmx_backend.sync(v); /* as kern/vcpu.c does before returning to the VMM */
			return err ? err : (int)e->kind;
		}
	}
	return -1;
}

struct tiny {
	struct vm vm;
	struct vcpu v;
	paddr_t run_pa, code_pa;
};

static int tiny_setup(struct tiny *t, const u8 *code, size_t len)
{
	memset(&tiny_proc, 0, sizeof(tiny_proc));
	if (pmap_create(&tiny_proc.pmap))
		return -ENOMEM;
	t->code_pa = pmem_alloc_zeroed(0);
	t->run_pa = pmem_alloc_zeroed(0);
	if (!t->code_pa || !t->run_pa)
		return -ENOMEM;
	memcpy(pmem_va(t->code_pa), code, len);
	if (pmap_map(&tiny_proc.pmap, GUEST_CODE, t->code_pa, PAGE_SIZE, PMAP_X | PMAP_VISIBLE))
		return -ENOMEM;
	t->code_pa = 0; /* the pmap owns it now */
	t->vm = (struct vm){ .proc = &tiny_proc };
	t->v = (struct vcpu){ .vm = &t->vm, .run = pmem_va(t->run_pa), .run_pa = t->run_pa };
	return 0;
}

static void tiny_teardown(struct tiny *t)
{
	pmap_destroy(&tiny_proc.pmap, free_leaf, NULL);
	if (t->code_pa)
		pmem_free(t->code_pa, 0);
	if (t->run_pa)
		pmem_free(t->run_pa, 0);
}

/* tiny_setup, VMX on and the vCPU created; on an error all of it is undone and returned. */
static int tiny_start(struct tiny *t, const u8 *code, size_t len)
{
	int err = tiny_setup(t, code, len);

	if (!err)
		err = vmx_backend.enable();
	if (!err)
		err = vmx_backend.create(&t->v);
	if (err) {
		vmx_backend.disable();
		tiny_teardown(t);
	}
	return err;
}

static void tiny_run(struct ktest_ctx *kt, struct tiny *t)
{
	struct vcpu *v = &t->v;
	struct dyad_run *run = v->run;
	struct vcpu_exit e;
	struct dyad_sregs s;
	paddr_t data;

	run->regs.rip = GUEST_CODE;
	run->regs.rflags = 2;

	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_ASSERT(kt, run->exit_reason == DYAD_EXIT_IO, "exit %u", run->exit_reason);
	KT_EXPECT(kt,
		  run->exit.io.port == 0x80 && run->exit.io.size == 1 &&
			  run->exit.io.direction == DYAD_IO_OUT && run->exit.io.value == 0x5a &&
			  !run->exit.io.string && run->insn_len == 2,
		  "port %#x size %u dir %u value %#x len %u", run->exit.io.port, run->exit.io.size,
		  run->exit.io.direction, run->exit.io.value, run->insn_len);
	run->regs.rip += run->insn_len;

	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_ASSERT(kt, run->exit_reason == DYAD_EXIT_CPUID && run->insn_len == 2, "exit %u",
		  run->exit_reason);
	run->regs.rip += run->insn_len;

	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_ASSERT(kt, run->exit_reason == DYAD_EXIT_HYPERCALL && run->insn_len == 3, "exit %u",
		  run->exit_reason);
	run->regs.rip += run->insn_len;
	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_ASSERT(kt, run->exit_reason == DYAD_EXIT_HYPERCALL && run->insn_len == 3,
		  "VMMCALL: exit %u", run->exit_reason);
	run->regs.rip += run->insn_len;

	/* The guest writes GPA 0x3000, which nothing maps: an EPT violation for a write. */
	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_GUEST_FAULT, "kind %d", e.kind);
	KT_EXPECT(kt, e.gpa == GUEST_DATA && e.access == DYAD_ACCESS_WRITE && !e.entry_allowed,
		  "gpa %#lx access %u allowed %d", e.gpa, e.access, e.entry_allowed);
	/* Served as the VMM would: map the page at the same address, guest-visible. */
	data = pmem_alloc_zeroed(0);
	KT_ASSERT(kt, data, "no memory");
	KT_ASSERT(kt,
		  pmap_map(&tiny_proc.pmap, GUEST_DATA, data, PAGE_SIZE, PMAP_W | PMAP_VISIBLE) ==
			  0,
		  "map");

	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_EXPECT(kt, *(u8 *)pmem_va(data) == 0xa5, "the host sees %#x at the guest's write",
		  *(u8 *)pmem_va(data));
	KT_ASSERT(kt, run->exit_reason == DYAD_EXIT_IO && run->exit.io.port == 0x81, "exit %u",
		  run->exit_reason);
	KT_EXPECT(kt, run->exit.io.value == 0xa5, "read back %#x", run->exit.io.value);
	run->regs.rip += run->insn_len;

	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_ASSERT(kt, run->exit_reason == DYAD_EXIT_WRMSR, "exit %u", run->exit_reason);
	KT_EXPECT(kt, run->exit.msr.index == 0x1234 && run->insn_len == 2, "msr %#x len %u",
		  run->exit.msr.index, run->insn_len);
	run->regs.rip += run->insn_len;

	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_ASSERT(kt, run->exit_reason == DYAD_EXIT_HLT, "exit %u", run->exit_reason);
	KT_EXPECT(kt, run->regs.rip == GUEST_CODE + sizeof(tiny_guest) - 1 && run->insn_len == 1,
		  "rip %#lx len %u", run->regs.rip, run->insn_len);

	/* Garbage guest state from the VMM: an entry-failure exit, never a crash. */
	KT_ASSERT(kt, vmx_backend.get_sregs(v, &s) == 0, "get_sregs");
	/* NE is the host's and hidden; CD and NW stay what they were (VM entry keeps them). */
	KT_EXPECT(kt,
		  s.cs.s && s.cs.present && (s.cr0 & ~0x60000000ULL) == 0x10 && !(s.cr4 & CR4_VMXE),
		  "cs type %u cr0 %#lx cr4 %#lx", s.cs.type, s.cr0, s.cr4);
	s.cs.type = 0; /* not a code segment */
	KT_ASSERT(kt, vmx_backend.set_sregs(v, &s) == 0, "set_sregs");
	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_EXPECT(kt,
		  run->exit_reason == DYAD_EXIT_FAIL_ENTRY &&
			  run->exit.fail.hw_reason ==
				  (EXIT_REASON_ENTRY_FAILED | EXIT_INVALID_GUEST),
		  "exit %u reason %#lx", run->exit_reason, run->exit.fail.hw_reason);
	s.cs.type = 3;
	s.cr4 = CR4_VMXE; /* the guest cannot turn VMX on */
	KT_EXPECT(kt, vmx_backend.set_sregs(v, &s) == -EINVAL, "CR4.VMXE accepted");
	s.cr4 = 0;
	KT_ASSERT(kt, vmx_backend.set_sregs(v, &s) == 0, "set_sregs");
	run->regs.rip = GUEST_CODE;
	KT_ASSERT(kt, run_until(v, &e) == VCPU_EXIT_USER, "kind %d", e.kind);
	KT_EXPECT(kt, run->exit_reason == DYAD_EXIT_IO, "the guest did not run again: exit %u",
		  run->exit_reason);
}

KTEST(vmx_tiny_guest)
{
	struct tiny t = { 0 };
	int err;

	if (!have_vmx())
		KT_SKIP(kt, "no VMX");
	err = tiny_setup(&t, tiny_guest, sizeof(tiny_guest));
	if (!err)
		err = vmx_backend.enable();
	if (err) {
		tiny_teardown(&t);
		KT_ASSERT(kt, false, "setup: %d", err);
	}
	u64 t0 = rdtsc();
	err = vmx_backend.create(&t.v);
	u64 t1 = rdtsc();
	if (!err) {
		tiny_run(kt, &t);
		u64 t2 = rdtsc();
		vmx_backend.destroy(&t.v);
		printf("# vmx: VMCS create %lu TSC ticks, destroy %lu\n", t1 - t0, rdtsc() - t2);
		KT_EXPECT(kt, !tiny_proc.pmap.guest_attached, "still attached after destroy");
	}
	vmx_backend.disable();
	tiny_teardown(&t);
	KT_EXPECT(kt, err == 0, "create: %d", err);
}

/* out 0x80, al; jmp back: one VMM-handled exit per iteration. */
static const u8 out_loop[] = { 0xe6, 0x80, 0xeb, 0xfc };

#define ROUND_TRIPS 1000

/*
 * Enters the OUT loop ROUND_TRIPS times; with @put the VMM's state comes back after each exit
 * (a VMM-handled exit), without it the guest's stays loaded (an exit the kernel finishes).
 * Returns the fastest round trip in TSC ticks; counts in *@bad the entries not ending in the OUT.
 */
static u64 round_trips(struct vcpu *v, bool put, unsigned *bad)
{
	struct dyad_run *run = v->run;
	struct vcpu_exit e;
	u64 best = ~0ULL;

	for (int i = 0; i < ROUND_TRIPS; i++) {
		u64 a = rdtsc();

		run->regs.rip = GUEST_CODE;
		if (vmx_backend.enter(v, &e) || e.kind != VCPU_EXIT_USER ||
		    run->exit_reason != DYAD_EXIT_IO || run->exit.io.port != 0x80) {
			*bad += e.kind != VCPU_EXIT_RESUME; /* a host interrupt is no round trip */
			continue;
		}
		if (put)
			vmx_backend.sync(v);
		u64 d = rdtsc() - a;
		if (d < best)
			best = d;
	}
	vmx_backend.sync(v);
	return best;
}

/*
 * The backend's share of an exit: enter, OUT exit, translation, and for a VMM-handled exit the
 * VMM's FPU and MSRs put back; no system call, no run loop. Under Bochs with one CPU the TSC
 * counts emulated instructions.
 */
KTEST(vmx_backend_round_trip)
{
	struct tiny t = { 0 };
	struct vcpu_exit e;
	unsigned bad = 0;
	int err;

	if (!have_vmx())
		KT_SKIP(kt, "no VMX");
	err = tiny_start(&t, out_loop, sizeof(out_loop));
	if (err)
		KT_ASSERT(kt, false, "setup: %d", err);
	t.v.run->regs.rip = GUEST_CODE;
	t.v.run->regs.rflags = 2;
	vmx_backend.enter(&t.v, &e); /* the VMLAUNCH, outside the measurement */
	u64 vmm = round_trips(&t.v, true, &bad);
	u64 kernel = round_trips(&t.v, false, &bad);
	vmx_backend.destroy(&t.v);
	vmx_backend.disable();
	tiny_teardown(&t);
	KT_EXPECT(kt, bad == 0, "%u entries did not end in the OUT exit", bad);
	KT_EXPECT(kt, kernel < vmm, "keeping the guest's state loaded saves nothing: %lu vs %lu",
		  kernel, vmm);
	printf("# vmx: backend share of an exit (best of %d, TSC ticks): %lu when the VMM's state "
	       "comes back, %lu when the guest's stays loaded\n",
	       ROUND_TRIPS, vmm, kernel);
}

static void count_vmxe(void *arg)
{
	if (read_cr4() & CR4_VMXE)
		__atomic_fetch_add((unsigned *)arg, 1, __ATOMIC_RELAXED);
}

/* The first VM turns VMX on on every online CPU, the last one off on all of them. */
KTEST(vmx_every_cpu_enters_vmx_operation)
{
	unsigned on = 0, off = 0;
	int err;

	if (!have_vmx())
		KT_SKIP(kt, "no VMX");
	err = vmx_backend.enable();
	KT_ASSERT(kt, err == 0, "enable: %d", err);
	smp_call_mask(smp_online_mask(), count_vmxe, &on);
	vmx_backend.disable();
	smp_call_mask(smp_online_mask(), count_vmxe, &off);
	KT_EXPECT(kt, on == smp_cpus_online(), "%u of %u CPUs in VMX operation", on,
		  smp_cpus_online());
	KT_EXPECT(kt, off == 0, "%u CPUs still have CR4.VMXE after the last disable", off);
}

#define MOVE_ENTRIES 20

struct move {
	struct vcpu *v;
	unsigned bad, cpu;
	bool host_gs_ok;
	u32 done;
};

/* Enters the OUT loop MOVE_ENTRIES times, each a VMM-handled exit; counts the wrong ones. */
static unsigned move_enters(struct vcpu *v)
{
	struct vcpu_exit e;
	unsigned bad = 0;

	for (int i = 0; i < MOVE_ENTRIES; i++) {
		v->run->regs.rip = GUEST_CODE;
		if (vmx_backend.enter(v, &e) || e.kind != VCPU_EXIT_USER ||
		    v->run->exit_reason != DYAD_EXIT_IO || v->run->exit.io.port != 0x80)
			bad += e.kind != VCPU_EXIT_RESUME;
		vmx_backend.sync(v);
	}
	return bad;
}

/*
 * On the other CPU, from a call IPI: the caller is released first (it must take the VMCLEAR
 * IPI this CPU's first entry sends it).
 */
static void move_worker(void *arg)
{
	struct move *m = arg;

	smp_call_release();
	m->bad = move_enters(m->v);
	m->cpu = vmx_of(m->v)->cpu;
	m->host_gs_ok = vmcs_read(VMCS_HOST_GS_BASE) == rdmsr(MSR_GS_BASE);
	__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
}

/*
 * A vCPU runs on the boot CPU, then on another CPU, then on the boot CPU again: each move
 * VMCLEARs the VMCS on the CPU it leaves (by IPI from the one it comes to), loads it there and
 * rewrites the host state for that CPU. Every entry must end in the guest's OUT, and the
 * VMCS's host GS base must be the running CPU's.
 */
KTEST(vmx_vcpu_moves_between_cpus)
{
	struct tiny t = { 0 };
	struct move m = { .v = &t.v };
	unsigned other = 1, bad0, bad2;
	int err;

	if (!have_vmx())
		KT_SKIP(kt, "no VMX");
	if (smp_cpus_online() < 2)
		KT_SKIP(kt, "one CPU online");
	err = tiny_start(&t, out_loop, sizeof(out_loop));
	if (err)
		KT_ASSERT(kt, false, "setup: %d", err);
	t.v.run->regs.rflags = 2;
	bad0 = move_enters(&t.v);
	smp_call_on(other, move_worker, &m);
	u64 deadline = time_ns() + 5000000000ULL;
	while (!__atomic_load_n(&m.done, __ATOMIC_ACQUIRE) && time_ns() < deadline)
		cpu_relax();
	KT_EXPECT(kt, m.done, "the other CPU did not finish its entries");
	bad2 = move_enters(&t.v);
	KT_EXPECT(kt, vmx_of(&t.v)->cpu == this_cpu_id(), "VMCS active on CPU %u",
		  vmx_of(&t.v)->cpu);
	KT_EXPECT(kt, vmcs_read(VMCS_HOST_GS_BASE) == rdmsr(MSR_GS_BASE),
		  "host GS base not this CPU's after the move back");
	u64 moves = vmx_of(&t.v)->migrations;
	vmx_backend.destroy(&t.v);
	vmx_backend.disable();
	tiny_teardown(&t);
	KT_EXPECT(kt, bad0 + m.bad + bad2 == 0, "entries not ending in the OUT: %u, %u, %u", bad0,
		  m.bad, bad2);
	KT_EXPECT(kt, m.done && m.cpu == other, "on the other CPU the VMCS was active on %u",
		  m.cpu);
	KT_EXPECT(kt, m.host_gs_ok, "host GS base not the other CPU's after the move");
	KT_EXPECT(kt, moves == 2, "%lu moves counted, 2 made", moves);
}
