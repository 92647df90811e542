# Memory regions and demand paging (kern/mm.c) on the real page-table pair and the pmem shim.
UNIT_TESTS += mm
UNIT_SRCS_mm := tests/unit/test_mm.c kern/mm.c arch/x86/pmap.c tests/unit/pmap_testlib.c \
	tests/unit/pmem_shim.c
