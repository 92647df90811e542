// SPDX-License-Identifier: MIT
/*
 * The page-table pair: a KPT and a second-stage table (EPT or NPT) kept in lockstep, one pair
 * of 4 KiB pages per table. The invariant, the level table and the odd half's formats are in
 * include/arch/x86/pmap.h; read that first.
 *
 * Structure of this file:
 *   pair_*    allocating pairs, and pair_write(), the only writer of entries;
 *   flush_*   gathering the TLB work of one operation (host and guest) and doing it once at
 *             the end;
 *   walk_*    the one generic walker over the level table, and the slot functions that give
 *             map, unmap, protect, iterate, clear_ad, lookup and check their meaning;
 *   pmap_*    the API: validate, lock, walk, flush, (debug) check, unlock.
 *
 * Failure atomicity. map allocates tables as it goes; if a pair or the address range is not
 * available it unmaps what it mapped and the walker frees the tables it created, so the tables
 * end exactly as before. unmap and protect can only need pairs to split the jumbos that the two
 * ends of the range cut (per end: a 1G jumbo, then the 2M piece of it the end falls in); they
 * count those with a probe of both ends and allocate them before touching anything.
 *
 * Locking. pm->lock guards both halves of every pair and the counters. The CPU and the
 * second-stage walker set A/D bits concurrently, so every store is an atomic exchange (see
 * pair_write).
 */
#include <arch/x86/cpu.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/tlb.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/string.h>

/* A range needing more invlpg than this gets one full flush instead. */
#define FLUSH_MAX 32
/* Removed leaves reported per shootdown: a longer unmap flushes once per batch. */
#define FLUSH_LEAVES 64
/* Pairs a range edit may need: two cut ends, each splitting a 1G and then a 2M jumbo. */
#define SPLIT_MAX (2 * (PMAP_LEVELS - 2))

/* Results of a slot function besides negative errors. */
#define WALK_NEXT 0
#define WALK_DESCEND 1
#define WALK_STOP (-4096) /* a callback asked to stop; its value is in walk.ret */

struct pmap *pmap_current_cpu[SMP_MAX_CPUS];
struct pmap_shootdown_stats pmap_shootdowns;
const struct pmap_format *pmap_boot_format = &pmap_format_ept;
static const kpte_t *kernel_master;
static paddr_t kernel_master_pa;
static bool vmx_on[SMP_MAX_CPUS]; /* pmap_vmx_operation(), per CPU: INVEPT is legal there */

/*
 * pm->lock, taken by spinning: a CPU waiting here runs the call IPIs aimed at it, so the
 * holder's shootdown (which waits for every target) finishes even when this CPU spins with
 * interrupts off (a page fault).
 */
static void pmap_lock(struct pmap *pm)
{
	while (__atomic_exchange_n(&pm->lock.locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&pm->lock.locked, __ATOMIC_RELAXED)) {
			pmap_arch_poll();
			__builtin_ia32_pause();
		}
}

/* ---- pairs ----------------------------------------------------------------------------- */

/* Returns a zeroed pair counted in @pm, or 0. */
static paddr_t pair_alloc(struct pmap *pm)
{
	paddr_t pa = pmem_alloc_zeroed(PMAP_PAIR_ORDER);

	if (pa) {
		pm->nr_pairs++;
		pm->pair_sum += pa;
		pm->pair_sq += pa * pa;
	}
	return pa;
}

/* Uncounts @pa; the caller frees it (at once if no walker ever saw it, else pair_retire). */
static void pair_uncount(struct pmap *pm, paddr_t pa)
{
	pm->nr_pairs--;
	pm->pair_sum -= pa;
	pm->pair_sq -= pa * pa;
}

/* Frees a pair that was never linked into the tables: no TLB can hold it. */
static void pair_free(struct pmap *pm, paddr_t pa)
{
	pair_uncount(pm, pa);
	pmem_free(pa, PMAP_PAIR_ORDER);
}

struct flush;
static void flush_guest(struct flush *f);
static void pair_retire(struct pmap *pm, struct flush *f, paddr_t pa);

/*
 * True when replacing odd entry @old by @new (format @f) takes something away that a guest
 * TLB may hold: a right, the frame or table it pointed at, or an A/D bit the walker would not
 * set again while it caches the entry.
 */
static bool odd_takes_away(const struct pmap_format *f, opte_t old, opte_t new)
{
	return odd_present(f, old) &&
	       ((old & (f->rights | odd_ad(f)) & ~new) || ((old ^ new) & PTE_ADDR_4K));
}

/*
 * THE writer: stores @val in the KPTE at @kp and odd_from_kpte(pm->fmt, @val, @lvl) in its
 * odd-half entry. A/D bits that hardware set in the old entries and that @keep (a subset of
 * KPTE_AD) names are carried into the new ones when they are present. Each half is swapped
 * atomically, so the returned old KPTE, with the old odd entry's A/D OR'd in, holds every A/D
 * bit set before the swap: a D bit is either returned or still in the table, never lost.
 * When the odd entry loses something a guest TLB may cache, @f (may be NULL where nothing
 * present is replaced) records that the guest's TLB needs a flush.
 * Always inlined: each caller's constant @keep and @f fold away (make bench: a 4 KiB fault-in
 * costs 269 instructions instead of 314 with a call).
 */
static inline __attribute__((always_inline)) kpte_t
pair_write(struct pmap *pm, kpte_t *kp, unsigned lvl, kpte_t val, kpte_t keep, struct flush *f)
{
	const struct pmap_format *fmt = pm->fmt;
	opte_t *op = kpte_to_odd(kp);
	opte_t e = odd_from_kpte(fmt, val, lvl);
	kpte_t old_k;
	opte_t old_e;

	if (keep && val) {
		old_k = __atomic_load_n(kp, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(kp, &old_k, val | (old_k & keep), false,
						    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			;
	} else {
		old_k = __atomic_exchange_n(kp, val, __ATOMIC_SEQ_CST);
	}
	if (keep && e) {
		opte_t okeep = kpte_ad_as_odd(fmt, keep);

		old_e = __atomic_load_n(op, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(op, &old_e, e | (old_e & okeep), false,
						    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			;
		e |= old_e & okeep;
	} else {
		old_e = __atomic_exchange_n(op, e, __ATOMIC_SEQ_CST);
	}
	if (f && odd_takes_away(fmt, old_e, e))
		flush_guest(f);
	return old_k | odd_ad_as_kpte(fmt, old_e);
}

/* True when no entry of the pair's KPT half is present (its EPT half follows). */
static bool pair_empty(paddr_t pa)
{
	const kpte_t *t = pmem_va(pa);

	for (unsigned i = 0; i < PMAP_ENTRIES; i++)
		if (t[i])
			return false;
	return true;
}

/* ---- TLB work of one operation ---------------------------------------------------------- */

struct flush {
	bool any; /* the host TLB may hold a changed translation */
	bool all;
	bool guest; /* the guest's TLB may hold something the odd half no longer grants */
	unsigned n;
	u64 va[FLUSH_MAX]; /* only va[0..n) is ever read: not initialised */
	/* Released only after the shootdown (pmap.h, SEVERAL CPUS, step 5). */
	paddr_t pairs; /* unlinked pairs, chained through their first KPTE (never present) */
	pmap_leaf_fn fn; /* sees each removed leaf; may be NULL */
	void *arg;
	unsigned nleaves;
	struct pmap_leaf leaves[FLUSH_LEAVES]; /* only leaves[0..nleaves) is read */
};

static void flush_init(struct flush *f)
{
	f->any = false;
	f->all = false;
	f->guest = false;
	f->n = 0;
	f->pairs = 0;
	f->fn = NULL;
	f->nleaves = 0;
}

/* Notes that a guest TLB may hold a translation the odd half has just narrowed or dropped. */
static void flush_guest(struct flush *f)
{
	f->guest = true;
}

/* Notes that the translation of the leaf (of any size) containing @va changed. */
static void flush_add(struct flush *f, u64 va)
{
	f->any = true;
	if (f->n < FLUSH_MAX)
		f->va[f->n++] = va;
	else
		f->all = true;
}

static u64 eptp_of(const struct pmap *pm)
{
	return (pm->root + PAGE_SIZE) | EPTP_MT_WB | EPTP_WALK_4 |
	       ((cpu_features.ept_vpid_cap & EPT_CAP_AD) ? EPTP_AD : 0);
}

static void stat_add(u64 *c, u64 n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* One shootdown: what each target CPU flushes. */
struct shootdown {
	struct pmap *pm;
	const struct flush *f; /* NULL: no host side */
	cpumask_t host, guest;
};

/*
 * A target's part (this CPU directly, the others from the call IPI, interrupts off): the host
 * side if it still has the pmap in CR3 (if it left, its CR3 write flushed), INVLPG per changed
 * leaf (one INVLPG drops a whole large page and all paging-structure caches) or a full flush;
 * the guest side, INVEPT single-context in EPT format while this CPU is in VMX operation (an
 * NPT guest is flushed by the SVM backend at its next VMRUN: the IPI has already made it exit).
 */
static void shootdown_cpu(void *arg)
{
	const struct shootdown *s = arg;
	unsigned cpu = pmap_arch_cpu();

	stat_add(&pmap_shootdowns.ran[cpu], 1);
	if (s->f && cpumask_test(&s->host, cpu) && pmap_current_cpu[cpu] == s->pm) {
		if (s->f->all)
			tlb_flush_all();
		else
			for (unsigned i = 0; i < s->f->n; i++)
				tlb_invlpg(s->f->va[i]);
	}
	if (cpumask_test(&s->guest, cpu) && s->pm->fmt->invept && vmx_on[cpu])
		tlb_invept_single(eptp_of(s->pm));
}

/*
 * THE SHOOTDOWN (pmap.h, SEVERAL CPUS, steps 2-4), under pm->lock: the host side where @f
 * (may be NULL) changed a translation, on the CPUs that have @pm loaded; with @guest, a new
 * guest generation and the guest side on the CPUs that entered the guest since their last
 * flush. This CPU flushes directly (in guest_cpus or not: VMX on here, an INVEPT keeps the
 * one-CPU behaviour of flushing a stale context of a reused root); the others by one IPI.
 */
static void shootdown(struct pmap *pm, const struct flush *f, bool guest)
{
	struct shootdown s = { .pm = pm, .f = (f && f->any) ? f : NULL };
	unsigned self = pmap_arch_cpu();
	cpumask_t remote;

	cpumask_clear(&s.host);
	cpumask_clear(&s.guest);
	if (guest) {
		__atomic_store_n(&pm->guest_tlb_gen, pm->guest_tlb_gen + 1, __ATOMIC_SEQ_CST);
		for (unsigned i = 0; i < ARRAY_SIZE(s.guest.bits); i++)
			s.guest.bits[i] =
				__atomic_exchange_n(&pm->guest_cpus.bits[i], 0, __ATOMIC_SEQ_CST);
		cpumask_set(&s.guest, self);
	}
	if (s.f)
		for (unsigned i = 0; i < ARRAY_SIZE(s.host.bits); i++)
			s.host.bits[i] = __atomic_load_n(&pm->loaded.bits[i], __ATOMIC_SEQ_CST);
	if (!s.f && !guest)
		return;
	stat_add(&pmap_shootdowns.ops, 1);
	stat_add(&pmap_shootdowns.host_cpus, cpumask_weight(&s.host));
	stat_add(&pmap_shootdowns.guest_cpus, guest ? cpumask_weight(&s.guest) : 0);
	if (s.f && pm == pmap_current_cpu[self])
		cpumask_set(&s.host, self); /* the tables changed under this CPU's CR3 */
	stat_add(&pmap_shootdowns.sent[self], 1);
	shootdown_cpu(&s);
	cpumask_clear(&remote);
	for (unsigned i = 0; i < ARRAY_SIZE(remote.bits); i++)
		remote.bits[i] = s.host.bits[i] | s.guest.bits[i];
	cpumask_unset(&remote, self);
	if (cpumask_next(&remote, 0) < SMP_MAX_CPUS) {
		unsigned cpu;

		for_each_cpu (cpu, &remote)
			stat_add(&pmap_shootdowns.sent[cpu], 1);
		stat_add(&pmap_shootdowns.remote, 1);
		pmap_arch_shootdown(&remote, shootdown_cpu, &s);
	}
}

/*
 * Ends one batch of an operation: the shootdown, then (step 5) the pairs it unlinked go back
 * to pmem and @f->fn sees the leaves it removed. @f is ready for the next batch.
 */
static void flush_finish(struct pmap *pm, struct flush *f)
{
	shootdown(pm, f, f->guest && pm->guest_attached);
	while (f->pairs) {
		paddr_t pa = f->pairs;

		f->pairs = *(kpte_t *)pmem_va(pa);
		*(kpte_t *)pmem_va(pa) = 0;
		pmem_free(pa, PMAP_PAIR_ORDER);
	}
	for (unsigned i = 0; i < f->nleaves; i++)
		f->fn(f->arg, &f->leaves[i]);
	f->any = f->all = f->guest = false;
	f->n = 0;
	f->nleaves = 0;
}

/*
 * Uncounts the pair @pa that the walk just unlinked and keeps it for after the shootdown: a
 * CPU's paging-structure cache or a second-stage walker may still read it. Chained through
 * its first KPTE: an 8 KiB-aligned address with P (and EPT's R/W/X) clear is not present in
 * either format, so a stale walker reading it faults instead of following it.
 */
static void pair_retire(struct pmap *pm, struct flush *f, paddr_t pa)
{
	pair_uncount(pm, pa);
	*(kpte_t *)pmem_va(pa) = f->pairs;
	f->pairs = pa;
}

/* ---- the walker ------------------------------------------------------------------------ */

struct walk;

/* Pairs preallocated for the splits of one range edit, and the plan that counted them. */
struct walk_split {
	unsigned n;
	paddr_t pair[SPLIT_MAX];
	u64 cut_base[PMAP_LEVELS + 1]; /* per level: the jumbo already counted, | 1 */
};

/* What the checker has seen so far. */
struct walk_check {
	struct pmap_check_err *err; /* first violation, may be NULL */
	u64 pairs, sum, sq, leaves[PMAP_LEVELS + 1];
};

/*
 * Gives one slot its meaning. [va, end) is the part of the walked range inside the slot at
 * @kp, a table entry at level @lvl. Returns WALK_NEXT, WALK_DESCEND (the slot holds a table:
 * walk it with the same range), or a negative value that ends the walk.
 */
typedef int (*slot_fn)(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end);

struct walk {
	struct pmap *pm;
	slot_fn slot;
	bool prune; /* free child pairs a descent leaves empty */
	bool undo; /* map: on failure, free the child pairs the walk left empty */
	struct flush *flush;
	/* Arguments of the operation. */
	u64 va0;
	paddr_t pa0;
	u32 flags;
	const u64 *leaf_size; /* map: page sizes allowed for this mapping, per level */
	pmap_leaf_fn fn;
	void *arg;
	/* Results. */
	u64 done; /* map: end of the last leaf written */
	int ret; /* value of the callback that stopped the walk */
	struct walk_split *split; /* unmap, protect */
	struct walk_check *check; /* check */
};

/*
 * The walker: visits the slots of the table in the pair at @pa, at level @lvl, that [va, end)
 * touches, in address order, and lets w->slot decide. A pair left empty under a slot is freed
 * when the walk prunes, or when a map fails (it must not leave the tables it created).
 */
static int walk_table(struct walk *w, paddr_t pa, unsigned lvl, u64 va, u64 end)
{
	kpte_t *t = pmem_va(pa);
	u64 size = pmap_level_size(lvl);
	int r;

	while (va < end) {
		u64 next = MIN(ALIGN_DOWN(va, size) + size, end);
		kpte_t *kp = &t[pmap_index(va, lvl)];

		r = w->slot(w, kp, lvl, va, next);
		if (r == WALK_DESCEND) {
			paddr_t child = kpte_table(*kp);

			r = walk_table(w, child, lvl - 1, va, next);
			if ((w->prune || (r < 0 && w->undo)) && pair_empty(child)) {
				pair_write(w->pm, kp, lvl, 0, 0, w->flush);
				pair_retire(w->pm, w->flush, child);
				flush_add(w->flush, va);
			}
		}
		if (r < 0)
			return r;
		va = next;
	}
	return 0;
}

/* Walks [va, end) from the root of w->pm. */
static int walk_range(struct walk *w, u64 va, u64 end)
{
	return walk_table(w, w->pm->root, PMAP_LEVELS, va, end);
}

/* The PMAP_* flags of a leaf KPTE (its A/D bits may include the odd entry's). */
static u32 kpte_pmap_flags(kpte_t k)
{
	if (!(k & KPTE_U)) /* PMAP_NONE: no right reaches the user or the guest */
		return PMAP_NONE | ((k & KPTE_A) ? PMAP_ACCESSED : 0) |
		       ((k & KPTE_D) ? PMAP_DIRTY : 0);
	return ((k & KPTE_W) ? PMAP_W : 0) | ((k & KPTE_NX) ? 0 : PMAP_X) |
	       ((k & KPTE_VIS) ? PMAP_VISIBLE : 0) | ((k & KPTE_A) ? PMAP_ACCESSED : 0) |
	       ((k & KPTE_D) ? PMAP_DIRTY : 0);
}

static struct pmap_leaf leaf_report(kpte_t k, unsigned lvl, u64 va)
{
	u64 size = pmap_level_size(lvl);

	return (struct pmap_leaf){
		.va = ALIGN_DOWN(va, size),
		.pa = kpte_leaf_pa(k, lvl),
		.size = size,
		.flags = kpte_pmap_flags(k),
	};
}

/* The A/D bits of both halves of the entry at @kp, as KPTE bits. */
static kpte_t slot_ad(const struct pmap *pm, const kpte_t *kp)
{
	return (*kp & KPTE_AD) | odd_ad_as_kpte(pm->fmt, *kpte_to_odd((kpte_t *)kp));
}

/* True when [va, end) covers only part of the leaf at level @lvl holding va. */
static bool leaf_is_cut(unsigned lvl, u64 va, u64 end)
{
	return !IS_ALIGNED(va, pmap_level_size(lvl)) || end - va < pmap_level_size(lvl);
}

/*
 * Replaces the jumbo leaf at @kp (level @lvl) by a preallocated pair of 512 leaves one level
 * down with the same frames and attributes; A/D bits are copied into every child. The
 * translation does not change; the old large TLB entry is flushed with the operation.
 */
static int walk_split(struct walk *w, kpte_t *kp, unsigned lvl, u64 va)
{
	struct pmap *pm = w->pm;
	unsigned clvl = lvl - 1;
	u64 step = pmap_level_size(clvl);
	kpte_t k = *kp;
	kpte_t attrs = (k & ~kpte_leaf_addr_mask(lvl) & ~KPTE_PS) | pmap_levels[clvl].leaf_ps;
	paddr_t pa = kpte_leaf_pa(k, lvl);
	paddr_t child;
	kpte_t *t, late;

	BUG_ON(w->split->n == 0);
	child = w->split->pair[--w->split->n];
	t = pmem_va(child);
	for (unsigned i = 0; i < PMAP_ENTRIES; i++)
		pair_write(pm, &t[i], clvl, attrs | (pa + i * step), 0, NULL);
	late = pair_write(pm, kp, lvl, child | KPTE_TABLE, 0, w->flush) & KPTE_AD & ~attrs;
	if (late)
		for (unsigned i = 0; i < PMAP_ENTRIES; i++)
			pair_write(pm, &t[i], clvl, t[i] | late, KPTE_AD, NULL);
	pm->nr_leaves[lvl]--;
	pm->nr_leaves[clvl] += PMAP_ENTRIES;
	pm->nr_splits++;
	flush_add(w->flush, va);
	return WALK_DESCEND;
}

/* The page-size policy index of pmap_map() @flags: none, PMAP_MAX_2M, PMAP_MAX_4K. */
static unsigned flags_policy(u32 flags)
{
	return (flags & PMAP_MAX_4K) ? 2 : (flags & PMAP_MAX_2M) ? 1 : 0;
}

/* The KPTE of a new leaf at level @lvl mapping @pa with @flags (PMAP_W, PMAP_X, PMAP_VISIBLE). */
static kpte_t leaf_kpte(const struct pmap *pm, paddr_t pa, unsigned lvl, u32 flags)
{
	return pa | KPTE_P | KPTE_U | pmap_levels[lvl].leaf_ps | ((flags & PMAP_W) ? KPTE_W : 0) |
	       ((flags & PMAP_X) ? 0 : pm->nx) | ((flags & PMAP_VISIBLE) ? KPTE_VIS : 0);
}

/* ---- slot functions --------------------------------------------------------------------- */

/*
 * map: a leaf goes in this slot if the level's page size is allowed for the mapping and the
 * slot is exactly covered by an aligned piece of va and pa; otherwise descend, creating the
 * table. Anything already present where a leaf would go is -EEXIST.
 */
static int map_slot(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end)
{
	struct pmap *pm = w->pm;
	u64 size = w->leaf_size[lvl];
	paddr_t pa = w->pa0 + (va - w->va0);
	kpte_t k = *kp;

	if (size && end - va >= size && IS_ALIGNED(va | pa, size)) {
		if (k)
			return -EEXIST;
		pair_write(pm, kp, lvl, leaf_kpte(pm, pa, lvl, w->flags), 0, NULL);
		pm->nr_leaves[lvl]++;
		w->done = end;
		return WALK_NEXT;
	}
	if (!k) {
		paddr_t child = pair_alloc(pm);

		if (!child)
			return -ENOMEM;
		pair_write(pm, kp, lvl, child | KPTE_TABLE, 0, NULL);
		return WALK_DESCEND;
	}
	return kpte_is_leaf(k, lvl) ? -EEXIST : WALK_DESCEND;
}

/* unmap: clear whole leaves (report them), split cut ones. */
static int unmap_slot(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end)
{
	kpte_t k = *kp;
	struct pmap_leaf leaf;

	if (!k)
		return WALK_NEXT;
	if (!kpte_is_leaf(k, lvl))
		return WALK_DESCEND;
	if (leaf_is_cut(lvl, va, end))
		return walk_split(w, kp, lvl, va);
	k = pair_write(w->pm, kp, lvl, 0, 0, w->flush);
	w->pm->nr_leaves[lvl]--;
	flush_add(w->flush, va);
	if (w->fn) {
		/* Reported after the shootdown; a full batch is shot down now, mid-walk. */
		struct flush *f = w->flush;

		leaf = leaf_report(k, lvl, va);
		f->fn = w->fn;
		f->arg = w->arg;
		f->leaves[f->nleaves++] = leaf;
		if (f->nleaves == FLUSH_LEAVES)
			flush_finish(w->pm, f);
	}
	return WALK_NEXT;
}

/*
 * protect: rewrite W, NX and U (clear for PMAP_NONE) of leaves whose protection differs; split
 * cut ones. The host TLB is flushed for every change (mm_fault() refuses faults on present
 * pages, so a stale read-only entry must not survive an upgrade); the guest's only when the
 * odd entry loses something (W, or the whole entry when U goes).
 */
static int protect_slot(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end)
{
	kpte_t k = *kp;
	kpte_t nk;

	if (!k)
		return WALK_NEXT;
	if (!kpte_is_leaf(k, lvl))
		return WALK_DESCEND;
	nk = (k & ~(KPTE_W | KPTE_NX | KPTE_U | KPTE_AD)) | ((w->flags & PMAP_NONE) ? 0 : KPTE_U) |
	     ((w->flags & PMAP_W) ? KPTE_W : 0) | ((w->flags & PMAP_X) ? 0 : w->pm->nx);
	if (nk == (k & ~KPTE_AD))
		return WALK_NEXT;
	if (leaf_is_cut(lvl, va, end))
		return walk_split(w, kp, lvl, va);
	pair_write(w->pm, kp, lvl, nk, KPTE_AD, w->flush);
	flush_add(w->flush, va);
	return WALK_NEXT;
}

/* iterate and lookup: report every leaf. */
static int report_slot(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end)
{
	kpte_t k = *kp;
	struct pmap_leaf leaf;

	if (!k)
		return WALK_NEXT;
	if (!kpte_is_leaf(k, lvl))
		return WALK_DESCEND;
	leaf = leaf_report(k | slot_ad(w->pm, kp), lvl, va);
	w->ret = w->fn(w->arg, &leaf);
	return w->ret ? WALK_STOP : WALK_NEXT;
}

/* clear_ad: swap out the chosen A/D bits of whole leaves, report those that had any. */
static int clear_ad_slot(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end)
{
	kpte_t k = *kp;
	kpte_t which = ((w->flags & PMAP_ACCESSED) ? KPTE_A : 0) |
		       ((w->flags & PMAP_DIRTY) ? KPTE_D : 0);
	struct pmap_leaf leaf;

	if (!k)
		return WALK_NEXT;
	if (!kpte_is_leaf(k, lvl))
		return WALK_DESCEND;
	if (!(slot_ad(w->pm, kp) & which))
		return WALK_NEXT;
	k = pair_write(w->pm, kp, lvl, k & ~KPTE_AD, KPTE_AD & ~which, w->flush);
	flush_add(w->flush, va);
	if (w->fn && (k & which)) {
		leaf = leaf_report(k, lvl, va);
		w->fn(w->arg, &leaf);
	}
	return WALK_NEXT;
}

/*
 * Split planning, walked over one page at a cut end x of a range: a jumbo holding x with x
 * not aligned to it needs a pair, and so does each smaller virtual jumbo below it that x is
 * still not aligned to. w->cut_base remembers what the other end already counted.
 */
static int plan_slot(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end)
{
	kpte_t k = *kp;

	if (!k)
		return WALK_NEXT;
	if (!kpte_is_leaf(k, lvl))
		return WALK_DESCEND;
	for (unsigned l = lvl; l > 1 && !IS_ALIGNED(va, pmap_level_size(l)); l--) {
		u64 base = ALIGN_DOWN(va, pmap_level_size(l)) | 1; /* | 1: never 0 */

		if (w->split->cut_base[l] != base)
			w->split->n++;
		w->split->cut_base[l] = base;
	}
	return WALK_NEXT;
}

/* ---- the checker ----------------------------------------------------------------------- */

static int check_fail(struct walk *w, const char *what, u64 va, unsigned lvl, const kpte_t *kp)
{
	if (w->check && w->check->err)
		*w->check->err = (struct pmap_check_err){
			.what = what,
			.va = va,
			.lvl = lvl,
			.kpte = *kp,
			.odd = *kpte_to_odd((kpte_t *)kp),
		};
	return -EIO;
}

/* check: every slot of the user half, present or not, against the invariant. */
static int check_slot(struct walk *w, kpte_t *kp, unsigned lvl, u64 va, u64 end)
{
	struct pmap *pm = w->pm;
	const struct pmap_format *fmt = pm->fmt;
	kpte_t k = *kp;
	opte_t e = *kpte_to_odd(kp);
	kpte_t leaf_bits = KPTE_P | KPTE_W | KPTE_U | KPTE_AD | KPTE_VIS | pm->nx;
	paddr_t child;

	va = ALIGN_DOWN(va, pmap_level_size(lvl));
	if (!kpte_present(k) && k)
		return check_fail(w, "non-present KPTE is not zero", va, lvl, kp);
	if ((e & ~odd_ad(fmt)) != odd_from_kpte(fmt, k, lvl))
		return check_fail(w, "odd entry is not f(KPTE)", va, lvl, kp);
	if (!k)
		return e ? check_fail(w, "A/D in a zero odd entry", va, lvl, kp) : WALK_NEXT;
	if (kpte_is_leaf(k, lvl)) {
		if (!w->pm->page_size[!!(k & KPTE_VIS)][0][lvl])
			return check_fail(w, "leaf at a level its format lacks", va, lvl, kp);
		if (k & ~(kpte_leaf_addr_mask(lvl) | leaf_bits | pmap_levels[lvl].leaf_ps))
			return check_fail(w, "stray bits in a leaf KPTE", va, lvl, kp);
		w->check->leaves[lvl]++;
		return WALK_NEXT;
	}
	child = kpte_table(k);
	if ((k & ~PTE_ADDR_4K & ~KPTE_A) != KPTE_TABLE)
		return check_fail(w, "intermediate KPTE is not pa|P|W|U", va, lvl, kp);
	if (!IS_ALIGNED(child, PMAP_PAIR_SIZE))
		return check_fail(w, "table is not an 8 KiB-aligned pair", va, lvl, kp);
	if (pair_empty(child))
		return check_fail(w, "empty table left linked", va, lvl, kp);
	w->check->pairs++;
	w->check->sum += child;
	w->check->sq += child * child;
	return WALK_DESCEND;
}

static int check_locked(struct pmap *pm, struct pmap_check_err *err)
{
	struct walk_check c = { .err = err, .pairs = 1, .sum = pm->root, .sq = pm->root * pm->root };
	struct flush f;
	struct walk w = { .pm = pm, .slot = check_slot, .flush = &f, .check = &c };
	kpte_t *root = pmem_va(pm->root);
	int r;

	flush_init(&f);
	if (!IS_ALIGNED(pm->root, PMAP_PAIR_SIZE))
		return check_fail(&w, "root is not an 8 KiB-aligned pair", 0, PMAP_LEVELS, root);
	r = walk_range(&w, 0, USER_TOP);
	if (r)
		return r;
	for (unsigned i = KERNEL_HALF_FIRST_SLOT; i < PMAP_ENTRIES; i++) {
		u64 va = 0xffff000000000000ULL | ((u64)i << pmap_levels[PMAP_LEVELS].shift);

		if (*kpte_to_odd(&root[i]))
			return check_fail(&w, "kernel half linked in the odd half", va, PMAP_LEVELS,
					  &root[i]);
		if (kernel_master && (root[i] & ~KPTE_AD) != (kernel_master[i] & ~KPTE_AD))
			return check_fail(&w, "kernel half differs from the master PML4", va,
					  PMAP_LEVELS, &root[i]);
	}
	if (c.pairs != pm->nr_pairs || c.sum != pm->pair_sum || c.sq != pm->pair_sq)
		return check_fail(&w, "reachable pairs differ from allocated ones (leak or share)",
				  0, PMAP_LEVELS, root);
	for (unsigned l = 1; l <= PMAP_LEVELS; l++)
		if (c.leaves[l] != pm->nr_leaves[l])
			return check_fail(&w, "leaf count differs from the counters", 0, l, root);
	return 0;
}

#ifdef PMAP_DEBUG
/*
 * Debug builds check the whole pmap after every operation. The check costs a walk of every
 * table, so a test running very many operations may space it out (and check each batch).
 */
unsigned pmap_debug_interval = 1;

static void debug_check(struct pmap *pm, const char *op)
{
	static unsigned ops;
	struct pmap_check_err e;

	if (++ops < pmap_debug_interval)
		return;
	ops = 0;
	if (check_locked(pm, &e))
		panic("pmap %s: %s at va %#llx level %u kpte %#llx %s %#llx", op, e.what,
		      (unsigned long long)e.va, e.lvl, (unsigned long long)e.kpte, pm->fmt->name,
		      (unsigned long long)e.odd);
}
#else
static inline void debug_check(struct pmap *pm, const char *op)
{
}
#endif

/* Ends an operation: one TLB flush, the debug check, unlock. */
static void op_end(struct pmap *pm, struct flush *f, const char *op)
{
	flush_finish(pm, f);
	debug_check(pm, op);
	spin_unlock(&pm->lock);
}

/* ---- range edits that may split --------------------------------------------------------- */

/*
 * Runs @slot (unmap or protect) over [va, end): first counts and allocates the pairs the
 * splits at the two ends need, so that nothing can fail once the tables change.
 */
static int edit_range(struct walk *w, u64 va, u64 end)
{
	struct walk_split split = { 0 };
	slot_fn slot = w->slot;
	bool prune = w->prune;
	int r = 0;

	w->split = &split;
	w->slot = plan_slot;
	w->prune = false;
	walk_range(w, va, va + PAGE_SIZE);
	if (end < USER_TOP)
		walk_range(w, end, end + PAGE_SIZE);
	w->slot = slot;
	w->prune = prune;
	for (unsigned i = 0; i < split.n; i++) {
		split.pair[i] = pair_alloc(w->pm);
		if (!split.pair[i]) {
			split.n = i;
			r = -ENOMEM;
			break;
		}
	}
	if (!r)
		r = walk_range(w, va, end);
	while (split.n)
		pair_free(w->pm, split.pair[--split.n]);
	return r;
}

/* [va, va + len) is page aligned, non-empty, and inside the user half. */
static bool range_ok(u64 va, u64 len)
{
	return len && IS_ALIGNED(va | len, PAGE_SIZE) && va < USER_TOP && len <= USER_TOP - va;
}

/* ---- API ------------------------------------------------------------------------------- */

/* NPT with SVM and nested paging, else EPT. */
const struct pmap_format *pmap_format_for(const struct cpu_features *f)
{
	return (f->svm && f->npt) ? &pmap_format_npt : &pmap_format_ept;
}

/* Remembers the master PML4 that pmap_create() copies slots 256..511 from; picks the format. */
void pmap_kernel_half_init(const kpte_t *master, paddr_t master_pa)
{
	kernel_master = master;
	kernel_master_pa = master_pa;
	pmap_boot_format = pmap_format_for(&cpu_features);
}

/* Allocates the root pair and fixes the format from cpu_features; 0 or -ENOMEM. */
int pmap_create(struct pmap *pm)
{
	/*
	 * The capability word the format's leaf_cap bits are looked up in. Only the EPT format
	 * has any; without VMX no EPT is ever walked, so then only the CPU limits guest-visible
	 * page sizes.
	 */
	u64 caps = cpu_features.vmx ? cpu_features.ept_vpid_cap : ~0ULL;

	*pm = (struct pmap){ 0 };
	spin_init(&pm->lock);
	pm->fmt = pmap_boot_format;
	/*
	 * The levels of this pmap: a leaf needs the CPU's support, and a guest-visible one the
	 * odd half's format's too. Policy caps (none, PMAP_MAX_2M, PMAP_MAX_4K) trim it further.
	 */
	for (unsigned vis = 0; vis < 2; vis++)
		for (unsigned policy = 0; policy < PMAP_POLICIES; policy++)
			for (unsigned l = 1; l <= PMAP_LEVELS; l++) {
				const struct pmap_level *d = &pmap_levels[l];
				u64 cap = pm->fmt->leaf_cap[l];
				bool ok = d->leaf_addr && (!d->cpu_1g || cpu_features.page_1g) &&
					  (!vis || !cap || (caps & cap)) &&
					  pmap_level_size(l) <= (SZ_1G >> (9 * policy));

				pm->page_size[vis][policy][l] = ok ? pmap_level_size(l) : 0;
			}
	pm->nx = cpu_features.nx ? KPTE_NX : 0;
	pm->root = pair_alloc(pm);
	if (!pm->root)
		return -ENOMEM;
	if (kernel_master)
		memcpy((kpte_t *)pmem_va(pm->root) + KERNEL_HALF_FIRST_SLOT,
		       kernel_master + KERNEL_HALF_FIRST_SLOT,
		       (PMAP_ENTRIES - KERNEL_HALF_FIRST_SLOT) * sizeof(kpte_t));
	return 0;
}

/* Unmaps everything (reporting leaves to @fn) and frees every pair, the root last. */
void pmap_destroy(struct pmap *pm, pmap_leaf_fn fn, void *arg)
{
	struct flush f;
	struct walk w = {
		.pm = pm, .slot = unmap_slot, .prune = true, .flush = &f, .fn = fn, .arg = arg
	};

	flush_init(&f);
	BUG_ON(cpumask_next(&pm->loaded, 0) < SMP_MAX_CPUS);
	pmap_lock(pm);
	walk_range(&w, 0, USER_TOP); /* whole leaves only: nothing to split */
	if (pm->guest_attached)
		f.guest = true; /* the last guest flush, on every CPU that entered it */
	flush_finish(pm, &f);
	pm->guest_attached = false;
	pair_free(pm, pm->root);
	BUG_ON(pm->nr_pairs != 0);
	pm->root = 0;
	spin_unlock(&pm->lock);
}

/* Maps a range at the largest allowed page sizes, all or nothing; 0 or -EINVAL/-EEXIST/-ENOMEM. */
int pmap_map(struct pmap *pm, u64 va, paddr_t pa, u64 len, u32 flags)
{
	struct flush f;
	struct walk w = { .pm = pm,
			  .slot = map_slot,
			  .undo = true,
			  .flush = &f,
			  .va0 = va,
			  .pa0 = pa,
			  .flags = flags,
			  .done = va };
	int r;

	flush_init(&f);
	if (!range_ok(va, len) || !IS_ALIGNED(pa, PAGE_SIZE) || pa >= PMAP_PA_LIMIT ||
	    len > PMAP_PA_LIMIT - pa || (flags & ~PMAP_MAP_FLAGS))
		return -EINVAL;
	w.leaf_size = pm->page_size[!!(flags & PMAP_VISIBLE)][flags_policy(flags)];
	pmap_lock(pm);
	r = walk_range(&w, va, va + len);
	if (r < 0 && w.done > va) {
		/* Roll back: [va, done) holds only leaves this call wrote, so no split. */
		w.slot = unmap_slot;
		w.prune = true;
		walk_range(&w, va, w.done);
	}
	op_end(pm, &f, "map");
	return r;
}

/*
 * The level whose leaves are exactly @size bytes in the format of a mapping with @flags, or 0
 * when that format has none: @size is no page size, or a capability or the policy trimmed it.
 */
static unsigned page_level(const struct pmap *pm, u64 size, u32 flags)
{
	const u64 *leaf_size = pm->page_size[!!(flags & PMAP_VISIBLE)][flags_policy(flags)];

	for (unsigned lvl = 1; lvl < PMAP_LEVELS; lvl++)
		if (leaf_size[lvl] && leaf_size[lvl] == size)
			return lvl;
	return 0;
}

/* True when pmap_map_page() can map a @size page with @flags in @pm's format. */
bool pmap_page_size_ok(const struct pmap *pm, u64 size, u32 flags)
{
	return page_level(pm, size, flags) != 0;
}

/*
 * Maps one naturally aligned page by a straight descent from the root, without the walker:
 * the fault path. The descent stops at the leaf's level or at the first empty slot above it.
 * Below an empty slot nothing exists, so every table from there down is missing: they are all
 * allocated before anything is written (on failure the ones allocated are freed, the tables
 * are untouched), then filled bottom-up (leaf first) and published by one last pair_write()
 * into the existing table, so a concurrent hardware walker sees either nothing or the whole
 * chain. 0, -EINVAL, -EEXIST or -ENOMEM; on error nothing changed.
 */
int pmap_map_page(struct pmap *pm, u64 va, paddr_t pa, u64 size, u32 flags)
{
	unsigned lvl = page_level(pm, size, flags);
	paddr_t fresh[PMAP_LEVELS - 1]; /* fresh[i]: the new table at level lvl + i */
	unsigned l = PMAP_LEVELS, n;
	kpte_t *kp, val;
	int r = 0;

	/* Aligned to size, below USER_TOP and PMAP_PA_LIMIT (both 1G aligned): the page fits. */
	if (!lvl || !IS_ALIGNED(va | pa, size) || va >= USER_TOP || pa >= PMAP_PA_LIMIT ||
	    (flags & ~PMAP_MAP_FLAGS))
		return -EINVAL;
	pmap_lock(pm);
	kp = (kpte_t *)pmem_va(pm->root) + pmap_index(va, l);
	for (; l > lvl && *kp && !kpte_is_leaf(*kp, l); l--)
		kp = (kpte_t *)pmem_va(kpte_table(*kp)) + pmap_index(va, l - 1);
	/*
	 * Present here is a larger page covering va, or, at the leaf's level, a leaf or a table
	 * (never empty, see pmap.h): something in the range is mapped.
	 */
	if (*kp) {
		r = -EEXIST;
		goto out;
	}
	n = l - lvl;
	for (unsigned i = 0; i < n; i++) {
		fresh[i] = pair_alloc(pm);
		if (!fresh[i]) {
			while (i)
				pair_free(pm, fresh[--i]);
			r = -ENOMEM;
			goto out;
		}
	}
	val = leaf_kpte(pm, pa, lvl, flags);
	for (unsigned i = 0; i < n; i++) {
		kpte_t *t = pmem_va(fresh[i]);

		pair_write(pm, &t[pmap_index(va, lvl + i)], lvl + i, val, 0, NULL);
		val = fresh[i] | KPTE_TABLE;
	}
	pair_write(pm, kp, l, val, 0, NULL);
	pm->nr_leaves[lvl]++;
out:
	/* No TLB flush, as for pmap_map(): nothing that was present changed. */
	debug_check(pm, "map_page");
	spin_unlock(&pm->lock);
	return r;
}

/* Unmaps a range, splitting cut jumbos and freeing emptied pairs; 0, -EINVAL or -ENOMEM. */
int pmap_unmap(struct pmap *pm, u64 va, u64 len, pmap_leaf_fn fn, void *arg)
{
	struct flush f;
	struct walk w = {
		.pm = pm, .slot = unmap_slot, .prune = true, .flush = &f, .fn = fn, .arg = arg
	};
	int r;

	flush_init(&f);
	if (!range_ok(va, len))
		return -EINVAL;
	pmap_lock(pm);
	r = edit_range(&w, va, va + len);
	op_end(pm, &f, "unmap");
	return r;
}

/* Sets W/X over a range, splitting cut jumbos, keeping A/D; 0, -EINVAL or -ENOMEM. */
int pmap_protect(struct pmap *pm, u64 va, u64 len, u32 prot)
{
	struct flush f;
	struct walk w = { .pm = pm, .slot = protect_slot, .flush = &f, .flags = prot };
	int r;

	flush_init(&f);
	if (!range_ok(va, len) || (prot & ~(PMAP_PROT | PMAP_NONE)) ||
	    ((prot & PMAP_NONE) && (prot & PMAP_PROT)))
		return -EINVAL;
	pmap_lock(pm);
	r = edit_range(&w, va, va + len);
	op_end(pm, &f, "protect");
	return r;
}

static int lookup_fn(void *arg, const struct pmap_leaf *leaf)
{
	*(struct pmap_leaf *)arg = *leaf;
	return 1;
}

/* Describes the leaf mapping @va; 0 or -ENOENT. */
int pmap_lookup(struct pmap *pm, u64 va, struct pmap_leaf *out)
{
	struct flush f;
	struct walk w = { .pm = pm, .slot = report_slot, .flush = &f, .fn = lookup_fn, .arg = out };
	int r;

	flush_init(&f);
	if (va >= USER_TOP)
		return -ENOENT;
	pmap_lock(pm);
	r = walk_range(&w, ALIGN_DOWN(va, PAGE_SIZE), ALIGN_DOWN(va, PAGE_SIZE) + PAGE_SIZE);
	spin_unlock(&pm->lock);
	return r == WALK_STOP ? 0 : -ENOENT;
}

/* Reports every leaf overlapping a range; 0, -EINVAL or the first non-zero @fn value. */
int pmap_iterate(struct pmap *pm, u64 va, u64 len, pmap_leaf_fn fn, void *arg)
{
	struct flush f;
	struct walk w = { .pm = pm, .slot = report_slot, .flush = &f, .fn = fn, .arg = arg };
	int r;

	flush_init(&f);
	if (!range_ok(va, len))
		return -EINVAL;
	pmap_lock(pm);
	r = walk_range(&w, va, va + len);
	spin_unlock(&pm->lock);
	return r == WALK_STOP ? w.ret : r;
}

/* Swaps out A/D bits of whole leaves in both halves and reports those that were set. */
int pmap_clear_ad(struct pmap *pm, u64 va, u64 len, u32 which, pmap_leaf_fn fn, void *arg)
{
	struct flush f;
	struct walk w = {
		.pm = pm, .slot = clear_ad_slot, .flush = &f, .flags = which, .fn = fn, .arg = arg
	};
	int r;

	flush_init(&f);
	if (!range_ok(va, len) || !which || (which & ~PMAP_AD))
		return -EINVAL;
	pmap_lock(pm);
	r = walk_range(&w, va, va + len);
	op_end(pm, &f, "clear_ad");
	return r;
}

/* Verifies every invariant; 0, or -EIO with the first violation in *@err. */
int pmap_check(struct pmap *pm, struct pmap_check_err *err)
{
	int r;

	pmap_lock(pm);
	r = check_locked(pm, err);
	spin_unlock(&pm->lock);
	return r;
}

/* Attaches @pm to a guest (flushing a stale EPT context) and returns root + 4096. */
paddr_t pmap_guest_root(struct pmap *pm)
{
	pmap_lock(pm);
	pm->guest_attached = true;
	if (pm->fmt->invept && vmx_on[pmap_arch_cpu()])
		tlb_invept_single(eptp_of(pm));
	spin_unlock(&pm->lock);
	return pm->root + PAGE_SIZE;
}

/* Attaches @pm and returns its EPTP. */
u64 pmap_eptp(struct pmap *pm)
{
	BUG_ON(!pm->fmt->invept);
	pmap_guest_root(pm);
	return eptp_of(pm);
}

/* The last guest flush, then changes flush the host TLB only. */
void pmap_guest_detach(struct pmap *pm)
{
	pmap_lock(pm);
	if (pm->guest_attached)
		shootdown(pm, NULL, true);
	pm->guest_attached = false;
	spin_unlock(&pm->lock);
}

/* Records whether INVEPT is legal now. */
void pmap_vmx_operation(bool on)
{
	vmx_on[pmap_arch_cpu()] = on;
}

/*
 * Loads @pm (NULL: the master PML4) into CR3, keeping the loaded masks exact: this CPU joins
 * @pm's before the CR3 write (a shootdown that misses the bit changed the tables before this
 * walk could start) and leaves the old pmap's after it (until then it may cache the old one).
 */
void pmap_activate(struct pmap *pm)
{
	unsigned cpu = pmap_arch_cpu();
	struct pmap *old = pmap_current_cpu[cpu];

	if (pm)
		cpumask_set_atomic(&pm->loaded, cpu);
	pmap_arch_load_cr3(pm ? pm->root : kernel_master_pa);
	pmap_current_cpu[cpu] = pm;
	if (old && old != pm)
		cpumask_unset_atomic(&old->loaded, cpu);
}
