#!/usr/bin/env bash
# Writes LINEs to FILE, one per line, only when FILE does not already hold exactly them: FILE's time
# then says when its contents last changed, which makes it a prerequisite for settings such as the
# kernel command line.
# Usage: tools/update-if-changed.sh FILE [LINE...]
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 1 ]] || die "usage: $0 FILE [LINE...]"
file=$1
shift
new=$(printf '%s\n' "$@")
if [[ -f $file && $(<"$file") == "$new" ]]; then
	exit 0
fi
mkdir -p "$(dirname "$file")"
printf '%s\n' "$new" >"$file.tmp.$$"
mv -f "$file.tmp.$$" "$file"
