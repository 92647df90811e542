#!/usr/bin/env bash
# `make run`: the path choice (QEMU+KVM with nested VMX, else QEMU TCG with SVM, else Bochs), the
# guest ISO following RAM= and GUEST_CMDLINE= at every run, KERNEL= naming the guest kernel and not
# Dyad's, and (when the default guest is built) a typed command answered by the guest's shell.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

cd "$ROOT" || exit 1
# KERNEL (from tools.mk) is Dyad's kernel; the runner's own KERNEL is the guest's.
dyad=$KERNEL
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Prints the path run_path_choose takes, with the environment given as arguments.
# shellcheck disable=SC2016  # expanded by the inner shell
choice() { env "$@" bash -c '. tools/lib.sh && run_path_choose && echo "$RUN_CHOICE"' 2>&1; }

# ---- the path choice ----------------------------------------------------------------------------
# shellcheck source=tools/lib.sh
. tools/lib.sh
if kvm_nested_usable; then
	want=kvm
elif command -v qemu-system-x86_64 >/dev/null; then
	want=tcg-svm
else
	want=bochs
fi
got=$(choice)
expect run_path_is_the_fastest_usable "chose '$got', expected '$want' ($KVM_WHY)" test "$got" = "$want"

# A QEMU that knows no svm flag (a fake one first on PATH) leaves Bochs, unless KVM is usable.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "Recognized CPUID flags:"; echo "  sse sse2 vmx"\n' >"$tmp/bin/qemu-system-x86_64"
chmod +x "$tmp/bin/qemu-system-x86_64"
got=$(choice PATH="$tmp/bin:$PATH")
if [[ $want == kvm ]]; then
	skip run_path_without_qemu_svm_is_bochs "nested-VMX KVM is usable here, so KVM wins"
else
	expect run_path_without_qemu_svm_is_bochs "chose '$got'" test "$got" = bochs
fi

got=$(choice RUN_PATH=bochs)
expect run_path_forced_by_run_path "chose '$got'" test "$got" = bochs
got=$(choice RUN_PATH=vmware)
expect run_path_rejects_an_unknown_path "said '$got'" \
	grep -q "RUN_PATH='vmware' is not one of kvm, tcg-svm, bochs" <<<"$got"

# ---- the guest ISO ------------------------------------------------------------------------------
# run-guest.sh only checks that the images exist; the ISO test needs no real guest.
echo kernel >"$tmp/bz"
echo initrd >"$tmp/initrd"
vmm=$BUILD_DIR/user/vmm
name=run_guest_iso_follows_ram_and_guest_cmdline
if [[ ! -f $vmm ]]; then
	skip $name "the VMM is not built ($vmm)"
else
	iso=$(KERNEL=$tmp/bz INITRD=$tmp/initrd RAM=512M GUEST_CMDLINE='quiet dyad_x=1' \
		tools/run-guest.sh iso "$dyad" "$vmm" 2>"$tmp/err")
	cfg1=$(iso_grub_cfg "$iso")
	iso=$(KERNEL=$tmp/bz INITRD=$tmp/initrd RAM=300M tools/run-guest.sh iso "$dyad" "$vmm" 2>/dev/null)
	cfg2=$(iso_grub_cfg "$iso")
	# mkiso.sh quotes each word.
	want1="'init=/bin/vmm' '--' '-m' '512M' '-i' '/boot/guest-initrd' '-a' 'quiet' '-a' 'dyad_x=1'"
	want1+=" '/boot/guest-kernel'"
	want2="'init=/bin/vmm' '--' '-m' '300M' '-i' '/boot/guest-initrd' '/boot/guest-kernel'"
	if [[ $cfg1 != *"$want1"* ]]; then
		not_ok $name "first ISO lacks '$want1': $cfg1 $(cat "$tmp/err")"
	elif [[ $cfg2 != *"$want2"* ]]; then
		not_ok $name "the next run's ISO is stale, lacks '$want2': $cfg2"
	elif ! grep -q "module2 /boot/bz '/boot/guest-kernel'" <<<"$cfg2"; then
		not_ok $name "the guest kernel is not on the ISO: $cfg2"
	else
		ok $name
	fi
	# A multiboot kernel (its magic in the first 8 KiB) gets no initramfs unless INITRD says.
	printf '\x02\xb0\xad\x1b\x00\x00\x00\x00\xfe\x4f\x52\xe4' >"$tmp/mb"
	iso=$(KERNEL=$tmp/mb RAM=64M GUEST_CMDLINE='mbtest' tools/run-guest.sh iso "$dyad" "$vmm" \
		2>/dev/null)
	cfg3=$(iso_grub_cfg "$iso")
	want3="'init=/bin/vmm' '--' '-m' '64M' '-a' 'mbtest' '/boot/guest-kernel'"
	name=run_guest_gives_a_multiboot_kernel_no_default_initramfs
	if [[ $cfg3 == *"$want3"* ]]; then ok $name; else not_ok $name "lacks '$want3': $cfg3"; fi
fi

name=make_run_kernel_names_the_guest_kernel
out=$(submake -n run KERNEL="$tmp/bz" INITRD="$tmp/initrd" 2>&1)
if ! grep -q "KERNEL='$tmp/bz' tools/run-guest.sh auto .*dyad.elf " <<<"$out"; then
	not_ok $name "make -n run: $(grep -m1 run-guest <<<"$out" || tail -2 <<<"$out")"
elif grep -q guest-image.sh <<<"$out"; then
	not_ok $name "fetches the default guest although KERNEL= and INITRD= are given"
else
	ok $name
fi

# ---- the guest's shell answers ------------------------------------------------------------------
# The default guest under the chosen path, typing into the runner's standard input.
name=make_run_guest_shell_answers
guest=$BUILD_DIR/guest
if [[ ! -f $guest/vmlinux || ! -f $guest/initramfs.cpio || ! -f $vmm ]]; then
	skip $name "the default guest or the VMM is not built (make guest-image vmm)"
elif [[ $want == bochs ]]; then
	skip $name "only Bochs can run a guest here: too slow for this test"
else
	# Types into the runner's standard input once the shell's banner is out; the answer is computed,
	# so the echo of the typed line does not pass. About 20 s under QEMU TCG.
	mkfifo "$tmp/in"
	KERNEL=$guest/vmlinux INITRD=$guest/initramfs.cpio RAM=256M \
		timeout -k 5 120 tools/run-guest.sh auto "$dyad" "$vmm" <"$tmp/in" >"$tmp/guest.out" 2>&1 &
	runner=$!
	exec 3>"$tmp/in"
	# until_seen PATTERN SECONDS: waits for PATTERN in the output.
	until_seen() {
		local i
		for ((i = 0; i < $2 * 2; i++)); do
			grep -q "$1" "$tmp/guest.out" && return 0
			sleep 0.5
		done
		return 1
	}
	until_seen 'built-in shell' 100 && sleep 2
	# shellcheck disable=SC2016  # the guest's shell expands it
	echo 'echo answer-$((6 * 7))' >&3
	until_seen 'answer-42' 10
	echo 'poweroff -f' >&3
	wait $runner
	status=$?
	exec 3>&-
	if ! grep -q 'answer-42' "$tmp/guest.out"; then
		not_ok $name "no answer-42 from the guest: $(tail -5 "$tmp/guest.out")"
	elif [[ $status -ne 0 ]]; then
		not_ok $name "poweroff -f did not end the run with status 0 (status $status)"
	else
		ok $name
	fi
fi
