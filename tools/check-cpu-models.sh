#!/usr/bin/env bash
# Boots ISO (the self-tests, then user tests that /bin/vm and /bin/vmnmi must be among: `make
# check-cpu-models` builds it) under QEMU TCG once per CPU model and prints two TAP lines per
# model, then a closing line.
# Usage: tools/check-cpu-models.sh ISO [MODEL...]   (MODEL as QEMU_CPU takes it, e.g. EPYC-Rome
#        or max,-pdpe1gb; without MODELs, every model of the table below)
# Env: CPUS (Dyad's CPUs, default 2: fewer host threads on a small machine),
#      CPU_MODELS_TIMEOUT (wall seconds per boot, default 240).
#
# Each model is one boot, judged by tools/boot-test.sh (exit status, `ktest: N passed, 0 failed`,
# the user programs' closing line, no `not ok`, no panic), and two TAP lines:
#   MODEL: boots and passes its tests   the boot passed, and Dyad's boot lines name what the
#                                       table says the model has (e.g. `svm=1 npt=1`);
#   MODEL: VM tests                     with SVM and nested paging, no VM test may skip; without,
#                                       Dyad must have said that VMs cannot run (ENODEV) and
#                                       the line is a SKIP that names the reason.
# A model this QEMU does not know is a SKIP, as is every model when KVM would run instead of TCG.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 1 ]] || die "usage: $0 ISO [MODEL...]"
iso=$1
shift
[[ -f $iso ]] || die "ISO '$iso' not found"

# MODEL|KIND|REGEX: KIND is vm (SVM with nested paging: the VM tests must run) or novm (no
# usable SVM or VMX: VMs must be refused); REGEX (extended) must match a line of the boot log,
# what Dyad has to have detected on that model. Intel models have no VMX under TCG.
MODEL_TABLE=(
	'max|vm|^cpu: AuthenticAMD .* svm=1 npt=1'
	'EPYC|vm|^cpu: AuthenticAMD .*1g-pages=1 .* svm=1 npt=1'
	'EPYC-Rome|vm|^cpu: AuthenticAMD .* svm=1 npt=1'
	'EPYC-Milan|vm|^cpu: AuthenticAMD .* svm=1 npt=1'
	'Dhyana|vm|^cpu: HygonGenuine .* svm=1 npt=1'
	'Opteron_G5|vm|^fpu: XSAVE left off \(a hypervisor.s CPUID 0xd.1 has no XSAVEOPT'
	'Opteron_G4|vm|^fpu: XSAVE left off \(a hypervisor.s CPUID 0xd.1 has no XSAVEOPT'
	'phenom|vm|^cpu: AuthenticAMD .* xsave=0 .* svm=1 npt=1'
	'qemu64,+npt|vm|^cpu: AuthenticAMD .*1g-pages=0 .* svm=1 npt=1'
	'max,-pdpe1gb|vm|^mem: .*direct map in 2 MiB pages'
	'max,-xsave|vm|^cpu: .* xsave=0 avx=1 .* svm=1 npt=1'
	'max,-nx|vm|^cpu: AuthenticAMD nx=0 .* svm=1 npt=1'
	'max,-npt|novm|^svm: missing nested paging'
	'max,-svm|novm|^svm: missing SVM'
	'qemu64|novm|^svm: missing nested paging'
	'Opteron_G3|novm|^svm: missing nested paging'
	'Skylake-Server|novm|^cpu: GenuineIntel .*no VMX or SVM'
	'Icelake-Server|novm|^cpu: GenuineIntel .*no VMX or SVM'
	'Haswell|novm|^cpu: GenuineIntel .*no VMX or SVM'
	'Nehalem|novm|^cpu: GenuineIntel .*1g-pages=0 .*xsave=0 .*no VMX or SVM'
	'core2duo|novm|^cpu: GenuineIntel .*no VMX or SVM'
)

# The table row of MODEL, or a row with KIND "?" for a model the table does not list.
row_of() {
	local r
	for r in "${MODEL_TABLE[@]}"; do
		if [[ ${r%%|*} == "$1" ]]; then
			echo "$r"
			return
		fi
	done
	echo "$1|?|"
}

models=("$@")
if [[ ${#models[@]} -eq 0 ]]; then
	for r in "${MODEL_TABLE[@]}"; do models+=("${r%%|*}"); done
fi

export CPUS=${CPUS:-2}
limit=${CPU_MODELS_TIMEOUT:-240}
user_line='^user: [1-9][0-9]* passed, 0 failed, [0-9]+ skipped$'
out_dir=$BUILD_DIR/cpu-models
mkdir -p "$out_dir"
n=0 pass=0 fail=0 skipped=0
tap() { # STATUS NAME [SKIP-REASON]
	n=$((n + 1))
	case $1 in
	ok) pass=$((pass + 1)) && echo "ok $n - $2" ;;
	skip) skipped=$((skipped + 1)) && echo "ok $n - $2 # SKIP $3" ;;
	*) fail=$((fail + 1)) && echo "not ok $n - $2" ;;
	esac
}

echo "check-cpu-models: ${#models[@]} QEMU CPU models, $CPUS CPUs each, $iso (logs in $out_dir)"
for m in "${models[@]}"; do
	IFS='|' read -r _ kind want <<<"$(row_of "$m")"
	name="$m: boots and passes its tests"
	if kvm_nested_usable; then
		tap skip "$name" "KVM is usable here: QEMU would run the host CPU, not TCG's models"
		continue
	fi
	if ! (qemu_cpu_check "$m") 2>"$out_dir/why"; then
		tap skip "$name" "$(sed 's/^[^:]*: //' "$out_dir/why")"
		tap skip "$m: VM tests" "the model cannot be booted here"
		continue
	fi
	log=$out_dir/${m//[,+]/_}.log
	no_skip=
	[[ $kind != vm ]] || no_skip='no VMX/SVM|ENODEV'
	start=$EPOCHSECONDS
	status=0
	QEMU_CPU=$m BOOT_TEST_TIMEOUT=$limit BOOT_TEST_EXPECT=$user_line BOOT_TEST_NO_SKIP=$no_skip \
		"$ROOT/tools/boot-test.sh" qemu "$iso" >"$log" 2>&1 || status=$?
	verdict=$(grep -E '^boot-test qemu: (PASS|FAIL)' "$log" | tail -n 1 || true)
	echo "# $m: $((EPOCHSECONDS - start)) s; $(grep -m 1 -E '^cpu: ' "$log" || echo 'no cpu line')"
	if [[ $status -ne 0 ]]; then
		tap fail "$name"
		echo "# $m: ${verdict:-boot-test gave no verdict}"
	elif [[ $kind == '?' ]]; then
		tap ok "$name"
	elif ! grep -qE -- "$want" "$log"; then
		tap fail "$name"
		echo "# $m: no boot line matches '$want' (what this model must show)"
	else
		tap ok "$name"
	fi
	# The VM tests: required to run with SVM and nested paging, refused with a reason without.
	refusal=$(grep -m 1 -E '^vcpu: .*VMs cannot run|^vcpu: .*VMs: ENODEV' "$log" || true)
	vm_ran=$(grep -cE '^vm(nmi)?: [1-9][0-9]* passed, 0 failed' "$log" || true)
	if [[ $kind == vm || ($kind == '?' && -z $refusal) ]]; then
		if [[ -z $refusal && $vm_ran -eq 2 ]]; then
			tap ok "$m: VM tests"
		else
			tap fail "$m: VM tests"
			echo "# $m: ${refusal:-/bin/vm and /bin/vmnmi did not both pass with 0 failed}"
		fi
	elif [[ -n $refusal ]]; then
		tap skip "$m: VM tests" "no SVM with nested paging (Dyad: '${refusal#vcpu: }')"
	else
		tap fail "$m: VM tests"
		echo "# $m: Dyad did not say that VMs cannot run here"
	fi
done
rm -f "$out_dir/why"
echo "check-cpu-models: $pass passed, $fail failed, $skipped skipped"
[[ $fail -eq 0 ]]
