#!/usr/bin/env bash
# End-to-end test of the VMM's multiboot (v1) loader: Dyad boots with the VMM as its first
# process, and the VMM runs the multiboot test kernel (tests/vmm/mbkernel), under QEMU TCG with
# `-cpu max` (SVM with nested paging) or, with VMM_E2E_EMU=bochs, under Bochs (VMX with EPT).
# Usage: tests/vmm/multiboot.sh KERNEL_ELF VMM MBKERNEL_DIR [CASE...]   (default: all four)
#   elf64  the kernel as ELF64 by its program headers, three modules, 64 MiB, a 4-byte verdict
#   elf32  the same converted to ELF32, one module (-i), 128 MiB, a 1-byte verdict
#   aout   the flat binary with the a.out-kludge fields, asked to fail 3 checks, a 2-byte
#          verdict: the VMM must end with status 16 + 3
#   dyad   Dyad itself (KERNEL_ELF, through its multiboot v1 header) with `ktest` and one
#          module named by its string, in 2 GiB so
#          that its 1 GiB-page test finds a free block: its self-tests must reach their summary
#          with no failure, the NMI self-IPI one included (the VMM delivers it: DYAD_VCPU_NMI).
# Prints TAP; exits non-zero if any check failed. A Dyad without VMX/SVM gives `# SKIP`, or
# failures with VMM_E2E_NO_SKIP set. TEST_SUMMARY_FILE: as tools/boot-test.sh. Each case prints
# the VMM's figure "guest entry to its first serial byte"; VMM_MB_QEMU_ARGS adds QEMU arguments
# (`-icount shift=0` makes the TSC count instructions, for a figure that does not drift with load).
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../../tools/lib.sh"

[[ $# -ge 3 ]] || die "usage: $0 KERNEL_ELF VMM MBKERNEL_DIR [CASE...]"
kernel=$1 vmm=$2 mbk=$3
shift 3
cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=(elf64 elf32 aout dyad)
# shellcheck source=tests/vmm/boot.sh
. "$(dirname "$0")/boot.sh"
limit=${VMM_E2E_TIMEOUT:-$([[ $emu == bochs ]] && echo 300 || echo 120)}
# Dyad needs little memory here: a smaller Bochs machine boots faster.
export BOCHS_MEM=${BOCHS_MEM:-1024}
n=0 failed=0 skipped=0
work=$BUILD_DIR/vmm-mb-$emu
mkdir -p "$work"
for f in "$kernel" "$vmm" "$mbk/mbkernel.elf" "$mbk/mbkernel32.elf" "$mbk/mbkernel.bin"; do
	[[ -f $f ]] || die "'$f' not found"
done

# shellcheck source=tests/vmm/tap.sh
. "$(dirname "$0")/tap.sh"

# Modules: "mbmodI" first, 'Z' last, of sizes that test the page rounding (less than a page,
# more than one, exactly one).
sizes=(100 5000 4096)
for i in 0 1 2; do
	{
		printf 'mbmod%d\n' "$i"
		head -c $((sizes[i] - 8)) /dev/zero | tr '\0' '.'
		printf 'Z'
	} >"$work/mbmod$i"
done

cp "$kernel" "$work/dyad-guest.elf" # the ISO already has a dyad.elf

# boot NAME "VMM ARGS": an ISO with the VMM, the three kernels and the modules; the serial log
# is $work/NAME.log.
boot() {
	local name=$1 args=$2 iso=$work/$1.iso log=$work/$1.log
	"$ROOT/tools/mkiso.sh" "$iso" "$kernel" "init=/bin/vmm -- $args" "$vmm:/bin/vmm" \
		"$mbk/mbkernel.elf:/boot/mbkernel.elf" "$mbk/mbkernel32.elf:/boot/mbkernel32.elf" \
		"$mbk/mbkernel.bin:/boot/mbkernel.bin" "$work/mbmod0:/boot/mbmod0" \
		"$work/mbmod1:/boot/mbmod1" "$work/mbmod2:/boot/mbmod2" \
		"$work/dyad-guest.elf:/boot/dyad-guest.elf" >/dev/null
	# shellcheck disable=SC2086 # VMM_MB_QEMU_ARGS: words
	boot_iso "$name" "$iso" "$log" ${VMM_MB_QEMU_ARGS:-}
	grep -a '^vmm: ' "$log" | sed 's/^/# /' || true
}

# run NAME IMAGE RAM_MIB MODS WIDTH FAIL: boots the kernel and checks its report and the status.
run() {
	local name=$1 image=$2 ram=$3 mods=$4 width=$5 fail=$6 log=$work/$1.log args
	args="-q -m ${ram}M"
	((mods < 1)) || args+=" -i /boot/mbmod0"
	((mods < 2)) || args+=" --module /boot/mbmod1,mbmod1,x=1"
	((mods < 3)) || args+=" --module /boot/mbmod2,mbmod2,x=1"
	args+=" $image mbtest ram_mib=$ram mods=$mods exit_width=$width fail=$fail"
	boot "$name" "$args"
	if grep -aq '^vmm: this machine has no VMX or SVM' "$log"; then
		skip "$name: the multiboot kernel runs" "Dyad found no VMX or SVM here"
		return
	fi
	local status=$((fail ? 16 + fail : 0)) unasked
	unasked=$(grep -a '^not ok' "$log" | grep -avc 'a failure asked for' || true)
	tap "$(grep -aq '^mbkernel: long mode reached' "$log"; echo $?)" \
		"$name: the kernel entered in 32-bit protected mode and reached long mode on its own"
	tap "$([[ $unasked == 0 ]] && grep -aEq "^mbkernel: [1-9][0-9]* passed, $fail failed" "$log"; echo $?)" \
		"$name: every check passed (entry state, A20, BSS, information structure, memory map, modules, fw_cfg, ports)"
	tap "$(grep -aq "^vmm: guest wrote $fail to the debug port" "$log" &&
		grep -aq "^init: /bin/vmm exited with status $status\$" "$log" &&
		! grep -aq 'still running after the debug port write' "$log"; echo $?)" \
		"$name: a $width-byte write of $fail to port 0xf4 ended the VM at once with status $status"
	grep -a '^vmm: guest entry to its first serial byte' "$log" | sed "s/^vmm: /# figure $emu $name: /" || true
}

# Dyad as the guest: every self-test passes, the NMI self-IPI one included.
dyad() {
	local log=$work/dyad.log inner not_ok summary
	BOCHS_MEM=3072 boot dyad "-q -m 2048M --module /boot/mbmod1,/etc/mbmod1 /boot/dyad-guest.elf ktest"
	if grep -aq '^vmm: this machine has no VMX or SVM' "$log"; then
		skip "dyad: Dyad runs as a guest" "Dyad found no VMX or SVM here"
		return
	fi
	inner=$(sed -n '/^init: starting \/bin\/vmm/,$p' "$log")
	summary=$(grep -aE '^ktest: [0-9]+ passed, [0-9]+ failed' <<<"$inner" | head -n 1 || true)
	not_ok=$(grep -ac '^not ok' <<<"$inner" || true)
	echo "# dyad: ${summary:-no ktest summary}"
	tap "$(grep -aq "^boot: command line 'ktest'" <<<"$inner"; echo $?)" \
		"dyad: Dyad booted through its multiboot v1 header, command line without the kernel path"
	tap "$(grep -aEq "^mem: module /etc/mbmod1 \[0x[0-9a-f]+, 0x[0-9a-f]+\) ${sizes[1]} bytes" <<<"$inner"; echo $?)" \
		"dyad: a multiboot module reached it with its string as its path"
	tap "$([[ -n $summary ]]; echo $?)" "dyad: its self-tests ran to their summary"
	tap "$([[ -n $summary && $not_ok == 0 ]]; echo $?)" \
		"dyad: no self-test failed"
	tap "$(grep -aEq '^ok [0-9]+ - nmi_is_recorded_and_not_caught_as_a_fault'$'\r''?$' <<<"$inner"; echo $?)" \
		"dyad: its NMI self-IPI reached it (the VMM delivers NMI IPIs)"
	local want=0
	grep -aq '^not ok' <<<"$inner" && want=17
	tap "$(grep -aq "^init: /bin/vmm exited with status $want\$" "$log"; echo $?)" \
		"dyad: its verdict ended the VM through port 0xf4 (status $want)"
	grep -a '^vmm: guest entry to its first serial byte' "$log" | sed "s/^vmm: /# figure $emu dyad: /" || true
}

for c in "${cases[@]}"; do
	case $c in
	elf64) run elf64 /boot/mbkernel.elf 64 3 4 0 ;;
	elf32) run elf32 /boot/mbkernel32.elf 128 1 1 0 ;;
	aout) run aout /boot/mbkernel.bin 64 0 2 3 ;;
	dyad) dyad ;;
	*) die "unknown case '$c'" ;;
	esac
done
tap_end "vmm-multiboot $emu"
