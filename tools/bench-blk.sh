#!/usr/bin/env bash
# Disk throughput under QEMU TCG (make bench-blk): /bin/blkbench (tests/user/blkbench.c) as
# Dyad's first process on a fresh raw image attached as virtio-blk: sequential 1 MiB and random
# 4 KiB reads and writes. Then, in the same run and on the same image, Debian's Linux kernel
# (build/guest) booted bare by QEMU with a busybox initramfs that loads virtio_blk and runs the
# same /bin/blkbench (tools/blk-linux-initramfs.sh), for the comparison. Figures are emulated time: they compare the
# two kernels on this machine, not hardware.
# Usage: tools/bench-blk.sh KERNEL USER_ISO_MODULES...
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 2 ]] || die "usage: $0 KERNEL USER_ISO_MODULES..."
kernel=$1
shift
out=$BUILD_DIR/bench-blk
mkdir -p "$out"
img=$out/disk.img
rm -f "$img" && truncate -s 128M "$img"
"$ROOT"/tools/mkiso.sh "$out/blkbench.iso" "$kernel" "init=/bin/blkbench" "$@" >/dev/null

echo "== Dyad: /bin/blkbench on /dev/vda (QEMU TCG, 1 CPU, 128 MiB raw image)"
DISK=$img CPUS=1 timeout -k 5 600 "$ROOT"/tools/run-qemu.sh "$out/blkbench.iso" </dev/null 2>&1 |
	tr -d '\r' | grep -E '^(blkbench|virtio-blk):' || true

guest=$BUILD_DIR/guest
if [[ ! -f $guest/bzImage ]]; then
	echo "== Linux: skipped (no $guest/bzImage: make guest-image)"
	exit 0
fi
initrd=$out/linux-dd.cpio
if ! "$ROOT"/tools/blk-linux-initramfs.sh "$guest" "$initrd" >"$out/initramfs.log" 2>&1; then
	echo "== Linux: skipped (no initramfs with virtio_blk: $(tail -n 1 "$out/initramfs.log"))"
	exit 0
fi
rm -f "$img" && truncate -s 128M "$img"
echo "== Linux $(cat "$guest/release"): the same /bin/blkbench, O_DIRECT (QEMU TCG, 1 CPU, the same image)"
timeout -k 5 600 qemu-system-x86_64 -accel tcg -cpu max -m 1G -no-reboot -display none \
	-monitor none -serial stdio -kernel "$guest/bzImage" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1" \
	-drive "if=none,id=d0,file=$img,format=raw" -device virtio-blk-pci,drive=d0 </dev/null 2>&1 |
	tr -d '\r' | grep -E '^(blkbench|blk-linux)' || true
