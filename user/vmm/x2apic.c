// SPDX-License-Identifier: MIT
/*
 * The local APIC through its x2APIC MSR interface only (Intel SDM vol. 3A, ch. 10/11: "Advanced
 * Programmable Interrupt Controller"), plus the xAPIC page for the few accesses Linux makes
 * before it switches to x2APIC mode (the ID and version while it parses the MADT). Modelled:
 * ID, version, TPR/PPR, EOI, LDR, SVR, ISR/TMR/IRR, ESR, ICR (self and all-including-self fixed
 * IPIs), the LVT, the timer in one-shot, periodic and TSC-deadline modes counting at the CPUID 0x15
 * crystal rate divided by TDCR, and the SELF IPI register. LINT0 in ExtINT mode passes the 8259's
 * vector straight through, bypassing IRR/ISR and the priority, as the virtual-wire mode does,
 * except vectors below 16, which Dyad cannot inject (x2apic_take_interrupt). Illegal vectors
 * (0-15) from the APIC's own sources are errors: logged for the next ESR write, the LVT error
 * entry raised, nothing delivered. Reserved or read-only registers written, and unknown offsets,
 * take #GP as the SDM lists. KVM's PV EOI (x2apic.h) lets the guest end an edge-triggered
 * interrupt, the only one in service with none waiting, without an exit.
 */
#include <string.h>

#include "pic.h"
#include "vmm.h"
#include "x2apic.h"

#define REG_ID 0x02
#define REG_VERSION 0x03
#define REG_TPR 0x08
#define REG_PPR 0x0a
#define REG_EOI 0x0b
#define REG_LDR 0x0d
#define REG_SVR 0x0f
#define REG_ISR 0x10
#define REG_TMR 0x18
#define REG_IRR 0x20
#define REG_ESR 0x28
#define REG_LVT_CMCI 0x2f
#define REG_ICR 0x30
#define REG_LVT_TIMER 0x32
#define REG_LVT_THERMAL 0x33
#define REG_LVT_PMC 0x34
#define REG_LVT_LINT0 0x35
#define REG_LVT_LINT1 0x36
#define REG_LVT_ERROR 0x37
#define REG_TMICT 0x38
#define REG_TMCCT 0x39
#define REG_TDCR 0x3e
#define REG_SELF_IPI 0x3f

#define LVT_MASKED 0x10000u
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3)
#define TIMER_ONESHOT 0
#define TIMER_PERIODIC 1
#define TIMER_DEADLINE 2
#define DM_EXTINT 0x700u
#define ESR_SEND_ILLEGAL 0x20u
#define ESR_RECV_ILLEGAL 0x40u

void x2apic_init(struct x2apic *a, uint64_t tsc_khz, struct pic *pic)
{
	memset(a, 0, sizeof(*a));
	a->base_msr = APIC_BASE_XAPIC;
	a->svr = 0x1ff;
	a->ldr = 1; /* x2APIC ID 0: cluster 0, bit 0 */
	a->lvt_timer = a->lvt_thermal = a->lvt_pmc = a->lvt_error = LVT_MASKED;
	a->lvt_lint0 = DM_EXTINT;
	a->lvt_lint1 = 0x400; /* NMI */
	a->tsc_khz = tsc_khz ? tsc_khz : APIC_CRYSTAL_KHZ;
	a->pic = pic;
}

void x2apic_set_id(struct x2apic *a, uint32_t id)
{
	a->id = id;
	a->ldr = ((id >> 4) << 16) | (1u << (id & 15));
	a->base_msr = id ? a->base_msr & ~0x100ULL : a->base_msr | 0x100;
}

static struct x2apic *(*current_apic)(void);

void x2apic_set_selector(struct x2apic *(*current)(void))
{
	current_apic = current;
}

static int highest(const uint32_t v[8])
{
	for (int i = 7; i >= 0; i--)
		if (v[i])
			return i * 32 + 31 - __builtin_clz(v[i]);
	return -1;
}

static uint32_t ppr(const struct x2apic *a)
{
	int isrv = highest(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

/*
 * Logs an APIC error (SDM 10.5.3): the bit waits in the internal error status until the next
 * ESR write moves it into ESR, and the LVT error entry, unmasked, interrupts. An error vector
 * below 16 is itself illegal: logged, not delivered (no recursion).
 */
static void apic_error(struct x2apic *a, uint32_t bit)
{
	uint32_t v = a->lvt_error & 0xff;

	a->esr_pending |= bit;
	a->illegal_vectors++;
	if (a->lvt_error & LVT_MASKED)
		return;
	if (v < 16)
		a->esr_pending |= ESR_RECV_ILLEGAL;
	else
		a->irr[v >> 5] |= 1u << (v & 31);
}

void x2apic_raise(struct x2apic *a, int vector)
{
	/* Vectors 0-15 are illegal for every APIC source: logged, never delivered. 16-31 are
	 * legal (the CPU takes them as interrupts through the IDT, as any vector above 31). */
	if (vector < 16 || vector > 255) {
		apic_error(a, ESR_RECV_ILLEGAL);
		return;
	}
	a->irr[vector >> 5] |= 1u << (vector & 31);
	a->tmr[vector >> 5] &= ~(1u << (vector & 31));
	if (a->notify)
		a->notify(a->notify_ctx);
}

void x2apic_accept(struct x2apic *a, int vector, int level)
{
	x2apic_raise(a, vector);
	if (level && vector >= 16 && vector <= 255)
		a->tmr[vector >> 5] |= 1u << (vector & 31);
}

/* TSC ticks for @count timer ticks at the current divider. */
static uint64_t timer_tsc(const struct x2apic *a, uint64_t count)
{
	unsigned d = (a->tdcr & 3) | ((a->tdcr & 8) >> 1);
	uint64_t divide = d == 7 ? 1 : 2u << d;

	return (uint64_t)((unsigned __int128)count * divide * a->tsc_khz / APIC_CRYSTAL_KHZ);
}

static void timer_arm(struct x2apic *a)
{
	switch (LVT_TIMER_MODE(a->lvt_timer)) {
	case TIMER_DEADLINE:
		a->timer_due = a->tsc_deadline;
		break;
	case TIMER_ONESHOT:
	case TIMER_PERIODIC:
		a->timer_period = timer_tsc(a, a->tmict);
		/* A one-shot needs the guest's WRMSR to come again: only a period is limited. */
		if (LVT_TIMER_MODE(a->lvt_timer) == TIMER_PERIODIC)
			a->timer_period =
				MAX(a->timer_period, a->tsc_khz * APIC_MIN_PERIOD_US / 1000);
		a->timer_due = a->tmict ? a->timer_start + MAX(a->timer_period, 1) : 0;
		break;
	default: /* reserved mode: the timer does not run */
		a->timer_due = 0;
	}
}

void x2apic_tick(struct x2apic *a, uint64_t now)
{
	a->now = now;
	if (!a->timer_due || now < a->timer_due)
		return;
	a->timer_fired++;
	if (!(a->lvt_timer & LVT_MASKED))
		x2apic_raise(a, a->lvt_timer & 0xff);
	switch (LVT_TIMER_MODE(a->lvt_timer)) {
	case TIMER_PERIODIC: {
		uint64_t p = MAX(a->timer_period, 1);
		/* Ticks missed while the host was busy coalesce into this one. */
		a->timer_start = a->timer_due + (now - a->timer_due) / p * p;
		a->timer_due = a->timer_start + p;
		break;
	}
	case TIMER_DEADLINE:
		a->tsc_deadline = 0;
		a->timer_due = 0;
		break;
	default:
		a->timer_due = 0;
	}
}

uint64_t x2apic_next_deadline(const struct x2apic *a)
{
	return a->timer_due;
}

int x2apic_take_interrupt(struct x2apic *a)
{
	int v = highest(a->irr);

	if (v >= 0 && (a->svr & 0x100) && ((uint32_t)v & 0xf0) > (ppr(a) & 0xf0)) {
		a->irr[v >> 5] &= ~(1u << (v & 31));
		a->isr[v >> 5] |= 1u << (v & 31);
		return v;
	}
	if (a->pic && !(a->lvt_lint0 & LVT_MASKED) && (a->lvt_lint0 & 0x700) == DM_EXTINT &&
	    pic_pending(a->pic)) {
		/*
		 * A real CPU takes whatever vector the 8259 gives, even 0-15 from a PIC still at
		 * its reset base 0x08; Dyad injects external interrupts with vectors 16-255 only.
		 * Such a request stays pending at the PIC (until the guest reprograms or masks it)
		 * and is counted, rather than ending the VM.
		 */
		if (pic_vector(a->pic) < 16) {
			a->extint_below_16++;
			return -1;
		}
		a->extint_delivered++;
		return pic_ack(a->pic);
	}
	return -1;
}

static uint32_t tmcct(const struct x2apic *a)
{
	if (LVT_TIMER_MODE(a->lvt_timer) == TIMER_DEADLINE || !a->timer_due || !a->tmict)
		return 0;
	uint64_t left = a->timer_due > a->now ? a->timer_due - a->now : 0;
	unsigned d = (a->tdcr & 3) | ((a->tdcr & 8) >> 1);
	uint64_t divide = d == 7 ? 1 : 2u << d;
	/* Exact, not left / timer_tsc(a, 1): a truncated TSC-per-tick overstates a large count. */
	uint64_t ticks = (uint64_t)((unsigned __int128)left * APIC_CRYSTAL_KHZ /
				    ((unsigned __int128)a->tsc_khz * divide));
	return (uint32_t)MIN(ticks, a->tmict);
}

/* Ends the highest vector in service; a level-triggered one's EOI goes to the I/O APIC. */
static void eoi(struct x2apic *a)
{
	int s = highest(a->isr);

	if (s < 0)
		return;
	uint32_t bit = 1u << (s & 31);
	a->isr[s >> 5] &= ~bit;
	if (a->tmr[s >> 5] & bit) { /* level-triggered: the I/O APIC clears remote IRR */
		a->tmr[s >> 5] &= ~bit;
		if (a->eoi_broadcast)
			a->eoi_broadcast(a->eoi_ctx, s);
	}
}

static const struct guest_ram *pv_eoi_ram;

void x2apic_set_guest_ram(const struct guest_ram *ram)
{
	pv_eoi_ram = ram;
}

/*
 * MSR_KVM_PV_EOI_EN: bit 0 enables, the rest is the guest-physical address of the word, which
 * must be 4-byte aligned RAM (#GP otherwise, as KVM). Bit 0 of the word is the flag; the VMM
 * reads and writes its first byte only, and only while this vCPU is out of the guest.
 */
static int pv_eoi_msr_write(struct x2apic *a, uint64_t value)
{
	uint64_t gpa = value & ~APIC_PV_EOI_ENABLED;
	void *p = NULL;

	if (value & APIC_PV_EOI_ENABLED) {
		if ((gpa & 3) || !pv_eoi_ram || gpa_ptr(pv_eoi_ram, gpa, 4, &p))
			return -1;
	}
	a->pv_eoi_msr = value;
	a->pv_eoi_flag = p;
	a->pv_eoi_armed = 0;
	return 0;
}

static int isr_count(const struct x2apic *a)
{
	int n = 0;

	for (int i = 0; i < 8; i++)
		n += __builtin_popcount(a->isr[i]);
	return n;
}

void x2apic_pv_eoi_enter(struct x2apic *a)
{
	int s = highest(a->isr);

	if (!a->pv_eoi_flag || a->pv_eoi_armed || s < 0 || highest(a->irr) >= 0 ||
	    isr_count(a) != 1 || (a->tmr[s >> 5] & (1u << (s & 31))))
		return;
	*a->pv_eoi_flag |= 1;
	a->pv_eoi_armed = 1;
}

void x2apic_pv_eoi_exit(struct x2apic *a)
{
	if (!a->pv_eoi_armed)
		return;
	a->pv_eoi_armed = 0;
	if (*a->pv_eoi_flag & 1) {
		*a->pv_eoi_flag &= ~1; /* not yet: the guest's EOI writes the register */
		return;
	}
	a->pv_eois++;
	eoi(a);
}

static int x2apic_msr_read(void *dev, uint32_t index, uint64_t *value)
{
	struct x2apic *a = dev;
	uint32_t r = index - 0x800;

	if (index == APIC_PV_EOI_MSR) {
		*value = a->pv_eoi_msr;
		return 0;
	}
	if (index == APIC_BASE_MSR) {
		*value = a->base_msr;
		return 0;
	}
	if (index == APIC_TSC_DEADLINE_MSR) {
		*value = a->tsc_deadline;
		return 0;
	}
	if (r >= REG_ISR && r < REG_ISR + 8) {
		*value = a->isr[r - REG_ISR];
		return 0;
	}
	if (r >= REG_TMR && r < REG_TMR + 8) {
		*value = a->tmr[r - REG_TMR];
		return 0;
	}
	if (r >= REG_IRR && r < REG_IRR + 8) {
		*value = a->irr[r - REG_IRR];
		return 0;
	}
	switch (r) {
	case REG_ID:
		*value = a->id;
		break;
	case REG_VERSION:
		*value = 0x14 | (6u << 16); /* integrated APIC, 7 LVT entries (with CMCI) */
		break;
	case REG_TPR:
		*value = a->tpr;
		break;
	case REG_PPR:
		*value = ppr(a);
		break;
	case REG_LDR:
		*value = a->ldr;
		break;
	case REG_SVR:
		*value = a->svr;
		break;
	case REG_ESR:
		*value = a->esr;
		break;
	case REG_LVT_CMCI:
		*value = LVT_MASKED;
		break;
	case REG_ICR:
		*value = a->icr_low;
		break;
	case REG_LVT_TIMER:
		*value = a->lvt_timer;
		break;
	case REG_LVT_THERMAL:
		*value = a->lvt_thermal;
		break;
	case REG_LVT_PMC:
		*value = a->lvt_pmc;
		break;
	case REG_LVT_LINT0:
		*value = a->lvt_lint0;
		break;
	case REG_LVT_LINT1:
		*value = a->lvt_lint1;
		break;
	case REG_LVT_ERROR:
		*value = a->lvt_error;
		break;
	case REG_TMICT:
		*value = a->tmict;
		break;
	case REG_TMCCT:
		*value = tmcct(a);
		break;
	case REG_TDCR:
		*value = a->tdcr;
		break;
	default: /* EOI and SELF IPI are write-only; the rest is reserved */
		return -1;
	}
	return 0;
}

static void icr_write(struct x2apic *a, uint64_t value)
{
	uint32_t low = (uint32_t)value, dest = (uint32_t)(value >> 32);
	unsigned shorthand = (low >> 18) & 3, mode = (low >> 8) & 7;

	a->icr_low = low & ~0x1000u; /* delivered at once: never "send pending" */
	if ((mode == 0 || mode == 1) && (low & 0xff) < 16) {
		static unsigned logged; /* all APICs: under the bus lock */
		if (logged++ < 8)
			vmm_log("vCPU %u sent an IPI with illegal vector %u (ICR %#x): not sent",
				a->id, low & 0xff, low);
		apic_error(a, ESR_SEND_ILLEGAL); /* not sent, to this CPU or any other */
		return;
	}
	if (a->send_ipi) {
		a->send_ipi(a->ipi_ctx, a, low, dest);
		return;
	}
	if (mode != 0)
		return; /* INIT, SIPI, NMI, SMI to a one-CPU machine: nobody else to reach */
	if (shorthand == 1 || shorthand == 2 || (shorthand == 0 && dest == 0))
		x2apic_raise(a, low & 0xff);
}

static int x2apic_msr_write(void *dev, uint32_t index, uint64_t value)
{
	struct x2apic *a = dev;
	uint32_t r = index - 0x800, v = (uint32_t)value;

	if (index == APIC_BASE_MSR) {
		/* xAPIC to x2APIC is the one transition offered; disabling, or leaving x2APIC mode
		 * (which the SDM only allows through disabled), is refused. */
		if (!(value & 0x800) || ((a->base_msr & 0x400) && !(value & 0x400)))
			return -1;
		a->base_msr = value & ~0x2ffULL;
		if (a->id == 0)
			a->base_msr |= 0x100; /* BSP */
		return 0;
	}
	if (index == APIC_PV_EOI_MSR)
		return pv_eoi_msr_write(a, value);
	if (index == APIC_TSC_DEADLINE_MSR) {
		if (LVT_TIMER_MODE(a->lvt_timer) != TIMER_DEADLINE)
			return 0; /* ignored outside TSC-deadline mode */
		a->tsc_deadline = value;
		timer_arm(a);
		return 0;
	}
	if (r != REG_ICR && value >> 32)
		return -1; /* the upper half is reserved everywhere but ICR */
	switch (r) {
	case REG_TPR:
		a->tpr = v & 0xff;
		break;
	case REG_EOI:
		if (v)
			return -1; /* x2APIC: a non-zero EOI write is a #GP */
		eoi(a);
		break;
	case REG_SVR:
		a->svr = v & 0x11ff;
		if (!(a->svr & 0x100)) { /* software disable masks every LVT entry */
			a->lvt_timer |= LVT_MASKED;
			a->lvt_thermal |= LVT_MASKED;
			a->lvt_pmc |= LVT_MASKED;
			a->lvt_lint0 |= LVT_MASKED;
			a->lvt_lint1 |= LVT_MASKED;
			a->lvt_error |= LVT_MASKED;
		}
		break;
	case REG_ESR:
		if (v)
			return -1; /* x2APIC: ESR writes must be 0 */
		a->esr = a->esr_pending; /* the errors since the last write */
		a->esr_pending = 0;
		break;
	case REG_LVT_CMCI:
		break;
	case REG_ICR:
		icr_write(a, value);
		break;
	case REG_LVT_TIMER: {
		unsigned old_mode = LVT_TIMER_MODE(a->lvt_timer);
		a->lvt_timer = v & 0x700ff;
		if (LVT_TIMER_MODE(a->lvt_timer) != old_mode) {
			/* Switching modes disarms the timer (SDM 10.5.4.1). */
			a->tsc_deadline = 0;
			a->tmict = 0;
			a->timer_due = 0;
		}
		break;
	}
	case REG_LVT_THERMAL:
		a->lvt_thermal = v & 0x107ff;
		break;
	case REG_LVT_PMC:
		a->lvt_pmc = v & 0x107ff;
		break;
	case REG_LVT_LINT0:
		a->lvt_lint0 = v & 0x1a7ff;
		break;
	case REG_LVT_LINT1:
		a->lvt_lint1 = v & 0x1a7ff;
		break;
	case REG_LVT_ERROR:
		a->lvt_error = v & 0x100ff;
		break;
	case REG_TMICT:
		if (LVT_TIMER_MODE(a->lvt_timer) == TIMER_DEADLINE)
			break; /* ignored in TSC-deadline mode */
		a->tmict = v;
		a->timer_start = a->now;
		timer_arm(a);
		break;
	case REG_TDCR:
		a->tdcr = v & 0xb;
		break;
	case REG_SELF_IPI:
		x2apic_raise(a, v & 0xff);
		break;
	default: /* ID, version, PPR, LDR, ISR/TMR/IRR, TMCCT: read-only in x2APIC mode */
		return -1;
	}
	return 0;
}

static int x2apic_mode(const struct x2apic *a)
{
	return (a->base_msr & 0x400) != 0;
}

int x2apic_is_x2apic(const struct x2apic *a)
{
	return x2apic_mode(a);
}

int x2apic_mmio_read(struct x2apic *a, uint64_t offset, uint32_t *value)
{
	uint64_t v;

	if (x2apic_mode(a) || offset >= APIC_MMIO_SIZE || (offset & 0xf))
		return -1;
	if (offset == 0x20) { /* ID: bits 31:24 in xAPIC mode */
		*value = a->id << 24;
		return 0;
	}
	if (offset == 0x310) {
		*value = a->icr_high;
		return 0;
	}
	if (x2apic_msr_read(a, 0x800 + (uint32_t)(offset >> 4), &v))
		v = 0; /* write-only or reserved: reads as 0 over MMIO */
	*value = (uint32_t)v;
	return 0;
}

int x2apic_mmio_write(struct x2apic *a, uint64_t offset, uint32_t value)
{
	uint32_t r = (uint32_t)(offset >> 4);

	if (x2apic_mode(a) || offset >= APIC_MMIO_SIZE || (offset & 0xf))
		return -1;
	if (r == REG_EOI || r == REG_ESR)
		value = 0; /* any value acknowledges / loads ESR in xAPIC mode */
	if (r == REG_ICR + 1) {
		a->icr_high = value & 0xff000000u; /* the destination, sent by the ICR low write */
		return 0;
	}
	if (r == REG_ICR) {
		icr_write(a, value | (uint64_t)(a->icr_high >> 24) << 32);
		return 0;
	}
	x2apic_msr_write(a, 0x800 + r, value); /* read-only registers ignore writes over MMIO */
	return 0;
}

/* The bus handlers (bus.h): the MSRs, and the xAPIC page's 32-bit registers. */
static int x2apic_msr(void *dev, uint64_t index, unsigned size, int write, uint64_t *value)
{
	if (current_apic)
		dev = current_apic();
	return write ? x2apic_msr_write(dev, (uint32_t)index, *value)
		     : x2apic_msr_read(dev, (uint32_t)index, value);
}

static int x2apic_mmio(void *dev, uint64_t gpa, unsigned size, int write, uint64_t *value)
{
	uint32_t v = (uint32_t)*value;

	if (current_apic)
		dev = current_apic();
	if (size != 4)
		return -1;
	if (write)
		return x2apic_mmio_write(dev, gpa - APIC_MMIO_BASE, v);
	if (x2apic_mmio_read(dev, gpa - APIC_MMIO_BASE, &v))
		return -1;
	*value = v;
	return 0;
}

int x2apic_register(struct x2apic *a, struct bus *b)
{
	return bus_register(b, BUS_MSR, APIC_BASE_MSR, 1, x2apic_msr, a) |
	       bus_register(b, BUS_MSR, APIC_TSC_DEADLINE_MSR, 1, x2apic_msr, a) |
	       bus_register(b, BUS_MSR, APIC_PV_EOI_MSR, 1, x2apic_msr, a) |
	       bus_register(b, BUS_MSR, 0x800, 0x100, x2apic_msr, a) |
	       bus_register(b, BUS_MMIO, APIC_MMIO_BASE, APIC_MMIO_SIZE, x2apic_mmio, a);
}
