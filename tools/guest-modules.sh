#!/usr/bin/env bash
# Copies some of a Debian kernel package's modules, with every module they depend on, into a
# module tree and indexes it with Debian's depmod (kmod), as the package's postinst would.
#
# Usage: tools/guest-modules.sh DEB RELEASE DEST MODULE...
#   DEB      the linux-image-RELEASE package (.deb)
#   DEST     the tree's root: the modules go to DEST/lib/modules/RELEASE (emptied first)
#   MODULE   module names as modprobe takes them (virtio_blk, virtio-rng, ext4, ...)
# Prints the modules' paths in load order (each after all it depends on), one per line, relative
# to DEST/lib/modules/RELEASE: the order insmod would need without modprobe.
#
# The dependencies come from depmod's own run over the whole package (a temporary tree of about
# 400 MB, a few seconds), never from a list kept by hand, so a kernel update that adds one is
# followed. A module the package lacks is an error: a guest would miss it at boot.
set -euo pipefail

die() {
	echo "guest-modules: $*" >&2
	exit 1
}
[[ $# -ge 4 ]] || die "usage: $0 DEB RELEASE DEST MODULE..."
deb=$1 release=$2 dest=$3
shift 3
[[ -f $deb ]] || die "'$deb' not found"
command -v depmod >/dev/null || [[ -x /usr/sbin/depmod ]] || die "depmod not found (install kmod)"
depmod=$(command -v depmod || echo /usr/sbin/depmod)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Debian 12 ships modules under lib/modules, later releases under usr/lib/modules; depmod -b
# wants them under lib/modules.
prefix=lib/modules/$release
[[ $(dpkg-deb -c "$deb") != *" ./usr/$prefix/kernel/"* ]] || prefix=usr/$prefix
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards "./$prefix/*" ||
	die "cannot unpack the modules of $deb"
if [[ $prefix == usr/* ]]; then
	mkdir -p "$tmp/lib"
	mv "$tmp/usr/lib/modules" "$tmp/lib/modules"
fi
all=$tmp/lib/modules/$release
[[ -d $all/kernel ]] || die "$deb has no modules for $release"
"$depmod" -b "$tmp" "$release" || die "depmod failed on $deb's modules"

# modules.dep: "kernel/path/a.ko: kernel/path/b.ko kernel/path/c.ko", the dependencies of a listed
# in the order they must be loaded in reverse (modprobe loads the last first).
declare -A path_of
while IFS=: read -r path _; do
	name=${path##*/}
	name=${name%.ko*}
	path_of[${name//-/_}]=$path
done <"$all/modules.dep"

declare -A seen
order=()
visit() { # path: appends the path's dependencies, then the path itself, once each
	local path=$1 dep deps
	[[ -z ${seen[$path]:-} ]] || return 0
	seen[$path]=1
	deps=$(grep -m1 "^$path:" "$all/modules.dep" | cut -d: -f2)
	local rev=()
	for dep in $deps; do rev=("$dep" ${rev[@]+"${rev[@]}"}); done
	for dep in ${rev[@]+"${rev[@]}"}; do visit "$dep"; done
	order+=("$path")
}
for m in "$@"; do
	path=${path_of[${m//-/_}]:-}
	[[ -n $path ]] || die "$deb has no module '$m'"
	visit "$path"
done

tree=$dest/lib/modules/$release
rm -rf "$tree"
mkdir -p "$tree"
# Debian 13 on ships modules compressed (.ko.xz); busybox's modprobe hands a file to the kernel
# as it is, which then refuses it ("Invalid ELF header magic"): they go in uncompressed.
for i in "${!order[@]}"; do
	path=${order[$i]}
	mkdir -p "$tree/$(dirname "$path")"
	case $path in
	*.ko.xz) xz -dc "$all/$path" >"$tree/${path%.xz}" ;;
	*.ko.zst) zstd -dcq "$all/$path" >"$tree/${path%.zst}" ;;
	*.ko.gz) gzip -dc "$all/$path" >"$tree/${path%.gz}" ;;
	*) cp "$all/$path" "$tree/$path" ;;
	esac || die "cannot unpack $path"
	order[i]=${path%.ko*}.ko
done
# modules.builtin tells modprobe which names are built in (it succeeds on them); modules.order
# decides among aliases. Both come with the package.
cp "$all"/modules.builtin "$all"/modules.builtin.modinfo "$all"/modules.order "$tree"/ 2>/dev/null || true
"$depmod" -b "$dest" "$release" || die "depmod failed on $tree"
printf '%s\n' "${order[@]}"
