#!/usr/bin/env bash
# Boots an ISO once without a user and judges the kernel's self-test verdict.
# Usage: tools/boot-test.sh {qemu|bochs} ISO
# Env: BOOT_TEST_TIMEOUT (wall seconds; default 120 for QEMU, 600 for Bochs).
#      BOCHS_CPU (Bochs: the CPU model, default corei7_skylake_x; the logs then carry its name).
#      QEMU_CPU (QEMU: the CPU model and flags, default max, see lib.sh; the logs carry it too).
#      BOOT_TEST_EXPECT (an extended regex a serial line must also match, e.g. the closing line of
#      the user-space tests: '^user: [1-9][0-9]* passed, 0 failed, [0-9]+ skipped$').
#      BOOT_TEST_NO_SKIP (an extended regex: a TAP SKIP line matching it fails the boot, so that a
#      run can demand that a group of tests really ran, e.g. 'vmx' on a CPU that must have VMX).
#      BOOT_TEST_MIN_PASS ('N:REGEX': at least N TAP `ok` lines that are not skips must match REGEX).
#      BOOT_TEST_STDIN (QEMU: a file fed to the serial line as input; default none).
#      TEST_SUMMARY_FILE (a file the one-line verdict is appended to, for `make check`'s total).
# The kernel prints TAP lines and `ktest: N passed, M failed, K skipped` on COM1, then ends the run:
# QEMU exits with status 1 (pass, outb 0xf4 <- 0) or 3 (fail); Bochs exits 0 (pass, magic break +
# `quit`) or 1 (fail, "Shutdown" to port 0x8900). A run passes only if the status says pass AND the
# log has `ktest: N passed, 0 failed` with N >= 1 AND no `not ok` line AND no panic line: neither
# signal alone is trusted. A `# wall clock: YYYY-...` line (a process's CLOCK_REALTIME) must
# name the host's year. A skipped test (`ok N - name # SKIP reason`) is neither a pass nor a
# failure: the verdict counts and lists skips apart.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 2 && ($1 == qemu || $1 == bochs) ]] || die "usage: $0 {qemu|bochs} ISO"
emu=$1 iso=$2
[[ -f $iso ]] || die "ISO '$iso' not found"
case $emu in
qemu) limit=${BOOT_TEST_TIMEOUT:-120} pass_status=1 ;;
bochs) limit=${BOOT_TEST_TIMEOUT:-600} pass_status=0 ;;
esac

mkdir -p "$BUILD_DIR"
tag=$emu${BOCHS_CPU:+-$BOCHS_CPU}
[[ $emu == bochs ]] || tag=$emu${QEMU_CPU:+-${QEMU_CPU//[,+]/_}}
log=$BUILD_DIR/boot-test-$tag.log
emu_out=$BUILD_DIR/boot-test-$tag.emu.log # the emulator's own messages, for post-mortems
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$log"

# Copies serial lines to the log and the terminal as they come, and notes when the ktest line arrived.
serial_reader() {
	local line
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		printf '%s\n' "$line" >>"$log"
		printf '%s\n' "$line"
		if [[ $line == ktest:* && ! -e $tmp/ktest_at ]]; then
			echo "$EPOCHREALTIME" >"$tmp/ktest_at"
		fi
	done
}

if [[ $emu == bochs ]]; then
	echo "boot-test $emu: booting $iso (limit ${limit} s of Bochs's CPU time, serial log $log)"
else
	echo "boot-test $emu: booting $iso (timeout ${limit} s, serial log $log)"
fi
start=$EPOCHREALTIME
case $emu in
qemu)
	# TCG unless nested-VMX KVM is usable (see lib.sh). stdin is /dev/null (or BOOT_TEST_STDIN): nothing
	# waits for a user.
	# shellcheck disable=SC2046
	{
		status=0
		timeout -k 10 "$limit" qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" \
			-display none -monitor none -serial stdio -cdrom "$iso" \
			<"${BOOT_TEST_STDIN:-/dev/null}" 2>"$emu_out" || status=$?
		echo "$status" >"$tmp/status"
	} | serial_reader
	;;
bochs)
	# COM1 writes into a FIFO read line by line, so the ktest line is timed when it is printed.
	mkfifo "$tmp/serial"
	bochs_write_rc "$tmp/bochsrc" "$iso" "com1: enabled=1, mode=file, dev=\"$tmp/serial\""
	bochs_write_cmds "$tmp/cmds"
	# Bochs runs on one thread and its clock follows its instruction count (clock: sync=none): its
	# CPU time measures its progress whatever else the host runs, so the limit is on that
	# (RLIMIT_CPU: Bochs ignores SIGXCPU, so the kernel's SIGKILL ends it, status 137), and make
	# check can run two Bochs stages at once. The wall-clock limit, five times as long, only
	# catches a Bochs that stopped running.
	{
		status=0
		(
			ulimit -t "$limit"
			exec timeout -k 10 $((limit * 5)) bochs -q -f "$tmp/bochsrc" -rc "$tmp/cmds"
		) </dev/null >"$emu_out" 2>&1 || status=$?
		echo "$status" >"$tmp/status"
		# If Bochs died before opening the FIFO the reader still waits in open(): a read-write open
		# (which never blocks) releases it.
		: 1<>"$tmp/serial"
	} &
	serial_reader <"$tmp/serial"
	wait
	;;
esac

status=$(<"$tmp/status")
summary=$(grep -E '^ktest: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
passed=$(sed -nE 's/^ktest: ([0-9]+) passed.*/\1/p' <<<"$summary")
failed=$(sed -nE 's/^ktest: [0-9]+ passed, ([0-9]+) failed.*/\1/p' <<<"$summary")
skipped=$(sed -nE 's/^ktest: [0-9]+ passed, [0-9]+ failed, ([0-9]+) skipped.*/\1/p' <<<"$summary")
# TAP lines of every layer in the log (ktests and each user program): passes, failures, skips.
skip_re='^ok [0-9]+ .*# SKIP'
tap_pass=$(grep -E '^ok [0-9]+' "$log" | grep -cvE "$skip_re" || true)
tap_fail=$(grep -cE '^not ok [0-9]+' "$log" || true)
tap_skip=$(grep -cE "$skip_re" "$log" || true)

# Collect every reason to fail; the verdict is PASS only if there is none.
why=()
wall=$(awk "BEGIN { printf \"%d\", $EPOCHREALTIME - $start }")
if [[ $emu == bochs && $status == 137 ]] && ((wall < limit * 5)); then
	# Killed before the wall-clock limit: by the kernel, at the CPU-time limit.
	why+=("Bochs used up its ${limit} s of CPU time (in $wall s)")
elif [[ $status == 124 || $status == 137 ]]; then
	why+=("timeout after $([[ $emu == bochs ]] && echo $((limit * 5)) || echo "$limit") s")
elif [[ $emu == qemu && $status == 0 ]]; then
	why+=("exit status 0: triple fault or reset (pass is 1)")
elif [[ $status != "$pass_status" ]]; then
	why+=("exit status $status (pass is $pass_status)")
fi
[[ -n $summary ]] || why+=("no ktest line")
[[ -z $summary || $passed -ge 1 ]] || why+=("no test ran")
[[ -z $summary || $failed -eq 0 ]] || why+=("$failed failed")
if grep -qE '^not ok' "$log"; then why+=("a 'not ok' line"); fi
if [[ -n ${BOOT_TEST_EXPECT:-} ]] && ! grep -qE "$BOOT_TEST_EXPECT" "$log"; then
	why+=("no line matching '$BOOT_TEST_EXPECT'")
fi
if [[ -n ${BOOT_TEST_NO_SKIP:-} ]]; then
	n=$(grep -E "$skip_re" "$log" | grep -cE "$BOOT_TEST_NO_SKIP" || true)
	[[ $n -eq 0 ]] || why+=("$n skipped test(s) matching '$BOOT_TEST_NO_SKIP' (BOOT_TEST_NO_SKIP)")
fi
if [[ -n ${BOOT_TEST_MIN_PASS:-} ]]; then
	[[ $BOOT_TEST_MIN_PASS =~ ^([0-9]+):(.+)$ ]] || die "BOOT_TEST_MIN_PASS must be N:REGEX"
	want=${BASH_REMATCH[1]} re=${BASH_REMATCH[2]}
	n=$(grep -E '^ok [0-9]+' "$log" | grep -vE "$skip_re" | grep -cE "$re" || true)
	[[ $n -ge $want ]] || why+=("$n passed test(s) match '$re', $want required (BOOT_TEST_MIN_PASS)")
fi
# The wall clock a process reads (tests/user/sysconf.c prints it) is the emulator's RTC, which
# follows the host's clock: UTC under QEMU, local time under Bochs (time0=local). Its year must
# be the host's in either zone.
while IFS= read -r line; do
	year=${line#"# wall clock: "}
	year=${year:0:4}
	if [[ $year != "$(date -u +%Y)" && $year != "$(date +%Y)" ]]; then
		why+=("the wall clock says $year, the host's year is $(date +%Y)")
	fi
done < <(grep -E '^# wall clock: [0-9]{4}-' "$log" || true)
# A panic line is any non-TAP line mentioning panic (a test may carry "panic" in its name).
if awk 'tolower($0) ~ /panic/ && !/^(not )?ok [0-9]/ { f = 1 } END { exit !f }' "$log"; then
	why+=("a panic line")
fi

counts=", TAP lines: $tap_pass passed, $tap_fail failed, $tap_skip skipped"
[[ -z $summary ]] || counts=" (ktest: $passed passed, $failed failed, ${skipped:-0} skipped)$counts"
if [[ $tap_skip -gt 0 ]]; then
	echo "boot-test $emu: skipped:"
	grep -E "$skip_re" "$log" | sed 's/^/  /'
fi
timing=
if [[ -e $tmp/ktest_at ]]; then
	timing=$(awk -v a="$start" -v b="$(<"$tmp/ktest_at")" 'BEGIN { printf ", ktest line after %.1f s wall", b - a }')
fi
# Bochs prints `IPS: x average = y (Ns)` each second: y*N is the emulated instruction count to then (time
# the guest spends halted counts too). Runs shorter than a second print no such line.
insns=
if [[ $emu == bochs ]]; then
	insns=$(awk '/IPS:.*average/ { n = $0; gsub(/.*\(|s\).*/, "", n); sub(/.*average = /, ""); v = $1 * n }
		END { if (v) printf ", ~%.0fM instructions emulated by the last whole second", v / 1e6 }' "$emu_out")
fi

# One line per boot for `make check`'s total: the TAP counts, and a failure if the boot failed.
record() {
	[[ -z ${TEST_SUMMARY_FILE:-} ]] ||
		echo "boot-test $tag ${iso#"$ROOT"/} $1: $tap_pass passed, $tap_fail failed, $tap_skip skipped" >>"$TEST_SUMMARY_FILE"
}

if [[ ${#why[@]} -eq 0 ]]; then
	record PASS
	echo "boot-test $emu: PASS$counts$timing$insns"
	exit 0
fi
record FAIL
reasons=$(printf '%s; ' "${why[@]}")
echo "boot-test $emu: FAIL (${reasons%; })$counts$timing$insns (emulator output: $emu_out)"
exit 1
