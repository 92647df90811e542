#!/usr/bin/env bash
# A command run in the background between two lines of a make recipe, so that work that mostly
# waits (downloads, dpkg) overlaps a stage that keeps one of the machine's CPUs busy.
# Usage: tools/bg-job.sh start NAME COMMAND...   starts COMMAND with its output in NAME.log
#        tools/bg-job.sh wait NAME [SECONDS]     waits for it (default at most 1800 s), prints
#                                                how long it ran and its last lines, and exits
#                                                with its status
# NAME is a path prefix (e.g. build/guest-images): NAME.log, NAME.status (the exit status, written
# when the command ends) and NAME.pid. A job that ended without a status (killed) or that is
# still running after SECONDS fails the wait with a sentence that says so.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 2 ]] || die "usage: $0 start NAME COMMAND... | wait NAME [SECONDS]"
verb=$1 name=$2
shift 2
case $verb in
start)
	[[ $# -ge 1 ]] || die "start $name: no command"
	mkdir -p "$(dirname "$name")"
	rm -f "$name.status" "$name.pid"
	date +%s >"$name.start"
	# The status file is written last, through a temporary name: its presence means the end.
	(
		s=0
		"$@" >"$name.log" 2>&1 </dev/null || s=$?
		echo "$s" >"$name.status.tmp"
		mv "$name.status.tmp" "$name.status"
	) >/dev/null 2>&1 </dev/null & # holds none of make's output open (a pipe to tee would wait)
	echo $! >"$name.pid"
	echo "bg-job: $name: started in the background (pid $!, log $name.log): $*"
	;;
wait)
	limit=${1:-1800}
	[[ $limit =~ ^[1-9][0-9]*$ ]] || die "wait $name: '$limit' is not a number of seconds"
	[[ -s $name.pid ]] || die "wait $name: no job was started ($name.pid is missing)"
	pid=$(<"$name.pid") waited=$EPOCHSECONDS
	while [[ ! -s $name.status ]]; do
		if ! kill -0 "$pid" 2>/dev/null && [[ ! -s $name.status ]]; then
			tail -n 20 "$name.log" >&2 || true
			die "wait $name: the job (pid $pid) ended without a status (killed?)"
		fi
		if ((EPOCHSECONDS - waited > limit)); then
			tail -n 20 "$name.log" >&2 || true
			die "wait $name: still running after $limit s (pid $pid, log $name.log)"
		fi
		sleep 1
	done
	status=$(<"$name.status")
	ran=$(($(stat -c %Y "$name.status") - $(<"$name.start")))
	echo "bg-job: $name: ended with status $status after $ran s; waited $((EPOCHSECONDS - waited)) s for it"
	tail -n 5 "$name.log" | sed 's/^/bg-job: | /'
	rm -f "$name.pid"
	exit "$status"
	;;
*) die "unknown verb '$verb' (start or wait)" ;;
esac
