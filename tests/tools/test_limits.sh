#!/usr/bin/env bash
# The kernel's limits on what the boot loader hands it, each refused with a message that says
# which limit and never cut: 511 words after `--` for the first process (E2BIG beyond), a
# command line of 4095 bytes (the boot is refused beyond), and the module table (256 modules
# kept, the rest warned about, none a panic). One QEMU boot each, a few seconds.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start
user_iso_modules || exit 1
if ! command -v qemu-system-x86_64 >/dev/null; then
	for t in init_words_beyond_511_are_e2big command_line_beyond_4095_bytes_is_refused \
		modules_beyond_the_table_are_warned_about_not_fatal; do
		skip $t "qemu-system-x86_64 is not installed"
	done
	exit 0
fi

# boot NAME CMDLINE [MODULE...]: builds and boots an ISO with the user programs and MODULEs;
# the serial output goes to $tmp/NAME.out, the runner's status to $tmp/NAME.status (124 when
# BOOT_SECONDS, default 120, ran out).
boot() {
	local name=$1 cmdline=$2 status=0
	shift 2
	if ! tools/mkiso.sh "$tmp/$name.iso" "$kernel" "$cmdline" "${modules[@]}" "$@" \
		>"$tmp/$name.out" 2>&1; then
		echo 99 >"$tmp/$name.status"
		return
	fi
	timeout -k 5 "${BOOT_SECONDS:-120}" tools/run-qemu.sh "$tmp/$name.iso" </dev/null 2>&1 | tr -d '\r' \
		>"$tmp/$name.out" || status=${PIPESTATUS[0]}
	echo "$status" >"$tmp/$name.status"
}

# words N LEN: N words of LEN bytes each, joined by single spaces.
words() {
	local w
	w=$(printf 'w%.0s' $(seq "$2"))
	for ((i = 0; i < $1; i++)); do printf '%s ' "$w"; done | sed 's/ $//'
}

# ---- init= with too many words --------------------------------------------------------------
# /bin/nop gets argv[0] plus the words after `--`: 511 fit in ARGV_MAX (512), 512 do not.
boot words511 "init=/bin/nop -- $(words 511 2)"
boot words512 "init=/bin/nop -- $(words 512 2)"
name=init_words_beyond_511_are_e2big
e2big="init: /bin/nop not started: more than 511 arguments after -- (E2BIG)"
if [[ $(<"$tmp/words512.status") -ne 1 ]] || ! grep -qF "$e2big" "$tmp/words512.out"; then
	not_ok $name "512 words: status $(<"$tmp/words512.status"): $(grep -m3 'init:\|panic' "$tmp/words512.out")"
elif [[ $(<"$tmp/words511.status") -ne 0 ]] ||
	! grep -q "^init: /bin/nop exited with status 0$" "$tmp/words511.out"; then
	not_ok $name "511 words did not run: status $(<"$tmp/words511.status"): $(grep -m3 'init:\|panic' "$tmp/words511.out")"
else
	ok $name
fi

# ---- the command line's length --------------------------------------------------------------
# "init=/bin/nop -- " (17 bytes) then words of 15 bytes and spaces, padded to the exact length.
line_of() {
	local len=$1 s="init=/bin/nop --"
	while ((${#s} + 16 <= len)); do s+=" $(printf 'x%.0s' $(seq 15))"; done
	if ((${#s} < len)); then s+=" $(printf 'y%.0s' $(seq $((len - ${#s} - 1))))"; fi
	printf '%s' "$s"
}
boot line4095 "$(line_of 4095)"
# A boot panic without `ktest` (whose word the refused line would carry) halts the machine for
# the user to read: the run ends by its timeout.
BOOT_SECONDS=20 boot line4096 "$(line_of 4096)"
name=command_line_beyond_4095_bytes_is_refused
refused="panic: boot: kernel command line is too long (the limit is 4095 bytes)"
if ! grep -qF "$refused" "$tmp/line4096.out" || grep -q '^init:' "$tmp/line4096.out"; then
	not_ok $name "4096 bytes: status $(<"$tmp/line4096.status"): $(grep -m3 'boot:\|panic\|init:' "$tmp/line4096.out")"
elif [[ $(<"$tmp/line4095.status") -ne 0 ]] ||
	! grep -q "^init: /bin/nop exited with status 0$" "$tmp/line4095.out"; then
	not_ok $name "4095 bytes did not boot: status $(<"$tmp/line4095.status"): $(grep -m3 'boot:\|panic\|init:' "$tmp/line4095.out")"
else
	ok $name
fi

# ---- many modules ---------------------------------------------------------------------------
# The user programs, filler files up to 255 modules, /bin/late (a copy of /bin/nop) as the
# 256th, then 30 more: the table keeps the first 256, so /bin/late runs, and the 30 are named
# in a warning instead of a panic.
mkdir "$tmp/m"
extra=()
for ((i = ${#modules[@]}; i < 255; i++)); do
	echo "$i" >"$tmp/m/f$i"
	extra+=("$tmp/m/f$i:/m/$i")
done
cp build/user/nop "$tmp/m/late"
extra+=("$tmp/m/late:/bin/late")
for ((i = 256; i < 286; i++)); do
	echo "$i" >"$tmp/m/f$i"
	extra+=("$tmp/m/f$i:/m/$i")
done
boot many "init=/bin/late" "${extra[@]}"
name=modules_beyond_the_table_are_warned_about_not_fatal
warning="boot: warning: 30 modules not kept, from /m/256 on: the table holds 256"
if [[ $(<"$tmp/many.status") -ne 0 ]] || ! grep -q "^init: /bin/late exited with status 0$" "$tmp/many.out"; then
	not_ok $name "the 256th module did not run: status $(<"$tmp/many.status"): $(grep -m3 'boot:\|panic\|init:' "$tmp/many.out")"
elif ! grep -qF "$warning" "$tmp/many.out"; then
	not_ok $name "no warning '$warning': $(grep -m3 'boot:' "$tmp/many.out")"
else
	ok $name
fi
