# Helpers for the guest-disk test and benchmark (tests/tools/guest-disk.sh,
# tools/bench-guest-disk.sh): a guest that runs tests/tools/guest-disk-init.sh on /dev/vda,
# booted under Dyad's VMM (the disk: QEMU's virtio-blk -> Dyad's /dev/vda -> the VMM's
# virtio-blk) or by bare QEMU (QEMU's virtio-blk straight to the guest). Source it after lib.sh.
# shellcheck shell=bash disable=SC2034  # GD_PID is for the caller

# gd_initrd OUT [NAME=FILE]...: the default initramfs with /dtest (guest-disk-init.sh) and each
# FILE as /NAME (executable) appended as a second cpio "newc" archive (Linux unpacks them in
# turn), so the guest image needs no rebuild.
gd_initrd() {
	local out=$1 f
	shift
	{
		cat "$BUILD_DIR/guest/initramfs.cpio"
		for f in "dtest=$ROOT/tests/tools/guest-disk-init.sh" "$@"; do
			gd_cpio_file "${f%%=*}" "${f#*=}"
		done
		gd_cpio_entry TRAILER!!! 0 0
	} >"$out"
}

# gd_cpio_file NAME FILE: FILE as the executable /NAME, header, data and padding.
gd_cpio_file() {
	local size
	size=$(stat -c %s "$2")
	gd_cpio_entry "$1" $((0100755)) "$size"
	cat "$2"
	head -c $(((4 - size % 4) % 4)) /dev/zero
}

# gd_cpio_entry NAME MODE SIZE: a newc header (110 bytes: magic, 13 hex fields), the name with
# its NUL, padded to 4 bytes; the caller writes SIZE bytes of data and their padding.
gd_cpio_entry() {
	local name=$1 mode=$2 size=$3
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		1 "$mode" 0 0 1 0 "$size" 0 0 0 0 $((${#name} + 1)) 0
	printf '%s\0' "$name"
	head -c $(((4 - (110 + ${#name} + 1) % 4) % 4)) /dev/zero
}

# gd_iso ISO INITRD IMG CMDLINE: the run ISO of Dyad + the VMM booting the default kernel with
# INITRD and the guest words CMDLINE; the VMM serves /dev/vda (GUEST_DISK_VIA=vda), IMG only
# sizes it here (gd_dyad attaches it).
gd_iso() {
	local out
	out=$(KERNEL=$BUILD_DIR/guest/bzImage INITRD=$2 GUEST_DISK=$3 GUEST_DISK_VIA=vda \
		GUEST_CPUS=1 GUEST_CMDLINE="rdinit=/dtest $4" DISK='' RUN_GUEST_ISO=$1 \
		"$ROOT/tools/run-guest.sh" iso "$BUILD_DIR/dyad.elf" "$BUILD_DIR/user/vmm" 2>&1) || {
		echo "$out" >&2
		return 1
	}
}

# gd_dyad ISO IMG LOG [DRIVE]: boots ISO under QEMU (TCG, one CPU) in the background with IMG
# as the virtio-blk drive (DRIVE replaces the -drive value), the serial text in LOG. Sets
# GD_PID to QEMU's pid.
gd_dyad() {
	local drive=${4:-if=none,id=d0,file=$2,format=raw}
	rm -f "$3" # a watcher must not read an earlier run's log before QEMU truncates it
	qemu-system-x86_64 -accel tcg -cpu max -m 3G -no-reboot -display none -monitor none \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial "file:$3" \
		-drive "$drive" -device virtio-blk-pci,drive=d0 -cdrom "$1" </dev/null \
		>/dev/null 2>&1 &
	GD_PID=$!
}

# gd_bare INITRD IMG LOG CMDLINE: the same kernel, INITRD and disk booted by bare QEMU (no
# Dyad), in the background; sets GD_PID.
gd_bare() {
	rm -f "$3"
	qemu-system-x86_64 -accel tcg -cpu max -m 512M -no-reboot -display none -monitor none \
		-serial "file:$3" -kernel "$BUILD_DIR/guest/bzImage" -initrd "$1" \
		-append "console=ttyS0 rdinit=/dtest $4" \
		-drive "if=none,id=d0,file=$2,format=raw" -device virtio-blk-pci,drive=d0 \
		</dev/null >/dev/null 2>&1 &
	GD_PID=$!
}

# gd_wait PID LOG PATTERN SECONDS: waits until LOG has a line matching PATTERN (0), QEMU ends
# (1) or SECONDS pass (2). QEMU keeps running in the first case.
gd_wait() {
	local pid=$1 log=$2 pat=$3 t=$(($4 * 10))
	while ((t-- > 0)); do
		tr -d '\r' 2>/dev/null <"$log" | grep -qE "$pat" && return 0
		kill -0 "$pid" 2>/dev/null || {
			tr -d '\r' 2>/dev/null <"$log" | grep -qE "$pat" && return 0
			return 1
		}
		sleep 0.1
	done
	return 2
}

# gd_end PID SECONDS: waits up to SECONDS for QEMU to end by itself, then kills it.
gd_end() {
	local t=$(($2 * 10))
	while ((t-- > 0)) && kill -0 "$1" 2>/dev/null; do sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
