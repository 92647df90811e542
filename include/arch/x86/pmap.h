/* SPDX-License-Identifier: MIT */
#ifndef ARCH_X86_PMAP_H
#define ARCH_X86_PMAP_H

#include <arch/x86/cpu.h>
#include <arch/x86/smp.h>
#include <dyad/spinlock.h>
#include <dyad/types.h>

/*
 * The page-table pair: one address space, two page-table formats, one tree.
 *
 * Every page-table page is an order-1 block (8 KiB, 8 KiB aligned). Its even 4 KiB half is a
 * KPT page (the x86-64 format CR3 walks) and its odd half is the second-stage page for the
 * same addresses: the table a guest's physical addresses are translated by. The KPT maps a
 * process's user addresses to host frames; the odd half maps the same addresses, read as
 * guest-physical, to the same frames.
 *
 * THE ODD HALF'S FORMAT is chosen once at boot from the CPU (pmap_kernel_half_init()) and
 * described as data, struct pmap_format below:
 *   - EPT (Intel with VMX; SDM vol. 3, 29.3.2): the table an EPTP walks;
 *   - NPT (AMD with SVM and nested paging; APM vol. 2, 15.25): the ordinary x86-64 format,
 *     walked from nCR3 with every access treated as a user access.
 * Every pmap records the format it was created with; nothing else in the module knows which
 * vendor it runs on.
 *
 * THE PAIR INVARIANT. For every entry slot of every pair, at every level:
 *
 *	*kpte_to_odd(p) == odd_from_kpte(pm->fmt, *p, level)	(A/D bits aside)
 *
 * so the odd half is a pure function of the KPT plus one software bit of the KPTE, KPTE_VIS
 * ("guest-visible", bit 9, available to software in every x86-64 entry format):
 *   - a KPTE that is not present, or kernel-only (U clear), gives 0;
 *   - an intermediate KPTE (it points at the even half of the next pair) gives the format's
 *     intermediate entry (EPT: RWX; NPT: P|W|U) pointing at the odd half of the same pair;
 *   - a leaf KPTE without KPTE_VIS gives 0: the guest sees nothing the VMM keeps for itself;
 *   - a guest-visible leaf gives a readable, executable leaf, writable when the KPTE has W,
 *     with PS mirrored. GUEST-VISIBLE IMPLIES GUEST-EXECUTABLE: the KPTE's NX is the VMM's own
 *     right and does not reach the guest, so a VMM holds guest RAM writable but not
 *     executable for itself. EPT: R, X, W from the KPTE, memory type WB with IPAT clear (the
 *     guest's PAT applies). NPT: P, U (nested walks are user accesses), W from the KPTE, NX
 *     clear, PWT/PCD/PAT clear (write-back, combined with the guest's own type).
 * Accessed/dirty bits are set by two different walkers (the CPU in the KPT, the second-stage
 * walker in the odd half, at the bits the format names); they are the only bits allowed to
 * differ from f, and every query ORs them over both halves.
 *
 * Consequences the rest of the module relies on:
 *   - both halves always map an address at the same level: a guest-visible mapping only uses
 *     a page size the format supports (EPT: IA32_VMX_EPT_VPID_CAP bits 16/17) as well as the
 *     CPU (1 GiB pages), so a KPT jumbo never has to be mirrored by smaller odd pages;
 *   - the kernel half of the root (PML4 slots 256..511) is copied into the KPT from the
 *     kernel's master PML4 and never linked into the odd half (its entries are 0: U is clear);
 *   - odd_from_kpte() is the only function that computes an odd-half entry, and pair_write()
 *     in pmap.c is the only function that stores entries: it writes both halves;
 *   - every non-root table has at least one present entry: unmap frees the pairs it empties;
 *   - a non-present KPTE is 0 in its entirety.
 * pmap_check() is the executable form of this comment.
 *
 * THE GUEST'S TLB. Once a pmap serves a guest (pmap_guest_root() or pmap_eptp()), every
 * operation that takes a right away from the odd half (unmap, protect to fewer rights, a
 * split, a freed table, cleared A/D bits) bumps pm->guest_tlb_gen under the lock before it
 * returns; adding a mapping or a right bumps nothing (the guest may take one spurious fault).
 *   - EPT: the same operation also runs INVEPT single-context on every CPU that entered the
 *     guest since its last flush (guest_cpus, below), each only while it is in VMX operation
 *     (pmap_vmx_operation()): INVEPT outside VMX operation is #UD.
 *   - NPT: nothing on the CPU drops nested translations but a new ASID or TLB_CONTROL at the
 *     next VMRUN (INVLPGA drops one guest-virtual page, not a nested one). So the SVM backend
 *     compares pmap_guest_tlb_gen() with the value it last flushed for, with interrupts and
 *     GIF off, immediately before every VMRUN, and flushes when it differs (TLB_CONTROL 3
 *     with flush-by-ASID, else a new ASID, or TLB_CONTROL 1 when ASIDs wrap).
 *
 * SEVERAL CPUS. Each pmap keeps two cpumasks, both updated with atomic operations:
 *   - loaded: the CPUs whose CR3 holds its KPT. pmap_activate() sets this CPU's bit before it
 *     writes CR3 and clears the bit in the pmap it leaves after (the clearing is exact, not
 *     lazy: without PCIDs the CR3 write has dropped every non-global entry of the old one);
 *   - guest_cpus: the CPUs that entered a guest on its odd half since their last guest flush.
 *     pmap_guest_enter() sets this CPU's bit with interrupts off immediately before every VM
 *     entry; a guest flush takes the whole mask (an atomic exchange with 0) as its targets.
 * An operation that takes something away (unmap, protect to fewer rights, a split, a freed
 * table, cleared A/D bits) ends, still under the lock, with THE SHOOTDOWN:
 *   1. the entries change (pair_write: atomic exchanges, sequentially consistent);
 *   2. the guest generation is bumped (the SVM backend compares it before every VMRUN);
 *   3. the targets are read: loaded, and for the guest side guest_cpus exchanged with 0.
 *      A CPU that sets its bit after this read loads CR3 (or enters the guest) after step 1
 *      in the same total order, so it cannot cache the old entry;
 *   4. this CPU flushes directly (INVLPG per page or a CR3 reload if it has the pmap loaded;
 *      INVEPT single-context if it is in guest_cpus and in VMX operation); every other target
 *      runs the same through one smp_call_mask() IPI, which the caller waits for. The IPI
 *      also forces a vCPU that is in guest mode on that CPU out (the external interrupt exits
 *      it); its next entry re-reads the generation (SVM: new ASID or TLB_CONTROL) and sets
 *      its guest_cpus bit again;
 *   5. only then are the frames and pairs the operation freed released: pairs go back to
 *      pmem, and pmap_unmap()'s @fn sees each removed leaf (so it may free the frame). An
 *      operation that removes many leaves does steps 2-5 for each batch of FLUSH_LEAVES.
 * So a freed frame or pair is reused only after every CPU that may cache a translation to it
 * has flushed. A CPU spinning for a pmap's lock runs call IPIs aimed at it meanwhile
 * (pmap_arch_poll()), so the holder's shootdown completes even if the spinner has interrupts
 * off (the page-fault path).
 *
 * LOCK ORDER for one address space: the region-table lock of its owner (kern/mm.c, the
 * mm_lock word below) first, then pm->lock; a shootdown runs under pm->lock, and its IPI
 * functions take no lock.
 */

typedef u64 kpte_t;
typedef u64 opte_t; /* an entry of the odd half, in the pmap's format: an EPTE or an NPTE */
typedef u64 epte_t;
typedef u64 npte_t;

#define PMAP_LEVELS 4 /* level 4 = PML4 ... level 1 = page table */
#define PMAP_ENTRIES 512
#define PMAP_PAIR_ORDER 1 /* a pair is pmem_alloc(1): 8 KiB */
#define PMAP_PAIR_SIZE (2 * PAGE_SIZE)

/* KPTE: the x86-64 4-level format (Intel SDM vol. 3, 4.5). */
#define KPTE_P BIT(0)
#define KPTE_W BIT(1)
#define KPTE_U BIT(2)
#define KPTE_PWT BIT(3) /* with PCD: uncached, for device registers (kernel half only) */
#define KPTE_PCD BIT(4)
#define KPTE_A BIT(5)
#define KPTE_D BIT(6)
#define KPTE_PS BIT(7) /* level 2 and 3 only: this entry is a leaf */
#define KPTE_G BIT(8) /* global: the kernel half only, never a user leaf */
#define KPTE_VIS BIT(9) /* software: the leaf is guest-visible */
#define KPTE_NX BIT(63)
#define KPTE_AD (KPTE_A | KPTE_D)
#define KPTE_TABLE (KPTE_P | KPTE_W | KPTE_U) /* an intermediate entry: pa | KPTE_TABLE */

/* EPTE: the EPT format (Intel SDM vol. 3, 29.3.2). */
#define EPTE_R BIT(0)
#define EPTE_W BIT(1)
#define EPTE_X BIT(2)
#define EPTE_RWX (EPTE_R | EPTE_W | EPTE_X)
#define EPTE_MT_WB (6ULL << 3) /* bits 5:3, leaves only */
#define EPTE_IPAT BIT(6)
#define EPTE_PS BIT(7)
#define EPTE_A BIT(8)
#define EPTE_D BIT(9)
#define EPTE_AD (EPTE_A | EPTE_D)

/* NPTE: the nested page table, the x86-64 format again (AMD APM vol. 2, 15.25.5). */
#define NPTE_P BIT(0)
#define NPTE_W BIT(1)
#define NPTE_U BIT(2)
#define NPTE_A BIT(5)
#define NPTE_D BIT(6)
#define NPTE_PS BIT(7)
#define NPTE_NX BIT(63)
#define NPTE_AD (NPTE_A | NPTE_D)

/* Physical-address bits of an entry (MAXPHYADDR 52); leaves above level 1 drop the low bits. */
#define PTE_ADDR_4K 0x000ffffffffff000ULL
#define PTE_ADDR_2M 0x000fffffffe00000ULL
#define PTE_ADDR_1G 0x000fffffc0000000ULL
#define PMAP_PA_LIMIT BIT(52)

/* EPTP: memory type WB, 4-level walk, A/D enable (SDM vol. 3, 25.6.11). */
#define EPTP_MT_WB 6ULL
#define EPTP_WALK_4 (3ULL << 3)
#define EPTP_AD BIT(6)

/*
 * THE LEVELS, described once: what one entry spans at each level, and which levels may hold a
 * leaf. One generic walker (pmap.c) serves map, unmap, protect, split, iterate and check from
 * this table. Capabilities do not add branches: pmap_create() copies the sizes into the pmap,
 * setting to 0 those that the CPU (cpu_1g) or, for guest-visible leaves, the odd half's
 * format (pmap_format.leaf_cap) cannot walk.
 */
struct pmap_level {
	unsigned shift; /* log2 of the bytes one entry spans */
	u64 leaf_addr; /* address bits of a leaf at this level; 0: no leaf here */
	kpte_t leaf_ps; /* KPTE_PS for a jumbo leaf, 0 at level 1 */
	bool cpu_1g; /* a leaf here needs CPUID 1 GiB pages */
};

static const struct pmap_level pmap_levels[PMAP_LEVELS + 1] = {
	[1] = { .shift = 12, .leaf_addr = PTE_ADDR_4K },
	[2] = { .shift = 21, .leaf_addr = PTE_ADDR_2M, .leaf_ps = KPTE_PS },
	[3] = { .shift = 30, .leaf_addr = PTE_ADDR_1G, .leaf_ps = KPTE_PS, .cpu_1g = true },
	[4] = { .shift = 39 },
};

/*
 * THE ODD HALF'S FORMAT, as data (see the top of this file). odd_from_kpte() builds every
 * entry from these fields alone; the checker, the A/D queries and the flush read them too.
 */
struct pmap_format {
	const char *name; /* "ept" or "npt" */
	u64 present; /* an entry is present when any of these bits is set */
	u64 table; /* an intermediate entry: (next pair + 4096) | table */
	u64 leaf; /* set in every guest-visible leaf: read, execute, memory type */
	u64 leaf_w; /* set in a guest-visible leaf whose KPTE has W */
	u64 leaf_ps; /* set in a guest-visible leaf above level 1 */
	u64 rights; /* bits that grant an access: clearing one takes a right away */
	u64 a, d; /* accessed and dirty, as the second-stage walker sets them */
	u64 leaf_cap[PMAP_LEVELS + 1]; /* IA32_VMX_EPT_VPID_CAP bit a leaf here needs; 0: none */
	bool invept; /* taking a right away needs INVEPT single-context (else only the gen) */
};

static const struct pmap_format pmap_format_ept = {
	.name = "ept",
	.present = EPTE_RWX,
	.table = EPTE_RWX,
	.leaf = EPTE_R | EPTE_X | EPTE_MT_WB,
	.leaf_w = EPTE_W,
	.leaf_ps = EPTE_PS,
	.rights = EPTE_RWX,
	.a = EPTE_A,
	.d = EPTE_D,
	.leaf_cap = { [2] = EPT_CAP_2M, [3] = EPT_CAP_1G },
	.invept = true,
};

static const struct pmap_format pmap_format_npt = {
	.name = "npt",
	.present = NPTE_P,
	.table = NPTE_P | NPTE_W | NPTE_U,
	.leaf = NPTE_P | NPTE_U,
	.leaf_w = NPTE_W,
	.leaf_ps = NPTE_PS,
	.rights = NPTE_P | NPTE_W | NPTE_U,
	.a = NPTE_A,
	.d = NPTE_D,
};

/* Bytes one entry at @lvl spans. */
static inline u64 pmap_level_size(unsigned lvl)
{
	return 1ULL << pmap_levels[lvl].shift;
}

/* The index of @va's entry in a table at @lvl. */
static inline unsigned pmap_index(u64 va, unsigned lvl)
{
	return (va >> pmap_levels[lvl].shift) & (PMAP_ENTRIES - 1);
}

/* ---- kpte_*: the KPT family ----------------------------------------------------------- */

static inline bool kpte_present(kpte_t k)
{
	return k & KPTE_P;
}

/* A present entry at @lvl is a leaf when it is at level 1 or has PS set. */
static inline bool kpte_is_leaf(kpte_t k, unsigned lvl)
{
	return lvl == 1 || (k & KPTE_PS);
}

static inline u64 kpte_leaf_addr_mask(unsigned lvl)
{
	return pmap_levels[lvl].leaf_addr;
}

/* The pair an intermediate KPTE points at (its even, KPT half). */
static inline paddr_t kpte_table(kpte_t k)
{
	return k & PTE_ADDR_4K;
}

/* The physical address a leaf KPTE at @lvl maps. */
static inline paddr_t kpte_leaf_pa(kpte_t k, unsigned lvl)
{
	return k & kpte_leaf_addr_mask(lvl);
}

/* The odd-half entry that shadows the KPTE at @p: the same slot in the odd half of the pair. */
static inline opte_t *kpte_to_odd(kpte_t *p)
{
	return (opte_t *)((uintptr_t)p + PAGE_SIZE);
}

/* The same slot, typed for a pmap in EPT format. */
static inline epte_t *kpte_to_epte(kpte_t *p)
{
	return kpte_to_odd(p);
}

/* The same slot, typed for a pmap in NPT format. */
static inline npte_t *kpte_to_npte(kpte_t *p)
{
	return kpte_to_odd(p);
}

/* ---- odd_*: the odd half, in any format ------------------------------------------------ */

static inline bool odd_present(const struct pmap_format *f, opte_t e)
{
	return e & f->present;
}

static inline u64 odd_ad(const struct pmap_format *f)
{
	return f->a | f->d;
}

/* KPTE A/D bits moved to where format @f keeps them. */
static inline opte_t kpte_ad_as_odd(const struct pmap_format *f, kpte_t k)
{
	return ((k & KPTE_A) ? f->a : 0) | ((k & KPTE_D) ? f->d : 0);
}

/* The accessed/dirty bits of an odd entry in format @f, moved to their KPTE positions. */
static inline kpte_t odd_ad_as_kpte(const struct pmap_format *f, opte_t e)
{
	return ((e & f->a) ? KPTE_A : 0) | ((e & f->d) ? KPTE_D : 0);
}

/*
 * THE derivation: the odd-half entry, in format @f, that must shadow KPTE @k at level @lvl
 * (see the invariant above). Pure; it ignores the KPTE's own A/D bits and its NX (guest-visible
 * implies guest-executable). Nothing else in Dyad computes an odd-half entry.
 */
static inline opte_t odd_from_kpte(const struct pmap_format *f, kpte_t k, unsigned lvl)
{
	if (!(k & KPTE_P) || !(k & KPTE_U))
		return 0;
	if (!kpte_is_leaf(k, lvl))
		return (kpte_table(k) + PAGE_SIZE) | f->table;
	if (!(k & KPTE_VIS))
		return 0;
	return kpte_leaf_pa(k, lvl) | f->leaf | ((k & KPTE_W) ? f->leaf_w : 0) |
	       (lvl > 1 ? f->leaf_ps : 0);
}

/* ---- epte_*, npte_*: the derivation in one format -------------------------------------- */

static inline epte_t epte_from_kpte(kpte_t k, unsigned lvl)
{
	return odd_from_kpte(&pmap_format_ept, k, lvl);
}

static inline npte_t npte_from_kpte(kpte_t k, unsigned lvl)
{
	return odd_from_kpte(&pmap_format_npt, k, lvl);
}

static inline bool epte_present(epte_t e)
{
	return odd_present(&pmap_format_ept, e);
}

static inline bool npte_present(npte_t e)
{
	return odd_present(&pmap_format_npt, e);
}

/* ---- the address space ---------------------------------------------------------------- */

/* Flags of pmap_map() and bits of struct pmap_leaf.flags. Readable is implied. */
#define PMAP_W BIT(0) /* writable */
#define PMAP_X BIT(1) /* executable */
#define PMAP_VISIBLE BIT(2) /* guest-visible: also mapped in the EPT */
#define PMAP_MAX_2M BIT(3) /* policy: no 1 GiB page for this mapping */
#define PMAP_MAX_4K BIT(4) /* policy: 4 KiB pages only */
/*
 * pmap_protect(), and reported: no access at all (PROT_NONE). The leaf and its frame stay, with
 * U clear: a user access faults as a protection fault, the odd entry is 0 (the guest sees
 * nothing), and a later protect with rights gives the same frame back. Reported alone: a
 * PMAP_NONE leaf reports no PMAP_W, PMAP_X or PMAP_VISIBLE.
 */
#define PMAP_NONE BIT(5)
#define PMAP_ACCESSED BIT(8) /* reported: A set in either half */
#define PMAP_DIRTY BIT(9) /* reported: D set in either half */
#define PMAP_PROT (PMAP_W | PMAP_X)
#define PMAP_AD (PMAP_ACCESSED | PMAP_DIRTY)
#define PMAP_POLICIES 3 /* page-size policies: none, PMAP_MAX_2M, PMAP_MAX_4K */
#define PMAP_MAP_FLAGS (PMAP_PROT | PMAP_VISIBLE | PMAP_MAX_2M | PMAP_MAX_4K) /* map's flags */

struct pmap {
	struct spinlock lock; /* guards both halves of every pair of this pmap, and the fields */
	cpumask_t loaded; /* CPUs with this KPT in CR3 (atomic; see SEVERAL CPUS above) */
	cpumask_t guest_cpus; /* CPUs that entered its guest since their last guest flush */
	/*
	 * The owner's region-table lock (kern/mm.c): a reader-writer spin word, > 0 readers
	 * (faults), -1 a writer (mmap, munmap, mprotect, brk). Taken before lock, never after.
	 */
	s32 mm_lock;
	paddr_t root; /* root pair: KPT PML4 at root, the odd half's PML4 at root + 4096 */
	const struct pmap_format *fmt; /* the odd half's format: pmap_boot_format at creation */
	bool guest_attached; /* between pmap_guest_root() and pmap_guest_detach() */
	u64 guest_tlb_gen; /* bumped when a right is taken from the odd half while attached */
	kpte_t nx; /* KPTE_NX, or 0 when the CPU has no NX */
	/*
	 * The levels trimmed by capabilities and policy: the bytes a leaf maps at
	 * [guest-visible][policy: none, PMAP_MAX_2M, PMAP_MAX_4K][level]; 0 = no leaf there.
	 */
	u64 page_size[2][PMAP_POLICIES][PMAP_LEVELS + 1];
	/* Counters. nr_pairs includes the root; pair_sum/pair_sq fingerprint the set of pairs. */
	u64 nr_pairs;
	u64 pair_sum, pair_sq;
	u64 nr_leaves[PMAP_LEVELS + 1]; /* present leaves per level */
	u64 nr_splits; /* jumbos split so far */
};

/* A leaf, as reported by lookup, iterate, unmap and clear_ad. */
struct pmap_leaf {
	u64 va; /* first address the leaf maps (aligned to size) */
	paddr_t pa; /* first frame it maps */
	u64 size; /* SZ_4K, SZ_2M or SZ_1G */
	u32 flags; /* PMAP_W, PMAP_X, PMAP_VISIBLE, PMAP_ACCESSED, PMAP_DIRTY */
};

/* Called under the pmap's lock: it must not call into the same pmap. Non-zero stops a walk. */
typedef int (*pmap_leaf_fn)(void *arg, const struct pmap_leaf *leaf);

/* The first broken invariant pmap_check() found. */
struct pmap_check_err {
	const char *what;
	u64 va; /* first address of the offending slot */
	unsigned lvl;
	kpte_t kpte;
	opte_t odd; /* the odd-half entry of the same slot */
};

/* Per CPU: the pmap whose KPT is in its CR3, NULL for the kernel's master tables. */
extern struct pmap *pmap_current_cpu[SMP_MAX_CPUS];
/* This CPU's. */
#define pmap_current (pmap_current_cpu[pmap_arch_cpu()])

/* The odd half's format of every pmap created from now on; set by pmap_kernel_half_init(). */
extern const struct pmap_format *pmap_boot_format;

/*
 * The odd half's format for a CPU with @f: NPT on a CPU with SVM and nested paging (AMD), EPT
 * otherwise (Intel with VMX; on a CPU with neither no guest ever walks it, and EPT's leaf
 * capabilities then do not limit page sizes: see pmap_create()).
 */
const struct pmap_format *pmap_format_for(const struct cpu_features *f);

/*
 * Records the kernel's master PML4 (@master at a kernel address, @master_pa its physical
 * address) and chooses pmap_boot_format from cpu_features, which cpu_detect() must have
 * filled. Every pmap created afterwards copies slots 256..511 into its KPT root; the kernel
 * must have populated all of those slots it will ever use before the first pmap_create().
 */
void pmap_kernel_half_init(const kpte_t *master, paddr_t master_pa);

/*
 * Makes @pm an empty address space: one root pair with the kernel half, its odd half in
 * pmap_boot_format. The page sizes it will use are fixed now from cpu_features and that
 * format. Returns 0 or -ENOMEM.
 */
int pmap_create(struct pmap *pm);

/*
 * Frees every pair of @pm. @fn (may be NULL) sees each leaf still mapped, so the caller can
 * release the frames. @pm must not be the active pmap.
 */
void pmap_destroy(struct pmap *pm, pmap_leaf_fn fn, void *arg);

/*
 * Maps [va, va + len) to [pa, pa + len) with @flags (PMAP_W, PMAP_X, PMAP_VISIBLE, and a page
 * size cap). Each piece gets the largest page that the alignment of va, pa and the remaining
 * length, the CPU, the odd half's format (for guest-visible mappings) and the cap allow. All of va,
 * pa and len are 4 KiB aligned, len > 0, the range lies below USER_TOP. Returns 0, -EINVAL, -EEXIST
 * if any page of the range is already mapped, or -ENOMEM; on error nothing changed.
 * No TLB flush: x86 caches no not-present translation (a second-stage walk may take one
 * spurious fault, which invalidates it).
 */
int pmap_map(struct pmap *pm, u64 va, paddr_t pa, u64 len, u32 flags);

/*
 * Maps the one page [va, va + size) to [pa, pa + size): the single-page path for faults, a
 * straight descent that costs a fraction of pmap_map(). @size is SZ_4K, SZ_2M or SZ_1G, va and
 * pa are aligned to it, va + size <= USER_TOP, @flags as for pmap_map(). The page is one leaf
 * of exactly @size: if @pm's format has no such leaf for @flags (no CPU 1 GiB pages, no EPT
 * 2M/1G for a guest-visible page in EPT format, or a PMAP_MAX_* cap), the call is -EINVAL
 * rather than a mapping by smaller pages; pmap_page_size_ok() says so in advance. Returns 0,
 * -EINVAL, -EEXIST if anything in the range is already mapped, or -ENOMEM; on error nothing
 * changed. No TLB flush, as for pmap_map().
 */
int pmap_map_page(struct pmap *pm, u64 va, paddr_t pa, u64 size, u32 flags);

/* True when pmap_map_page(@pm, ..., @size, @flags) would not be -EINVAL for the page size. */
bool pmap_page_size_ok(const struct pmap *pm, u64 size, u32 flags);

/*
 * Unmaps whatever is mapped in [va, va + len); holes are fine. A jumbo the range cuts is first
 * split into smaller pages; pairs left empty are freed. The frames stay the caller's: @fn
 * (may be NULL, its return value ignored) sees each leaf removed, with A/D OR'd over both
 * halves, AFTER every CPU that may cache it has flushed (the shootdown above; in batches of
 * FLUSH_LEAVES leaves), still under the pmap's lock: it may free the frame at once.
 * Returns 0, -EINVAL, or -ENOMEM (a split found no pair; nothing changed).
 */
int pmap_unmap(struct pmap *pm, u64 va, u64 len, pmap_leaf_fn fn, void *arg);

/*
 * Sets the protection of every page mapped in [va, va + len) to @prot (PMAP_W, PMAP_X;
 * readable is implied; guest visibility does not change), or takes every right away with
 * PMAP_NONE alone (the leaves and frames stay, see PMAP_NONE). Holes are skipped, cut jumbos
 * are split, A/D bits are kept. The guest's rights follow W only: a guest-visible page stays
 * guest-executable whatever PMAP_X says. Returns 0, -EINVAL, or -ENOMEM (nothing changed).
 */
int pmap_protect(struct pmap *pm, u64 va, u64 len, u32 prot);

/* Describes the leaf mapping @va in *@out (A/D OR'd over both halves). Returns 0 or -ENOENT. */
int pmap_lookup(struct pmap *pm, u64 va, struct pmap_leaf *out);

/*
 * Calls @fn for every leaf overlapping [va, va + len), in address order. Returns 0, -EINVAL,
 * or the first non-zero value @fn returned.
 */
int pmap_iterate(struct pmap *pm, u64 va, u64 len, pmap_leaf_fn fn, void *arg);

/*
 * Atomically clears the A/D bits in @which (PMAP_ACCESSED, PMAP_DIRTY) of every leaf
 * overlapping [va, va + len), in both halves, and calls @fn (may be NULL) for each leaf that
 * had any of them set, with the bits as they were. A bit set by hardware is never lost: it is
 * either reported or still set. Whole leaves, no split. Returns 0 or -EINVAL.
 */
int pmap_clear_ad(struct pmap *pm, u64 va, u64 len, u32 which, pmap_leaf_fn fn, void *arg);

/*
 * Verifies every invariant of @pm (the comment at the top of this file, the counters, and that
 * the set of pairs reachable from the root is exactly the set allocated: no leaked or shared
 * pair). Returns 0, or -EIO with the first violation in *@err (which may be NULL).
 */
int pmap_check(struct pmap *pm, struct pmap_check_err *err);

/*
 * The guest-physical root of @pm: root + 4096, the odd half's PML4 (AMD: the nCR3 value).
 * Attaches @pm to a guest: from this call until pmap_guest_detach(), every change that takes a
 * right away from the odd half bumps pm->guest_tlb_gen and, in EPT format while VMX is on,
 * ends with INVEPT single-context. In EPT format with VMX on, the call itself also runs one
 * INVEPT, dropping whatever an earlier user of the same root left cached.
 */
paddr_t pmap_guest_root(struct pmap *pm);

/*
 * The EPTP for @pm (EPT format only): pmap_guest_root() (which it calls, attaching @pm), memory
 * type WB, 4-level walk, A/D enabled when the CPU has EPT A/D.
 */
u64 pmap_eptp(struct pmap *pm);

/*
 * Ends what pmap_guest_root() began, when the last vCPU using @pm is gone: a last INVEPT (EPT
 * format, VMX on) and a last generation bump, then changes flush nothing beyond the host TLB.
 * Call it before VMX is turned off. Harmless on a pmap that is not attached.
 */
void pmap_guest_detach(struct pmap *pm);

/*
 * The VMX code says whether THIS CPU is in VMX operation (after VMXON: true; before VMXOFF:
 * false). INVEPT is issued only on a CPU that is. After VMXON the VMX code must itself run INVEPT
 * all-context before the first VM entry: EPT translations may survive VMXOFF.
 */
void pmap_vmx_operation(bool on);

/*
 * The guest TLB generation of @pm: the SVM backend flushes the vCPU's nested translations (new
 * ASID or TLB_CONTROL) before a VMRUN whenever this differs from the value it last flushed for.
 */
static inline u64 pmap_guest_tlb_gen(const struct pmap *pm)
{
	return __atomic_load_n(&pm->guest_tlb_gen, __ATOMIC_ACQUIRE);
}

/*
 * What the guest may do through leaf @l as pmap_lookup() reported it: 0 when it is not
 * guest-visible, else PMAP_X, plus PMAP_W when the VMM mapped it writable (read is implied).
 */
static inline u32 pmap_leaf_guest_prot(const struct pmap_leaf *l)
{
	return (l->flags & PMAP_VISIBLE) ? PMAP_X | (l->flags & PMAP_W) : 0;
}

/*
 * Loads the KPT of @pm into CR3 (NULL: the kernel's master PML4) and makes it this CPU's
 * pmap_current: sets this CPU in @pm->loaded before the CR3 write and clears it in the pmap
 * it leaves after. Call with preemption (interrupts) off or from a context that cannot move
 * to another CPU between the two.
 */
void pmap_activate(struct pmap *pm);

/*
 * The VM entry path calls this with interrupts off immediately before each VMLAUNCH/VMRESUME/
 * VMRUN on @pm's odd half: this CPU may now cache its translations until the next guest flush.
 */
static inline void pmap_guest_enter(struct pmap *pm, unsigned cpu)
{
	if (!cpumask_test(&pm->guest_cpus, cpu))
		cpumask_set_atomic(&pm->guest_cpus, cpu);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Counters of the shootdowns since boot (all pmaps): for the ktests and the benchmark. */
struct pmap_shootdown_stats {
	u64 ops; /* flushes that reached the end of an operation or a batch */
	u64 remote; /* of those, the ones that sent an IPI to another CPU */
	u64 host_cpus, guest_cpus; /* CPUs asked to flush their host / guest side */
	u64 sent[SMP_MAX_CPUS]; /* per CPU: shootdowns that named it as a target */
	u64 ran[SMP_MAX_CPUS]; /* per CPU: shootdown functions it ran (must equal sent) */
};
extern struct pmap_shootdown_stats pmap_shootdowns;

#ifdef PMAP_DEBUG
/* Debug builds run pmap_check() after every pmap_debug_interval-th operation (default 1). */
extern unsigned pmap_debug_interval;
#endif

/* Writes CR3. Out of line: the host test shim counts it instead. */
void pmap_arch_load_cr3(paddr_t pa);
/* This CPU's index (the host shim returns a settable value). */
unsigned pmap_arch_cpu(void);
/* Runs @fn(@arg) on every other online CPU of @mask and waits for them (smp_call_mask). */
void pmap_arch_shootdown(const cpumask_t *mask, void (*fn)(void *), void *arg);
/* Runs a call IPI that waits for this CPU, if any: called while spinning for a pmap's lock. */
void pmap_arch_poll(void);

#endif
