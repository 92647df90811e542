#!/usr/bin/env bash
# Runs host unit-test binaries (cmocka), shows their output and sums their verdicts.
# Usage: tools/run-unit.sh [BIN...]   (no BIN: nothing to run, reported as 0 passed)
# Prints `unit: N passed, M failed, K skipped` counting tests from cmocka's summaries (cmocka's passed
# count leaves out the tests that called skip(); they are listed again at the end); a binary that
# crashes (an ASan or UBSan abort) or exits non-zero without reporting a failed test counts as one more
# failed test. Env: TEST_SUMMARY_FILE (a file the closing line is appended to, for `make check`).
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The plain format is the one parsed below, whatever the caller's environment asks for.
export CMOCKA_MESSAGE_OUTPUT=stdout

passed=0 failed=0 skipped=0
skip_lines=()
for bin in "$@"; do
	echo "== $bin"
	status=0
	if [[ ! -x $bin ]]; then
		echo "run-unit: $bin: not an executable" | tee "$tmp/out"
		status=127
	else
		# cmocka prints its summary on stderr: merge both streams so the counts and the output agree.
		"$bin" 2>&1 | tee "$tmp/out" || status=${PIPESTATUS[0]}
	fi
	p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test\(s\)\..*/\1/p' "$tmp/out" | awk '{ s += $1 } END { print s + 0 }')
	f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test\(s\).*/\1/p' "$tmp/out" | awk '{ s += $1 } END { print s + 0 }')
	s=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) test\(s\), listed below:.*/\1/p' "$tmp/out" | awk '{ s += $1 } END { print s + 0 }')
	while IFS= read -r name; do
		skip_lines+=("${bin##*/}: $name")
	done < <(awk '/^\[  SKIPPED \] [0-9]+ test\(s\), listed below:/ { on = 1; next }
		on && /^\[  SKIPPED \] / { sub(/^\[  SKIPPED \] /, ""); print; next } { on = 0 }' "$tmp/out")
	if [[ $status -ne 0 && $f -eq 0 ]] || [[ $p -eq 0 && $f -eq 0 && $s -eq 0 ]]; then
		echo "run-unit: $bin exited with status $status without a cmocka failure count: counted as 1 failed"
		f=$((f + 1))
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

if [[ ${#skip_lines[@]} -gt 0 ]]; then
	echo "unit: skipped:"
	printf '  %s\n' "${skip_lines[@]}"
fi
line="unit: $passed passed, $failed failed, $skipped skipped"
echo "$line"
[[ -z ${TEST_SUMMARY_FILE:-} ]] || echo "$line" >>"$TEST_SUMMARY_FILE"
[[ $failed -eq 0 ]]
