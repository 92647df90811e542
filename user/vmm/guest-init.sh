#!/bin/sh
# /init of the guest initramfs (tools/guest-image.sh fills in the @...@ values).
#
# Guest command line:
#   dyad_mode=shell    an interactive shell on the console (the default)
#   dyad_mode=test     the test script below; its verdict goes to the VMM, then power-off
#   dyad_ram_mib=N     the RAM the VMM gave the guest, for the MemTotal check
#   dyad_end=reboot    the test script ends with `reboot` (ACPI reset register)
#   dyad_end=poweroff  the test script ends with `poweroff` (ACPI S5)
#
# The verdict is a "dyad-guest: PASS|FAIL" line. Without dyad_end it also goes to the VMM as one
# byte written to the debug port 0xf4 (0 = pass, else the number of failed checks) through
# /dev/port, which ends the VM at once; with dyad_end the guest ends as a system would.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox --install -s
mount -t tmpfs tmp /tmp
# The device nodes: the initramfs carries only console, null and port. devtmpfs gives the
# kernel's, /dev/ttyS0 among them, which the shell below needs as its controlling terminal.
if mount -t devtmpfs dev /dev; then
	mkdir -p /dev/pts
	mount -t devpts devpts /dev/pts
else
	echo "dyad-guest: warning: this kernel has no devtmpfs: no job control, Ctrl-C does nothing"
fi
echo
echo "=== dyad-guest: Linux $(uname -r) on $(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: //') ==="

arg() { # the value of $1= on the kernel command line
	for w in $(cat /proc/cmdline); do
		case $w in "$1"=*) echo "${w#*=}" ;; esac
	done
}

failed=0
check() { # name, then a command that succeeds when the check passes
	name=$1
	shift
	if "$@"; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		failed=$((failed + 1))
	fi
}

release_ok() { [ "$(uname -r)" = "@RELEASE@" ]; }

memtotal_ok() {
	ram=$(arg dyad_ram_mib)
	kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
	echo "# MemTotal $kib KiB, RAM ${ram:-?} MiB"
	# The kernel keeps its image, page structs and early allocations: allow an eighth plus 32 MiB.
	[ -n "$ram" ] && [ "$kib" -le $((ram * 1024)) ] &&
		[ "$kib" -ge $((ram * 1024 - ram * 128 - 32768)) ]
}

one_cpu_ok() { [ "$(grep -c '^processor' /proc/cpuinfo)" = 1 ]; }

hypervisor_ok() { grep -q '^flags.* hypervisor' /proc/cpuinfo; }

# The wall clock (the VMM's RTC, which follows Dyad's, which follows the host's): not before
# the year this image was built. The e2e judge compares the printed year with the host's.
date_ok() {
	year=$(date -u +%Y)
	[ "$year" -ge @YEAR@ ] && [ "$year" -lt $((@YEAR@ + 100)) ]
}

buffer_ok() {
	yes dyad | head -c @BUF_BYTES@ >/tmp/buf
	sum=$(md5sum /tmp/buf | cut -d' ' -f1)
	rm -f /tmp/buf
	echo "# md5 of @BUF_BYTES@ bytes: $sum"
	[ "$sum" = "@BUFSUM@" ]
}

rtc() { cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null; }

# Timer interrupts drive sleep: a guest without a working timer hangs here. The RTC (CMOS)
# brackets it: 2 s of sleep is 1 to 4 RTC seconds (its resolution is one second).
sleep_ok() {
	t0=$(rtc)
	sleep 2
	t1=$(rtc)
	echo "# sleep 2: RTC ${t0:-?} -> ${t1:-?}"
	[ -n "$t0" ] && [ -n "$t1" ] && [ $((t1 - t0)) -ge 1 ] && [ $((t1 - t0)) -le 4 ]
}

fork_ok() {
	n=0
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		(exit 0) && /bin/busybox true && n=$((n + 1))
	done
	[ $n = 20 ]
}

if [ "$(arg dyad_mode)" = test ]; then
	# The whole command line, so that the host can see that a long one arrived uncut.
	cmdline=$(cat /proc/cmdline)
	echo "dyad-guest: cmdline ${#cmdline} bytes: $cmdline"
	check "uname -r is @RELEASE@" release_ok
	check "MemTotal matches the guest RAM" memtotal_ok
	check "one CPU" one_cpu_ok
	check "the hypervisor flag" hypervisor_ok
	check "a 64 MiB buffer written and read back" buffer_ok
	echo "dyad-guest: date $(date -u '+%Y-%m-%d %H:%M:%S')"
	check "the wall clock is not before @YEAR@" date_ok
	check "sleep 2 ends, timed by the RTC" sleep_ok
	check "20 processes forked and waited for" fork_ok
	if [ $failed = 0 ]; then echo "dyad-guest: PASS"; else echo "dyad-guest: FAIL ($failed)"; fi
	# As an init would: busybox's poweroff and reboot signal PID 1, which ends the system.
	trap 'poweroff -f' USR2
	trap 'reboot -f' TERM
	case $(arg dyad_end) in
	reboot) reboot ;;
	poweroff) poweroff ;;
	*)
		# The debug port, one byte at offset 0xf4 of /dev/port: the VMM ends the VM at once.
		printf "\\$(printf %03o $failed)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null ||
			echo "# no /dev/port: the verdict is the line above"
		poweroff
		;;
	esac
	while :; do sleep 1; done # the trap ends it
fi

echo "dyad-guest: shell (poweroff -f ends the VM)"
# A session of its own with the console's tty (cttyhack finds /dev/ttyS0 through sysfs) as its
# controlling terminal: job control, and Ctrl-C interrupts the foreground command.
exec setsid cttyhack sh -l
