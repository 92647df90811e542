/* SPDX-License-Identifier: MIT */
#ifndef DYAD_TESTS_USER_VM_LIB_H
#define DYAD_TESTS_USER_VM_LIB_H

/*
 * What the VM test programs share: the VM calls, a fixed guest layout, and guests started in
 * real mode or in long mode with identity page tables. The guests themselves are nasm
 * snippets (vm_guests.asm) copied to GUEST_CODE.
 *
 * Guest-physical layout (= the VMM's addresses; the low region is guest-visible, 4 KiB pages):
 *	0x10000 code | 0x18000 GDT | 0x19000 IDT | 0x20000.. page tables | 0x30000 data
 *	0x7f000 the stack's page (top 0x80000) | 0x90000.. untouched pages | end 0x200000
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <dyad/vcpu.h>

#include "utest.h"

#define GUEST_LOW 0x10000UL
#define GUEST_LOW_END 0x200000UL
#define GUEST_CODE 0x10000UL
#define GUEST_GDT 0x18000UL
#define GUEST_IDT 0x19000UL
#define GUEST_PML4 0x20000UL
#define GUEST_DATA 0x30000UL
#define GUEST_STACK_TOP 0x80000UL
#define GUEST_MAPPED_GIB 4 /* the long-mode tables map [0, 4 GiB) by 2 MiB pages */
#define GUEST_PROT (PROT_READ | PROT_WRITE | PROT_EXEC)

#define DECLARE_GUEST(name) extern const unsigned char guest_##name[], guest_##name##_end[]
#define GUEST(name) guest_##name, (size_t)(guest_##name##_end - guest_##name)

struct vmctx {
	int vm, cpu;
	struct dyad_run *run;
};

static inline long dyad_vm_create(unsigned long flags)
{
	return sys1(DYAD_SYS_VM_CREATE, flags);
}

static inline long vm_ioctl(int fd, unsigned long req, const void *arg)
{
	return sys3(__NR_ioctl, fd, req, arg);
}

static inline long vm_mmap(void *addr, unsigned long len, int prot, int flags, int fd,
			   unsigned long off)
{
	return sys6(__NR_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
}

static inline long vm_close(int fd)
{
	return sys1(__NR_close, fd);
}

/* Maps [addr, addr + len) as guest RAM (MAP_FIXED; @extra adds DYAD_MAP_HUGE). */
static inline long guest_map(unsigned long addr, unsigned long len, int prot, int extra)
{
	return vm_mmap((void *)addr, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | DYAD_MAP_GUEST | extra, -1, 0);
}

/* CPUID leaf @leaf, subleaf @sub: r = { EAX, EBX, ECX, EDX }. */
static inline void cpuid_regs(unsigned leaf, unsigned sub, unsigned r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/*
 * True under QEMU's TCG: CPUID 0x40000000 reads "TCGTCGTCGTCG" (TCG answers that leaf with or
 * without CPUID 1 ECX[31]; no real CPU returns that string). Dyad keeps guests off the boot CPU
 * there and hands SVM guests their interrupts through V_IRQ (docs/smp.md, docs/vcpu.md).
 */
static inline int vm_host_is_qemu_tcg(void)
{
	unsigned h[4];

	cpuid_regs(0x40000000, 0, h);
	return h[1] == 0x54474354 && h[2] == 0x43544743 && h[3] == 0x47435447;
}

/* A VM, its vCPU, its run page, and the low guest region. 0, or -ENODEV, or another -errno. */
static inline long vm_open(struct vmctx *c)
{
	long r = dyad_vm_create(0);

	memset(c, 0, sizeof(*c));
	c->vm = c->cpu = -1;
	if (r < 0)
		return r;
	c->vm = (int)r;
	r = vm_ioctl(c->vm, DYAD_VM_CREATE_VCPU, 0);
	if (r < 0)
		return r;
	c->cpu = (int)r;
	r = vm_mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, c->cpu, 0);
	if (r < 0)
		return r;
	c->run = (struct dyad_run *)r;
	r = guest_map(GUEST_LOW, GUEST_LOW_END - GUEST_LOW, GUEST_PROT, 0);
	return r < 0 ? r : 0;
}

static inline void vm_shut(struct vmctx *c)
{
	if (c->run)
		sys2(__NR_munmap, c->run, DYAD_RUN_SIZE);
	if (c->cpu >= 0)
		vm_close(c->cpu);
	if (c->vm >= 0)
		vm_close(c->vm);
	sys2(__NR_munmap, GUEST_LOW, GUEST_LOW_END - GUEST_LOW);
	c->run = NULL;
	c->vm = c->cpu = -1;
}

static inline struct dyad_segment seg16(unsigned short sel, unsigned char type)
{
	return (struct dyad_segment){ .base = (unsigned long)sel << 4,
				      .limit = 0xffff,
				      .selector = sel,
				      .type = type,
				      .s = 1,
				      .present = 1 };
}

/* Real mode at @cs:0 with the code copied to cs * 16, IF = 0. */
static inline long vm_start_real(struct vmctx *c, const unsigned char *code, size_t len)
{
	struct dyad_sregs s;
	long r = vm_ioctl(c->cpu, DYAD_VCPU_GET_SREGS, &s);

	if (r)
		return r;
	memcpy((void *)GUEST_CODE, code, len);
	s.cs = seg16(GUEST_CODE >> 4, 0xb);
	s.ds = s.es = s.fs = s.gs = s.ss = seg16(0, 0x3);
	s.cr0 = 0x10; /* ET; caches on */
	s.cr4 = 0;
	s.efer = 0;
	memset(&c->run->regs, 0, sizeof(c->run->regs));
	c->run->regs.rip = 0;
	c->run->regs.rflags = 0x2;
	c->run->regs.rsp = 0xfffe;
	return vm_ioctl(c->cpu, DYAD_VCPU_SET_SREGS, &s);
}

/* An interrupt gate in the guest's IDT: vector @v to @handler (a guest address). */
static inline void guest_idt_set(unsigned v, unsigned long handler)
{
	unsigned long *e = (unsigned long *)(GUEST_IDT + 16 * v);

	e[0] = (handler & 0xffff) | (0x08UL << 16) | (0x8eUL << 40) |
	       ((handler >> 16) & 0xffff) << 48;
	e[1] = handler >> 32;
}

/*
 * 64-bit mode at RIP GUEST_CODE, with @code copied there: a flat GDT (code 0x08, data 0x10),
 * an empty IDT (gates added by guest_idt_set), identity page tables over [0, 4 GiB) by 2 MiB
 * pages, RSP GUEST_STACK_TOP, IF = 0.
 */
static inline long vm_start_long(struct vmctx *c, const unsigned char *code, size_t len)
{
	struct dyad_sregs s;
	unsigned long *pml4 = (unsigned long *)GUEST_PML4, *pdpt = pml4 + 512;
	unsigned long *gdt = (unsigned long *)GUEST_GDT;
	long r = vm_ioctl(c->cpu, DYAD_VCPU_GET_SREGS, &s);

	if (r)
		return r;
	memcpy((void *)GUEST_CODE, code, len);
	memset((void *)GUEST_IDT, 0, 4096);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffUL; /* code: L, P, DPL 0, type 0xb */
	gdt[2] = 0x00cf93000000ffffUL; /* data */
	memset(pml4, 0, 2 * 4096);
	pml4[0] = (GUEST_PML4 + 4096) | 0x7;
	for (unsigned g = 0; g < GUEST_MAPPED_GIB; g++) {
		unsigned long *pd = pml4 + 512 * (2 + g);
		pdpt[g] = (GUEST_PML4 + 4096 * (2 + g)) | 0x7;
		for (unsigned i = 0; i < 512; i++)
			pd[i] = ((unsigned long)g << 30) + ((unsigned long)i << 21) + 0x87;
	}
	s.cs = (struct dyad_segment){ .limit = 0xffffffff,
				      .selector = 0x08,
				      .type = 0xb,
				      .s = 1,
				      .present = 1,
				      .l = 1,
				      .g = 1 };
	s.ds = s.es = s.fs = s.gs = s.ss = (struct dyad_segment){ .limit = 0xffffffff,
								  .selector = 0x10,
								  .type = 0x3,
								  .s = 1,
								  .present = 1,
								  .db = 1,
								  .g = 1 };
	s.tr = (struct dyad_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s.ldt = (struct dyad_segment){ .type = 0x2, .unusable = 1 };
	s.gdt = (struct dyad_dtable){ .base = GUEST_GDT, .limit = 3 * 8 - 1 };
	s.idt = (struct dyad_dtable){ .base = GUEST_IDT, .limit = 4095 };
	s.cr0 = 0x80050033; /* PG, AM, WP, NE, ET, MP, PE */
	s.cr3 = GUEST_PML4;
	s.cr4 = 0x620; /* OSXMMEXCPT, OSFXSR, PAE */
	s.efer = 0xd00; /* NXE, LMA, LME */
	memset(&c->run->regs, 0, sizeof(c->run->regs));
	c->run->regs.rip = GUEST_CODE;
	c->run->regs.rflags = 0x2;
	c->run->regs.rsp = GUEST_STACK_TOP;
	return vm_ioctl(c->cpu, DYAD_VCPU_SET_SREGS, &s);
}

/* One DYAD_VCPU_RUN; returns the exit reason or the negative error. */
static inline long vm_run(struct vmctx *c)
{
	long r = vm_ioctl(c->cpu, DYAD_VCPU_RUN, 0);

	return r < 0 ? r : (long)c->run->exit_reason;
}

/* Runs until an exit that is not an OUT; OUT exits are skipped. Returns the last reason. */
static inline long vm_run_past_outs(struct vmctx *c)
{
	for (;;) {
		long r = vm_run(c);
		if (r != DYAD_EXIT_IO || c->run->exit.io.direction != DYAD_IO_OUT)
			return r;
		c->run->regs.rip += c->run->insn_len;
	}
}

/* Runs to the next OUT exit and checks its port; skips the OUT. */
static inline int vm_expect_out(struct vmctx *c, unsigned port, const char *what)
{
	long r = vm_run(c);
	int ok = r == DYAD_EXIT_IO && c->run->exit.io.port == port &&
		 c->run->exit.io.direction == DYAD_IO_OUT;

	if (!ok)
		printf("#   %s: exit %ld (port %#x, rip %#lx), expected OUT to %#x\n", what, r,
		       c->run->exit.io.port, c->run->regs.rip, port);
	else
		c->run->regs.rip += c->run->insn_len;
	return ok;
}

static inline const char *exit_name(long r)
{
	static const char *const names[] = { "none",	 "io",	       "mmio",	   "cpuid",
					     "rdmsr",	 "wrmsr",      "hlt",	   "hypercall",
					     "shutdown", "fail-entry", "deadline", "console", "kick",
					     "internal" };

	return r >= 0 && r < (long)(sizeof(names) / sizeof(names[0])) ? names[r] : "error";
}

static inline unsigned long free_frames(void)
{
	struct dyad_stats s;

	dyad_stats(&s);
	return s.free_frames;
}

#endif
