# The pair's EPTE encodings against a table written from the Intel SDM (tests/unit/test_epte_sdm.c).
UNIT_TESTS += epte_sdm
UNIT_SRCS_epte_sdm := tests/unit/test_epte_sdm.c
