#!/usr/bin/env bash
# Installs the Debian 12 packages Dyad's build and tests need, if any is missing.
# Usage: tools/install-deps.sh
# Silent when all are present. When some are missing: installs them as root, else prints the apt-get
# command to run and fails.
set -euo pipefail

# bochs depends on "bochs-wx | bochs-gui"; naming bochs-term satisfies that with the small curses plugin
# instead of wxWidgets. The rfb display the scripts use is built into the bochs package itself.
# linux-libc-dev gives <asm/bootparam.h> for booting Linux guests; busybox-static, xz-utils and lz4
# (the cloud flavour's payload) build the guest images (tools/guest-image.sh); kmod's depmod indexes
# the guest kernel's modules; mmdebstrap and e2fsprogs build the Debian root filesystem
# (tools/guest-rootfs.sh), with gpg and the archive keyring, which mmdebstrap only recommends;
# gdb serves make debug and its tool test.
pkgs=(build-essential nasm grub-pc-bin grub-common xorriso mtools qemu-system-x86 bochs bochs-term
	bochsbios vgabios libcmocka-dev musl-tools valgrind linux-libc-dev
	busybox-static xz-utils lz4 kmod mmdebstrap gpg debian-archive-keyring e2fsprogs gdb)

missing=()
for p in "${pkgs[@]}"; do
	# "install ok installed" is the only state in which the package's files are all in place.
	if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
		missing+=("$p")
	fi
done
[[ ${#missing[@]} -gt 0 ]] || exit 0

install=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "run: sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive ${install[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive "${install[@]}"
