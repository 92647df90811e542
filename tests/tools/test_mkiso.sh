#!/usr/bin/env bash
# tools/mkiso.sh: what the ISO holds, and what a failed build leaves behind.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start

# grub-mkrescue's log once lay in the packed tree: every ISO carried a stray /log.
if ! tools/mkiso.sh "$tmp/a.iso" "$kernel" "init=/bin/sysconf" tests/user/motd.txt:/etc/motd \
	>"$tmp/out" 2>&1; then
	not_ok mkiso_builds_an_iso "$(cat "$tmp/out")"
else
	files=$(xorriso -indev "$tmp/a.iso" -find / 2>/dev/null)
	if grep -qx "'/log'" <<<"$files"; then
		not_ok mkiso_iso_holds_no_log_file "the ISO has /log"
	elif ! grep -qx "'/boot/dyad.elf'" <<<"$files"; then
		not_ok mkiso_iso_holds_no_log_file "xorriso listed no /boot/dyad.elf: $files"
	else
		ok mkiso_iso_holds_no_log_file
	fi
	cfg=$(iso_grub_cfg "$tmp/a.iso")
	if grep -q "multiboot2 /boot/dyad.elf 'init=/bin/sysconf'" <<<"$cfg" &&
		grep -q "module2 /boot/motd.txt '/etc/motd'" <<<"$cfg"; then
		ok mkiso_grub_cfg_has_the_command_line_and_modules
	else
		not_ok mkiso_grub_cfg_has_the_command_line_and_modules "grub.cfg: $cfg"
	fi
fi

# A grub-mkrescue that writes half an ISO and fails: mkiso must fail and leave no output, and
# no temporary file either.
mkdir "$tmp/bin" "$tmp/out.d"
cat >"$tmp/bin/grub-mkrescue" <<'FAKE'
#!/bin/sh
while [ $# -gt 0 ]; do
	[ "$1" = -o ] && printf 'half an ISO' >"$2"
	shift
done
echo "grub-mkrescue: error: forced failure" >&2
exit 1
FAKE
chmod +x "$tmp/bin/grub-mkrescue"
status=0
PATH=$tmp/bin:$PATH tools/mkiso.sh "$tmp/out.d/b.iso" "$kernel" "" >"$tmp/out" 2>&1 || status=$?
left=$(ls -A "$tmp/out.d")
if [[ $status -eq 0 ]]; then
	not_ok mkiso_failure_leaves_no_output "mkiso.sh succeeded though grub-mkrescue failed"
elif [[ -n $left ]]; then
	not_ok mkiso_failure_leaves_no_output "left behind: $left"
elif ! grep -q "forced failure" "$tmp/out"; then
	not_ok mkiso_failure_leaves_no_output "grub-mkrescue's log was not shown: $(cat "$tmp/out")"
else
	ok mkiso_failure_leaves_no_output
fi

# Dyad refuses a module name of 64 bytes or more at boot; mkiso says so before building.
long=/$(printf 'n%.0s' $(seq 63))
status=0
tools/mkiso.sh "$tmp/c.iso" "$kernel" "" "tests/user/motd.txt:$long" >"$tmp/out" 2>&1 || status=$?
if [[ $status -ne 1 ]] || ! grep -q "module path '$long' is 64 bytes: Dyad takes at most 63" "$tmp/out"; then
	not_ok mkiso_refuses_a_module_name_dyad_would_refuse "status $status: $(cat "$tmp/out")"
elif [[ -e $tmp/c.iso ]]; then
	not_ok mkiso_refuses_a_module_name_dyad_would_refuse "an ISO was written"
elif ! tools/mkiso.sh "$tmp/c.iso" "$kernel" "" "tests/user/motd.txt:${long:0:63}" >"$tmp/out" 2>&1; then
	not_ok mkiso_refuses_a_module_name_dyad_would_refuse "63 bytes refused: $(cat "$tmp/out")"
else
	ok mkiso_refuses_a_module_name_dyad_would_refuse
fi
