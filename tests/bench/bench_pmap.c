// SPDX-License-Identifier: MIT
/*
 * Benchmark of the page-table pair (figures, not pass/fail).
 *
 * The same operation trace runs on three designs: (a) the pair, arch/x86/pmap.c itself;
 * (b) a separate EPT tree synced by a second walk; (c) a per-frame paired_pfn array (both in
 * alt_designs.c). Every mapping is guest-visible (guest RAM, the case the pair exists for),
 * every address space has served as an EPTP, so each changing operation ends in one INVEPT
 * (counted by the shim, not executed).
 *
 * Phases, at each page size S of 4K, 2M, 1G:
 *   fault    one S page mapped per call through each design's single-page path
 *            (pmap_map_page() for the pair), in random order over a region: the
 *            demand-paging path (tables appear as the region fills)
 *   map      64 S pages per call, consecutive ranges
 *   protect  the same ranges made read-only
 *   unmap    the same ranges removed (emptied tables pruned)
 *
 * Usage: bench_pmap             prints ns per operation and memory figures
 *        bench_pmap --count     the run to do under valgrind --tool=callgrind
 *                               --collect-atstart=no: each phase is collected alone and
 *                               dumped as "<design>:<phase>:<size>:<ops>"
 *        bench_pmap --ir FILE   prints the full table, instructions per op read from FILE
 *                               (lines "<dump name> <Ir>", from run-bench.sh)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#include <arch/x86/memlayout.h>
#include <dyad/errno.h>

#include "bench.h"
#include "pmem_shim.h"

#define RANGE_PAGES 64
#define PA_BASE 0x200000000000ULL
#define VA_BASE 0x100000000000ULL /* 16 TiB: every PML4 slot used is fresh */
#define NSIZES 3
#define NPHASES 4
#define NDESIGNS 3

static const u64 sizes[NSIZES] = { SZ_4K, SZ_2M, SZ_1G };
static const char *const size_names[NSIZES] = { "4K", "2M", "1G" };
static const char *const phase_names[NPHASES] = { "fault", "map", "protect", "unmap" };
static const struct design *const designs[NDESIGNS] = { &design_pair, &design_sep, &design_pfn };
static const char *const design_keys[NDESIGNS] = { "a", "b", "c" };

/* Operations per phase: fault-ins, and 64-page ranges for the other phases. */
static const u64 fault_ops[NSIZES] = { 16384, 4096, 256 };
static const u64 range_ops[NSIZES] = { 1024, 64, 4 };

static bool counting;
static double ns_per_op[NDESIGNS][NPHASES][NSIZES];
static double ir_per_op[NDESIGNS][NPHASES][NSIZES];

/* ---- the pair, through its real API ----------------------------------------------------- */

static void *pair_create(void)
{
	struct pmap *pm = malloc(sizeof(*pm));

	if (!pm || pmap_create(pm))
		abort();
	pmap_guest_root(pm); /* serving a guest: reductions flush the guest's TLB too */
	return pm;
}

static void pair_destroy(void *as)
{
	pmap_destroy(as, NULL, NULL);
	free(as);
}

static int pair_map(void *as, u64 va, paddr_t pa, u64 len, u32 flags)
{
	return pmap_map(as, va, pa, len, flags);
}

static int pair_map_page(void *as, u64 va, paddr_t pa, u64 size, u32 flags)
{
	return pmap_map_page(as, va, pa, size, flags);
}

static int pair_unmap(void *as, u64 va, u64 len)
{
	return pmap_unmap(as, va, len, NULL, NULL);
}

static int pair_protect(void *as, u64 va, u64 len, u32 prot)
{
	return pmap_protect(as, va, len, prot);
}

static u64 pair_table_bytes(void *as)
{
	return ((struct pmap *)as)->nr_pairs * PMAP_PAIR_SIZE;
}

static u64 pair_meta(void)
{
	return 0;
}

const struct design design_pair = {
	.name = "(a) pair",
	.create = pair_create,
	.destroy = pair_destroy,
	.map = pair_map,
	.map_page = pair_map_page,
	.unmap = pair_unmap,
	.protect = pair_protect,
	.table_bytes = pair_table_bytes,
	.meta_bytes_per_gib_ram = pair_meta,
};

/* ---- phases ------------------------------------------------------------------------------ */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void must(int r, const char *what)
{
	if (r) {
		fprintf(stderr, "bench: %s failed: %d\n", what, r);
		exit(1);
	}
}

/* A fixed pseudo-random permutation of 0..n-1 (the same for every design). */
static u64 *permutation(u64 n)
{
	u64 *p = malloc(n * sizeof(u64)), x = 0x9e3779b97f4a7c15ULL;

	for (u64 i = 0; i < n; i++)
		p[i] = i;
	for (u64 i = n - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u64 j = x % (i + 1), t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
	return p;
}

struct phase {
	double t0;
	char name[64];
};

static void phase_begin(struct phase *ph, unsigned d, unsigned p, unsigned s, u64 ops)
{
	snprintf(ph->name, sizeof(ph->name), "%s:%s:%s:%llu", design_keys[d], phase_names[p],
		 size_names[s], (unsigned long long)ops);
	if (counting)
		CALLGRIND_TOGGLE_COLLECT;
	ph->t0 = now_ns();
}

static void phase_end(struct phase *ph, unsigned d, unsigned p, unsigned s, u64 ops)
{
	double ns = (now_ns() - ph->t0) / ops;

	if (counting) {
		CALLGRIND_TOGGLE_COLLECT;
		CALLGRIND_DUMP_STATS_AT(ph->name);
	}
	if (ns_per_op[d][p][s] == 0 || ns < ns_per_op[d][p][s])
		ns_per_op[d][p][s] = ns;
}

static void run_design(unsigned d, u64 *perms[NSIZES])
{
	const struct design *ds = designs[d];
	const u32 fl = PMAP_W | PMAP_X | PMAP_VISIBLE;
	struct phase ph;

	for (unsigned s = 0; s < NSIZES; s++) {
		u64 S = sizes[s], span = RANGE_PAGES * S;
		void *as = ds->create();

		/* fault-in: one page per call, random order over a region of 4x the pages */
		phase_begin(&ph, d, 0, s, fault_ops[s]);
		for (u64 i = 0; i < fault_ops[s]; i++) {
			u64 k = perms[s][i];

			must(ds->map_page(as, VA_BASE + k * S, PA_BASE + k * S, S, fl), "fault-in");
		}
		phase_end(&ph, d, 0, s, fault_ops[s]);
		ds->destroy(as);

		as = ds->create();
		phase_begin(&ph, d, 1, s, range_ops[s]);
		for (u64 i = 0; i < range_ops[s]; i++)
			must(ds->map(as, VA_BASE + i * span, PA_BASE + i * span, span, fl), "map");
		phase_end(&ph, d, 1, s, range_ops[s]);
		phase_begin(&ph, d, 2, s, range_ops[s]);
		for (u64 i = 0; i < range_ops[s]; i++)
			must(ds->protect(as, VA_BASE + i * span, span, 0), "protect");
		phase_end(&ph, d, 2, s, range_ops[s]);
		phase_begin(&ph, d, 3, s, range_ops[s]);
		for (u64 i = 0; i < range_ops[s]; i++)
			must(ds->unmap(as, VA_BASE + i * span, span), "unmap");
		phase_end(&ph, d, 3, s, range_ops[s]);
		ds->destroy(as);
	}
}

/* Page-table bytes per GiB mapped with @S pages, guest-visible or host-only. */
static double table_bytes_per_gib(const struct design *ds, u64 S, bool visible)
{
	void *as = ds->create();
	u64 empty = ds->table_bytes(as), gibs = 4, bytes;

	u32 cap = S == SZ_4K ? PMAP_MAX_4K : S == SZ_2M ? PMAP_MAX_2M : 0;

	for (u64 i = 0; i < gibs; i++)
		must(ds->map(as, VA_BASE + i * SZ_1G, PA_BASE + i * SZ_1G, SZ_1G,
			     PMAP_W | cap | (visible ? PMAP_VISIBLE : 0)),
		     "map for memory");
	bytes = ds->table_bytes(as) - empty;
	ds->destroy(as);
	return (double)bytes / gibs;
}

static void read_ir(const char *file)
{
	FILE *f = fopen(file, "r");
	char name[128];
	unsigned long long ir;

	if (!f) {
		perror(file);
		exit(1);
	}
	while (fscanf(f, "%127s %llu", name, &ir) == 2) {
		char *key[4] = { strtok(name, ":") };

		for (unsigned i = 1; i < 4; i++)
			key[i] = strtok(NULL, ":");
		if (!key[3])
			continue;
		for (unsigned i = 0; i < NDESIGNS * NPHASES * NSIZES; i++) {
			unsigned d = i / (NPHASES * NSIZES), p = i / NSIZES % NPHASES;
			unsigned s = i % NSIZES;

			if (!strcmp(key[0], design_keys[d]) && !strcmp(key[1], phase_names[p]) &&
			    !strcmp(key[2], size_names[s]))
				ir_per_op[d][p][s] = (double)ir / strtoull(key[3], NULL, 0);
		}
	}
	fclose(f);
}

static double ratio(double x, double y)
{
	return y ? x / y : 0;
}

static void print_tables(bool have_ir)
{
	printf("\n### Per operation (%s; ns native, best of 3; the pair's odd half in %s "
	       "format)\n\n",
	       have_ir ? "instructions (Ir) under callgrind" : "no Ir: run `make bench`",
	       pmap_boot_format->name);
	printf("| op | size | (a) pair Ir | (b) sep Ir | (c) pfn Ir | a/b | a/c "
	       "| (a) ns | (b) ns | (c) ns |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned p = 0; p < NPHASES; p++)
		for (unsigned s = 0; s < NSIZES; s++) {
			double *ir = (double[]){ ir_per_op[0][p][s], ir_per_op[1][p][s],
						 ir_per_op[2][p][s] };

			printf("| %s%s | %s | %.0f | %.0f | %.0f | %.2f | %.2f "
			       "| %.0f | %.0f | %.0f |\n",
			       phase_names[p], p ? " (64 pages)" : " (1 page)", size_names[s],
			       ir[0], ir[1], ir[2], ratio(ir[0], ir[1]), ratio(ir[0], ir[2]),
			       ns_per_op[0][p][s], ns_per_op[1][p][s], ns_per_op[2][p][s]);
		}
	printf("\nTarget: fault-in (a)/(b) <= 0.60 instructions; measured 4K %.2f, 2M %.2f, "
	       "1G %.2f.\n",
	       ratio(ir_per_op[0][0][0], ir_per_op[1][0][0]),
	       ratio(ir_per_op[0][0][1], ir_per_op[1][0][1]),
	       ratio(ir_per_op[0][0][2], ir_per_op[1][0][2]));
	printf("\n### Memory\n\n");
	printf("| mapped as | (a) pair | (b) sep | (c) pfn | a/b | a/c |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	for (int vis = 1; vis >= 0; vis--)
		for (unsigned s = 0; s < NSIZES; s++) {
			double b[NDESIGNS];

			for (unsigned d = 0; d < NDESIGNS; d++)
				b[d] = table_bytes_per_gib(designs[d], sizes[s], vis);
			printf("| page-table bytes per GiB, %s pages, %s | %.0f | %.0f | %.0f "
			       "| %.2f | %.2f |\n",
			       size_names[s], vis ? "guest-visible" : "host-only", b[0], b[1], b[2],
			       ratio(b[0], b[1]), ratio(b[0], b[2]));
		}
	printf("| metadata bytes per GiB of RAM, besides tables | %llu | %llu | %llu | - | - |\n",
	       (unsigned long long)designs[0]->meta_bytes_per_gib_ram(),
	       (unsigned long long)designs[1]->meta_bytes_per_gib_ram(),
	       (unsigned long long)designs[2]->meta_bytes_per_gib_ram());
	printf("| metadata bytes per address space (struct pmap) | %zu | - | - | - | - |\n",
	       sizeof(struct pmap));
}

int main(int argc, char **argv)
{
	u64 *perms[NSIZES];
	const char *ir_file = NULL;

	counting = argc > 1 && !strcmp(argv[1], "--count");
	if (argc > 2 && !strcmp(argv[1], "--ir"))
		ir_file = argv[2];
	shim_cpu_full();
	/*
	 * PMAP_BENCH_FORMAT=npt: the pair's odd half in NPT format, as on an AMD CPU with SVM
	 * and nested paging. The other designs keep their EPT shape (and its capabilities).
	 */
	if (getenv("PMAP_BENCH_FORMAT") && !strcmp(getenv("PMAP_BENCH_FORMAT"), "npt")) {
		cpu_features.svm = true;
		cpu_features.npt = true;
	}
	pmap_kernel_half_init(NULL, 0);
	pmap_vmx_operation(cpu_features.vmx);
	for (unsigned s = 0; s < NSIZES; s++)
		perms[s] = permutation(4 * fault_ops[s]);
	for (unsigned rep = 0; rep < (counting ? 1 : 3); rep++)
		for (unsigned d = 0; d < NDESIGNS; d++)
			run_design(d, perms);
	if (counting)
		return 0;
	if (ir_file)
		read_ir(ir_file);
	print_tables(ir_file != NULL);
	return 0;
}
