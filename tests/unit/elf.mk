UNIT_TESTS += elf
UNIT_SRCS_elf := tests/unit/test_elf.c kern/elf.c
