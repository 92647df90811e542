#!/usr/bin/env bash
# Builds a GRUB (BIOS) multiboot2 ISO that boots the Dyad kernel with a command line and optional modules.
# Usage: tools/mkiso.sh OUT.iso KERNEL.elf "CMDLINE" [MODULE...]
#   MODULE is FILE (its command line, the path Dyad sees, is /boot/<basename>) or FILE:/path/in/dyad
#   (e.g. build/user/init:/bin/init). Every module is copied to /boot/<basename> on the ISO.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -ge 3 ]] || die "usage: $0 OUT.iso KERNEL.elf \"CMDLINE\" [MODULE[:/path/in/dyad]...]"
out=$1 kernel=$2 cmdline=$3
shift 3
[[ -f $kernel ]] || die "kernel '$kernel' not found"

# $work/tree is the directory packed into the ISO; nothing else may be written inside it. The log and
# the unfinished ISO live beside it, never in it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tmp=$work/tree
log=$work/grub-mkrescue.log
mkdir -p "$tmp/boot/grub"
cp "$kernel" "$tmp/boot/dyad.elf"

# GRUB's script syntax gives meaning to quotes, $, ; and braces: single-quote every word so the kernel and
# modules receive the text as written. GRUB joins the words with single spaces, passes the kernel only the
# words after its path, and puts a backslash before every double quote and backslash it passes on.
quote_words() {
	local w q='' words
	read -ra words <<<"$1"
	for w in "${words[@]}"; do q+=" '$w'"; done
	printf '%s' "$q"
}
# A single quote cannot be passed through that quoting: refuse it here, outside any subshell.
for a in "$cmdline" "$@"; do
	[[ $a != *"'"* ]] || die "single quote in '$a' cannot be passed through grub.cfg"
done

# No `terminal_output serial`: GRUB stays on the VGA console, so COM1 carries only the kernel's output and
# the boot tests read nothing but Dyad from it. timeout=0 boots at once.
{
	echo "set timeout=0"
	echo "set timeout_style=hidden"
	echo "set default=0"
	echo "menuentry Dyad {"
	echo "	multiboot2 /boot/dyad.elf$(quote_words "$cmdline")"
	for m in "$@"; do
		src=${m%%:*}
		if [[ $m == *:* ]]; then seen=${m#*:}; else seen=/boot/${src##*/}; fi
		[[ -f $src ]] || die "module '$src' not found"
		# Dyad refuses to boot with a longer name (BOOT_NAME_MAX in include/dyad/bootinfo.h).
		((${#seen} <= 63)) ||
			die "module path '$seen' is ${#seen} bytes: Dyad takes at most 63 (give FILE:/shorter/path)"
		name=${src##*/}
		[[ ! -e $tmp/boot/$name ]] || die "two modules are named '$name'"
		cp "$src" "$tmp/boot/$name"
		echo "	module2 /boot/$name$(quote_words "$seen")"
	done
	echo "}"
} >"$tmp/boot/grub/grub.cfg"

# Only the modules this grub.cfg needs, no fonts, locales or themes: an ~800 KiB ISO instead of ~9 MiB.
# The part_* modules are there because the rescue image's early config loads all of them (GRUB prints an
# error for each one missing).
# No --compress=xz: it saves ~200 KiB but costs Bochs about a second decompressing at every boot.
modules="multiboot2 normal iso9660 biosdisk part_acorn part_amiga part_apple part_bsd part_dfly part_dvh"
modules+=" part_gpt part_msdos part_plan part_sun part_sunpc"
# The ISO is written under a temporary name in $out's directory and renamed only when complete, so a
# failed or interrupted build never leaves a file that make would take as an up-to-date $out.
mkdir -p "$(dirname "$out")"
partial=$out.partial.$$
trap 'rm -rf "$work" "$partial"' EXIT
if ! grub-mkrescue --install-modules="$modules" --locales= --fonts= --themes= \
	-o "$partial" "$tmp" >"$log" 2>&1; then
	cat "$log" >&2
	die "grub-mkrescue failed; $out was not written"
fi
mv -f "$partial" "$out"
