#!/usr/bin/env bash
# A command run in the background between two lines of a make recipe, so that work that mostly
# waits (downloads, dpkg) overlaps a stage that keeps one of the machine's CPUs busy.
# Usage: tools/bg-job.sh start NAME COMMAND...   starts COMMAND with its output in NAME.log
#        tools/bg-job.sh wait NAME [SECONDS]     waits for it (default at most 1800 s), prints
#                                                how long it ran and its last lines, and exits
#                                                with its status
#        tools/bg-job.sh finish NAME [SECONDS]   the same, printing its whole log (a test stage
#                                                run in the background: its output belongs in
#                                                the foreground's log)
#        tools/bg-job.sh stop NAME               ends the job and everything it started, if it
#                                                still runs (a foreground stage failed)
# NAME is a path prefix (e.g. build/guest-images): NAME.log, NAME.status (the exit status, written
# when the command ends) and NAME.pid. A job that ended without a status (killed) or that is
# still running after SECONDS fails the wait with a sentence that says so.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 2 ]] || die "usage: $0 start NAME COMMAND... | wait|finish NAME [SECONDS] | stop NAME"
verb=$1 name=$2
shift 2
case $verb in
start)
	[[ $# -ge 1 ]] || die "start $name: no command"
	mkdir -p "$(dirname "$name")"
	rm -f "$name.status" "$name.pid"
	date +%s >"$name.start"
	# The status file is written last, through a temporary name: its presence means the end.
	# setsid: the job leads a session of its own, which `stop` ends whole (an emulator several
	# processes down included). Its output goes to none of make's (a pipe to tee would
	# wait).
	# shellcheck disable=SC2016 # expanded by the job's shell
	setsid bash -c 's=0
		"${@:2}" >"$1.log" 2>&1 </dev/null || s=$?
		echo "$s" >"$1.status.tmp"
		mv "$1.status.tmp" "$1.status"' bg-job "$name" "$@" >/dev/null 2>&1 </dev/null &
	echo $! >"$name.pid"
	echo "bg-job: $name: started in the background (pid $!, log $name.log): $*"
	;;
wait | finish)
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
		sleep 0.2 # make check waits here: poll often
	done
	status=$(<"$name.status")
	ran=$(($(stat -c %Y "$name.status") - $(<"$name.start")))
	if [[ $verb == finish ]]; then
		cat "$name.log"
	else
		tail -n 5 "$name.log" | sed 's/^/bg-job: | /'
	fi
	echo "bg-job: $name: ended with status $status after $ran s; waited $((EPOCHSECONDS - waited)) s for it"
	rm -f "$name.pid"
	exit "$status"
	;;
stop)
	[[ -s $name.pid ]] || exit 0
	pid=$(<"$name.pid")
	rm -f "$name.pid"
	# The job's session, not only its process group: timeout(1) moves what it runs into a group
	# of its own. TERM first, KILL after 10 s.
	pkill -TERM -s "$pid" || exit 0
	for _ in $(seq 100); do
		pgrep -s "$pid" >/dev/null || break
		sleep 0.1
	done
	pkill -KILL -s "$pid" || true
	echo "bg-job: $name: stopped (pid $pid and what it started)"
	;;
*) die "unknown verb '$verb' (start, wait, finish or stop)" ;;
esac
