# shellcheck shell=bash
# One boot of a Dyad ISO for the VMM's end-to-end scripts (sourced after tools/lib.sh): under QEMU
# TCG with `-cpu max` (SVM with nested paging) or KVM where lib.sh finds nested VMX, or with
# VMM_E2E_EMU=bochs under Bochs (VMX with EPT). The script sets limit (seconds) before it boots.

emu=${VMM_E2E_EMU:-qemu}
[[ $emu == qemu || $emu == bochs ]] || die "VMM_E2E_EMU must be qemu or bochs, not '$emu'"

# boot_iso NAME ISO LOG [QEMU_ARG...]: boots ISO for at most $limit seconds (of wall time under
# QEMU, of CPU time under Bochs) with COM1 in LOG, its CR LF line ends made LF, and prints when it
# starts and how long it took. The QEMU_ARGs go to QEMU only.
boot_iso() {
	local name=$1 iso=$2 log=$3
	shift 3
	local start=$EPOCHREALTIME
	if [[ $emu == bochs ]]; then
		# Bochs's VMX (EPT) is the local Intel path; COM1 goes straight to the log. Bochs runs
		# on one thread and its clock follows its instruction count (clock: sync=none), so its
		# CPU time measures its progress whatever else the host runs: the limit is on that
		# (RLIMIT_CPU: Bochs ignores SIGXCPU; the kernel's SIGKILL ends it), and make check can
		# run two Bochs stages at once. The wall-clock limit, five times as long, only catches
		# a Bochs that stopped running.
		# shellcheck disable=SC2154 # limit is the sourcing script's
		echo "# $name: booting (limit $limit s of Bochs's CPU time, log $log)"
		(
			ulimit -t "$limit"
			exec timeout -k 10 $((limit * 5)) "$ROOT/tools/run-bochs.sh" "$iso" "$log"
		) </dev/null >/dev/null 2>&1 || true
	else
		echo "# $name: booting (timeout $limit s, log $log)"
		# shellcheck disable=SC2046
		timeout -k 10 "$limit" qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" \
			-display none -monitor none -serial stdio -cdrom "$iso" "$@" </dev/null \
			>"$log" 2>&1 || true
	fi
	sed -i 's/\r$//' "$log" # the serial line ends lines with CR LF
	echo "# $name: $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }") s wall"
}
