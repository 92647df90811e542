#!/usr/bin/env bash
# Turns make's dry-run output (`make -Bn V=1 ...`) into a compilation database (compile_commands.json)
# on stdout: one entry per command that compiles a .c file with gcc or musl-gcc.
# Usage: make -Bn V=1 compile-all | tools/compile-commands.sh DIRECTORY
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 ]] || die "usage: make -Bn V=1 compile-all | $0 DIRECTORY"
awk -v dir="$1" '
function json(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	gsub(/\t/, " ", s)
	return "\"" s "\""
}
$1 ~ /(^|\/)([A-Za-z0-9_.]*-)?(gcc|clang|cc)$/ {
	src = ""
	for (i = 2; i <= NF; i++)
		if ($i ~ /\.c$/ && $(i - 1) != "-o")
			src = $i
	if (src == "")
		next
	printf "%s  {\n    \"directory\": %s,\n    \"file\": %s,\n    \"command\": %s\n  }",
		n++ ? ",\n" : "[\n", json(dir), json(src), json($0)
}
END {
	if (!n) {
		print "compile-commands.sh: no compile command in the input" > "/dev/stderr"
		exit 1
	}
	print "\n]"
}'
