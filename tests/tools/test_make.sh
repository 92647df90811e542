#!/usr/bin/env bash
# First use through make: the run ISO follows CMDLINE, carries the user programs, takes extra
# modules in FILE:/path form; make help, the compilation database and the licence.
# It rebuilds build/dyad.iso (the run ISO) and leaves it built with an empty CMDLINE.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

cd "$ROOT" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
iso=$BUILD_DIR/dyad.iso

# make iso, reporting whether the ISO was (re)built; its output goes to $tmp/make.out.
built() { submake iso "$@" >"$tmp/make.out" 2>&1 && grep -q 'tools/mkiso.sh' "$tmp/make.out"; }

name=make_iso_follows_cmdline
if ! submake iso CMDLINE=ktest >"$tmp/make.out" 2>&1; then
	not_ok $name "make iso CMDLINE=ktest failed: $(tail -3 "$tmp/make.out")"
elif built CMDLINE=ktest; then
	not_ok $name "the ISO was rebuilt although CMDLINE did not change"
elif ! built CMDLINE=init=/bin/sysconf; then
	not_ok $name "a new CMDLINE did not rebuild the ISO: $(tail -3 "$tmp/make.out")"
elif ! iso_grub_cfg "$iso" | grep -q "multiboot2 /boot/dyad.elf 'init=/bin/sysconf'"; then
	not_ok $name "grub.cfg lacks the new command line: $(iso_grub_cfg "$iso")"
else
	ok $name
fi

cfg=$(iso_grub_cfg "$iso")
missing=
for p in init sysconf nop; do
	grep -q "module2 /boot/$p '/bin/$p'" <<<"$cfg" || missing+=" /bin/$p"
done
if [[ -z $missing ]]; then
	ok make_run_iso_ships_the_user_programs
else
	not_ok make_run_iso_ships_the_user_programs "missing:$missing"
fi

echo hello >"$tmp/hello.txt"
name=make_iso_modules_take_file_colon_path
if ! submake iso ISO_MODULES="$tmp/hello.txt:/etc/hello" >"$tmp/make.out" 2>&1; then
	not_ok $name "make failed: $(tail -3 "$tmp/make.out")"
elif ! iso_grub_cfg "$iso" | grep -q "module2 /boot/hello.txt '/etc/hello'"; then
	not_ok $name "grub.cfg lacks the module: $(iso_grub_cfg "$iso")"
else
	ok $name
fi
submake iso CMDLINE= >/dev/null 2>&1 || echo "# could not rebuild the run ISO with an empty CMDLINE"

help=$(submake help 2>&1)
missing=
for w in "make run " run-qemu run-bochs "make run-dyad " run-dyad-qemu run-dyad-bochs RAM= \
	GUEST_CMDLINE= KERNEL= INITRD= RUN_PATH= "make check " "make unit " check-tools "make bench " \
	bench-user "make debug " "make iso " "make clean " compile_commands.json CMDLINE= \
	ISO_MODULES= DEBUG=1 BUILD= V=1 PMAP_SEED "make run-guest " "make vmm-e2e " vmm-e2e-bochs \
	"Linux guests"; do
	[[ $help == *"$w"* ]] || missing+=" '$w'"
done
if [[ -z $missing ]]; then ok make_help_lists_targets_and_variables; else
	not_ok make_help_lists_targets_and_variables "missing:$missing"
fi

# The guest RAM limits live in tools/lib.sh; make help and the README state them.
name=ram_limits_in_help_and_readme_match_the_runner
# shellcheck source=tools/lib.sh
limits=$(. "$ROOT/tools/lib.sh" && echo "from $(mib_text $GUEST_RAM_MIN_MIB) to $(mib_text $GUEST_RAM_MAX_MIB)")
help_limits=$(sed -n 's/.*RAM=256M .*guest RAM, \(from [0-9]*[MG] to [0-9]*[MG]\).*/\1/p' <<<"$help")
readme_limits=$(sed -n 's/.*`RAM=512M` | guest RAM.*, \(from [0-9]*[MG] to [0-9]*[MG]\).*/\1/p' "$ROOT/README.md")
if [[ $help_limits != "$limits" || $readme_limits != "$limits" ]]; then
	not_ok $name "lib.sh: '$limits', make help: '$help_limits', README: '$readme_limits'"
else
	ok "$name # $limits"
fi

name=compile_commands_cover_kernel_host_and_user_builds
if ! submake compile_commands.json >"$tmp/make.out" 2>&1; then
	not_ok $name "make compile_commands.json failed: $(tail -3 "$tmp/make.out")"
else
	db=$(<compile_commands.json)
	why=
	grep -q '"file": "kern/main.c"' <<<"$db" || why+=" no kern/main.c;"
	grep -A1 '"file": "kern/main.c"' <<<"$db" | grep -q -- '-mcmodel=kernel' ||
		why+=" kern/main.c without the kernel flags;"
	grep -A1 '"file": "tests/unit/test_buddy.c"' <<<"$db" | grep -q -- '-fsanitize=address' ||
		why+=" tests/unit/test_buddy.c without the host-test flags;"
	grep -A1 '"file": "tests/user/init.c"' <<<"$db" | grep -q '"musl-gcc ' ||
		why+=" tests/user/init.c not built with musl-gcc;"
	if command -v python3 >/dev/null && ! python3 -m json.tool compile_commands.json >/dev/null; then
		why+=" not valid JSON;"
	fi
	if [[ -z $why ]]; then ok $name; else not_ok $name "${why%;}"; fi
fi

name=license_is_mit_like_every_spdx_header
# The header is on a source file's first line.
others=$(git ls-files -z '*.c' '*.h' '*.asm' | xargs -0 head -q -n 1 | grep SPDX |
	grep -v 'SPDX-License-Identifier: MIT\( \*/\)\?$' || true)
if [[ ! -f LICENSE ]] || ! head -1 LICENSE | grep -qx 'MIT License'; then
	not_ok $name "LICENSE is missing or not the MIT licence"
elif [[ -n $others ]]; then
	not_ok $name "headers naming another licence: $others"
else
	ok $name
fi
