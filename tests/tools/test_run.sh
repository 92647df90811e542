#!/usr/bin/env bash
# `make run`: the path choice (QEMU+KVM with nested VMX, else QEMU TCG with SVM, else Bochs), the
# guest ISO following RAM= and GUEST_CMDLINE= at every run, KERNEL= naming the guest kernel and not
# Dyad's (run and run-guest), RAM= and bad DISK= images refused before anything boots, DISK= given
# to the runner and not to the emulator, the VMM naming the user's kernel file, and (when
# the default guest is built) a typed command answered by the guest's shell, whose Ctrl-C
# interrupts `sleep 20`.
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
name=run_guest_iso_follows_ram_guest_cpus_and_guest_cmdline
if [[ ! -f $vmm ]]; then
	skip $name "the VMM is not built ($vmm)"
else
	iso=$(KERNEL=$tmp/bz INITRD=$tmp/initrd RAM=512M GUEST_CPUS=3 GUEST_CMDLINE='quiet dyad_x=1' \
		tools/run-guest.sh iso "$dyad" "$vmm" 2>"$tmp/err")
	cfg1=$(iso_grub_cfg "$iso")
	iso=$(KERNEL=$tmp/bz INITRD=$tmp/initrd RAM=300M tools/run-guest.sh iso "$dyad" "$vmm" 2>/dev/null)
	cfg2=$(iso_grub_cfg "$iso")
	# mkiso.sh quotes each word. The VMM opens the files by the names the user gave; the
	# guest has 2 vCPUs unless GUEST_CPUS says otherwise.
	want1="'init=/bin/vmm' '--' '-c' '3' '-m' '512M' '-i' '$tmp/initrd' '-a' 'quiet' '-a' 'dyad_x=1'"
	want1+=" '$tmp/bz'"
	want2="'init=/bin/vmm' '--' '-c' '2' '-m' '300M' '-i' '$tmp/initrd' '$tmp/bz'"
	if [[ $cfg1 != *"$want1"* ]]; then
		not_ok $name "first ISO lacks '$want1': $cfg1 $(cat "$tmp/err")"
	elif [[ $cfg2 != *"$want2"* ]]; then
		not_ok $name "the next run's ISO is stale, lacks '$want2': $cfg2"
	elif ! grep -q "module2 /boot/bz '$tmp/bz'" <<<"$cfg2"; then
		not_ok $name "the guest kernel is not on the ISO: $cfg2"
	else
		ok $name
	fi
	# A multiboot kernel (its magic in the first 8 KiB) gets no initramfs unless INITRD says.
	printf '\x02\xb0\xad\x1b\x00\x00\x00\x00\xfe\x4f\x52\xe4' >"$tmp/mb"
	iso=$(KERNEL=$tmp/mb RAM=64M GUEST_CMDLINE='mbtest' tools/run-guest.sh iso "$dyad" "$vmm" \
		2>/dev/null)
	cfg3=$(iso_grub_cfg "$iso")
	want3="'init=/bin/vmm' '--' '-c' '2' '-m' '64M' '-a' 'mbtest' '$tmp/mb'"
	name=run_guest_gives_a_multiboot_kernel_no_default_initramfs
	if [[ $cfg3 == *"$want3"* ]]; then ok $name; else not_ok $name "lacks '$want3': $cfg3"; fi
fi

# RAM= is checked before anything is built or booted: emulators that record being started come
# first on PATH, and the refusal must name RAM= and the limits.
name=run_guest_refuses_bad_ram_before_booting
mkdir -p "$tmp/emu"
for e in qemu-system-x86_64 bochs grub-mkrescue; do
	printf '#!/bin/sh\ntouch "%s/started"\n' "$tmp/emu" >"$tmp/emu/$e"
	chmod +x "$tmp/emu/$e"
done
bad=
for r in abc 0 100G 31M 3073M 1000K 512; do
	status=0
	out=$(PATH=$tmp/emu:$PATH KERNEL=$tmp/bz INITRD=$tmp/initrd RAM=$r \
		tools/run-guest.sh qemu "$dyad" "$vmm" 2>&1) || status=$?
	if [[ $status -ne 1 || $out != *"RAM="*"from 32M to 3G"* || -e $tmp/emu/started ]]; then
		bad+=" RAM=$r (status $status, started: $([[ -e $tmp/emu/started ]] && echo yes || echo no)): $out;"
	fi
	rm -f "$tmp/emu/started"
done
for r in 32M 3G 262144K; do
	iso=$(KERNEL=$tmp/bz INITRD=$tmp/initrd RAM=$r tools/run-guest.sh iso "$dyad" "$vmm" 2>&1) ||
		bad+=" RAM=$r refused: $iso;"
done
if [[ -n $bad ]]; then not_ok $name "$bad"; else ok $name; fi
make_out=$(submake run RAM=100G KERNEL="$tmp/bz" INITRD="$tmp/initrd" 2>&1)
expect make_run_refuses_bad_ram_in_its_own_words "make run RAM=100G said: $(tail -3 <<<"$make_out")" \
	grep -q "^run-guest.sh: RAM=100G is outside the guest RAM the VMM accepts (from 32M to 3G)" \
	<<<"$make_out"

name=make_run_kernel_names_the_guest_kernel
out=$(submake -n run KERNEL="$tmp/bz" INITRD="$tmp/initrd" 2>&1)
if ! grep -q "KERNEL='$tmp/bz' tools/run-guest.sh auto .*dyad.elf " <<<"$out"; then
	not_ok $name "make -n run: $(grep -m1 run-guest <<<"$out" || tail -2 <<<"$out")"
elif grep -q guest-image.sh <<<"$out"; then
	not_ok $name "fetches the default guest although KERNEL= and INITRD= are given"
else
	ok $name
fi

# make run-guest took its rule from vmm.mk, which passed no KERNEL= on: the default bzImage booted.
out=$(submake -n run-guest KERNEL="$tmp/bz" INITRD="$tmp/initrd" 2>&1)
expect make_run_guest_kernel_names_the_guest_kernel \
	"make -n run-guest: $(grep -m1 run-guest.sh <<<"$out" || tail -2 <<<"$out")" \
	grep -q "KERNEL='$tmp/bz' tools/run-guest.sh qemu .*dyad.elf " <<<"$out"

# ---- the guest's disk (DISK=) ---------------------------------------------------------------------
out=$(submake -n run DISK=debian KERNEL="$tmp/bz" INITRD="$tmp/initrd" 2>&1)
expect make_run_disk_debian_builds_the_image_and_names_it \
	"make -n run DISK=debian: $(grep -m1 run-guest.sh <<<"$out" || tail -2 <<<"$out")" \
	grep -q "guest-rootfs.sh" <<<"$out"
expect make_run_disk_goes_to_the_runner_not_to_the_emulator "$(grep -m1 run-guest.sh <<<"$out")" \
	grep -q "GUEST_DISK='debian' DISK= " <<<"$out"
name=run_guest_refuses_bad_disks_before_booting
if [[ ! -f $vmm ]]; then
	skip $name "the VMM is not built ($vmm)"
else
	: >"$tmp/empty.img"
	head -c 1000 /dev/zero >"$tmp/odd.img"
	bad=''
	for d in "$tmp/nosuch.img|is neither 'debian' nor a disk image file" "$tmp/empty.img|is empty" \
		"$tmp/odd.img|is 1000 bytes, not a whole number of 512-byte sectors"; do
		status=0
		out=$(KERNEL=$tmp/bz INITRD=$tmp/initrd GUEST_DISK=${d%%|*} \
			tools/run-guest.sh iso "$dyad" "$vmm" 2>&1) || status=$?
		[[ $status -eq 1 && $out == *"${d#*|}"* ]] || bad+=" ${d%%|*}: status $status, '$out';"
	done
	head -c 4096 /dev/zero >"$tmp/disk.img"
	out=$(KERNEL=$tmp/bz INITRD=$tmp/initrd GUEST_DISK=$tmp/disk.img \
		tools/run-guest.sh iso "$dyad" "$vmm" 2>&1) || bad+=" a 4 KiB image refused: $out;"
	[[ $out == *"writes last until power-off"* ]] || bad+=" no word on writes: $out;"
	if [[ -n $bad ]]; then not_ok $name "$bad"; else ok $name; fi
fi

# ---- a bad guest kernel is named as the user named it --------------------------------------------
name=vmm_errors_name_the_users_kernel_file
guest=$BUILD_DIR/guest
if [[ ! -f $vmm || ! -f $guest/initramfs.cpio ]]; then
	skip $name "the VMM or the default initramfs is not built (make guest-image vmm)"
elif [[ $want == bochs ]]; then
	skip $name "only Bochs can run a guest here: too slow for this test"
else
	head -c 65536 /dev/urandom >"$tmp/garbage-kernel"
	status=0
	KERNEL=$tmp/garbage-kernel INITRD=$guest/initramfs.cpio timeout -k 5 120 \
		tools/run-guest.sh auto "$dyad" "$vmm" </dev/null >"$tmp/garbage.out" 2>&1 || status=$?
	vmm_lines=$(tr -d '\r' <"$tmp/garbage.out" | grep '^vmm:')
	if [[ $status -ne 1 ]]; then
		not_ok $name "status $status (a refused image is 1): $(tail -3 "$tmp/garbage.out")"
	elif ! grep -qF "$tmp/garbage-kernel" <<<"$vmm_lines"; then
		not_ok $name "the VMM's lines do not name $tmp/garbage-kernel: $vmm_lines"
	elif grep -q '/boot/guest-kernel' "$tmp/garbage.out"; then
		not_ok $name "the output names /boot/guest-kernel: $vmm_lines"
	else
		ok "$name # $(head -n 1 <<<"$vmm_lines")"
	fi
fi

# ---- the guest's shell answers ------------------------------------------------------------------
# The default guest under the chosen path, typing into the runner's standard input.
name=make_run_guest_shell_answers
if [[ ! -f $guest/bzImage || ! -f $guest/initramfs.cpio || ! -f $vmm ]]; then
	skip $name "the default guest or the VMM is not built (make guest-image vmm)"
	skip guest_shell_ctrl_c_interrupts_sleep "the default guest or the VMM is not built"
elif [[ $want == bochs ]]; then
	skip $name "only Bochs can run a guest here: too slow for this test"
	skip guest_shell_ctrl_c_interrupts_sleep "only Bochs can run a guest here: too slow"
else
	# Types into the runner's standard input once the shell's banner is out; the answer is computed,
	# so the echo of the typed line does not pass. About 20 s under QEMU TCG.
	mkfifo "$tmp/in"
	# The runner's defaults: the bzImage and initramfs of make guest-image, 256 MiB.
	env -u KERNEL -u INITRD -u RAM \
		timeout -k 5 150 tools/run-guest.sh auto "$dyad" "$vmm" <"$tmp/in" >"$tmp/guest.out" 2>&1 &
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
	# Ctrl-C (byte 3) two seconds into `sleep 20`: with a controlling terminal the shell's
	# foreground job gets SIGINT and the next line runs at once; without one it waits out the
	# sleep. The answer is computed, so the echo of the typed line does not pass.
	echo 'sleep 20' >&3
	sleep 2
	typed=$EPOCHSECONDS
	printf '\003' >&3
	# shellcheck disable=SC2016  # the guest's shell expands it
	echo 'echo after-$((6 * 7))' >&3
	until_seen 'after-42' 30
	took=$((EPOCHSECONDS - typed))
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
	name=guest_shell_ctrl_c_interrupts_sleep
	tty_msgs=$(grep -a "can't access tty\|cttyhack: can't open" "$tmp/guest.out")
	if ! grep -q 'after-42' "$tmp/guest.out"; then
		not_ok $name "no after-42 from the guest: $(tail -5 "$tmp/guest.out")"
	elif ((took >= 12)); then
		not_ok $name "the line after Ctrl-C ran $took s later: sleep 20 was not interrupted ($tty_msgs)"
	elif [[ -n $tty_msgs ]]; then
		not_ok $name "the shell has no controlling terminal: $tty_msgs"
	else
		ok "$name # the next line ran $took s after Ctrl-C"
	fi
fi
