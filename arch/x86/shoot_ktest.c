// SPDX-License-Identifier: MIT
/*
 * In-kernel tests of the pair's TLB shootdown on several CPUs (pmap.h, SEVERAL CPUS).
 *
 * The stress test: every other CPU loads one test pmap and reads and writes its pages through
 * the real MMU, catching its own page faults, while the boot CPU maps, unmaps and protects
 * those pages at random. Each page's frame is stamped with the page's number in every word,
 * and a frame the test takes back is filled with MM_POISON and held in a quarantine before it
 * goes back to pmem. A CPU that reads a word without its page's number (a poisoned or a reused
 * frame), writes a frame after the unmap returned (the poison changed in quarantine), or
 * writes a page after protect made it read-only (its checksum changed) used a stale TLB entry:
 * each is counted and must be 0. Every shootdown function a CPU was sent must have run on it
 * exactly once. The seed is printed; shoot_seed=N on the command line replays the boot CPU's
 * sequence (the other CPUs' timing is the machine's).
 *
 * The run lasts SH_OPS operations or SH_TIME_NS, whichever ends first (at least SH_MIN_OPS).
 *
 * The cost test prints what one 4 KiB unmap costs while the address space is live on 1, 2 and
 * 4 CPUs, host side (the pmap loaded there) and guest side (CPUs that entered its guest)
 * apart, in TSC ticks.
 */
#include <arch/x86/asm.h>
#include <arch/x86/cpu.h>
#include <arch/x86/pmap.h>
#include <arch/x86/smp.h>
#include <arch/x86/svm.h>
#include <arch/x86/trap.h>
#include <dyad/bootinfo.h>
#include <dyad/ktest.h>
#include <dyad/mm.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/time.h>
#include <dyad/vcpu.h>

#define SH_VA 0x40000000ULL /* the test pages: SH_PAGES of them from here */
#define SH_PAGES 16
#define SH_OPS 4000 /* the boot CPU's operations per run, at most */
#define SH_MIN_OPS 300 /* ... and at least, even when SH_TIME_NS has passed */
#define SH_TIME_NS 1500000000ULL /* the run stops after this (other CPUs may be slow) */
#define SH_QUARANTINE 32 /* freed frames held (poisoned) before they go back to pmem */
#define SH_WAIT_NS 5000000000ULL

struct sh_ctx {
	struct pmap *pm;
	volatile bool stop;
	u32 started, finished;
	u64 reads, writes, faults, stale_reads;
};

/* One access, run under trap_catch(): the page may be gone at any moment. */
struct sh_access {
	u64 va, val;
	bool write;
};

static void sh_touch(void *arg)
{
	struct sh_access *a = arg;

	user_access_begin();
	if (a->write)
		*(volatile u64 *)a->va = a->val;
	else
		a->val = *(volatile u64 *)a->va;
	user_access_end();
}

static u64 sh_rng(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static u64 sh_stamp(unsigned page)
{
	return (u64)(page + 1) << 32;
}

/*
 * A worker, on another CPU from a call IPI: releases the caller at once and loops until told
 * to stop, taking the shootdown IPIs aimed at it by polling (its call vector stays in service).
 */
static void sh_worker(void *arg)
{
	struct sh_ctx *c = arg;
	unsigned cpu = this_cpu_id();
	u64 rng = 0x9e3779b97f4a7c15ULL * (cpu + 1), ctr = 0;
	u64 reads = 0, writes = 0, faults = 0, stale = 0;
	struct fault_info fi;

	smp_call_release();
	pmap_activate(c->pm);
	__atomic_fetch_add(&c->started, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		smp_call_poll();
		unsigned page = sh_rng(&rng) % SH_PAGES;
		struct sh_access a = {
			.va = SH_VA + page * PAGE_SIZE + (sh_rng(&rng) % 512) * 8,
			.write = sh_rng(&rng) % 4 == 0,
			.val = sh_stamp(page) | ((u64)cpu << 24) | (++ctr & 0xffffff),
		};
		if (trap_catch(sh_touch, &a, &fi)) {
			faults++;
			continue;
		}
		if (a.write) {
			writes++;
		} else {
			reads++;
			if ((a.val >> 32) != (u64)page + 1)
				stale++;
		}
	}
	pmap_activate(NULL);
	__atomic_fetch_add(&c->reads, reads, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->writes, writes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->faults, faults, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->stale_reads, stale, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->finished, 1, __ATOMIC_ACQ_REL);
}

/* Waits until *@n reaches @want; false after SH_WAIT_NS. */
static bool sh_wait(u32 *n, u32 want)
{
	u64 deadline = time_ns() + SH_WAIT_NS;

	while (__atomic_load_n(n, __ATOMIC_ACQUIRE) < want)
		if (time_ns() > deadline)
			return false;
	return true;
}

/* Starts sh_worker on every CPU of @mask (not this one); false if one did not start. */
static bool sh_start(struct sh_ctx *c, const cpumask_t *mask)
{
	unsigned n = cpumask_weight(mask);

	smp_call_mask(mask, sh_worker, c);
	return sh_wait(&c->started, n);
}

static void sh_noop(void *arg)
{
}

/* Stops the workers and waits until each is back in its idle loop. */
static bool sh_stop(struct sh_ctx *c, const cpumask_t *mask)
{
	bool ok;

	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	ok = sh_wait(&c->finished, cpumask_weight(mask));
	/* A call that each takes from its idle loop: the worker has returned everywhere. */
	if (ok)
		smp_call_mask(mask, sh_noop, NULL);
	return ok;
}

/* The other online CPUs, at most @max of them. */
static void sh_others(cpumask_t *m, unsigned max)
{
	unsigned cpu, self = this_cpu_id();

	cpumask_clear(m);
	for_each_cpu (cpu, smp_online_mask())
		if (cpu != self && cpumask_weight(m) < max)
			cpumask_set(m, cpu);
}

static u64 sh_seed(struct ktest_ctx *kt)
{
	const char *line = kernel_boot_info()->cmdline;

	for (const char *w = line; *w; w++) {
		if ((w == line || w[-1] == ' ') && !strncmp(w, "shoot_seed=", 11)) {
			u64 v = 0;
			const char *d = w + 11;
			bool hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X');

			for (d += hex ? 2 : 0; *d && *d != ' '; d++) {
				unsigned dig = *d >= '0' && *d <= '9'	? *d - '0'
					       : *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
					       : *d >= 'A' && *d <= 'F' ? *d - 'A' + 10
									: 99;
				if (dig >= (hex ? 16u : 10u)) {
					ktest_fail(kt, __FILE__, __LINE__,
						   "shoot_seed= is not a number");
					break;
				}
				v = v * (hex ? 16 : 10) + dig;
			}
			return v ? v : 1;
		}
	}
	return (rdtsc() * 0x9e3779b97f4a7c15ULL) | 1;
}

/* The boot CPU's view of one test page. */
struct sh_page {
	paddr_t pa; /* 0: unmapped */
	bool writable;
	u64 sum; /* read-only: the frame's checksum when it became read-only */
};

static u64 sh_sum(paddr_t pa)
{
	const u64 *w = pmem_va(pa);
	u64 s = 0;

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		s = s * 31 + w[i];
	return s;
}

static int sh_take_leaf(void *arg, const struct pmap_leaf *leaf)
{
	*(paddr_t *)arg = leaf->pa;
	return 0;
}

/* Returns a quarantined frame to pmem; counts the words a stale write changed. */
static u64 sh_release(paddr_t pa)
{
	const u64 *w = pmem_va(pa);
	u64 bad = 0;

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		bad += w[i] != MM_POISON;
	pmem_free(pa, 0);
	return bad;
}

KTEST(pmap_shootdown_stress_no_cpu_uses_a_stale_translation)
{
	struct pmap pm;
	struct sh_ctx c = { .pm = &pm };
	struct sh_page pages[SH_PAGES] = { 0 };
	paddr_t quarantine[SH_QUARANTINE] = { 0 };
	unsigned qhead = 0, cpu;
	u64 seed = sh_seed(kt), rng = seed, stale_writes = 0, ro_writes = 0, ops[3] = { 0 };
	u64 sent0[SMP_MAX_CPUS], ran0[SMP_MAX_CPUS];
	cpumask_t others;
	struct pmap_check_err e = { 0 };

	sh_others(&others, SMP_MAX_CPUS);
	if (!cpumask_weight(&others))
		KT_SKIP(kt, "one CPU online: no other CPU can hold a stale translation");
	printf("# pmap_shootdown_stress: seed %#lx (replay: shoot_seed=%#lx), %u other CPUs\n",
	       seed, seed, cpumask_weight(&others));
	KT_ASSERT(kt, pmap_create(&pm) == 0, "pmap_create: out of memory");
	for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
		sent0[cpu] = __atomic_load_n(&pmap_shootdowns.sent[cpu], __ATOMIC_RELAXED);
		ran0[cpu] = __atomic_load_n(&pmap_shootdowns.ran[cpu], __ATOMIC_RELAXED);
	}
	if (!sh_start(&c, &others)) {
		ktest_fail(kt, __FILE__, __LINE__, "a worker CPU did not start");
		sh_stop(&c, &others);
		pmap_destroy(&pm, NULL, NULL);
		return;
	}
	u64 end = time_ns() + SH_TIME_NS;
	unsigned nops = 0;

	for (; nops < SH_OPS && (nops < SH_MIN_OPS || time_ns() < end); nops++) {
		unsigned i = sh_rng(&rng) % SH_PAGES;
		struct sh_page *p = &pages[i];
		u64 va = SH_VA + i * PAGE_SIZE, kind = sh_rng(&rng) % 3;

		if (p->pa && !p->writable && sh_sum(p->pa) != p->sum)
			ro_writes++; /* written after protect to read-only returned */
		if (!p->pa) {
			paddr_t pa = pmem_alloc(0);
			u64 *w;

			if (!pa)
				break;
			w = pmem_va(pa);
			for (unsigned k = 0; k < PAGE_SIZE / 8; k++)
				w[k] = sh_stamp(i);
			p->writable = kind != 0;
			if (pmap_map(&pm, va, pa, PAGE_SIZE, p->writable ? PMAP_W : 0)) {
				pmem_free(pa, 0);
				break;
			}
			p->pa = pa;
			p->sum = sh_sum(pa);
			ops[0]++;
		} else if (kind == 0) {
			paddr_t pa = 0;

			pmap_unmap(&pm, va, PAGE_SIZE, sh_take_leaf, &pa);
			KT_EXPECT(kt, pa == p->pa, "unmap reported %#lx, mapped was %#lx", pa,
				  p->pa);
			/* Every CPU has flushed: no one may touch it from here on. */
			u64 *w = pmem_va(p->pa);
			for (unsigned k = 0; k < PAGE_SIZE / 8; k++)
				w[k] = MM_POISON;
			if (quarantine[qhead])
				stale_writes += sh_release(quarantine[qhead]);
			quarantine[qhead] = p->pa;
			qhead = (qhead + 1) % SH_QUARANTINE;
			p->pa = 0;
			ops[1]++;
		} else {
			p->writable = !p->writable;
			pmap_protect(&pm, va, PAGE_SIZE, p->writable ? PMAP_W : 0);
			p->sum = sh_sum(p->pa);
			ops[2]++;
		}
	}
	if (!sh_stop(&c, &others))
		ktest_fail(kt, __FILE__, __LINE__, "a worker CPU did not stop");
	for (unsigned i = 0; i < SH_PAGES; i++)
		if (pages[i].pa && !pages[i].writable && sh_sum(pages[i].pa) != pages[i].sum)
			ro_writes++;
	if (pmap_check(&pm, &e))
		ktest_fail(kt, __FILE__, __LINE__, "pmap_check: %s at va %#llx level %u", e.what,
			   (unsigned long long)e.va, e.lvl);
	pmap_unmap(&pm, SH_VA, SH_PAGES * PAGE_SIZE, NULL, NULL);
	for (unsigned i = 0; i < SH_PAGES; i++)
		if (pages[i].pa)
			pmem_free(pages[i].pa, 0);
	for (unsigned q = 0; q < SH_QUARANTINE; q++)
		if (quarantine[q])
			stale_writes += sh_release(quarantine[q]);
	pmap_destroy(&pm, NULL, NULL);

	printf("# pmap_shootdown_stress: %lu maps, %lu unmaps, %lu protects; other CPUs: %lu "
	       "reads, %lu writes, %lu faults caught\n",
	       ops[0], ops[1], ops[2], c.reads, c.writes, c.faults);
	KT_EXPECT(kt, ops[0] + ops[1] + ops[2] == nops, "only %lu of %u operations ran",
		  ops[0] + ops[1] + ops[2], nops);
	KT_EXPECT(kt, c.stale_reads == 0, "%lu reads saw a frame the page no longer owns",
		  c.stale_reads);
	KT_EXPECT(kt, stale_writes == 0, "%lu words of freed frames were written after unmap",
		  stale_writes);
	KT_EXPECT(kt, ro_writes == 0, "%lu read-only pages were written after protect",
		  ro_writes);
	KT_EXPECT(kt, c.reads + c.writes > 0 && c.faults > 0,
		  "the other CPUs did not race the changes (%lu accesses, %lu faults)",
		  c.reads + c.writes, c.faults);
	for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
		u64 sent = pmap_shootdowns.sent[cpu] - sent0[cpu];
		u64 ran = pmap_shootdowns.ran[cpu] - ran0[cpu];

		KT_EXPECT(kt, sent == ran, "CPU %u was sent %lu shootdowns and ran %lu", cpu, sent,
			  ran);
	}
}

/* Cycles of one 4 KiB unmap measured per configuration. */
#define COST_ROUNDS 100

static void sh_load(void *arg)
{
	pmap_activate(arg);
}

/*
 * The mean TSC ticks of pmap_unmap() of one 4 KiB page of @pm while it is live on this CPU and
 * on @others: host side, the pmap loaded there (they sit in their idle loop with it in CR3,
 * and the shootdown IPI wakes them); guest side (@guest, a guest-visible page), they entered
 * its guest since the last flush (their guest_cpus bits set again before each unmap, as a
 * vCPU's next entry would) and the pmap is loaded nowhere.
 */
static u64 sh_unmap_cost(struct ktest_ctx *kt, struct pmap *pm, const cpumask_t *others,
			 bool guest)
{
	paddr_t pa = pmem_alloc(0);
	u64 total = 0;
	unsigned cpu;

	if (!pa) {
		ktest_fail(kt, __FILE__, __LINE__, "out of memory");
		return 0;
	}
	if (!guest) {
		smp_call_mask(others, sh_load, pm);
		pmap_activate(pm);
	}
	/* A second page keeps the tables: each unmap removes one leaf, never a table. */
	pmap_map(pm, SH_VA + PAGE_SIZE, pa, PAGE_SIZE, 0);
	for (unsigned r = 0; r < COST_ROUNDS; r++) {
		u64 t0, t1;

		pmap_map(pm, SH_VA, pa, PAGE_SIZE, PMAP_W | (guest ? PMAP_VISIBLE : 0));
		if (guest) {
			pmap_guest_enter(pm, this_cpu_id());
			for_each_cpu (cpu, others)
				pmap_guest_enter(pm, cpu);
		}
		t0 = rdtsc();
		pmap_unmap(pm, SH_VA, PAGE_SIZE, NULL, NULL);
		t1 = rdtsc();
		total += t1 - t0;
	}
	pmap_unmap(pm, SH_VA + PAGE_SIZE, PAGE_SIZE, NULL, NULL);
	if (!guest) {
		pmap_activate(NULL);
		smp_call_mask(others, sh_load, NULL);
	}
	pmem_free(pa, 0);
	return total / COST_ROUNDS;
}

KTEST(pmap_shootdown_cost_on_1_2_4_cpus)
{
	static const unsigned counts[] = { 1, 2, 4 };
	struct pmap pm;
	cpumask_t others;

	bool vm_on = false;
	paddr_t pa;
	u64 held = 0;

	KT_ASSERT(kt, pmap_create(&pm) == 0, "pmap_create: out of memory");
	/* With VMX or SVM on on every CPU, as while a VM exists: INVEPT runs where VMX is on. */
	if (vcpu_backend && vcpu_backend->enable() == 0)
		vm_on = true;
	pmap_guest_root(&pm);
	/* The fault path's hold of the pmap's lock: pmap_map_page() of 4 KiB, nearly all of it. */
	pa = pmem_alloc(0);
	KT_ASSERT(kt, pa, "out of memory");
	pmap_map(&pm, SH_VA + PAGE_SIZE, pa, PAGE_SIZE, 0); /* the tables exist, as mostly */
	for (unsigned r = 0; r < COST_ROUNDS; r++) {
		u64 t0 = rdtsc();

		pmap_map_page(&pm, SH_VA, pa, PAGE_SIZE, PMAP_W);
		held += rdtsc() - t0;
		pmap_unmap(&pm, SH_VA, PAGE_SIZE, NULL, NULL);
	}
	pmap_unmap(&pm, SH_VA + PAGE_SIZE, PAGE_SIZE, NULL, NULL);
	pmem_free(pa, 0);
	printf("# fault path: pmap_map_page() of 4 KiB, the pmap's lock held for nearly all of it: "
	       "%lu TSC ticks\n",
	       held / COST_ROUNDS);
	for (unsigned i = 0; i < ARRAY_SIZE(counts); i++) {
		if (counts[i] > smp_cpus_online())
			break;
		sh_others(&others, counts[i] - 1);
		u64 host = sh_unmap_cost(kt, &pm, &others, false);
		u64 guest = sh_unmap_cost(kt, &pm, &others, true);

		printf("# shootdown cost: one 4 KiB unmap, address space live on %u CPU%s: host "
		       "side %lu TSC ticks, guest side %lu TSC ticks\n",
		       counts[i], counts[i] == 1 ? "" : "s", host, guest);
	}
	pmap_guest_detach(&pm);
	pmap_destroy(&pm, NULL, NULL);
	if (vm_on)
		vcpu_backend->disable();
}

static void count_svme(void *arg)
{
	if (rdmsr(MSR_EFER) & EFER_SVME)
		__atomic_fetch_add((unsigned *)arg, 1, __ATOMIC_RELAXED);
}

/* SVM's share of "every CPU may enter a guest": EFER.SVME on all of them, then on none. */
KTEST(svm_every_cpu_enables_svm)
{
	unsigned on = 0, off = 0;
	int err;

	if (vcpu_backend != &svm_backend)
		KT_SKIP(kt, "no SVM");
	err = svm_backend.enable();
	KT_ASSERT(kt, err == 0, "enable: %d", err);
	smp_call_mask(smp_online_mask(), count_svme, &on);
	svm_backend.disable();
	smp_call_mask(smp_online_mask(), count_svme, &off);
	KT_EXPECT(kt, on == smp_cpus_online(), "%u of %u CPUs have EFER.SVME", on,
		  smp_cpus_online());
	KT_EXPECT(kt, off == 0, "%u CPUs still have EFER.SVME after the last disable", off);
}
