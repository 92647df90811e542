#!/usr/bin/env bash
# Boots an ISO in QEMU with COM1 on this terminal (Ctrl-A X quits, Ctrl-A C toggles the QEMU monitor).
# Usage: tools/run-qemu.sh ISO [extra qemu args...]
# Uses KVM with the host CPU when nested-VMX KVM is usable (Dyad then has VMX), else TCG with -cpu max,
# which has no VMX: Dyad reports that and runs without its VMX parts.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 1 ]] || die "usage: $0 ISO [extra qemu args...]"
iso=$1
shift
[[ -f $iso ]] || die "ISO '$iso' not found"

kvm_nested_usable || true
echo "run-qemu: $(qemu_accel_args) ($KVM_WHY)" >&2
# No window; serial and monitor multiplexed on stdio, which works in any terminal or ssh. Not -nographic:
# it makes SeaBIOS copy the VGA console (BIOS and GRUB messages) onto the serial line the kernel owns.
# shellcheck disable=SC2046
exec qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" -display none -serial mon:stdio \
	-cdrom "$iso" "$@"
