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
