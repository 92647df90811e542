#!/usr/bin/env bash
# Runs the VM benchmark (tests/user/vmbench.c, booted as /bin/vmbench) under QEMU with SVM twice
# and prints its figures:
#   1. plain TCG: ns as the emulated machine sees them (emulator speed, not hardware);
#   2. -icount shift=0: the TSC advances one tick per guest instruction, so "TSC cycles" count
#      the instructions Dyad and its guest executed, deterministically.
# Usage: tools/bench-vm.sh ISO
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 && -f $1 ]] || die "usage: $0 ISO"
iso=$1

run() { bench_qemu_run "$1" 900 '^(vmbench|svm|vcpu|init):' "$iso" "${@:2}"; }

run "QEMU TCG -cpu max (SVM + NPT; ns are emulated time, not hardware)"
run "QEMU TCG -icount shift=0 (TSC cycles = guest instructions)" -icount shift=0,sleep=off
