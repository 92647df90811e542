#!/usr/bin/env bash
# Boots an ISO in QEMU with COM1 on this terminal (Ctrl-A X quits, Ctrl-A C toggles the QEMU monitor).
# Exits 0 for a pass or a quit, 1 for a failure (see the mapping at the end).
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
status=0
# shellcheck disable=SC2046
qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" -display none -serial mon:stdio \
	-cdrom "$iso" "$@" || status=$?
# QEMU's status is not the run's verdict: isa-debug-exit ends QEMU with (value << 1) | 1, and Dyad
# writes 0 for a pass or the monitor's `quit`, 1 for a failure. 0 is QEMU quitting by itself (Ctrl-A X,
# or a triple fault under -no-reboot). Map it: 0 for a pass or a clean quit, 1 for a failure.
case $status in
0) echo "run-qemu: QEMU quit" >&2 ;;
1) echo "run-qemu: Dyad ended the run: pass" >&2 ;;
3)
	echo "run-qemu: Dyad ended the run: FAIL" >&2
	exit 1
	;;
*)
	echo "run-qemu: QEMU failed with status $status" >&2
	exit 1
	;;
esac
