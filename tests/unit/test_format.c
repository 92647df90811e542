// SPDX-License-Identifier: MIT
/* The kernel's vsnprintf must agree with the C library's for every format the kernel uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

int kern_snprintf(char *buf, size_t size, const char *fmt, ...);

#define CHECK_SAME(fmt, ...)                                                              \
	do {                                                                              \
		char want[256], got[256];                                                 \
		int nw = snprintf(want, sizeof(want), fmt, __VA_ARGS__);                  \
		int ng = kern_snprintf(got, sizeof(got), fmt, __VA_ARGS__);               \
		if (strcmp(want, got) != 0 || nw != ng)                                   \
			fail_msg("format \"%s\": libc gave \"%s\" (%d), kernel \"%s\" (%d)", \
				 fmt, want, nw, got, ng);                                 \
	} while (0)

static void integers_match_libc(void **state)
{
	(void)state;
	CHECK_SAME("%d %d %d", 0, -1, 2147483647);
	CHECK_SAME("%i|%5d|%-5d|%05d", -42, 42, 42, -42);
	CHECK_SAME("%+d % d %+d", 7, 7, -7);
	CHECK_SAME("%u %lu %llu", 4000000000u, 18446744073709551615ul, 1ull << 63);
	CHECK_SAME("%ld %lld", -9223372036854775807l - 1, -1ll);
	CHECK_SAME("%hhd %hd %hhu %hu", 300, 70000, 300, 70000);
	CHECK_SAME("%zu %zd %td %jd", (size_t)12345, (ssize_t)-5, (ptrdiff_t)-6, (intmax_t)77);
	CHECK_SAME("%.3d|%.0d|%8.3d|%-8.3d|", 5, 0, -5, 5);
}

static void hex_and_octal_match_libc(void **state)
{
	(void)state;
	CHECK_SAME("%x %X %#x %#X %#x", 0xdeadbeefu, 0xdeadbeefu, 255u, 255u, 0u);
	CHECK_SAME("%016lx|%#018lx|%-10x|", 0xabcul, 0xabcul, 0x1fu);
	CHECK_SAME("%o %#o %#o %#.4o", 8u, 8u, 0u, 8u);
	CHECK_SAME("%p %p", (void *)0xffffffff80000000ul, (void *)0x1000);
}

static void strings_and_chars_match_libc(void **state)
{
	(void)state;
	CHECK_SAME("[%s] [%10s] [%-10s] [%.2s]", "abc", "abc", "abc", "abc");
	CHECK_SAME("[%c%c] [%3c] [%-3c]", 'o', 'k', 'x', 'y');
	CHECK_SAME("%*d|%-*d|%.*s|", 6, 42, 6, 42, 3, "abcdef");
	CHECK_SAME("100%% %s", "done");
}

static void truncation_returns_full_length_and_terminates(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'X', sizeof(buf));
	int n = kern_snprintf(buf, sizeof(buf), "%s-%d", "abcdef", 12345);
	assert_int_equal(n, 12);
	assert_string_equal(buf, "abcdef-");
	n = kern_snprintf(buf, 0, "%d", 99);
	assert_int_equal(n, 2);
	assert_int_equal(buf[0], 'a');
	n = kern_snprintf(buf, 1, "%d", 99);
	assert_int_equal(n, 2);
	assert_int_equal(buf[0], '\0');
}

static void null_string_prints_placeholder(void **state)
{
	char buf[32];

	(void)state;
	kern_snprintf(buf, sizeof(buf), "%s", (char *)NULL);
	assert_string_equal(buf, "(null)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(integers_match_libc),
		cmocka_unit_test(hex_and_octal_match_libc),
		cmocka_unit_test(strings_and_chars_match_libc),
		cmocka_unit_test(truncation_returns_full_length_and_terminates),
		cmocka_unit_test(null_string_prints_placeholder),
	};
	return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
