#!/usr/bin/env bash
# Side by side in one run, under Bochs: the same bzImage and initramfs booted directly by GRUB (no
# Dyad), and booted by Dyad's VMM. Prints, for each, the wall time from the emulator's start to the
# guest's banner and the instructions Bochs had executed by then (its IPS lines), and the ratios.
# Figures, not a verdict. Usage: tools/bench-guest.sh KERNEL_ELF VMM GUEST_DIR
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 3 ]] || die "usage: $0 KERNEL_ELF VMM GUEST_DIR"
dyad=$1 vmm=$2 guest=$3
ram_mib=256
limit=${BENCH_GUEST_TIMEOUT:-900}
# The VMM's default guest command line (user/vmm/options.h) plus what it adds itself.
cmdline="console=ttyS0,115200 earlyprintk=serial nokaslr tsc=nowatchdog pci=off"
cmdline+=" mitigations=off i8042.noaux panic=-1 mem=${ram_mib}M"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# GRUB booting Linux itself: the direct path.
mkdir -p "$tmp/tree/boot/grub"
cp "$guest/bzImage" "$guest/initramfs.cpio" "$tmp/tree/boot/"
cat >"$tmp/tree/boot/grub/grub.cfg" <<EOF
set timeout=0
menuentry direct {
	linux /boot/bzImage $cmdline
	initrd /boot/initramfs.cpio
}
EOF
grub-mkrescue --install-modules="linux normal iso9660 biosdisk part_msdos" --locales= --fonts= \
	--themes= -o "$tmp/direct.iso" "$tmp/tree" >"$tmp/grub.log" 2>&1 || {
	cat "$tmp/grub.log" >&2
	die "grub-mkrescue failed"
}
"$ROOT/tools/mkiso.sh" "$tmp/dyad.iso" "$dyad" "init=/bin/vmm -- -m ${ram_mib}M -i /boot/initrd /boot/bzImage" \
	"$vmm:/bin/vmm" "$guest/bzImage:/boot/bzImage" "$guest/initramfs.cpio:/boot/initrd" >/dev/null

# run NAME ISO: boots ISO in Bochs until the banner appears; prints "SECONDS INSTRUCTIONS".
run() {
	local name=$1 iso=$2 serial=$tmp/$1.serial out=$tmp/$1.bochs
	bochs_write_rc "$tmp/$name.rc" "$iso" "com1: enabled=1, mode=file, dev=\"$serial\""
	bochs_write_cmds "$tmp/$name.cmds"
	: >"$serial"
	local start=$EPOCHREALTIME
	bochs -q -f "$tmp/$name.rc" -rc "$tmp/$name.cmds" </dev/null >"$out" 2>&1 &
	local pid=$! t=""
	while kill -0 "$pid" 2>/dev/null; do
		if grep -aq '^=== dyad-guest: Linux' "$serial"; then
			t=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")
			break
		fi
		if awk "BEGIN { exit !($EPOCHREALTIME - $start > $limit) }"; then
			break
		fi
		sleep 0.2
	done
	sleep 1.5 # one more IPS line, which covers the banner
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[[ -n $t ]] || die "$name: no banner within $limit s (serial log: $(tail -3 "$serial"))"
	# "IPS: x average = y (Ns)": y * N instructions so far (FACTS: within ~1% run to run).
	local ins
	ins=$(sed -n 's/.*IPS:.*average = *\([0-9]*\)[[:space:]]*(\([0-9]*\)s).*/\1 \2/p' "$out" | tail -n 1 |
		awk '{ printf "%.0f", $1 * $2 }')
	echo "$t ${ins:-0}"
}

echo "bench-guest: Bochs, $(basename "$guest")/bzImage + initramfs, ${ram_mib} MiB, to the banner"
read -r dt di < <(run direct "$tmp/direct.iso")
echo "bench-guest: direct (GRUB, no Dyad):  ${dt} s wall, ${di} instructions"
read -r vt vi < <(run dyad "$tmp/dyad.iso")
echo "bench-guest: Dyad + VMM:              ${vt} s wall, ${vi} instructions"
awk "BEGIN { printf \"bench-guest: ratio Dyad/direct: %.2f wall, %.3f instructions\n\", \
	$vt / $dt, ($di > 0 ? $vi / $di : 0) }"
