# The block-device test (/bin/blk) needs a disk: the QEMU boots of `make check` attach a scratch
# image made fresh for each boot (its contents are overwritten by the test). Without DISK= the
# test skips, so those boots forbid that skip.
SCRATCH_DISK := $(BUILD)/scratch-disk.img
SCRATCH_DISK_SIZE := 16M
.PHONY: scratch-disk
scratch-disk:
	@mkdir -p $(BUILD)
	rm -f $(SCRATCH_DISK) && truncate -s $(SCRATCH_DISK_SIZE) $(SCRATCH_DISK)
BLK_NO_SKIP := |no virtio disk

# `make bench-blk`: disk throughput from a Dyad process and from bare Linux on the same image
# (tools/bench-blk.sh).
.PHONY: bench-blk
bench-blk: $(KERNEL) $(USER_BINS)
	tools/bench-blk.sh $(KERNEL) $(USER_ISO_MODULES)

# `make boot-test-q35`: the ktests and /bin/blk on QEMU's Q35 chipset, where PCI is configured by
# ECAM from the ACPI MCFG, with 4 CPUs, a scratch disk, and the edu device for the plain-MSI
# ktest; none of those tests may skip.
BLKTEST_ISO := $(BUILD)/dyad-blktest.iso
CMDLINE_BLKTEST := ktest init=/bin/init -- /bin/blk
Q35_NO_SKIP := no virtio disk|no MSI test device|no ACPI MCFG|one CPU online

$(BLKTEST_ISO): $(KERNEL) tools/mkiso.sh tools/lib.sh $(USER_BINS) tests/user/motd.txt
	tools/mkiso.sh $@ $(KERNEL) "$(CMDLINE_BLKTEST)" $(USER_ISO_MODULES)

.PHONY: boot-test-q35
boot-test-q35: deps
	$(MAKE) $(BLKTEST_ISO) scratch-disk
	QEMU_MACHINE=q35 QEMU_DEVICES=edu DISK=$(SCRATCH_DISK) BOOT_TEST_TIMEOUT=$(USER_TEST_TIMEOUT) \
		BOOT_TEST_EXPECT='$(USER_TEST_EXPECT)' BOOT_TEST_NO_SKIP='$(Q35_NO_SKIP)' \
		tools/boot-test.sh qemu $(BLKTEST_ISO)
