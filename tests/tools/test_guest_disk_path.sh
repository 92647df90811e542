#!/usr/bin/env bash
# How tools/run-guest.sh hands the guest's disk to the VMM (no boot: the run ISO is read back):
# GUEST_DISK_VIA=vda gives the VMM -d /dev/vda and leaves the image out of the ISO (QEMU attaches
# it); module (Bochs, and iso by default) carries it in the ISO; each says which it is; bad
# choices are refused before anything is built.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

cd "$ROOT" || exit 1
dyad=${KERNEL:-build/dyad.elf}
vmm=$BUILD_DIR/user/vmm
if [[ ! -f $dyad || ! -f $vmm ]]; then
	skip guest_disk_path "Dyad or the VMM is not built"
	exit 0
fi
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
echo kernel >"$tmp/bz"
echo initrd >"$tmp/initrd"
truncate -s 1M "$tmp/disk.img"

# run VIA EMU: runs run-guest.sh with GUEST_DISK=disk.img; stdout+stderr in $out, status in
# $status, the ISO's grub.cfg in $cfg (iso only).
run() {
	status=0 cfg=''
	out=$(KERNEL=$tmp/bz INITRD=$tmp/initrd GUEST_DISK=$tmp/disk.img GUEST_DISK_VIA=$1 \
		RUN_GUEST_ISO=$tmp/run.iso tools/run-guest.sh "$2" "$dyad" "$vmm" 2>&1) || status=$?
	if [[ $2 == iso && $status -eq 0 ]]; then cfg=$(iso_grub_cfg "$(tail -1 <<<"$out")"); fi
}

run vda iso
name=disk_via_vda_gives_the_vmm_dev_vda_and_no_module
if [[ $status -eq 0 && $cfg == *"'-d' '/dev/vda'"* && $cfg != *"disk.img"* &&
	$out == *"is QEMU's virtio-blk drive, Dyad's /dev/vda"*"writes and flushes reach the file"* ]]; then
	ok $name
else
	not_ok $name "status $status: $out | $cfg"
fi

run '' iso
name=disk_via_module_by_default_for_an_iso
if [[ $status -eq 0 && $cfg == *"'-d' '$tmp/disk.img'"* && $cfg == *"module2 "*"disk.img"* &&
	$out == *"writes last until power-off"* ]]; then
	ok $name
else
	not_ok $name "status $status: $out | $cfg"
fi

chmod a-w "$tmp/disk.img"
run vda iso
name=disk_via_vda_read_only_file_is_named
if [[ $status -eq 0 && $out == *"the file is read-only, so the drive is: the guest sees a"* ]]; then
	ok $name
else
	not_ok $name "status $status: $out"
fi
chmod u+w "$tmp/disk.img"

bad=''
run vda bochs
[[ $status -eq 1 && $out == *"Bochs has no virtio disk for Dyad"* ]] ||
	bad+=" vda+bochs: $status '$out';"
run floppy iso
[[ $status -eq 1 && $out == *"GUEST_DISK_VIA='floppy' is neither vda nor module"* ]] ||
	bad+=" floppy: $status '$out';"
name=disk_via_bad_choices_are_refused
if [[ -z $bad ]]; then ok $name; else not_ok $name "$bad"; fi
