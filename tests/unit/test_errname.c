// SPDX-License-Identifier: MIT
/* Error names in messages: every code the kernel defines has its own name, others have none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <dyad/errname.h>
#include <dyad/errno.h>

static void codes_are_named_by_their_macro(void **state)
{
	assert_string_equal(errno_name(ENOENT), "ENOENT");
	assert_string_equal(errno_name(-ENOENT), "ENOENT");
	assert_string_equal(errno_name(ENOEXEC), "ENOEXEC");
	assert_string_equal(errno_name(ENAMETOOLONG), "ENAMETOOLONG");
	assert_string_equal(errno_name(EOVERFLOW), "EOVERFLOW");
}

static void undefined_codes_have_no_name(void **state)
{
	assert_null(errno_name(0));
	assert_null(errno_name(6)); /* ENXIO: Dyad does not define it */
	assert_null(errno_name(EOVERFLOW + 1));
	assert_null(errno_name(100000));
	assert_null(errno_name(-100000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codes_are_named_by_their_macro),
		cmocka_unit_test(undefined_codes_have_no_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
