#!/usr/bin/env bash
# Builds the initramfs tools/bench-blk.sh boots bare Linux with: busybox-static, Debian's virtio
# PCI and block modules from the kernel package in GUEST_DIR (the guest image's initramfs has no
# modules), and the same /bin/blkbench Dyad runs, so that both kernels run one program.
# Usage: tools/blk-linux-initramfs.sh GUEST_DIR OUT.cpio
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 2 ]] || die "usage: $0 GUEST_DIR OUT.cpio"
guest=$1 out=$2
release=$(cat "$guest/release")
deb=$(ls "$guest"/linux-image-"$release"_*.deb 2>/dev/null | head -n 1 || true)
[[ -n $deb ]] || die "no kernel package for $release in $guest"
bench=$BUILD_DIR/user/blkbench
[[ -x $bench ]] || die "$bench is not built"
bb=/bin/busybox
[[ -x $bb ]] || die "no $bb (busybox-static)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# In dependency order: virtio needs virtio_ring; virtio_pci both and its two transport halves.
mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk)
dpkg-deb --fsys-tarfile "$deb" |
	tar -x -C "$tmp" --wildcards './lib/modules/*/kernel/drivers/virtio/*.ko' \
		'./lib/modules/*/kernel/drivers/block/virtio_blk.ko'
cat >"$tmp/init" <<-'INIT'
	#!/bin/sh
	mount -t proc proc /proc
	mount -t devtmpfs dev /dev
	for m in @MODS@; do insmod /lib/$m.ko || echo "blk-linux: insmod $m failed"; done
	i=0
	while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	/bin/blkbench || echo "blk-linux: blkbench failed"
	poweroff -f
INIT
sed -i "s/@MODS@/${mods[*]}/" "$tmp/init"

ino=1
# newc cpio, as tools/guest-image.sh writes it: no root needed for the device nodes.
entry() { # name mode(octal) major minor [file]
	local name=$1 mode=$2 maj=$3 min=$4 src=${5:-} size=0 npad dpad
	if ((mode >> 12 == 8)); then size=$(stat -c %s "$src"); fi
	if ((mode >> 12 == 10)); then size=${#src}; fi
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		$ino "$mode" 0 0 1 0 "$size" 0 0 "$maj" "$min" $((${#name} + 1)) 0
	printf '%s\0' "$name"
	npad=$(((4 - (110 + ${#name} + 1) % 4) % 4))
	head -c $npad /dev/zero
	if ((mode >> 12 == 8)); then cat "$src"; fi
	if ((mode >> 12 == 10)); then printf '%s' "$src"; fi
	dpad=$(((4 - size % 4) % 4))
	head -c $dpad /dev/zero
	ino=$((ino + 1))
}
{
	for d in bin dev proc lib; do entry "$d" $((040755)) 0 0; done
	entry dev/console $((020600)) 5 1
	entry bin/busybox $((0100755)) 0 0 "$bb"
	for l in sh mount insmod sleep poweroff; do entry "bin/$l" $((0120777)) 0 0 busybox; done
	entry bin/blkbench $((0100755)) 0 0 "$bench"
	for m in "${mods[@]}"; do
		f=$(find "$tmp/lib" -name "$m.ko" | head -n 1)
		[[ -n $f ]] || die "$m.ko is not in $deb"
		entry "lib/$m.ko" $((0100644)) 0 0 "$f"
	done
	entry init $((0100755)) 0 0 "$tmp/init"
	entry TRAILER!!! 0 0 0
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "blk-linux-initramfs: $out ($(stat -c %s "$out") bytes, modules: ${mods[*]})"
