UNIT_TESTS += bootinfo
UNIT_SRCS_bootinfo := tests/unit/test_bootinfo.c kern/bootinfo.c
