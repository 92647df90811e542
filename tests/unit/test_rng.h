/* SPDX-License-Identifier: MIT */
#ifndef TEST_RNG_H
#define TEST_RNG_H

/*
 * The randomized host tests' generator: xorshift64*, the same sequence on every host, so a
 * printed seed replays a failing run exactly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <dyad/types.h>

static u64 test_rng = 1;

static inline u64 rnd(void)
{
	test_rng ^= test_rng >> 12;
	test_rng ^= test_rng << 25;
	test_rng ^= test_rng >> 27;
	return test_rng * 0x2545f4914f6cdd1dULL;
}

static inline u64 rnd_below(u64 n)
{
	return rnd() % n;
}

/*
 * Seeds the generator from environment variable @env. When it is unset, a developer's run takes
 * a new seed from the clock (each run explores a new sequence) while CI (CI set) takes a fixed
 * one, so that its verdict depends on the change alone. The seed is printed either way.
 */
static inline void rnd_seed_from_env(const char *env)
{
	const char *s = getenv(env);
	u64 seed = 0x5eed0001ULL;

	if (s) {
		char *end;

		/* The whole value must be one number (decimal, 0x hex or 0 octal) that fits 64 bits. */
		errno = 0;
		seed = strtoull(s, &end, 0);
		if (*s < '0' || *s > '9' || *end || errno) {
			fprintf(stderr, "%s='%s' is not a seed: give a number such as %s=0x5eed0001\n",
				env, s, env);
			exit(2);
		}
	} else if (!getenv("CI")) {
		seed = 0x5eed0000ULL + (u64)time(NULL);
	}

	printf("seed: %s=%#llx replays this run\n", env, (unsigned long long)seed);
	test_rng = seed | 1;
}

#endif
