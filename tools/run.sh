#!/usr/bin/env bash
# `make run`: boots an ISO interactively on the emulator that can give Dyad VMX.
# Usage: tools/run.sh ISO
# QEMU with KVM when nested-VMX KVM is usable (the real-hardware path); else Bochs, the only local
# emulator with VMX (QEMU's TCG has none).
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 ]] || die "usage: $0 ISO"
if kvm_nested_usable; then
	echo "run: QEMU with KVM ($KVM_WHY)" >&2
	exec "$ROOT/tools/run-qemu.sh" "$1"
fi
echo "run: Bochs, since QEMU without KVM has no VMX ($KVM_WHY); 'make run-qemu' boots TCG without VMX" >&2
exec "$ROOT/tools/run-bochs.sh" "$1"
