#!/usr/bin/env bash
# First boots as a user meets them: the runners' exit status (0 for a pass or a quit, 1 for a
# failure), the monitor's `time`, a missing init, an unknown boot option, and Bochs's Ctrl-]
# through make (status 0, no terminal errors).
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start
user_iso_modules || exit 1
# The monitor's `time` line with the tick count and the count the TSC expects.
timer_re='^timer: [0-9]+ ticks in [0-9.]+ s at 100 Hz \([0-9]+ expected, fewer if interrupts'
timer_re+=' were off long\)$'
mkiso() { tools/mkiso.sh "$tmp/$1.iso" "$kernel" "$2" "${modules[@]}" >/dev/null; }
mkiso missing "init=/bin/nothere colour=blue" || exit 1
mkiso plain "" || exit 1
mkiso nop "init=/bin/nop" || exit 1

# ---- QEMU: a failing run (init cannot start) -------------------------------------------------
status=0
timeout -k 5 120 tools/run-qemu.sh "$tmp/missing.iso" </dev/null >"$tmp/missing.out" 2>&1 ||
	status=$?
out=$(tr -d '\r' <"$tmp/missing.out")
expect run_qemu_failure_is_status_1 "status $status" test $status -eq 1
name=missing_init_names_the_error_and_lists_the_modules
if ! grep -q "^init: /bin/nothere could not start: ENOENT (error 2)$" <<<"$out"; then
	not_ok $name "no ENOENT line: $(grep '^init:' <<<"$out")"
elif ! grep -q "^init: the modules are: .*/bin/init .*/bin/sysconf" <<<"$out"; then
	not_ok $name "no module list: $(grep '^init:' <<<"$out")"
else
	ok $name
fi
expect unknown_boot_option_is_warned_about "no warning for colour=blue" \
	grep -q "^boot: warning: unknown option 'colour=blue' ignored" <<<"$out"

# ---- QEMU: the monitor, then a clean quit ----------------------------------------------------
# Commands go in once the monitor is up, and `time` after two seconds.
mkfifo "$tmp/in"
timeout -k 5 120 tools/run-qemu.sh "$tmp/plain.iso" <"$tmp/in" >"$tmp/plain.out" 2>&1 &
qemu=$!
exec 3>"$tmp/in"
for _ in $(seq 600); do
	grep -q "Dyad is up" "$tmp/plain.out" && break
	kill -0 $qemu 2>/dev/null || break
	sleep 0.2
done
sleep 2
printf 'time\r' >&3
sleep 1
printf 'quit\r' >&3
exec 3>&-
status=0
wait $qemu || status=$?
out=$(tr -d '\r' <"$tmp/plain.out")
expect run_qemu_quit_is_status_0 "status $status: $(tail -3 <<<"$out")" test $status -eq 0
name=monitor_time_ticks_match_the_time_since_the_timer_started
line=$(grep -E "$timer_re" <<<"$out")
if [[ -z $line ]]; then
	not_ok $name "no timer line: $(grep -A2 'dyad> time' <<<"$out")"
else
	ticks=$(sed -E 's/^timer: ([0-9]+) .*/\1/' <<<"$line")
	want=$(sed -E 's/.*\(([0-9]+) expected, .*/\1/' <<<"$line")
	# A loaded host makes QEMU merge ticks, never invent them: the bounds of kern/time_ktest.c.
	# The exact count is checked under Bochs below.
	if ((ticks <= want + 1 && 4 * ticks + 4 >= want && want >= 100)); then
		ok "$name # $line"
	else
		not_ok $name "$line"
	fi
	grep -q '^uptime [0-9.]* s since CPU reset, of which [0-9.]* s before the timer started' \
		<<<"$out" || not_ok monitor_time_explains_uptime "$(grep '^uptime' <<<"$out")"
fi

# ---- Bochs: the same mapping ----------------------------------------------------------------
if ! command -v bochs >/dev/null; then
	skip run_bochs_failure_is_status_1 "bochs is not installed"
	skip run_bochs_pass_is_status_0 "bochs is not installed"
	exit 0
fi
status=0
timeout -k 5 300 tools/run-bochs.sh "$tmp/missing.iso" "$tmp/bochs-missing.log" >/dev/null 2>&1 ||
	status=$?
expect run_bochs_failure_is_status_1 "status $status" test $status -eq 1
status=0
timeout -k 5 300 tools/run-bochs.sh "$tmp/nop.iso" "$tmp/bochs-nop.log" >/dev/null 2>&1 ||
	status=$?
if [[ $status -eq 0 ]] && grep -q "exited with status 0" "$tmp/bochs-nop.log"; then
	ok run_bochs_pass_is_status_0
else
	not_ok run_bochs_pass_is_status_0 "status $status: $(tail -3 "$tmp/bochs-nop.log")"
fi

# Bochs's clock is its instruction count, so there the ticks must match to the tick. run-bochs.sh
# wants a terminal for COM1: drive it on a pseudo-terminal (script), `time` then `quit`.
name=bochs_monitor_time_ticks_match_exactly_and_quit_is_status_0
if ! command -v script >/dev/null; then
	skip $name "script (util-linux) is not installed"
	exit 0
fi
mkfifo "$tmp/bochs-in"
timeout -k 5 300 script -qec "tools/run-bochs.sh '$tmp/plain.iso'" /dev/null <"$tmp/bochs-in" \
	>"$tmp/bochs-plain.out" 2>&1 &
bochs=$!
exec 4>"$tmp/bochs-in"
for _ in $(seq 1500); do
	grep -q "Dyad is up" "$tmp/bochs-plain.out" && break
	kill -0 $bochs 2>/dev/null || break
	sleep 0.2
done
# Bochs's clock runs at its instruction rate, slower than the wall clock on a loaded host.
sleep 5
printf 'time\r' >&4
sleep 2
printf 'quit\r' >&4
status=0
wait $bochs || status=$?
exec 4>&-
out=$(tr -d '\r' <"$tmp/bochs-plain.out")
line=$(grep -E "$timer_re" <<<"$out")
ticks=$(sed -E 's/^timer: ([0-9]+) .*/\1/' <<<"$line")
want=$(sed -E 's/.*\(([0-9]+) expected, .*/\1/' <<<"$line")
if [[ -z $line ]]; then
	not_ok $name "no timer line (status $status): $(tail -5 <<<"$out")"
elif ! ((ticks + 1 >= want && ticks <= want + 1 && want >= 50)); then
	not_ok $name "$line"
elif [[ $status -ne 0 ]] || ! grep -q "run-bochs: Dyad ended the run: pass" <<<"$out"; then
	not_ok $name "quit gave status $status: $(tail -3 <<<"$out")"
else
	ok "$name # $line"
fi

# Ctrl-] at the monitor under Bochs: the run stops with status 0 and says so (the old runner
# reported a pass by magic break, or ended make with status 130 and stty errors), and the
# terminal is left usable. On a pseudo-terminal (script), through make as a user runs it.
name=bochs_ctrl_bracket_stops_with_status_0
mkfifo "$tmp/ctl-in"
printf 'all:\n\t@tools/run-bochs.sh %s\n' "$tmp/plain.iso" >"$tmp/ctl.mk"
timeout -k 5 300 script -qec "make -s --no-print-directory -f '$tmp/ctl.mk'; echo make-status=\$?" \
	/dev/null <"$tmp/ctl-in" >"$tmp/ctl.out" 2>&1 &
bochs=$!
exec 5>"$tmp/ctl-in"
for _ in $(seq 1500); do
	grep -q "Dyad is up" "$tmp/ctl.out" && break
	kill -0 $bochs 2>/dev/null || break
	sleep 0.2
done
sleep 1
printf '\035' >&5
for _ in $(seq 100); do
	grep -q 'make-status=' "$tmp/ctl.out" && break
	sleep 0.2
done
exec 5>&-
wait $bochs
out=$(tr -d '\r' <"$tmp/ctl.out")
if ! grep -q 'make-status=0' <<<"$out"; then
	not_ok $name "make did not end with status 0: $(tail -3 <<<"$out")"
elif ! grep -qF 'run-bochs: stopped (Ctrl-])' <<<"$out"; then
	not_ok $name "no 'stopped (Ctrl-])' line: $(tail -3 <<<"$out")"
elif grep -q 'Input/output error' <<<"$out"; then
	not_ok $name "terminal errors: $(grep 'Input/output error' <<<"$out")"
else
	ok $name
fi
