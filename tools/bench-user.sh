#!/usr/bin/env bash
# Runs the user-space benchmark (tests/user/bench.c, booted as /bin/bench) under QEMU twice and
# prints its figures:
#   1. plain TCG: wall-clock ns as the emulated machine sees them (emulator speed, not hardware);
#   2. -icount shift=0: QEMU then advances its virtual clock, and the TSC, by exactly one tick per
#      guest instruction, so "ns" and "TSC cycles" read as guest instructions, deterministically.
# Usage: tools/bench-user.sh ISO
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 && -f $1 ]] || die "usage: $0 ISO"
iso=$1

run() { bench_qemu_run "$1" 600 '^(bench|init):' "$iso" "${@:2}"; }

run "QEMU TCG (ns are emulated time, not hardware)"
run "QEMU -icount shift=0 (1 ns = 1 guest instruction: ns and TSC cycles count instructions)" \
	-icount shift=0,sleep=off
