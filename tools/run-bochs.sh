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
# Bochs's own messages: beside the serial log when there is one, so that two runs at once (make
# check's Bochs stages) keep theirs apart.
emu_out=$BUILD_DIR/bochs.log
[[ -z $serial ]] || emu_out=${serial%.log}.emu.log

if [[ -n $serial ]]; then
	bochs_write_rc "$tmp/bochsrc" "$iso" "com1: enabled=1, mode=file, dev=\"$serial\""
	status=0
	bochs -q -f "$tmp/bochsrc" -rc "$tmp/cmds" </dev/null >"$emu_out" 2>&1 || status=$?
	verdict "$status"
fi

[[ -t 0 ]] || die "no terminal for COM1: give a SERIAL-LOG file"
tty=$(tty)
saved=$(stty -g)
# Bochs runs in a process group of its own, made the terminal's foreground group: the signal key
# (Ctrl-]) then reaches Bochs alone. Sent to the group this script shares with make and the
# runners above it, it reached them too: make could end first (status 130) and leave this script
# in a background group whose terminal calls fail ("stty: 'standard input': Input/output
# error"). This script sets the terminal's modes from the background, so it ignores SIGTTOU,
# which would stop it.
trap '' TTOU
# fg_group [CMD...]: makes the caller's (or, with CMD, a new) process group the terminal's
# foreground group, then execs CMD with SIGINT at its default.
fg_group() {
	perl -MPOSIX -e '
		open(my $tty, "+<", "/dev/tty") or die "run-bochs: /dev/tty: $!\n";
		$SIG{TTOU} = "IGNORE";
		setpgid(0, 0) or die "run-bochs: setpgid: $!\n" if @ARGV;
		tcsetpgrp(fileno($tty), getpgrp()) or die "run-bochs: tcsetpgrp: $!\n";
		exit 0 unless @ARGV;
		$SIG{INT} = "DEFAULT";
		exec { $ARGV[0] } @ARGV or die "run-bochs: $ARGV[0]: $!\n";' "$@"
}
# Bochs 2.7 "restores" the terminal on exit from an uninitialised copy (speed 0, raw): put it back
# ourselves, after taking the foreground back. Coming from speed 0, stty applies the settings but
# reports failure once; the second call confirms.
restore_tty() {
	fg_group || true
	stty "$saved" 2>/dev/null || stty "$saved" || true
}
trap 'restore_tty; rm -rf "$tmp"' EXIT
bochs_write_rc "$tmp/bochsrc" "$iso" "com1: enabled=1, mode=term, dev=\"$tty\""
echo "run-bochs: COM1 is this terminal; Ctrl-] quits; Bochs's messages go to $emu_out" >&2
# Bochs's debugger takes its commands from the rc file, so stdin is /dev/null.
fg_group bochs -q -f "$tmp/bochsrc" -rc "$tmp/cmds" </dev/null >"$emu_out" 2>&1 &
pid=$!
# Bochs's `term` mode sets the terminal raw with signals off, so Ctrl-C reaches the guest and
# nothing on the keyboard could stop Bochs. Once Bochs has done that, turn signals back on with
# Ctrl-] as the only signal key: it interrupts Bochs.
for _ in $(seq 200); do
	[[ $(stty -g) == "$saved" ]] || break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
stty isig intr '^]' quit undef susp undef
status=0
wait "$pid" || status=$?
restore_tty
echo
# SIGINT (Ctrl-]) ends Bochs with 128 + 2, or drops it into its debugger, whose next command from
# the rc file is `quit` (status 0, as for a magic break, but without the break's message).
if [[ $status -eq 130 ]] || { [[ $status -eq 0 ]] && ! grep -q "Magic breakpoint" "$emu_out"; }; then
	echo "run-bochs: stopped (Ctrl-])" >&2
	exit 0
fi
verdict "$status"
