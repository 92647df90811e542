# Finding the CPUs from ACPI and MP tables (arch/x86/acpi.c) against good and hostile tables;
# ACPI_SEED replays the random-damage run.
UNIT_TESTS += acpi
UNIT_SRCS_acpi := tests/unit/test_acpi.c arch/x86/acpi.c
