# The kernel's physical-memory setup (kern/pmem.c) against recording stand-ins for the buddy
# allocator and the console, with boot memory maps of any size. kern/pmem.c's printf calls
# reach the test's __wrap_printf.
UNIT_TESTS += pmem
UNIT_SRCS_pmem := tests/unit/test_pmem.c kern/pmem.c
$(BUILD)/host/test_pmem: HOSTCFLAGS += -Wl,--wrap=printf
