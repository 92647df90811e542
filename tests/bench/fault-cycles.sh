#!/usr/bin/env bash
# Where a second-stage 4 KiB fault's extra instructions go (QEMU TCG, SVM with nested paging):
# boots the /bin/vmbench ISO with QEMU's gdb stub, single-steps one second-stage fault cycle and
# one host fault cycle (tests/bench/fault_cycles.py) and prints both per function, as markdown.
# Exact and repeatable; the totals match make bench-vm's -icount figures to a few instructions.
# Usage: tests/bench/fault-cycles.sh ISO KERNEL_ELF    Env: FAULT_PORT (default 1237)
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=tools/lib.sh disable=SC1091
. "$here/../../tools/lib.sh"

[[ $# -eq 2 && -f $1 && -f $2 ]] || die "usage: $0 ISO KERNEL_ELF"
command -v gdb >/dev/null || die "gdb is not installed (apt-get install gdb)"
iso=$1 elf=$2 port=${FAULT_PORT:-1237}

qemu-system-x86_64 -accel tcg -cpu max "${QEMU_COMMON[@]}" -display none -monitor none \
	-serial null -cdrom "$iso" -gdb "tcp:127.0.0.1:$port" -S </dev/null >/dev/null 2>&1 &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true' EXIT
sleep 1
kill -0 "$qemu" 2>/dev/null || die "QEMU did not start (port $port busy? set FAULT_PORT)"
FAULT_PORT=$port FAULT_ELF=$elf timeout 600 gdb -q -batch -x "$here/fault_cycles.py" "$elf" 2>&1 |
	grep '^|' || die "no fault cycle traced"
