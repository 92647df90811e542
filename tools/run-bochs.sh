#!/usr/bin/env bash
# Boots an ISO in Bochs (VMX available) without a window.
# Usage: tools/run-bochs.sh ISO [SERIAL-LOG]
# With SERIAL-LOG, COM1 output goes to that file and nothing reads input: the non-interactive form. Without
# it and on a terminal, COM1 is this terminal in both directions; Bochs puts it in raw mode, so Ctrl-C
# goes to the guest: quit with Ctrl-] (this script kills Bochs), or let the kernel end the run.
# The VGA screen is served over VNC (port 5900 or the next free one), never waited for.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 ISO [SERIAL-LOG]"
iso=$1 serial=${2:-}
[[ -f $iso ]] || die "ISO '$iso' not found"

# Bochs's status is the verdict in one bit: 0 when Dyad stops at a magic break (a pass, or the monitor's
# `quit`), 1 for the Shutdown port (a failure), a Bochs panic or an error. Exits 0 or 1 accordingly.
verdict() {
	case $1 in
	0) echo "run-bochs: Dyad ended the run: pass (magic break)" >&2 ;;
	1)
		echo "run-bochs: FAIL: Dyad reported a failure, or Bochs stopped with an error (see $emu_out)" >&2
		exit 1
		;;
	*)
		echo "run-bochs: Bochs failed with status $1 (see $emu_out)" >&2
		exit 1
		;;
	esac
	exit 0
}

mkdir -p "$BUILD_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bochs_write_cmds "$tmp/cmds"
emu_out=$BUILD_DIR/bochs.log

if [[ -n $serial ]]; then
	bochs_write_rc "$tmp/bochsrc" "$iso" "com1: enabled=1, mode=file, dev=\"$serial\""
	status=0
	bochs -q -f "$tmp/bochsrc" -rc "$tmp/cmds" </dev/null >"$emu_out" 2>&1 || status=$?
	verdict "$status"
fi

[[ -t 0 ]] || die "no terminal for COM1: give a SERIAL-LOG file"
tty=$(tty)
saved=$(stty -g)
# Bochs 2.7 "restores" the terminal on exit from an uninitialised copy (speed 0, raw): put it back
# ourselves. Coming from speed 0, stty applies the settings but reports failure once; the second call
# confirms.
restore_tty() { stty "$saved" 2>/dev/null || stty "$saved" || true; }
trap 'restore_tty; rm -rf "$tmp"' EXIT
bochs_write_rc "$tmp/bochsrc" "$iso" "com1: enabled=1, mode=term, dev=\"$tty\""
echo "run-bochs: COM1 is this terminal; Ctrl-] quits; Bochs's messages go to $emu_out" >&2
# Bochs's debugger takes its commands from the rc file, so stdin is /dev/null.
bochs -q -f "$tmp/bochsrc" -rc "$tmp/cmds" </dev/null >"$emu_out" 2>&1 &
pid=$!
quit=0
trap 'quit=1; kill "$pid" 2>/dev/null || true' INT TERM
# Bochs's `term` mode sets the terminal raw with signals off, so Ctrl-C reaches the guest and nothing on
# the keyboard could stop Bochs. Once Bochs has done that, turn signals back on with Ctrl-] as the only
# signal key: it interrupts this script, which kills Bochs.
for _ in $(seq 200); do
	[[ $(stty -g) == "$saved" ]] || break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
stty isig intr '^]' quit undef susp undef
status=0
wait "$pid" || status=$?
# After Ctrl-] the first wait returns early: reap Bochs for real.
wait "$pid" 2>/dev/null || true
restore_tty
echo
if [[ $quit -eq 1 ]]; then
	echo "run-bochs: stopped" >&2
	exit 0
fi
verdict "$status"
