#!/usr/bin/env bash
# QEMU's Q35 chipset (PCI Express, an ACPI MCFG) with 4 CPUs, a scratch disk and the edu test
# device: the ktests and /bin/blk pass, none of the PCI, MSI, SMP or disk ones skipped, and Dyad
# configures PCI by ECAM. The default i440FX PC (mechanism 1) is what `make check` boots
# otherwise. About 16 s.
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start
user_iso_modules || exit 1
tools/mkiso.sh "$tmp/q35.iso" "$kernel" "ktest init=/bin/init -- /bin/blk" "${modules[@]}" \
	>/dev/null || exit 1
truncate -s 16M "$tmp/disk.img"

name=q35_ecam_msi_and_disk_on_4_cpus
log=$BUILD_DIR/q35/boot-test-qemu.log
if CPUS=4 QEMU_MACHINE=q35 QEMU_DEVICES=edu DISK=$tmp/disk.img BUILD=${BUILD:-build}/q35 \
	BOOT_TEST_TIMEOUT=400 BOOT_TEST_EXPECT='^user: [1-9][0-9]* passed, 0 failed, [0-9]+ skipped$' \
	BOOT_TEST_NO_SKIP='no virtio disk|no MSI test device|no ACPI MCFG|one CPU online' \
	tools/boot-test.sh qemu "$tmp/q35.iso" >"$tmp/out" 2>&1 &&
	grep -q '^pci: [0-9]* functions (ECAM)' "$log"; then
	ok "$name"
else
	not_ok "$name" "$(tail -n 2 "$tmp/out") (log: $log)"
fi
