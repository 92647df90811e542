#!/usr/bin/env bash
# QEMU_CPU=MODEL[,+FLAG|,-FLAG...]: a model and flags this QEMU knows reach -cpu; a typo in the
# model or a flag, or anything that is not that form, is refused with a sentence before anything
# boots; empty means the default. No boot: under a second.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start

# The helpers in a subshell: die() exits it, not this script. CPUS=1 keeps -smp out.
args() { (QEMU_CPU=$1 CPUS=1 && export QEMU_CPU CPUS && . tools/lib.sh && qemu_accel_args) 2>&1; }

if ! command -v qemu-system-x86_64 >/dev/null; then
	skip qemu_cpu_checks "qemu-system-x86_64 is not installed"
	exit 0
fi
if (. tools/lib.sh && kvm_nested_usable); then
	default=host
else
	default=max
fi

bad=
for c in EPYC-Rome max,-pdpe1gb,-x2apic qemu64,+svm,+npt; do
	out=$(args "$c") || bad+=" '$c' refused ($out)"
	[[ $out == *"-cpu $c"* ]] || bad+=" '$c' gave '$out'"
done
expect qemu_cpu_known_model_and_flags_reach_qemu "$bad" test -z "$bad"

bad=
for c in NoSuchModel 'max,-nosuchflag' 'max,pdpe1gb' 'max;reboot' 'max,-pdpe1gb,' 'EPYC Rome' \
	'max,-x2apic=off'; do
	if out=$(args "$c"); then
		bad+=" '$c' accepted ($out)"
	elif [[ $out != *"QEMU_CPU='$c'"* ]]; then
		bad+=" '$c': no sentence naming it ($out)"
	fi
done
expect qemu_cpu_typo_is_refused_with_its_name "$bad" test -z "$bad"

out=$(args "")
expect qemu_cpu_empty_is_the_default "gave '$out'" grep -q -- "-cpu $default\$" <<<"$out"
