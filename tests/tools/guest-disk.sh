#!/usr/bin/env bash
# The guest's disk end to end (make check-guest-disk, QEMU TCG, 7-13 minutes loaded): a Linux guest
# under Dyad's VMM whose /dev/vda is the VMM's virtio-blk on Dyad's /dev/vda, which is QEMU's
# virtio-blk on an image file made here. The guest runs tests/tools/guest-disk-init.sh.
#   persistence  boot 1 writes a file on ext4, syncs, powers off; boot 2 finds it
#   crash        the guest appends records with an fsync each; QEMU is SIGKILLed mid-loop;
#                fsck finds the file system clean or fixable, every fsynced record is there
#   errors       QEMU's blkdebug fails a read of one sector and every flush: the guest's read
#                and fsync fail (so a flush reaches QEMU), the VMM logs the errors, goes on
#   read-only    a read-only image: the guest sees a read-only disk, the file is unchanged
#   too small    an ext4 image cut short as root=/dev/vda: the guest's init says the root does
#                not mount and the run fails
#   no disk      the VMM asked for /dev/vda in a machine without one: a clear line, a failed run
# GUEST_DISK_TESTS="persistence crash ..." runs only those (names as above, blanks for spaces:
# persistence crash errors read-only too-small no-disk).
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=tools/lib.sh
. "$ROOT/tools/lib.sh"
# shellcheck source=tools/guest-disk-lib.sh
. "$ROOT/tools/guest-disk-lib.sh"

cd "$ROOT" || exit 1
for f in "$BUILD_DIR/guest/bzImage" "$BUILD_DIR/guest/initramfs.cpio" "$BUILD_DIR/user/vmm"; do
	[[ -f $f ]] || {
		echo "$f is missing (make guest-image vmm)" >&2
		exit 1
	}
done
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
gd_initrd "$tmp/initrd"
want() { [[ " ${GUEST_DISK_TESTS:-$1} " == *" $1 "* ]]; }
lines() { tr -d '\r' <"$1" | grep -E '^(dtest|vmm: virtio-blk|virtio-blk|dyad-guest|init|panic)'; }

# boot NAME IMG CMDLINE [DRIVE]: one boot to its end (at most 240 s); the log in $tmp/NAME.log.
boot() {
	gd_iso "$tmp/$1.iso" "$tmp/initrd" "$2" "$3" || return 1
	gd_dyad "$tmp/$1.iso" "$2" "$tmp/$1.log" ${4:+"$4"}
	gd_wait "$GD_PID" "$tmp/$1.log" '^init: /bin/vmm exited' 240
	gd_end "$GD_PID" 20
}

# root_iso IMG: $tmp/root.iso, the default initramfs booting root=/dev/vda rw from the VMM's
# /dev/vda (IMG only sizes it).
root_iso() {
	KERNEL=$BUILD_DIR/guest/bzImage GUEST_DISK=$1 GUEST_DISK_VIA=vda GUEST_CPUS=1 \
		GUEST_CMDLINE="root=/dev/vda rw dyad_rootwait=5" DISK='' RUN_GUEST_ISO=$tmp/root.iso \
		tools/run-guest.sh iso "$BUILD_DIR/dyad.elf" "$BUILD_DIR/user/vmm" >/dev/null 2>&1
}

# ---- persistence ----
if want persistence; then
	img=$tmp/persist.img
	truncate -s 32M "$img" && mkfs.ext4 -q -F "$img"
	token=dyad-$RANDOM$RANDOM
	boot write "$img" "dtest=write dtest_token=$token"
	boot check "$img" "dtest=check"
	if grep -q "^dtest: wrote $token" <(lines "$tmp/write.log") &&
		grep -q "^dtest: found $token\$" <(lines "$tmp/check.log") &&
		[[ $(debugfs -R 'cat /persist.txt' "$img" 2>/dev/null) == "$token" ]]; then
		ok guest_disk_file_survives_power_off
	else
		not_ok guest_disk_file_survives_power_off "boot 1: $(lines "$tmp/write.log" | tr '\n' '|')" \
			"boot 2: $(lines "$tmp/check.log" | tr '\n' '|')" \
			"image: '$(debugfs -R 'cat /persist.txt' "$img" 2>&1 | tail -1)'"
	fi
fi

# ---- crash consistency ----
if want crash; then
	img=$tmp/crash.img
	truncate -s 32M "$img" && mkfs.ext4 -q -F "$img"
	gd_iso "$tmp/loop.iso" "$tmp/initrd" "$img" "dtest=loop"
	gd_dyad "$tmp/loop.iso" "$img" "$tmp/loop.log"
	gd_wait "$GD_PID" "$tmp/loop.log" '^dtest: fsynced 40$' 240
	# Killed mid-loop, at a moment the guest does not choose.
	sleep "0.$((RANDOM % 10))"
	kill -9 "$GD_PID"
	wait "$GD_PID" 2>/dev/null
	last=$(tr -d '\r' <"$tmp/loop.log" | sed -n 's/^dtest: fsynced \([0-9]*\)$/\1/p' | tail -1)
	name=guest_disk_fsynced_records_survive_sigkill
	cp "$img" "$tmp/replayed.img"
	fsck_n=0 fsck_y=0 fsck_after=0
	fsck.ext4 -fn "$img" >"$tmp/fsck-n.log" 2>&1 || fsck_n=$?
	# The next mount would replay the journal: e2fsck -y does so on a copy; then it must be clean.
	e2fsck -fy "$tmp/replayed.img" >"$tmp/fsck-y.log" 2>&1 || fsck_y=$?
	e2fsck -fn "$tmp/replayed.img" >"$tmp/fsck-after.log" 2>&1 || fsck_after=$?
	debugfs -R 'cat /log.txt' "$tmp/replayed.img" >"$tmp/records" 2>/dev/null
	missing=0
	if [[ -n $last ]]; then
		for ((i = 1; i <= last; i++)); do
			grep -qx "record $(printf %08d $i)" "$tmp/records" || missing=$((missing + 1))
		done
	fi
	echo "# crash: $last records reported fsynced; fsck -fn $fsck_n, e2fsck -fy $fsck_y then -fn" \
		"$fsck_after; $(grep -c . "$tmp/records") records in the file, $missing missing"
	if [[ -n $last ]] && ((last >= 40 && (fsck_n == 0 || fsck_n == 4) && fsck_y <= 1)) &&
		((fsck_after == 0 && missing == 0)); then
		ok $name
	else
		not_ok $name "last '$last', fsck -n $fsck_n ($(tail -3 "$tmp/fsck-n.log" | tr '\n' '|'))," \
			"-fy $fsck_y, after $fsck_after, missing $missing;" \
			"$(lines "$tmp/loop.log" | grep -v fsynced | tr '\n' '|')"
	fi
fi

# ---- a device that reports errors ----
if want errors; then
	img=$tmp/errors.img
	truncate -s 16M "$img"
	cat >"$tmp/blkdebug.conf" <<-CONF
		[inject-error]
		event = "read_aio"
		errno = "5"
		sector = "2048"

		[inject-error]
		event = "flush_to_disk"
		iotype = "flush"
		errno = "5"
	CONF
	boot errors "$img" "dtest=errors dtest_sector=2048" \
		"if=none,id=d0,format=raw,file=blkdebug:$tmp/blkdebug.conf:$img"
	log=$(lines "$tmp/errors.log")
	name=guest_disk_device_errors_reach_the_guest_and_the_log
	if grep -q '^dtest: read failed$' <<<"$log" && grep -q '^dtest: fsync failed$' <<<"$log" &&
		grep -q '^vmm: virtio-blk: read of [0-9]* bytes at sector 2048 failed: ' <<<"$log" &&
		grep -q '^vmm: virtio-blk: flush failed: ' <<<"$log" &&
		grep -q '^dtest: end$' <<<"$log" && ! grep -qi panic <<<"$log"; then
		ok $name
	else
		not_ok $name "$(tr '\n' '|' <<<"$log")"
	fi
fi

# ---- a read-only image ----
if want read-only; then
	img=$tmp/ro.img
	truncate -s 32M "$img" && mkfs.ext4 -q -F "$img"
	chmod a-w "$img"
	sum=$(md5sum <"$img")
	boot ro "$img" "dtest=write dtest_token=never" "if=none,id=d0,file=$img,format=raw,readonly=on"
	log=$(lines "$tmp/ro.log")
	name=guest_disk_read_only_image_is_a_read_only_disk
	if grep -q '^dtest: vda 65536 sectors, ro 1,' <<<"$log" &&
		grep -q '^vmm: virtio-blk at .*: /dev/vda, 65536 sectors, read-only: the guest may not write' \
			<<<"$log" && ! grep -q '^dtest: wrote never' <<<"$log" && [[ $(md5sum <"$img") == "$sum" ]]; then
		ok $name
	else
		not_ok $name "$(tr '\n' '|' <<<"$log")"
	fi
fi

# ---- a disk smaller than its file system, as the root ----
if want too-small; then
	img=$tmp/small.img
	truncate -s 32M "$img" && mkfs.ext4 -q -F "$img" && truncate -s 8M "$img"
	root_iso "$img"
	status=0
	timeout -k 5 240 qemu-system-x86_64 -accel tcg -cpu max -m 3G -no-reboot -display none \
		-monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-serial "file:$tmp/small.log" \
		-drive "if=none,id=d0,file=$img,format=raw" -device virtio-blk-pci,drive=d0 \
		-cdrom "$tmp/root.iso" </dev/null >/dev/null 2>&1 || status=$?
	log=$(lines "$tmp/small.log")
	name=guest_disk_too_small_for_its_root_fails_the_run
	# isa-debug-exit: 3 is Dyad's FAIL (the VMM's exit status was not 0).
	if [[ $status -eq 3 ]] &&
		grep -q '^dyad-guest: root /dev/vda (ext4, rw) does not mount$' <<<"$log" &&
		grep -q '^init: /bin/vmm exited with status [1-9]' <<<"$log"; then
		ok $name
	else
		not_ok $name "QEMU status $status: $(tr '\n' '|' <<<"$log")"
	fi
fi

# ---- no disk at all ----
if want no-disk; then
	truncate -s 8M "$tmp/any.img"
	root_iso "$tmp/any.img"
	status=0
	timeout -k 5 120 qemu-system-x86_64 -accel tcg -cpu max -m 3G -no-reboot -display none \
		-monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial "file:$tmp/nodisk.log" \
		-cdrom "$tmp/root.iso" </dev/null >/dev/null 2>&1 || status=$?
	log=$(tr -d '\r' <"$tmp/nodisk.log" | grep -E '^(vmm|init):')
	name=guest_disk_missing_vda_is_named_and_fails_the_run
	if [[ $status -eq 3 ]] && grep -q '^vmm: disk /dev/vda: Dyad has no such disk' <<<"$log"; then
		ok $name
	else
		not_ok $name "QEMU status $status: $(tr '\n' '|' <<<"$log")"
	fi
fi
