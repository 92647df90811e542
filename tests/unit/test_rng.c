// SPDX-License-Identifier: MIT
/*
 * The randomized tests' generator (test_rng.h): every seed gives its own sequence, a seed
 * replays its sequence, a developer's seeds taken back to back differ, and a seed that is not
 * a number is refused. Seeds go in the way a developer gives them, through the environment.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_rng.h"

#define PROBE "TEST_RNG_PROBE"
#define BULK_SEEDS 65536
#define STREAM 64

/* Seeds from @env_value as a developer would (NULL: unset), with stdout kept quiet. */
static void seed_quietly(const char *env_value)
{
	int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);

	assert_true(saved >= 0 && null >= 0);
	fflush(stdout);
	dup2(null, STDOUT_FILENO);
	if (env_value)
		setenv(PROBE, env_value, 1);
	else
		unsetenv(PROBE);
	rnd_seed_from_env(PROBE);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(null);
}

static void seed_with(u64 seed)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%#llx", (unsigned long long)seed);
	seed_quietly(buf);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @v and fails on the first value that appears twice. */
static void assert_all_distinct(u64 *v, size_t n, const char *what)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			fail_msg("%s: %#llx appears twice", what, (unsigned long long)v[i]);
}

/* Seeds 2k and 2k + 1 once gave the same run (the state was seed | 1). */
static void seeds_differing_in_bit_0_differ(void **state)
{
	(void)state;
	for (u64 s = 0; s < 512; s += 2) {
		u64 even[4], odd[4];

		seed_with(s);
		for (int i = 0; i < 4; i++)
			even[i] = rnd();
		seed_with(s + 1);
		for (int i = 0; i < 4; i++)
			odd[i] = rnd();
		if (!memcmp(even, odd, sizeof(even)))
			fail_msg("seeds %#llx and %#llx give the same sequence",
				 (unsigned long long)s, (unsigned long long)s + 1);
	}
}

/* The first number alone already tells 65536 consecutive seeds, and single-bit flips, apart. */
static void distinct_seeds_differ_in_their_first_number(void **state)
{
	static u64 first[BULK_SEEDS + 64 * 4];
	static const u64 bases[4] = { 0, 0x5eed0001ULL, 0xffffffffffffffffULL,
				      0x8000000000000000ULL };
	size_t n = 0;

	(void)state;
	for (u64 s = 0; s < BULK_SEEDS; s++) {
		rnd_seed(
			s); /* the same path as seed_with(), without 65536 environment round trips */
		first[n++] = rnd();
	}
	/* Those use rnd_seed() directly: check once that the environment path is the same. */
	seed_with(12345);
	u64 via_env = rnd();
	rnd_seed(12345);
	assert_int_equal(via_env, rnd());
	for (int b = 0; b < 4; b++)
		for (int bit = 0; bit < 64; bit++) {
			u64 s = bases[b] ^ (1ULL << bit);
			if (s < BULK_SEEDS)
				continue; /* counted above */
			seed_with(s);
			first[n++] = rnd();
		}
	assert_all_distinct(first, n, "a first number shared by two seeds");
}

/*
 * Streams of nearby seeds do not overlap: no number appears twice among the first 64 of 256
 * seeds (a generator whose seeds are positions on one cycle, taken close together, would
 * repeat numbers here).
 */
static void nearby_seeds_do_not_share_numbers(void **state)
{
	static u64 all[256 * STREAM];
	size_t n = 0;

	(void)state;
	for (u64 s = 0; s < 256; s++) {
		seed_with(s);
		for (int i = 0; i < STREAM; i++)
			all[n++] = rnd();
	}
	assert_all_distinct(all, n, "a number in two nearby streams");
}

static void a_seed_replays_its_sequence(void **state)
{
	u64 a[STREAM], b[STREAM];

	(void)state;
	seed_with(0x5eed0002);
	for (int i = 0; i < STREAM; i++)
		a[i] = rnd();
	seed_with(0x5eed0002);
	for (int i = 0; i < STREAM; i++)
		b[i] = rnd();
	assert_memory_equal(a, b, sizeof(a));
	seed_with(0);
	u64 x = rnd(), y = rnd();
	assert_true(x != y && (x | y) != 0); /* seed 0 is a seed like any other */
}

/* Two seeds taken back to back (two runs in the same second, once) differ. */
static void developer_seeds_taken_back_to_back_differ(void **state)
{
	u64 first[8];
	const char *ci = getenv("CI");
	char *saved_ci = ci ? strdup(ci) : NULL;

	(void)state;
	unsetenv("CI");
	for (int i = 0; i < 8; i++) {
		seed_quietly(NULL);
		first[i] = rnd();
	}
	if (saved_ci) {
		setenv("CI", saved_ci, 1);
		free(saved_ci);
	}
	assert_all_distinct(first, 8, "two developer seeds gave the same run");
}

/* With CI set and no seed given, the seed is the fixed one. */
static void ci_takes_the_fixed_seed(void **state)
{
	u64 a, b;

	(void)state;
	setenv("CI", "1", 1);
	seed_quietly(NULL);
	a = rnd();
	seed_with(RND_CI_SEED);
	b = rnd();
	unsetenv("CI");
	assert_int_equal(a, b);
}

/* Runs rnd_seed_from_env with @value in a child; returns its exit status (-1: killed). */
static int seed_in_child(const char *value)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		setenv(PROBE, value, 1);
		rnd_seed_from_env(PROBE);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void a_seed_that_is_not_a_number_is_refused(void **state)
{
	(void)state;
	assert_int_equal(seed_in_child("nonsense"), 2);
	assert_int_equal(seed_in_child("12abc"), 2);
	assert_int_equal(seed_in_child(""), 2);
	assert_int_equal(seed_in_child("-1"), 2);
	assert_int_equal(seed_in_child("0x1ffffffffffffffff"), 2); /* beyond 64 bits */
	assert_int_equal(seed_in_child("0x5eed0001"), 0);
	assert_int_equal(seed_in_child("42"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seeds_differing_in_bit_0_differ),
		cmocka_unit_test(distinct_seeds_differ_in_their_first_number),
		cmocka_unit_test(nearby_seeds_do_not_share_numbers),
		cmocka_unit_test(a_seed_replays_its_sequence),
		cmocka_unit_test(developer_seeds_taken_back_to_back_differ),
		cmocka_unit_test(ci_takes_the_fixed_seed),
		cmocka_unit_test(a_seed_that_is_not_a_number_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
