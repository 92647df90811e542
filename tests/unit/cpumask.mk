# The CPU set type of the SMP layer (include/arch/x86/smp.h) against a model; CPUMASK_SEED replays.
UNIT_TESTS += cpumask
UNIT_SRCS_cpumask := tests/unit/test_cpumask.c
