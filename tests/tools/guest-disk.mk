# The guest's disk end to end under QEMU (tests/tools/guest-disk.sh): persistence across power-off,
# crash consistency after SIGKILL, device errors, a read-only image, a root too small, no disk.
# Seven guest boots, 7-13 minutes on a loaded 2-core machine: not part of make check.
.PHONY: check-guest-disk
check-guest-disk: $(KERNEL) $(VMM_BIN) guest-image
	BUILD=$(BUILD) tests/tools/run-tests.sh tests/tools/guest-disk.sh

# Figures for the guest's disk (tools/bench-guest-disk.sh): dd through the VMM's virtio-blk on
# /dev/vda against bare QEMU's virtio-blk, and start times with the Debian image on the disk
# against as a boot module.
.PHONY: bench-guest-disk
GUEST_RANDIO := $(BUILD)/guest-randio
$(GUEST_RANDIO): tests/tools/guest-randio.c
	@mkdir -p $(dir $@)
	musl-gcc -static -O2 -Wall -Wextra -Werror -o $@ $<
bench-guest-disk: $(KERNEL) $(VMM_BIN) $(GUEST_RANDIO) guest-image
	BUILD=$(BUILD) RANDIO=$(GUEST_RANDIO) tools/bench-guest-disk.sh
