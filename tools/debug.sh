#!/usr/bin/env bash
# Boots an ISO in QEMU (TCG) stopped at the first instruction, and attaches gdb with the kernel's symbols;
# gdb stops at kmain. QEMU is killed when gdb exits.
# Usage: tools/debug.sh ISO KERNEL.elf
# Env: GDB_PORT (default 1234), GDB (default gdb).
# COM1 goes to build/debug-serial.log (`tail -f` it elsewhere): the terminal belongs to gdb, and Ctrl-C
# interrupts the kernel (gdb stops it), never QEMU, make or this script.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 2 ]] || die "usage: $0 ISO KERNEL.elf"
iso=$1 kernel=$2
port=${GDB_PORT:-1234}
gdb=${GDB:-gdb}
[[ -f $iso ]] || die "ISO '$iso' not found"
[[ -f $kernel ]] || die "kernel '$kernel' not found"
[[ $port =~ ^[0-9]+$ ]] || die "GDB_PORT '$port' is not a port number"
command -v "$gdb" >/dev/null || die "$gdb is not installed (apt-get install gdb)"

mkdir -p "$BUILD_DIR"
serial=$BUILD_DIR/debug-serial.log
# Ctrl-C sends SIGINT to the terminal's foreground process group. QEMU runs in its own session, so it
# never gets it (QEMU quits on SIGINT). With job control on, gdb runs in its own process group, which
# becomes the foreground group: Ctrl-C reaches gdb alone, which stops the kernel and prompts, while
# make and this script go on waiting.
[[ ! -t 0 ]] || set -m
# TCG, not KVM: its gdb stub single-steps and takes hardware breakpoints reliably. -S waits for gdb.
# -no-shutdown keeps a triple-faulted machine for inspection instead of exiting.
# setsid forks when it already leads a process group (it does under set -m), so $! is not QEMU:
# QEMU's own pid file names the process to end.
pidfile=$(mktemp)
trap 'kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true; rm -f "$pidfile"' EXIT
trap 'exit 130' INT TERM HUP
setsid qemu-system-x86_64 -accel tcg -cpu max "${QEMU_COMMON[@]}" -no-shutdown -display none \
	-monitor none -serial "file:$serial" -cdrom "$iso" -gdb "tcp:127.0.0.1:$port" -S \
	-pidfile "$pidfile" </dev/null &
qemu=$!
echo "debug: QEMU waits for gdb on :$port; COM1 is in $serial" >&2
status=0
"$gdb" -q -iex "set \$dyad_gdb_port = $port" -x "$ROOT/tools/gdbinit" "$kernel" || status=$?
exit "$status"
