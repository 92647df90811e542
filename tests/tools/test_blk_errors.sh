#!/usr/bin/env bash
# A disk that reports errors: QEMU's blkdebug driver fails every read of sector 2048 with EIO,
# which virtio-blk reports to Dyad as VIRTIO_BLK_S_IOERR. /bin/blk ioerr 1048576 expects that
# read to be EIO and the disk to go on working elsewhere; the kernel names the error once per
# request, does not fail the device, and does not panic.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start
user_iso_modules || exit 1
tools/mkiso.sh "$tmp/ioerr.iso" "$kernel" "init=/bin/blk -- ioerr 1048576" "${modules[@]}" \
	>/dev/null || exit 1
truncate -s 16M "$tmp/disk.img"
cat >"$tmp/blkdebug.conf" <<-CONF
	[inject-error]
	event = "read_aio"
	errno = "5"
	sector = "2048"
CONF

status=0
timeout -k 5 120 qemu-system-x86_64 -accel tcg -cpu max -m 1G -no-reboot -display none \
	-monitor none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-drive "if=none,id=d0,format=raw,file=blkdebug:$tmp/blkdebug.conf:$tmp/disk.img" \
	-device virtio-blk-pci,drive=d0 -cdrom "$tmp/ioerr.iso" </dev/null >"$tmp/out" 2>&1 ||
	status=$?
log=$(tr -d '\r' <"$tmp/out")
name=blk_device_error_is_eio_and_the_disk_goes_on
# isa-debug-exit: status 1 is Dyad's pass.
if [[ $status -eq 1 ]] && grep -q '^blk: ioerr: .*: as expected$' <<<"$log" &&
	grep -q '^virtio-blk: vda: the device reported an error on a read of 512 bytes at byte 1048576 (EIO)' <<<"$log" &&
	! grep -q 'the device is failed' <<<"$log" && ! grep -qi panic <<<"$log"; then
	ok $name
else
	not_ok $name "status $status: $(grep -E '^(blk|init|virtio)' <<<"$log")"
fi
