#!/usr/bin/env bash
# A disk keeps what a Dyad process wrote across power-off: boot 1 writes a 4 MiB pattern and its
# checksum to /dev/vda and fsyncs (/bin/blk persist-write SEED), QEMU ends; boot 2 with the same
# image reads both back (/bin/blk persist-check SEED). A third boot with another seed must fail
# the check, so that the check cannot pass on its own. Then the bad input of DISK=: a missing
# file and a read-only image (the disk is read-only to Dyad; opening it to write is EACCES, so
# persist-write fails with a clear line, not a panic).
set -uo pipefail
# shellcheck source=tests/tools/tap.sh
. "$(dirname "$0")/tap.sh"

tool_test_start
user_iso_modules || exit 1
seed=$((RANDOM * 32768 + RANDOM + 1))
for mode in write check; do
	tools/mkiso.sh "$tmp/$mode.iso" "$kernel" "init=/bin/blk -- persist-$mode $seed" \
		"${modules[@]}" >/dev/null || exit 1
done
tools/mkiso.sh "$tmp/other.iso" "$kernel" "init=/bin/blk -- persist-check $((seed + 1))" \
	"${modules[@]}" >/dev/null || exit 1
truncate -s 16M "$tmp/disk.img"

# boot ISO: QEMU with the image as DISK; the serial text in $tmp/out, the status in $status.
boot() {
	status=0
	DISK=$tmp/disk.img CPUS=1 timeout -k 5 120 tools/run-qemu.sh "$tmp/$1.iso" </dev/null \
		>"$tmp/out" 2>&1 || status=$?
	tr -d '\r' <"$tmp/out" >"$tmp/$1.log"
}

boot write
if [[ $status -eq 0 ]] && grep -q "^blk: persist-write: seed $seed, .*: written and flushed$" "$tmp/write.log"; then
	ok blk_persist_boot1_writes
else
	not_ok blk_persist_boot1_writes "status $status: $(grep -E '^(blk|init|virtio)' "$tmp/write.log")"
fi
boot check
if [[ $status -eq 0 ]] && grep -q "^blk: persist-check: seed $seed, .*: the pattern survived$" "$tmp/check.log"; then
	ok blk_persist_boot2_reads_it_back
else
	not_ok blk_persist_boot2_reads_it_back "status $status: $(grep -E '^(blk|init|virtio)' "$tmp/check.log")"
fi
boot other
if [[ $status -eq 1 ]] && grep -q "^blk: persist-check: seed $((seed + 1)), .*: MISMATCH$" "$tmp/other.log"; then
	ok blk_persist_check_fails_for_another_seed
else
	not_ok blk_persist_check_fails_for_another_seed "status $status: $(grep -E '^(blk|init)' "$tmp/other.log")"
fi

# A read-only image: Dyad says so at boot and the writer fails cleanly.
chmod a-w "$tmp/disk.img"
boot write
if [[ $status -eq 1 ]] && grep -q "^virtio-blk: vda: .*read-only" "$tmp/write.log" &&
	grep -q "^blk: persist-write: cannot open /dev/vda (error 13)$" "$tmp/write.log" &&
	! grep -qi panic "$tmp/write.log"; then
	ok blk_read_only_image_is_refused_for_writing
else
	not_ok blk_read_only_image_is_refused_for_writing "status $status: $(grep -E '^(blk|init|virtio)' "$tmp/write.log")"
fi

# A missing image is refused before anything boots.
status=0
out=$(DISK=$tmp/none.img tools/run-qemu.sh "$tmp/write.iso" </dev/null 2>&1) || status=$?
if [[ $status -eq 1 && $out == *"DISK='$tmp/none.img' is not a file"* ]]; then
	ok blk_missing_disk_is_refused
else
	not_ok blk_missing_disk_is_refused "status $status: $out"
fi
