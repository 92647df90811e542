// SPDX-License-Identifier: MIT
/*
 * The vCPUs of a multi-vCPU machine: one VMM thread each, their local APICs, and the IPIs
 * between them. An IPI is emulated on the sender's thread, under the bus lock: the ICR write
 * exit routes it (ipi.c), sets the vector in each target's IRR (or changes its state, for
 * INIT and SIPI), and kicks every target that is another thread's vCPU (DYAD_VCPU_KICK): the
 * target's RUN returns DYAD_EXIT_KICK, from guest mode or from a HLT sleep, and its loop
 * injects the interrupt before its next entry. No signals are involved.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ipi.h"
#include "vcpu_thread.h"
#include "vmm.h"

__thread struct vcpu_ctx *vcpu_self;

void vcpu_notify(struct vcpu_ctx *vc)
{
	if (vc == vcpu_self)
		return;
	if (vc->state == VCPU_RUNNING) {
		vc->kicks_received++;
		vc->mach->ipi_kicks++;
		ioctl(vc->fd, DYAD_VCPU_KICK, 0);
	} else {
		pthread_cond_signal(&vc->wake);
	}
}

static void apic_notify(void *ctx)
{
	vcpu_notify(ctx);
}

void machine_end(struct machine *mach, int status)
{
	if (mach->ended)
		return;
	mach->ended = 1;
	mach->end_status = status;
	for (unsigned i = 0; i < mach->opt.ncpus; i++)
		vcpu_notify(&mach->vcpus[i]);
}

static struct x2apic *current_apic(void)
{
	return vcpu_self ? vcpu_self->apic : NULL;
}

/* An AP's APIC after reset or INIT: xAPIC mode, its ID, this machine's hooks. */
static void ap_apic_reset(struct vcpu_ctx *vc);

/*
 * An NMI IPI: the kernel holds it and delivers it at the target's next entry, whatever its
 * thread is doing (DYAD_VCPU_NMI brings it out of guest mode or a HLT sleep, without a kick
 * exit). A vCPU parked on "cli; hlt" wakes past its HLT, as a CPU does; one waiting for SIPI
 * takes no NMI.
 */
static void deliver_nmi(struct machine *mach, struct vcpu_ctx *from, struct vcpu_ctx *to)
{
	if (to->state == VCPU_PARKED) {
		to->run->regs.rip += to->run->insn_len;
		to->state = VCPU_RUNNING;
		pthread_cond_signal(&to->wake);
	} else if (to->state != VCPU_RUNNING) {
		mach->ipi_nmi_dropped++;
		return;
	}
	if (ioctl(to->fd, DYAD_VCPU_NMI, 0) < 0) {
		if (!mach->ipi_nmi_dropped++)
			vmm_log("vCPU %u sent an NMI IPI to vCPU %u: %s, dropped", from->id, to->id,
				strerror(errno));
		return;
	}
	mach->ipi_nmis++;
}

static void deliver(struct machine *mach, struct vcpu_ctx *from, struct vcpu_ctx *to, uint32_t low)
{
	switch (ICR_MODE(low)) {
	case ICR_DM_FIXED:
	case ICR_DM_LOWEST:
		to->ipis_received++;
		x2apic_raise(to->apic, (int)ICR_VECTOR(low)); /* notifies its thread */
		break;
	case ICR_DM_INIT:
		if (!ICR_LEVEL_ASSERT(low))
			break; /* INIT level de-assert: an old synchronisation, no effect */
		if (to->id == 0 || to == from) {
			vmm_log("vCPU %u sent INIT to %s: ignored", from->id,
				to == from ? "itself" : "the bootstrap processor");
			mach->ipi_ignored++;
			break;
		}
		mach->inits++;
		ap_apic_reset(to);
		if (to->state == VCPU_RUNNING)
			ioctl(to->fd, DYAD_VCPU_KICK, 0); /* out of the guest, to wait for SIPI */
		to->state = VCPU_WAIT_SIPI;
		pthread_cond_signal(&to->wake);
		break;
	case ICR_DM_SIPI:
		if (to->state != VCPU_WAIT_SIPI)
			break; /* a SIPI outside wait-for-SIPI is ignored (SDM 8.4.4.1) */
		mach->sipis++;
		to->sipi_vector = (uint8_t)ICR_VECTOR(low);
		to->state = VCPU_STARTING;
		pthread_cond_signal(&to->wake);
		break;
	case ICR_DM_NMI:
		deliver_nmi(mach, from, to);
		break;
	default:
		mach->ipi_ignored++;
	}
}

/* The ICR write of @a (the calling vCPU's APIC): route, deliver, kick. Bus lock held. */
static void send_ipi(void *ctx, struct x2apic *a, uint32_t low, uint32_t dest)
{
	struct machine *mach = ctx;
	struct ipi_cpu cpus[IPI_MAX_CPUS];
	unsigned n = mach->opt.ncpus, self = a->id;

	for (unsigned i = 0; i < n; i++)
		cpus[i] = (struct ipi_cpu){ .id = mach->vcpus[i].apic->id,
					    .ldr = mach->vcpus[i].apic->ldr };
	uint64_t set = ipi_targets(cpus, n, self, low, dest, x2apic_is_x2apic(a));
	mach->ipis++;
	if (!set && !ICR_SHORTHAND(low) && ICR_MODE(low) != ICR_DM_INIT) {
		if (mach->ipi_ignored++ < 8)
			vmm_log("vCPU %u sent an IPI (ICR %#x) to destination %#x: no such CPU",
				self, low, dest);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		if (set & (1ULL << i))
			deliver(mach, &mach->vcpus[self], &mach->vcpus[i], low);
}

static void apic_hooks(struct machine *mach, struct vcpu_ctx *vc)
{
	vc->apic->send_ipi = send_ipi;
	vc->apic->ipi_ctx = mach;
	vc->apic->notify = apic_notify;
	vc->apic->notify_ctx = vc;
}

static void ap_apic_reset(struct vcpu_ctx *vc)
{
	struct x2apic *bsp = &vc->mach->apic;

	x2apic_init(vc->apic, vc->mach->tsc_khz, NULL); /* LINT0 ExtINT is the BSP's alone */
	x2apic_set_id(vc->apic, vc->id);
	vc->apic->eoi_broadcast = bsp->eoi_broadcast;
	vc->apic->eoi_ctx = bsp->eoi_ctx;
	apic_hooks(vc->mach, vc);
}

int vcpus_create(struct machine *mach)
{
	unsigned n = mach->opt.ncpus;

	mach->vcpus = calloc(n, sizeof(*mach->vcpus));
	if (!mach->vcpus || n > IPI_MAX_CPUS) {
		vmm_log("cannot hold %u vCPUs", n);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vcpu_ctx *vc = &mach->vcpus[i];

		*vc = (struct vcpu_ctx){
			.mach = mach, .id = i, .state = VCPU_WAIT_SIPI, .held_vector = -1
		};
		pthread_cond_init(&vc->wake, NULL);
		if (i == 0) {
			vc->fd = mach->vcpu_fd;
			vc->run = mach->run;
			vc->apic = &mach->apic;
			vc->state = VCPU_RUNNING;
			x2apic_set_id(vc->apic, 0);
			apic_hooks(mach, vc); /* one vCPU too: its self-NMI goes through send_ipi */
			continue;
		}
		vc->fd = ioctl(mach->vm_fd, DYAD_VM_CREATE_VCPU, 0);
		if (vc->fd < 0) {
			vmm_log("cannot create vCPU %u: %s", i, strerror(errno));
			return -1;
		}
		void *p = mmap(NULL, DYAD_RUN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, vc->fd, 0);
		if (p == MAP_FAILED) {
			vmm_log("cannot map vCPU %u's run page: %s", i, strerror(errno));
			return -1;
		}
		vc->run = p;
		vc->apic = &vc->own_apic;
		ap_apic_reset(vc);
	}
	pthread_mutex_init(&mach->lock, NULL);
	if (n > 1)
		x2apic_set_selector(current_apic);
	vcpu_self = &mach->vcpus[0];
	return 0;
}

/* Real mode at the SIPI vector's page: CS = vector << 8, IP 0 (SDM 8.4.4.1). */
static int ap_load_sipi_state(struct vcpu_ctx *vc)
{
	struct dyad_sregs s;

	if (ioctl(vc->fd, DYAD_VCPU_GET_SREGS, &s) < 0)
		return -1;
	struct dyad_segment data = { .limit = 0xffff, .type = 0x3, .s = 1, .present = 1 };
	s.cs = (struct dyad_segment){ .base = (unsigned long)vc->sipi_vector << 12,
				      .limit = 0xffff,
				      .selector = (unsigned short)(vc->sipi_vector << 8),
				      .type = 0xb,
				      .s = 1,
				      .present = 1 };
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct dyad_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s.ldt = (struct dyad_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	s.gdt = s.idt = (struct dyad_dtable){ .base = 0, .limit = 0xffff };
	s.cr0 = 0x60000010; /* CD, NW, ET: the reset value */
	s.cr2 = s.cr3 = s.cr4 = s.cr8 = 0;
	s.efer = 0;
	if (ioctl(vc->fd, DYAD_VCPU_SET_SREGS, &s) < 0)
		return -1;
	memset(&vc->run->regs, 0, sizeof(vc->run->regs));
	vc->run->regs.rflags = 0x2;
	vc->run->regs.rdx = 0x600; /* a family-6 signature, as after reset */
	vc->run->inject.pending = 0;
	vc->held_vector = -1; /* INIT reset the APIC that had it in service */
	return 0;
}

int vcpu_wait_start(struct vcpu_ctx *vc)
{
	struct machine *mach = vc->mach;

	while (!mach->ended && vc->state != VCPU_RUNNING) {
		if (vc->state == VCPU_STARTING) {
			if (ap_load_sipi_state(vc)) {
				vmm_log("vCPU %u: the kernel refused the SIPI state: %s", vc->id,
					strerror(errno));
				machine_end(mach, VMM_EXIT_ERROR);
				break;
			}
			vc->state = VCPU_RUNNING;
			break;
		}
		pthread_cond_wait(&vc->wake, &mach->lock);
	}
	return !mach->ended;
}

static void *ap_main(void *arg)
{
	struct vcpu_ctx *vc = arg;

	vcpu_self = vc;
	pthread_mutex_lock(&vc->mach->lock);
	int status = vcpu_run_loop(vc);
	machine_end(vc->mach, status);
	pthread_mutex_unlock(&vc->mach->lock);
	return NULL;
}

int vcpus_start(struct machine *mach)
{
	for (unsigned i = 1; i < mach->opt.ncpus; i++) {
		int e = pthread_create(&mach->vcpus[i].thread, NULL, ap_main, &mach->vcpus[i]);
		if (e) {
			vmm_log("cannot start the thread of vCPU %u: %s", i, strerror(e));
			return -1;
		}
	}
	return 0;
}
