#!/usr/bin/env bash
# CPUS=N: the runners' CPU count (QEMU -smp with MTTCG, Bochs cpu: count), a count that is not
# one is refused, and a kernel built for SMP boots on one CPU and on two.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start

# The helpers in a subshell: die() exits it, not this script.
args() { (CPUS=$1 && export CPUS && . tools/lib.sh && qemu_accel_args) 2>&1; }
rc_count() {
	(CPUS=$1 && export CPUS && . tools/lib.sh && bochs_write_rc "$tmp/rc" x.iso "" &&
		sed -nE 's/^cpu: .*count=([0-9]+),.*/\1/p' "$tmp/rc") 2>&1
}

bad=
for n in 0 65 abc -1 "2 3"; do
	out=$(args "$n") && bad+=" '$n' accepted ($out)"
	[[ $out == *"is not a CPU count from 1 to 64"* ]] || bad+=" '$n': '$out'"
done
expect cpus_not_a_count_is_refused "$bad" test -z "$bad"

out=$(args 4)
expect cpus_4_gives_qemu_4_cpus "args '$out'" grep -qE -- '-smp 4( |$)' <<<"$out"
if ! (. tools/lib.sh && kvm_nested_usable); then
	expect cpus_4_under_tcg_is_mttcg "args '$out'" grep -q -- 'tcg,thread=multi' <<<"$out"
	out=$(args 1)
	expect cpus_1_under_tcg_is_one_thread "args '$out'" test "$out" = "-accel tcg -cpu max"
fi
out=$( (unset CPUS && . tools/lib.sh && qemu_accel_args) 2>&1)
expect cpus_default_is_4_under_qemu "args '$out'" grep -qE -- '-smp 4( |$)' <<<"$out"
out=$(rc_count 2)
expect cpus_2_gives_bochs_count_2 "count '$out'" test "$out" = 2

# Boots: the CPU count the firmware lists comes up, one CPU included.
if ! tools/mkiso.sh "$tmp/k.iso" "$kernel" ktest >/dev/null; then
	not_ok smp_kernel_boots_on_one_cpu "mkiso failed"
	exit 0
fi
for n in 1 2; do
	out=$(CPUS=$n BOOT_TEST_TIMEOUT=120 tools/boot-test.sh qemu "$tmp/k.iso" 2>&1)
	want="smp: $n CPUs\? online"
	if [[ $out == *"boot-test qemu: PASS"* ]] && grep -q "^$want" <<<"$out"; then
		ok "smp_kernel_boots_on_${n}_cpu"
	else
		not_ok "smp_kernel_boots_on_${n}_cpu" "$(grep -E '^smp:|boot-test qemu:' <<<"$out" | tr '\n' ' ')"
	fi
done
