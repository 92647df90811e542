#!/usr/bin/env bash
# Fetches other stock kernels for the VMM's guest: Debian's linux-image-amd64 of other releases,
# each with the busybox initramfs and guest test script of tools/guest-image.sh, under OUT/NAME
# (bzImage, vmlinux, initramfs.cpio, release).
#
# Usage: tools/guest-kernels.sh OUT NAME...
#   NAME  trixie              Debian 13 (Linux 6.12)
#         bookworm-backports  Debian 12's backported kernel
#         sid                 Debian's unstable kernel (the newest Debian builds)
#
# The archive is the one the host's apt sources name for its own release (DEBIAN_MIRROR=URL
# chooses another). Each release's package lists are fetched with apt into OUT/apt/NAME, apart
# from the host's own (nothing is installed and the host's sources are not touched); the
# kernel's packages are downloaded into OUT/debs and reused while the release still points at
# them. Exit status 0 when every kernel is ready, 3 when the archive could not be reached and
# some kernel is not already there (a machine without network), 1 on any other failure.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 2 ]] || die "usage: $0 OUT NAME..."
out=$1
shift
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -s $keyring ]] || die "no $keyring (install debian-archive-keyring)"

# The host's Debian archive: the repository of its main release's package index (not the
# security or updates suites). The $(...) are apt's format fields.
# shellcheck disable=SC2016
mirror=${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' \
	2>/dev/null | awk '$2 !~ /-/ { print $1; exit }')}
[[ -n $mirror ]] || die "the host's apt sources name no Debian archive (set DEBIAN_MIRROR=URL)"
mirror=${mirror%/}

suite_of() {
	case $1 in
	trixie | bookworm-backports | sid) echo "$1" ;;
	*) die "unknown kernel '$1' (trixie, bookworm-backports or sid)" ;;
	esac
}

status=0
for name in "$@"; do
	suite=$(suite_of "$name")
	dir=$out/apt/$name
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	echo "deb [signed-by=$keyring] $mirror $suite main" >"$dir/sources.list"
	apt_opts=(-q -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
	if ! timeout 300 apt-get "${apt_opts[@]}" update >"$dir/update.log" 2>&1 ||
		grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$dir/update.log"; then
		if [[ -s $out/$name/vmlinux && -s $out/$name/initramfs.cpio ]]; then
			echo "guest-kernels: $name: the archive cannot be reached; using the kernel fetched before"
			continue
		fi
		echo "guest-kernels: $name: the archive cannot be reached ($(grep -m1 -E '^(W|E):' "$dir/update.log" || echo 'apt-get update failed'))"
		status=3
		continue
	fi
	# linux-image-amd64 depends on linux-image-RELEASE; from Linux 7 on Debian splits that into
	# linux-base-, linux-binary- and linux-modules-RELEASE, which it depends on in turn.
	pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	[[ -n $pkg ]] || { echo "guest-kernels: $name: no linux-image-amd64 in $suite" >&2; status=1; continue; }
	release=${pkg#linux-image-}
	pkgs=("$pkg")
	while read -r p; do pkgs+=("$p"); done < <(apt-cache "${apt_opts[@]}" depends "$pkg" |
		sed -n "s/^ *Depends: \(linux-\(base\|binary\|modules\)-$release\)\$/\1/p")
	debs=()
	for p in "${pkgs[@]}"; do
		f=$(ls "$out/debs/${p}"_*.deb 2>/dev/null | head -n 1 || true)
		if [[ -z $f ]]; then
			echo "guest-kernels: $name: downloading $p"
			(cd "$out/debs" && apt-get "${apt_opts[@]}" download "$p" >/dev/null 2>&1) ||
				{ echo "guest-kernels: $name: apt-get download $p failed" >&2; status=1; continue 2; }
			f=$(ls "$out/debs/${p}"_*.deb | head -n 1)
		fi
		debs+=("$f")
	done
	KERNEL_DEBS="${debs[*]}" "$ROOT/tools/guest-image.sh" "$out/$name" ||
		{ echo "guest-kernels: $name: guest-image.sh failed" >&2; status=1; }
done
exit $status
