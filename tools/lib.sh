# Shared helpers for Dyad's tools/*.sh. Source it; it defines functions and ROOT, and runs nothing else.
# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it

# The repo root is the parent of this file's directory, wherever the caller runs from.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# CPUS=N, the emulated CPU count, is checked here, once, where a failure still ends the script: the
# helpers that print it run inside $(...), where die() would end only that subshell.
if [[ -n ${CPUS+set} ]] && ! [[ $CPUS =~ ^[1-9][0-9]*$ && $CPUS -le 64 ]]; then
	die "CPUS='$CPUS' is not a CPU count from 1 to 64 (Dyad starts at most 64)"
fi

# Succeeds when QEMU can give the guest VMX: KVM on Intel with nested virtualisation, and a /dev/kvm we may
# open read-write. The mere existence of /dev/kvm proves nothing (some hosts have a paravirtual /dev/kvm and
# no kvm_intel), and AMD's kvm_amd nesting gives SVM, which Dyad does not use. Sets KVM_WHY to the reason.
kvm_nested_usable() {
	local nested=/sys/module/kvm_intel/parameters/nested v
	if [[ ! -r $nested ]]; then
		KVM_WHY="kvm_intel is not loaded"
		return 1
	fi
	v=$(<"$nested")
	if [[ $v != Y && $v != 1 ]]; then
		KVM_WHY="kvm_intel nested=$v (need Y or 1)"
		return 1
	fi
	if ! (exec 3<>/dev/kvm) 2>/dev/null; then
		KVM_WHY="/dev/kvm cannot be opened read-write"
		return 1
	fi
	KVM_WHY="kvm_intel nested=$v and /dev/kvm is usable"
	return 0
}

# Succeeds when QEMU's TCG can give the guest AMD SVM with nested paging (`-cpu max`): the QEMU binary
# exists and knows the svm flag. Sets TCG_WHY to the reason.
qemu_tcg_svm_usable() {
	if ! command -v qemu-system-x86_64 >/dev/null; then
		TCG_WHY="qemu-system-x86_64 is not installed"
		return 1
	fi
	if ! qemu-system-x86_64 -cpu help 2>/dev/null | grep -qw svm; then
		TCG_WHY="this QEMU knows no svm CPU flag"
		return 1
	fi
	TCG_WHY="QEMU TCG -cpu max has SVM with nested paging"
	return 0
}

# Chooses the fastest path that can run a guest, for `make run`: sets RUN_CHOICE to kvm (QEMU+KVM with
# nested VMX), tcg-svm (QEMU TCG, -cpu max, SVM) or bochs (emulated VMX, slowest), and RUN_WHY to the
# reasons. RUN_PATH=kvm|tcg-svm|bochs forces a path.
run_path_choose() {
	if [[ -n ${RUN_PATH:-} ]]; then
		case $RUN_PATH in
		kvm | tcg-svm | bochs) ;;
		*) die "RUN_PATH='$RUN_PATH' is not one of kvm, tcg-svm, bochs" ;;
		esac
		RUN_WHY="RUN_PATH=$RUN_PATH"
		RUN_CHOICE="$RUN_PATH"
	elif kvm_nested_usable; then
		RUN_WHY=$KVM_WHY
		RUN_CHOICE=kvm
	elif qemu_tcg_svm_usable; then
		RUN_WHY="no nested-VMX KVM ($KVM_WHY); $TCG_WHY"
		RUN_CHOICE=tcg-svm
	else
		RUN_WHY="no nested-VMX KVM ($KVM_WHY); no QEMU SVM ($TCG_WHY)"
		RUN_CHOICE=bochs
	fi
}

# The number of CPUs QEMU gives Dyad: CPUS=N (checked when this file is sourced), else
# QEMU_CPUS_DEFAULT. Processes run on the first; the others idle in hlt, so that they cost little
# host time. The benchmark runners (-icount, which excludes MTTCG) and make debug keep one CPU.
QEMU_CPUS_DEFAULT=4
qemu_cpus() {
	echo "${CPUS:-$QEMU_CPUS_DEFAULT}"
}

# QEMU_CPU=MODEL[,+FLAG|,-FLAG...] chooses the CPU model QEMU gives Dyad in place of `host` (KVM)
# or `max` (TCG; empty means these), e.g. QEMU_CPU=EPYC-Rome or QEMU_CPU=max,-pdpe1gb. It is
# checked here, once, against the models and CPUID flags this QEMU knows (`-cpu help`), so a typo
# is refused before anything boots instead of QEMU warning and booting another CPU.
qemu_cpu_check() {
	local spec=$1 help model flag
	[[ $spec =~ ^[A-Za-z0-9_.-]+(,[+-][a-z0-9_.-]+)*$ ]] ||
		die "QEMU_CPU='$spec' is not MODEL[,+FLAG|,-FLAG...] (e.g. EPYC-Rome or max,-pdpe1gb)"
	help=$(qemu-system-x86_64 -cpu help 2>/dev/null) ||
		die "QEMU_CPU: qemu-system-x86_64 -cpu help failed"
	model=${spec%%,*}
	if [[ $model != max && $model != host && $model != base ]] &&
		! awk -v m="$model" '/^Available CPUs/ { on = 1; next } /^$/ { on = 0 }
			on && $1 == "x86" && $2 == m { f = 1 } END { exit !f }' <<<"$help"; then
		die "QEMU_CPU='$spec': this QEMU has no CPU model '$model'" \
			"(qemu-system-x86_64 -cpu help lists them)"
	fi
	for flag in $(tr ',' ' ' <<<"${spec#"$model"}"); do
		flag=${flag:1}
		sed -n '/^Recognized CPUID flags/,$p' <<<"$help" | tr -s ' ' '\n' | grep -qxF -- "$flag" ||
			die "QEMU_CPU='$spec': this QEMU knows no CPUID flag '$flag'"
	done
}
if [[ -n ${QEMU_CPU:-} ]]; then
	qemu_cpu_check "$QEMU_CPU"
fi

# Prints the QEMU accelerator, CPU and SMP arguments: KVM with the host CPU (VMX passed through) when
# possible, else TCG with `-cpu max`, which has no VMX; Dyad then reports that VMX is missing. Several
# CPUs under TCG run one host thread each (MTTCG, thread=multi). QEMU_CPU replaces the model.
qemu_accel_args() {
	local n
	n=$(qemu_cpus)
	if kvm_nested_usable; then
		echo "-enable-kvm -cpu ${QEMU_CPU:-host} -smp $n"
	elif [[ $n -gt 1 ]]; then
		echo "-accel tcg,thread=multi -cpu ${QEMU_CPU:-max} -smp $n"
	else
		echo "-accel tcg -cpu ${QEMU_CPU:-max}"
	fi
}

# QEMU arguments common to every run: 3 GiB, the exit device the kernel writes its verdict to, and no
# reboot so that a triple fault ends the run (status 0) instead of looping through GRUB again.
# shellcheck disable=SC2054  # the commas belong to -device
QEMU_COMMON=(-m 3G -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot)

# DISK=FILE attaches FILE (a raw image) to every QEMU run as a virtio-blk disk: Dyad's /dev/vda.
# A missing file or a name QEMU's option syntax cannot carry (a comma) is refused before booting.
if [[ -n ${DISK:-} ]]; then
	[[ -f $DISK ]] || die "DISK='$DISK' is not a file (make one: truncate -s 64M disk.img)"
	[[ $DISK != *,* ]] || die "DISK='$DISK': QEMU cannot take a file name with a comma"
	[[ -r $DISK ]] || die "DISK='$DISK' cannot be read"
	disk_ro=
	# A read-only image (no write permission bit, or none for us): Dyad sees a read-only disk.
	if [[ ! -w $DISK || -z $(find "$DISK" -maxdepth 0 -perm /222) ]]; then disk_ro=,readonly=on; fi
	QEMU_COMMON+=(-drive "if=none,id=d0,file=$DISK,format=raw$disk_ro" -device virtio-blk-pci,drive=d0)
fi

# QEMU_MACHINE=q35 boots QEMU's Q35 chipset (PCI Express, an ACPI MCFG: Dyad then configures PCI
# by ECAM) instead of the default i440FX PC. QEMU_DEVICES='edu ...' adds each as a -device.
if [[ -n ${QEMU_MACHINE:-} ]]; then
	[[ $QEMU_MACHINE =~ ^[a-z0-9.-]+$ ]] || die "QEMU_MACHINE='$QEMU_MACHINE' is no machine name"
	QEMU_COMMON+=(-M "$QEMU_MACHINE")
fi
for dev in ${QEMU_DEVICES:-}; do
	QEMU_COMMON+=(-device "$dev")
done

# The guest RAM `make run` accepts (RAM=), in MiB: the VMM's own bounds (BOOT_RAM_MIN and
# BOOT_RAM_MAX in user/vmm/boot.h), checked here before anything boots. Change both together.
GUEST_RAM_MIN_MIB=32
GUEST_RAM_MAX_MIB=3072

# mib_text N: N MiB as RAM= would say it (1024 -> 1G, 32 -> 32M).
mib_text() { if (($1 % 1024)); then echo "$1M"; else echo "$(($1 / 1024))G"; fi; }

# guest_ram_mib SIZE: prints SIZE (a whole number with a unit: 512M, 1G, 262144K) in MiB, or
# fails with a sentence on stderr that names RAM= and the limits.
guest_ram_mib() {
	local s=$1 n unit mib
	local limits="from $(mib_text $GUEST_RAM_MIN_MIB) to $(mib_text $GUEST_RAM_MAX_MIB)"
	if [[ ! $s =~ ^([0-9]{1,12})([KkMmGg])$ ]]; then
		echo "${0##*/}: RAM='$s' is not a size: give a whole number and a unit, e.g." \
			"RAM=512M or RAM=1G ($limits)" >&2
		return 1
	fi
	n=$((10#${BASH_REMATCH[1]})) unit=${BASH_REMATCH[2]}
	case $unit in
	[Kk])
		if ((n % 1024)); then
			echo "${0##*/}: RAM=$s is not a whole number of MiB ($limits)" >&2
			return 1
		fi
		mib=$((n / 1024))
		;;
	[Mm]) mib=$n ;;
	[Gg]) mib=$((n * 1024)) ;;
	esac
	if ((mib < GUEST_RAM_MIN_MIB || mib > GUEST_RAM_MAX_MIB)); then
		echo "${0##*/}: RAM=$s is outside the guest RAM the VMM accepts ($limits)" >&2
		return 1
	fi
	echo "$mib"
}

# Build output directory, relative to the repo root like the Makefile's BUILD.
BUILD_DIR=$ROOT/${BUILD:-build}

# Guest memory for Bochs in MiB. Bochs 2.7 accepts guest=3072 but caps `host` at 2048: guest pages beyond
# the first 2 GiB it touches are kept in a swap file, which works (measured: a guest writing all 3 GiB
# passes) but is slow. Each GiB of guest memory also adds about 1 s of wall time to every boot.
BOCHS_MEM=${BOCHS_MEM:-3072}

# The number of CPUs Bochs gives Dyad: CPUS=N, else BOCHS_CPUS_DEFAULT. Bochs runs its CPUs in turn on
# one host thread, switching every few instructions: a second CPU slows a long guest run a lot.
BOCHS_CPUS_DEFAULT=1
bochs_cpus() {
	echo "${CPUS:-$BOCHS_CPUS_DEFAULT}"
}

# Writes a bochsrc to FILE booting ISO, with COM1 described by the bochsrc line COM1 (see the callers).
# corei7_skylake_x has the most VMX features that still boot Linux; ips between 5e7 and 2e8 are equally fast
# and sync=none runs the emulated clock as fast as it can. The rfb display with timeout=0 listens on TCP
# 5900 (or the next free port) and never waits for a viewer, so Bochs runs headless. magic_break makes
# `xchg bx,bx` stop in the debugger (the test pass signal); print_timestamps prints an IPS line a second.
bochs_write_rc() {
	local file=$1 iso=$2 com1=$3
	cat >"$file" <<-EOF
	display_library: rfb, options="timeout=0"
	memory: guest=$BOCHS_MEM, host=$((BOCHS_MEM < 2048 ? BOCHS_MEM : 2048))
	romimage: file=/usr/share/bochs/BIOS-bochs-latest, options=fastboot
	vgaromimage: file=/usr/share/vgabios/vgabios.bin
	cpu: model=${BOCHS_CPU:-corei7_skylake_x}, count=$(bochs_cpus), ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=1
	pci: enabled=1, chipset=i440fx
	ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
	ata0-master: type=cdrom, path="$iso", status=inserted
	boot: cdrom
	clock: sync=none, time0=local
	$com1
	mouse: enabled=0
	speaker: enabled=0
	sound: driver=dummy
	magic_break: enabled=1
	port_e9_hack: enabled=1
	print_timestamps: enabled=1
	panic: action=fatal
	EOF
}

# bench_qemu_run LABEL SECONDS PATTERN ISO [QEMU ARGS...]: boots ISO once under QEMU TCG with
# -cpu max (SVM with nested paging), printing LABEL and the serial lines that match PATTERN.
# The benchmark runners call it twice: plain, and with -icount shift=0 (TSC = instructions).
bench_qemu_run() {
	local label=$1 seconds=$2 pattern=$3 iso=$4
	shift 4
	echo "== $label"
	timeout -k 10 "$seconds" qemu-system-x86_64 -accel tcg -cpu max "${QEMU_COMMON[@]}" "$@" \
		-display none -monitor none -serial stdio -cdrom "$iso" </dev/null 2>/dev/null |
		tr -d '\r' | grep -E "$pattern" || true
}

# Writes the debugger script Bochs runs at start: continue, and quit (status 0) when the guest stops at a
# magic break.
bochs_write_cmds() {
	printf 'c\nquit\n' >"$1"
}
