#!/usr/bin/env bash
# Debian 12 with systemd on a virtio disk: the guest image (tools/guest-rootfs.sh) booted twice
# with the same kernel, initramfs and command line, first by bare QEMU (-device virtio-blk-pci,
# the reference), then by Dyad's VMM (-d) under QEMU TCG with SVM.
# Usage: tests/vmm/debian.sh KERNEL_ELF VMM GUEST_DIR
#
# The busybox initramfs loads the virtio and ext4 modules, mounts /dev/vda and switch_roots into
# systemd; dyad-verdict.service prints "dyad-guest: system STATE after N s, K failed units" with
# each failed unit after multi-user.target, and with dyad_mode=test writes K (at least 1 when
# not running) to the debug port. Checks: the VMM's boot reaches that line with `running` or
# `degraded`, every unit that failed under the VMM also failed under bare QEMU, and the debug
# port's verdict equals the failed units the guest counted. Prints the boot times as figures.
# Env: DEBIAN_E2E_TIMEOUT (seconds per boot, default 900), TEST_SUMMARY_FILE as tools/boot-test.sh;
# VMM_E2E_NO_SKIP turns a missing image or a machine without SVM into a failure.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../../tools/lib.sh"

[[ $# -eq 3 ]] || die "usage: $0 KERNEL_ELF VMM GUEST_DIR"
kernel=$1 vmm=$2 guest=$3
disk=$guest/debian.ext4
limit=${DEBIAN_E2E_TIMEOUT:-900}
ram_mib=512
words="root=/dev/vda rw dyad_mode=test"
n=0 failed=0 skipped=0
mkdir -p "$BUILD_DIR"

. "$(dirname "$0")/tap.sh"
finish() {
	echo "1..$n"
	local line="vmm-e2e-debian: $((n - failed - skipped)) passed, $failed failed, $skipped skipped"
	echo "$line"
	[[ -z ${TEST_SUMMARY_FILE:-} ]] || echo "$line" >>"$TEST_SUMMARY_FILE"
	[[ $failed -eq 0 ]]
	exit
}
elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $1 }"; }
# failed_units LOG: the units the guest named as failed, sorted, one per line
# (Anywhere on a line: the console interleaves the kernel's and systemd's output with the guest's.)
failed_units() { grep -ao 'dyad-guest: failed unit [^ ]*' "$1" | cut -d' ' -f4 | sort -u; }
system_line() { grep -ao -m1 'dyad-guest: system .* failed units' "$1" | head -n 1 || true; }

for f in "$kernel" "$vmm" "$guest/bzImage" "$guest/initramfs.cpio"; do
	[[ -f $f ]] || die "'$f' not found"
done
if [[ ! -s $disk ]]; then
	skip "debian: boots to multi-user.target" "no $disk (make guest-rootfs)"
	finish
fi

# ---- bare QEMU: the reference --------------------------------------------------------------------
ref=$BUILD_DIR/vmm-e2e-debian-qemu.log
echo "# bare QEMU: booting (timeout $limit s, log $ref)"
start=$EPOCHREALTIME
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

# ---- Dyad's VMM --------------------------------------------------------------------------------
log=$BUILD_DIR/vmm-e2e-debian-dyad.log
iso=$BUILD_DIR/vmm-e2e-debian.iso
args="-m ${ram_mib}M -i /boot/initramfs.cpio -d /boot/debian.ext4"
for w in $words; do args+=" -a $w"; done
"$ROOT/tools/mkiso.sh" "$iso" "$kernel" "init=/bin/vmm -- $args /boot/bzImage" "$vmm:/bin/vmm" \
	"$guest/bzImage:/boot/bzImage" "$guest/initramfs.cpio:/boot/initramfs.cpio" \
	"$disk:/boot/debian.ext4" >/dev/null
echo "# Dyad: booting (timeout $limit s, log $log)"
start=$EPOCHREALTIME
# shellcheck disable=SC2046
timeout -k 10 "$limit" qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" -display none \
	-monitor none -serial stdio -cdrom "$iso" </dev/null >"$log" 2>&1 || true
sed -i 's/\r$//' "$log"
dyad_wall=$(elapsed "$start")
echo "# Dyad: $dyad_wall s wall (GRUB reads $(($(stat -c %s "$disk") >> 20)) MiB of disk first); $(system_line "$log")"
grep -a '^vmm: ' "$log" | sed 's/^/# /' || true
if grep -aq 'no VMX or SVM' "$log"; then
	skip "debian under Dyad: boots to multi-user.target" "Dyad found no VMX or SVM here"
	finish
fi

tap "$(grep -aq '^dyad-guest: switching to root /dev/vda' "$log"; echo $?)" \
	"debian under Dyad: the initramfs found /dev/vda, mounted it and switched root"
tap "$(system_line "$log" | grep -qE 'system (running|degraded) '; echo $?)" \
	"debian under Dyad: systemd reached multi-user.target ($(system_line "$log" | sed 's/^dyad-guest: //'))"
mapfile -t ours < <(failed_units "$log")
mapfile -t theirs < <(failed_units "$ref")
extra=$(comm -23 <(printf '%s\n' ${ours[@]+"${ours[@]}"} | grep .) \
	<(printf '%s\n' ${theirs[@]+"${theirs[@]}"} | grep .) | tr '\n' ' ' || true)
echo "# failed units: Dyad '${ours[*]:-}', bare QEMU '${theirs[*]:-}'"
# Only a boot that got as far as the count can say no unit failed.
tap "$([[ -n $(system_line "$log") && -z $extra ]]; echo $?)" \
	"debian under Dyad: no unit failed that did not also fail under bare QEMU${extra:+ (only under Dyad: $extra)}"
count=$(system_line "$log" | sed -n 's/.*, \([0-9]*\) failed units$/\1/p')
want=$count
[[ -z $count || $count -gt 0 ]] || system_line "$log" | grep -q 'system running ' || want=1
tap "$([[ -n $count ]] && grep -aq "^vmm: verdict $want: " "$log"; echo $?)" \
	"debian under Dyad: the verdict on the debug port is the guest's count of failed units (${want:-none})"
up_ref=$(system_line "$ref" | sed -n 's/.* after \([0-9.]*\) s.*/\1/p')
up_dyad=$(system_line "$log" | sed -n 's/.* after \([0-9.]*\) s.*/\1/p')
echo "# figures: guest uptime at the verdict: bare QEMU ${up_ref:-?} s, Dyad ${up_dyad:-?} s;" \
	"wall: bare QEMU $ref_wall s, Dyad $dyad_wall s (with GRUB and Dyad's boot)"
finish
