UNIT_TESTS += errname
UNIT_SRCS_errname := tests/unit/test_errname.c kern/errname.c
