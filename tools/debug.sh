#!/usr/bin/env bash
# Boots an ISO in QEMU (TCG) stopped at the first instruction, and attaches gdb with the kernel's symbols;
# gdb stops at kmain. QEMU is killed when gdb exits.
# Usage: tools/debug.sh ISO KERNEL.elf
# COM1 goes to build/debug-serial.log (`tail -f` it elsewhere): the terminal belongs to gdb.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 2 ]] || die "usage: $0 ISO KERNEL.elf"
iso=$1 kernel=$2
[[ -f $iso ]] || die "ISO '$iso' not found"
[[ -f $kernel ]] || die "kernel '$kernel' not found"
command -v gdb >/dev/null || die "gdb is not installed (apt-get install gdb)"

mkdir -p "$BUILD_DIR"
serial=$BUILD_DIR/debug-serial.log
# TCG, not KVM: its gdb stub single-steps and takes hardware breakpoints reliably. -s listens on TCP 1234,
# -S waits for gdb. -no-shutdown keeps a triple-faulted machine for inspection instead of exiting.
qemu-system-x86_64 -accel tcg -cpu max "${QEMU_COMMON[@]}" -no-shutdown -display none -monitor none \
	-serial "file:$serial" -cdrom "$iso" -s -S </dev/null &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true; wait "$qemu" 2>/dev/null || true' EXIT
echo "debug: QEMU waits for gdb on :1234; COM1 is in $serial" >&2
status=0
gdb -q -x "$ROOT/tools/gdbinit" "$kernel" || status=$?
exit "$status"
