# The page-table pair (arch/x86/pmap.c) on the host, with its checker run after every operation.
UNIT_TESTS += pmap pmap_model pmap_npt_apm
UNIT_SRCS_pmap := tests/unit/test_pmap.c tests/unit/pmap_testlib.c tests/unit/pmem_shim.c \
	arch/x86/pmap.c
UNIT_SRCS_pmap_model := tests/unit/test_pmap_model.c tests/unit/pmap_testlib.c \
	tests/unit/pmem_shim.c arch/x86/pmap.c
UNIT_SRCS_pmap_npt_apm := tests/unit/test_pmap_npt_apm.c tests/unit/pmap_testlib.c \
	tests/unit/pmem_shim.c arch/x86/pmap.c
$(BUILD)/host/arch/x86/pmap.o: HOSTCFLAGS += -DPMAP_DEBUG
$(BUILD)/host/tests/unit/test_pmap_model.o: HOSTCFLAGS += -DPMAP_DEBUG
