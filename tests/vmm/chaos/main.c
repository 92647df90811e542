// SPDX-License-Identifier: MIT
/*
 * The chaos guest: a two-vCPU guest (run with -c 2 -m 64M -R -C hvc) that does thousands of
 * random operations against the VMM's devices and the CPU interface, to show that a guest doing
 * senseless things never takes the VMM or the kernel down. Each vCPU draws its operations from
 * its own stream of one seed, `chaos.seed=N` on the command line (decimal or 0x hex; a fixed
 * default without it), so a seed replays each vCPU's sequence (the interleaving of the two is the
 * host's). `chaos.ops=N` sets the operations per vCPU (default 4000).
 *
 * The operations, each drawn with a weight:
 *   - port I/O of 1, 2 or 4 bytes, in and out, over the whole port space and more often on the
 *     platform's devices: PIT, 8259s and ELCR, RTC, 16550, PM1a, PCI 0xcf8/0xcfc, fw_cfg, port B,
 *     POST; never the debug port 0xf4, the reset lines 0xcf9 and 0x64, nor PM1a's SLP_EN;
 *   - PCI configuration cycles to random registers of bus 0 (and of other buses);
 *   - MMIO loads and stores of each size, by the instructions the VMM decodes and by some it
 *     does not (the VMM then injects #GP), to the local APIC page, the I/O APIC's window and
 *     registers, the virtio functions' BARs (common configuration, ISR, device configuration,
 *     notifications, MSI-X table and pending bits), the HPET's address and addresses with no
 *     device;
 *   - virtio bring-ups: a reset, features, a queue with its rings in the scratch area
 *     (SCRATCH, filled with random bytes and with plausible descriptor chains) or anywhere,
 *     queue enable, DRIVER_OK and notifications;
 *   - RDMSR and WRMSR of random indexes (x2APIC, KVM, AMD, architectural and fully random),
 *     values that name guest memory kept in the scratch area or beyond RAM;
 *   - CPUID of random leaves and subleaves;
 *   - IPIs through the x2APIC ICR and the xAPIC page: every delivery mode, shorthand and
 *     destination mode, to this vCPU, the other one and APIC IDs no vCPU has; an INIT or SIPI
 *     to the AP restarts it (every SIPI page holds the trampoline) and it goes on;
 *   - XSETBV with good and bad indexes and values;
 *   - short interrupt windows (STI ... CLI) in which what the guest stirred up is delivered;
 *   - string I/O (INS, OUTS, REP, backwards); jumps into the hole, the APICs, past the end of
 *     RAM and the page tables; SVM and VMX instructions, WBINVD, INVD, MONITOR, MWAIT,
 *     RDPMC, RDTSCP, XGETBV, GETSEC, UD2 (#UD or their emulation); with `chaos.debug=1` also
 * breakpoints in DR0-DR3/DR7 and single steps (TF) over exits (off by default: QEMU 7.2's TCG
 * itself segfaulted on them, seed 0x401 with 6000 operations). An operation that faults (#GP, #UD,
 * #PF) goes on at the next one: the exception handler finds the vCPU's recovery address, set just
 * before the faulting instruction. Any other exception fails the run (verdict 99 on the debug
 * port). At the end the BSP waits for the AP (restarting it once if an INIT stopped it), prints the
 * counts, and halts with interrupts off: the VMM's power-off, status 0. With `chaos.finale=1` it
 * then loads CR3 with an address in the 32-bit hole, with `chaos.finale=2` its stack pointer, and
 * takes a breakpoint: on a PC both end in a triple fault, and the VMM must end the guest so (status
 * 3) instead of retrying the fault for ever. With `chaos.finale=3` (4) it runs the local APIC's
 * (the PIT's) periodic timer as fast as it can be asked to go and then writes 1000 ports with
 * interrupts off, which a PC's CPU does at once: the vCPU must still run, then halt as usual.
 */
#include <stdint.h>

#include "../guest_cmdline.h"
#include "../guest_cpu.h"
#include "../guest_io.h"

#define DEBUG_EXIT 0xf4
#define APIC_MMIO 0xfee00000UL
#define IOAPIC_MMIO 0xfec00000UL
#define HPET_MMIO 0xfed00000UL
#define APIC_BASE_MSR 0x1b
#define SCRATCH 0x1000000UL /* 16 MiB .. 32 MiB: the devices' DMA lands only here */
#define SCRATCH_SIZE 0x1000000UL
#define SIPI_FIRST 0x10 /* pages 0x10000 .. 0x8ffff hold the AP trampoline */
#define SIPI_PAGES 0x80
#define DEFAULT_SEED 0xc4a05eed0001ULL
#define DEFAULT_OPS 4000
#define NCPUS 2
#define VERDICT_CRASH 99
/*
 * The AP's stall before a restart: 0.1 s at 3 GHz (6 s where the TSC counts Bochs's 50 MHz),
 * doubled at each restart, since on a loaded host a restarted AP's thread may not run for a
 * while (a fixed 0.1 s restarted it 30 times before it ran: seed 0x607, 15000 operations).
 */
#define AP_STALL_TICKS 300000000ULL
#define AP_RESTARTS 8

enum op {
	OP_PIO,
	OP_PCI,
	OP_MMIO,
	OP_VIRTIO,
	OP_MSR,
	OP_CPUID,
	OP_IPI,
	OP_XSETBV,
	OP_WINDOW,
	OP_SCRATCH,
	OP_STRIO,
	OP_EXEC,
	OP_DEBUG,
	OP_INSN,
	OP_KINDS
};

static const char *const op_names[OP_KINDS] = { "io",	     "pci",  "mmio",   "virtio", "msr",
						"cpuid",     "ipi",  "xsetbv", "window", "scratch",
						"string-io", "exec", "debug",  "insn" };
/* Out of 64. */
static unsigned op_weight[OP_KINDS] = { 15, 6, 11, 4, 8, 2, 6, 2, 4, 1, 2, 1, 0, 2 };

/* One per vCPU; the recovery address is armed only around one instruction. */
struct cpu {
	volatile uint64_t recover; /* where a faulting instruction goes on, or 0 */
	volatile uint64_t fault; /* the vector + 1 of the last recovered fault, or 0 */
	uint64_t rng;
	volatile uint64_t done; /* operations done; the AP goes on from here after an INIT */
	uint64_t ops[OP_KINDS];
	volatile uint64_t exceptions[32];
	volatile uint64_t interrupts, nmis, starts;
	volatile int finished;
};

static struct cpu cpus[NCPUS];
static uint64_t nops = DEFAULT_OPS, seed = DEFAULT_SEED;
static uint64_t vbar[3]; /* the virtio functions' BAR 0, as found at the start */
static unsigned nvbar;
static int have_xsave;

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (uint64_t)hi << 32;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline void pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* splitmix64: every seed its own stream. */
static uint64_t rnd(struct cpu *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct cpu *c, uint64_t n)
{
	return rnd(c) % n;
}

/* ---- the console: the 16550 put back in a state that transmits before each line ---------- */
static void uart_sane(void)
{
	outb(COM1 + 1, 0); /* IER: no interrupts */
	outb(COM1 + 3, 3); /* LCR: 8N1, DLAB clear */
	outb(COM1 + 4, 3); /* MCR: DTR, RTS, no loopback */
}

/* ---- operations that may fault: the recovery address is the label after the instruction -- */
#define ARM "leaq 1f(%%rip), %%r11\n\tmovq %%r11, %[rec]\n\t"
#define DISARM "\n1:\n\tmovq $0, %[rec]"

static int safe_rdmsr(struct cpu *c, uint32_t msr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;

	c->fault = 0;
	__asm__ volatile(ARM "rdmsr" DISARM
			 : "+a"(lo), "+d"(hi), [rec] "+m"(c->recover)
			 : "c"(msr)
			 : "r11", "memory");
	*v = lo | (uint64_t)hi << 32;
	return c->fault ? -1 : 0;
}

static int safe_wrmsr(struct cpu *c, uint32_t msr, uint64_t v)
{
	c->fault = 0;
	__asm__ volatile(ARM "wrmsr" DISARM
			 : [rec] "+m"(c->recover)
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "r11", "memory");
	return c->fault ? -1 : 0;
}

static int safe_xsetbv(struct cpu *c, uint32_t index, uint64_t v)
{
	c->fault = 0;
	__asm__ volatile(ARM "xsetbv" DISARM
			 : [rec] "+m"(c->recover)
			 : "c"(index), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "r11", "memory");
	return c->fault ? -1 : 0;
}

/*
 * One MMIO access at @addr in form @form: 0-3 MOV loads of 1, 2, 4, 8 bytes, 4-7 MOV stores of
 * them, 8/9 MOVZX of a byte / word, 10 MOV of an immediate dword, 11 a byte immediate; the VMM
 * decodes these. 12 ADD to memory, 13 XCHG, 14 a REP MOVSB of up to 8 bytes from the address:
 * instructions it does not decode (a #GP). Returns the value loaded (0 for a store).
 */
#define MMIO_FORMS 15
static uint64_t mmio_op(struct cpu *c, unsigned form, uint64_t addr, uint64_t v)
{
	volatile void *p = (volatile void *)addr;
	uint64_t r = v;

	c->fault = 0;
	switch (form) {
	case 0:
		__asm__ volatile(ARM "movb (%[p]), %b[r]" DISARM
				 : [r] "+q"(r), [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 1:
		__asm__ volatile(ARM "movw (%[p]), %w[r]" DISARM
				 : [r] "+r"(r), [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 2:
		__asm__ volatile(ARM "movl (%[p]), %k[r]" DISARM
				 : [r] "+r"(r), [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 3:
		__asm__ volatile(ARM "movq (%[p]), %[r]" DISARM
				 : [r] "+r"(r), [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 4:
		__asm__ volatile(ARM "movb %b[r], (%[p])" DISARM
				 : [rec] "+m"(c->recover)
				 : [p] "r"(p), [r] "q"(r)
				 : "r11", "memory");
		break;
	case 5:
		__asm__ volatile(ARM "movw %w[r], (%[p])" DISARM
				 : [rec] "+m"(c->recover)
				 : [p] "r"(p), [r] "r"(r)
				 : "r11", "memory");
		break;
	case 6:
		__asm__ volatile(ARM "movl %k[r], (%[p])" DISARM
				 : [rec] "+m"(c->recover)
				 : [p] "r"(p), [r] "r"(r)
				 : "r11", "memory");
		break;
	case 7:
		__asm__ volatile(ARM "movq %[r], (%[p])" DISARM
				 : [rec] "+m"(c->recover)
				 : [p] "r"(p), [r] "r"(r)
				 : "r11", "memory");
		break;
	case 8:
		__asm__ volatile(ARM "movzbl (%[p]), %k[r]" DISARM
				 : [r] "+r"(r), [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 9:
		__asm__ volatile(ARM "movzwl (%[p]), %k[r]" DISARM
				 : [r] "+r"(r), [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 10:
		__asm__ volatile(ARM "movl $0x5a5aa5a5, (%[p])" DISARM
				 : [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 11:
		__asm__ volatile(ARM "movb $0x81, (%[p])" DISARM
				 : [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	case 12:
		__asm__ volatile(ARM "addl %k[r], (%[p])" DISARM
				 : [rec] "+m"(c->recover)
				 : [p] "r"(p), [r] "r"(r)
				 : "r11", "memory", "cc");
		break;
	case 13:
		__asm__ volatile(ARM "xchgl %k[r], (%[p])" DISARM
				 : [r] "+r"(r), [rec] "+m"(c->recover)
				 : [p] "r"(p)
				 : "r11", "memory");
		break;
	default: {
		uint64_t dst[1], n = v & 7;
		void *s = (void *)p, *d = dst;
		__asm__ volatile(ARM "rep movsb" DISARM
				 : "+S"(s), "+D"(d), "+c"(n), [rec] "+m"(c->recover)
				 :
				 : "r11", "memory");
		r = dst[0];
	}
	}
	return r;
}

/* ---- exceptions and interrupts --------------------------------------------------------------- */
static void crash(const char *what, int cpu, const struct trap_frame *f)
{
	uart_sane();
	puts("\nchaos: FAIL - ");
	puts(what);
	puts(" ");
	putu(f->vector);
	puts(" (error ");
	puthex(f->error);
	puts(") on vCPU ");
	putu((uint64_t)cpu);
	puts(" at rip ");
	puthex(f->rip);
	puts(" after ");
	putu(cpus[cpu].done);
	puts(" operations\n");
	outb(DEBUG_EXIT, VERDICT_CRASH);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* The EOI for the APIC's mode as it is now (the guest's own writes may have changed it). */
static void eoi(struct cpu *c)
{
	uint64_t base;

	if (safe_rdmsr(c, APIC_BASE_MSR, &base) || !(base & 0x800))
		return;
	if (base & 0x400)
		safe_wrmsr(c, 0x80b, 0);
	else
		mmio_op(c, 6, APIC_MMIO + 0xb0, 0);
}

void trap_entry(struct trap_frame *f)
{
	int cpu = this_cpu();
	struct cpu *c = &cpus[cpu];

	if (f->vector == 2) {
		c->nmis++;
		return;
	}
	if (f->vector == 1) {
		/* A breakpoint or single step of op_debug: counted; DR7 off, and RF so that an
		 * instruction breakpoint does not fire again at the same RIP. */
		c->exceptions[1]++;
		__asm__ volatile("mov %0, %%dr7" : : "r"(0UL));
		f->rflags = (f->rflags | 1UL << 16) & ~0x100UL; /* RF; TF off: one step each */
		return;
	}
	if (f->vector < 16) {
		if (!c->recover)
			crash("unexpected exception", cpu, f);
		c->exceptions[f->vector]++;
		c->fault = f->vector + 1;
		f->rip = c->recover;
		c->recover = 0;
		return;
	}
	if (f->vector < 32 && c->recover) /* #MF, #AC, #MC, #XM, ... in an operation */
		crash("unexpected exception", cpu, f);
	/* An interrupt: only inside a window, where no recovery is armed. */
	c->interrupts++;
	uint64_t rec = c->recover, fault = c->fault;
	eoi(c);
	c->recover = rec;
	c->fault = fault;
}

/* CR4.OSXSAVE where the CPU has XSAVE, so that XSETBV is an operation (else #UD). */
static void xsave_on(void)
{
	uint64_t cr4;

	if (!have_xsave)
		return;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1UL << 18)));
}

/* ---- the operations ---------------------------------------------------------------------- */
/* Ports of the platform's devices; a random port of the whole space otherwise. */
static const uint16_t dev_ports[] = { 0x20,  0x21,  0xa0,   0xa1,  0x4d0,  0x4d1, 0x40,	 0x41,
				      0x42,  0x43,  0x61,   0x70,  0x71,   0x3f8, 0x3f9, 0x3fa,
				      0x3fb, 0x3fc, 0x3fd,  0x3fe, 0x3ff,  0x600, 0x601, 0x602,
				      0x603, 0x604, 0x605,  0xcf8, 0xcfc,  0xcfd, 0xcfe, 0xcff,
				      0x510, 0x511, 0x80,   0x92,  0x60,   0x2f8, 0x3e8, 0x1f0,
				      0x170, 0x402, 0x8900, 0xe9,  0xb000, 0x5658 };

/* Whether a write of @size bytes at @port would end the VM: the debug port, the reset lines. */
static int port_ends_vm(uint16_t port, unsigned size, uint32_t *v)
{
	uint32_t first = port, last = port + size - 1;

	if (first <= DEBUG_EXIT && last >= DEBUG_EXIT)
		return 1;
	if (first <= 0xcf9 && last >= 0xcf9 && !(port == 0xcf8 && size == 4))
		return 1;
	if (first <= 0x64 && last >= 0x64)
		return 1;
	/* PM1a control: never SLP_EN (bit 13), at whatever byte of the value the VMM takes it. */
	if (first <= 0x605 && last >= 0x604)
		*v &= ~0x20202020u;
	return 0;
}

static void op_pio(struct cpu *c)
{
	uint16_t port = below(c, 4)
				? dev_ports[below(c, sizeof(dev_ports) / 2)] + (uint16_t)below(c, 2)
				: (uint16_t)rnd(c);
	unsigned size = 1u << below(c, 3);
	uint32_t v = (uint32_t)rnd(c);

	if (below(c, 2)) {
		if (size == 1)
			inb(port);
		else if (size == 2)
			inw(port);
		else
			inl(port);
		return;
	}
	if (port_ends_vm(port, size, &v))
		return;
	if (size == 1)
		outb(port, (uint8_t)v);
	else if (size == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}

/* A configuration cycle: the address to 0xcf8, then a read or write at 0xcfc + 0..3. */
static void op_pci(struct cpu *c)
{
	uint32_t bus = below(c, 8) ? 0 : (uint32_t)below(c, 256);
	uint32_t dev = below(c, 4) ? (uint32_t)below(c, 5) : (uint32_t)below(c, 32);
	uint32_t func = below(c, 4) ? 0 : (uint32_t)below(c, 8);
	uint32_t addr = (below(c, 16) ? 0x80000000u : 0) | bus << 16 | dev << 11 | func << 8 |
			(uint32_t)below(c, 256);
	unsigned off = (unsigned)below(c, 4), size = 1u << below(c, 3);
	uint32_t v = (uint32_t)rnd(c);

	outl(0xcf8, addr & ~3u);
	if (off + size > 4)
		off = 4 - size;
	if (below(c, 2)) {
		if (size == 1)
			inb((uint16_t)(0xcfc + off));
		else if (size == 2)
			inw((uint16_t)(0xcfc + off));
		else
			inl(0xcfc);
		return;
	}
	/* Now and then BAR 0 back where it was, and memory space and bus mastering on. */
	if (!below(c, 8) && nvbar && dev >= 1 && dev <= nvbar) {
		outl(0xcf8, 0x80000000u | dev << 11 | 0x10);
		outl(0xcfc, (uint32_t)vbar[dev - 1]);
		outl(0xcf8, 0x80000000u | dev << 11 | 0x04);
		outw(0xcfc, 6);
		return;
	}
	/* Now and then a BAR moved somewhere that matters: RAM, the APICs, another BAR, 0. */
	if (!below(c, 8)) {
		static const uint32_t where[] = { 0,	      0x100000,	  0x1000000,
						  0xfee00000, 0xfec00000, 0xc0000000,
						  0xc0004000, 0xfebfc000, 0xfffff000 };
		outl(0xcf8, 0x80000000u | dev << 11 | (uint32_t)(0x10 + 4 * below(c, 6)));
		outl(0xcfc,
		     where[below(c, sizeof(where) / sizeof(where[0]))] | (uint32_t)below(c, 16));
		return;
	}
	if (size == 1)
		outb((uint16_t)(0xcfc + off), (uint8_t)v);
	else if (size == 2)
		outw((uint16_t)(0xcfc + off), (uint16_t)v);
	else
		outl(0xcfc, v);
}

static uint64_t mmio_target(struct cpu *c)
{
	switch (below(c, 8)) {
	case 0:
	case 1:
		return APIC_MMIO + (below(c, 4) ? below(c, 0x40) * 16 : below(c, 0x1000));
	case 2:
		return IOAPIC_MMIO + (below(c, 2) ? below(c, 2) * 16 : below(c, 0x1000));
	case 3:
	case 4:
	case 5:
		if (nvbar) {
			uint64_t b = vbar[below(c, nvbar)];
			static const uint32_t part[] = { 0, 0x800, 0x1000, 0x1800, 0x2000, 0x3000 };
			uint64_t off = below(c, 2) ? part[below(c, 6)] + below(c, 0x40)
						   : below(c, 0x4000);
			return b + off;
		}
		return APIC_MMIO + below(c, 0x1000);
	case 6:
		return HPET_MMIO + below(c, 0x1000);
	default:
		/* Anywhere from the end of RAM (64 MiB at most here: -m 64M) to 4 GiB. */
		return 0x4000000UL + below(c, 0x100000000UL - 0x4000000UL);
	}
}

/* A value for a register: small numbers, single bits, all ones or random. */
static uint64_t value(struct cpu *c)
{
	switch (below(c, 6)) {
	case 0:
		return below(c, 16);
	case 1:
		return 1ULL << below(c, 64);
	case 2:
		return ~0ULL;
	case 3:
		return 32 + below(c, 224);
	default:
		return rnd(c);
	}
}

static void op_mmio(struct cpu *c)
{
	uint64_t addr = mmio_target(c);
	unsigned form = (unsigned)below(c, MMIO_FORMS);

	/* The I/O APIC: its index register first, now and then. */
	if (addr - IOAPIC_MMIO < 0x1000 && below(c, 2))
		mmio_op(c, 6, IOAPIC_MMIO, below(c, 0x40));
	uint64_t v = value(c);
	/* The ICR's low word: no NMI, INIT or SIPI by a store that may cut it short (op_ipi). */
	if ((addr & ~3UL) == APIC_MMIO + 0x300 && (addr & 3) <= 1)
		v &= ~(0x400ULL >> 8 * (addr & 3));
	mmio_op(c, form, addr, v);
}

/* An address for a ring or a buffer: mostly in the scratch area, now and then anywhere. */
static uint64_t dma_addr(struct cpu *c, uint64_t align)
{
	switch (below(c, 32)) {
	case 0:
		return rnd(c);
	case 1:
		return 0x100000000UL - below(c, 0x1000) * 16; /* the 32-bit hole, the APIC */
	default:
		return (SCRATCH + below(c, SCRATCH_SIZE - 0x10000)) & ~(align - 1);
	}
}

/* Plausible descriptor chains, available and used rings at @desc in the scratch area. */
static void plausible_rings(struct cpu *c, uint64_t desc, unsigned qsize)
{
	if (desc < SCRATCH || desc + 0x10000 > SCRATCH + SCRATCH_SIZE)
		return;
	volatile uint64_t *d = (volatile uint64_t *)desc;
	for (unsigned i = 0; i < qsize && i < 64; i++) {
		d[2 * i] = dma_addr(c, 1);
		d[2 * i + 1] = below(c, 0x2000) | (below(c, 8) << 32) | (below(c, qsize + 2) << 48);
	}
}

static void virtio_reg(struct cpu *c, uint64_t bar, uint64_t off, unsigned size, uint64_t v)
{
	mmio_op(c, 4 + (size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3), bar + off, v);
}

/* A driver's bring-up of one queue, its fields drawn at random, and a notification. */
static void op_virtio(struct cpu *c)
{
	if (!nvbar)
		return;
	uint64_t b = vbar[below(c, nvbar)];
	unsigned q = below(c, 4) ? (unsigned)below(c, 3) : (unsigned)below(c, 0x10000);
	unsigned qsize = below(c, 4) ? 1u << below(c, 9) : (unsigned)below(c, 0x10000);

	if (below(c, 2)) {
		virtio_reg(c, b, 0x14, 1, 0); /* reset */
		virtio_reg(c, b, 0x14, 1, 3);
		virtio_reg(c, b, 0x08, 4, 1);
		virtio_reg(c, b, 0x0c, 4, below(c, 4) ? 1 : rnd(c)); /* VERSION_1, or anything */
		virtio_reg(c, b, 0x08, 4, 0);
		virtio_reg(c, b, 0x0c, 4, below(c, 2) ? 1u << 28 : rnd(c));
		virtio_reg(c, b, 0x14, 1, below(c, 4) ? 0xb : rnd(c));
	}
	virtio_reg(c, b, 0x16, 2, q);
	virtio_reg(c, b, 0x18, 2, qsize);
	uint64_t desc = dma_addr(c, 16), avail = dma_addr(c, 2), used = dma_addr(c, 4);
	if (below(c, 2)) {
		virtio_reg(c, b, 0x20, 8, desc);
		virtio_reg(c, b, 0x28, 8, avail);
		virtio_reg(c, b, 0x30, 8, used);
	} else {
		virtio_reg(c, b, 0x20, 4, desc);
		virtio_reg(c, b, 0x24, 4, desc >> 32);
		virtio_reg(c, b, 0x28, 4, avail);
		virtio_reg(c, b, 0x30, 4, used);
	}
	plausible_rings(c, desc, qsize);
	if (avail >= SCRATCH && avail + 0x1000 < SCRATCH + SCRATCH_SIZE) {
		volatile uint16_t *a = (volatile uint16_t *)avail;
		a[0] = (uint16_t)below(c, 2);
		a[1] = (uint16_t)(below(c, 4) ? below(c, qsize + 1) : rnd(c));
		for (unsigned i = 0; i < 8; i++)
			a[2 + i] = (uint16_t)(below(c, 4) ? below(c, qsize) : rnd(c));
	}
	virtio_reg(c, b, 0x1a, 2, below(c, 2) ? below(c, 4) : 0xffff);
	virtio_reg(c, b, 0x1c, 2, below(c, 8) ? 1 : rnd(c));
	virtio_reg(c, b, 0x14, 1, below(c, 4) ? 0xf : rnd(c));
	for (unsigned n = (unsigned)below(c, 4); n; n--)
		virtio_reg(c, b, 0x1800 + 4 * below(c, 4), below(c, 2) ? 2 : 4, below(c, 4));
}

/*
 * An NMI IPI goes to the sender alone: the AP may be in its trampoline, with no IDT, and an NMI
 * there would triple-fault it as it would a real CPU (the guest's fault, not the VMM's).
 * @low is an ICR low word; returns it with an NMI's shorthand made "self".
 */
static uint64_t nmi_to_self(uint64_t low)
{
	return ((low >> 8) & 7) == 4 ? (low & ~(3ULL << 18)) | 1ULL << 18 : low;
}

/* MSR indexes worth trying, by range; a fully random index otherwise. */
static const uint32_t msr_ranges[][2] = {
	{ 0x0, 0x200 },	      { 0x800, 0x100 },	    { 0xc0000080, 0x90 },  { 0xc0010000, 0x200 },
	{ 0xc0011000, 0x40 }, { 0x4b564d00, 0x10 }, { 0x40000000, 0x100 }, { 0x6e0, 1 },
	{ 0x277, 1 },	      { 0x1b, 1 },	    { 0x830, 1 },	   { 0x400, 0x80 },
	{ 0x480, 0x20 },      { 0x1d9, 1 },	    { 0x10, 1 },
};

/* Whether MSR @m takes a guest-physical address (KVM's and Hyper-V's pages, kvmclock). */
static int msr_takes_address(uint32_t m)
{
	return m == 0x11 || m == 0x12 || (m >= 0x4b564d00 && m <= 0x4b564dff) ||
	       (m >= 0x40000000 && m <= 0x400000ff);
}

static void op_msr(struct cpu *c)
{
	unsigned r = (unsigned)below(c, sizeof(msr_ranges) / sizeof(msr_ranges[0]) + 2);
	uint32_t m = r < sizeof(msr_ranges) / sizeof(msr_ranges[0])
			     ? msr_ranges[r][0] + (uint32_t)below(c, msr_ranges[r][1])
			     : (uint32_t)rnd(c);
	uint64_t v;

	if (below(c, 2)) {
		safe_rdmsr(c, m, &v);
		return;
	}
	v = value(c);
	if (msr_takes_address(m))
		v = (dma_addr(c, 64) & ~0xfffULL) | (v & 0x3f);
	else if (m == APIC_BASE_MSR && below(c, 4))
		v = 0xfee00000 | (v & 0xd00); /* enable and mode bits in every combination */
	else if (m == 0xc0000080)
		v |= 0x500; /* EFER: LME and LMA as they are */
	else if (m == 0x830 || m == 0x83f) {
		/* The ICR and SELF IPI: a SIPI to the AP names a page with the trampoline. */
		if (((v >> 8) & 7) == 6)
			v = (v & ~0xffULL) | (SIPI_FIRST + below(c, SIPI_PAGES));
		v = nmi_to_self(v);
	}
	safe_wrmsr(c, m, v);
}

static void op_cpuid(struct cpu *c)
{
	static const uint32_t bases[] = { 0, 0x40000000, 0x80000000, 0x8fffffff, 0xc0000000 };
	uint32_t r[4];
	uint32_t leaf = below(c, 8) ? bases[below(c, 5)] + (uint32_t)below(c, 0x30)
				    : (uint32_t)rnd(c);

	cpuid(leaf, below(c, 2) ? (uint32_t)below(c, 64) : (uint32_t)rnd(c), r);
}

/* An IPI of any kind to any destination, through the x2APIC MSR or the xAPIC page. */
static void op_ipi(struct cpu *c)
{
	uint32_t mode = (uint32_t)below(c, 8), vec;
	uint32_t dest;

	if (mode == 6)
		vec = SIPI_FIRST + (uint32_t)below(c, SIPI_PAGES);
	else if (below(c, 16))
		vec = 32 + (uint32_t)below(c, 224);
	else
		vec = (uint32_t)below(c, 32);
	switch (below(c, 5)) {
	case 0:
		dest = 0;
		break;
	case 1:
		dest = 1;
		break;
	case 2:
		dest = 0xff;
		break;
	case 3:
		dest = (uint32_t)below(c, 256);
		break;
	default:
		dest = (uint32_t)rnd(c);
	}
	/* Levels, trigger, destination mode and shorthand: every combination. */
	uint32_t low = vec | mode << 8 | (uint32_t)below(c, 2) << 11 | (uint32_t)below(c, 2) << 14 |
		       (uint32_t)below(c, 2) << 15 | (uint32_t)below(c, 4) << 18;
	low = (uint32_t)nmi_to_self(low);
	if (below(c, 2)) {
		safe_wrmsr(c, 0x830, (uint64_t)dest << 32 | low);
	} else {
		mmio_op(c, 6, APIC_MMIO + 0x310, dest << 24);
		mmio_op(c, 6, APIC_MMIO + 0x300, low);
	}
}

static void op_xsetbv(struct cpu *c)
{
	static const uint64_t good[] = { 1, 3, 7, 0xe7, 0x207 };
	uint32_t index = below(c, 4) ? 0 : (uint32_t)below(c, 4);
	uint64_t v = below(c, 2) ? good[below(c, 5)] : value(c);

	if (!have_xsave)
		return;
	safe_xsetbv(c, index, v);
	/* Back to x87 | SSE now and then, so that the good values keep meaning something. */
	if (!below(c, 4))
		safe_xsetbv(c, 0, 3);
}

/* Interrupts on for a moment: what the operations raised is delivered now. */
static void op_window(struct cpu *c)
{
	unsigned n = (unsigned)below(c, 200);

	__asm__ volatile("sti" ::: "memory");
	while (n--)
		pause();
	__asm__ volatile("cli" ::: "memory");
}

/* New random bytes in part of the scratch area: the rings and buffers the devices read. */
static void op_scratch(struct cpu *c)
{
	volatile uint64_t *p = (volatile uint64_t *)(SCRATCH + (below(c, SCRATCH_SIZE) & ~0xfffUL));

	for (unsigned i = 0; i < 512; i++)
		p[i] = below(c, 4) ? rnd(c) : below(c, 0x10000);
}

/* INS or OUTS, REP or not, forwards or backwards, on a port, with memory in the scratch area. */
static void op_strio(struct cpu *c)
{
	uint16_t port = below(c, 2) ? dev_ports[below(c, sizeof(dev_ports) / 2)] : (uint16_t)rnd(c);
	uint64_t n = below(c, 4) ? below(c, 64) : 1;
	void *buf = (void *)((SCRATCH + below(c, SCRATCH_SIZE / 2)) & ~7UL) + 0x2000;
	unsigned form = (unsigned)below(c, 6);

	if (port <= DEBUG_EXIT + 3 && port + 3 >= DEBUG_EXIT)
		return; /* a string write to the debug port would end the VM too */
	if (below(c, 4) == 0)
		__asm__ volatile("std" ::: "cc");
	c->fault = 0;
	switch (form) {
	case 0:
		__asm__ volatile(ARM "rep insb" DISARM
				 : "+D"(buf), "+c"(n), [rec] "+m"(c->recover)
				 : "d"(port)
				 : "r11", "memory");
		break;
	case 1:
		__asm__ volatile(ARM "rep insl" DISARM
				 : "+D"(buf), "+c"(n), [rec] "+m"(c->recover)
				 : "d"(port)
				 : "r11", "memory");
		break;
	case 2:
		__asm__ volatile(ARM "rep outsb" DISARM
				 : "+S"(buf), "+c"(n), [rec] "+m"(c->recover)
				 : "d"(port)
				 : "r11", "memory");
		break;
	case 3:
		__asm__ volatile(ARM "rep outsw" DISARM
				 : "+S"(buf), "+c"(n), [rec] "+m"(c->recover)
				 : "d"(port)
				 : "r11", "memory");
		break;
	case 4:
		__asm__ volatile(ARM "insw" DISARM
				 : "+D"(buf), [rec] "+m"(c->recover)
				 : "d"(port)
				 : "r11", "memory");
		break;
	default:
		__asm__ volatile(ARM ".byte 0x67\n\trep outsb" DISARM /* 32-bit addresses */
				 : "+S"(buf), "+c"(n), [rec] "+m"(c->recover)
				 : "d"(port)
				 : "r11", "memory");
	}
	__asm__ volatile("cld" ::: "cc");
}

/*
 * A jump to where no code is: the 32-bit hole, the APIC pages, the last byte of RAM (an
 * instruction that runs into the hole), beyond the guest's page tables, a non-canonical
 * address. The fetch faults (the VMM sees an MMIO exit for a fetch and injects #GP, or the
 * guest takes #PF or #GP itself) and the operation goes on at the recovery address.
 */
static void op_exec(struct cpu *c)
{
	static const uint64_t where[] = { 0xd0000000UL,	 APIC_MMIO,	   APIC_MMIO + 0xff0,
					  IOAPIC_MMIO,	 0x3ffffffUL,	   0x3fffff0UL,
					  0x100000000UL, 0x800000000000UL, 0xfebffffeUL };
	uint64_t to = where[below(c, sizeof(where) / sizeof(where[0]))];

	if (to == 0x3ffffffUL)
		*(volatile uint8_t *)to = 0x8b; /* MOV r32, r/m32: its ModRM is past RAM */
	else if (to == 0x3fffff0UL)
		for (int i = 0; i < 16; i++) /* 16 bytes of prefixes: longer than an instruction */
			((volatile uint8_t *)to)[i] = 0x66;
	c->fault = 0;
	__asm__ volatile(ARM "jmp *%[to]" DISARM
			 : [rec] "+m"(c->recover)
			 : [to] "r"(to)
			 : "r11", "memory");
}

/*
 * The debug registers and the trap flag: breakpoints (instruction, write, read/write) on this
 * guest's code and data, armed in DR7, then an instruction that
 * exits to the VMM (CPUID, OUT, RDMSR, an APIC MMIO read) run once with TF set: each may
 * raise #DB, which the handler counts and answers with DR7 off.
 */
static void op_debug(struct cpu *c)
{
	uint64_t a = below(c, 2) ? (uint64_t)&op_debug + below(c, 64) : (uint64_t)&c->done;
	unsigned dr = (unsigned)below(c, 4), rw = (unsigned)below(c, 3);
	uint64_t dr7 = (1UL << (2 * dr)) | ((uint64_t)(rw == 2 ? 3 : rw) << (16 + 4 * dr)) |
		       ((uint64_t)below(c, 4) << (18 + 4 * dr));
	uint32_t r[4];

	if (dr == 0)
		__asm__ volatile("mov %0, %%dr0" : : "r"(a));
	else if (dr == 1)
		__asm__ volatile("mov %0, %%dr1" : : "r"(a));
	else if (dr == 2)
		__asm__ volatile("mov %0, %%dr2" : : "r"(a));
	else
		__asm__ volatile("mov %0, %%dr3" : : "r"(a));
	c->fault = 0;
	__asm__ volatile(ARM "mov %[d], %%dr7" DISARM /* a bad DR7 (I/O without CR4.DE): #GP */
			 : [rec] "+m"(c->recover)
			 : [d] "r"(dr7)
			 : "r11", "memory");
	switch (below(c, 5)) {
	case 0:
		__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; cpuid; pushfq; andq $~0x100, "
				 "(%%rsp); popfq"
				 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
				 : "a"(0), "c"(0)
				 : "cc", "memory");
		break;
	case 1:
		__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; outb %%al, $0x80; pushfq; "
				 "andq $~0x100, (%%rsp); popfq"
				 :
				 : "a"(0)
				 : "cc", "memory");
		break;
	case 2:
		__asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; rdmsr; pushfq; andq $~0x100, "
				 "(%%rsp); popfq"
				 : "=a"(r[0]), "=d"(r[1])
				 : "c"(0x1a0)
				 : "cc", "memory");
		break;
	case 3:
		__asm__ volatile(ARM "pushfq; orq $0x100, (%%rsp); popfq; movl (%[p]), %[v]; "
				     "pushfq; andq $~0x100, (%%rsp); popfq" DISARM
				 : [v] "=r"(r[0]), [rec] "+m"(c->recover)
				 : [p] "r"(APIC_MMIO + 0x20)
				 : "r11", "cc", "memory");
		break;
	default:
		mmio_op(c, 2, APIC_MMIO + 0x20, 0);
		op_cpuid(c);
	}
	__asm__ volatile("mov %0, %%dr7" : : "r"(0UL));
}

/*
 * One instruction a guest has no business running, with random registers: the SVM and VMX
 * instructions (all intercepted or exiting: #UD, or a hypercall's -ENOSYS), the cache and
 * monitor instructions, RDPMC, RDTSCP, XGETBV, GETSEC, UD2.
 */
#define INSN(bytes)                                                                                \
	__asm__ volatile(ARM ".byte " bytes DISARM                                                 \
			 : [rec] "+m"(c->recover), "+a"(ra), "+c"(rc), "+d"(rd)                    \
			 : "b"(scratch)                                                            \
			 : "r11", "memory", "cc")
static void op_insn(struct cpu *c)
{
	uint64_t ra = below(c, 2) ? rnd(c) : dma_addr(c, 4096), rc = below(c, 4), rd = 0;
	uint64_t scratch = dma_addr(c, 8);

	c->fault = 0;
	switch (below(c, 22)) {
	case 0:
		INSN("0x0f, 0x01, 0xd9"); /* VMMCALL */
		break;
	case 1:
		INSN("0x0f, 0x01, 0xc1"); /* VMCALL */
		break;
	case 2:
		INSN("0x0f, 0x01, 0xd8"); /* VMRUN */
		break;
	case 3:
		INSN("0x0f, 0x01, 0xda"); /* VMLOAD */
		break;
	case 4:
		INSN("0x0f, 0x01, 0xdb"); /* VMSAVE */
		break;
	case 5:
		INSN("0x0f, 0x01, 0xdc"); /* STGI */
		break;
	case 6:
		INSN("0x0f, 0x01, 0xdd"); /* CLGI */
		break;
	case 7:
		INSN("0x0f, 0x01, 0xde"); /* SKINIT */
		break;
	case 8:
		INSN("0x0f, 0x01, 0xdf"); /* INVLPGA */
		break;
	case 9:
		INSN("0x0f, 0x01, 0xc8"); /* MONITOR */
		break;
	case 10:
		rc = 0;
		INSN("0x0f, 0x01, 0xc9"); /* MWAIT */
		break;
	case 11:
		INSN("0x0f, 0x09"); /* WBINVD */
		break;
	case 12:
		INSN("0x0f, 0x08"); /* INVD */
		break;
	case 13:
		INSN("0x0f, 0x33"); /* RDPMC */
		break;
	case 14:
		INSN("0x0f, 0x01, 0xf9"); /* RDTSCP */
		break;
	case 15:
		INSN("0x0f, 0x01, 0xd0"); /* XGETBV */
		break;
	case 16:
		INSN("0xf3, 0x0f, 0xc7, 0x33"); /* VMXON [rbx] */
		break;
	case 17:
		INSN("0x0f, 0xc7, 0x33"); /* VMPTRLD [rbx] */
		break;
	case 18:
		INSN("0x66, 0x0f, 0x38, 0x80, 0x03"); /* INVEPT rax, [rbx] */
		break;
	case 19:
		INSN("0x0f, 0x37"); /* GETSEC */
		break;
	case 20:
		INSN("0x0f, 0x78, 0xc1"); /* VMREAD rcx, rax */
		break;
	default:
		INSN("0x0f, 0x0b"); /* UD2 */
	}
}

static void run_ops(int cpu)
{
	struct cpu *c = &cpus[cpu];

	while (c->done < nops) {
		unsigned w = (unsigned)below(c, 64), k = 0;
		while (w >= op_weight[k]) {
			w -= op_weight[k];
			k++;
		}
		c->ops[k]++;
		switch (k) {
		case OP_PIO:
			op_pio(c);
			break;
		case OP_PCI:
			op_pci(c);
			break;
		case OP_MMIO:
			op_mmio(c);
			break;
		case OP_VIRTIO:
			op_virtio(c);
			break;
		case OP_MSR:
			op_msr(c);
			break;
		case OP_CPUID:
			op_cpuid(c);
			break;
		case OP_IPI:
			op_ipi(c);
			break;
		case OP_XSETBV:
			op_xsetbv(c);
			break;
		case OP_WINDOW:
			op_window(c);
			break;
		case OP_SCRATCH:
			op_scratch(c);
			break;
		case OP_STRIO:
			op_strio(c);
			break;
		case OP_DEBUG:
			op_debug(c);
			break;
		case OP_INSN:
			op_insn(c);
			break;
		default:
			op_exec(c);
		}
		c->done++;
	}
	c->finished = 1;
}

/* ---- the two vCPUs ------------------------------------------------------------------------- */
void ap_main(void);
void ap_main(void)
{
	struct cpu *c = &cpus[1];

	c->recover = 0;
	c->starts++;
	idt_load();
	xsave_on();
	run_ops(1);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* INIT-SIPI-SIPI to APIC ID 1, through the BSP's APIC put back in x2APIC mode. */
static void start_ap(struct cpu *c)
{
	safe_wrmsr(c, APIC_BASE_MSR, 0xfee00900); /* from disabled: xAPIC first */
	safe_wrmsr(c, APIC_BASE_MSR, 0xfee00d00);
	safe_wrmsr(c, 0x80f, 0x1ff);
	safe_wrmsr(c, 0x830, 1ULL << 32 | 0xc500); /* INIT, assert, level */
	for (int i = 0; i < 100000; i++)
		pause();
	for (int k = 0; k < 2; k++) {
		safe_wrmsr(c, 0x830, 1ULL << 32 | 0x4600 | SIPI_FIRST);
		for (int i = 0; i < 10000; i++)
			pause();
	}
}

static void find_virtio(void)
{
	for (uint32_t dev = 1; dev < 8 && nvbar < 3; dev++) {
		outl(0xcf8, 0x80000000u | dev << 11);
		if ((inl(0xcfc) & 0xffff) != 0x1af4)
			continue;
		outl(0xcf8, 0x80000000u | dev << 11 | 0x10);
		uint64_t bar = inl(0xcfc) & ~0xfu;
		outl(0xcf8, 0x80000000u | dev << 11 | 0x14);
		bar |= (uint64_t)inl(0xcfc) << 32;
		outl(0xcf8, 0x80000000u | dev << 11 | 0x04);
		outw(0xcfc, 6); /* memory space, bus master */
		if (bar)
			vbar[nvbar++] = bar;
	}
}

static void print_cpu(int i)
{
	struct cpu *c = &cpus[i];

	puts("chaos: vCPU ");
	putu((uint64_t)i);
	puts(": ");
	putu(c->done);
	puts(" operations (");
	for (int k = 0; k < OP_KINDS; k++) {
		puts(op_names[k]);
		putc(' ');
		putu(c->ops[k]);
		puts(k + 1 < OP_KINDS ? ", " : "); exceptions");
	}
	for (int v = 0; v < 32; v++) {
		if (!c->exceptions[v])
			continue;
		puts(" #");
		putu((uint64_t)v);
		putc(' ');
		putu(c->exceptions[v]);
	}
	puts("; interrupts ");
	putu(c->interrupts);
	puts(", NMIs ");
	putu(c->nmis);
	if (i) {
		puts(", starts ");
		putu(c->starts);
	}
	putc('\n');
}

/*
 * A timer as fast as the guest can ask for, then 1000 port writes with interrupts off: the
 * local APIC's periodic timer with an initial count of 1 and divide by 1 (@apic), or the PIT's
 * channel 0 in mode 2 with a count of 1, its interrupt unmasked at the 8259. A PC's CPU runs on
 * meanwhile; so must the vCPU (the timer's exits must leave it time to run).
 */
static void fast_timer_then_work(struct cpu *c, int apic)
{
	if (apic) {
		safe_wrmsr(c, APIC_BASE_MSR, 0xfee00900);
		safe_wrmsr(c, APIC_BASE_MSR, 0xfee00d00);
		safe_wrmsr(c, 0x80f, 0x1ff);
		safe_wrmsr(c, 0x83e, 0xb); /* divide by 1 */
		safe_wrmsr(c, 0x832, 0x20040); /* periodic, vector 0x40 */
		safe_wrmsr(c, 0x838, 1);
	} else {
		outb(0x21, 0xfe); /* IRQ 0 only */
		outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
		outb(0x40, 1);
		outb(0x40, 0);
	}
	for (int i = 0; i < 1000; i++)
		outb(0x80, (uint8_t)i);
	puts("chaos: 1000 port writes done under the fast timer\n");
}

int bsp_main(const uint8_t *boot_params);
int bsp_main(const uint8_t *boot_params)
{
	const char *cmdline = (const char *)(uint64_t) * (const uint32_t *)(boot_params + 0x228);
	struct cpu *c = &cpus[0];
	uint32_t r[4];

	seed = word_value(cmdline, "chaos.seed", DEFAULT_SEED);
	nops = word_value(cmdline, "chaos.ops", DEFAULT_OPS);
	/* The debug operations only on request: QEMU 7.2's TCG itself segfaulted on them. */
	if (word_value(cmdline, "chaos.debug", 0)) {
		op_weight[OP_MSR]--;
		op_weight[OP_DEBUG]++;
	}
	cpus[0].rng = seed;
	cpus[1].rng = seed ^ 0x5bd1e9955bd1e995ULL;
	cpuid(1, 0, r);
	have_xsave = (r[2] >> 26) & 1;
	uart_sane();
	puts("chaos: seed ");
	puthex(seed);
	puts(", ");
	putu(nops);
	puts(" operations per vCPU (replay: -a chaos.seed=");
	puthex(seed);
	puts(" -a chaos.ops=");
	putu(nops);
	puts(")\n");

	guest_cpu_init();
	xsave_on();
	find_virtio();
	puts("chaos: ");
	putu(nvbar);
	puts(" virtio functions\n");
	for (unsigned p = 0; p < SIPI_PAGES; p++)
		tramp_install((uint8_t)(SIPI_FIRST + p));
	for (uint64_t *p = (uint64_t *)SCRATCH; p < (uint64_t *)(SCRATCH + SCRATCH_SIZE); p++)
		*p = rnd(c);
	start_ap(c);

	run_ops(0);

	/*
	 * The AP's end: an INIT may have stopped it, and no SIPI restarted it. When it makes no
	 * progress for AP_STALL_TICKS (doubled each time) it is started again (it goes on from its
	 * count; a start of an AP that was only slow costs nothing but the restart), up to
	 * AP_RESTARTS times.
	 */
	for (int tries = 0; tries < AP_RESTARTS && !cpus[1].finished; tries++) {
		uint64_t t0 = rdtsc(), last = cpus[1].done;
		while (!cpus[1].finished && rdtsc() - t0 < AP_STALL_TICKS << tries) {
			if (cpus[1].done != last) {
				last = cpus[1].done;
				t0 = rdtsc();
			}
			pause();
		}
		if (!cpus[1].finished)
			start_ap(c);
	}
	uart_sane();
	putc('\n');
	print_cpu(0);
	print_cpu(1);
	if (!cpus[1].finished) {
		puts("chaos: FAIL - the AP did not finish its operations\n");
		return 1;
	}
	uint64_t finale = word_value(cmdline, "chaos.finale", 0);
	if (finale) {
		/* The end a guest should never choose: the VMM must still end with one line. */
		puts("chaos: finale ");
		putu(finale);
		putc('\n');
		if (finale == 1)
			__asm__ volatile("mov %0, %%cr3" : : "r"(0xd0000000UL) : "memory");
		else if (finale == 2)
			__asm__ volatile("mov %0, %%rsp; int3" : : "r"(0xd0000000UL) : "memory");
		else if (finale == 3 || finale == 4)
			fast_timer_then_work(c, finale == 3);
	}
	puts("chaos: done, seed ");
	puthex(seed);
	puts("; halting with interrupts off\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}
