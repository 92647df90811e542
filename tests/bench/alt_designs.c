// SPDX-License-Identifier: MIT
/*
 * The two designs the page-table pair is measured against. They live in tests/bench only.
 *
 * (b) "sep": two separate trees of 4 KiB tables, a KPT and an EPT, each with its own root.
 *     Every operation walks the KPT, then walks the EPT over the same range a second time,
 *     creating and pruning EPT tables on its own. A map that is not guest-visible skips the
 *     second walk (its EPT entries would be 0), so host-only memory costs no EPT tables.
 * (c) "pfn": one walk of the KPT; every KPT table page has an EPT page found through a
 *     per-frame array, paired[pfn] (the "pages[PFN].paired_pfn" proposal in the Akaros
 *     discussion). Each write looks up the EPT page of the KPTE's table frame. Tables are two
 *     order-0 pages, not one order-1 block.
 *
 * Both share the module's shape so that only the design differs: the same level table and
 * epte_from_kpte() for leaves, the same recursive range walker with slot functions, the same
 * page-size choice, -EEXIST check, pruning of emptied tables, lock, one batched TLB flush
 * (INVEPT) per operation, and the same bookkeeping a checker needs (leaf counters, table
 * count and fingerprint, the end of the last leaf mapped for a rollback, and the probe of
 * both ends of an unmap/protect range for jumbos to split). They do not carry out splits or
 * rollbacks, which the trace never triggers: that only makes them cheaper.
 *
 * The fault path (map_page) of each is, like pmap_map_page(), a straight descent without the
 * walker: (b) descends the KPT, then the EPT, allocates the missing tables of both, and writes
 * the two chains; (c) descends the KPT once and finds the EPT page of each table it writes
 * through paired[]. Both check, allocate all or nothing, and count leaves as pmap.c does.
 */
#include <stdlib.h>

#include <arch/x86/memlayout.h>
#include <arch/x86/tlb.h>
#include <dyad/errno.h>
#include <dyad/pmem.h>

#include "bench.h"
#include "pmem_shim.h"

#define NEXT 0
#define DESCEND 1
#define FLUSH_MAX 32

struct alt {
	struct spinlock lock;
	bool pfn; /* design (c) */
	paddr_t kroot, eroot; /* (c): eroot is paired[kroot] */
	u64 tables; /* 4 KiB table pages, both formats */
	u64 table_sum, table_sq; /* fingerprint of the table set, as pmap.c keeps for its checker */
	u64 nr_leaves[PMAP_LEVELS + 1];
	kpte_t nx;
	u64 page_size[2][PMAP_POLICIES][PMAP_LEVELS + 1];
};

/* (c): the per-frame array, one entry per physical frame. */
static paddr_t *paired;
static paddr_t arena_base;

static paddr_t *paired_slot(paddr_t kpt_page)
{
	return &paired[(kpt_page - arena_base) >> PAGE_SHIFT];
}

struct aw {
	struct alt *a;
	bool ept; /* (b): walking the EPT tree */
	bool prune;
	int (*slot)(struct aw *w, u64 *p, unsigned lvl, u64 va, u64 end);
	u64 va0;
	paddr_t pa0;
	u32 flags;
	const u64 *leaf_size;
	u64 done; /* map: end of the last leaf written (what a rollback would undo) */
	unsigned cuts; /* jumbos the ends of an unmap/protect range cut */
	bool any, all;
	unsigned n;
	u64 fva[FLUSH_MAX]; /* only fva[0..n) is read: left uninitialised, as in pmap.c */
};

/* A walk of @a with @slot; the flush list starts empty. */
typedef int (*aw_slot_fn)(struct aw *w, u64 *p, unsigned lvl, u64 va, u64 end);

static void aw_init(struct aw *w, struct alt *a, aw_slot_fn slot)
{
	w->a = a;
	w->slot = slot;
	w->ept = false;
	w->prune = false;
	w->any = false;
	w->all = false;
	w->n = 0;
}

static void aw_flush_add(struct aw *w, u64 va)
{
	w->any = true;
	if (w->n < FLUSH_MAX)
		w->fva[w->n++] = va;
	else
		w->all = true;
}

/* The EPTE shadowing KPTE slot @kp in design (c): same index in the paired page. */
static epte_t *pfn_epte(u64 *kp)
{
	uintptr_t page = (uintptr_t)kp & ~(uintptr_t)(PAGE_SIZE - 1);
	paddr_t ept = *paired_slot(pmem_pa((void *)page));

	return (epte_t *)pmem_va(ept) + (kp - (u64 *)page);
}

/* The one writer of each design: (b) stores one entry of one tree, (c) both via paired[]. */
static void aw_write(struct aw *w, u64 *p, unsigned lvl, u64 v)
{
	__atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
	if (w->a->pfn) {
		epte_t e = (v && !kpte_is_leaf(v, lvl)) ? *paired_slot(kpte_table(v)) | EPTE_RWX :
							  epte_from_kpte(v, lvl);

		__atomic_exchange_n(pfn_epte(p), e, __ATOMIC_SEQ_CST);
	}
}

static paddr_t alt_table_alloc(struct alt *a)
{
	paddr_t t = pmem_alloc_zeroed(0);

	if (!t)
		return 0;
	a->tables++;
	a->table_sum += t;
	a->table_sq += t * t;
	if (a->pfn) {
		paddr_t e = pmem_alloc_zeroed(0);

		if (!e) {
			pmem_free(t, 0);
			a->tables--;
			return 0;
		}
		*paired_slot(t) = e;
		a->tables++;
	}
	return t;
}

static void alt_table_free(struct alt *a, paddr_t t)
{
	if (a->pfn) {
		pmem_free(*paired_slot(t), 0);
		*paired_slot(t) = 0;
		a->tables--;
	}
	pmem_free(t, 0);
	a->tables--;
	a->table_sum -= t;
	a->table_sq -= t * t;
}

static bool aw_empty(paddr_t t)
{
	const u64 *p = pmem_va(t);

	for (unsigned i = 0; i < PMAP_ENTRIES; i++)
		if (p[i])
			return false;
	return true;
}

/* The walker, as in pmap.c; entries of both formats keep the table address in the same bits. */
static int aw_table(struct aw *w, paddr_t t, unsigned lvl, u64 va, u64 end)
{
	u64 *tab = pmem_va(t);
	u64 size = pmap_level_size(lvl);
	int r;

	while (va < end) {
		u64 next = MIN(ALIGN_DOWN(va, size) + size, end);
		u64 *p = &tab[pmap_index(va, lvl)];

		r = w->slot(w, p, lvl, va, next);
		if (r == DESCEND) {
			paddr_t child = *p & PTE_ADDR_4K;

			r = aw_table(w, child, lvl - 1, va, next);
			if (w->prune && aw_empty(child)) {
				aw_write(w, p, lvl, 0);
				alt_table_free(w->a, child);
				aw_flush_add(w, va);
			}
		}
		if (r < 0)
			return r;
		va = next;
	}
	return 0;
}

static bool aw_leaf(u64 e, unsigned lvl)
{
	return lvl == 1 || (e & KPTE_PS); /* EPTE_PS is bit 7 too */
}

/* The KPTE of a new leaf, as pmap.c builds it. */
static kpte_t alt_leaf_kpte(const struct alt *a, paddr_t pa, unsigned lvl, u32 flags)
{
	return pa | KPTE_P | KPTE_U | pmap_levels[lvl].leaf_ps | ((flags & PMAP_W) ? KPTE_W : 0) |
	       ((flags & PMAP_X) ? 0 : a->nx) | ((flags & PMAP_VISIBLE) ? KPTE_VIS : 0);
}

static int aw_map_slot(struct aw *w, u64 *p, unsigned lvl, u64 va, u64 end)
{
	u64 size = w->leaf_size[lvl];
	paddr_t pa = w->pa0 + (va - w->va0);
	u64 e = *p;

	if (size && end - va >= size && IS_ALIGNED(va | pa, size)) {
		kpte_t k = pa | KPTE_P | KPTE_U | pmap_levels[lvl].leaf_ps |
			   ((w->flags & PMAP_W) ? KPTE_W : 0) |
			   ((w->flags & PMAP_X) ? 0 : w->a->nx) |
			   ((w->flags & PMAP_VISIBLE) ? KPTE_VIS : 0);

		if (e)
			return -EEXIST;
		aw_write(w, p, lvl, w->ept ? epte_from_kpte(k, lvl) : k);
		if (!w->ept)
			w->a->nr_leaves[lvl]++;
		w->done = end;
		return NEXT;
	}
	if (!e) {
		paddr_t t = alt_table_alloc(w->a);

		if (!t)
			return -ENOMEM;
		aw_write(w, p, lvl, t | (w->ept ? EPTE_RWX : KPTE_TABLE));
		return DESCEND;
	}
	return aw_leaf(e, lvl) ? -EEXIST : DESCEND;
}

static int aw_unmap_slot(struct aw *w, u64 *p, unsigned lvl, u64 va, u64 end)
{
	u64 e = *p;

	if (!e)
		return NEXT;
	if (!aw_leaf(e, lvl))
		return DESCEND;
	if (!IS_ALIGNED(va, pmap_level_size(lvl)) || end - va < pmap_level_size(lvl))
		abort(); /* a cut jumbo: not supported here, and never in the trace */
	aw_write(w, p, lvl, 0);
	if (!w->ept)
		w->a->nr_leaves[lvl]--;
	aw_flush_add(w, va);
	return NEXT;
}

/* The probe at one end of a range: a jumbo holding it, unaligned, would need splitting. */
static int aw_plan_slot(struct aw *w, u64 *p, unsigned lvl, u64 va, u64 end)
{
	u64 e = *p;

	if (!e)
		return NEXT;
	if (!aw_leaf(e, lvl))
		return DESCEND;
	for (unsigned l = lvl; l > 1 && !IS_ALIGNED(va, pmap_level_size(l)); l--)
		w->cuts++;
	return NEXT;
}

static int aw_protect_slot(struct aw *w, u64 *p, unsigned lvl, u64 va, u64 end)
{
	u64 e = *p, ne;

	if (!e)
		return NEXT;
	if (!aw_leaf(e, lvl))
		return DESCEND;
	if (w->ept)
		ne = (e & ~(EPTE_W | EPTE_X | EPTE_AD)) | ((w->flags & PMAP_W) ? EPTE_W : 0) |
		     ((w->flags & PMAP_X) ? EPTE_X : 0);
	else
		ne = (e & ~(KPTE_W | KPTE_NX | KPTE_AD)) | ((w->flags & PMAP_W) ? KPTE_W : 0) |
		     ((w->flags & PMAP_X) ? 0 : w->a->nx);
	if (ne == (e & ~(w->ept ? EPTE_AD : KPTE_AD)))
		return NEXT;
	if (!IS_ALIGNED(va, pmap_level_size(lvl)) || end - va < pmap_level_size(lvl))
		abort();
	aw_write(w, p, lvl, ne);
	aw_flush_add(w, va);
	return NEXT;
}

static void aw_finish(struct aw *w)
{
	if (w->any)
		tlb_invept_single(w->a->eroot); /* every address space here has served as an EPTP */
}

/* Runs one operation: the KPT walk, then for (b) the EPT walk over the same range. */
static int aw_op(struct alt *a, struct aw *w, u64 va, u64 end, bool second, bool probe)
{
	int r;

	spin_lock(&a->lock);
	if (probe) {
		aw_slot_fn slot = w->slot;
		bool prune = w->prune;

		w->slot = aw_plan_slot;
		w->prune = false;
		w->cuts = 0;
		aw_table(w, a->kroot, PMAP_LEVELS, va, va + PAGE_SIZE);
		if (end < USER_TOP)
			aw_table(w, a->kroot, PMAP_LEVELS, end, end + PAGE_SIZE);
		if (w->cuts)
			abort(); /* splitting is not implemented here; the trace never cuts */
		w->slot = slot;
		w->prune = prune;
	}
	r = aw_table(w, a->kroot, PMAP_LEVELS, va, end);
	if (!r && second) {
		w->ept = true;
		r = aw_table(w, a->eroot, PMAP_LEVELS, va, end);
	}
	aw_finish(w);
	spin_unlock(&a->lock);
	return r;
}

static void *alt_create(bool pfn)
{
	struct alt *a = calloc(1, sizeof(*a));

	a->pfn = pfn;
	if (pfn && !paired) {
		arena_base = shim_arena_base();
		paired = calloc(shim_arena_frames(), sizeof(paddr_t));
	}
	for (unsigned vis = 0; vis < 2; vis++)
		for (unsigned pol = 0; pol < PMAP_POLICIES; pol++)
			for (unsigned l = 1; l <= PMAP_LEVELS; l++) {
				const struct pmap_level *d = &pmap_levels[l];
				bool ok = d->leaf_addr && (!d->cpu_1g || cpu_features.page_1g) &&
					  (!vis || !pmap_format_ept.leaf_cap[l] ||
					   (cpu_features.ept_vpid_cap &
					    pmap_format_ept.leaf_cap[l])) &&
					  pmap_level_size(l) <= (SZ_1G >> (9 * pol));

				a->page_size[vis][pol][l] = ok ? pmap_level_size(l) : 0;
			}
	a->nx = cpu_features.nx ? KPTE_NX : 0;
	a->kroot = alt_table_alloc(a);
	a->eroot = pfn ? *paired_slot(a->kroot) : alt_table_alloc(a);
	return a;
}

static void *sep_create(void)
{
	return alt_create(false);
}

static void *pfn_create(void)
{
	return alt_create(true);
}

static int alt_map(void *as, u64 va, paddr_t pa, u64 len, u32 flags)
{
	struct alt *a = as;
	struct aw w;
	unsigned policy = (flags & PMAP_MAX_4K) ? 2 : (flags & PMAP_MAX_2M) ? 1 : 0;

	if (!len || !IS_ALIGNED(va | pa | len, PAGE_SIZE) || va >= USER_TOP || len > USER_TOP - va)
		return -EINVAL;
	aw_init(&w, a, aw_map_slot);
	w.va0 = va;
	w.pa0 = pa;
	w.flags = flags;
	w.leaf_size = a->page_size[!!(flags & PMAP_VISIBLE)][policy];
	w.done = va;
	return aw_op(a, &w, va, va + len, !a->pfn && (flags & PMAP_VISIBLE), false);
}

static int alt_unmap(void *as, u64 va, u64 len)
{
	struct alt *a = as;
	struct aw w;

	if (!len || !IS_ALIGNED(va | len, PAGE_SIZE) || va >= USER_TOP || len > USER_TOP - va)
		return -EINVAL;
	aw_init(&w, a, aw_unmap_slot);
	w.prune = true;
	return aw_op(a, &w, va, va + len, !a->pfn, true);
}

static int alt_protect(void *as, u64 va, u64 len, u32 prot)
{
	struct alt *a = as;
	struct aw w;

	if (!len || !IS_ALIGNED(va | len, PAGE_SIZE) || va >= USER_TOP || len > USER_TOP - va)
		return -EINVAL;
	aw_init(&w, a, aw_protect_slot);
	w.flags = prot;
	return aw_op(a, &w, va, va + len, !a->pfn, true);
}

/* ---- the fault path: one page, a straight descent, as pmap_map_page() ------------------- */

/* As pmap.c: the level of a leaf of exactly @size for @flags, or 0 when the format has none. */
static unsigned alt_page_level(const struct alt *a, u64 size, u32 flags)
{
	unsigned policy = (flags & PMAP_MAX_4K) ? 2 : (flags & PMAP_MAX_2M) ? 1 : 0;
	const u64 *leaf_size = a->page_size[!!(flags & PMAP_VISIBLE)][policy];

	for (unsigned lvl = 1; lvl < PMAP_LEVELS; lvl++)
		if (leaf_size[lvl] && leaf_size[lvl] == size)
			return lvl;
	return 0;
}

static bool alt_page_ok(unsigned lvl, u64 va, paddr_t pa, u64 size, u32 flags)
{
	return lvl && IS_ALIGNED(va | pa, size) && va < USER_TOP && pa < PMAP_PA_LIMIT &&
	       !(flags & ~PMAP_MAP_FLAGS);
}

/*
 * Descends the tree at @root towards @va's slot at level @lvl, stopping at the first empty
 * slot or leaf; the level of the slot returned is in *@l. Entries of both formats keep the
 * table address and PS in the same bits, so one descent serves the KPT and the EPT.
 */
static u64 *alt_descend(paddr_t root, u64 va, unsigned lvl, unsigned *l)
{
	unsigned lv = PMAP_LEVELS;
	u64 *p = (u64 *)pmem_va(root) + pmap_index(va, lv);

	for (; lv > lvl && *p && !aw_leaf(*p, lv); lv--)
		p = (u64 *)pmem_va(*p & PTE_ADDR_4K) + pmap_index(va, lv - 1);
	*l = lv;
	return p;
}

/* Allocates @n tables into @t, all or none. */
static bool alt_alloc_n(struct alt *a, paddr_t *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		t[i] = alt_table_alloc(a);
		if (!t[i]) {
			while (i)
				alt_table_free(a, t[--i]);
			return false;
		}
	}
	return true;
}

/*
 * (b): fills fresh tables @t[0..n) (t[i] at level lvl + i) of one tree bottom-up with @leaf and
 * links carrying @link, then publishes the chain into *@p.
 */
static void sep_chain(u64 *p, const paddr_t *t, unsigned n, u64 va, unsigned lvl, u64 leaf,
		      u64 link)
{
	for (unsigned i = 0; i < n; i++) {
		u64 *tab = pmem_va(t[i]);

		__atomic_exchange_n(&tab[pmap_index(va, lvl + i)], leaf, __ATOMIC_SEQ_CST);
		leaf = t[i] | link;
	}
	__atomic_exchange_n(p, leaf, __ATOMIC_SEQ_CST);
}

/*
 * (b): descends the KPT (the -EEXIST check; the EPT mirrors it), then the EPT, allocates the
 * missing tables of both trees at once (all or nothing), and writes each chain.
 */
static int sep_map_page(void *as, u64 va, paddr_t pa, u64 size, u32 flags)
{
	struct alt *a = as;
	unsigned lvl = alt_page_level(a, size, flags), kl, el = 0;
	paddr_t t[2 * (PMAP_LEVELS - 1)];
	bool vis = flags & PMAP_VISIBLE;
	u64 *kp, *ep = NULL;
	kpte_t k;
	int r = 0;

	if (!alt_page_ok(lvl, va, pa, size, flags))
		return -EINVAL;
	spin_lock(&a->lock);
	kp = alt_descend(a->kroot, va, lvl, &kl);
	if (*kp) {
		r = -EEXIST;
		goto out;
	}
	if (vis)
		ep = alt_descend(a->eroot, va, lvl, &el);
	if (!alt_alloc_n(a, t, (kl - lvl) + (vis ? el - lvl : 0))) {
		r = -ENOMEM;
		goto out;
	}
	k = alt_leaf_kpte(a, pa, lvl, flags);
	sep_chain(kp, t, kl - lvl, va, lvl, k, KPTE_TABLE);
	if (vis)
		sep_chain(ep, t + (kl - lvl), el - lvl, va, lvl, epte_from_kpte(k, lvl), EPTE_RWX);
	a->nr_leaves[lvl]++;
out:
	spin_unlock(&a->lock);
	return r;
}

/*
 * (c): one descent of the KPT; each entry written also writes its EPTE, in the EPT page that
 * paired[] gives for the KPT page holding it (a fresh table's EPT page for the chain, one
 * lookup for the slot that publishes it).
 */
static int pfn_map_page(void *as, u64 va, paddr_t pa, u64 size, u32 flags)
{
	struct alt *a = as;
	unsigned lvl = alt_page_level(a, size, flags), l;
	paddr_t t[PMAP_LEVELS - 1];
	u64 *kp;
	kpte_t k;
	epte_t e;
	int r = 0;

	if (!alt_page_ok(lvl, va, pa, size, flags))
		return -EINVAL;
	spin_lock(&a->lock);
	kp = alt_descend(a->kroot, va, lvl, &l);
	if (*kp) {
		r = -EEXIST;
		goto out;
	}
	if (!alt_alloc_n(a, t, l - lvl)) {
		r = -ENOMEM;
		goto out;
	}
	k = alt_leaf_kpte(a, pa, lvl, flags);
	e = epte_from_kpte(k, lvl);
	for (unsigned i = 0; i < l - lvl; i++) {
		unsigned idx = pmap_index(va, lvl + i);
		paddr_t et = *paired_slot(t[i]);

		__atomic_exchange_n((u64 *)pmem_va(t[i]) + idx, k, __ATOMIC_SEQ_CST);
		__atomic_exchange_n((epte_t *)pmem_va(et) + idx, e, __ATOMIC_SEQ_CST);
		k = t[i] | KPTE_TABLE;
		e = et | EPTE_RWX;
	}
	__atomic_exchange_n(kp, k, __ATOMIC_SEQ_CST);
	__atomic_exchange_n(pfn_epte(kp), e, __ATOMIC_SEQ_CST);
	a->nr_leaves[lvl]++;
out:
	spin_unlock(&a->lock);
	return r;
}

static void alt_destroy(void *as)
{
	struct alt *a = as;

	alt_unmap(a, 0, USER_TOP);
	if (!a->pfn)
		alt_table_free(a, a->eroot);
	alt_table_free(a, a->kroot);
	free(a);
}

static u64 alt_table_bytes(void *as)
{
	return ((struct alt *)as)->tables * PAGE_SIZE;
}

static u64 no_meta(void)
{
	return 0;
}

static u64 pfn_meta(void)
{
	return (SZ_1G >> PAGE_SHIFT) * sizeof(paddr_t);
}

const struct design design_sep = {
	.name = "(b) separate EPT tree",
	.create = sep_create,
	.destroy = alt_destroy,
	.map = alt_map,
	.map_page = sep_map_page,
	.unmap = alt_unmap,
	.protect = alt_protect,
	.table_bytes = alt_table_bytes,
	.meta_bytes_per_gib_ram = no_meta,
};

const struct design design_pfn = {
	.name = "(c) paired_pfn array",
	.create = pfn_create,
	.destroy = alt_destroy,
	.map = alt_map,
	.map_page = pfn_map_page,
	.unmap = alt_unmap,
	.protect = alt_protect,
	.table_bytes = alt_table_bytes,
	.meta_bytes_per_gib_ram = pfn_meta,
};
