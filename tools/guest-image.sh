#!/usr/bin/env bash
# Builds the Linux guest images the VMM boots, cached under OUT (default build/guest):
#   OUT/bzImage        Debian's stock kernel, as packaged
#   OUT/vmlinux        the uncompressed ELF kernel inside it (the fast path: no guest-side xz)
#   OUT/initramfs.cpio busybox-static with /init (see guest-init.sh below) and the kernel's
#                      virtio and ext4 modules (tools/guest-modules.sh), loaded by /init
#   OUT/release        the kernel release the package ships (what `uname -r` must say)
#
# Usage: [FLAVOUR=cloud|rt] tools/guest-image.sh [OUT]
#
# The kernel package is resolved from linux-image-amd64's dependency at every run (the security
# archive moves); a package already downloaded is reused. Nothing is installed on the host.
# FLAVOUR picks another of Debian's amd64 flavours (linux-image-FLAVOUR-amd64): give each its
# own OUT. KERNEL_DEBS='A.deb [B.deb...]' takes the kernel from packages already downloaded
# instead (another Debian release's, tools/guest-kernels.sh): the image is boot/vmlinuz-RELEASE or,
# where the package is split, usr/lib/modules/RELEASE/vmlinuz; the modules under lib/modules or
# usr/lib/modules, in the same package or another of the list.
set -euo pipefail

out=${1:-build/guest}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

die() {
	echo "guest-image: $*" >&2
	exit 1
}

# ---- the kernel ---------------------------------------------------------------------------
flavour=${FLAVOUR:-}
[[ $flavour =~ ^(|cloud|rt)$ ]] || die "FLAVOUR must be empty, cloud or rt, not '$flavour'"
# deb: the package with the kernel image at ./$image; moddeb: the one with the modules;
# builtindeb: the one with ./$moddir/modules.builtin (the list of what is built in).
if [[ -n ${KERNEL_DEBS+set} ]]; then
	read -r -d "" -a debs <<<"$KERNEL_DEBS" || true # words on one or more lines
	((${#debs[@]})) || die "KERNEL_DEBS is set but names no package"
	deb='' moddeb='' builtindeb=''
	for f in "${debs[@]}"; do
		[[ -f $f ]] || die "KERNEL_DEBS: '$f' not found"
		list=$(dpkg-deb -c "$f" | awk '{ print $NF }' | sed 's|^\./||') || die "$f is not a .deb"
		img=$(grep -m1 -E '^(boot/vmlinuz-[^/]+|usr/lib/modules/[^/]+/vmlinuz)$' <<<"$list" || true)
		[[ -z $img || -n $deb ]] || deb=$f image=$img
		mod=$(grep -m1 -E '^(usr/)?lib/modules/[^/]+/modules\.builtin$' <<<"$list" || true)
		[[ -z $mod || -n $builtindeb ]] || builtindeb=$f moddir=${mod%/modules.builtin}
		grep -qE '^(usr/)?lib/modules/[^/]+/kernel/' <<<"$list" && [[ -z $moddeb ]] && moddeb=$f
	done
	[[ -n $deb ]] || die "no kernel image in KERNEL_DEBS ($KERNEL_DEBS)"
	[[ -n $builtindeb ]] || die "no modules.builtin in KERNEL_DEBS ($KERNEL_DEBS)"
	[[ -n $moddeb ]] || die "no modules in KERNEL_DEBS ($KERNEL_DEBS)"
	if [[ $image == boot/* ]]; then release=${image#boot/vmlinuz-}; else
		release=${image#usr/lib/modules/}
		release=${release%/vmlinuz}
	fi
	[[ ${moddir##*/} == "$release" ]] || die "$builtindeb's modules are for ${moddir##*/}, not $release"
	pkg=linux-image-$release
else
	meta=linux-image-${flavour:+$flavour-}amd64
	kernel_package() {
		apt-cache depends "$meta" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
	}
	pkg=$(kernel_package)
	# A machine whose package lists are empty or stale (a fresh image) learns them first, as root.
	if [[ -z $pkg && $(id -u) -eq 0 ]]; then
		apt-get update -q >/dev/null || die "apt-get update failed"
		pkg=$(kernel_package)
	fi
	[[ -n $pkg ]] || die "cannot resolve $meta's kernel package (run apt-get update?)"
	release=${pkg#linux-image-}

	deb=$(ls "$out"/"${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
	if [[ -z $deb ]]; then
		echo "guest-image: downloading $pkg"
		if ! (cd "$out" && apt-get download -q "$pkg" >/dev/null); then
			# The archive may have moved on since the lists were read.
			[[ $(id -u) -eq 0 ]] && apt-get update -q >/dev/null &&
				(cd "$out" && apt-get download -q "$pkg" >/dev/null) ||
				die "apt-get download $pkg failed"
		fi
		deb=$(ls "$out"/"${pkg}"_*.deb | head -n 1)
	fi
	moddeb=$deb builtindeb=$deb image=boot/vmlinuz-$release moddir=lib/modules/$release
fi

if [[ ! -s $out/bzImage || $deb -nt $out/bzImage || $(cat "$out/release" 2>/dev/null) != "$release" ]]; then
	echo "guest-image: unpacking $pkg"
	# Only the image: the initramfs takes its few modules from the package itself (below).
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$image" >"$out/bzImage.tmp" ||
		die "cannot unpack $image from $deb"
	mv "$out/bzImage.tmp" "$out/bzImage"
	rm -f "$out/vmlinux" "$out/initramfs.cpio"
	echo "$release" >"$out/release"
fi

# ---- the uncompressed kernel ----------------------------------------------------------------
# The boot protocol (2.08+) says where the compressed payload lies: setup_header.payload_offset
# (0x248) and payload_length (0x24c), counted from the start of the protected-mode code, which
# begins after (setup_sects + 1) sectors. Debian 12 builds its amd64 and rt flavours with
# KERNEL_XZ, cloud with KERNEL_LZ4, later releases with KERNEL_ZSTD; the kernel's build appends the
# 4-byte decompressed size to every payload, which xz's single-stream mode ignores and lz4, zstd
# and gzip need cut off.
le32() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
u8() { od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '; }
if [[ ! -s $out/vmlinux || $out/bzImage -nt $out/vmlinux ]]; then
	[[ $(od -An -c -j 0x202 -N 4 "$out/bzImage" | tr -d ' ') == HdrS ]] ||
		die "$out/bzImage is not a bzImage"
	sects=$(u8 "$out/bzImage" $((0x1f1)))
	((sects == 0)) && sects=4
	poff=$(le32 "$out/bzImage" $((0x248)))
	plen=$(le32 "$out/bzImage" $((0x24c)))
	start=$(((sects + 1) * 512 + poff))
	magic=$(od -An -tx1 -j "$start" -N 6 "$out/bzImage" | tr -d ' ')
	case $magic in
	fd377a585a00) unpack=(xz -dc --single-stream) ;;
	02214c18*) unpack=(lz4 -dc) plen=$((plen - 4)) ;;
	28b52ffd*) unpack=(zstd -dcq) plen=$((plen - 4)) ;;
	1f8b08*) unpack=(gzip -dc) plen=$((plen - 4)) ;;
	*) die "the payload at $start is not xz, lz4, zstd or gzip (magic $magic)" ;;
	esac
	echo "guest-image: decompressing the bzImage's payload into vmlinux ($magic, a few seconds)"
	dd if="$out/bzImage" iflag=skip_bytes,count_bytes skip="$start" count="$plen" status=none |
		"${unpack[@]}" >"$out/vmlinux.tmp" || die "${unpack[0]} could not decompress the payload"
	[[ $(od -An -c -N 4 "$out/vmlinux.tmp" | tr -d ' ') == 177ELF ]] ||
		die "the decompressed payload is not an ELF file"
	mv "$out/vmlinux.tmp" "$out/vmlinux"
fi

# ---- the initramfs --------------------------------------------------------------------------
# busybox-static installs /bin/busybox; the dynamic busybox package would not run in the guest.
bb=/bin/busybox
[[ -x $bb ]] && ! readelf -l "$bb" | grep -q 'program interpreter' ||
	die "$bb is not busybox-static (install busybox-static)"
init_src=$here/../user/vmm/guest-init.sh
# The modules /init loads, with their dependencies (guest-modules.sh): the kernel builds virtio's
# PCI transport, its block, console and entropy drivers and ext4 as modules. crc32c is what ext4's
# metadata checksums ask the crypto API for (the SSE4.2 one is used where the CPU has it). A
# flavour that builds one in (cloud: ext4, crc32c_generic) leaves it out: modules.builtin says.
GUEST_MODULES=(virtio_pci virtio_blk virtio_console virtio-rng ext4 crc32c_generic crc32c-intel)

# A 64 MiB buffer the test script writes and checksums in the guest; its sum is computed here.
BUF_BYTES=$((64 << 20))
stale() { # target sources...: whether target is missing or older than any source
	local t=$1 f
	shift
	[[ -s $t ]] || return 0
	for f in "$@"; do [[ $f -nt $t ]] && return 0; done
	return 1
}
if stale "$out/initramfs.cpio" "$here/guest-image.sh" "$here/guest-modules.sh" "$init_src" "$bb" "$deb" "$moddeb" "$builtindeb"; then
	echo "guest-image: building the busybox initramfs"
	bufsum=$({ yes dyad || true; } | head -c $BUF_BYTES | md5sum | cut -d" " -f1)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	cp "$bb" "$tmp/busybox"
	sed -e "s/@RELEASE@/$release/" -e "s/@BUFSUM@/$bufsum/" -e "s/@BUF_BYTES@/$BUF_BYTES/" \
		-e "s/@YEAR@/$(date -u +%Y)/g" \
		"$init_src" >"$tmp/init"
	builtin=$(dpkg-deb --fsys-tarfile "$builtindeb" | tar -xO "./$moddir/modules.builtin") ||
		die "$builtindeb has no modules.builtin"
	shipped=$(dpkg-deb -c "$moddeb" | awk '{ print $NF }' | grep '/kernel/.*\.ko' || true)
	mods=()
	for m in "${GUEST_MODULES[@]}"; do
		re="/${m//[-_]/[-_]}\.ko"
		grep -q "$re\$" <<<"$builtin" && continue
		# From Linux 6.14 on CRC32C is a library, neither module exists: ext4 needs neither.
		if [[ $m == crc32c* ]] && ! grep -q "$re\(\.[gx]z\|\.zst\)\?\$" <<<"$shipped"; then
			continue
		fi
		mods+=("$m")
	done
	mkdir -p "$tmp/mods/lib/modules"
	if ((${#mods[@]})); then
		"$here/guest-modules.sh" "$moddeb" "$release" "$tmp/mods" "${mods[@]}" >/dev/null
	fi
	printf '%s\n' ${mods[@]+"${mods[@]}"} >"$tmp/modules"

	# cpio "newc": a 110-byte ASCII header (magic and 13 eight-digit hex fields), the name with
	# its NUL, padding to 4 bytes, the data, padding to 4 bytes; "TRAILER!!!" ends the archive.
	# Written here so that device nodes need no root (mknod) on the build machine.
	ino=1
	entry() { # name mode(octal) major minor [file|link-target]
		local name=$1 mode=$2 maj=$3 min=$4 src=${5:-} size=0 npad dpad
		if ((mode >> 12 == 8)); then size=$(stat -c %s "$src"); fi
		if ((mode >> 12 == 10)); then size=${#src}; fi
		printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
			$ino $mode 0 0 1 0 "$size" 0 0 "$maj" "$min" $((${#name} + 1)) 0
		printf '%s\0' "$name"
		npad=$(((4 - (110 + ${#name} + 1) % 4) % 4))
		head -c $npad /dev/zero
		if ((mode >> 12 == 8)); then cat "$src"; fi
		if ((mode >> 12 == 10)); then printf '%s' "$src"; fi
		dpad=$(((4 - size % 4) % 4))
		head -c $dpad /dev/zero
		ino=$((ino + 1))
	}
	{
		for d in bin sbin dev proc sys tmp etc usr usr/bin usr/sbin lib mnt; do
			entry "$d" $((040755)) 0 0
		done
		# The module tree, parents before children (find's order).
		while IFS= read -r p; do
			if [[ -d $tmp/mods/lib/$p ]]; then
				entry "lib/$p" $((040755)) 0 0
			else
				entry "lib/$p" $((0100644)) 0 0 "$tmp/mods/lib/$p"
			fi
		done < <(cd "$tmp/mods/lib" && find modules -mindepth 0 | LC_ALL=C sort)
		entry etc/modules $((0100644)) 0 0 "$tmp/modules"
		entry dev/console $((020600)) 5 1
		entry dev/null $((020666)) 1 3
		entry dev/port $((020600)) 1 4
		entry bin/busybox $((0100755)) 0 0 "$tmp/busybox"
		entry bin/sh $((0120777)) 0 0 busybox
		entry init $((0100755)) 0 0 "$tmp/init"
		printf '%s\n' "$release" >"$tmp/release"
		entry etc/release $((0100644)) 0 0 "$tmp/release"
		entry TRAILER!!! 0 0 0
	} >"$out/initramfs.cpio.tmp"
	mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
fi
echo "guest-image: $release: $(stat -c %s "$out/bzImage") B bzImage, $(stat -c %s "$out/vmlinux") B vmlinux, $(stat -c %s "$out/initramfs.cpio") B initramfs"
