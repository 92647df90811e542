#!/usr/bin/env bash
# Runs the tests of the build tools and of first use (tests/tools/test_*.sh, or the files given),
# numbers their TAP lines and prints `tools: N passed, M failed, K skipped`.
# A test file that exits non-zero without a `not ok` line counts as one more failure.
# Env (from tests/tools/tools.mk): KERNEL, USER_ISO_MODULES, UNIT_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

files=("$@")
[[ ${#files[@]} -gt 0 ]] || files=("$here"/test_*.sh)
n=0 failed=0 skipped=0
echo "TAP version 13"
for f in "${files[@]}"; do
	echo "# ${f##*/}"
	status=0
	out=$(bash "$f" 2>&1) || status=$?
	file_failed=0
	while IFS= read -r line; do
		case $line in
		"ok - "*)
			n=$((n + 1))
			[[ $line != *"# SKIP"* ]] || skipped=$((skipped + 1))
			echo "ok $n ${line#ok }"
			;;
		"not ok - "*)
			n=$((n + 1)) failed=$((failed + 1)) file_failed=1
			echo "not ok $n ${line#not ok }"
			;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done <<<"$out"
	if [[ $status -ne 0 && $file_failed -eq 0 ]]; then
		n=$((n + 1)) failed=$((failed + 1))
		echo "not ok $n - ${f##*/} exited with status $status"
	fi
done
echo "1..$n"
echo "tools: $((n - failed - skipped)) passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
