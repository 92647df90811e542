#!/usr/bin/env bash
# Builds the Debian 12 root file system the VMM's guest boots from a virtio disk, cached under OUT
# (default build/guest) next to the kernel (tools/guest-image.sh, run first: it holds the kernel
# package and OUT/release):
#   OUT/debian.ext4    an ext4 image labelled dyad-root: minbase, systemd as init, udev, procps,
#                      iproute2, kmod, and the guest kernel's virtio and ext4 modules
#
# Usage: tools/guest-rootfs.sh [OUT]
# Env:   GUEST_MIRROR=...  a mirror (URI, sources line or sources file, as mmdebstrap takes it);
#                          default: mmdebstrap's own for bookworm, with its updates and security
#
# In the image: root logs in without a password on the serial console and on hvc0; the unit
# dyad-verdict.service waits for the boot to finish (`systemctl is-system-running --wait`), prints
# "dyad-guest: system STATE after N s" and each failed unit on the console, and, when the kernel
# command line says dyad_mode=test, sends 64 MiB through the root file system to the disk and
# back (written, synced, the page cache dropped, read again) and writes the verdict to the VMM's
# debug port (0xf4, through /dev/port: the failed units plus 1 for a failed disk round trip, at
# least 1 when the system is not running) and so ends the VM.
#
# Small on purpose: the image travels as a GRUB module, read by BIOS calls. Documentation,
# manual pages, translations, udev's hardware database (names of USB and PCI products, 21 MiB
# with its index) and glibc's converters for other character sets than ASCII and UTF-8 (8 MiB)
# are never unpacked (dpkg path-exclude); apt's lists and caches are dropped.
# /usr is merged by mmdebstrap's own merged-usr hook (directory links, as debootstrap does): else
# apt satisfies init-system-helpers with usrmerge, which brings all of perl (45 MiB). The file
# system has about 100 MiB free: room for the 64 MiB round trip.
#
# Cost (the image is built from scratch on a fresh machine, so it counts in make check): dpkg
# runs under eatmydata (mmdebstrap's hook: no fsync per file), and mmdebstrap and its helpers
# run with the system's PATH (mmtarfilter, a python3 script, filters every essential package's
# files during extraction: a python3 shim earlier in PATH that takes seconds to start made that
# phase two minutes long).
#
# mmdebstrap runs in its root mode (chroot) so that mkfs.ext4 -d copies true owners: as root.
set -euo pipefail

out=${1:-build/guest}
here=$(cd "$(dirname "$0")" && pwd)
die() {
	echo "guest-rootfs: $*" >&2
	exit 1
}
[[ -d $out && -s $out/release ]] || die "$out has no kernel: run tools/guest-image.sh $out first"
out=$(cd "$out" && pwd)
release=$(cat "$out/release")
deb=$(ls "$out"/linux-image-"$release"_*.deb 2>/dev/null | head -n 1 || true)
[[ -n $deb ]] || die "$out has no linux-image-$release package: run tools/guest-image.sh $out"
[[ $(id -u) -eq 0 ]] || die "mmdebstrap's root mode needs root (the files keep their owners)"
command -v mmdebstrap >/dev/null || die "mmdebstrap not found (tools/install-deps.sh installs it)"
command -v mkfs.ext4 >/dev/null || [[ -x /sbin/mkfs.ext4 ]] || die "mkfs.ext4 not found (e2fsprogs)"
mkfs=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)

img=$out/debian.ext4
if [[ -s $img && ! $here/guest-rootfs.sh -nt $img && ! $here/guest-modules.sh -nt $img &&
	! $deb -nt $img ]]; then
	echo "guest-rootfs: $img is up to date ($(($(stat -c %s "$img") >> 20)) MiB)"
	exit 0
fi

# The modules udev and systemd load after switch_root: the initramfs's set (guest-image.sh) and
# what systemd asks for at start (autofs4, configfs, fuse, loop).
modules=(virtio_pci virtio_blk virtio_console virtio-rng ext4 crc32c_generic crc32c-intel
	autofs4 configfs fuse loop)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
start=$EPOCHSECONDS

# The kernel's modules come out of its package (guest-modules.sh: unpacking and depmod, CPU)
# while mmdebstrap mostly waits for downloads and the disk; they join the tree afterwards.
"$here/guest-modules.sh" "$deb" "$release" "$tmp/mods" "${modules[@]}" >"$tmp/modules.log" 2>&1 &
modules_pid=$!

echo "guest-rootfs: bootstrapping Debian 12 (minbase + systemd) into a directory"
PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --mode=root --variant=minbase --format=directory \
	--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
	--include=systemd,systemd-sysv,udev,procps,iproute2,kmod \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/lintian/*' \
	--dpkgopt='path-exclude=/lib/udev/hwdb.d/*' \
	--dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/gconv/*' \
	--dpkgopt='path-include=/usr/lib/x86_64-linux-gnu/gconv/gconv-modules*' \
	--dpkgopt='path-exclude=/usr/lib/udev/hwdb.d/*' \
	bookworm "$root" ${GUEST_MIRROR:+"$GUEST_MIRROR"} >"$tmp/mmdebstrap.log" 2>&1 ||
	{
		tail -n 20 "$tmp/mmdebstrap.log" >&2
		wait "$modules_pid" || true
		die "mmdebstrap failed"
	}
boot_s=$((EPOCHSECONDS - start))
if ! wait "$modules_pid"; then
	cat "$tmp/modules.log" >&2
	die "guest-modules.sh failed"
fi

# The system's own files, written into the tree before it becomes the image.
printf 'dyad-guest\n' >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdyad-guest\n' >"$root/etc/hosts"
printf 'LABEL=dyad-root\t/\text4\tdefaults,noatime\t0\t0\n' >"$root/etc/fstab"
sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow" # no password: the consoles log root in
units=$root/etc/systemd/system
mkdir -p "$units/serial-getty@.service.d" "$units/multi-user.target.wants" "$root/usr/local/sbin"
cat >"$units/serial-getty@.service.d/autologin.conf" <<'EOF'
# Root logs in on the serial console and on hvc0 without a password (a test guest).
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 - $TERM
EOF
cat >"$units/dyad-verdict.service" <<'EOF'
[Unit]
Description=Dyad guest verdict on the console and the VMM's debug port
After=multi-user.target

[Service]
# simple, not oneshot: the wait below ends only when no job is left, this one's included.
Type=simple
ExecStart=/usr/local/sbin/dyad-verdict

[Install]
WantedBy=multi-user.target
EOF
cat >"$root/usr/local/sbin/dyad-verdict" <<'EOF'
#!/bin/sh
# Waits for the boot to end, then says how it went on the console. With dyad_mode=test on the
# kernel command line it also sends 64 MiB through the root file system to the disk and back,
# and writes one byte to the VMM's debug port 0xf4, which ends the VM: the number of failed
# units plus 1 if the round trip failed, at least 1 when the system is not running.
say() { # to the journal, and to the console as a line of its own
	echo "$*"
	echo "$*" >/dev/console
}
# The round trip: a known pattern written to a file, synced, the page cache dropped, and read
# again with the md5 the image's build computed for the pattern. The root device's count of
# sectors read (field 3 of /sys/class/block/DEV/stat) must grow by the file's size: the data
# came from the disk.
disk_round_trip() {
	f=/var/tmp/dyad-disk-check bytes=@DISK_BYTES@ want=@DISK_SUM@
	dev=$(findmnt -n -o SOURCE /) || return 1
	stat=/sys/class/block/${dev#/dev/}/stat
	t0=$(cut -d' ' -f1 /proc/uptime)
	yes dyad-disk | head -c $bytes >"$f" || return 1
	sync
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo 3 >/proc/sys/vm/drop_caches
	set -- $(cat "$stat")
	r0=$3
	got=$(md5sum <"$f" | cut -d' ' -f1)
	set -- $(cat "$stat")
	r1=$3
	t2=$(cut -d' ' -f1 /proc/uptime)
	rm -f "$f"
	sync
	say "dyad-guest: disk: $bytes bytes written to $f on $dev with md5 $want, synced," \
		"caches dropped, read back with md5 $got, $(((r1 - r0) / 2048)) MiB read from $dev"
	say "dyad-guest: disk: write and sync $(echo "$t0 $t1" | awk '{ print $2 - $1 }') s," \
		"read and md5 $(echo "$t1 $t2" | awk '{ print $2 - $1 }') s"
	[ "$want" = "$got" ] && [ $((r1 - r0)) -ge $((bytes / 512)) ]
}
state=$(systemctl is-system-running --wait)
up=$(cut -d' ' -f1 /proc/uptime)
failed=$(systemctl list-units --state=failed --plain --no-legend | cut -d' ' -f1)
n=0
for u in $failed; do
	say "dyad-guest: failed unit $u"
	n=$((n + 1))
done
say "dyad-guest: system $state after $up s, $n failed units"
case " $(cat /proc/cmdline) " in
*" dyad_mode=test "*)
	if disk_round_trip; then
		say "dyad-guest: disk round trip ok"
	else
		say "dyad-guest: disk round trip FAILED"
		n=$((n + 1))
	fi
	[ "$state" = running ] || [ $n -gt 0 ] || n=1
	[ $n -le 255 ] || n=255
	printf "\\$(printf %03o $n)" | dd of=/dev/port bs=1 seek=244 count=1 status=none
	;;
esac
EOF
# The round trip's pattern and its md5, computed here once rather than in the guest under
# emulation.
disk_bytes=$((64 << 20))
disk_sum=$({ yes dyad-disk || true; } | head -c $disk_bytes | md5sum | cut -d' ' -f1)
sed -i -e "s/@DISK_BYTES@/$disk_bytes/" -e "s/@DISK_SUM@/$disk_sum/" "$root/usr/local/sbin/dyad-verdict"
chmod 755 "$root/usr/local/sbin/dyad-verdict"
ln -s ../dyad-verdict.service "$units/multi-user.target.wants/dyad-verdict.service"
# /lib is the merged link to usr/lib: the modules land in /usr/lib/modules.
cp -a "$tmp/mods/lib/." "$root/lib/"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/*.log

# The image: the tree's size, 15% more for ext4's own metadata and partly used 4 KiB blocks, and
# 96 MiB free (the 64 MiB round trip, the journal's and the system's own writes). 4 KiB blocks and an inode per 8 KiB: mke2fs's defaults for a file system this
# small (1 KiB blocks, an inode per 4 KiB) cost a third more.
used_kib=$(du -sk "$root" | cut -f1)
size_mib=$(((used_kib * 115 / 100) / 1024 + 96))
rm -f "$img.tmp"
"$mkfs" -q -t ext4 -L dyad-root -b 4096 -i 8192 -m 0 -J size=4 -E root_owner=0:0 -d "$root" \
	"$img.tmp" "${size_mib}M" >/dev/null ||
	die "mkfs.ext4 failed"
mv "$img.tmp" "$img"
echo "guest-rootfs: $img: $size_mib MiB (tree $((used_kib >> 10)) MiB)," \
	"built in $((EPOCHSECONDS - start)) s (mmdebstrap $boot_s s)"
