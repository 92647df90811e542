#!/usr/bin/env bash
# `make run` and `make run-dyad`: boots an ISO interactively on the fastest path that can run a guest
# (run_path_choose in lib.sh): QEMU+KVM with nested VMX; else QEMU TCG with -cpu max, whose SVM the
# kernel's SVM backend uses; else Bochs, the only local VMX. Restores the terminal's settings on exit.
# Usage: tools/run.sh ISO
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 ]] || die "usage: $0 ISO"
run_path_choose
# QEMU and Bochs put the terminal in raw mode; a killed emulator may leave it so.
if [[ -t 0 ]] && saved=$(stty -g 2>/dev/null); then
	trap 'stty "$saved" 2>/dev/null || true' EXIT
fi
status=0
case $RUN_CHOICE in
kvm | tcg-svm)
	echo "run: QEMU, $RUN_CHOICE ($RUN_WHY)" >&2
	"$ROOT/tools/run-qemu.sh" "$1" || status=$?
	;;
bochs)
	echo "run: Bochs ($RUN_WHY)" >&2
	"$ROOT/tools/run-bochs.sh" "$1" || status=$?
	;;
esac
exit $status
