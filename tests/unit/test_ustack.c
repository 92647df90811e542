// SPDX-License-Identifier: MIT
/*
 * The initial process stack, read back the way a libc's _start reads it: argc at rsp, then
 * argv, envp and auxv, with every pointer translated from user addresses into the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <linux/auxvec.h>

#include <dyad/errno.h>
#include <dyad/ustack.h>

#define TOP 0x7ffffffff000ULL
#define STACK_SIZE 4096

struct stack {
	uint8_t buf[STACK_SIZE];
	uint64_t rsp;
};

static const struct ustack_aux test_aux = {
	.phdr = 0x400040,
	.phent = 56,
	.phnum = 6,
	.entry = 0x401033,
	.random = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
};

/* The buffer bytes at user address @uaddr, which must lie inside the stack. */
static void *at(struct stack *s, uint64_t uaddr)
{
	assert_true(uaddr >= TOP - STACK_SIZE && uaddr < TOP);
	return s->buf + (uaddr - (TOP - STACK_SIZE));
}

static uint64_t word(struct stack *s, uint64_t uaddr)
{
	uint64_t v;

	memcpy(&v, at(s, uaddr), 8);
	return v;
}

/* A user string, checked to end inside the stack. */
static const char *str(struct stack *s, uint64_t uaddr)
{
	const char *p = at(s, uaddr);

	assert_non_null(memchr(p, 0, TOP - uaddr));
	return p;
}

/* The value of auxv entry @type, failing if it is absent. */
static uint64_t auxv(struct stack *s, uint64_t type)
{
	uint64_t p = s->rsp + 8;

	while (word(s, p))
		p += 8; /* argv */
	p += 8;
	while (word(s, p))
		p += 8; /* envp */
	for (p += 8;; p += 16) {
		if (word(s, p) == type)
			return word(s, p + 8);
		if (word(s, p) == AT_NULL)
			fail_msg("auxv entry %lu is missing", (unsigned long)type);
	}
}

static long build(struct stack *s, const char *const *argv, const char *const *envp)
{
	long r;

	memset(s->buf, 0xa5, sizeof(s->buf));
	r = ustack_build(s->buf, sizeof(s->buf), TOP, argv, envp, &test_aux);
	s->rsp = r;
	return r;
}

static void libc_reads_back_argv_envp_auxv(void **state)
{
	static struct stack s;
	const char *const argv[] = { "/bin/init", "-v", "", "last arg", NULL };
	const char *const envp[] = { "HOME=/", "TERM=dumb", NULL };

	(void)state;
	assert_true(build(&s, argv, envp) > 0);
	assert_int_equal(s.rsp % 16, 0);
	assert_int_equal(word(&s, s.rsp), 4);
	for (int i = 0; i < 4; i++)
		assert_string_equal(str(&s, word(&s, s.rsp + 8 + 8 * i)), argv[i]);
	assert_int_equal(word(&s, s.rsp + 8 + 8 * 4), 0);
	uint64_t envp_at = s.rsp + 8 + 8 * 5;
	assert_string_equal(str(&s, word(&s, envp_at)), "HOME=/");
	assert_string_equal(str(&s, word(&s, envp_at + 8)), "TERM=dumb");
	assert_int_equal(word(&s, envp_at + 16), 0);

	assert_int_equal(auxv(&s, AT_PHDR), 0x400040);
	assert_int_equal(auxv(&s, AT_PHENT), 56);
	assert_int_equal(auxv(&s, AT_PHNUM), 6);
	assert_int_equal(auxv(&s, AT_PAGESZ), 4096);
	assert_int_equal(auxv(&s, AT_ENTRY), 0x401033);
	assert_int_equal(auxv(&s, AT_UID), 0);
	assert_int_equal(auxv(&s, AT_EUID), 0);
	assert_int_equal(auxv(&s, AT_GID), 0);
	assert_int_equal(auxv(&s, AT_EGID), 0);
	assert_int_equal(auxv(&s, AT_SECURE), 0);
	assert_int_equal(auxv(&s, AT_HWCAP), 0);
	assert_int_equal(auxv(&s, AT_CLKTCK), 100);
	assert_string_equal(str(&s, auxv(&s, AT_EXECFN)), "/bin/init");
	assert_memory_equal(at(&s, auxv(&s, AT_RANDOM)), test_aux.random, 16);
	assert_int_equal(auxv(&s, AT_RANDOM) % 16, 0);
}

static void auxv_has_exactly_the_documented_entries(void **state)
{
	static struct stack s;
	const char *const argv[] = { "a", NULL };
	unsigned n = 0;

	(void)state;
	assert_true(build(&s, argv, NULL) > 0);
	uint64_t p = s.rsp + 8 + 16 + 8; /* argc, argv[0], NULL, envp NULL */
	for (; word(&s, p) != AT_NULL; p += 16)
		n++;
	assert_int_equal(n + 1, USTACK_AUXV_ENTRIES);
	/* Everything between AT_NULL's value and the random bytes is padding, below 16 bytes. */
	assert_true(auxv(&s, AT_RANDOM) - (p + 16) < 16);
}

static void empty_envp_and_argv_are_just_nulls(void **state)
{
	static struct stack s;
	const char *const empty[] = { NULL };

	(void)state;
	assert_true(build(&s, empty, NULL) > 0);
	assert_int_equal(s.rsp % 16, 0);
	assert_int_equal(word(&s, s.rsp), 0);
	assert_int_equal(word(&s, s.rsp + 8), 0); /* argv terminator */
	assert_int_equal(word(&s, s.rsp + 16), 0); /* envp terminator */
	assert_int_equal(word(&s, s.rsp + 24), AT_PHDR);
	assert_string_equal(str(&s, auxv(&s, AT_EXECFN)), "");
}

static void execfn_overrides_argv0(void **state)
{
	static struct stack s;
	const char *const argv[] = { "nop", NULL };
	struct ustack_aux aux = test_aux;

	(void)state;
	aux.execfn = "/bin/nop";
	s.rsp = ustack_build(s.buf, sizeof(s.buf), TOP, argv, NULL, &aux);
	assert_string_equal(str(&s, auxv(&s, AT_EXECFN)), "/bin/nop");
	assert_string_equal(str(&s, word(&s, s.rsp + 8)), "nop");
}

static void rsp_is_aligned_for_every_string_length(void **state)
{
	static struct stack s;
	char arg[40];
	const char *const argv[] = { arg, NULL };

	(void)state;
	for (int len = 0; len < 39; len++) {
		memset(arg, 'x', len);
		arg[len] = '\0';
		for (int envc = 0; envc < 3; envc++) {
			const char *envp[] = { "A=1", "B=22", NULL, NULL };
			envp[envc] = NULL;
			assert_true(build(&s, argv, envp) > 0);
			assert_int_equal(s.rsp % 16, 0);
			assert_int_equal(word(&s, s.rsp), 1);
			assert_string_equal(str(&s, word(&s, s.rsp + 8)), arg);
		}
	}
}

/*
 * Every byte from rsp to the top is defined: built over two different fillings, the stacks
 * are the same, and the alignment padding (below the random bytes, and between the auxiliary
 * vector and the random bytes) reads as zero. A process must never see stale kernel memory.
 */
static void every_byte_from_rsp_up_is_written_and_padding_is_zero(void **state)
{
	static struct stack s, t;
	char arg[40];
	const char *const argv[] = { "/bin/init", arg, NULL };

	(void)state;
	for (int len = 0; len < 39; len++) {
		memset(arg, 'x', len);
		arg[len] = '\0';
		for (int envc = 0; envc < 3; envc++) {
			const char *envp[] = { "A=1", "B=22", NULL, NULL };
			envp[envc] = NULL;
			assert_true(build(&s, argv, envp) > 0);
			memset(t.buf, 0x5a, sizeof(t.buf));
			t.rsp = ustack_build(t.buf, sizeof(t.buf), TOP, argv, envp, &test_aux);
			assert_int_equal(t.rsp, s.rsp);
			uint64_t n = TOP - s.rsp;
			if (memcmp(at(&s, s.rsp), at(&t, t.rsp), n) != 0)
				fail_msg("arg length %d, %d env strings: bytes above rsp depend on "
					 "what the buffer held",
					 len, envc);

			uint64_t p = s.rsp + 8 * (1 + 3 + envc + 1); /* argc, argv, envp */
			while (word(&s, p) != AT_NULL)
				p += 16;
			uint64_t random_at = auxv(&s, AT_RANDOM), strings = word(&s, s.rsp + 8);
			for (uint64_t u = p + 16; u < random_at; u++)
				assert_int_equal(*(uint8_t *)at(&s, u), 0);
			for (uint64_t u = random_at + USTACK_RANDOM_BYTES; u < strings; u++)
				assert_int_equal(*(uint8_t *)at(&s, u), 0);
		}
	}
}

static void overflow_is_e2big_and_writes_inside_buffer(void **state)
{
	static uint8_t guard[3 * STACK_SIZE];
	static char big[STACK_SIZE];
	const char *const argv[] = { big, NULL };

	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(guard, 0x5a, sizeof(guard));
	/* The stack is the middle third; the outer thirds must stay untouched. */
	assert_int_equal(ustack_build(guard + STACK_SIZE, STACK_SIZE, TOP, argv, NULL, &test_aux),
			 -E2BIG);
	for (size_t i = 0; i < STACK_SIZE; i++) {
		assert_int_equal(guard[i], 0x5a);
		assert_int_equal(guard[2 * STACK_SIZE + i], 0x5a);
	}

	/* Strings that fit but leave no room for the vectors fail too. */
	big[STACK_SIZE - 200] = '\0';
	assert_int_equal(ustack_build(guard + STACK_SIZE, STACK_SIZE, TOP, argv, NULL, &test_aux),
			 -E2BIG);
	/* A tiny buffer, and one that would wrap below address zero. */
	assert_int_equal(ustack_build(guard, 8, TOP, NULL, NULL, &test_aux), -E2BIG);
	assert_int_equal(ustack_build(guard, 4096, 100, NULL, NULL, &test_aux), -E2BIG);
}

static void just_enough_room_fits(void **state)
{
	static struct stack s;
	const char *const argv[] = { "x", NULL };
	size_t need;

	(void)state;
	assert_true(build(&s, argv, NULL) > 0);
	need = TOP - s.rsp;
	assert_int_equal(ustack_build(s.buf + STACK_SIZE - need, need, TOP, argv, NULL, &test_aux),
			 (long)s.rsp);
	assert_int_equal(ustack_build(s.buf + STACK_SIZE - need + 1, need - 1, TOP, argv, NULL,
				      &test_aux),
			 -E2BIG);
}

/*
 * The kernel's image at the argument limits: ARGV_MAX arguments filling ARGV_STRINGS_MAX bytes,
 * a 255-byte path as AT_EXECFN and the first process's environment, all read back whole.
 */
static void argument_limits_fit_the_image(void **state)
{
	static uint8_t image[USTACK_IMAGE_SIZE];
	static char strings[ARGV_STRINGS_MAX];
	static const char *argv[ARGV_MAX + 1];
	static char path[256];
	const char *const envp[] = { "PATH=/bin", "TERM=dumb", NULL };
	const size_t each = ARGV_STRINGS_MAX / ARGV_MAX;
	struct ustack_aux aux = test_aux;

	(void)state;
	memset(path, 'p', sizeof(path) - 1);
	aux.execfn = path;
	for (size_t i = 0; i < ARGV_MAX; i++) {
		char *a = strings + i * each;
		memset(a, 'a' + i % 26, each - 1);
		a[each - 1] = '\0';
		argv[i] = a;
	}
	long rsp = ustack_build(image, sizeof(image), TOP, argv, envp, &aux);
	assert_true(rsp > 0);
	assert_int_equal(rsp % 16, 0);
	uint64_t argc;
	memcpy(&argc, image + (rsp - (TOP - sizeof(image))), 8);
	assert_int_equal(argc, ARGV_MAX);
	for (size_t i = 0; i < ARGV_MAX; i++) {
		uint64_t p;
		memcpy(&p, image + (rsp + 8 + 8 * i - (TOP - sizeof(image))), 8);
		assert_string_equal((const char *)image + (p - (TOP - sizeof(image))), argv[i]);
	}

	/* Twice the strings do not fit: -E2BIG, not a cut. */
	static char twice[2 * ARGV_STRINGS_MAX];
	for (size_t i = 0; i < ARGV_MAX; i++) {
		char *a = twice + i * 2 * each;
		memset(a, 'b', 2 * each - 1);
		a[2 * each - 1] = '\0';
		argv[i] = a;
	}
	assert_int_equal(ustack_build(image, sizeof(image), TOP, argv, envp, &aux), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(libc_reads_back_argv_envp_auxv),
		cmocka_unit_test(auxv_has_exactly_the_documented_entries),
		cmocka_unit_test(empty_envp_and_argv_are_just_nulls),
		cmocka_unit_test(execfn_overrides_argv0),
		cmocka_unit_test(rsp_is_aligned_for_every_string_length),
		cmocka_unit_test(every_byte_from_rsp_up_is_written_and_padding_is_zero),
		cmocka_unit_test(overflow_is_e2big_and_writes_inside_buffer),
		cmocka_unit_test(just_enough_room_fits),
		cmocka_unit_test(argument_limits_fit_the_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
