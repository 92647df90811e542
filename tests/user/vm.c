// SPDX-License-Identifier: MIT
/*
 * The VM tests: this program plays VMM to the tiny guests of vm_guests.asm, through the vCPU
 * interface only, so the same checks judge the SVM and the VMX backend. Where the right
 * outcome differs by vendor the check says so. Without VMX or SVM every check is a SKIP.
 *
 * With the argument "crash" it is the VMM that dies: it creates a VM, runs it, and faults.
 */
#include <fcntl.h>
#include <stdlib.h>

#include "vm_lib.h"

DECLARE_GUEST(rm_io);
DECLARE_GUEST(rm_mmio);
DECLARE_GUEST(lm_rw);
DECLARE_GUEST(lm_access);
DECLARE_GUEST(lm_msr);
DECLARE_GUEST(lm_probe);
DECLARE_GUEST(lm_irq);
DECLARE_GUEST(lm_spin);
DECLARE_GUEST(lm_sleep);
DECLARE_GUEST(lm_ud);
DECLARE_GUEST(lm_xsetbv);
DECLARE_GUEST(lm_xmm);
DECLARE_GUEST(lm_dr);
DECLARE_GUEST(lm_pkru);
DECLARE_GUEST(lm_db);
DECLARE_GUEST(lm_efer);
extern const unsigned char guest_lm_access_after_call[], guest_lm_irq_handler[],
	guest_lm_probe_fault[], guest_lm_xsetbv_gp[], guest_lm_xsetbv_ud[], guest_lm_db_handler[],
	guest_lm_efer_gp[];

#define LEAK_CYCLES 500
#define PAGE 4096UL

/* The guest address of a label inside a guest copied to GUEST_CODE. */
#define GUEST_ADDR(name, label) (GUEST_CODE + (unsigned long)(label - guest_##name))

static int vendor_amd;
/*
 * An SVM model that saves the next RIP but has no VMCB clean bits although it calls itself
 * family 15h or later: no real CPU of those families lacks them (they came with family 15h);
 * Bochs's SVM models ("ryzen", and "trinity_apu", family 15h) do. There a guest triple fault
 * resets the whole machine instead of taking the shutdown intercept, and a guest spinning with
 * IF = 0 never gets a host interrupt.
 */
static int svm_partial;
/* QEMU's TCG ("TCGTCGTCGTCG" at CPUID 0x40000000): Dyad's SVM backend hands external
 * interrupts to V_IRQ there, with no interrupt-window exit (arch/x86/svm.c, inject()). */
static int qemu_tcg;

static void detect_cpu(void)
{
	unsigned r[4], family;

	cpuid_regs(0, 0, r);
	vendor_amd = r[1] == 0x68747541 || r[1] == 0x6f677948; /* "Auth", "Hygo": SVM's vendors */
	qemu_tcg = vm_host_is_qemu_tcg();
	cpuid_regs(1, 0, r);
	family = ((r[0] >> 8) & 0xf) + ((r[0] >> 8 & 0xf) == 0xf ? (r[0] >> 20) & 0xff : 0);
	cpuid_regs(0x80000000, 0, r);
	if (!vendor_amd || r[0] < 0x8000000a || family < 0x15)
		return;
	cpuid_regs(0x8000000a, 0, r);
	svm_partial = (r[3] & (1u << 3)) && !(r[3] & (1u << 5)); /* NRIP save, no clean bits */
}

/* CPUID.1:ECX bit @bit (XSAVE 26, AVX 28); CPUID.7.0:ECX bit @bit (PKU 3). */
static int cpuid1_ecx(unsigned bit)
{
	unsigned r[4];

	cpuid_regs(1, 0, r);
	return (r[2] >> bit) & 1;
}

static int cpuid7_ecx(unsigned bit)
{
	unsigned r[4];

	cpuid_regs(0, 0, r);
	if (r[0] < 7)
		return 0;
	cpuid_regs(7, 0, r);
	return (r[2] >> bit) & 1;
}

static int open_or_fail(struct vmctx *c, const char *what)
{
	long r = vm_open(c);

	if (r)
		ut_ok(0, "%s: VM set up (error %ld)", what, r);
	return r == 0;
}

/* ---- 4. exits decoded -------------------------------------------------------------------- */

static void test_io_exits(void)
{
	struct vmctx c;
	struct dyad_run *run;
	int ok = 1;

	if (!open_or_fail(&c, "I/O exits"))
		return;
	run = c.run;
	vm_start_real(&c, GUEST(rm_io));
	ut_eq(vm_run(&c), DYAD_EXIT_IO, "real mode: OUT imm8 is an I/O exit");
	ut_ok(run->exit.io.port == 0x80 && run->exit.io.size == 1 && run->exit.io.value == 0x5a &&
		      run->insn_len == 2 && !run->exit.io.string,
	      "OUT 0x80, al: port, size 1, value 0x5a, length 2");
	run->regs.rip += run->insn_len;
	ut_ok(vm_expect_out(&c, 0x43, "PIT") && run->exit.io.size == 1,
	      "a guest OUT to the PIT reaches the VMM");
	ut_ok(vm_expect_out(&c, 0x3f8, "COM1") && run->exit.io.value == 'A' && run->insn_len == 1,
	      "a guest OUT to COM1 reaches the VMM, not the UART (value 'A', length 1)");
	ok = vm_expect_out(&c, 0x3f8, "word") && run->exit.io.size == 2 &&
	     run->exit.io.value == 0x1234 && run->insn_len == 1;
	ut_ok(ok, "OUT dx, ax: size 2, value 0x1234, length 1");
	ok = vm_expect_out(&c, 0x3f8, "dword") && run->exit.io.size == 4 &&
	     run->exit.io.value == 0xdeadbeef && run->insn_len == 2;
	ut_ok(ok, "OUT dx, eax: size 4, value 0xdeadbeef, length 2 (operand-size prefix)");
	ok = vm_run(&c) == DYAD_EXIT_IO && run->exit.io.direction == DYAD_IO_IN &&
	     run->exit.io.port == 0x3f8 && run->exit.io.size == 1;
	ut_ok(ok, "IN al, dx: direction in, port 0x3f8, size 1");
	run->regs.rax = (run->regs.rax & ~0xffUL) | 0x77;
	run->regs.rip += run->insn_len;
	ut_ok(vm_expect_out(&c, 0x81, "echo") && run->exit.io.value == 0x77,
	      "the value the VMM gave IN reaches the guest");
	ok = vm_run(&c) == DYAD_EXIT_IO && run->exit.io.string && run->exit.io.rep &&
	     run->exit.io.direction == DYAD_IO_OUT && run->regs.rcx == 3 && run->insn_len == 2;
	ut_ok(ok, "REP OUTSB: string, rep, rcx counts 3, length 2");
	run->regs.rcx = 0;
	run->regs.rsi += 3;
	run->regs.rip += run->insn_len;
	ok = vm_run(&c) == DYAD_EXIT_CPUID && run->insn_len == 2;
	ut_ok(ok, "CPUID is a CPUID exit, length 2");
	run->regs.rip += run->insn_len;
	ok = vm_run(&c) == DYAD_EXIT_HYPERCALL && run->insn_len == 3;
	ut_ok(ok, "VMMCALL is a hypercall exit, length 3");
	if (!vendor_amd) /* VMCALL is a different instruction; it #UDs as VMMCALL on VMX */
		printf("#   (VMX: VMMCALL exits as an invalid opcode or a hypercall)\n");
	run->regs.rip += run->insn_len;
	ok = vm_run(&c) == DYAD_EXIT_HLT && run->if_flag == 0 && run->insn_len == 1;
	ut_ok(ok, "HLT with IF = 0 is a HLT exit, length 1");
	ut_ok(run->stats.exits[DYAD_STAT_IO] == 8 && run->stats.exits[DYAD_STAT_CPUID] == 1 &&
		      run->stats.exits[DYAD_STAT_HLT] == 1,
	      "stats count 8 I/O, 1 CPUID and 1 HLT exits");
	vm_shut(&c);
}

/* ---- 3. isolation: VMM-private memory is MMIO; 4. MMIO decoded ------------------------------- */

static void test_mmio(void)
{
	static const unsigned char mov_bx[] = { 0x8b, 0x1e, 0x10, 0x00 };
	struct vmctx c;
	struct dyad_run *run;
	int ok;

	if (!open_or_fail(&c, "MMIO"))
		return;
	run = c.run;
	vm_start_real(&c, GUEST(rm_mmio));
	/* 0x1f000: VMM-private memory with a secret in place of guest RAM. */
	sys2(__NR_munmap, 0x1f000, PAGE);
	long r = vm_mmap((void *)0x1f000, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	memset((void *)0x1f000, 0xa5, PAGE);
	ok = r == 0x1f000 && vm_run(&c) == DYAD_EXIT_MMIO && run->exit.mmio.gpa == 0x1f010 &&
	     run->exit.mmio.access == DYAD_ACCESS_READ;
	ut_ok(ok, "a guest read of VMM-private memory is an MMIO exit at its address, read");
	ut_ok(run->exit.mmio.insn_bytes >= 4 && !memcmp(run->exit.mmio.insn, mov_bx, 4),
	      "the MMIO exit carries the instruction bytes (8b 1e 10 00) fetched at CS:IP");
	run->regs.rbx = 0x4242;
	run->regs.rip += 4;
	ok = vm_run(&c) == DYAD_EXIT_MMIO && run->exit.mmio.gpa == 0x1f020 &&
	     run->exit.mmio.access == DYAD_ACCESS_WRITE && run->exit.mmio.insn[0] == 0xc7;
	ut_ok(ok, "a guest write there is an MMIO write exit");
	run->regs.rip += 6;
	ok = vm_expect_out(&c, 0x10, "after MMIO") && (run->regs.rbx & 0xffff) == 0x4242 &&
	     *(unsigned short *)0x1f020 == 0xa5a5;
	ut_ok(ok, "the guest sees only what the VMM emulated; the private page is unchanged");
	ut_ok(run->stats.exits[DYAD_STAT_MMIO] == 2, "stats count 2 MMIO exits");
	vm_shut(&c);
	sys2(__NR_munmap, 0x1f000, PAGE);
}

/* ---- 1. the central claim -------------------------------------------------------------------- */

static unsigned size_index(unsigned long size)
{
	return size == (1UL << 30) ? 2 : size == (2UL << 20) ? 1 : 0;
}

static void central_claim(unsigned long base, unsigned long len, unsigned long want_size,
			  const char *name)
{
	const unsigned long pattern = 0x5eedf00d12345678UL, back = 0x0ddba11cafe0beefUL;
	struct vmctx c;
	struct dyad_vm_info info;
	unsigned long x = base + len / 2 + 0x100;

	if (!open_or_fail(&c, name))
		return;
	if (base != GUEST_LOW &&
	    guest_map(base, len, GUEST_PROT, want_size > PAGE ? DYAD_MAP_HUGE : 0) != (long)base) {
		ut_ok(0, "%s: guest RAM mapped", name);
		vm_shut(&c);
		return;
	}
	vm_start_long(&c, GUEST(lm_rw));
	c.run->regs.rdi = x;
	c.run->regs.rsi = pattern;
	int ok = vm_expect_out(&c, 0x10, name) && *(volatile unsigned long *)x == pattern;
	ut_ok(ok, "%s: the guest's write at GPA %#lx is the VMM's memory at address %#lx", name, x,
	      x);
	*(volatile unsigned long *)(x + 8) = back;
	ok = vm_run(&c) == DYAD_EXIT_HYPERCALL && c.run->regs.rax == back;
	ut_ok(ok, "%s: the VMM's write at %#lx is what the guest reads there", name, x + 8);
	dyad_vm_query((void *)x, &info);
	ut_ok(info.guest_visible && c.run->stats.guest_faults[size_index(info.page_size)] >= 1,
	      "%s: the guest's fault was served as one page fault of %lu bytes", name,
	      info.page_size);
	if (want_size == (1UL << 30) && !(cpuid_ext_edx() & (1u << 26)))
		ut_skip(name, "this CPU has no 1 GiB pages (got %lu-byte pages)", info.page_size);
	else
		ut_eq(info.page_size, want_size, "%s: mapped by a %lu-byte page in both halves",
		      name, want_size);
	vm_shut(&c);
	if (base != GUEST_LOW)
		sys2(__NR_munmap, base, len);
}

/* ---- 2. encodings judged by the hardware walker ------------------------------------------- */

static void test_encodings(void)
{
	static const struct {
		int prot;
		const char *name;
	} prots[] = { { PROT_READ, "r" },
		      { PROT_READ | PROT_WRITE, "rw" },
		      { PROT_READ | PROT_EXEC, "rx" },
		      { PROT_READ | PROT_WRITE | PROT_EXEC, "rwx" } };
	const unsigned long x = 0x50000000UL;

	for (unsigned i = 0; i < sizeof(prots) / sizeof(prots[0]); i++) {
		struct vmctx c;
		struct dyad_run *run;
		int w = prots[i].prot & PROT_WRITE;

		if (!open_or_fail(&c, "encodings"))
			return;
		run = c.run;
		guest_map(x, PAGE, PROT_READ | PROT_WRITE, 0);
		*(volatile unsigned char *)x = 0xc3; /* RET, for the guest's CALL */
		sys3(__NR_mprotect, x, PAGE, prots[i].prot);
		vm_start_long(&c, GUEST(lm_access));
		run->regs.rdi = x;
		run->regs.rsi = 0x11;
		long r = vm_run(&c);
		int ok = r == DYAD_EXIT_IO && run->exit.io.port == 0x10 &&
			 (run->regs.rax & 0xff) == 0xc3;
		ut_ok(ok, "guest-visible %s: the guest reads it (%s)", prots[i].name, exit_name(r));
		run->regs.rip += run->insn_len;
		r = vm_run(&c);
		if (w) {
			ok = r == DYAD_EXIT_IO && run->exit.io.port == 0x11 &&
			     *(volatile unsigned char *)(x + 8) == 0x11;
			ut_ok(ok, "guest-visible %s: the guest writes it", prots[i].name);
		} else {
			ok = r == DYAD_EXIT_MMIO && run->exit.mmio.gpa == x + 8 &&
			     (run->exit.mmio.access & DYAD_ACCESS_WRITE) &&
			     *(volatile unsigned char *)(x + 8) == 0;
			ut_ok(ok, "guest-visible %s: a guest write is an MMIO write exit (%s)",
			      prots[i].name, exit_name(r));
			run->regs.rip += 4;
			r = vm_run(&c);
		}
		run->regs.rip += run->insn_len;
		r = vm_run(&c);
		/* The API: guest-visible implies guest-executable. */
		ok = r == DYAD_EXIT_IO && run->exit.io.port == 0x12;
		ut_ok(ok, "guest-visible %s: the guest executes it (%s at rip %#lx)", prots[i].name,
		      exit_name(r), run->regs.rip);
		if (!ok && r == DYAD_EXIT_MMIO)
			printf("#   mmio gpa %#lx access %u; %lu spurious faults\n",
			       run->exit.mmio.gpa, run->exit.mmio.access,
			       run->stats.exits[DYAD_STAT_SPURIOUS_FAULT]);
		vm_shut(&c);
		sys2(__NR_munmap, x, PAGE);
	}
}

/*
 * The kernel half is never linked into the odd half: a guest that maps guest-physical
 * 0x800000000000 (the first address past the user half, PML4 slot 256) reads nothing there.
 * Where the CPU's physical-address width reaches it, it is an MMIO exit; below, the guest's
 * own walk refuses it with a #PF.
 */
static void test_kernel_half(void)
{
	unsigned long *pml4 = (unsigned long *)GUEST_PML4;
	unsigned long *pdpt = (unsigned long *)(GUEST_PML4 + 8 * 4096);
	unsigned long *pd = pdpt + 512;
	const unsigned long gva = 0x8000000000UL, gpa = 0x800000000000UL;
	struct vmctx c;

	if (!open_or_fail(&c, "kernel half"))
		return;
	vm_start_long(&c, GUEST(lm_probe));
	memset(pdpt, 0, 2 * 4096);
	pml4[1] = (unsigned long)pdpt | 0x7;
	pdpt[0] = (unsigned long)pd | 0x7;
	pd[0] = gpa | 0x87;
	guest_idt_set(14, GUEST_ADDR(lm_probe, guest_lm_probe_fault));
	c.run->regs.rdi = gva;
	long r = vm_run(&c);
	int mmio = r == DYAD_EXIT_MMIO && c.run->exit.mmio.gpa == gpa;
	int pf = r == DYAD_EXIT_IO && c.run->exit.io.port == 0x1e;
	ut_ok(mmio || pf,
	      "a guest access to guest-physical %#lx (the kernel half's first slot) is an MMIO "
	      "exit or a guest #PF, never data (%s, port %#x)",
	      gpa, exit_name(r), c.run->exit.io.port);
	vm_shut(&c);
}

/* The second-stage walker's accessed and dirty bits, as the pair reports them. */
static void test_accessed_dirty(void)
{
	const unsigned long x = 0x50000000UL;
	struct dyad_vm_info info;
	struct vmctx c;

	if (!open_or_fail(&c, "A/D"))
		return;
	guest_map(x, 2 * PAGE, GUEST_PROT, 0);
	vm_start_long(&c, GUEST(lm_access));
	c.run->regs.rdi = x + PAGE - 8; /* the read on page x, the write (+8) on page x + 4096 */
	c.run->regs.rsi = 0x22;
	int ok = vm_expect_out(&c, 0x10, "A/D read") && !dyad_vm_query((void *)x, &info) &&
		 info.ad == DYAD_VM_ACCESSED;
	ut_ok(ok, "a page the guest only read is accessed, not dirty (ad %#x)", info.ad);
	ok = vm_expect_out(&c, 0x11, "A/D write") && !dyad_vm_query((void *)(x + PAGE), &info) &&
	     info.ad == (DYAD_VM_ACCESSED | DYAD_VM_DIRTY);
	ut_ok(ok, "a page the guest wrote is accessed and dirty (ad %#x)", info.ad);
	vm_shut(&c);
	sys2(__NR_munmap, x, 2 * PAGE);
}

/* ---- 3. isolation: MSRs; 4. MSR exits --------------------------------------------------------- */

static void test_msrs(void)
{
	struct vmctx c;
	struct dyad_run *run;
	struct {
		struct dyad_msrs h;
		struct dyad_msr_entry e[3];
	} m = { { .nmsrs = 3 },
		{ { .index = DYAD_MSR_LSTAR, .data = 0xffffffff81000000UL },
		  { .index = 0x1b, .data = 1 },
		  { .index = DYAD_MSR_CSTAR, .data = 1 } } };

	if (!open_or_fail(&c, "MSRs"))
		return;
	run = c.run;
	vm_start_long(&c, GUEST(lm_msr));
	int ok = vm_run(&c) == DYAD_EXIT_WRMSR && run->exit.msr.index == 0x1b &&
		 run->exit.msr.value == 0xfee00900UL && run->insn_len == 2;
	ut_ok(ok, "a guest WRMSR to a host MSR (APIC_BASE) exits to the VMM with its value");
	run->regs.rip += run->insn_len;
	ok = vm_run(&c) == DYAD_EXIT_RDMSR && run->exit.msr.index == 0x1b;
	ut_ok(ok, "RDMSR of it is an RDMSR exit");
	run->regs.rax = 0xfee00d00UL;
	run->regs.rdx = 0;
	run->regs.rip += run->insn_len;
	ok = vm_expect_out(&c, 0x10, "msr") && run->regs.r9 == 0xfee00d00UL;
	ut_ok(ok, "the value the VMM gave RDMSR reaches the guest");
	ut_eq(run->regs.r8, 0xd00, "the guest's EFER reads LME|LMA|NXE: SVME/VMXE stay hidden");
	ut_eq(run->regs.r10, 0x00230010, "STAR is the guest's own, without an exit");
	ut_ok(run->stats.exits[DYAD_STAT_MSR_KERNEL] >= 1, "EFER is kept by the kernel");
	ut_eq(vm_ioctl(c.cpu, DYAD_VCPU_SET_MSRS, &m), 1,
	      "SET_MSRS stops at the first MSR the kernel does not keep");
	m.h.nmsrs = 1;
	m.e[0].index = DYAD_MSR_STAR;
	ok = vm_ioctl(c.cpu, DYAD_VCPU_GET_MSRS, &m) == 1 && m.e[0].data == 0x0023001011223344UL;
	ut_ok(ok, "GET_MSRS reads the STAR the guest wrote");
	m.h.nmsrs = 1;
	m.e[0] = (struct dyad_msr_entry){ .index = DYAD_MSR_SFMASK, .data = 1UL << 32 };
	ut_eq(vm_ioctl(c.cpu, DYAD_VCPU_SET_MSRS, &m), -EINVAL,
	      "SFMASK with a reserved bit (32) is refused before any WRMSR");
	m.e[0] = (struct dyad_msr_entry){ .index = DYAD_MSR_PAT, .data = 0x0007040600070402UL };
	ut_eq(vm_ioctl(c.cpu, DYAD_VCPU_SET_MSRS, &m), -EINVAL, "a PAT entry of type 2 is refused");
	m.e[0] = (struct dyad_msr_entry){ .index = DYAD_MSR_SFMASK, .data = 0x47700 };
	ut_eq(vm_ioctl(c.cpu, DYAD_VCPU_SET_MSRS, &m), 1, "a valid SFMASK is taken");
	ut_eq(vm_run(&c), DYAD_EXIT_HLT, "and the guest runs with it");
	m.h.nmsrs = DYAD_MSRS_MAX + 1;
	ut_eq(vm_ioctl(c.cpu, DYAD_VCPU_GET_MSRS, &m), -E2BIG, "more than DYAD_MSRS_MAX is E2BIG");
	vm_shut(&c);
}

static void test_xsetbv(void)
{
	struct vmctx c;
	int avx = cpuid1_ecx(26) && cpuid1_ecx(28);
	unsigned long want = avx ? 7 : 3;
	volatile unsigned long *ymm = (volatile unsigned long *)GUEST_DATA;

	if (!cpuid1_ecx(26)) {
		ut_skip("XSETBV", "this CPU has no XSAVE");
		return;
	}
	/* OSXSAVE is the kernel's CR4: without it the kernel switches no guest XSAVE state. */
	if (!cpuid1_ecx(27)) {
		ut_skip("XSETBV", "the kernel left XSAVE off (its boot log says why)");
		return;
	}
	if (!open_or_fail(&c, "XSETBV"))
		return;
	vm_start_long(&c, GUEST(lm_xsetbv));
	memset((void *)GUEST_DATA, 0, 0x40);
	guest_idt_set(13, GUEST_ADDR(lm_xsetbv, guest_lm_xsetbv_gp));
	guest_idt_set(6, GUEST_ADDR(lm_xsetbv, guest_lm_xsetbv_ud));
	c.run->regs.r12 = want;
	int ok = vm_expect_out(&c, 0x10, "xsetbv") && c.run->regs.r8 == want;
	ut_ok(ok, "a valid XSETBV (XCR0 %#lx) takes effect: the guest's XGETBV reads %#lx", want,
	      c.run->regs.r8);
	if (avx) {
		/* Leaving the kernel between the two stores moves the state out and back. */
		ok = vm_expect_out(&c, 0x13, "avx") && ymm[0] == ~0UL && ymm[3] == ~0UL;
		ut_ok(ok, "the guest runs an AVX instruction after its XSETBV");
		ok = vm_expect_out(&c, 0x11, "xsetbv #GP") && ymm[4] == ~0UL && ymm[7] == ~0UL;
		ut_ok(ok, "its YMM upper halves survive a return to the VMM (%#lx %#lx)", ymm[4],
		      ymm[7]);
	} else {
		ut_skip("AVX after XSETBV", "this CPU has no AVX");
		ok = vm_expect_out(&c, 0x11, "xsetbv #GP");
	}
	ut_ok(ok, "an invalid XCR0 (SSE without x87) raises #GP in the guest");
	/* QEMU TCG has no XSETBV intercept: the guest's XCR0 is then kept by saving it. */
	if (c.run->stats.exits[DYAD_STAT_XSETBV] == 0 && vendor_amd)
		ut_skip("XSETBV exits", "this CPU does not intercept XSETBV (QEMU TCG)");
	else
		ut_ok(c.run->stats.exits[DYAD_STAT_XSETBV] == 2, "stats count 2 XSETBV exits");
	vm_shut(&c);
}

/*
 * One DYAD_VCPU_RUN with the VMM's own xmm5 and MXCSR set around it in one asm block (no
 * compiler code between): *@xmm_after and *@mxcsr_after are what the VMM has afterwards.
 */
static long run_with_vmm_xmm(struct vmctx *c, unsigned long xmm, unsigned mxcsr,
			     unsigned long *xmm_after, unsigned *mxcsr_after)
{
	long r;
	unsigned m = mxcsr;

	__asm__ volatile("ldmxcsr %[m]\n\t"
			 "movq %[x], %%xmm5\n\t"
			 "syscall\n\t"
			 "movq %%xmm5, %[x]\n\t"
			 "stmxcsr %[m]"
			 : "=a"(r), [x] "+r"(xmm), [m] "+m"(m)
			 : "a"(__NR_ioctl), "D"(c->cpu), "S"(DYAD_VCPU_RUN), "d"(0)
			 : "rcx", "r11", "memory", "xmm5");
	*xmm_after = xmm;
	*mxcsr_after = m;
	return r < 0 ? r : (long)c->run->exit_reason;
}

/* A guest that never turned XSAVE on (XCR0 = x87) still owns its XMM registers and MXCSR. */
static void test_xmm_switch(void)
{
	struct vmctx c;
	unsigned long vmm_xmm;
	unsigned vmm_mxcsr;
	volatile unsigned *data = (volatile unsigned *)(GUEST_DATA + 0x200);

	if (!open_or_fail(&c, "XMM"))
		return;
	vm_start_long(&c, GUEST(lm_xmm));
	data[0] = 0x7f80; /* round toward zero, every exception masked */
	data[1] = 0;
	c.run->regs.rsi = 0x2222222222222222UL;
	long r = run_with_vmm_xmm(&c, 0x1111111111111111UL, 0x1f80, &vmm_xmm, &vmm_mxcsr);
	ut_ok(r == DYAD_EXIT_IO && vmm_xmm == 0x1111111111111111UL && vmm_mxcsr == 0x1f80,
	      "the VMM's xmm5 and MXCSR are its own after a run (%#lx %#x, exit %ld)", vmm_xmm,
	      vmm_mxcsr, r);
	c.run->regs.rip += c.run->insn_len;
	r = run_with_vmm_xmm(&c, 0x3333333333333333UL, 0x1f80, &vmm_xmm, &vmm_mxcsr);
	ut_ok(r == DYAD_EXIT_HYPERCALL && c.run->regs.rax == 0x2222222222222222UL,
	      "a guest with XCR0 = x87 keeps its xmm5 across runs (reads %#lx)", c.run->regs.rax);
	ut_eq(data[1], 0x7f80, "and its MXCSR");
	vm_shut(&c);
}

/* DR0-DR3 and DR6 are each vCPU's own: kept across runs, never seen by the next VM. */
static void test_debug_regs(void)
{
	struct vmctx c;

	if (!open_or_fail(&c, "debug registers"))
		return;
	vm_start_long(&c, GUEST(lm_dr));
	c.run->regs.rsi = 0x123456789000UL;
	c.run->regs.rdx = 0xffff0ff1UL; /* B0 */
	int ok = vm_expect_out(&c, 0x10, "dr") && vm_run(&c) == DYAD_EXIT_HYPERCALL;
	ut_ok(ok && c.run->regs.r10 == 0x123456789000UL && (c.run->regs.r11 & 0xf) == 1,
	      "a guest's DR0 and DR6 survive a return to the VMM (%#lx %#lx)", c.run->regs.r10,
	      c.run->regs.r11);
	vm_shut(&c);
	if (!open_or_fail(&c, "debug registers"))
		return;
	vm_start_long(&c, GUEST(lm_dr));
	c.run->regs.rsi = 0;
	c.run->regs.rdx = 0xffff0ff0UL;
	ok = vm_expect_out(&c, 0x10, "dr");
	ut_ok(ok && c.run->regs.r8 == 0 && (c.run->regs.r9 & 0xf) == 0,
	      "the next VM starts with DR0 0 and DR6 B0-B3 clear (DR0 %#lx, DR6 %#lx)",
	      c.run->regs.r8, c.run->regs.r9);
	vm_shut(&c);
}

/* PKRU is each vCPU's own: a value one guest writes is not the next VM's. */
static void test_pkru(void)
{
	struct vmctx c;

	if (!cpuid7_ecx(3)) {
		ut_skip("PKRU", "this CPU has no protection keys");
		return;
	}
	if (!open_or_fail(&c, "PKRU"))
		return;
	vm_start_long(&c, GUEST(lm_pkru));
	c.run->regs.rsi = 0x55555554UL;
	int ok = vm_expect_out(&c, 0x10, "pkru") && vm_run(&c) == DYAD_EXIT_HYPERCALL;
	ut_ok(ok && c.run->regs.r8 == 0 && c.run->regs.r10 == 0x55555554UL,
	      "a guest's PKRU starts at 0 and survives a return to the VMM (%#lx %#lx)",
	      c.run->regs.r8, c.run->regs.r10);
	vm_shut(&c);
	if (!open_or_fail(&c, "PKRU"))
		return;
	vm_start_long(&c, GUEST(lm_pkru));
	c.run->regs.rsi = 0;
	ok = vm_expect_out(&c, 0x10, "pkru");
	ut_ok(ok && c.run->regs.r8 == 0, "the next VM's PKRU is 0, not the last guest's (%#lx)",
	      c.run->regs.r8);
	vm_shut(&c);
}

/* #DB exits (no delivery loop can hold the CPU) and reaches the guest's handler once. */
static void test_db_intercept(void)
{
	struct vmctx c;

	if (!open_or_fail(&c, "#DB"))
		return;
	vm_start_long(&c, GUEST(lm_db));
	memset((void *)GUEST_DATA, 0, PAGE);
	guest_idt_set(1, GUEST_ADDR(lm_db, guest_lm_db_handler));
	int ok = vm_expect_out(&c, 0x10, "db") && *(volatile unsigned long *)(GUEST_DATA + 0x100) == 1;
	ut_ok(ok, "a single-step #DB reaches the guest's handler once (count %lu)",
	      *(volatile unsigned long *)(GUEST_DATA + 0x100));
	ut_ok(c.run->stats.exits[DYAD_STAT_EXCEPTION] >= 1,
	      "the #DB went through the kernel (an exception exit, %lu)",
	      c.run->stats.exits[DYAD_STAT_EXCEPTION]);
	vm_shut(&c);
}

/* An MMIO exit's instruction bytes come through 5-level page tables when the guest uses them. */
static void test_la57_fetch(void)
{
	static const unsigned char load[] = { 0x48, 0x8b, 0x07 }; /* mov rax, [rdi] */
	struct vmctx c;
	struct dyad_sregs s;
	unsigned long *pml5 = (unsigned long *)(GUEST_PML4 + 6 * PAGE);

	if (!cpuid7_ecx(16)) {
		ut_skip("5-level paging fetch", "this CPU has no 5-level paging");
		return;
	}
	if (!open_or_fail(&c, "LA57"))
		return;
	vm_start_long(&c, GUEST(lm_probe));
	memset(pml5, 0, PAGE);
	pml5[0] = GUEST_PML4 | 0x7;
	vm_ioctl(c.cpu, DYAD_VCPU_GET_SREGS, &s);
	s.cr3 = (unsigned long)pml5;
	s.cr4 |= 1UL << 12; /* LA57 */
	long r = vm_ioctl(c.cpu, DYAD_VCPU_SET_SREGS, &s);
	c.run->regs.rdi = 0x300000; /* past the guest's RAM: MMIO */
	r = r ? r : vm_run(&c);
	ut_ok(r == DYAD_EXIT_MMIO && c.run->exit.mmio.insn_bytes >= 3 &&
		      !memcmp(c.run->exit.mmio.insn, load, 3),
	      "with 5-level paging the MMIO exit carries the instruction (exit %s, %u bytes)",
	      exit_name(r), c.run->exit.mmio.insn_bytes);
	vm_shut(&c);
}

/* Clearing EFER.LME with paging on is #GP, on both vendors. */
static void test_efer_lme(void)
{
	struct vmctx c;

	if (!open_or_fail(&c, "EFER"))
		return;
	vm_start_long(&c, GUEST(lm_efer));
	guest_idt_set(13, GUEST_ADDR(lm_efer, guest_lm_efer_gp));
	long r = vm_run(&c);
	ut_ok(r == DYAD_EXIT_IO && c.run->exit.io.port == 0x11,
	      "a guest clearing EFER.LME with paging on gets #GP (exit %s, port %#x)",
	      exit_name(r), c.run->exit.io.port);
	vm_shut(&c);
}

/* ---- 5. injection ------------------------------------------------------------------------------ */

#define IRQ_COUNT (*(volatile unsigned long *)(GUEST_DATA + 0x100))

static void queue(struct dyad_run *run, unsigned type, unsigned vector, int has_err, unsigned err)
{
	run->inject = (struct dyad_event){ .pending = 1,
					   .type = (unsigned char)type,
					   .vector = (unsigned char)vector,
					   .has_error_code = (unsigned char)has_err,
					   .error_code = err };
}

static void test_injection(void)
{
	struct vmctx c;
	struct dyad_run *run;
	static const struct {
		unsigned type, vector;
		int err;
		const char *what;
	} bad[] = { { DYAD_EVENT_EXTINT, 5, 0, "external interrupt vector 5" },
		    { DYAD_EVENT_EXTINT, 0x30, 1, "external interrupt with an error code" },
		    { DYAD_EVENT_EXCEPTION, 2, 0, "NMI as an exception" },
		    { DYAD_EVENT_EXCEPTION, 13, 0, "#GP without its error code" },
		    { DYAD_EVENT_EXCEPTION, 6, 1, "#UD with an error code" },
		    { DYAD_EVENT_EXCEPTION, 32, 0, "exception vector 32" },
		    { 7, 0x30, 0, "event type 7" },
		    { 2, 2, 0, "event type 2 (NMI)" } };

	if (!open_or_fail(&c, "injection"))
		return;
	run = c.run;
	vm_start_long(&c, GUEST(lm_irq));
	memset((void *)GUEST_DATA, 0, PAGE);
	guest_idt_set(0x30, GUEST_ADDR(lm_irq, guest_lm_irq_handler));
	guest_idt_set(6, GUEST_ADDR(lm_irq, guest_lm_irq_handler));
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		queue(run, bad[i].type, bad[i].vector, bad[i].err, 0);
		ut_eq(vm_run(&c), -EINVAL, "injecting %s is EINVAL", bad[i].what);
	}
	/* IF = 0 at the start: the interrupt waits for the STI, then is taken. Vector 0x14: an
	 * APIC or a PIC may raise 16-31, and VM entry accepts them. */
	guest_idt_set(0x14, GUEST_ADDR(lm_irq, guest_lm_irq_handler));
	queue(run, DYAD_EVENT_EXTINT, 0x14, 0, 0);
	int ok = vm_expect_out(&c, 0x10, "irq") && IRQ_COUNT == 1 && !run->inject.pending;
	ut_ok(ok,
	      "an injected interrupt (vector 0x14) is taken once the guest enables interrupts "
	      "(count %lu)",
	      IRQ_COUNT);
	/* It waits in the interrupt window (an exit), except with SVM under QEMU's TCG, where the
	 * kernel hands it to V_IRQ, which the CPU takes itself once IF = 1: no exit. */
	if (vendor_amd && qemu_tcg)
		ut_ok(run->stats.exits[DYAD_STAT_INTR_WINDOW] == 0,
		      "it waited in V_IRQ, with no window exit (SVM under QEMU TCG)");
	else
		ut_ok(run->stats.exits[DYAD_STAT_INTR_WINDOW] >= 1,
		      "it waited for the interrupt window");
	/* An exception is delivered at once, IF or not. */
	queue(run, DYAD_EVENT_EXCEPTION, 6, 0, 0);
	ok = vm_expect_out(&c, 0x11, "exception") && IRQ_COUNT == 2;
	ut_ok(ok, "an injected #UD is delivered at once with IF = 0 (count %lu)", IRQ_COUNT);
	/* Queued with IF = 0: taken exactly once after STI (and its shadow). */
	unsigned long windows = run->stats.exits[DYAD_STAT_INTR_WINDOW];
	queue(run, DYAD_EVENT_EXTINT, 0x30, 0, 0);
	ok = vm_expect_out(&c, 0x12, "window") && IRQ_COUNT == 3;
	ut_ok(ok, "an interrupt queued with IF = 0 is taken exactly once after STI (count %lu)",
	      IRQ_COUNT);
	if (vendor_amd && qemu_tcg)
		ut_ok(run->stats.exits[DYAD_STAT_INTR_WINDOW] == windows,
		      "through V_IRQ, with no window exit (SVM under QEMU TCG)");
	else
		ut_ok(run->stats.exits[DYAD_STAT_INTR_WINDOW] > windows,
		      "through the interrupt window");
	vm_shut(&c);

	/* Delivery onto a stack page not faulted in yet: re-injected after the fault, once. */
	if (!open_or_fail(&c, "re-injection"))
		return;
	run = c.run;
	vm_start_long(&c, GUEST(lm_irq));
	memset((void *)GUEST_DATA, 0, PAGE);
	guest_idt_set(0x30, GUEST_ADDR(lm_irq, guest_lm_irq_handler));
	run->regs.rsp = 0x95000; /* page 0x94000 was never touched */
	queue(run, DYAD_EVENT_EXTINT, 0x30, 0, 0);
	unsigned long faults = run->stats.guest_faults[0];
	ok = vm_expect_out(&c, 0x10, "reinject") && IRQ_COUNT == 1;
	ut_ok(ok,
	      "an interrupt delivered onto an unfaulted stack page is taken exactly once "
	      "(count %lu)",
	      IRQ_COUNT);
	ok = run->stats.guest_faults[0] > faults &&
	     *(volatile unsigned long *)(GUEST_DATA + 0x108) >= 0x94000 &&
	     *(volatile unsigned long *)(GUEST_DATA + 0x108) < 0x95000;
	ut_ok(ok, "after the stack page's fault was served (handler rsp %#lx)",
	      *(volatile unsigned long *)(GUEST_DATA + 0x108));
	vm_shut(&c);
}

/* ---- 6. failures ------------------------------------------------------------------------------- */

static void test_failures(void)
{
	struct vmctx c;
	struct dyad_sregs s;

	if (!open_or_fail(&c, "failures"))
		return;
	if (svm_partial) {
		ut_skip("a triple-faulting guest is a shutdown exit",
			"this SVM model resets the machine on a guest triple fault");
	} else {
		vm_start_long(&c, GUEST(lm_ud));
		ut_eq(vm_run(&c), DYAD_EXIT_SHUTDOWN, "a triple-faulting guest is a shutdown exit");
	}
	vm_shut(&c);

	if (!open_or_fail(&c, "failures"))
		return;
	vm_start_long(&c, GUEST(lm_rw));
	vm_ioctl(c.cpu, DYAD_VCPU_GET_SREGS, &s);
	s.cr0 |= 1UL << 32; /* bits 63:32 of CR0 are reserved: both VMRUN and VM entry refuse */
	long r = vm_ioctl(c.cpu, DYAD_VCPU_SET_SREGS, &s);
	r = r ? r : vm_run(&c);
	ut_ok(r == DYAD_EXIT_FAIL_ENTRY || r == -EINVAL,
	      "garbage guest state (CR0 bit 32) is an entry failure or refused (%ld %s)", r,
	      exit_name(r));
	vm_shut(&c);

	if (!open_or_fail(&c, "failures"))
		return;
	unsigned long khz = c.run->tsc_khz, t0, ms;
	if (svm_partial) {
		ut_skip("a guest spinning with interrupts off returns at the VMM's deadline",
			"this SVM model never interrupts a guest spinning with IF = 0");
	} else {
		vm_start_long(&c, GUEST(lm_spin));
		t0 = rdtsc();
		c.run->deadline_tsc = t0 + khz * 50; /* 50 ms */
		r = vm_run(&c);
		ms = (rdtsc() - t0) / (khz ? khz : 1);
		ut_ok(r == DYAD_EXIT_DEADLINE && ms >= 50 && ms < 250,
		      "a guest spinning with interrupts off returns at the VMM's deadline "
		      "(%lu ms of 50)",
		      ms);
		ut_ok(c.run->stats.exits[DYAD_STAT_EXTINT] +
				      c.run->stats.exits[DYAD_STAT_PREEMPT] >=
			      1,
		      "the host's timer kept running while the guest spun");
	}
	vm_shut(&c);

	if (!open_or_fail(&c, "failures"))
		return;
	vm_start_long(&c, GUEST(lm_sleep));
	t0 = rdtsc();
	c.run->deadline_tsc = t0 + khz * 30;
	r = vm_run(&c);
	ms = (rdtsc() - t0) / (khz ? khz : 1);
	ut_ok(r == DYAD_EXIT_DEADLINE && ms >= 30 && ms < 230 &&
		      c.run->stats.exits[DYAD_STAT_HALT_SLEEP] == 1,
	      "HLT with IF = 1 sleeps until the deadline (%lu ms of 30)", ms);
	c.run->deadline_tsc = 0;
	ut_ok(vm_expect_out(&c, 0x10, "after hlt"), "the guest goes on after its HLT");
	ut_eq(vm_run(&c), DYAD_EXIT_HLT, "then HLT with IF = 0 is a HLT exit");
	vm_shut(&c);
	r = vm_open(&c);
	r = r ? r : vm_start_real(&c, GUEST(rm_io));
	ut_eq(r ? r : vm_run(&c), DYAD_EXIT_IO, "a new VM runs after each failure");
	vm_shut(&c);
}

/* ---- descriptors and the run page ----------------------------------------------------------- */

static void test_descriptors(void)
{
	struct vmctx c;

	if (!open_or_fail(&c, "descriptors"))
		return;
	ut_eq(dyad_vm_create(0), -EBUSY, "one VM per process");
	ut_eq(dyad_vm_create(1), -EINVAL, "flags must be 0");
	long cpu2 = vm_ioctl(c.vm, DYAD_VM_CREATE_VCPU, 0);
	ut_ok(cpu2 >= 0 && cpu2 != c.cpu, "a second vCPU has a descriptor of its own (%ld)",
	      cpu2);
	if (cpu2 >= 0)
		vm_close((int)cpu2);
	ut_eq(vm_ioctl(c.vm, DYAD_VCPU_RUN, 0), -ENOTTY, "RUN on the VM descriptor is ENOTTY");
	ut_eq(vm_ioctl(c.cpu, 0x1234, 0), -ENOTTY, "an unknown vCPU ioctl is ENOTTY");
	ut_eq(vm_ioctl(c.cpu, DYAD_VCPU_GET_SREGS, (void *)0x1), -EFAULT,
	      "a bad pointer is EFAULT");
	ut_eq(vm_mmap(NULL, PAGE, PROT_READ, MAP_SHARED | DYAD_MAP_GUEST, c.cpu, 0), -EINVAL,
	      "the run page cannot be guest-visible");
	ut_eq(vm_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, c.cpu, 0), -EINVAL,
	      "the run page is MAP_SHARED only");
	ut_eq(vm_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c.cpu, PAGE), -EINVAL,
	      "the run page is at offset 0");
	ut_eq(vm_mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, c.cpu, 0), -EACCES,
	      "the run page is not executable");
	ut_eq(vm_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c.vm, 0), -ENODEV,
	      "the VM descriptor has nothing to map");
	/* A second mapping shows the same page; unmapping one leaves the page to the other. */
	long second = vm_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, c.cpu, 0);
	c.run->deadline_tsc = 0x1234;
	unsigned long khz = second > 0 ? ((struct dyad_run *)second)->tsc_khz : 0;
	int ok = second > 0 && ((struct dyad_run *)second)->deadline_tsc == 0x1234 && khz > 0;
	ut_ok(ok, "two mappings of the run page share it; tsc_khz is set (%lu)", khz);
	sys2(__NR_munmap, second, PAGE);
	c.run->deadline_tsc = 0;
	/* The kernel's writes still reach the first mapping: a run fills its exit fields. */
	vm_start_real(&c, GUEST(rm_io));
	ok = vm_run(&c) == DYAD_EXIT_IO && c.run->exit.io.port == 0x80 && c.run->tsc_khz == khz;
	ut_ok(ok, "the first mapping survives munmap of the second (port %#x, tsc_khz %lu)",
	      c.run->exit.io.port, c.run->tsc_khz);
	/* Closing the VM descriptor first: the vCPU keeps the VM alive. */
	vm_close(c.vm);
	c.vm = -1;
	vm_start_real(&c, GUEST(rm_io));
	ut_eq(vm_run(&c), DYAD_EXIT_IO, "the vCPU runs after its VM descriptor was closed");
	ut_eq(dyad_vm_create(0), -EBUSY, "and the process still has its VM");
	vm_shut(&c);
	long vm = dyad_vm_create(0);
	ut_ok(vm >= 0, "once every descriptor is closed a new VM can be created");
	vm_close((int)vm);
}

/* ---- 7. leaks
 * ------------------------------------------------------------------------------------ */

static void test_leaks(void)
{
	struct vmctx c;
	int bad = 0;

	if (!open_or_fail(&c, "leaks"))
		return;
	vm_shut(&c);
	unsigned long before = free_frames();
	for (int i = 0; i < LEAK_CYCLES; i++) {
		if (vm_open(&c) || vm_start_real(&c, GUEST(rm_io)) || vm_run(&c) != DYAD_EXIT_IO)
			bad++;
		vm_shut(&c);
	}
	ut_eq(bad, 0, "%d VM create/run/destroy cycles all work", LEAK_CYCLES);
	ut_eq(free_frames(), before, "and leave free frames exactly unchanged");

	char *argv[] = { "/bin/vm", "crash", NULL };
	fflush(stdout);
	long st = dyad_spawn("/bin/vm", argv);
	ut_eq(st, DYAD_KILLED_STATUS, "a VMM that faults with a live VM is killed");
	ut_eq(free_frames(), before, "and its VM's pages all come back");
}

/* ---- 9. console input ----------------------------------------------------------------------- */

/* The burst tools/boot-test.sh feeds (BOOT_TEST_STDIN, made by tests/user/vm.mk). */
#define BURST 1024
static unsigned char burst_byte(unsigned i)
{
	return (unsigned char)(33 + (i * 7) % 90);
}

static void test_console(void)
{
	static unsigned char got[BURST + 64];
	struct vmctx c;
	long n = 0, r;

	ut_eq(sys3(__NR_fcntl, 0, F_SETFL, O_NONBLOCK), 0, "O_NONBLOCK on the console");
	ut_ok(sys3(__NR_fcntl, 0, F_GETFL, 0) & O_NONBLOCK, "F_GETFL shows it");
	if (!open_or_fail(&c, "console"))
		return;
	/* Where a guest with IF = 0 is never interrupted, one spinning with IF = 1 stands in. */
	if (svm_partial)
		vm_start_long(&c, GUEST(lm_irq));
	else
		vm_start_long(&c, GUEST(lm_spin));
	c.run->request = DYAD_RUN_WAKE_CONSOLE;
	c.run->deadline_tsc = rdtsc() + c.run->tsc_khz * 300;
	r = vm_run(&c);
	if (r == DYAD_EXIT_DEADLINE) {
		ut_eq(sys3(__NR_read, 0, got, 16), -EAGAIN,
		      "a non-blocking read with no input is EAGAIN");
		ut_skip("console: 1 KiB of input arrives whole while a guest runs",
			"no serial input was fed to this boot");
		vm_shut(&c);
		sys3(__NR_fcntl, 0, F_SETFL, 0);
		return;
	}
	ut_eq(r, DYAD_EXIT_CONSOLE, "waiting console input ends the guest's run (console exit)");
	/* The rest may still be on the line: gather until 1 KiB, for at most a second. */
	unsigned long t0 = rdtsc();
	while (n < BURST && rdtsc() - t0 < c.run->tsc_khz * 1000) {
		r = sys3(__NR_read, 0, got + n, sizeof(got) - n);
		if (r > 0) {
			n += r;
		} else {
			c.run->deadline_tsc = rdtsc() + c.run->tsc_khz * 20;
			vm_run(&c); /* the guest runs while more arrives */
		}
	}
	/* The feed starts with a newline that may or may not survive the UART's set-up at boot. */
	unsigned skip = n > 0 && got[0] == '\n';
	while (n - skip < BURST && rdtsc() - t0 < c.run->tsc_khz * 1000) {
		r = sys3(__NR_read, 0, got + n, sizeof(got) - n);
		n += r > 0 ? r : 0;
	}
	int ok = n - skip == BURST;
	for (unsigned i = 0; ok && i < BURST; i++)
		ok = got[skip + i] == burst_byte(i);
	ut_ok(ok,
	      "1 KiB of console input arrives whole and in order while a guest runs (%ld bytes)",
	      n - skip);
	ut_ok(c.run->stats.exits[DYAD_STAT_CONSOLE] >= 1, "stats count the console exit");
	vm_shut(&c);
	sys3(__NR_fcntl, 0, F_SETFL, 0);
}

/* The "crash" mode: a VMM with a VM, its run page mapped and guest RAM touched, faults. */
static int crash(int argc_zero)
{
	struct vmctx c;

	if (vm_open(&c) || vm_start_long(&c, GUEST(lm_rw)))
		return 1;
	c.run->regs.rdi = GUEST_DATA;
	vm_run(&c);
	volatile int *null = (volatile int *)(unsigned long)argc_zero;
	*null = 1;
	return 2;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "crash"))
		return crash(argc - 2);
	ut_begin("vm");
	detect_cpu();

	long r = dyad_vm_create(0);
	if (r == -ENODEV) {
		ut_skip("VM tests", "no VMX/SVM");
		return ut_end("vm");
	}
	ut_ok(r >= 0, "dyad_vm_create gives a descriptor (%ld)", r);
	vm_close((int)r);

	test_descriptors();
	test_io_exits();
	test_mmio();
	central_claim(GUEST_LOW, GUEST_LOW_END - GUEST_LOW, PAGE, "4 KiB");
	central_claim(0x40000000UL, 2UL << 20, 2UL << 20, "2 MiB");
	central_claim(0x80000000UL, 1UL << 30, 1UL << 30, "1 GiB");
	test_encodings();
	test_accessed_dirty();
	test_kernel_half();
	test_msrs();
	test_xsetbv();
	test_xmm_switch();
	test_debug_regs();
	test_pkru();
	test_db_intercept();
	test_efer_lme();
	test_la57_fetch();
	test_injection();
	test_failures();
	test_leaks();
	test_console();
	return ut_end("vm");
}
