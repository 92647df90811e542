#!/usr/bin/env bash
# Runs the page-table pair benchmark: once under callgrind (instructions per operation, exact
# and repeatable), then natively (ns, best of 3), and prints the combined markdown tables.
# Usage: tests/bench/run-bench.sh BENCH_BINARY OUT_DIR
set -euo pipefail

bin=$1 out=$2
cg=$out/callgrind
rm -rf "$cg"
mkdir -p "$cg"
if command -v valgrind >/dev/null; then
	valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$cg/cg.out" \
		"$bin" --count >"$cg/log" 2>&1 || { cat "$cg/log"; exit 1; }
	# Each phase is one dump: its trigger names the phase, its totals line holds the count.
	for f in "$cg"/cg.out.*; do
		awk '/^desc: Trigger: Client Request: / { name = $5 }
		     /^(summary|totals): / { ir = $2 }
		     END { if (name != "") print name, ir }' "$f"
	done >"$cg/ir.txt"
	"$bin" --ir "$cg/ir.txt"
else
	echo "bench: valgrind not found, instruction counts omitted"
	"$bin"
fi
