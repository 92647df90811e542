// SPDX-License-Identifier: MIT
/*
 * The pair's EPTE encodings judged by an independent table. Everything else that checks EPTEs
 * (pmap_check, the model test) compares them with epte_from_kpte(), the function that writes
 * them; here the expected EPTE of every KPTE shape is worked out afresh from the Intel SDM,
 * vol. 3C, 29.3.2 "EPT Translation Mechanism" (the formats of the EPT PML4E, the PDPTE that
 * maps a 1-GByte page or references a page directory, the PDE that maps a 2-MByte page or
 * references a page table, and the PTE) and 29.3.3.1 "EPT Misconfigurations", with the bit
 * positions written out here rather than taken from pmap.h. Dyad's rule (pmap.h) says which
 * EPTE a KPTE must give; the SDM says what the bits of that EPTE are.
 *
 * Shapes: every combination of P, W, U, NX, VIS (bit 9) and PS (bit 7) at each level. At level
 * 1 bit 7 of a KPTE is PAT, not PS, and at level 4 it is reserved (SDM vol. 3A, 4.5: a PML4E
 * with bit 7 set is no translation at all); so level 4 takes the PS-clear shapes only, and
 * level 1's "PS" is the PAT bit, which must not make a leaf any larger.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arch/x86/pmap.h>

/*
 * The rule is "guest-visible implies guest-executable" (pmap.h): a guest-visible leaf's EPTE
 * has X set whatever the KPTE's NX. 0 would check the earlier rule (X is the absence of NX).
 * Only the X bit of guest-visible leaves with NX set depends on it.
 */
#define GUEST_VISIBLE_IMPLIES_X 1

/* The x86-64 paging entry (SDM vol. 3A, 4.5, tables 4-15 to 4-20). */
#define SDM_P (1ULL << 0)
#define SDM_RW (1ULL << 1)
#define SDM_US (1ULL << 2)
#define SDM_PS (1ULL << 7) /* PDPTE/PDE: maps a page; PTE: PAT; PML4E: reserved */
#define SDM_AVL9 (1ULL << 9) /* ignored by the CPU: Dyad's guest-visible bit */
#define SDM_PAT_LARGE (1ULL << 12) /* PAT of a PDPTE/PDE that maps a page */
#define SDM_XD (1ULL << 63)

/* The EPT entry (SDM vol. 3C, 29.3.2). */
#define SDM_EPT_R (1ULL << 0)
#define SDM_EPT_W (1ULL << 1)
#define SDM_EPT_X (1ULL << 2)
#define SDM_EPT_MT_SHIFT 3 /* bits 5:3 of an entry that maps a page: the memory type */
#define SDM_EPT_MT_MASK (7ULL << 3)
#define SDM_EPT_MT_WB 6ULL
#define SDM_EPT_IPAT (1ULL << 6)
#define SDM_EPT_LARGE (1ULL << 7) /* PDPTE/PDE: 1 maps a page, 0 references a table */
#define SDM_EPT_A (1ULL << 8)
#define SDM_EPT_D (1ULL << 9)

/* The names in pmap.h mean the SDM's bits. */
_Static_assert(KPTE_P == SDM_P && KPTE_W == SDM_RW && KPTE_U == SDM_US && KPTE_PS == SDM_PS &&
		       KPTE_VIS == SDM_AVL9 && KPTE_NX == SDM_XD,
	       "KPTE bits are the SDM's");
_Static_assert(EPTE_R == SDM_EPT_R && EPTE_W == SDM_EPT_W && EPTE_X == SDM_EPT_X &&
		       EPTE_MT_WB == (SDM_EPT_MT_WB << SDM_EPT_MT_SHIFT) &&
		       EPTE_IPAT == SDM_EPT_IPAT && EPTE_PS == SDM_EPT_LARGE &&
		       EPTE_A == SDM_EPT_A && EPTE_D == SDM_EPT_D,
	       "EPTE bits are the SDM's");

#define MAXPHYADDR 52 /* the widest the SDM allows; bits 51:MAXPHYADDR are reserved */
#define PA_BITS(lo) (((1ULL << MAXPHYADDR) - 1) & ~((1ULL << (lo)) - 1))

/* The physical addresses used: the next table's pair (8 KiB aligned), and a frame per level. */
#define TABLE_PAIR 0x7654000ULL
static const uint64_t leaf_frame[5] = { 0, 0x123456000ULL, 0x40200000ULL, 0x80000000ULL, 0 };
static const unsigned leaf_addr_lo[5] = { 0, 12, 21, 30, 0 }; /* lowest address bit of a leaf */

struct shape {
	int p, w, u, nx, vis, ps;
};

static uint64_t kpte_of(const struct shape *s, unsigned lvl, uint64_t addr)
{
	return addr | (s->p ? SDM_P : 0) | (s->w ? SDM_RW : 0) | (s->u ? SDM_US : 0) |
	       (s->nx ? SDM_XD : 0) | (s->vis ? SDM_AVL9 : 0) | (s->ps ? SDM_PS : 0);
}

/* A KPTE at @lvl maps a page (rather than referencing a table): SDM vol. 3A, 4.5. */
static int maps_page(const struct shape *s, unsigned lvl)
{
	return lvl == 1 || ((lvl == 2 || lvl == 3) && s->ps);
}

/*
 * The expected EPTE, from Dyad's rule and the SDM's formats:
 *   not present, or supervisor-only: not present in the EPT (R = W = X = 0, the whole entry 0);
 *   references a table: R, W, X all set (the leaves below decide), the address of the next
 *     EPT table, which is the odd half of the same pair (TABLE_PAIR + 4096), and bits 7:3 zero
 *     (reserved in a PML4E, bits 6:3 reserved and bit 7 "references a table" below it);
 *   maps a page but not guest-visible: 0;
 *   maps a guest-visible page: R, W as the KPTE's R/W, X by the rule above, memory type WB in
 *     bits 5:3 with IPAT clear (the guest's PAT applies), bit 7 set at levels 2 and 3 (maps a
 *     page), the frame's address with the bits below the page size zero (reserved in a
 *     PDPTE/PDE that maps a page: the KPTE's PAT bit 12 must not leak into them).
 */
static uint64_t sdm_expected(const struct shape *s, unsigned lvl)
{
	uint64_t e;

	if (!s->p || !s->u)
		return 0;
	if (!maps_page(s, lvl))
		return (TABLE_PAIR + 4096) | SDM_EPT_R | SDM_EPT_W | SDM_EPT_X;
	if (!s->vis)
		return 0;
	e = leaf_frame[lvl] | SDM_EPT_R | (SDM_EPT_MT_WB << SDM_EPT_MT_SHIFT);
	if (s->w)
		e |= SDM_EPT_W;
	if (GUEST_VISIBLE_IMPLIES_X || !s->nx)
		e |= SDM_EPT_X;
	if (lvl >= 2)
		e |= SDM_EPT_LARGE;
	return e;
}

/* The bits the CPU reads at @lvl for an entry that maps a page or not (the rest are ignored). */
static uint64_t sdm_meaningful(unsigned lvl, int page)
{
	uint64_t m = SDM_EPT_R | SDM_EPT_W | SDM_EPT_X | SDM_EPT_A | PA_BITS(12);

	if (page)
		m |= SDM_EPT_MT_MASK | SDM_EPT_IPAT | SDM_EPT_D | (lvl >= 2 ? SDM_EPT_LARGE : 0);
	else
		m |= 0xf8; /* bits 7:3: reserved, or bit 7 "references a table" */
	return m;
}

/* Returns NULL when @e is no EPT misconfiguration at @lvl (SDM 29.3.3.1), else the reason. */
static const char *sdm_misconfigured(uint64_t e, unsigned lvl)
{
	uint64_t mt = (e & SDM_EPT_MT_MASK) >> SDM_EPT_MT_SHIFT;
	int page = lvl == 1 || ((lvl == 2 || lvl == 3) && (e & SDM_EPT_LARGE));

	if (!(e & (SDM_EPT_R | SDM_EPT_W | SDM_EPT_X)))
		return NULL; /* not present: the other bits are not read */
	if ((e & SDM_EPT_W) && !(e & SDM_EPT_R))
		return "write without read";
	if ((e & SDM_EPT_X) && !(e & SDM_EPT_R))
		return "execute-only (needs IA32_VMX_EPT_VPID_CAP bit 0)";
	if (lvl == 4 && (e & 0xf8))
		return "PML4E bits 7:3 are reserved";
	if (!page && lvl != 4 && (e & 0x78))
		return "bits 6:3 of an entry that references a table are reserved";
	if (page && (mt == 2 || mt == 3 || mt == 7))
		return "reserved memory type";
	if (page && lvl >= 2 && (e & PA_BITS(12) & ~PA_BITS(leaf_addr_lo[lvl])))
		return "address bits below the page size are reserved";
	return NULL;
}

static void check_shape(const struct shape *s, unsigned lvl, uint64_t addr, unsigned *bad)
{
	uint64_t k = kpte_of(s, lvl, addr), want = sdm_expected(s, lvl);
	uint64_t got = epte_from_kpte(k, lvl);
	uint64_t care = want ? sdm_meaningful(lvl, maps_page(s, lvl)) : ~0ULL;
	const char *mis = sdm_misconfigured(got, lvl);

	/* A not-present EPTE must be 0 in its entirety, as pmap.h promises for KPTEs. */
	if (((got ^ want) & care) == 0 && !mis)
		return;
	if ((*bad)++ < 16)
		printf("level %u P%d W%d U%d NX%d VIS%d PS%d: KPTE %#018llx gives EPTE %#018llx, "
		       "the SDM table says %#018llx%s%s\n",
		       lvl, s->p, s->w, s->u, s->nx, s->vis, s->ps, (unsigned long long)k,
		       (unsigned long long)got, (unsigned long long)want, mis ? ": " : "",
		       mis ? mis : "");
}

/* Every shape at every level, with the plain address and with junk the EPTE must drop. */
static void every_shape_matches_the_sdm_table(void **state)
{
	unsigned bad = 0, checked = 0;

	(void)state;
	for (unsigned lvl = 1; lvl <= PMAP_LEVELS; lvl++)
		for (unsigned bits = 0; bits < 64; bits++) {
			struct shape s = { bits & 1,	 !!(bits & 2),	!!(bits & 4),
					   !!(bits & 8), !!(bits & 16), !!(bits & 32) };
			if (lvl == 4 && s.ps)
				continue; /* reserved: see the file comment */
			uint64_t addr = maps_page(&s, lvl) ? leaf_frame[lvl] : TABLE_PAIR;
			check_shape(&s, lvl, addr, &bad);
			checked++;
			if (maps_page(&s, lvl) && lvl >= 2) {
				check_shape(&s, lvl, addr | SDM_PAT_LARGE, &bad);
				checked++;
			}
		}
	printf("%u shapes checked, %u disagree with the SDM table\n", checked, bad);
	assert_int_equal(bad, 0);
}

/*
 * A few rows worked out by hand as numbers, so that the table function above is itself
 * checked against something that is not code.
 */
static void hand_worked_rows(void **state)
{
	static const struct {
		unsigned lvl;
		uint64_t kpte, epte;
	} rows[] = {
		/* 4 KiB, P W U VIS: R W X, WB */
		{ 1, 0x0000000123456207ULL, 0x0000000123456037ULL },
		/* 4 KiB, P U VIS NX: R, WB (and X under the new rule) */
		{ 1, 0x8000000123456205ULL,
		  GUEST_VISIBLE_IMPLIES_X ? 0x123456035ULL : 0x123456031ULL },
		/* 4 KiB, not guest-visible / supervisor / not present: nothing */
		{ 1, 0x0000000123456007ULL, 0 },
		{ 1, 0x0000000123456203ULL, 0 },
		{ 1, 0x0000000123456206ULL, 0 },
		/* 2 MiB, P W U PS VIS: R W X, WB, bit 7; with the KPTE's PAT bit 12: the same */
		{ 2, 0x0000000040200287ULL, 0x00000000402000b7ULL },
		{ 2, 0x0000000040201287ULL, 0x00000000402000b7ULL },
		/* 1 GiB, P U PS VIS NX, read-only: R, WB, bit 7 (and X under the new rule) */
		{ 3, 0x8000000080000285ULL,
		  GUEST_VISIBLE_IMPLIES_X ? 0x800000b5ULL : 0x800000b1ULL },
		/* tables: the odd half of the pair, RWX, whatever the KPTE's W, NX and VIS */
		{ 2, 0x0000000007654007ULL, 0x0000000007655007ULL },
		{ 3, 0x0000000007654207ULL, 0x0000000007655007ULL },
		{ 4, 0x8000000007654005ULL, 0x0000000007655007ULL },
		/* a supervisor-only table: nothing */
		{ 4, 0x0000000007654003ULL, 0 },
	};
	unsigned bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t got = epte_from_kpte(rows[i].kpte, rows[i].lvl);
		if (got != rows[i].epte) {
			printf("row %zu: level %u KPTE %#018llx gives %#018llx, want %#018llx\n", i,
			       rows[i].lvl, (unsigned long long)rows[i].kpte,
			       (unsigned long long)got, (unsigned long long)rows[i].epte);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* The A/D bits of the KPTE never show in the EPTE: the two walkers set their own. */
static void kpte_ad_bits_are_not_copied(void **state)
{
	(void)state;
	for (unsigned lvl = 1; lvl <= 3; lvl++) {
		uint64_t k = leaf_frame[lvl] | SDM_P | SDM_RW | SDM_US | SDM_AVL9 |
			     (lvl > 1 ? SDM_PS : 0);
		uint64_t ad = (1ULL << 5) | (1ULL << 6); /* KPTE accessed, dirty */
		assert_int_equal(epte_from_kpte(k | ad, lvl), epte_from_kpte(k, lvl));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_shape_matches_the_sdm_table),
		cmocka_unit_test(hand_worked_rows),
		cmocka_unit_test(kpte_ad_bits_are_not_copied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
