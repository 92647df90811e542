#!/usr/bin/env bash
# Boots Dyad straight into a Linux guest: the VMM as the first process, the guest's console on
# this terminal (through Dyad's).
# Usage: tools/run-guest.sh {qemu|bochs|auto|iso} KERNEL_ELF VMM
# auto takes the fastest path (tools/run.sh); iso only builds the ISO and prints its path.
# Env:   KERNEL=FILE        bzImage, ELF vmlinux or multiboot kernel (default build/guest/vmlinux)
#        INITRD=FILE        initramfs (default build/guest/initramfs.cpio), a multiboot kernel's
#                           module 0 (none by default)
#        RAM=SIZE           guest RAM, e.g. 512M (default 256M)
#        GUEST_CMDLINE=...  words appended to the VMM's default guest command line
#                           (dyad_mode=test runs the guest test script instead of a shell)
# Dyad's own command line is short (256 bytes, 16 words after `--`): long guest command lines
# do not fit through it.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 3 ]] || die "usage: $0 {qemu|bochs|auto|iso} KERNEL_ELF VMM"
emu=$1 dyad=$2 vmm=$3
[[ $emu =~ ^(qemu|bochs|auto|iso)$ ]] || die "unknown emulator '$emu'"
kernel=${KERNEL:-$BUILD_DIR/guest/vmlinux}
[[ -f $kernel ]] || die "'$kernel' not found (make guest-image builds the default guest)"
# A multiboot header (its magic at a 4-aligned offset of the first 8 KiB; the VMM checks the
# rest): such a kernel gets the Linux initramfs only when INITRD asks for it.
if od -A n -t x4 -v -N 8192 "$kernel" | grep -qw 1badb002; then
	initrd=${INITRD:-}
else
	initrd=${INITRD:-$BUILD_DIR/guest/initramfs.cpio}
fi
ram=${RAM:-256M}
for f in "$dyad" "$vmm" ${initrd:+"$initrd"}; do
	[[ -f $f ]] || die "'$f' not found (make guest-image builds the default guest)"
done

args="-m $ram${initrd:+ -i /boot/guest-initrd}"
for w in ${GUEST_CMDLINE:-}; do
	args+=" -a $w"
done
args+=" /boot/guest-kernel"
iso=$BUILD_DIR/run-guest.iso
# The ISO is rebuilt every time: a changed KERNEL, INITRD, RAM or command line takes effect.
"$ROOT/tools/mkiso.sh" "$iso" "$dyad" "init=/bin/vmm -- $args" "$vmm:/bin/vmm" \
	"$kernel:/boot/guest-kernel" ${initrd:+"$initrd:/boot/guest-initrd"} >/dev/null
mib() { echo $((($(stat -c %s "$1") + (1 << 20) - 1) >> 20)); }
echo "run-guest: the VMM will load $(basename "$kernel") ($(mib "$kernel") MiB)" \
	"${initrd:+"+ $(basename "$initrd") ($(mib "$initrd") MiB) "}into $ram of guest RAM," \
	"extra command line '${GUEST_CMDLINE:-}'" >&2
case $emu in
qemu) exec "$ROOT/tools/run-qemu.sh" "$iso" ;;
bochs) exec "$ROOT/tools/run-bochs.sh" "$iso" ;;
auto) exec "$ROOT/tools/run.sh" "$iso" ;;
iso) echo "$iso" ;;
*) die "unknown emulator '$emu'" ;;
esac
