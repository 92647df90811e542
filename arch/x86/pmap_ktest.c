// SPDX-License-Identifier: MIT
/*
 * In-kernel tests of the page-table pair, where the real MMU walks the tables the module
 * builds: accesses through user addresses land in the right frames (checked through the
 * direct map) at 4K, 2M and 1G, the CPU's A/D bits reach the API, and the TLB work of protect
 * and unmap really takes effect. Then what holds without a guest running: the odd half's
 * format follows the CPU, guest-visible pages are guest-executable, and the guest's flush
 * never runs INVEPT outside VMX operation. The checker runs at the end of every test.
 */
#include <arch/x86/cpu.h>
#include <arch/x86/kmap.h>
#include <arch/x86/memlayout.h>
#include <arch/x86/pmap.h>
#include <arch/x86/tlb.h>
#include <arch/x86/trap.h>
#include <dyad/errno.h>
#include <dyad/ktest.h>
#include <dyad/pmem.h>
#include <dyad/printf.h>
#include <dyad/string.h>
#include <dyad/uaccess.h>

#define KT_VA 0x40000000ULL /* 1 GiB: aligned for every page size */

/* Creates @pm with the kernel half (boot registered the kernel's master PML4). */
static bool kt_pmap_create(struct ktest_ctx *kt, struct pmap *pm)
{
	kpte_t *root;

	if (pmap_create(pm)) {
		ktest_fail(kt, __FILE__, __LINE__, "pmap_create: out of memory");
		return false;
	}
	root = pmem_va(pm->root);
	if (!root[pmap_index(KERNEL_VMA, PMAP_LEVELS)]) {
		ktest_fail(kt, __FILE__, __LINE__, "root has no kernel image slot");
		pmap_destroy(pm, NULL, NULL);
		return false;
	}
	return true;
}

/* Back to the master tables; check; destroy. */
static void kt_pmap_finish(struct ktest_ctx *kt, struct pmap *pm)
{
	struct pmap_check_err e = { 0 };

	pmap_activate(NULL);
	if (pmap_check(pm, &e))
		ktest_fail(kt, __FILE__, __LINE__, "pmap_check: %s at va %#llx level %u", e.what,
			   (unsigned long long)e.va, e.lvl);
	pmap_destroy(pm, NULL, NULL);
}

/*
 * These tests reach user mappings from the kernel on purpose, to see what the hardware does
 * with the tables: like uaccess, they open user access (SMAP) around each access.
 */
static u64 user_peek(u64 va)
{
	user_access_begin();
	u64 v = *(volatile u64 *)va;
	user_access_end();
	return v;
}

static void user_poke(u64 va, u64 v)
{
	user_access_begin();
	*(volatile u64 *)va = v;
	user_access_end();
}

static void write_u64(void *arg)
{
	user_poke((u64)arg, 0x1234);
}

static void read_u64(void *arg)
{
	user_peek((u64)arg);
}

/*
 * Maps a block of @order at KT_VA, expects a leaf of @size, then writes through the user
 * address and reads through the direct map (and back) at the first, a middle and the last page.
 */
static void kt_map_and_access(struct ktest_ctx *kt, unsigned order, u64 size)
{
	u64 bytes = PAGE_SIZE << order;
	u64 offs[3] = { 0, bytes / 2 + 8, bytes - 8 };
	struct pmap pm;
	struct pmap_leaf leaf;
	paddr_t pa = pmem_alloc(order);

	KT_ASSERT(kt, pa, "no free block of order %u", order);
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, order);
		return;
	}
	KT_EXPECT(kt, pmap_map(&pm, KT_VA, pa, bytes, PMAP_W | PMAP_VISIBLE) == 0, "map");
	KT_EXPECT(kt, pmap_lookup(&pm, KT_VA + bytes - 1, &leaf) == 0, "lookup");
	KT_EXPECT(kt, leaf.size == size, "leaf of %#llx bytes, expected %#llx",
		  (unsigned long long)leaf.size, (unsigned long long)size);
	pmap_activate(&pm);
	for (unsigned i = 0; i < 3; i++) {
		u64 user = KT_VA + offs[i];
		volatile u64 *direct = (volatile u64 *)((u8 *)pmem_va(pa) + offs[i]);

		user_poke(user, 0xd1ad0000ULL + i);
		KT_EXPECT(kt, *direct == 0xd1ad0000ULL + i, "direct map sees %#llx at +%#llx",
			  (unsigned long long)*direct, (unsigned long long)offs[i]);
		*direct = 0x5a5a0000ULL + i;
		KT_EXPECT(kt, user_peek(user) == 0x5a5a0000ULL + i,
			  "user address sees %#llx at +%#llx", (unsigned long long)user_peek(user),
			  (unsigned long long)offs[i]);
	}
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, order);
}

KTEST(pmap_4k_access_reaches_the_frame)
{
	kt_map_and_access(kt, 0, SZ_4K);
}

KTEST(pmap_2m_access_reaches_the_frame)
{
	kt_map_and_access(kt, 9, SZ_2M);
}

KTEST(pmap_1g_access_reaches_the_frame)
{
	/* without CPU 1 GiB pages the format falls back to 2M leaves */
	kt_map_and_access(kt, 18, cpu_features.page_1g ? SZ_1G : SZ_2M);
}

KTEST(pmap_cpu_sets_accessed_then_dirty)
{
	struct pmap pm;
	struct pmap_leaf leaf;
	paddr_t pa = pmem_alloc_zeroed(0);

	KT_ASSERT(kt, pa, "no frame");
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, 0);
		return;
	}
	KT_EXPECT(kt, pmap_map(&pm, KT_VA, pa, SZ_4K, PMAP_W) == 0, "map");
	pmap_activate(&pm);
	KT_EXPECT(kt, pmap_lookup(&pm, KT_VA, &leaf) == 0 && !(leaf.flags & PMAP_AD),
		  "fresh leaf has A/D %#x", (unsigned)(leaf.flags & PMAP_AD));
	user_peek(KT_VA);
	KT_EXPECT(kt,
		  pmap_lookup(&pm, KT_VA, &leaf) == 0 && (leaf.flags & PMAP_AD) == PMAP_ACCESSED,
		  "after a read: A/D %#x", (unsigned)(leaf.flags & PMAP_AD));
	user_poke(KT_VA, 1);
	KT_EXPECT(kt, pmap_lookup(&pm, KT_VA, &leaf) == 0 && (leaf.flags & PMAP_AD) == PMAP_AD,
		  "after a write: A/D %#x", (unsigned)(leaf.flags & PMAP_AD));
	/* cleared while active: the flush makes the CPU set D again on the next write */
	KT_EXPECT(kt, pmap_clear_ad(&pm, KT_VA, SZ_4K, PMAP_AD, NULL, NULL) == 0, "clear_ad");
	KT_EXPECT(kt, pmap_lookup(&pm, KT_VA, &leaf) == 0 && !(leaf.flags & PMAP_AD),
		  "after clear: A/D %#x", (unsigned)(leaf.flags & PMAP_AD));
	user_poke(KT_VA, 2);
	KT_EXPECT(kt, pmap_lookup(&pm, KT_VA, &leaf) == 0 && (leaf.flags & PMAP_DIRTY),
		  "write after clear: A/D %#x", (unsigned)(leaf.flags & PMAP_AD));
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, 0);
}

KTEST(pmap_write_to_read_only_faults)
{
	struct pmap pm;
	struct fault_info fi = { 0 };
	paddr_t pa = pmem_alloc_zeroed(9);
	u64 va = KT_VA + SZ_2M + 3 * SZ_4K;

	KT_ASSERT(kt, pa, "no 2M block");
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, 9);
		return;
	}
	KT_EXPECT(kt, pmap_map(&pm, KT_VA + SZ_2M, pa, SZ_2M, 0) == 0, "map");
	pmap_activate(&pm);
	KT_EXPECT(kt, !trap_catch(read_u64, (void *)va, &fi), "read of a read-only page faulted");
	KT_EXPECT(kt, trap_catch(write_u64, (void *)va, &fi), "write to a read-only page passed");
	KT_EXPECT(kt,
		  fi.vector == T_PF && (fi.error & (PF_P | PF_W)) == (PF_P | PF_W) && fi.cr2 == va,
		  "fault vector %llu error %#llx cr2 %#llx", (unsigned long long)fi.vector,
		  (unsigned long long)fi.error, (unsigned long long)fi.cr2);
	KT_EXPECT(kt, *(u64 *)((u8 *)pmem_va(pa) + 3 * SZ_4K) == 0, "the write landed");
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, 9);
}

KTEST(pmap_protect_and_unmap_take_effect_while_active)
{
	struct pmap pm;
	struct fault_info fi = { 0 };
	paddr_t pa = pmem_alloc_zeroed(9);
	u64 va = KT_VA + 5 * SZ_4K;

	KT_ASSERT(kt, pa, "no 2M block");
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, 9);
		return;
	}
	KT_EXPECT(kt, pmap_map(&pm, KT_VA, pa, SZ_2M, PMAP_W) == 0, "map");
	pmap_activate(&pm);
	/* the TLB now caches the writable 2M translation */
	KT_EXPECT(kt, !trap_catch(write_u64, (void *)va, &fi), "write to a writable page");
	/* protecting one 4K page splits the 2M leaf and must flush the cached one */
	KT_EXPECT(kt, pmap_protect(&pm, va, SZ_4K, 0) == 0, "protect");
	KT_EXPECT(kt, trap_catch(write_u64, (void *)va, &fi), "write after protect passed");
	KT_EXPECT(kt, !trap_catch(write_u64, (void *)(va + SZ_4K), &fi), "neighbour lost W");
	KT_EXPECT(kt, pmap_unmap(&pm, va + SZ_4K, SZ_4K, NULL, NULL) == 0, "unmap");
	KT_EXPECT(kt, trap_catch(read_u64, (void *)(va + SZ_4K), &fi) && !(fi.error & PF_P),
		  "read after unmap: error %#llx", (unsigned long long)fi.error);
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, 9);
}

static void call_code(void *arg)
{
	((void (*)(void))arg)();
}

/* With SMEP the kernel cannot be tricked into running user (or guest) memory. */
KTEST(kernel_cannot_execute_user_page)
{
	struct pmap pm;
	struct fault_info fi = { 0 };
	paddr_t pa = pmem_alloc_zeroed(0);

	KT_ASSERT(kt, pa, "no page");
	if (!cpu_features.smep) {
		pmem_free(pa, 0);
		KT_SKIP(kt, "this CPU has no SMEP");
	}
	*(u8 *)pmem_va(pa) = 0xc3; /* ret */
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, 0);
		return;
	}
	KT_EXPECT(kt, pmap_map(&pm, KT_VA, pa, SZ_4K, PMAP_X) == 0, "map");
	pmap_activate(&pm);
	KT_EXPECT(kt, trap_catch(call_code, (void *)KT_VA, &fi), "the kernel ran a user page");
	KT_EXPECT(kt, fi.vector == T_PF && (fi.error & PF_I) && fi.rip == KT_VA,
		  "fault vector %llu error %#llx rip %#llx", (unsigned long long)fi.vector,
		  (unsigned long long)fi.error, (unsigned long long)fi.rip);
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, 0);
}

static void kernel_read_u64(void *arg)
{
	(void)*(volatile u64 *)arg;
}

/*
 * With SMAP a kernel access to a user page faults unless it is inside uaccess (AC set), so a
 * stray kernel pointer into user (or guest) memory is caught, not followed.
 */
KTEST(kernel_touching_user_page_outside_uaccess_faults)
{
	struct pmap pm;
	struct fault_info fi = { 0 };
	paddr_t pa = pmem_alloc_zeroed(0);
	u64 v = 0;

	KT_ASSERT(kt, pa, "no page");
	if (!cpu_features.smap) {
		pmem_free(pa, 0);
		KT_SKIP(kt, "this CPU has no SMAP");
	}
	*(u64 *)pmem_va(pa) = 0x5eed;
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, 0);
		return;
	}
	KT_EXPECT(kt, pmap_map(&pm, KT_VA, pa, SZ_4K, PMAP_W) == 0, "map");
	pmap_activate(&pm);
	KT_EXPECT(kt, trap_catch(kernel_read_u64, (void *)KT_VA, &fi),
		  "the kernel read a user page outside uaccess");
	KT_EXPECT(kt,
		  fi.vector == T_PF && (fi.error & PF_P) && !(fi.error & PF_U) && fi.cr2 == KT_VA,
		  "fault vector %lu error %#lx cr2 %#lx", fi.vector, fi.error, fi.cr2);
	KT_EXPECT(kt, !(read_rflags() & RFLAGS_AC), "AC left set after the caught fault");
	KT_EXPECT(kt, copy_from_user(&v, KT_VA, sizeof(v)) == 0 && v == 0x5eed,
		  "copy_from_user read %#lx", v);
	KT_EXPECT(kt, !(read_rflags() & RFLAGS_AC), "AC left set after copy_from_user");
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, 0);
}

/*
 * The odd half's format follows the CPU: nested x86-64 (NPT) on AMD with SVM and nested
 * paging (QEMU's -cpu max under TCG), EPT on Intel (Bochs), and every new pmap takes it.
 */
KTEST(pmap_odd_format_matches_the_cpu)
{
	struct pmap pm;
	/* Hygon's CPUs are AMD's design (Zen), SVM included. */
	bool amd = !strcmp(cpu_features.vendor, "AuthenticAMD") ||
		   !strcmp(cpu_features.vendor, "HygonGenuine");
	const char *want = (amd && cpu_features.svm && cpu_features.npt) ? "npt" : "ept";

	printf("# %s svm=%d npt=%d vmx=%d: odd half in %s format\n", cpu_features.vendor,
	       cpu_features.svm, cpu_features.npt, cpu_features.vmx, pmap_boot_format->name);
	KT_EXPECT(kt, !strcmp(pmap_boot_format->name, want), "boot format %s, expected %s",
		  pmap_boot_format->name, want);
	KT_EXPECT(kt, !cpu_features.svm || amd, "SVM on a CPU that is neither AMD nor Hygon");
	if (!strcmp(cpu_features.vendor, "GenuineIntel"))
		KT_EXPECT(kt, !strcmp(pmap_boot_format->name, "ept"), "Intel CPU without EPT");
	if (!kt_pmap_create(kt, &pm))
		return;
	KT_EXPECT(kt, pm.fmt == pmap_boot_format, "pmap created in format %s", pm.fmt->name);
	kt_pmap_finish(kt, &pm);
}

/*
 * Guest-visible implies guest-executable: a page the VMM maps writable and not executable is
 * NX in the KPT, and the odd half grants the guest read, write and execute, read against the
 * hardware encodings (EPT: R W X bits 0-2, WB in bits 5:3; NPT: P W U, NX bit 63 clear).
 */
KTEST(pmap_guest_visible_leaf_is_guest_executable)
{
	struct pmap pm;
	struct pmap_leaf leaf;
	paddr_t pa = pmem_alloc_zeroed(0);
	kpte_t *t;
	u64 e;

	KT_ASSERT(kt, pa, "no frame");
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, 0);
		return;
	}
	KT_EXPECT(kt, pmap_map(&pm, KT_VA, pa, SZ_4K, PMAP_W | PMAP_VISIBLE) == 0, "map");
	/* Without NX the host cannot refuse execution: the leaf is host-executable then. */
	KT_EXPECT(kt,
		  pmap_lookup(&pm, KT_VA, &leaf) == 0 &&
			  (!cpu_features.nx || !(leaf.flags & PMAP_X)) &&
			  pmap_leaf_guest_prot(&leaf) == (PMAP_W | PMAP_X),
		  "leaf flags %#x", (unsigned)leaf.flags);
	t = pmem_va(pm.root);
	for (unsigned lvl = PMAP_LEVELS; lvl > 1; lvl--)
		t = pmem_va(kpte_table(t[pmap_index(KT_VA, lvl)]));
	t += pmap_index(KT_VA, 1);
	e = *kpte_to_odd(t);
	KT_EXPECT(kt, !cpu_features.nx || (*t & KPTE_NX), "the VMM can execute it: kpte %#llx",
		  (unsigned long long)*t);
	if (!strcmp(pm.fmt->name, "npt"))
		KT_EXPECT(kt, e == (pa | 0x7), "npte %#llx, expected %#llx", (unsigned long long)e,
			  (unsigned long long)(pa | 0x7));
	else
		KT_EXPECT(kt, e == (pa | 0x7 | (6 << 3)), "epte %#llx, expected %#llx",
			  (unsigned long long)e, (unsigned long long)(pa | 0x37));
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, 0);
}

static void invept_now(void *arg)
{
	tlb_invept_single(*(u64 *)arg);
}

/*
 * INVEPT outside VMX operation is #UD (not a VMfail), which is why the pair issues it only
 * between pmap_vmx_operation(true) and (false). Needs a CPU with VMX, left off.
 */
KTEST(invept_outside_vmx_operation_is_ud)
{
	struct fault_info fi = { 0 };
	u64 eptp = 0x1000 | EPTP_MT_WB | EPTP_WALK_4;

	if (!cpu_features.vmx)
		KT_SKIP(kt, "this CPU has no VMX");
	KT_EXPECT(kt, trap_catch(invept_now, &eptp, &fi) && fi.vector == T_UD,
		  "INVEPT with VMX off: vector %llu", (unsigned long long)fi.vector);
}

static void unmap_kt_page(void *arg)
{
	pmap_unmap(arg, KT_VA, SZ_4K, NULL, NULL);
}

/*
 * A pmap attached to a guest while VMX is off (no VM has turned it on): taking a right away
 * bumps the guest TLB generation and runs no INVEPT (which would be #UD), in either format;
 * detaching bumps it once more.
 */
KTEST(pmap_guest_flush_without_vmx_operation)
{
	struct pmap pm;
	struct fault_info fi = { 0 };
	paddr_t pa = pmem_alloc_zeroed(0);
	u64 gen;

	KT_ASSERT(kt, pa, "no frame");
	if (!kt_pmap_create(kt, &pm)) {
		pmem_free(pa, 0);
		return;
	}
	KT_EXPECT(kt, pmap_guest_root(&pm) == pm.root + PAGE_SIZE, "guest root");
	KT_EXPECT(kt, pmap_map(&pm, KT_VA, pa, SZ_4K, PMAP_W | PMAP_VISIBLE) == 0, "map");
	gen = pmap_guest_tlb_gen(&pm);
	/* a trap leaves the pmap locked: stop here rather than hang in the teardown */
	KT_ASSERT(kt, !trap_catch(unmap_kt_page, &pm, &fi), "unmap trapped: vector %llu",
		  (unsigned long long)fi.vector);
	KT_EXPECT(kt, pmap_guest_tlb_gen(&pm) == gen + 1, "generation %llu after unmap, was %llu",
		  (unsigned long long)pmap_guest_tlb_gen(&pm), (unsigned long long)gen);
	pmap_guest_detach(&pm);
	KT_EXPECT(kt, pmap_guest_tlb_gen(&pm) == gen + 2 && !pm.guest_attached, "detach");
	kt_pmap_finish(kt, &pm);
	pmem_free(pa, 0);
}
