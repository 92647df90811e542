UNIT_TESTS += ustack
UNIT_SRCS_ustack := tests/unit/test_ustack.c kern/ustack.c
