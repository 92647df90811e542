# The PCI configuration windows of the ACPI MCFG (arch/x86/acpi.c) from good and hostile tables;
# MCFG_SEED replays the random-damage run.
UNIT_TESTS += mcfg
UNIT_SRCS_mcfg := tests/unit/test_mcfg.c arch/x86/acpi.c
