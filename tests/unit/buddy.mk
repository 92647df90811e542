UNIT_TESTS += buddy
UNIT_SRCS_buddy := tests/unit/test_buddy.c kern/buddy.c
