#!/usr/bin/env bash
# make debug's terminal: Ctrl-C must stop the kernel in gdb, not kill QEMU. Drives tools/debug.sh
# on a pseudo-terminal (script), as a user would: continue, Ctrl-C, read a variable, quit.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

name=debug_ctrl_c_interrupts_the_kernel_not_qemu
kernel=${KERNEL:-build/dyad.elf}
for c in script gdb qemu-system-x86_64; do
	if ! command -v $c >/dev/null; then
		skip $name "$c is not installed"
		exit 0
	fi
done
cd "$ROOT" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tools/mkiso.sh "$tmp/d.iso" "$kernel" "" >/dev/null || exit 1
port=$((20000 + RANDOM % 20000))

# Each step waits long enough on a loaded machine: gdb reaches kmain within seconds.
{
	sleep 8
	printf 'continue\n'
	sleep 4
	printf '\003'
	sleep 3
	printf 'print timer_ticks\n'
	sleep 1
	printf 'quit\n'
	sleep 1
	printf 'y\n'
	sleep 2
} | GDB_PORT=$port BUILD=${BUILD:-build} timeout -k 5 60 script -qec \
	"tools/debug.sh '$tmp/d.iso' '$kernel'" /dev/null >"$tmp/out" 2>&1
out=$(tr -d '\r' <"$tmp/out" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g')
if ! grep -q 'Breakpoint 1, kmain' <<<"$out"; then
	not_ok $name "gdb never stopped at kmain: $(tail -5 <<<"$out")"
elif grep -q 'terminating on signal 2' <<<"$out"; then
	not_ok $name "QEMU was killed by the Ctrl-C"
elif ! grep -q 'received signal SIGINT' <<<"$out"; then
	not_ok $name "gdb did not stop the kernel: $(tail -8 <<<"$out")"
elif ! grep -qE "^\\\$1 = [1-9][0-9]*$" <<<"$out"; then
	not_ok $name "no timer ticks read after the stop: $(tail -8 <<<"$out")"
else
	ok $name
fi
# QEMU must not outlive the debug session (it would go on using a CPU).
sleep 1
qemu_gone() { ! pgrep -f "[q]emu-system-x86_64 .*tcp:127.0.0.1:$port " >/dev/null; }
expect debug_qemu_ends_with_gdb "a QEMU still serves port $port" qemu_gone
