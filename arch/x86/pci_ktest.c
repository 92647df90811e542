// SPDX-License-Identifier: MIT
/*
 * Host PCI on the emulated machine: plain MSI, delivered to each online CPU in turn, against
 * QEMU's "edu" test device (-device edu: one MSI vector, 64-bit, and a register that raises an
 * interrupt), which the QEMU boots of `make check` attach. Without it (Bochs, a bare run) the
 * test skips.
 */
#include <arch/x86/asm.h>
#include <arch/x86/lapic.h>
#include <arch/x86/percpu.h>
#include <arch/x86/smp.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/ktest.h>
#include <dyad/pci.h>
#include <dyad/time.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_ID 0x00 /* 0xRRrr00ed: major, minor, "ed" */
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define WAIT_NS 2000000000ull /* TCG on a loaded machine: generous */

static volatile u32 *edu;
static volatile u64 edu_irqs;
static volatile unsigned edu_irq_cpu;

static void edu_irq(struct trap_frame *tf)
{
	(void)tf;
	edu_irq_cpu = this_cpu_id();
	edu[EDU_IRQ_ACK / 4] = edu[EDU_IRQ_STATUS / 4];
	__atomic_add_fetch(&edu_irqs, 1, __ATOMIC_RELEASE);
	lapic_eoi();
}

static struct pci_dev *find_edu(void)
{
	struct pci_dev *d;

	for (unsigned i = 0; (d = pci_dev_at(i)); i++)
		if (d->vendor == EDU_VENDOR && d->device == EDU_DEVICE && !d->claimed)
			return d;
	return NULL;
}

/* Raises the device's interrupt; true if one arrived (edu_irqs passed @before) in time. */
static bool raise_and_wait(u64 before, u64 wait_ns)
{
	u64 end = time_ns() + wait_ns;

	edu[EDU_IRQ_RAISE / 4] = 1;
	while (__atomic_load_n(&edu_irqs, __ATOMIC_ACQUIRE) == before)
		if (time_ns() > end)
			return false;
		else
			cpu_relax();
	return true;
}

KTEST(pci_msi_reaches_each_cpu)
{
	struct pci_dev *d = find_edu();
	unsigned cpu;

	if (!d)
		KT_SKIP(kt, "no MSI test device (QEMU without -device edu)");
	KT_ASSERT(kt, d->msi_cap, "the edu device has no MSI capability");
	d->claimed = true;
	edu = pci_bar_map(d, 0, 0, PAGE_SIZE);
	KT_ASSERT(kt, edu, "BAR 0 not mapped");
	KT_ASSERT(kt, (edu[EDU_ID / 4] & 0xff) == 0xed, "identification %#x", edu[EDU_ID / 4]);
	pci_enable(d); /* INTx off: only a message can interrupt */
	unsigned vector = pci_irq_vector_alloc(edu_irq);
	KT_ASSERT(kt, vector, "no free vector");

	for_each_cpu (cpu, smp_online_mask()) {
		if (percpu_of(cpu)->apic_id > 0xff)
			continue;
		u64 before = edu_irqs;
		KT_EXPECT(kt, pci_msi_route(d, vector, cpu) == 0, "route to CPU %u", cpu);
		KT_EXPECT(kt, raise_and_wait(before, WAIT_NS), "no interrupt for CPU %u", cpu);
		KT_EXPECT(kt, edu_irq_cpu == cpu, "routed to CPU %u, taken on CPU %u", cpu,
			  edu_irq_cpu);
	}
	KT_EXPECT(kt, pci_msi_route(d, vector, SMP_MAX_CPUS) == -EINVAL, "a CPU that is not");

	/* Disabled, the device's raise reaches no CPU. */
	pci_msi_disable(d);
	u64 before = edu_irqs;
	KT_EXPECT(kt, !raise_and_wait(before, 20000000), "an interrupt with MSI off");
	edu[EDU_IRQ_ACK / 4] = edu[EDU_IRQ_STATUS / 4];
	pci_irq_vector_free(vector);
	d->claimed = false;
}

/*
 * Where the firmware has an MCFG (QEMU's Q35), configuration goes through ECAM and reads what
 * mechanism 1 reads: the IDs, class and BARs of every function found.
 */
KTEST(pci_ecam_agrees_with_mechanism_1)
{
	struct pci_dev *d;

	if (!pci_ecam_windows())
		KT_SKIP(kt,
			"configuration mechanism 1 alone (no ACPI MCFG: the i440FX PC has none)");
	KT_ASSERT(kt, pci_dev_at(0), "no PCI function found");
	for (unsigned i = 0; (d = pci_dev_at(i)); i++)
		for (u16 off = 0; off < 0x28; off += 4)
			if (off != 0x04) /* command and status: status bits may change meanwhile */
				KT_EXPECT(kt, pci_cfg_read32(d, off) == pci_cfg1_read32(d, off),
					  "%02x:%02x.%x at %#x: ECAM %#x, mechanism 1 %#x", d->bus,
					  d->dev, d->fn, off, pci_cfg_read32(d, off),
					  pci_cfg1_read32(d, off));
}
