# Memory regions and demand paging (kern/vm.c) on the real page-table pair and the pmem shim.
UNIT_TESTS += vm
UNIT_SRCS_vm := tests/unit/test_vm.c kern/vm.c arch/x86/pmap.c tests/unit/pmap_testlib.c \
	tests/unit/pmem_shim.c
