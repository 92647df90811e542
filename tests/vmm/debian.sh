#!/usr/bin/env bash
# Debian 12 with systemd on a virtio disk: the guest image (tools/guest-rootfs.sh) booted by
# Dyad's VMM (-d) under QEMU TCG with SVM and, as the reference, by bare QEMU
# (-device virtio-blk-pci) with the same kernel, initramfs, image and command line.
# Usage: tests/vmm/debian.sh KERNEL_ELF VMM GUEST_DIR
#
# The busybox initramfs loads the virtio and ext4 modules, mounts /dev/vda and switch_roots into
# systemd; dyad-verdict.service prints "dyad-guest: system STATE after N s, K failed units" with
# each failed unit after multi-user.target, sends 64 MiB through the root file system to the
# disk and back (written, synced, caches dropped, read again), and with dyad_mode=test writes
# K (+1 for a failed round trip, at least 1 when not running) to the debug port.
# Under Dyad the image is QEMU's virtio-blk drive, Dyad's /dev/vda, served by the VMM
# (-d /dev/vda). Checks under Dyad: the initramfs switched root, systemd reached `running` or
# `degraded`, every unit that failed also failed under bare QEMU, the round trip's md5 is the
# host's and 64 MiB came from the disk, and the debug port's verdict is the guest's count.
#
# Env: DEBIAN_E2E_REFERENCE  always (default): both boots, figures side by side;
#                            degraded (make check): bare QEMU only when Dyad's boot is degraded,
#                            where the comparison of failed units decides
#      DEBIAN_E2E_DISK_VIA   vda (default) or module: how the image reaches the VMM (below)
#      DEBIAN_E2E_TIMEOUT (seconds per boot, default 900), TEST_SUMMARY_FILE as tools/boot-test.sh;
#      VMM_E2E_NO_SKIP turns a missing image or a machine without SVM into a failure.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../../tools/lib.sh"

[[ $# -eq 3 ]] || die "usage: $0 KERNEL_ELF VMM GUEST_DIR"
kernel=$1 vmm=$2 guest=$3
disk=$guest/debian.ext4
limit=${DEBIAN_E2E_TIMEOUT:-900}
reference=${DEBIAN_E2E_REFERENCE:-always}
[[ $reference == always || $reference == degraded ]] ||
	die "DEBIAN_E2E_REFERENCE must be always or degraded, not '$reference'"
ram_mib=512
words="root=/dev/vda rw dyad_mode=test"
# The guest's round trip: `yes dyad-disk`, 64 MiB (dyad-verdict in tools/guest-rootfs.sh).
disk_bytes=$((64 << 20))
n=0 failed=0 skipped=0
mkdir -p "$BUILD_DIR"

# shellcheck source=tests/vmm/tap.sh
. "$(dirname "$0")/tap.sh"
finish() {
	tap_end vmm-e2e-debian
	exit
}
elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $1 }"; }
# failed_units LOG: the units the guest named as failed, sorted, one per line
# (Anywhere on a line: the console interleaves the kernel's and systemd's output with the guest's.)
failed_units() { grep -ao 'dyad-guest: failed unit [^ ]*' "$1" | cut -d' ' -f4 | sort -u; }
system_line() { grep -ao -m1 'dyad-guest: system .* failed units' "$1" | head -n 1 || true; }
uptime_at_verdict() { system_line "$1" | sed -n 's/.* after \([0-9.]*\) s.*/\1/p'; }

for f in "$kernel" "$vmm" "$guest/bzImage" "$guest/initramfs.cpio"; do
	[[ -f $f ]] || die "'$f' not found"
done
if [[ ! -s $disk ]]; then
	skip "debian: boots to multi-user.target" "no $disk (make guest-rootfs)"
	finish
fi

# ---- bare QEMU: the reference ------------------------------------------------------------------
ref=$BUILD_DIR/vmm-e2e-debian-qemu.log ref_wall=''
reference_boot() {
	echo "# bare QEMU: booting (timeout $limit s, log $ref)"
	local start=$EPOCHREALTIME
	# snapshot=on: the guest's writes go to a temporary overlay, never into the cached image.
	timeout -k 10 "$limit" qemu-system-x86_64 -accel tcg -cpu max -m ${ram_mib}M -display none \
		-monitor none -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio" -append "console=ttyS0 $words" \
		-drive "if=none,id=d0,file=$disk,format=raw,snapshot=on" -device virtio-blk-pci,drive=d0 \
		</dev/null >"$ref" 2>&1 || true
	sed -i 's/\r$//' "$ref"
	ref_wall=$(elapsed "$start")
	echo "# bare QEMU: $ref_wall s wall; $(system_line "$ref")"
	tap "$(system_line "$ref" | grep -qE 'system (running|degraded) '; echo $?)" \
		"debian under bare QEMU: systemd reached multi-user.target (the reference)"
}

# ---- Dyad's VMM --------------------------------------------------------------------------------
# The image reaches the VMM as QEMU's virtio-blk drive, Dyad's /dev/vda (-d /dev/vda), with
# snapshot=on as for the reference: the guest's writes go to QEMU's temporary overlay, never into
# the cached image. DEBIAN_E2E_DISK_VIA=module: as a GRUB module instead (read whole through BIOS
# calls before Dyad starts; the VMM serves a private copy in memory).
via=${DEBIAN_E2E_DISK_VIA:-vda}
log=$BUILD_DIR/vmm-e2e-debian-dyad.log
iso=$BUILD_DIR/vmm-e2e-debian.iso
drive=()
case $via in
vda)
	vmm_disk=/dev/vda module=()
	# shellcheck disable=SC2054 # the commas belong to -drive and -device
	drive=(-drive "if=none,id=d0,file=$disk,format=raw,snapshot=on" -device virtio-blk-pci,drive=d0)
	;;
module) vmm_disk=/boot/debian.ext4 module=("$disk:/boot/debian.ext4") ;;
*) die "DEBIAN_E2E_DISK_VIA must be vda or module, not '$via'" ;;
esac
args="-m ${ram_mib}M -i /boot/initramfs.cpio -d $vmm_disk"
for w in $words; do args+=" -a $w"; done
"$ROOT/tools/mkiso.sh" "$iso" "$kernel" "init=/bin/vmm -- $args /boot/bzImage" "$vmm:/bin/vmm" \
	"$guest/bzImage:/boot/bzImage" "$guest/initramfs.cpio:/boot/initramfs.cpio" \
	${module[@]+"${module[@]}"} >/dev/null
echo "# Dyad: booting, the disk via $via (timeout $limit s, log $log)"
start=$EPOCHREALTIME
# shellcheck disable=SC2046
timeout -k 10 "$limit" qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" -display none \
	-monitor none -serial stdio -cdrom "$iso" ${drive[@]+"${drive[@]}"} </dev/null >"$log" 2>&1 || true
sed -i 's/\r$//' "$log"
dyad_wall=$(elapsed "$start")
echo "# Dyad: $dyad_wall s wall$([[ $via == vda ]] || echo " (GRUB reads $(($(stat -c %s "$disk") >> 20)) MiB of disk first)");" \
	"$(system_line "$log")"
grep -a '^vmm: ' "$log" | sed 's/^/# /' || true
if grep -aq '^vmm: this machine has no VMX or SVM' "$log"; then
	skip "debian under Dyad: boots to multi-user.target" "Dyad found no VMX or SVM here"
	finish
fi

tap "$(grep -aq '^dyad-guest: switching to root /dev/vda' "$log"; echo $?)" \
	"debian under Dyad: the initramfs found /dev/vda, mounted it and switched root"
tap "$(system_line "$log" | grep -qE 'system (running|degraded) '; echo $?)" \
	"debian under Dyad: systemd reached multi-user.target ($(system_line "$log" | sed 's/^dyad-guest: //'))"

# The reference boot: always for the figures, else only when Dyad's boot is degraded, where it
# decides whether the failed units are Dyad's. (A boot that is running has none; one that did
# not get as far as the count fails above and below without it.)
if [[ $reference == always ]] || system_line "$log" | grep -q 'system degraded '; then
	[[ $reference == always ]] ||
		echo "# Dyad's boot is degraded: booting bare QEMU to see whether the same units fail there"
	reference_boot
else
	echo "# bare QEMU's reference boot left out (DEBIAN_E2E_REFERENCE=$reference):" \
		"$(system_line "$log" | grep -q 'system running ' && echo "Dyad's boot is running, no unit failed" ||
			echo "Dyad's boot did not report its state")"
fi
mapfile -t ours < <(failed_units "$log")
mapfile -t theirs < <([[ ! -s $ref || -z $ref_wall ]] || failed_units "$ref")
extra=$(comm -23 <(printf '%s\n' ${ours[@]+"${ours[@]}"} | grep .) \
	<(printf '%s\n' ${theirs[@]+"${theirs[@]}"} | grep .) | tr '\n' ' ' || true)
echo "# failed units: Dyad '${ours[*]:-}', bare QEMU '${theirs[*]:-}'$([[ -n $ref_wall ]] || echo ' (not booted)')"
# Only a boot that got as far as the count can say no unit failed.
tap "$([[ -n $(system_line "$log") && -z $extra ]]; echo $?)" \
	"debian under Dyad: no unit failed that did not also fail under bare QEMU${extra:+ (only under Dyad: $extra)}"

# The 64 MiB round trip, in the same boot: the pattern's md5 here must be the one the guest
# wrote and read back, and the disk must have given at least 64 MiB for the read.
sum=$({ yes dyad-disk || true; } | head -c $disk_bytes | md5sum | cut -d' ' -f1)
disk_line=$(grep -ao -m1 'dyad-guest: disk: .* MiB read from [^ ]*' "$log" | head -n 1 || true)
echo "# ${disk_line:-no disk line from the guest}"
read_mib=$(sed -n 's/.*, \([0-9]*\) MiB read from .*/\1/p' <<<"$disk_line")
tap "$([[ $disk_line == *" with md5 $sum, synced, caches dropped, read back with md5 $sum, "* &&
	${read_mib:-0} -ge $((disk_bytes >> 20)) ]]; echo $?)" \
	"debian under Dyad: 64 MiB written to a file on the root fs, synced, caches dropped, read back from the disk (md5 $sum, ${read_mib:-?} MiB read)"
count=$(system_line "$log" | sed -n 's/.*, \([0-9]*\) failed units$/\1/p')
want=''
if [[ -n $count ]]; then
	want=$((count + $(grep -aq '^dyad-guest: disk round trip ok' "$log" && echo 0 || echo 1)))
	[[ $want -gt 0 ]] || system_line "$log" | grep -q 'system running ' || want=1
fi
tap "$([[ -n $want ]] && grep -aq "^vmm: verdict $want: " "$log"; echo $?)" \
	"debian under Dyad: the verdict on the debug port is the guest's count of failures (${want:-none})"
ref_up='not booted' ref_wall_text='not booted'
[[ -z $ref_wall ]] || ref_up="$(uptime_at_verdict "$ref") s" ref_wall_text="$ref_wall s"
echo "# figures: guest uptime at multi-user.target: Dyad $(uptime_at_verdict "$log") s, bare QEMU" \
	"$ref_up; wall: Dyad $dyad_wall s (with GRUB and Dyad's boot), bare QEMU $ref_wall_text"
grep -a -m1 '^dyad-guest: disk: write' "$log" | sed 's/^dyad-guest: disk:/# figures: round trip under Dyad:/' || true
[[ -z $ref_wall ]] ||
	grep -a -m1 '^dyad-guest: disk: write' "$ref" | sed 's/^dyad-guest: disk:/# figures: round trip under bare QEMU:/' || true
finish
