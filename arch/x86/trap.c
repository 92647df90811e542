// SPDX-License-Identifier: MIT
/*
 * The IDT and the C side of every trap. CPU exceptions in the kernel are fatal unless a
 * trap_catch() is armed; interrupts go to the handler registered for their vector.
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/gdt.h>
#include <arch/x86/kjmp.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/percpu.h>
#include <arch/x86/trap.h>
#include <dyad/panic.h>
#include <dyad/printf.h>

struct idt_gate {
	u16 offset_low;
	u16 selector;
	u8 ist;
	u8 type_attr;
	u16 offset_mid;
	u32 offset_high;
	u32 reserved;
} __packed;

extern const u64 trap_stubs[256];
void syscall_entry(void);

static struct idt_gate idt[256] __aligned(16);
static irq_handler_t irq_handlers[256];
static trap_fault_fn page_fault_handler;
static trap_fault_fn user_fault_handler;

/*
 * An armed trap_catch(), on its caller's stack, reached through percpu.catcher: one per CPU (a
 * thread is not switched away in the kernel while one is armed: nothing in a catch blocks).
 * Catches do not nest.
 */
struct trap_catcher {
	struct kjmp jmp;
	struct fault_info *fi;
};

/*
 * NMIs seen so far and where the last one landed. Only the NMI handler writes these, and it
 * takes no lock (it may interrupt any code, printf holding the console lock included); they are
 * printed later, from a context that may print (trap_nmi_report), which advances
 * trap_nmi_reported. Both counters are global for the system-call entry, which compares them
 * before it calls trap_nmi_report.
 */
volatile u64 trap_nmi_seen;
static volatile u64 nmi_last_rip;
u64 trap_nmi_reported;

static const char *const exception_names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault", "coprocessor overrun",
	"invalid TSS", "segment not present", "stack fault", "general protection",
	"page fault", "reserved", "x87 error", "alignment check", "machine check",
	"SIMD error", "virtualization", "control protection",
};

static void idt_set(unsigned vector, u64 handler, u8 ist)
{
	idt[vector] = (struct idt_gate){
		.offset_low = handler & 0xffff,
		.selector = GDT_KERNEL_CS,
		.ist = ist,
		.type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
		.offset_mid = (handler >> 16) & 0xffff,
		.offset_high = handler >> 32,
	};
}

/* Every CPU shares the one IDT; each has its own IST stacks behind the same slots. */
void trap_load_idt(void)
{
	struct {
		u16 limit;
		u64 base;
	} __packed ptr = { sizeof(idt) - 1, (u64)idt };

	__asm__ volatile("lidt %0" : : "m"(ptr));
}

void trap_init(void)
{
	for (unsigned v = 0; v < 256; v++)
		idt_set(v, trap_stubs[v], 0);
	idt[T_DF].ist = IST_DOUBLE_FAULT;
	idt[T_NMI].ist = IST_NMI;
	idt[T_DB].ist = IST_DEBUG; /* may arrive on syscall_entry's first instruction: see below */
	trap_load_idt();
}

void trap_set_irq_handler(unsigned vector, irq_handler_t fn)
{
	BUG_ON(vector < 32 || vector > 255);
	irq_handlers[vector] = fn;
}

bool trap_catch(void (*fn)(void *arg), void *arg, struct fault_info *fi)
{
	struct trap_catcher catcher;

	BUG_ON(this_cpu()->catcher);
	if (kjmp_save(&catcher.jmp)) {
		/* Back from trap_dispatch, *fi filled in. The flags kjmp_save kept have AC clear,
		 * but say so: fn may have been inside user_access_begin() when it faulted. */
		if (cpu_smap_enabled)
			clac();
		return true;
	}
	catcher.fi = fi;
	this_cpu()->catcher = &catcher;
	fn(arg);
	this_cpu()->catcher = NULL;
	return false;
}

const char *trap_exception_name(u64 vector)
{
	const char *name = vector < 32 ? exception_names[vector] : NULL;

	return name ? name : "reserved exception";
}

void trap_set_fault_handlers(trap_fault_fn page_fault, trap_fault_fn user_fault)
{
	page_fault_handler = page_fault;
	user_fault_handler = user_fault;
}

/*
 * An exception: first a page fault that the process layer can serve (demand paging, in user
 * mode or in a kernel access to user memory), then an armed trap_catch(), then a fault of user
 * code (the process dies), and otherwise the kernel itself is broken.
 */
static void exception(struct trap_frame *tf)
{
	if (tf->vector == T_PF && page_fault_handler && page_fault_handler(tf))
		return;
	struct trap_catcher *c = this_cpu()->catcher;

	if (c && (tf->cs & 3) == 0) {
		*c->fi = (struct fault_info){
			.vector = tf->vector,
			.error = tf->error,
			.rip = tf->rip,
			.cr2 = read_cr2(),
		};
		this_cpu()->catcher = NULL;
		kjmp_restore(&c->jmp);
	}
	if ((tf->cs & 3) && user_fault_handler && user_fault_handler(tf))
		return;
	if (tf->vector == T_PF && !(tf->cs & 3) && read_cr2() < USER_TOP)
		panic_trap(tf, "kernel access to a user address outside uaccess");
	panic_trap(tf, trap_exception_name(tf->vector));
}

/*
 * An NMI is not an exception: it kills no process and no trap_catch() takes it; the interrupted
 * code resumes. It runs on its own IST stack, so it is safe even on the first instruction of
 * SYSCALL entry, where rsp is still the user's.
 */
static void nmi(struct trap_frame *tf)
{
	nmi_last_rip = tf->rip;
	__atomic_add_fetch(&trap_nmi_seen, 1, __ATOMIC_RELAXED);
}

u64 trap_nmi_count(void)
{
	return __atomic_load_n(&trap_nmi_seen, __ATOMIC_RELAXED);
}

void trap_nmi_report(void)
{
	u64 n = trap_nmi_count();

	if (n == trap_nmi_reported)
		return;
	printf("nmi: %lu NMI%s since the last report, the last at rip %#lx\n",
	       n - trap_nmi_reported, n - trap_nmi_reported == 1 ? "" : "s", nmi_last_rip);
	trap_nmi_reported = n;
}

void trap_dispatch(struct trap_frame *tf);
void trap_dispatch(struct trap_frame *tf)
{
	if (tf->vector == T_NMI) {
		nmi(tf);
		return;
	}
	/*
	 * SYSCALL executed with TF set: some CPUs (Bochs among them) deliver its single-step trap
	 * on the first instruction of syscall_entry, in ring 0 with the user's rsp still loaded,
	 * which is why #DB has its own stack. SFMASK has already cleared TF; the user's TF comes
	 * back with SYSRET and its trap is then taken in ring 3.
	 */
	if (tf->vector == T_DB && !(tf->cs & 3) && tf->rip == (u64)syscall_entry)
		return;
	if (tf->vector < 32) {
		exception(tf);
		return;
	}
	if (irq_handlers[tf->vector]) {
		irq_handlers[tf->vector](tf);
		return;
	}
	if (tf->vector != IRQ_SPURIOUS)
		printf("trap: unexpected interrupt, vector %lu\n", tf->vector);
}
