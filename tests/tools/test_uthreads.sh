#!/usr/bin/env bash
# The thread tests are static musl programs with Linux numbers and semantics, so they run on the
# build machine too: there they must pass (which checks the tests themselves against Linux, the
# reference), the stress must print a seed that replays it and refuse one that is not a number,
# and the guest-half test must skip (Linux has no dyad_vm_create) rather than pass.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

user=$BUILD_DIR/user
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME BIN ARGS...: runs a user program natively, its output in $tmp/NAME, status in $status.
run() {
	local name=$1
	shift
	status=0
	timeout 300 "$@" >"$tmp/$name" 2>&1 || status=$?
}

if [[ $(uname -s) != Linux || $(uname -m) != x86_64 ]]; then
	skip threads_pass_on_linux "not an x86-64 Linux machine"
	exit 0
fi

run threads "$user/threads"
n=$(sed -nE 's/^threads: ([0-9]+) passed, 0 failed, .*/\1/p' "$tmp/threads")
if [[ $status -eq 0 && ${n:-0} -ge 50 ]] && ! grep -q '^not ok' "$tmp/threads"; then
	ok threads_pass_on_linux
else
	not_ok threads_pass_on_linux "status $status: $(grep -A1 '^not ok' "$tmp/threads" | head -6)$(tail -1 "$tmp/threads")"
fi

run stress "$user/stress" 0x5eed 3 2
if [[ $status -eq 0 ]] && grep -qE '^stress: [1-9][0-9]* passed, 0 failed' "$tmp/stress"; then
	ok stress_passes_on_linux
else
	not_ok stress_passes_on_linux "status $status: $(grep -A1 '^not ok' "$tmp/stress" | head -6)"
fi
expect stress_prints_the_seed_that_replays_it "no replay line" \
	grep -q 'seed 0x5eed, 3 s.*replay: /bin/stress 0x5eed 3 2 1' "$tmp/stress"

bad=
for v in nonsense 12abc ""; do
	run stress_bad "$user/stress" "$v" 1
	[[ $status -ne 0 ]] && grep -q 'usage: stress' "$tmp/stress_bad" || bad+=" '$v' (status $status)"
done
expect stress_refuses_a_seed_that_is_not_a_number "accepted:$bad" test -z "$bad"

run vmshoot "$user/vmshoot"
expect vmshoot_skips_without_a_vm "status $status: $(cat "$tmp/vmshoot")" \
	grep -qE '^vmshoot: [0-9]+ passed, 0 failed, 2 skipped' "$tmp/vmshoot"
