// SPDX-License-Identifier: MIT
/*
 * Concurrency stress on one address space, seeded. Mutator threads mmap (4 KiB pages, and
 * whole huge 2 MiB slots), munmap and mprotect overlapping ranges of SLOTS 2 MiB slots, while
 * accessor threads fault pages in, read and write them, and a checker thread reads every live
 * page. Without signals a thread may only touch what is mapped, so each slot has a user-level
 * reader/writer lock, taken by try-lock only (nobody ever blocks on it): mutators change a
 * slot's mappings holding it exclusively, readers touch only pages the slot's table says are
 * mapped and readable (and write only writable ones).
 *
 * What the pages hold: word 0 is the page's tag (magic, slot, page, generation; a new mapping
 * is a new generation), or 0 until the mutator writes it; word 1 + k belongs to accessor k,
 * which remembers what it wrote there in this generation; every other word is 0. A reader
 * that sees anything else there (a stale tag, another page's data, another generation's
 * words, the kernel's poison for freed frames, or non-zero where nothing was written) counts
 * a sighting: a TLB entry that outlived its mapping on some CPU, or a frame reused before
 * every CPU flushed. Sightings must be 0, every kind of operation must have run, and every
 * system call must have succeeded. The stress runs in a child process (argv[1] "--run"); the
 * parent checks, on Dyad, that free frames are exactly back once that process has ended.
 *
 * argv: [SEED [SECONDS [ACCESSORS [HUGE]]]] (HUGE 0: no huge pages, to tell their part apart). SEED
 * is printed; without one (or with "-"), a new seed is taken from the TSC. Each thread's sequence
 * comes from the seed and its index; the interleaving is the scheduler's, so a replay repeats each
 * thread's choices, not their timing.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/mman.h>

#include "thr_lib.h"

#define SLOTS 16
#define SZ_2M (2UL << 20)
#define PAGES (SZ_2M / 4096)
#define WORDS (4096 / 8)
#define BASE 0x600000000000UL /* 2 MiB aligned, far from the image, heap and mmap area */
#define MUTATORS 2
#define MAX_ACCESSORS 8
#define DEFAULT_ACCESSORS 3
#define DEFAULT_SECONDS 30
#define MAX_RANGE 64 /* pages per mmap/munmap/mprotect */
#define MAX_REPORTS 10
#define TAG_MAGIC 0x7a6b000000000000UL
#define RUN_ROLE "--run"
/* What Dyad fills a freed frame with once every CPU has flushed it (MM_POISON, kern/mm.c). */
#define DYAD_POISON 0xd1adf7eed1adf7eeUL
/* Frames of a huge page are contiguous: a slot-wide mmap asks for one (Dyad's flag). */
#define PROT_RW (PROT_READ | PROT_WRITE)

enum op { OP_MAP, OP_MAP_HUGE, OP_UNMAP, OP_PROTECT, OP_READ, OP_WRITE, OP_CHECK, OP_KINDS };
static const char *const op_names[OP_KINDS] = { "mmap 4K",	"mmap 2M",    "munmap",
						"mprotect",	"page reads", "page writes",
						"checker pages" };

struct page_state {
	unsigned mapped : 1, tagged : 1;
	unsigned prot : 3;
	unsigned gen;
};

struct slot {
	atomic_int lock; /* -1: a mutator has it; n > 0: n readers */
	struct page_state page[PAGES];
};

static struct slot slots[SLOTS];
static atomic_uint next_gen = 1;
static atomic_int stop;
static atomic_long op_count[OP_KINDS];
static atomic_long sightings, syscall_failures, reports;
static int huge_flag;
static int accessors = DEFAULT_ACCESSORS;

static char *slot_addr(int s)
{
	return (char *)(BASE + (unsigned long)s * SZ_2M);
}

static int try_read(struct slot *s)
{
	int v = atomic_load(&s->lock);

	return v >= 0 && atomic_compare_exchange_strong(&s->lock, &v, v + 1);
}

static void read_done(struct slot *s)
{
	atomic_fetch_sub(&s->lock, 1);
}

static int try_write(struct slot *s)
{
	int v = 0;

	return atomic_compare_exchange_strong(&s->lock, &v, -1);
}

static void write_done(struct slot *s)
{
	atomic_store(&s->lock, 0);
}

static uint64_t tag_of(int s, int p, unsigned gen)
{
	return TAG_MAGIC | (uint64_t)s << 42 | (uint64_t)p << 32 | gen;
}

/* Accessor @k's words carry its index and the generation they were written in. */
static uint64_t aword(int k, unsigned gen, uint64_t n)
{
	return (uint64_t)(k + 1) << 56 | (uint64_t)(gen & 0xffffff) << 32 | (n & 0xffffffff);
}

static void sighting(const char *who, int s, int p, int w, uint64_t seen, uint64_t want)
{
	atomic_fetch_add(&sightings, 1);
	if (atomic_fetch_add(&reports, 1) < MAX_REPORTS) {
		const char *kind = seen == DYAD_POISON ? " (the poison of a freed frame)"
				   : (seen >> 48) == (TAG_MAGIC >> 48) ? " (a page tag)"
				   : !seen			       ? " (a fresh frame)"
								       : "";

		printf("#   sighting by %s: slot %d page %d word %d: %#lx, expected %#lx%s\n", who,
		       s, p, w, (unsigned long)seen, (unsigned long)want, kind);
	}
}

static void sys_failed(const char *what, long r, int s, int p, int n)
{
	atomic_fetch_add(&syscall_failures, 1);
	if (atomic_fetch_add(&reports, 1) < MAX_REPORTS)
		printf("#   %s of slot %d pages %d+%d failed: %ld\n", what, s, p, n, r);
}

/*
 * Checks one readable page against the slot's table (the caller holds the slot): the tag, the
 * accessor words (their owner and generation; @own, when given, is the caller's word and must
 * be exactly that), and zeros everywhere else, every @step words from @first.
 */
static void check_page(const char *who, int s, int p, int own_k, uint64_t own, int first, int step)
{
	const struct page_state *ps = &slots[s].page[p];
	volatile uint64_t *w = (volatile uint64_t *)(slot_addr(s) + (unsigned long)p * 4096);
	uint64_t want = ps->tagged ? tag_of(s, p, ps->gen) : 0;
	uint64_t v = w[0];

	if (v != want)
		sighting(who, s, p, 0, v, want);
	for (int k = 0; k < accessors; k++) {
		v = w[1 + k];
		if (k == own_k && v != own)
			sighting(who, s, p, 1 + k, v, own);
		else if (k != own_k && v &&
			 (v >> 56 != (uint64_t)k + 1 ||
			  ((v >> 32) & 0xffffff) != (ps->gen & 0xffffff)))
			sighting(who, s, p, 1 + k, v, aword(k, ps->gen, 0));
	}
	for (int i = first; i < (int)WORDS; i += step)
		if (i > accessors && (v = w[i]) != 0)
			sighting(who, s, p, i, v, 0);
}

/* ---- mutators ------------------------------------------------------------------------------ */

static void set_range(int s, int p, int n, int mapped, int prot, int fresh)
{
	for (int i = p; i < p + n; i++) {
		struct page_state *ps = &slots[s].page[i];

		ps->mapped = mapped;
		ps->prot = prot;
		if (fresh) {
			ps->gen = atomic_fetch_add(&next_gen, 1);
			ps->tagged = 0;
		}
	}
}

/* Writes the tag of each writable page of the range whose bit in @mask is set. */
static void tag_range(int s, int p, int n, uint64_t mask)
{
	for (int i = p; i < p + n; i++) {
		struct page_state *ps = &slots[s].page[i];

		if (ps->mapped && ps->prot == PROT_RW && (mask >> (i & 63) & 1)) {
			*(volatile uint64_t *)(slot_addr(s) + (unsigned long)i * 4096) =
				tag_of(s, i, ps->gen);
			ps->tagged = 1;
		}
	}
}

static void mutate(uint64_t *rng, int s)
{
	int kind = rng_next(rng) % 8;
	int n = 1 + rng_next(rng) % MAX_RANGE;
	int p = rng_next(rng) % (PAGES - n + 1);
	char *a = slot_addr(s) + (unsigned long)p * 4096;
	long r;

	if (kind == 0) { /* a whole huge slot, over whatever was there */
		r = sys6(SYS_mmap, (long)slot_addr(s), SZ_2M, PROT_RW,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | huge_flag, -1, 0);
		if (r != (long)slot_addr(s))
			return sys_failed("huge mmap", r, s, 0, PAGES);
		set_range(s, 0, PAGES, 1, PROT_RW, 1);
		tag_range(s, 0, PAGES, rng_next(rng));
		atomic_fetch_add(&op_count[OP_MAP_HUGE], 1);
	} else if (kind <= 3) { /* 4 KiB pages over part of the slot, mapped or not */
		r = sys6(SYS_mmap, (long)a, (long)n * 4096, PROT_RW,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (r != (long)a)
			return sys_failed("mmap", r, s, p, n);
		set_range(s, p, n, 1, PROT_RW, 1);
		tag_range(s, p, n, rng_next(rng));
		atomic_fetch_add(&op_count[OP_MAP], 1);
	} else if (kind <= 5) {
		r = sys2(SYS_munmap, a, (long)n * 4096);
		if (r)
			return sys_failed("munmap", r, s, p, n);
		set_range(s, p, n, 0, 0, 0);
		atomic_fetch_add(&op_count[OP_UNMAP], 1);
	} else {
		/* mprotect needs the whole range mapped: keep its mapped run from p. */
		int m = 0;
		static const int prots[] = { PROT_NONE, PROT_READ, PROT_RW, PROT_RW };
		int prot = prots[rng_next(rng) % 4];

		while (m < n && slots[s].page[p + m].mapped)
			m++;
		if (!m)
			return;
		r = sys3(SYS_mprotect, a, (long)m * 4096, prot);
		if (r)
			return sys_failed("mprotect", r, s, p, m);
		set_range(s, p, m, 1, prot, 0);
		atomic_fetch_add(&op_count[OP_PROTECT], 1);
	}
}

struct worker {
	pthread_t t;
	int k; /* accessor index, or -1 */
	uint64_t seed;
	/* accessor k: what it last wrote to each page, and in which generation */
	struct own {
		unsigned gen;
		uint64_t val;
	} * own;
};

static void *mutator_fn(void *arg)
{
	struct worker *me = arg;
	uint64_t rng = me->seed;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int s = rng_next(&rng) % SLOTS;

		if (!try_write(&slots[s]))
			continue;
		mutate(&rng, s);
		write_done(&slots[s]);
		if (rng_next(&rng) % 4 == 0)
			sys0(SYS_sched_yield);
	}
	return NULL;
}

/* ---- accessors and the checker --------------------------------------------------------------- */

static void access_range(struct worker *me, uint64_t *rng, int s)
{
	int n = 1 + rng_next(rng) % 16;
	int p = rng_next(rng) % (PAGES - n + 1);
	char who[16];

	snprintf(who, sizeof(who), "accessor %d", me->k);
	for (int i = p; i < p + n; i++) {
		const struct page_state *ps = &slots[s].page[i];
		struct own *o = &me->own[s * PAGES + i];

		if (!ps->mapped || !(ps->prot & PROT_READ))
			continue;
		uint64_t mine = o->gen == ps->gen ? o->val : 0;
		check_page(who, s, i, me->k, mine, 1 + accessors + rng_next(rng) % 8, 8);
		atomic_fetch_add_explicit(&op_count[OP_READ], 1, memory_order_relaxed);
		if (ps->prot == PROT_RW && rng_next(rng) % 2) {
			volatile uint64_t *w =
				(volatile uint64_t *)(slot_addr(s) + (unsigned long)i * 4096);
			uint64_t v = aword(me->k, ps->gen, rng_next(rng));

			w[1 + me->k] = v;
			o->gen = ps->gen;
			o->val = v;
			atomic_fetch_add_explicit(&op_count[OP_WRITE], 1, memory_order_relaxed);
		}
	}
}

static void *accessor_fn(void *arg)
{
	struct worker *me = arg;
	uint64_t rng = me->seed;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int s = rng_next(&rng) % SLOTS;

		if (!try_read(&slots[s]))
			continue;
		access_range(me, &rng, s);
		read_done(&slots[s]);
	}
	return NULL;
}

/* Reads every word of every readable page of every slot it can take, over and over. */
static void *checker_fn(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int s = 0; s < SLOTS; s++) {
			if (!try_read(&slots[s]))
				continue;
			for (int p = 0; p < (int)PAGES; p++) {
				const struct page_state *ps = &slots[s].page[p];

				if (!ps->mapped || !(ps->prot & PROT_READ))
					continue;
				check_page("checker", s, p, -1, 0, 1, 1);
				atomic_fetch_add_explicit(&op_count[OP_CHECK], 1,
							  memory_order_relaxed);
			}
			read_done(&slots[s]);
		}
	}
	return NULL;
}

/* The stress itself, in a process of its own; its exit status is the number of failures. */
static int stress_run(uint64_t seed, uint64_t secs, int huge)
{
	ut_begin("stress run");
	/* HUGE 0: slot-wide mappings of 4 KiB pages. Linux: transparent huge pages, if any. */
	huge_flag = on_dyad() && huge ? DYAD_MAP_HUGE : 0;

	struct worker w[MUTATORS + MAX_ACCESSORS + 1];
	int nw = MUTATORS + accessors + 1, started = 0;
	for (int i = 0; i < nw; i++) {
		w[i].k = i >= MUTATORS && i < MUTATORS + accessors ? i - MUTATORS : -1;
		w[i].seed = seed ^ ((uint64_t)(i + 1) * 0xd1b54a32d192ed03UL);
		w[i].own = w[i].k >= 0 ? calloc(SLOTS * PAGES, sizeof(*w[i].own)) : NULL;
		void *(*fn)(void *) = i < MUTATORS		 ? mutator_fn
				      : i < MUTATORS + accessors ? accessor_fn
								 : checker_fn;
		if ((w[i].k >= 0 && !w[i].own) || pthread_create(&w[i].t, NULL, fn, &w[i]))
			break;
		started++;
	}
	ut_eq(started, nw, "%d threads started", nw);
	long t0 = now_ns();
	while (started == nw && now_ns() - t0 < (long)secs * NS_PER_S)
		sleep_ns(NS_PER_S / 4);
	atomic_store(&stop, 1);
	for (int i = 0; i < started; i++)
		pthread_join(w[i].t, NULL);
	long dt = now_ns() - t0;

	for (int i = 0; i < OP_KINDS; i++)
		printf("#   %s: %ld\n", op_names[i], atomic_load(&op_count[i]));
	printf("#   ran %ld ms\n", dt / 1000000);
	ut_eq(atomic_load(&sightings), 0, "no thread read a byte its page no longer owns");
	ut_eq(atomic_load(&syscall_failures), 0, "every mmap, munmap and mprotect succeeded");
	for (int i = 0; i < OP_KINDS; i++)
		ut_ok(atomic_load(&op_count[i]) > 0, "%s happened (%ld)", op_names[i],
		      atomic_load(&op_count[i]));
	ut_eq(sys2(SYS_munmap, BASE, SLOTS * SZ_2M), 0, "munmap of all slots");
	ut_summary("stress run");
	return ut_failed;
}

int main(int argc, char **argv)
{
	uint64_t seed = rdtsc() * 0x9e3779b97f4a7c15UL, secs = DEFAULT_SECONDS, nacc = accessors,
		 huge = 1;
	/* argv[1] RUN_ROLE: the child that runs the stress, with the numbers already parsed. */
	int child = argc > 1 && strcmp(argv[1], RUN_ROLE) == 0;

	if (child) {
		argv++;
		argc--;
	} else {
		ut_begin("stress");
	}
	/* "-" as SEED: a new one, so that SECONDS can be given without a seed. */
	if ((argc > 1 && strcmp(argv[1], "-") != 0 && parse_u64(argv[1], &seed)) ||
	    (argc > 2 && parse_u64(argv[2], &secs)) ||
	    (argc > 3 && (parse_u64(argv[3], &nacc) || nacc < 1 || nacc > MAX_ACCESSORS)) ||
	    (argc > 4 && (parse_u64(argv[4], &huge) || huge > 1))) {
		printf("stress: usage: stress [SEED [SECONDS [ACCESSORS (1-%d) [HUGE (0/1)]]]]\n",
		       MAX_ACCESSORS);
		ut_ok(0, "arguments are numbers");
		return ut_end("stress");
	}
	accessors = (int)nacc;
	if (child)
		return stress_run(seed, secs, (int)huge);
	printf("# stress: seed %#lx, %lu s, %d mutators, %d accessors, 1 checker%s (replay: "
	       "/bin/stress %#lx %lu %d %lu)\n",
	       (unsigned long)seed, (unsigned long)secs, MUTATORS, accessors,
	       huge ? "" : ", no huge pages", (unsigned long)seed, (unsigned long)secs, accessors,
	       (unsigned long)huge);
	const char *why = threads_missing();
	if (why) {
		ut_skip("stress: concurrent mmap/munmap/mprotect with readers", "%s", why);
		return ut_end("stress");
	}

	/*
	 * The frames are counted around the whole process: a frame lost in a race (a page
	 * replaced without its frame going back) stays lost after the exit, while what musl and
	 * the kernel keep for a live process's threads and heap does not.
	 */
	char a_seed[24], a_secs[24], a_acc[8], a_huge[4];
	snprintf(a_seed, sizeof(a_seed), "%#lx", (unsigned long)seed);
	snprintf(a_secs, sizeof(a_secs), "%lu", (unsigned long)secs);
	snprintf(a_acc, sizeof(a_acc), "%d", accessors);
	snprintf(a_huge, sizeof(a_huge), "%lu", (unsigned long)huge);
	char *run_argv[] = {
		argc > 0 ? argv[0] : "/bin/stress", RUN_ROLE, a_seed, a_secs, a_acc, a_huge, NULL
	};
	unsigned long before = free_frames_now();
	long st = spawn_self(run_argv);
	unsigned long after = free_frames_now();
	ut_eq(st, 0, "the stress process found nothing wrong (exit status)");
	if (on_dyad())
		ut_eq(after, before, "free frames are exact after the stress process ended");
	else
		ut_skip("free frames are exact after the stress process ended",
			"not Dyad: no exact frame count");
	return ut_end("stress");
}
