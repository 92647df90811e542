#!/bin/sh
# /init of the guest initramfs (tools/guest-image.sh fills in the @...@ values).
#
# Guest command line:
#   dyad_mode=shell    an interactive shell on the console (the default)
#   dyad_mode=test     the test script below; its verdict goes to the VMM, then power-off
#   dyad_ram_mib=N     the RAM the VMM gave the guest, for the MemTotal check
#   dyad_end=reboot    the test script ends with `reboot` instead of `poweroff`
#
# The verdict reaches the VMM twice: as one byte written to the VMM's debug port 0xf4 (0 = pass,
# else the number of failed checks) through /dev/port, and as a "dyad-guest: PASS|FAIL" line.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox --install -s
mount -t tmpfs tmp /tmp
echo
echo "=== dyad-guest: Linux $(uname -r) on $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2) ==="

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
	check "sleep 2 ends, timed by the RTC" sleep_ok
	check "20 processes forked and waited for" fork_ok
	if [ $failed = 0 ]; then echo "dyad-guest: PASS"; else echo "dyad-guest: FAIL ($failed)"; fi
	# The debug port: one byte at offset 0xf4 of /dev/port.
	printf "\\$(printf %03o $failed)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null ||
		echo "# no /dev/port: the verdict is the line above"
	# As an init would: busybox's poweroff and reboot signal PID 1, which ends the system.
	trap 'poweroff -f' USR2
	trap 'reboot -f' TERM
	if [ "$(arg dyad_end)" = reboot ]; then reboot; else poweroff; fi
	while :; do sleep 1; done # the trap ends it
fi

echo "dyad-guest: shell (poweroff -f ends the VM)"
exec setsid cttyhack sh -l
