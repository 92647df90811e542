#!/usr/bin/env bash
# End-to-end tests of the VMM: Dyad boots with the VMM as its first process, under QEMU TCG with
# `-cpu max` (SVM with nested paging) or KVM where lib.sh finds nested VMX, or with
# VMM_E2E_EMU=bochs under Bochs (VMX with EPT).
# Usage: tests/vmm/e2e.sh KERNEL_ELF VMM GUEST_DIR BAD_GUEST CASE...
#   CASE linux-vmlinux  Debian's vmlinux + the busybox initramfs running the guest test script,
#                       with a guest command line padded past 1.5 KiB that must arrive whole
#   CASE linux-bzimage  the same with the stock bzImage
#   CASE linux-cloud, linux-rt  the vmlinux of Debian's cloud or rt flavour with its initramfs,
#                       from GUEST_DIR-cloud or GUEST_DIR-rt (FLAVOUR=... tools/guest-image.sh);
#                       the cloud case ends with `reboot`, which must reach the ACPI reset register
#   CASE linux-cloud-pit  the cloud flavour with acpi=off: no local APIC for it (no MP-table
#                       parser), so its timer is the PIT through the 8259, ExtINT on LINT0
#   CASE linux-6g       the vmlinux in a 6 GiB guest (3 GiB below the 32-bit hole, 3 GiB above
#                       4 GiB) on an 8 GiB emulator: MemTotal and 1 GiB pages; then with -p 32,
#                       which must be refused
#   CASE linux-smp2, linux-smp4, linux-smp8  the vmlinux with -c N (8: oversubscribed on the
#                       emulator's 4 CPUs): the guest brings up every AP
#                       (INIT-SIPI-SIPI through the x2APIC), counts N CPUs in /proc/cpuinfo and
#                       nproc, and sleeps and forks as with one; Linux's TSC sync check runs (no
#                       tsc=reliable) and tsc stays the clocksource; one sha256sum per CPU at once,
#                       pinned by taskset, equals the one-CPU sums; CPU 1 goes offline and back
#   CASE linux-virtio   the vmlinux with a virtio console (-C hvc), virtio-rng (-R) and a
#                       virtio-blk disk (-d) on a module: the guest's PCI scan finds the three
#                       functions at the ACPI host bridge; with the virtio modules in its
#                       initramfs the guest test script also reads /dev/hwrng, writes and reads
#                       /dev/vda and writes on hvc0. Then the same checks with console=hvc0;
#                       with VMM_E2E_FIGURES=1 also without the console function, and the
#                       exits per console line and per boot on hvc0 against ttyS0
#   CASE hostile-virtio a hostile virtio driver (tests/vmm/hostile_virtio.asm, built next to
#                       BAD_GUEST): the VMM refuses each broken ring with a line, marks the
#                       device for reset, and is still there for the guest's verdict
#   CASE bad-guest      the misbehaving guest (tests/vmm/bad_guest.asm)
#   CASE smp-guest, smp-guest-10s  the SMP test guest (tests/vmm/smpguest, built next to
#                       BAD_GUEST) with -c 2: INIT-SIPI-SIPI through the xAPIC page, then again
#                       through the x2APIC MSRs, each marked by the AP; a SIPI to a missing APIC
#                       ID, an INIT to itself and an illegal vector, each reported by the VMM in
#                       one line; an IPI storm both ways (2 s, or 10 s) counted on both sides;
#                       IPI latency to a running and to a halted vCPU (printed, for the figures)
#   CASE smp-inject2, smp-inject4  the SMP test guest's injection stress (smpg.inj) with -c 2 or
#                       -c 4 for INJ_SECONDS (default 10) from INJ_SEED (default: a new seed, printed):
#                       x2APIC WRMSRs in and out of STI / MOV SS shadows and with interrupts off,
#                       while IPIs, self-IPIs, TSC deadlines and NMIs come in; each exactly once
#   CASE garbage-initrd Debian's vmlinux with an initrd of garbage: the guest kernel panics, and
#                       the VMM must say so in one line and end with status 5
#   CASE hvc0-input     the busybox shell on the virtio console (-C hvc): a command typed into
#                       QEMU's serial input reaches the guest's /dev/hvc0 and its answer comes back
#   CASE chaos-guest    the chaos guest (tests/vmm/chaos, built next to BAD_GUEST) with -c 2,
#                       virtio devices and CHAOS_SEEDS (default: one fixed seed) run by vmmrun
#                       (tests/vmm/vmmrun.c) in one boot: each run must end in the guest's
#                       power-off with status 0, and free frames after it equal those before;
#                       then twice with CR3 or the stack in the 32-bit hole (status 3), twice
#                       under the fastest periodic timer (APIC, PIT: the guest must run on), and
#                       bad VMM inputs (corrupt, truncated and foreign kernels, absurd
#                       options, missing files): each one line, status 1, no frame leaked
# Prints TAP; exits non-zero if any check failed. A machine whose Dyad has no VMX/SVM gives
# `# SKIP` lines, or failures with VMM_E2E_NO_SKIP set. TEST_SUMMARY_FILE: as tools/boot-test.sh.
set -euo pipefail
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../../tools/lib.sh"

[[ $# -ge 5 ]] || die "usage: $0 KERNEL_ELF VMM GUEST_DIR BAD_GUEST CASE..."
kernel=$1 vmm=$2 guest=$3 bad=$4
shift 4
ram_mib=256
# shellcheck source=tests/vmm/boot.sh
. "$(dirname "$0")/boot.sh"
limit=${VMM_E2E_TIMEOUT:-$([[ $emu == bochs ]] && echo 900 || echo 400)}
n=0 failed=0 skipped=0
mkdir -p "$BUILD_DIR"
# 64 KiB that is neither a cpio archive nor any compressed format Linux knows.
garbage=$BUILD_DIR/vmm-e2e-garbage-initrd
head -c 65536 <(yes 'not an initramfs') >"$garbage"

# shellcheck source=tests/vmm/tap.sh
. "$(dirname "$0")/tap.sh"

# boot NAME "VMM ARGS": builds an ISO with the VMM as /bin/vmm and the images, boots it, leaves
# the serial log in $BUILD_DIR/vmm-e2e-NAME.log.
boot() {
	local name=$1 args=$2 iso=$BUILD_DIR/vmm-e2e-$emu-$1.iso log=$BUILD_DIR/vmm-e2e-$emu-$1.log
	"$(dirname "$0")/../../tools/mkiso.sh" "$iso" "$kernel" "init=/bin/vmm -- $args" \
		"$vmm:/bin/vmm" "$guest/bzImage:/boot/bzImage" "$guest/vmlinux:/boot/vmlinux" \
		"$guest/initramfs.cpio:/boot/initramfs.cpio" "$bad:/boot/bad_guest" \
		"$garbage:/boot/garbage" ${iso_extra[@]+"${iso_extra[@]}"} >/dev/null
	boot_iso "$name" "$iso" "$log" -d cpu_reset -D "$log.qemu" ${qemu_extra[@]+"${qemu_extra[@]}"}
	# The VMM's lines, and the kernel's about its end (a crash of the VMM, a panic) in CI's log too.
	grep -aE '^(vmm|init|proc|panic): ' "$log" | sed 's/^/# /' || true
	# A run with neither the VMM's nor init's last word ended early: show how.
	if ! grep -aqE '^(vmm: exit status|init: .* (exited|could not start))' "$log"; then
		echo "# $name: no end reported; the log's last lines:"
		tail -n 12 "$log" | sed 's/^/#   /'
		# QEMU's reset log (-d cpu_reset) names a triple fault of Dyad itself.
		if grep -q 'Triple fault' "$log.qemu" 2>/dev/null; then
			echo "# $name: QEMU says: triple fault (of Dyad, not of its guest)"
		fi
	fi
}

no_vm() { grep -aq '^vmm: this machine has no VMX or SVM' "$1"; }

# Harmless padding for the guest command line: dotted words are module parameters that Linux
# ignores when no module claims them (undotted ones would become init's arguments or
# environment, 32 at most). At least 1.5 KiB, so that Dyad's and the VMM's limits stay tested.
long_pad() {
	local pad='' i=0
	while ((${#pad} < 1536)); do
		i=$((i + 1))
		pad+="${pad:+ }dyad.pad$i=0123456789abcdef"
	done
	printf '%s' "$pad"
}

# linux NAME KERNEL_PATH [long]; $initrd names the initramfs in the ISO, $end how the guest ends,
# $more_words go on the guest command line (port: the verdict written to the debug port ends the
# VM at once, status 0; poweroff: status 0 through ACPI S5; reboot: status 2 through the ACPI
# reset register 0xcf9).
initrd=/boot/initramfs.cpio end=port iso_extra=() qemu_extra=() more_words='' vmm_extra=''
linux() {
	local log=$BUILD_DIR/vmm-e2e-$emu-$1.log words="dyad_mode=test dyad_ram_mib=$ram_mib$more_words" w args=''
	[[ $end == port ]] || words+=" dyad_end=$end"
	[[ ${3:-} != long ]] || words+=" $(long_pad)"
	for w in $words; do args+="-a $w "; done
	boot "$1" "$vmm_extra-m ${ram_mib}M -i $initrd $args$2"
	if no_vm "$log"; then
		skip "$1: boots Linux" "Dyad found no VMX or SVM here"
		return
	fi
	local faults
	faults=$(sed -n 's/^vmm: second-stage faults: \([0-9]*\) at 4K, \([0-9]*\) at 2M, \([0-9]*\) at 1G$/\1 \2 \3/p' "$log")
	tap "$(grep -aq '^=== dyad-guest: Linux' "$log"; echo $?)" "$1: the guest printed its banner"
	tap "$(grep -aq '^dyad-guest: PASS' "$log" && ! grep -aq '^not ok' "$log"; echo $?)" \
		"$1: the guest test script passed (release, MemTotal, CPU count, hypervisor flag, 64 MiB checksum)"
	# The guest's clock: the VMM's RTC, from Dyad's wall clock, from the emulator's RTC, which
	# follows the host's clock (UTC under QEMU, local time under Bochs).
	local year
	year=$(sed -n 's/^dyad-guest: date \([0-9]*\)-.*/\1/p' "$log" | head -n 1)
	tap "$([[ $year == "$(date -u +%Y)" || $year == "$(date +%Y)" ]]; echo $?)" \
		"$1: the guest's date says the host's year (${year:-no date line})"
	if [[ $more_words == *acpi=off* ]]; then
		# No ACPI: Linux ends poweroff in cli; hlt. The cloud flavour's verdict is its PASS line.
		tap "$(grep -aq '^dyad-guest: PASS' "$log" && grep -aq '^vmm: guest halted with interrupts off: power-off' "$log" &&
			grep -aq '^init: /bin/vmm exited with status 0$' "$log"; echo $?)" \
			"$1: without ACPI poweroff ends in HLT and the VMM ended with status 0"
	elif [[ $end == port ]]; then
		tap "$(grep -aq '^vmm: verdict 0: pass reported' "$log" && grep -aq '^init: /bin/vmm exited with status 0$' "$log"; echo $?)" \
			"$1: the verdict came through the debug port and the VMM ended with status 0"
	elif [[ $end == poweroff ]]; then
		tap "$(grep -aq '^dyad-guest: PASS' "$log" && grep -aq '^vmm: guest entered ACPI S5: power-off' "$log" &&
			grep -aq '^init: /bin/vmm exited with status 0$' "$log"; echo $?)" \
			"$1: poweroff reached ACPI S5 and the VMM ended with status 0"
	else
		# The cloud flavour has no /dev/port (CONFIG_DEVPORT off): its verdict is the PASS line.
		tap "$(grep -aq '^dyad-guest: PASS' "$log" && grep -aq '^vmm: guest reset through port 0xcf9' "$log" &&
			grep -aq '^init: /bin/vmm exited with status 2$' "$log"; echo $?)" \
			"$1: reboot reached the ACPI reset register and the VMM ended with status 2"
	fi
	tap "$(grep -aq '^ok - sleep 2 ends' "$log" && grep -aq '^ok - 20 processes forked' "$log"; echo $?)" \
		"$1: sleep 2 ended (timed by the RTC) and fork works"
	if [[ $more_words == *acpi=off* ]]; then
		tap "$(grep -aq 'No local APIC present' "$log" && grep -aEq '^vmm: I/O APIC messages 0 .*PIT interrupts [1-9]' "$log"; echo $?)" \
			"$1: with no APIC known to the guest, the PIT's interrupts came through the 8259"
	else
		tap "$(grep -aq 'x2apic enabled' "$log" && grep -aq 'IOAPIC\[0\]: apic_id' "$log"; echo $?)" \
			"$1: the guest found its I/O APIC in the MADT and runs its local APIC in x2APIC mode"
	fi
	# A clean boot: no MSR the VMM advertises but refuses, no warning with a stack dump, and
	# every line of the VMM's own on a line of its own.
	tap "$(! grep -aqE 'unchecked MSR access|Call Trace' "$log"; echo $?)" \
		"$1: no 'unchecked MSR access' and no 'Call Trace' in the guest's boot$(grep -am1 -E 'unchecked MSR access|Call Trace' "$log" | sed 's/^/ (saw: /; s/$/)/')"
	tap "$(! grep -aqE '[^[:space:]]vmm: ' "$log"; echo $?)" \
		"$1: the VMM's lines start on a fresh line$(grep -am1 -E '[^[:space:]]vmm: ' "$log" | sed 's/^/ (saw: /; s/$/)/')"
	tap "$(grep -aEq '^vmm: guest RAM [0-9]+ MiB in [0-9]+ x 1G \+ [0-9]+ x 2M \+ 0 x 4K' "$log"; echo $?)" \
		"$1: guest RAM in 2M/1G pages only"
	tap "$([[ -n $faults ]] && (( ${faults// /+} < 1000 )); echo $?)" \
		"$1: fewer than 1000 second-stage faults (${faults:-none reported}: 4K 2M 1G)"
	[[ ${3:-} == long ]] || return 0
	# The guest's /proc/cmdline: the VMM's default line, then the -a words in order, then on
	# AMD the VMM's own tsc_early_khz=N.
	local seen
	seen=$(sed -n 's/^dyad-guest: cmdline [0-9]* bytes: //p' "$log" | head -n 1 | tr -d '\r')
	echo "# $1: the guest saw a command line of ${#seen} bytes"
	tap "$([[ ${#words} -ge 1536 && " $seen" =~ \ "$words"( tsc_early_khz=[0-9]+)?$ ]]; echo $?)" \
		"$1: a guest command line of ${#words}+ bytes arrived whole (/proc/cmdline)"
}

# The exit counts of a boot's summary: "io mmio total".
exit_counts() {
	local io mmio total
	io=$(sed -n 's/^vmm: VM exits by reason:.* io=\([0-9]*\).*/\1/p' "$1" | head -n 1)
	mmio=$(sed -n 's/^vmm: VM exits by reason:.* mmio=\([0-9]*\).*/\1/p' "$1" | head -n 1)
	total=$(sed -n 's/^vmm: \([0-9]*\) exits, .*/\1/p' "$1" | head -n 1)
	echo "${io:-?} ${mmio:-?} ${total:-?}"
}

virtio() {
	local log=$BUILD_DIR/vmm-e2e-$emu-linux-virtio.log disk=$BUILD_DIR/vmm-e2e-disk.img i
	# 1 MiB, every sector named by its number: the guest's md5 of it must be the host's.
	for i in $(seq 0 2047); do printf 'dyad-disk sector %04d%*s\n' "$i" 490 ''; done >"$disk"
	local sum checks=dyad_check=pci,hwrng,vda,vda-write,hvc0
	sum=$(md5sum <"$disk" | cut -d' ' -f1)
	iso_extra=("$disk:/boot/disk.img")
	# First with a command line of its own that keeps ttyS0 as /dev/console (-C hvc appends
	# console=hvc0): every check's line is on the 16550, hvc0's line comes through the VMM too.
	local own="console=ttyS0,115200 earlyprintk=serial nokaslr tsc=reliable iommu=noaperture mitigations=off i8042.noaux panic=-1"
	more_words=" $checks"
	linux linux-virtio "-C hvc -R -d /boot/disk.img /boot/vmlinux $own"
	more_words=''
	if no_vm "$log"; then
		iso_extra=()
		return
	fi
	tap "$(grep -aq '^vmm: virtio-blk at 00:0[1-9].0: /boot/disk.img, 2048 sectors, read-only file: a private copy, writes last until power-off' "$log"; echo $?)" \
		"linux-virtio: a read-only module disk is served from a private copy, and the VMM says so"
	tap "$(grep -aq 'PCI Root Bridge \[PCI0\] (domain 0000 \[bus 00\])' "$log"; echo $?)" \
		"linux-virtio: the guest found the host bridge in the ACPI tables"
	local id ok=0
	for id in '1af4:1043 class 0x078000 driver virtio-pci' '1af4:1044 class 0x00ff00 driver virtio-pci' \
		'1af4:1042 class 0x018000 driver virtio-pci'; do
		grep -aEq "^# pci 0000:00:0[1-9].0 ${id}[[:cntrl:]]*\$" "$log" || ok=1
	done
	tap "$ok" "linux-virtio: the guest's virtio_pci drives the console, rng and blk functions"
	tap "$(! grep -aqE 'BAR [0-9]+: (no space|failed to assign)|MSI.*disabl|device needs reset' "$log"; echo $?)" \
		"linux-virtio: BARs in the window, MSI-X on, no device broken$(grep -am1 -E 'BAR [0-9]+: (no space|failed to assign)|device needs reset' "$log" | sed 's/^/ (saw: /; s/$/)/')"
	tap "$(grep -aq '^ok - virtio-rng: /dev/hwrng gives random bytes' "$log" && grep -aq '^vmm: virtio-rng: [1-9][0-9]* bytes' "$log"; echo $?)" \
		"linux-virtio: /dev/hwrng reads random bytes from the VMM"
	tap "$(grep -aq "^dyad-guest: vda md5 of 1048576 bytes: $sum" "$log"; echo $?)" \
		"linux-virtio: the guest read the disk image whole (md5 $sum)"
	tap "$(grep -aq '^ok - virtio-blk: /dev/vda written, synced and read back' "$log" &&
		grep -aEq '^vmm: virtio-blk: [1-9][0-9]* reads, [1-9][0-9]* writes, [1-9][0-9]* flushes' "$log"; echo $?)" \
		"linux-virtio: /dev/vda written, flushed and read back"
	tap "$(grep -aq '^ok - virtio-console: a line written on /dev/hvc0' "$log" && grep -aq '^dyad-guest: hello on hvc0' "$log" &&
		grep -aEq '^vmm: console: .* virtio-console [1-9][0-9]* lines' "$log"; echo $?)" \
		"linux-virtio: hvc0 took a line and the VMM printed it"
	# console=hvc0 alone (the default line under -C hvc): every check still passes. With
	# VMM_E2E_FIGURES=1, also a boot with ttyS0 only (no console function: the hvc0 check alone
	# fails) and the exit counts of the two, for the figures (not in make check: one more boot).
	local log2=$BUILD_DIR/vmm-e2e-$emu-linux-virtio-hvc0.log log3=$BUILD_DIR/vmm-e2e-$emu-linux-virtio-ttyS0.log
	local common="-m ${ram_mib}M -i $initrd -a dyad_mode=test -a dyad_ram_mib=$ram_mib -a $checks -R -d /boot/disk.img"
	boot linux-virtio-hvc0 "$common -C hvc /boot/vmlinux"
	[[ ${VMM_E2E_FIGURES:-0} == 1 ]] && boot linux-virtio-ttyS0 "$common /boot/vmlinux"
	iso_extra=()
	tap "$(grep -aq '^vmm: guest wrote 0 to the debug port' "$log2" && grep -aq '^init: /bin/vmm exited with status 0$' "$log2" &&
		grep -aq 'printk: console \[hvc0\] enabled' "$log2"; echo $?)" \
		"linux-virtio: with console=hvc0 alone every check passed (verdict 0 on the debug port)"
	tap "$(grep -aq '^=== dyad-guest: Linux ' "$log2" && grep -aq '^dyad-guest: PASS' "$log2"; echo $?)" \
		"linux-virtio: with console=hvc0 the guest's /init talks on hvc0 once its driver is loaded"
	sed -n 's/^vmm: console: /# linux-virtio-hvc0: console: /p' "$log2"
	[[ ${VMM_E2E_FIGURES:-0} == 1 ]] || return 0
	tap "$(grep -aq '^vmm: guest wrote 1 to the debug port' "$log3"; echo $?)" \
		"linux-virtio: without -C hvc the hvc0 check alone failed (verdict 1)"
	sed -n 's/^vmm: console: /# linux-virtio-ttyS0: console: /p' "$log3"
	echo "# linux-virtio: boot exits (io mmio total): hvc0 $(exit_counts "$log2"), ttyS0 $(exit_counts "$log3")"
}

hostile_virtio() {
	local log=$BUILD_DIR/vmm-e2e-$emu-hostile-virtio.log hostile
	hostile=$(dirname "$bad")/hostile_virtio
	[[ -s $hostile ]] || die "no $hostile (make $hostile)"
	iso_extra=("$hostile:/boot/hostile_virtio")
	boot hostile-virtio "-m 64M -R /boot/hostile_virtio"
	iso_extra=()
	if no_vm "$log"; then
		skip "hostile-virtio: the VMM refuses broken rings" "Dyad found no VMX or SVM here"
		return
	fi
	if grep -aq '^vmm: -R: this CPU has neither RDSEED nor RDRAND' "$log"; then
		skip "hostile-virtio: the VMM refuses broken rings" "no RDSEED or RDRAND: no virtio-rng"
		return
	fi
	local why p='^vmm: virtio-rng 00:01.0: queue 0: '
	for why in 'the chain from descriptor 0 loops' \
		'descriptor 0: buffer 0x7fff00000000\+0x1000 is not guest RAM' \
		'available index 100 is more than the ring.s 8 ahead of 0' \
		'rings outside guest RAM \(descriptors 0xf0000000'; do
		tap "$(grep -aEq "$p$why.*: device needs reset$" "$log"; echo $?)" \
			"hostile-virtio: refused with one line: ${why//\\/}"
	done
	tap "$(grep -aq '^vmm: guest wrote 0 to the debug port' "$log" && grep -aq '^init: /bin/vmm exited with status 0$' "$log"; echo $?)" \
		"hostile-virtio: a good request served, NEEDS_RESET seen after each bad one, the VMM alive for the verdict"
}

bad_guest() {
	local log=$BUILD_DIR/vmm-e2e-$emu-bad-guest.log
	boot bad-guest "-m 64M /boot/bad_guest"
	if no_vm "$log"; then
		skip "bad-guest: reported and ended" "Dyad found no VMX or SVM here"
		return
	fi
	tap "$(grep -aq 'MMIO read at 0xd0000000' "$log" && grep -aq 'MMIO write at 0xd0001000' "$log"; echo $?)" \
		"bad-guest: MMIO to nowhere is reported and stepped over"
	tap "$(grep -aq 'RDMSR 0xdeadbeef: #GP' "$log"; echo $?)" "bad-guest: an unknown MSR gets #GP"
	tap "$(grep -aEq '^vmm: .*unowned ports [1-9]' "$log"; echo $?)" "bad-guest: unowned ports counted"
	tap "$(grep -aq '^vmm: guest triple fault' "$log" && grep -aq '^init: /bin/vmm exited with status 3$' "$log"; echo $?)" \
		"bad-guest: the triple fault ends the VMM with status 3, and the kernel runs on"
}

# The SMP test guest: every "smpg: ok/FAIL" line it prints becomes a TAP line here, then the
# VMM's own lines for the bad IPIs and the end. $1: the storm's seconds.
# Under QEMU's TCG with several CPUs Dyad keeps guests off the boot CPU (docs/smp.md, "QEMU's
# boot CPU"): the VMM's summary names the host CPUs the guest entered on; CPU 0 may not be one.
boot_cpu_check() { # NAME LOG
	[[ $emu == qemu && $(qemu_accel_args) == *tcg* && $(qemu_cpus) -gt 1 ]] || return 0
	local on
	on=$(sed -n 's/^vmm: host CPUs the guest entered on://p' "$2" | head -n 1)
	tap "$([[ -n $on && " $on " != *' 0 '* ]]; echo $?)" \
		"$1: QEMU TCG: the guest entered on host CPUs${on:- (none reported)}, never the boot CPU 0"
}

# smpg_boot NAME WHAT "VMM ARGS": boots the SMP test guest as NAME, shows its lines and makes its
# check lines TAP; returns 1 after a skip where Dyad found no VMX or SVM.
smpg_boot() {
	local name=$1 log=$BUILD_DIR/vmm-e2e-$emu-$1.log smpg line
	smpg=$(dirname "$bad")/smpguest
	[[ -s $smpg ]] || die "no $smpg (make $smpg)"
	iso_extra=("$smpg:/boot/smpguest")
	boot "$name" "$3 /boot/smpguest"
	iso_extra=()
	if no_vm "$log"; then
		skip "$name: $2" "Dyad found no VMX or SVM here"
		return 1
	fi
	grep -a '^smpg: ' "$log" | grep -av '^smpg: \(ok\|FAIL\) - ' | sed "s/^smpg: /# $name: /" || true
	while IFS= read -r line; do
		tap "$([[ $line == 'smpg: ok - '* ]]; echo $?)" "$name: ${line#smpg: * - }"
	done < <(grep -a '^smpg: \(ok\|FAIL\) - ' "$log")
}

smp_guest() {
	local name=smp-guest${2:-} log=$BUILD_DIR/vmm-e2e-$emu-smp-guest${2:-}.log
	smpg_boot "$name" "the SMP test guest" "-c 2 -m 64M -a smpg.storm=$1" || return 0
	tap "$(grep -aq '^smpg: done, 0 failed' "$log"; echo $?)" "$name: the guest ran to its end"
	boot_cpu_check "$name" "$log"
	tap "$(grep -aq '^vmm: vCPU 0 sent an IPI (ICR 0x4610) to destination 0x9: no such CPU' "$log"; echo $?)" \
		"$name: the VMM reports the SIPI to APIC ID 9 in one line"
	tap "$(grep -aq '^vmm: vCPU 0 sent INIT to itself: ignored' "$log"; echo $?)" \
		"$name: the VMM reports the INIT to itself in one line"
	tap "$(grep -aq '^vmm: vCPU 0 sent an IPI with illegal vector 5 (ICR 0x4005): not sent' "$log"; echo $?)" \
		"$name: the VMM reports the illegal vector in one line"
	tap "$(grep -aq '^vmm: guest wrote 0 to the debug port' "$log" && grep -aq '^init: /bin/vmm exited with status 0$' "$log"; echo $?)" \
		"$name: verdict 0 on the debug port, the VMM ended with status 0 and the kernel lives on"
}

# The injection stress of the SMP test guest on $1 vCPUs: its check lines as TAP.
smp_inject() {
	local name=smp-inject$1 log=$BUILD_DIR/vmm-e2e-$emu-smp-inject$1.log
	local words="-a smpg.storm=1 -a smpg.lat=3 -a smpg.inj=${INJ_SECONDS:-10} -a smpg.cpus=$1"
	[[ -z ${INJ_SEED:-} ]] || words+=" -a smpg.seed=$INJ_SEED"
	smpg_boot "$name" "the injection stress" "-c $1 -m 64M $words" || return 0
	tap "$(grep -aq '^smpg: done, 0 failed' "$log" && grep -aq '^vmm: guest wrote 0 to the debug port' "$log"; echo $?)" \
		"$name: the guest ran to its end, verdict 0"
}

garbage_initrd() {
	local log=$BUILD_DIR/vmm-e2e-$emu-garbage-initrd.log
	boot garbage-initrd "-m ${ram_mib}M -i /boot/garbage /boot/vmlinux"
	if no_vm "$log"; then
		skip "garbage-initrd: the guest's panic is reported" "Dyad found no VMX or SVM here"
		return
	fi
	tap "$(grep -aq '^vmm: the guest kernel panicked: Kernel panic - not syncing: ' "$log"; echo $?)" \
		"garbage-initrd: one VMM line says the guest kernel panicked, with the panic's first line"
	tap "$(grep -aq '^init: /bin/vmm exited with status 5$' "$log"; echo $?)" \
		"garbage-initrd: the VMM ended with status 5 (guest panic)"
}

# ---- hvc0-input: a command typed on the virtio console ---------------------------------------
# The busybox guest's shell with console=hvc0 (-C hvc): once /init's banner says the shell is
# there, a command goes into QEMU's serial input (Dyad's console, the VMM's standard input),
# which the VMM hands to the virtio console's receive queue. The answer must come back on hvc0,
# computed by the guest (the echoed line has $((6*7)), the answer 42) on the tty /dev/hvc0; a
# second typed command writes 0 to the debug port and ends the VM. QEMU only (its stdin is a
# FIFO the script writes into while the guest runs).
# type_after LOG PATTERN SECONDS TEXT: waits until LOG has a line matching PATTERN (fails after
# SECONDS, or when QEMU, $hvc_qemu, has ended), then writes TEXT to fd 3 (the FIFO into QEMU's
# serial input).
type_after() {
	local i=0
	until grep -aq "$2" "$1"; do
		((i++ < $3 * 5)) && kill -0 "$hvc_qemu" 2>/dev/null || return 1
		sleep 0.2
	done
	sleep 1 # the shell's prompt follows the line
	printf '%s\n' "$4" >&3
}

hvc0_input() {
	local name=hvc0-input log=$BUILD_DIR/vmm-e2e-$emu-hvc0-input.log
	local iso=$BUILD_DIR/vmm-e2e-$emu-hvc0-input.iso fifo=$BUILD_DIR/vmm-e2e-hvc0-input.fifo
	if [[ $emu != qemu ]]; then
		skip "$name: a command typed on hvc0" "QEMU only (the script types into QEMU's serial input)"
		return
	fi
	"$(dirname "$0")/../../tools/mkiso.sh" "$iso" "$kernel" \
		"init=/bin/vmm -- -m ${ram_mib}M -i /boot/initramfs.cpio -C hvc /boot/vmlinux" \
		"$vmm:/bin/vmm" "$guest/vmlinux:/boot/vmlinux" "$guest/initramfs.cpio:/boot/initramfs.cpio" \
		>/dev/null
	rm -f "$fifo"
	mkfifo "$fifo"
	echo "# $name: booting (timeout $limit s, log $log)"
	local start=$EPOCHREALTIME typed=0 hvc_qemu=
	# shellcheck disable=SC2046
	timeout -k 10 "$limit" qemu-system-x86_64 $(qemu_accel_args) "${QEMU_COMMON[@]}" \
		-display none -monitor none -serial stdio -cdrom "$iso" <"$fifo" >"$log" 2>&1 &
	hvc_qemu=$!
	exec 3>"$fifo" # opened after QEMU: each open waits for the other end
	# shellcheck disable=SC2016 # $((6*7)) and $(tty) are the guest shell's to expand
	if type_after "$log" '^dyad-guest: shell' "$limit" 'echo typed-$((6*7)) on $(tty)' &&
		type_after "$log" 'typed-42 on /dev/' 60 "printf '\\000' | dd of=/dev/port bs=1 seek=244 count=1"; then
		typed=1
	fi
	# No answer: the boot has nothing more to show (timeout passes the signal on to QEMU).
	[[ $typed == 1 ]] || kill "$hvc_qemu" 2>/dev/null || true
	wait "$hvc_qemu" || true
	exec 3>&-
	rm -f "$fifo"
	sed -i 's/\r$//' "$log"
	echo "# $name: $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }") s wall"
	grep -a '^vmm: ' "$log" | sed 's/^/# /' || true
	if no_vm "$log"; then
		skip "$name: a command typed on hvc0" "Dyad found no VMX or SVM here"
		return
	fi
	tap "$(grep -aq '^dyad-guest: shell' "$log" && grep -aq 'printk: console \[hvc0\] enabled' "$log"; echo $?)" \
		"$name: the busybox shell started with console=hvc0"
	grep -a 'typed-' "$log" | sed "s/^/# $name: /" || true
	# shellcheck disable=SC2016 # the typed line, as the guest's tty echoed it
	tap "$(grep -aq 'echo typed-$((6\*7)) on $(tty)' "$log" && grep -aEq '^typed-42 on /dev/hvc0[[:cntrl:]]*$' "$log"; echo $?)" \
		"$name: a command typed on the console ran in the guest's shell on /dev/hvc0 and its answer came back"
	tap "$([[ $typed == 1 ]] && grep -aEq '^vmm: virtio-console: [0-9]+ buffers, [0-9]+ bytes out; [1-9][0-9]* bytes in, 0 dropped' "$log" &&
		grep -aq '^vmm: guest wrote 0 to the debug port' "$log" && grep -aq '^init: /bin/vmm exited with status 0$' "$log"; echo $?)" \
		"$name: the input went through the virtio console (bytes in, none dropped) and a second command ended the VM with verdict 0"
}

# ---- chaos-guest: random operations from a seed, then bad inputs, under vmmrun --------------
# One boot, /bin/vmmrun as the first process: it spawns the VMM once per run and prints its
# status and the free frames before and after. CHAOS_SEEDS (words) and CHAOS_OPS choose the
# chaos runs; each seed's line gives the words that replay it.
chaos_guest() {
	local name=chaos-guest log=$BUILD_DIR/vmm-e2e-$emu-chaos-guest.log iso=$BUILD_DIR/vmm-e2e-$emu-chaos-guest.iso
	local dir chaos runner d=$BUILD_DIR/vmm-e2e-bad seeds=${CHAOS_SEEDS:-0xc4a05eed0001} ops=${CHAOS_OPS:-4000}
	dir=$(dirname "$bad")
	chaos=$dir/chaos runner=$dir/vmmrun
	[[ -s $chaos && -s $runner ]] || die "no $chaos or $runner (make $chaos $runner)"
	mkdir -p "$d"
	head -c 65536 /dev/zero >"$d/disk.img"
	# Bad kernels, each made from a good one: the expected line's words, then the file.
	local vml=$guest/vmlinux bz=$guest/bzImage
	head -c 3000 "$bz" >"$d/bz-trunc" # inside the setup code
	head -c 1000000 "$bz" >"$d/bz-short" # shorter than syssize
	head -c 65536 "$bz" >"$d/bz-old"
	printf '\x00\x02' | dd of="$d/bz-old" bs=1 seek=$((0x206)) conv=notrunc status=none # protocol 2.00
	# The setup header of a bzImage of 64 KiB: syssize 16 bytes, no payload, init_size 4 GiB.
	head -c 65536 "$bz" >"$d/bz-init"
	printf '\x01\x00\x00\x00' | dd of="$d/bz-init" bs=1 seek=$((0x1f4)) conv=notrunc status=none
	printf '\x00\x00\x00\x00' | dd of="$d/bz-init" bs=1 seek=$((0x24c)) conv=notrunc status=none
	printf '\xff\xff\xff\xff' | dd of="$d/bz-init" bs=1 seek=$((0x260)) conv=notrunc status=none
	head -c 4096 "$vml" >"$d/elf-trunc"
	# Damaged copies of the chaos guest's ELF (one PT_LOAD, then PT_GNU_STACK).
	elf_patch() { # NAME OFFSET BYTES (printf escapes, little-endian)
		cp "$chaos" "$d/$1"
		# shellcheck disable=SC2059
		printf "$3" | dd of="$d/$1" bs=1 seek="$2" conv=notrunc status=none
	}
	local ph
	ph=$(od -An -tu8 -j32 -N8 "$chaos" | tr -d ' ')
	elf_patch elf-huge $((ph + 40)) '\x00\x00\x00\x00\x00\x00\x01\x00' # p_memsz 2^48
	elf_patch elf-wrap $((ph + 40)) '\x00\xff\xff\xff\xff\xff\xff\xff' # p_memsz wraps
	elf_patch elf-entry 24 '\x00\x00\xad\xde\x00\x00\x00\x00'       # e_entry 0xdead0000
	elf_patch elf-phnum 56 '\xff\xff'                                      # e_phnum 65535
	elf_patch elf-low $((ph + 24)) '\x00\x10\x00\x00\x00\x00\x00\x00' # p_paddr 4 KiB
	elf_patch elf-32 4 '\x01'                                               # ELFCLASS32
	elf_patch elf-dyn 16 '\x03'                                             # ET_DYN
	# The stack header made a second PT_LOAD of 4 KiB at the first one's address.
	elf_patch elf-overlap $((ph + 56)) '\x01\x00\x00\x00'
	printf '\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00' |
		dd of="$d/elf-overlap" bs=1 seek=$((ph + 56 + 24)) conv=notrunc status=none # paddr 1 MiB, filesz 0, memsz 4 KiB
	: >"$d/empty"
	head -c $(((32 << 20) + 4096)) /dev/zero >"$d/big-initrd" # more than -m 32M
	local m=/boot/bad
	# expected text|VMM arguments (status 1 each)
	local -a cases=(
		"truncated bzImage: the file ends inside the setup code|$m/bz-trunc"
		"truncated bzImage: shorter than its header's syssize|$m/bz-short"
		"bzImage boot protocol older than 2.12|$m/bz-old"
		"RAM too small for the kernel's init_size|$m/bz-init"
		"truncated ELF: a segment lies beyond the file|$m/elf-trunc"
		"RAM too small for the ELF kernel's segments|$m/elf-huge"
		"a segment wraps around the address space|$m/elf-wrap"
		"the entry point is in no loadable segment|$m/elf-entry"
		"bad program header size or count|$m/elf-phnum"
		"wants memory below 1 MiB|$m/elf-low"
		"not a little-endian x86-64|$m/elf-32"
		"not an executable (ET_EXEC)|$m/elf-dyn"
		"loadable segments overlap|$m/elf-overlap"
		"empty file|$m/empty"
		"neither a bzImage nor an ELF image|/boot/garbage"
		"RAM too small: 32 MiB hold the kernel but not the|-m 32M -i $m/big-initrd /boot/chaos"
		"cannot open initrd '/boot/no-such-initrd'|-i /boot/no-such-initrd /boot/chaos"
		"cannot open kernel '/boot/no-such-kernel'|/boot/no-such-kernel"
		"cannot open kernel '/boot'|/boot"
		"cannot open kernel '/boot/'|/boot/"
		"bad RAM size '0'|-m 0 /boot/chaos"
		"bad RAM size '-5M'|-m -5M /boot/chaos"
		"bad RAM size '99999999999999999999M'|-m 99999999999999999999M /boot/chaos"
		"bad RAM size '1.5G'|-m 1.5G /boot/chaos"
		"must be a whole number of MiB|-m 31M /boot/chaos"
		"must be a whole number of MiB|-m 33000K /boot/chaos"
		"must be a whole number of MiB|-m 2000G /boot/chaos"
		"is more than the|-m 1000G /boot/chaos"
		"bad vCPU count '0'|-c 0 /boot/chaos"
		"bad vCPU count '33'|-c 33 /boot/chaos"
		"bad vCPU count '-1'|-c -1 /boot/chaos"
		"bad vCPU count '18446744073709551617'|-c 18446744073709551617 /boot/chaos"
		"bad physical address width '31'|-p 31 /boot/chaos"
		"bad physical address width '53'|-p 53 /boot/chaos"
		"bad physical address width '4294967328'|-p 4294967328 /boot/chaos"
		"beyond the guest's 32-bit physical address space|-p 32 -m 3073M /boot/chaos"
		"option -m needs a value|-m"
		"no kernel image given|-c 2"
		"unknown option '-Z'|-Z /boot/chaos"
		"unknown console 'vga'|-C vga /boot/chaos"
		"--module is for multiboot kernels|--module /boot/chaos /boot/chaos"
	)
	local args='' c k=0 files=()
	for s in $seeds; do
		args+="0 -c 2 -m 64M -R -C hvc -d /boot/bad/disk.img /boot/chaos chaos.seed=$s chaos.ops=$ops , "
	done
	for f in 1 2; do args+="3 -c 2 -m 64M /boot/chaos chaos.ops=200 chaos.finale=$f , "; done
	for f in 3 4; do args+="0 -c 2 -m 64M /boot/chaos chaos.ops=200 chaos.finale=$f , "; done
	for c in "${cases[@]}"; do args+="1 ${c#*|} , "; done
	for f in "$d"/*; do files+=("$f:/boot/bad/${f##*/}"); done
	"$(dirname "$0")/../../tools/mkiso.sh" "$iso" "$kernel" "init=/bin/vmmrun -- ${args%, }" \
		"$runner:/bin/vmmrun" "$vmm:/bin/vmm" "$chaos:/boot/chaos" "$garbage:/boot/garbage" \
		"${files[@]}" >/dev/null
	boot_iso "$name" "$iso" "$log"
	if no_vm "$log"; then
		skip "$name: the chaos guest and bad inputs" "Dyad found no VMX or SVM here"
		return
	fi
	grep -a '^chaos: \|^vmmrun: [0-9]' "$log" | sed "s/^/# $name: /" || true
	for s in $seeds; do
		k=$((k + 1))
		local block
		block=$(awk -v k="$k" '$0 ~ "^vmmrun: run " k ":" { on = 1 } on { print } on && $0 ~ "^vmmrun: (ok|FAIL) - run " k ":" { exit }' "$log" | tr -d '\0')
		tap "$(grep -aq "^chaos: done, seed $(printf '%#x' "$s")" <<<"$block" &&
				grep -aq '^vmm: guest halted with interrupts off: power-off' <<<"$block" &&
			grep -aq "^vmmrun: ok - run $k: status 0 (want 0)" <<<"$block"; echo $?)" \
			"$name: seed $s: $ops operations on each of 2 vCPUs, the guest halted, the VMM ended with status 0 and every frame came back$(grep -a -m1 "^vmmrun: .* - run $k:\|^chaos: FAIL" <<<"$block" | sed 's/^/ (saw: /; s/$/)/')"
	done
	# A guest whose page tables (1) or stack (2) lie outside RAM can make no progress: each
	# fetch or exception delivery faults again. The VMM ends it as a PC would, a triple fault.
	for f in 1 2; do
		k=$((k + 1))
		local block
		block=$(awk -v k="$k" '$0 ~ "^vmmrun: run " k ":" { on = 1 } on { print } on && $0 ~ "^vmmrun: (ok|FAIL) - run " k ":" { exit }' "$log" | tr -d '\0')
		tap "$(grep -aq "^chaos: finale $f" <<<"$block" &&
			grep -aEq "^vmm: guest stuck at rip 0x[0-9a-f]+: 256 times in a row an access at 0x$([[ $f == 1 ]] && echo d0000000 || echo cffffff.) \(not RAM\)" <<<"$block" &&
			grep -aq "^vmmrun: ok - run $k: status 3 (want 3)" <<<"$block"; echo $?)" \
			"$name: $([[ $f == 1 ]] && echo 'CR3' || echo 'the stack') in the 32-bit hole: the VMM ends the stuck guest as a triple fault (status 3), no frame leaked$(grep -a -m1 "^vmmrun: FAIL - run $k:" <<<"$block" | sed 's/^/ (saw: /; s/$/)/')"
	done
	# The fastest periodic timer a guest can ask for, the local APIC's (3) or the PIT's (4):
	# the vCPU must still run (1000 port writes with interrupts off, then the usual end).
	for f in 3 4; do
		k=$((k + 1))
		local block
		block=$(awk -v k="$k" '$0 ~ "^vmmrun: run " k ":" { on = 1 } on { print } on && $0 ~ "^vmmrun: (ok|FAIL) - run " k ":" { exit }' "$log" | tr -d '\0')
		tap "$(grep -aq '^chaos: 1000 port writes done under the fast timer' <<<"$block" &&
			grep -aq "^vmmrun: ok - run $k: status 0 (want 0)" <<<"$block"; echo $?)" \
			"$name: $([[ $f == 3 ]] && echo "the local APIC's" || echo "the PIT's") periodic timer at its fastest: the guest runs on and ends, status 0$(grep -a -m1 "^vmmrun: FAIL - run $k:" <<<"$block" | sed 's/^/ (saw: /; s/$/)/')"
	done
	for c in "${cases[@]}"; do
		k=$((k + 1))
		local block want=${c%%|*} lines
		block=$(awk -v k="$k" '$0 ~ "^vmmrun: run " k ":" { on = 1 } on { print } on && $0 ~ "^vmmrun: (ok|FAIL) - run " k ":" { exit }' "$log" | tr -d '\0')
		lines=$(grep -ac '^vmm: ' <<<"$block" || true)
		tap "$(grep -aqF -- "$want" <<<"$block" && [[ $lines == 1 ]] &&
			grep -aq "^vmmrun: ok - run $k: status 1 (want 1)" <<<"$block"; echo $?)" \
			"$name: bad input '${c#*|}' gives one line ($want), status 1, no frame leaked$([[ $lines == 1 ]] || echo " (saw $lines lines)")$(grep -a -m1 "^vmmrun: FAIL - run $k:" <<<"$block" | sed 's/^/ (saw: /; s/$/)/')"
	done
	tap "$(grep -aq "^vmmrun: $k passed, 0 failed" "$log" && grep -aq '^init: /bin/vmmrun exited with status 0$' "$log"; echo $?)" \
		"$name: all $k runs done, and the kernel lived on to the end of its first process"
}

for c in "$@"; do
	case $c in
	linux-vmlinux)
		end=poweroff
		linux linux-vmlinux /boot/vmlinux long
		end=port
		;;
	linux-bzimage) linux linux-bzimage /boot/bzImage ;;
	linux-cloud | linux-rt | linux-cloud-pit)
		f=${c#linux-}
		f=${f%-pit}
		[[ $c != *-pit ]] || more_words=' acpi=off'
		if [[ ! -s $guest-$f/vmlinux || ! -s $guest-$f/initramfs.cpio ]]; then
			skip "$c: boots Linux" "no $guest-$f (FLAVOUR=$f tools/guest-image.sh $guest-$f)"
			continue
		fi
		# The ISO names a module by its file's basename: links give these their own.
		ln -sf "$(realpath "$guest-$f/vmlinux")" "$BUILD_DIR/vmlinux-$f"
		ln -sf "$(realpath "$guest-$f/initramfs.cpio")" "$BUILD_DIR/initramfs-$f.cpio"
		iso_extra=("$BUILD_DIR/vmlinux-$f:/boot/vmlinux-$f" "$BUILD_DIR/initramfs-$f.cpio:/boot/initramfs-$f.cpio")
		initrd=/boot/initramfs-$f.cpio end=$([[ $c == linux-cloud ]] && echo reboot || echo poweroff)
		linux "$c" "/boot/vmlinux-$f"
		iso_extra=() initrd=/boot/initramfs.cpio end=port more_words=''
		;;
	linux-6g)
		# QEMU's last -m wins; TCG allocates the emulator's RAM lazily.
		ram_mib=6144 qemu_extra=(-m 8G)
		linux linux-6g /boot/vmlinux
		log=$BUILD_DIR/vmm-e2e-$emu-linux-6g.log
		sed -n 's/^# MemTotal/# linux-6g: MemTotal/p; s/^vmm: guest RAM/# linux-6g: guest RAM/p' "$log"
		tap "$(grep -aEq '^vmm: guest RAM 6144 MiB in [1-9][0-9]* x 1G' "$log" &&
			grep -aq 'BIOS-e820: \[mem 0x0000000100000000-0x00000001bfffffff\] usable' "$log"; echo $?)" \
			"linux-6g: RAM above 4 GiB in the e820 map, backed with 1 GiB pages"
		# The same RAM with a 32-bit guest physical address space cannot be: refused at start.
		boot linux-6g-p32 "-m 6144M -p 32 -i /boot/initramfs.cpio /boot/vmlinux"
		log=$BUILD_DIR/vmm-e2e-$emu-linux-6g-p32.log
		tap "$(grep -aq "^vmm: 6144 MiB of RAM end at 0x1c0000000, beyond the guest's 32-bit physical address space" "$log" &&
			grep -aq '^init: /bin/vmm exited with status 1$' "$log"; echo $?)" \
			"linux-6g: -p 32 refuses RAM above 4 GiB with one line and status 1"
		ram_mib=256 qemu_extra=()
		;;
	linux-smp2 | linux-smp4 | linux-smp8)
		cpus=${c#linux-smp}
		vmm_extra="-c $cpus " more_words=" dyad_cpus=$cpus"
		linux "$c" /boot/vmlinux
		log=$BUILD_DIR/vmm-e2e-$emu-$c.log
		grep -a -m1 '^# CPUs:' "$log" | sed "s/^# /# $c: /" || true
		grep -a '^vmm: [0-9]* exits, \|^vmm: [0-9]* vCPUs\|^vmm: IPIs' "$log" | sed "s/^/# $c: /" || true
		tap "$(grep -aq "^# CPUs: cpuinfo $cpus, nproc $cpus, want $cpus" "$log" &&
			grep -aq "smp: Brought up 1 node, $cpus CPUs" "$log"; echo $?)" \
			"$c: Linux brought up $cpus CPUs (INIT-SIPI-SIPI) and counts $cpus in /proc/cpuinfo and nproc"
		tap "$(grep -aEq "^vmm: IPIs sent [1-9][0-9]* \(kicks of other vCPUs [1-9][0-9]*\), INIT [1-9][0-9]*, SIPI [1-9]" "$log"; echo $?)" \
			"$c: the vCPUs exchanged IPIs, with kicks, INIT and SIPI"
		boot_cpu_check "$c" "$log"
		# One TSC for all vCPUs: Linux's own TSC sync check (each AP against the boot CPU, when
		# it comes up) finds no warp, and tsc is still the clocksource when the script runs.
		tap "$(grep -aEq 'clocksource: Switched to clocksource tsc[[:space:]]*$' "$log" &&
			grep -aq '^# clocksource: tsc' "$log" && ! grep -aq 'tsc=reliable' "$log" &&
			! grep -aqiE 'TSC.*(unstable|warp|not synchroni)|Skipped synchronization' "$log"; echo $?)" \
			"$c: the vCPUs' TSCs agree: Linux's sync check ran and found no warp, clocksource tsc$(grep -aim1 -E 'TSC.*(unstable|warp|not synchroni)|Skipped synchronization' "$log" | sed 's/^/ (saw: /; s/$/)/')"
		grep -a '^# parallel checksum\|^# hotplug' "$log" | sed "s/^# /# $c: /" || true
		tap "$(grep -aq '^ok - one sha256sum per CPU, pinned with taskset, equals the one-CPU sums' "$log"; echo $?)" \
			"$c: one sha256sum per CPU at once, each pinned by taskset to its CPU, equals the one-CPU sums"
		line=$(grep -a -m1 -- '- CPU 1 taken offline and brought back online' "$log" || true)
		if [[ $line == *'# SKIP'* ]]; then
			skip "$c: CPU 1 offline and back online" "${line#*# SKIP }"
		else
			tap "$([[ $line == 'ok - '* ]]; echo $?)" \
				"$c: CPU 1 offline (parked) and back online (INIT-SIPI-SIPI again), then runs a process$([[ $line == 'ok - '* ]] || echo " (saw: ${line:-no line})")"
		fi
		vmm_extra='' more_words=''
		;;
	linux-virtio) virtio ;;
	hostile-virtio) hostile_virtio ;;
	bad-guest) bad_guest ;;
	smp-guest) smp_guest 2 ;;
	smp-guest-10s) smp_guest 10 -10s ;;
	smp-inject2) smp_inject 2 ;;
	smp-inject4) smp_inject 4 ;;
	garbage-initrd) garbage_initrd ;;
	hvc0-input) hvc0_input ;;
	chaos-guest) chaos_guest ;;
	*) die "unknown case '$c'" ;;
	esac
done
tap_end "vmm-e2e $emu"
