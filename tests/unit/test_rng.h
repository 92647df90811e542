/* SPDX-License-Identifier: MIT */
#ifndef TEST_RNG_H
#define TEST_RNG_H

/*
 * The randomized host tests' generator: splitmix64, the same sequence on every host, so a
 * printed seed replays a failing run exactly.
 *
 * Every 64-bit seed gives its own sequence: the state starts at rnd_mix(seed), and rnd_mix is
 * a bijection, so two seeds never share a start; and the first output, rnd_mix(state + gamma),
 * is a bijection of the state too, so two seeds already differ in their first number. (All
 * 2^64 states are valid: there is no forbidden state to steer around, unlike xorshift's 0.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <dyad/types.h>

#define RND_GAMMA 0x9e3779b97f4a7c15ULL
#define RND_CI_SEED 0x5eed0001ULL

static u64 test_rng;

/* splitmix64's finaliser: a bijection of the 64-bit values that spreads every input bit. */
static inline u64 rnd_mix(u64 z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline u64 rnd(void)
{
	test_rng += RND_GAMMA;
	return rnd_mix(test_rng);
}

static inline u64 rnd_below(u64 n)
{
	return rnd() % n;
}

/* Starts the sequence of @seed. */
static inline void rnd_seed(u64 seed)
{
	test_rng = rnd_mix(seed);
}

/*
 * A new seed for a developer's run: from the kernel's random source, else from the clock in
 * nanoseconds, the process id and a per-process count, so that two runs in the same second,
 * or two seeds taken back to back, still differ.
 */
static inline u64 rnd_fresh_seed(void)
{
	static u64 count;
	struct timespec ts;
	u64 seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	clock_gettime(CLOCK_REALTIME, &ts);
	return rnd_mix((u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec) ^
	       rnd_mix(((u64)getpid() << 32) + ++count);
}

/*
 * Seeds the generator from environment variable @env (decimal, or hex with 0x; anything else
 * is refused with a message and exit status 2, rather than quietly read as 0). When it is
 * unset, a developer's run takes a new seed (each run explores a new sequence) while CI (CI
 * set) takes a fixed one, so that its verdict depends on the change alone. The seed is printed
 * either way, and returned.
 */
static inline u64 rnd_seed_from_env(const char *env)
{
	const char *s = getenv(env);
	u64 seed = RND_CI_SEED;

	if (s) {
		char *end;

		errno = 0;
		seed = strtoull(s, &end, 0);
		if (!*s || *end || errno || *s == '-') {
			fprintf(stderr, "%s='%s' is not a seed: give a number, decimal or 0x-hex\n",
				env, s);
			exit(2);
		}
	} else if (!getenv("CI")) {
		seed = rnd_fresh_seed();
	}

	printf("seed: %s=%#llx replays this run\n", env, (unsigned long long)seed);
	rnd_seed(seed);
	return seed;
}

#endif
