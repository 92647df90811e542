#!/usr/bin/env bash
# Multi-vCPU figures, side by side in one run under QEMU TCG (SVM): the same bzImage and initramfs
# booted by bare QEMU with -smp N and by Dyad's VMM with -c N (Dyad itself on QEMU -smp N, at
# least 2), for N in BENCH_SMP_CPUS (default "1 2 4"). Each boot runs the guest test script; with
# N > 1 it times one sha256sum per CPU (BENCH_SMP_MIB MiB each, default 16: four of them fit the
# guest's /tmp) pinned to CPU 0 one after another, then all at once, one per CPU: the parallel
# speedup. Prints, per boot, the wall time from the emulator's start to the guest's banner (and
# from the VMM's first line), the checksum times and any failed check (each boot is ended once its
# figures are in). Then the SMP test guest's IPI latencies (-c 2). Figures, not a verdict: the
# emulator's threads share the host with whatever else runs.
# Usage: tools/bench-smp.sh KERNEL_ELF VMM GUEST_DIR SMP_GUEST
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 4 ]] || die "usage: $0 KERNEL_ELF VMM GUEST_DIR SMP_GUEST"
dyad=$1 vmm=$2 guest=$3 smpg=$4
ram_mib=256 mib=${BENCH_SMP_MIB:-16} limit=${BENCH_SMP_TIMEOUT:-900}
out=$BUILD_DIR/bench-smp
mkdir -p "$out"
# The VMM's default guest command line (user/vmm/options.h): bare QEMU gets the same.
cmdline="console=ttyS0,115200 earlyprintk=serial nokaslr pci=off mitigations=off i8042.noaux panic=-1"

# timed NAME STOP CMD...: runs CMD with its output in $out/NAME.log until a line matches the
# extended regular expression STOP (then ends it) or it ends; prints the seconds from its start
# to the guest's banner line ("-" if none came, to 0.2 s), the whole run's seconds, and the
# seconds from the VMM's first line to the banner ("-" without a VMM).
timed() {
	local log=$out/$1.log stop=$2 start banner=- vmm_t=- pid
	shift 2
	start=$EPOCHREALTIME
	timeout -k 10 "$limit" "$@" </dev/null >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		[[ $vmm_t != - ]] || ! grep -aq '^vmm: ' "$log" || vmm_t=$EPOCHREALTIME
		[[ $banner != - ]] || ! grep -aq '^=== dyad-guest: Linux' "$log" ||
			banner=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")
		if grep -aEq "$stop" "$log"; then
			kill "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	wait "$pid" 2>/dev/null || true
	sed -i 's/\r$//' "$log"
	[[ $vmm_t == - || $banner == - ]] || vmm_t=$(awk "BEGIN { printf \"%.1f\", $start + $banner - $vmm_t }")
	echo "$banner $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }") $vmm_t"
}

report() { # NAME: the guest's own lines that matter
	local log=$out/$1.log
	sed -n 's/^# parallel checksum: /  parallel checksum: /p' "$log"
	grep -a '^not ok' "$log" | sed 's/^/  /' || true
}

for n in ${BENCH_SMP_CPUS:-1 2 4}; do
	host=$((n > 2 ? n : 2))
	words="dyad_mode=test dyad_ram_mib=$ram_mib dyad_cpus=$n dyad_par_mib=$mib"
	# The figures are in by the CPU-count check (one CPU) or the parallel checksum (several).
	stop='^ok - CPU count|^not ok - CPU count'
	((n == 1)) || stop='^(not )?ok - one sha256sum per CPU'
	t=$(timed "bare-smp$n" "$stop" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$n" \
		-m ${ram_mib}M -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot \
		-display none -monitor none -serial stdio \
		-kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio" -append "$cmdline $words")
	read -r banner run _ <<<"$t"
	echo "bare QEMU -smp $n: banner after $banner s, run $run s"
	report "bare-smp$n"
	args="-c $n -m ${ram_mib}M -i /boot/initrd"
	for w in $words; do args+=" -a $w"; done
	"$ROOT/tools/mkiso.sh" "$out/dyad-c$n.iso" "$dyad" "init=/bin/vmm -- $args /boot/bzImage" \
		"$vmm:/bin/vmm" "$guest/bzImage:/boot/bzImage" "$guest/initramfs.cpio:/boot/initrd" >/dev/null
	t=$(timed "dyad-c$n" "$stop" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$host" \
		"${QEMU_COMMON[@]}" -display none -monitor none -serial stdio -cdrom "$out/dyad-c$n.iso")
	read -r banner run from_vmm <<<"$t"
	echo "Dyad on QEMU -smp $host, VMM -c $n: banner after $banner s ($from_vmm s from the VMM's first line), run $run s"
	report "dyad-c$n"
done

"$ROOT/tools/mkiso.sh" "$out/smpg.iso" "$dyad" "init=/bin/vmm -- -c 2 -m 64M -a smpg.lat=100 /boot/smpguest" \
	"$vmm:/bin/vmm" "$smpg:/boot/smpguest" >/dev/null
t=$(timed smpg '^smpg: done' qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 "${QEMU_COMMON[@]}" \
	-display none -monitor none -serial stdio -cdrom "$out/smpg.iso")
read -r _ run _ <<<"$t"
echo "SMP test guest, Dyad on QEMU -smp 2, VMM -c 2 (run $run s):"
sed -n 's/^smpg: \(latency\|storm\)/  \1/p' "$out/smpg.log"
echo "logs: $out"
