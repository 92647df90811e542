#!/usr/bin/env bash
# Boots Dyad straight into a Linux guest: the VMM as the first process, the guest's console on
# this terminal (through Dyad's).
# Usage: tools/run-guest.sh {qemu|bochs|auto|iso} KERNEL_ELF VMM
# auto takes the fastest path (tools/run.sh); iso only builds the ISO and prints its path.
# Env:   KERNEL=FILE        bzImage, ELF vmlinux or multiboot kernel (default build/guest/bzImage:
#                           see below)
#        INITRD=FILE        initramfs (default build/guest/initramfs.cpio), a multiboot kernel's
#                           module 0 (none by default)
#        RAM=SIZE           guest RAM, e.g. 512M (default 256M; limits in lib.sh)
#        GUEST_CPUS=N       the guest's vCPUs, 1 to 32 (default 2): the VMM's -c
#        GUEST_CMDLINE=...  words appended to the VMM's default guest command line
#                           (dyad_mode=test runs the guest test script instead of a shell)
#        GUEST_DISK=NAME    the guest's virtio disk (/dev/vda in the guest, the VMM's -d):
#                           `debian` is the Debian 12 image (make guest-rootfs), booted with
#                           root=/dev/vda rw; any other NAME is a raw image FILE, whose root (if
#                           any) GUEST_CMDLINE names (root=/dev/vda, rootfstype=, rw).
#                           (make run's DISK= arrives here: tools/lib.sh's DISK is the host's disk.)
#        GUEST_DISK_VIA=vda|module  how the image reaches the VMM (default: vda under QEMU,
#                           module under Bochs and for iso):
#                           vda     QEMU attaches the file as a virtio-blk-pci drive, Dyad's
#                                   /dev/vda, and the VMM serves /dev/vda (-d /dev/vda): the
#                                   guest's writes reach the file, its flushes are QEMU's flushes.
#                                   A file we may not write becomes a read-only drive, and the
#                                   guest a read-only disk. With iso, the caller attaches the file.
#                           module  GRUB loads the file with the ISO (Bochs has no virtio); Dyad
#                                   serves a copy held in memory: writes last until power-off.
# Dyad's own command line holds 4095 bytes and its first process takes up to 511 words after
# `--`: a guest command line of the VMM's 2047 bytes fits through it.
#
# The default kernel is the bzImage, not the uncompressed vmlinux: under QEMU TCG, GRUB reads
# the ISO through BIOS disk calls, and loading the 63 MiB vmlinux costs more than the guest's
# own decompression of the 8 MiB bzImage. Runner start to the shell prompt on a 2-core host
# with little else running: bzImage 9.4-10.3 s, vmlinux 15.7-15.9 s. On the same host loaded
# five times over the order flips (bzImage 61-92 s, vmlinux 49-62 s): the decompression is
# CPU work, which such a load stretches most; `KERNEL=build/guest/vmlinux` is there for that.
#
# Each module's path in Dyad is the file name the user gave (when it fits: 63 bytes, no blanks
# or quotes), so the VMM's messages name that file and not a path inside the ISO.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 3 ]] || die "usage: $0 {qemu|bochs|auto|iso} KERNEL_ELF VMM"
emu=$1 dyad=$2 vmm=$3
[[ $emu =~ ^(qemu|bochs|auto|iso)$ ]] || die "unknown emulator '$emu'"
kernel=${KERNEL:-$BUILD_DIR/guest/bzImage}
[[ -f $kernel ]] || die "'$kernel' not found (make guest-image builds the default guest)"
# A multiboot header (its magic at a 4-aligned offset of the first 8 KiB; the VMM checks the
# rest): such a kernel gets the Linux initramfs only when INITRD asks for it.
if od -A n -t x4 -v -N 8192 "$kernel" | grep -qw 1badb002; then
	initrd=${INITRD:-}
else
	initrd=${INITRD:-$BUILD_DIR/guest/initramfs.cpio}
fi
ram=${RAM:-256M}
guest_cpus=${GUEST_CPUS:-2}
[[ $guest_cpus =~ ^[0-9]+$ ]] && ((guest_cpus >= 1 && guest_cpus <= 32)) ||
	die "GUEST_CPUS=$guest_cpus: the VMM runs 1 to 32 vCPUs"
# Checked before anything is built or booted: the VMM would refuse it only after a whole boot.
ram_mib=$(guest_ram_mib "$ram") || exit 1
for f in "$dyad" "$vmm" ${initrd:+"$initrd"}; do
	[[ -f $f ]] || die "'$f' not found (make guest-image builds the default guest)"
done

disk=${GUEST_DISK:-} root_words=''
case $disk in
'') ;;
debian)
	disk=$BUILD_DIR/guest/debian.ext4
	[[ -f $disk ]] || die "'$disk' not found (make guest-rootfs builds it)"
	[[ " ${GUEST_CMDLINE:-} " == *" root="* ]] || root_words='root=/dev/vda rw'
	;;
*)
	[[ -f $disk ]] || die "DISK='$disk' is neither 'debian' nor a disk image file"
	;;
esac
via=${GUEST_DISK_VIA:-}
if [[ -n $disk ]]; then
	if [[ -z $via ]]; then
		case $emu in
		qemu) via=vda ;;
		bochs | iso) via=module ;;
		auto)
			run_path_choose
			if [[ $RUN_CHOICE == bochs ]]; then via=module; else via=vda; fi
			# run.sh must take the path chosen here.
			export RUN_PATH=$RUN_CHOICE
			;;
		esac
	fi
	[[ $via =~ ^(vda|module)$ ]] || die "GUEST_DISK_VIA='$via' is neither vda nor module"
	[[ $via == module || $emu != bochs ]] ||
		die "GUEST_DISK_VIA=vda: Bochs has no virtio disk for Dyad (use module)"
	[[ $via == module || $disk != *,* ]] ||
		die "the disk image '$disk': QEMU cannot take a file name with a comma"
	# Checked here, before a boot: the VMM would refuse them only after GRUB's long read.
	disk_bytes=$(stat -c %s "$disk")
	((disk_bytes > 0)) || die "the disk image '$disk' is empty"
	((disk_bytes % 512 == 0)) ||
		die "the disk image '$disk' is $disk_bytes bytes, not a whole number of 512-byte sectors"
	[[ -r $disk ]] || die "the disk image '$disk' cannot be read"
fi

# dyad_path FILE FALLBACK: the path the VMM opens for FILE: FILE as given, if Dyad can take it
# as a module name and grub.cfg can carry it; else FALLBACK.
dyad_path() {
	local f=$1
	if ((${#f} <= 63)) && [[ $f =~ ^[A-Za-z0-9._/+@=,-]+$ ]]; then
		echo "$f"
	else
		echo "$2"
	fi
}
kernel_path=$(dyad_path "$kernel" /boot/guest-kernel)
initrd_path=${initrd:+$(dyad_path "$initrd" /boot/guest-initrd)}
disk_path=
if [[ -n $disk ]]; then
	if [[ $via == vda ]]; then disk_path=/dev/vda; else disk_path=$(dyad_path "$disk" /boot/guest-disk); fi
fi
module_disk=
[[ $via != module ]] || module_disk=$disk

args="-c $guest_cpus -m ${ram_mib}M${initrd:+ -i $initrd_path}${disk:+ -d $disk_path}"
for w in $root_words ${GUEST_CMDLINE:-}; do
	args+=" -a $w"
done
args+=" $kernel_path"
iso=$BUILD_DIR/run-guest.iso
mib() { echo $((($(stat -c %s "$1") + (1 << 20) - 1) >> 20)); }
size=$(($(mib "$kernel") + ${initrd:+$(mib "$initrd") +} ${module_disk:+$(mib "$module_disk") +} 0))
[[ $emu == iso ]] || echo "run-guest: building the ISO ($size MiB of guest images)" >&2
# The ISO is rebuilt every time: a changed KERNEL, INITRD, RAM or command line takes effect.
"$ROOT/tools/mkiso.sh" "$iso" "$dyad" "init=/bin/vmm -- $args" "$vmm:/bin/vmm" \
	"$kernel:$kernel_path" ${initrd:+"$initrd:$initrd_path"} \
	${module_disk:+"$module_disk:$disk_path"} >/dev/null
echo "run-guest: the VMM will load $kernel ($(mib "$kernel") MiB)" \
	"${initrd:+"+ $initrd ($(mib "$initrd") MiB) "}into ${ram_mib} MiB of guest RAM," \
	"extra command line '${root_words:+$root_words }${GUEST_CMDLINE:-}'" >&2
if [[ $via == module ]]; then
	why="Bochs has no virtio"
	[[ $emu != iso ]] || why="an ISO for any emulator"
	[[ -z ${GUEST_DISK_VIA:-} ]] || why="GUEST_DISK_VIA=module"
	echo "run-guest: disk $disk ($(mib "$disk") MiB) is the guest's /dev/vda as a boot module" \
		"($why):" \
		"Dyad serves a copy held in memory, so the guest's writes last until power-off;" \
		"the file is never changed" >&2
elif [[ $via == vda ]]; then
	if [[ ! -w $disk || -z $(find "$disk" -maxdepth 0 -perm /222) ]]; then
		ro_note="the file is read-only, so the drive is: the guest sees a read-only disk"
	else
		ro_note="the guest's writes and flushes reach the file"
	fi
	echo "run-guest: disk $disk ($(mib "$disk") MiB) is QEMU's virtio-blk drive, Dyad's" \
		"/dev/vda, served by the VMM as the guest's /dev/vda: $ro_note" >&2
	# tools/lib.sh, sourced again by the QEMU runner, attaches DISK to QEMU.
	export DISK=$disk
fi
# Two silent stretches follow: until Dyad's first line GRUB reads the images from the ISO (on
# the VGA screen, not shown here), and after the VMM's line naming the entry a bzImage
# decompresses itself before Linux prints anything.
if [[ $emu != iso ]]; then
	then_what="Dyad's log follows"
	if [[ $(od -An -c -j 0x202 -N 4 "$kernel" 2>/dev/null | tr -d ' ') == HdrS ]]; then
		then_what+="; after the VMM's line, the guest decompresses the bzImage in silence"
	fi
	echo "run-guest: the boot loader is loading $size MiB; $then_what" >&2
fi
case $emu in
qemu) exec "$ROOT/tools/run-qemu.sh" "$iso" ;;
bochs) exec "$ROOT/tools/run-bochs.sh" "$iso" ;;
auto) exec "$ROOT/tools/run.sh" "$iso" ;;
iso) echo "$iso" ;;
*) die "unknown emulator '$emu'" ;;
esac
