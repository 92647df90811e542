#!/usr/bin/env bash
# Runs the thread benchmark (tests/user/thbench.c, booted as /bin/thbench) under QEMU with
# several CPUs (CPUS, default 4) twice and prints its figures:
#   1. multi-threaded TCG, one host thread per CPU: wall-clock ns as the emulated machine sees
#      them (emulator speed, and the host's load, not hardware);
#   2. -icount shift=0 (which runs the CPUs round-robin on one host thread): the TSC then
#      advances by one tick per guest instruction, so ns and TSC ticks count instructions.
# Usage: tools/bench-threads.sh ISO
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 && -f $1 ]] || die "usage: $0 ISO"
iso=$1
n=$(qemu_cpus)
pattern='^(bench|init):'

run() {
	local label=$1 accel=$2
	shift 2
	echo "== $label"
	timeout -k 10 600 qemu-system-x86_64 -accel "$accel" -cpu max -smp "$n" "${QEMU_COMMON[@]}" \
		"$@" -display none -monitor none -serial stdio -cdrom "$iso" </dev/null 2>/dev/null |
		tr -d '\r' | grep -E "$pattern" || true
}

run "QEMU TCG, $n CPUs, one host thread each (ns are emulated time, not hardware)" \
	tcg,thread=multi
run "QEMU -icount shift=0, $n CPUs round-robin (1 ns = 1 guest instruction)" tcg \
	-icount shift=0,sleep=off
