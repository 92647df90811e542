# Tests of the build tools and of first use (tests/tools): the ISO builder, the run ISO and its
# command line, the runners' exit status, boot-time error messages, the kernel's limits on what
# the boot loader gives it, the guest shell's Ctrl-C, make debug, make help.
# Part of `make check`.
.PHONY: check-tools
check-tools: $(KERNEL) $(USER_BINS) $(UNIT_BINS) $(VMM_BIN) guest-image
	BUILD=$(BUILD) KERNEL=$(KERNEL) USER_ISO_MODULES='$(USER_ISO_MODULES)' UNIT_DIR=$(BUILD)/host \
		tests/tools/run-tests.sh

check: check-tools
