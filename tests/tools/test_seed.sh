#!/usr/bin/env bash
# The randomized unit tests take their seed from the environment; a value that is not a number
# is refused (it once meant seed 0 silently).
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

dir=${UNIT_DIR:-$BUILD_DIR/host}
for pair in PMAP_SEED:test_pmap_model MM_SEED:test_mm BUDDY_SEED:test_buddy; do
	var=${pair%%:*} bin=$dir/${pair#*:}
	name=seed_${var,,}_nonsense_is_rejected
	if [[ ! -x $bin ]]; then
		not_ok "$name" "$bin is not built"
		continue
	fi
	for v in nonsense 12abc -1 "" 99999999999999999999999; do
		status=0
		out=$(env "$var=$v" "$bin" 2>&1 >/dev/null) || status=$?
		if [[ $status -ne 2 || $out != *"$var='$v' is not a seed"* ]]; then
			not_ok "$name" "$var='$v': status $status, stderr '$out'"
			continue 2
		fi
	done
	ok "$name"
done

status=0
out=$(BUDDY_SEED=0x10 "$dir/test_buddy" 2>&1) || status=$?
if [[ $status -eq 0 && $out == *"seed: BUDDY_SEED=0x10 replays this run"* ]]; then
	ok seed_number_is_accepted
else
	not_ok seed_number_is_accepted "BUDDY_SEED=0x10: status $status"
fi
