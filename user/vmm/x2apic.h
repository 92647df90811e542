/* SPDX-License-Identifier: MIT */
#ifndef VMM_X2APIC_H
#define VMM_X2APIC_H

#include <stdint.h>

#include "bus.h"

struct pic;

/* The timer's input clock: CPUID 0x15 reports it as the "core crystal" (Linux sets its LAPIC
 * timer period from it). The TSC is tsc_khz: TSC = crystal * tsc_khz / APIC_CRYSTAL_KHZ. */
#define APIC_CRYSTAL_KHZ 25000
/*
 * The shortest period of the periodic timer, as KVM's min_timer_period_us: a guest asking for
 * less gets this. Each period is a deadline exit; one shorter than the VMM's own round trip
 * would be past before the vCPU entered again, and the guest would never run.
 */
#define APIC_MIN_PERIOD_US 200

#define APIC_BASE_MSR 0x1b
#define APIC_TSC_DEADLINE_MSR 0x6e0
#define APIC_BASE_X2APIC 0xfee00d00ULL /* BSP, x2APIC and xAPIC enabled: "enabled by BIOS" */
#define APIC_BASE_XAPIC 0xfee00900ULL /* BSP, xAPIC enabled: what the guest starts with */
#define APIC_MMIO_BASE 0xfee00000ULL
#define APIC_MMIO_SIZE 0x1000
/*
 * KVM's paravirtual EOI (CPUID 0x40000001 EAX bit 6, KVM_FEATURE_PV_EOI): the guest names a
 * naturally aligned word of its RAM in this MSR (bit 0: enabled). When the VMM sets bit 0 of
 * that word, the guest's next EOI may clear the bit instead of writing the EOI register, and the
 * VMM performs the EOI when it next sees the bit clear.
 */
#define APIC_PV_EOI_MSR 0x4b564d04
#define APIC_PV_EOI_ENABLED 1ULL

/* A local APIC in x2APIC mode, its registers by x2APIC MSR offset (MSR 0x800 + offset). */
struct x2apic {
	uint64_t base_msr;
	uint32_t id; /* APIC ID: the vCPU's number; 0 is the bootstrap processor */
	uint32_t tpr, svr, ldr, icr_low;
	uint32_t icr_high; /* xAPIC mode: the destination in bits 31:24 */
	uint32_t esr, esr_pending; /* ESR as last loaded; errors since (SDM 10.5.3) */
	uint32_t lvt_timer, lvt_thermal, lvt_pmc, lvt_lint0, lvt_lint1, lvt_error;
	uint32_t tmict, tdcr;
	uint32_t irr[8], isr[8], tmr[8]; /* TMR: accepted level-triggered, EOI is broadcast */
	uint64_t tsc_deadline; /* TSC-deadline mode: IA32_TSC_DEADLINE, 0 disarmed */
	uint64_t timer_start, timer_period; /* one-shot/periodic: TSC at arming, period in TSC */
	uint64_t timer_due; /* TSC at which the timer fires next; 0 disarmed */
	uint64_t tsc_khz;
	uint64_t now; /* the TSC of the access being emulated (set by the caller) */
	struct pic *pic; /* behind LINT0 when it is programmed ExtINT */
	/* The EOI of a level-triggered vector, broadcast to the I/O APIC(s); may be NULL. */
	void (*eoi_broadcast)(void *ctx, int vector);
	void *eoi_ctx;
	/*
	 * Multi-vCPU machines (NULL: a lone APIC, which reaches only itself): every ICR write
	 * with a legal vector goes to send_ipi; notify(notify_ctx) follows every new IRR bit, so
	 * the thread of the vCPU that owns this APIC can be kicked.
	 */
	void (*send_ipi)(void *ctx, struct x2apic *from, uint32_t low, uint32_t dest);
	void *ipi_ctx;
	void (*notify)(void *ctx);
	void *notify_ctx;
	/*
	 * PV EOI: the MSR as the guest wrote it, the byte holding bit 0 of its word (NULL:
	 * disabled), and whether the VMM set that bit for the ISR's one vector before the last
	 * entry (x2apic_pv_eoi_enter / _exit).
	 */
	uint64_t pv_eoi_msr;
	uint8_t *pv_eoi_flag;
	int pv_eoi_armed;
	unsigned long timer_fired, extint_delivered;
	unsigned long pv_eois; /* EOIs the guest made by clearing the flag: no exit */
	unsigned long illegal_vectors; /* APIC sources given a vector below 16: logged in ESR */
	unsigned long extint_below_16; /* 8259 requests left pending: vector below 16 */
};

/*
 * An APIC as firmware leaves it: xAPIC mode, virtual wire (LINT0 ExtINT, LINT1 NMI, enabled).
 * Linux 6.1 reads the APIC ID over MMIO while it parses the MADT whatever the mode (with
 * x2APIC already on it has no mapping for the page and faults), then switches to x2APIC itself.
 */
void x2apic_init(struct x2apic *a, uint64_t tsc_khz, struct pic *pic);
/* Makes @a the local APIC of CPU @id: its ID, its x2APIC LDR, the BSP flag only for 0. */
void x2apic_set_id(struct x2apic *a, uint32_t id);
/*
 * With several APICs on one bus: @current() names the APIC of the CPU whose access is being
 * emulated (the MSRs and the xAPIC page are per CPU at one address). NULL: the registered one.
 */
void x2apic_set_selector(struct x2apic *(*current)(void));
/*
 * The guest RAM in which every APIC of the machine finds its PV EOI word (NULL, the start:
 * writes enabling PV EOI are refused with #GP).
 */
void x2apic_set_guest_ram(const struct guest_ram *ram);
/*
 * Before an entry of @a's vCPU: with PV EOI enabled, sets the guest's flag when the EOI the
 * guest makes next may be skipped, i.e. exactly one vector is in service, it was accepted
 * edge-triggered (a level one's EOI must reach the I/O APIC at once) and nothing waits in IRR
 * (whose delivery the EOI would otherwise have to trigger without an exit).
 */
void x2apic_pv_eoi_enter(struct x2apic *a);
/*
 * After an exit of @a's vCPU, before the exit is handled: if the flag set by the last
 * x2apic_pv_eoi_enter() is clear, the guest made that EOI and the APIC performs it now; if it is
 * still set, the VMM takes it back, so that the guest's EOI writes the register again.
 */
void x2apic_pv_eoi_exit(struct x2apic *a);
/* Whether @a is in x2APIC mode. */
int x2apic_is_x2apic(const struct x2apic *a);
/*
 * Registers IA32_APIC_BASE, IA32_TSC_DEADLINE, the x2APIC range 0x800-0x8ff, the PV EOI MSR
 * and the xAPIC page at APIC_MMIO_BASE (32-bit accesses only; any other size is refused).
 */
int x2apic_register(struct x2apic *a, struct bus *b);
/* Fires the timer if it is due at TSC @now. */
void x2apic_tick(struct x2apic *a, uint64_t now);
/* The TSC at which the timer fires next, or 0. */
uint64_t x2apic_next_deadline(const struct x2apic *a);
/*
 * The vector to inject now, or -1: a fixed interrupt above the processor priority (moved from
 * IRR to ISR), else the PIC's through LINT0 in ExtINT mode (acknowledged at the PIC). Never a
 * vector below 16: the APIC refuses them at their source (ESR), and an 8259 request with one
 * is left pending and counted in extint_below_16.
 */
int x2apic_take_interrupt(struct x2apic *a);
/* Sets @vector in IRR (self-IPI, timer, or any fixed-mode source), edge-triggered; a vector
 * below 16 is logged as "receive illegal vector" in ESR instead. */
void x2apic_raise(struct x2apic *a, int vector);
/*
 * Accepts a fixed interrupt @vector from the I/O APIC; @level sets its TMR bit, so that its EOI
 * is broadcast through eoi_broadcast.
 */
void x2apic_accept(struct x2apic *a, int vector, int level);

/*
 * The xAPIC page at APIC_MMIO_BASE (only in xAPIC mode): register offset / 16 is the x2APIC
 * register; the ID sits in bits 31:24. Returns 0, or -1 in x2APIC mode or for a bad offset.
 */
int x2apic_mmio_read(struct x2apic *a, uint64_t offset, uint32_t *value);
int x2apic_mmio_write(struct x2apic *a, uint64_t offset, uint32_t value);

#endif
