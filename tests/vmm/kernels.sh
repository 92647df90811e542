#!/usr/bin/env bash
# Other stock kernels under the VMM: each kernel tools/guest-kernels.sh fetched into KDIR/NAME
# (vmlinux, bzImage, initramfs.cpio with the guest test script, release) boots under Dyad's VMM
# on QEMU TCG (`-cpu max`, SVM) or KVM, through the guest test script, with one vCPU and with two.
# Usage: tests/vmm/kernels.sh KERNEL_ELF VMM KDIR NAME...
# Environment:
#   KERNELS_CASES='1 2 bz1'  the boots of each kernel: N is the vmlinux with N vCPUs, bzN the
#                         stock bzImage (the guest decompresses itself) with N vCPUs
#   KERNELS_CHECKS=WORDS  dyad_check= words added to every boot (default: the workloads, below)
#   KERNELS_FETCH=1       fetch each kernel first (tools/guest-kernels.sh KDIR NAME): a kernel
#                         the archive could not give (no network) is a SKIP with that reason, a
#                         failed fetch of any other kind a failure
#   KERNELS_THREADS=FILE  the static threaded program (tests/vmm/guest-threads.c), appended to
#                         each initramfs as /bin/dyad-threads for dyad_check=threads
# Each boot's checks: the banner, the test script's PASS with its verdict 0 on the debug port,
# the CPU count, and a clean boot: no 'unchecked MSR access', no 'Call Trace', no 'WARNING:' or
# 'BUG:' from the guest kernel, no VM exit the VMM could not handle. The VMM's lines about
# refused MSRs and the like are printed as comments. A kernel KDIR lacks is a SKIP. Prints TAP;
# exits non-zero if any check failed. TEST_SUMMARY_FILE: as tools/boot-test.sh.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../../tools/lib.sh"

[[ $# -ge 4 ]] || die "usage: $0 KERNEL_ELF VMM KDIR NAME..."
kernel=$1 vmm=$2 kdir=$3
shift 3
ram_mib=256
limit=${VMM_E2E_TIMEOUT:-500}
cases=${KERNELS_CASES:-1 2 bz1}
checks=${KERNELS_CHECKS-memhog,procs,threads,timers,ipi-proc}
n=0 failed=0 skipped=0
mkdir -p "$BUILD_DIR"
# shellcheck source=tests/vmm/tap.sh
. "$(dirname "$0")/tap.sh"

# boot NAME LOG "VMM ARGS" MODULE...: one Dyad boot with the VMM as its first process.
boot() {
	local name=$1 log=$2 args=$3 iso=$BUILD_DIR/vmm-kernels-$1.iso start=$EPOCHREALTIME
	shift 3
	"$ROOT/tools/mkiso.sh" "$iso" "$kernel" "init=/bin/vmm -- $args" "$vmm:/bin/vmm" "$@" >/dev/null
	echo "# $name: booting (timeout $limit s, log $log)"
	# shellcheck disable=SC2046
	timeout -k 10 "$limit" qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" \
		-display none -monitor none -serial stdio -cdrom "$iso" </dev/null >"$log" 2>&1 || true
	sed -i 's/\r$//' "$log"
	rm -f "$iso"
	echo "# $name: $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }") s wall"
}

# saw LOG REGEX: " (saw: LINE)" for the first line matching REGEX, for a failing test's name.
saw() { grep -am1 -E "$2" "$1" | cut -c1-160 | sed 's/^/ (saw: /; s/$/)/' || true; }

kernel_cases() { # NAME
	local k=$1 dir=$kdir/$1 release c name log words args w
	if [[ ${KERNELS_FETCH:-0} == 1 ]]; then
		local rc=0 flog=$BUILD_DIR/vmm-kernels-$k-fetch.log
		"$ROOT/tools/guest-kernels.sh" "$kdir" "$k" >"$flog" 2>&1 || rc=$?
		sed "s/^/# $k: /" "$flog" | grep -v 'depmod: WARNING' || true
		if [[ $rc == 3 ]]; then
			# Not skip(): a machine without network is not a VM that could not run.
			n=$((n + 1)) skipped=$((skipped + 1))
			echo "ok $n - $k: boots under the VMM # SKIP the archive cannot be reached (no network?)"
			return
		fi
		tap "$rc" "$k: fetched and unpacked (tools/guest-kernels.sh, log $flog)"
		[[ $rc == 0 ]] || return 0
	fi
	if [[ ! -s $dir/vmlinux || ! -s $dir/initramfs.cpio || ! -s $dir/release ]]; then
		skip "$k: boots under the VMM" "no $dir (tools/guest-kernels.sh $kdir $k)"
		return
	fi
	release=$(<"$dir/release")
	# The ISO names a module by its file's basename: links give each its own.
	ln -sf "$(realpath "$dir/vmlinux")" "$BUILD_DIR/vmlinux-$k"
	ln -sf "$(realpath "$dir/bzImage")" "$BUILD_DIR/bzImage-$k"
	# Linux unpacks concatenated cpio archives one after the other: the program is a second one.
	rm -f "$BUILD_DIR/initramfs-$k.cpio"
	cp "$dir/initramfs.cpio" "$BUILD_DIR/initramfs-$k.cpio"
	if [[ -n ${KERNELS_THREADS:-} ]]; then
		local t
		t=$(mktemp -d)
		mkdir "$t/bin"
		cp "$KERNELS_THREADS" "$t/bin/dyad-threads"
		(cd "$t" && printf 'bin\nbin/dyad-threads\n' | busybox cpio -o -H newc 2>/dev/null) \
			>>"$BUILD_DIR/initramfs-$k.cpio"
		rm -rf "$t"
	fi
	local img cpus
	for c in $cases; do
		[[ $c =~ ^(bz)?([1-9])$ ]] || die "KERNELS_CASES: '$c' is not N or bzN"
		img=vmlinux cpus=${BASH_REMATCH[2]}
		[[ -z ${BASH_REMATCH[1]} ]] || img=bzImage
		name=$k-$img-c$cpus log=$BUILD_DIR/vmm-kernels-$name.log
		words="dyad_mode=test dyad_ram_mib=$ram_mib dyad_cpus=$cpus${checks:+ dyad_check=$checks}"
		args=''
		for w in $words; do args+="-a $w "; done
		boot "$name" "$log" "-c $cpus -m ${ram_mib}M -i /boot/initramfs-$k.cpio $args/boot/$img-$k" \
			"$BUILD_DIR/$img-$k:/boot/$img-$k" "$BUILD_DIR/initramfs-$k.cpio:/boot/initramfs-$k.cpio"
		if grep -aq 'no VMX or SVM' "$log"; then
			skip "$name: boots Linux $release" "Dyad found no VMX or SVM here"
			continue
		fi
		grep -a '^vmm: ' "$log" | grep -avE '^vmm: (exits|  )' | sed "s/^/# $name: /" || true
		grep -a '^# \|^ok - \|^not ok - ' "$log" | sed "s/^\(#\|ok\|not ok\) \?-\? \?/# $name: guest: &/" || true
		tap "$(grep -aq "^=== dyad-guest: Linux $release " "$log"; echo $?)" \
			"$name: Linux $release printed the test script's banner$(saw "$log" '^vmm: .*(cannot handle|refused|failed:|no banner|panicked)')"
		tap "$(grep -aq '^dyad-guest: PASS' "$log" && ! grep -aq '^not ok' "$log" &&
			grep -aq '^vmm: verdict 0: pass reported' "$log" &&
			grep -aq '^init: /bin/vmm exited with status 0$' "$log"; echo $?)" \
			"$name: the guest test script passed (release, MemTotal, $cpus CPU(s), checksum, sleep, forks${checks:+, $checks}), verdict 0$(saw "$log" '^not ok|^vmm: exit status [1-9]')"
		tap "$(! grep -aqE 'unchecked MSR access|Call Trace|WARNING:|BUG:' "$log"; echo $?)" \
			"$name: no 'unchecked MSR access', 'Call Trace', 'WARNING:' or 'BUG:' in the guest's log$(saw "$log" 'unchecked MSR access|Call Trace|WARNING:|BUG:')"
	done
}

for k in "$@"; do kernel_cases "$k"; done
tap_end vmm-e2e-kernels
