# TAP helpers for tests/tools/test_*.sh. Source it. Each test prints one unnumbered TAP line;
# tests/tools/run-tests.sh numbers them and counts.
# shellcheck shell=bash

# Repo root and the build directory, as the Makefile's BUILD (relative to the root).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034  # used by the tests that source this file
BUILD_DIR=$ROOT/${BUILD:-build}

ok() { echo "ok - $1"; }
# not_ok NAME WHY...: the failure and the reason, as a TAP diagnostic.
not_ok() {
	local name=$1
	shift
	echo "not ok - $name"
	echo "# $name: $*"
}
skip() { echo "ok - $1 # SKIP $2"; }

# expect NAME WHY CMD...: ok if CMD succeeds, else not ok with WHY.
expect() {
	local name=$1 why=$2
	shift 2
	if "$@"; then ok "$name"; else not_ok "$name" "$why"; fi
}

# A make in the repo that takes nothing from an outer make (flags, jobserver, variables).
submake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$ROOT" "$@"; }

# Prints the grub.cfg inside ISO.
iso_grub_cfg() {
	local d
	d=$(mktemp -d)
	xorriso -osirrox on -indev "$1" -extract /boot/grub/grub.cfg "$d/grub.cfg" >/dev/null 2>&1
	cat "$d/grub.cfg" 2>/dev/null
	rm -rf "$d"
}

# The start of a test that boots Dyad: $kernel (KERNEL, else build/dyad.elf), the repo root as
# the working directory, and a scratch directory $tmp removed on exit (chmod first: a test may
# leave read-only files there).
# shellcheck disable=SC2034  # kernel and tmp are for the caller
tool_test_start() {
	kernel=${KERNEL:-build/dyad.elf}
	cd "$ROOT" || exit 1
	tmp=$(mktemp -d)
	trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
}

# Sets the array `modules` to the user programs the ISO carries (USER_ISO_MODULES, which make
# check-tools passes); fails with a message when it is empty.
# shellcheck disable=SC2034  # modules is for the caller
user_iso_modules() {
	read -ra modules <<<"${USER_ISO_MODULES:-}"
	if [[ ${#modules[@]} -eq 0 ]]; then
		echo "USER_ISO_MODULES is empty: run through make check-tools" >&2
		return 1
	fi
}
