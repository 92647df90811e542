# The CMOS real-time clock's decoder (arch/x86/rtc.c; its port reads are kernel-only).
UNIT_TESTS += rtc
UNIT_SRCS_rtc := tests/unit/test_rtc.c arch/x86/rtc.c
