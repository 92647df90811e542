# shellcheck shell=bash
# TAP lines for the VMM's end-to-end scripts (sourced). They keep the counts in n, failed and
# skipped, which the script starts at 0 and reports at its end.

tap() { # verdict(0 = ok) name
	n=$((n + 1))
	if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# skip NAME WHY: with VMM_E2E_NO_SKIP set (make check on a CPU that has SVM or VMX) a test that
# could not run is a failure, not a skip.
skip() {
	n=$((n + 1))
	if [[ -n ${VMM_E2E_NO_SKIP:-} ]]; then
		echo "not ok $n - $1 # could not run: $2"
		failed=$((failed + 1))
	else
		echo "ok $n - $1 # SKIP $2"
		skipped=$((skipped + 1))
	fi
}

# tap_end STAGE: the plan line and STAGE's counts, also appended to TEST_SUMMARY_FILE when that
# is set (as tools/boot-test.sh does); returns non-zero if a test failed. The script's last word.
tap_end() {
	echo "1..$n"
	local line="$1: $((n - failed - skipped)) passed, $failed failed, $skipped skipped"
	echo "$line"
	[[ -z ${TEST_SUMMARY_FILE:-} ]] || echo "$line" >>"$TEST_SUMMARY_FILE"
	[[ $failed -eq 0 ]]
}
