# The block-device test (/bin/blk) needs a disk: the QEMU boots of `make check` attach a scratch
# image made fresh for each boot (its contents are overwritten by the test). Without DISK= the
# test skips, so those boots forbid that skip.
SCRATCH_DISK := $(BUILD)/scratch-disk.img
SCRATCH_DISK_SIZE := 16M
.PHONY: scratch-disk
scratch-disk:
	@mkdir -p $(BUILD)
	rm -f $(SCRATCH_DISK) && truncate -s $(SCRATCH_DISK_SIZE) $(SCRATCH_DISK)
# They also attach QEMU's edu device (QEMU_DEVICES=edu) for the plain-MSI ktest, which may then
# not skip either.
BLK_NO_SKIP := |no virtio disk|no MSI test device

# `make bench-blk`: disk throughput from a Dyad process and from bare Linux on the same image
# (tools/bench-blk.sh).
.PHONY: bench-blk
bench-blk: $(KERNEL) $(USER_BINS)
	tools/bench-blk.sh $(KERNEL) $(USER_ISO_MODULES)

# `make boot-test-q35`: the ktests and /bin/blk on QEMU's Q35 chipset, PCI configured by ECAM
# from the ACPI MCFG, 4 CPUs, a scratch disk and the edu device for the plain-MSI ktest
# (tests/tools/test_pci_q35.sh, also part of check-tools): about 20 s.
.PHONY: boot-test-q35
boot-test-q35: $(KERNEL) $(USER_BINS)
	BUILD=$(BUILD) KERNEL=$(KERNEL) USER_ISO_MODULES='$(USER_ISO_MODULES)' \
		tests/tools/run-tests.sh tests/tools/test_pci_q35.sh
