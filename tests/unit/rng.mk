# The randomized tests' generator (tests/unit/test_rng.h).
UNIT_TESTS += rng
UNIT_SRCS_rng := tests/unit/test_rng.c
