#!/usr/bin/env bash
# The guest's disk, figures (make bench-guest-disk; QEMU TCG, one CPU; emulated time, not
# hardware; one run of each, in the same run of this script):
#  1. sequential dd, 1 MiB blocks, direct I/O, write then read, from a Linux guest whose /dev/vda
#     is the VMM's virtio-blk on Dyad's /dev/vda (QEMU's virtio-blk), against the same kernel and
#     initramfs booted by bare QEMU with -device virtio-blk-pci on the same kind of image; then
#     BENCH_OPS random 4 KiB direct writes and reads, one at a time (tests/tools/guest-randio.c);
#  2. the time from QEMU's start to Dyad's first line and to the guest's banner ("=== dyad-guest:")
#     with the Debian image (make guest-rootfs) as QEMU's drive (Dyad's /dev/vda) against the
#     same image carried as a boot module (GRUB reads it before Dyad starts).
# Env: BENCH_MIB=N (default 64), the dd size; BENCH_OPS=N (default 2000), the random requests;
# RANDIO=FILE, the static guest-randio program (the make target builds it).
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tools/guest-disk-lib.sh
. "$ROOT/tools/guest-disk-lib.sh"

mib=${BENCH_MIB:-64} ops=${BENCH_OPS:-2000}
[[ $mib =~ ^[1-9][0-9]*$ ]] || die "BENCH_MIB='$mib' is not a number of MiB"
[[ $ops =~ ^[1-9][0-9]*$ ]] || die "BENCH_OPS='$ops' is not a number of requests"
[[ -x ${RANDIO:-} ]] || die "RANDIO='${RANDIO:-}' is not the guest-randio program (make bench-guest-disk)"
out=$BUILD_DIR/bench-guest-disk
mkdir -p "$out"
gd_initrd "$out/initrd" "randio=$RANDIO"
img=$out/disk.img
dd_lines() { tr -d '\r' <"$1" | sed -n 's/^dtest: \(\(dd\|rand4k\) \)/\1/p'; }

echo "== dd bs=1M count=$mib, then $ops random 4 KiB requests each way, direct I/O, in the" \
	"guest (Linux $(cat "$BUILD_DIR/guest/release"))"
rm -f "$img" && truncate -s $((mib + 8))M "$img"
gd_iso "$out/dd.iso" "$out/initrd" "$img" "dtest=bench dtest_mib=$mib dtest_ops=$ops"
gd_dyad "$out/dd.iso" "$img" "$out/dyad-dd.log"
gd_wait "$GD_PID" "$out/dyad-dd.log" '^dtest: end' 900 || true
gd_end "$GD_PID" 20
echo "Dyad's VMM (guest virtio-blk -> VMM -> Dyad /dev/vda -> QEMU virtio-blk):"
dd_lines "$out/dyad-dd.log" | sed 's/^/  /'
rm -f "$img" && truncate -s $((mib + 8))M "$img"
gd_bare "$out/initrd" "$img" "$out/bare-dd.log" "dtest=bench dtest_mib=$mib dtest_ops=$ops"
gd_wait "$GD_PID" "$out/bare-dd.log" '^dtest: end' 900 || true
gd_end "$GD_PID" 20
echo "bare QEMU (guest virtio-blk -> QEMU virtio-blk):"
dd_lines "$out/bare-dd.log" | sed 's/^/  /'

deb=$BUILD_DIR/guest/debian.ext4
if [[ ! -f $deb ]]; then
	echo "== start times: skipped (no $deb: make guest-rootfs)"
	exit 0
fi
# Each time is polled from the serial log every 0.1 s.
echo "== start to Dyad's first line and to the guest banner," \
	"DISK=debian ($(($(stat -c %s "$deb") >> 20)) MiB)"
for via in vda module; do
	cp "$deb" "$out/debian.ext4"
	KERNEL=$BUILD_DIR/guest/bzImage GUEST_DISK=$out/debian.ext4 GUEST_DISK_VIA=$via \
		GUEST_CPUS=1 DISK='' RUN_GUEST_ISO=$out/start-$via.iso "$ROOT/tools/run-guest.sh" iso \
		"$BUILD_DIR/dyad.elf" "$BUILD_DIR/user/vmm" >/dev/null 2>&1
	log=$out/start-$via.log
	rm -f "$log"
	t0=$(date +%s%N)
	gd_dyad "$out/start-$via.iso" "$out/debian.ext4" "$log"
	first='' banner=''
	for ((i = 0; i < 3000; i++)); do
		if [[ -z $first && -s $log ]]; then first=$((($(date +%s%N) - t0) / 1000000)); fi
		if grep -q '=== dyad-guest:' "$log" 2>/dev/null; then
			banner=$((($(date +%s%N) - t0) / 1000000))
			break
		fi
		kill -0 "$GD_PID" 2>/dev/null || break
		sleep 0.1
	done
	gd_end "$GD_PID" 0
	printf '  %-6s first line %6s ms, banner %6s ms (ISO %s MiB)\n' "$via" "${first:-?}" \
		"${banner:-?}" $(($(stat -c %s "$out/start-$via.iso") >> 20))
done
rm -f "$out/debian.ext4"
