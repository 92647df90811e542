#!/bin/sh
# The guest side of tests/tools/guest-disk.sh and tools/bench-guest-disk.sh: /dtest in an
# initramfs appended to the default one (tools/guest-disk-lib.sh), run by rdinit=/dtest.
# dtest=MODE on the command line chooses what it does with /dev/vda:
#   write TOKEN   mount the ext4 file system, write TOKEN to /persist.txt, sync, poweroff -f
#   check         mount it, print /persist.txt
#   loop          mount it, append 16-byte records to /log.txt, each with its own fsync, and
#                 print each record's number once its fsync returned (until killed)
#   errors        read sector dtest_sector of the raw disk (direct I/O), then write one block
#                 with fsync: print whether each failed
#   bench         dd 1 MiB blocks with direct I/O: write, then read, dtest_mib=N of them; then
#                 dtest_ops=N random 4 KiB writes and reads by /randio (guest-randio.c) if given
#   mount         mount it (to see that a disk too small for its file system is refused)
# Every line for the host starts with "dtest: ".
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox --install -s
mount -t devtmpfs dev /dev
for m in $(cat /etc/modules); do modprobe -q "$m" 2>/dev/null; done
arg() { for w in $(cat /proc/cmdline); do case $w in "$1"=*) echo "${w#*=}" ;; esac; done; }
end() { echo "dtest: end"; sync; poweroff -f; }
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || { echo "dtest: no /dev/vda"; end; }
echo "dtest: vda $(cat /sys/block/vda/size) sectors, ro $(cat /sys/block/vda/ro)," \
	"cache $(cat /sys/block/vda/queue/write_cache 2>/dev/null)"
mode=$(arg dtest)
mnt() {
	mkdir -p /mnt/d
	if ! mount -t ext4 /dev/vda /mnt/d; then
		echo "dtest: mount failed"
		end
	fi
}
case $mode in
write)
	mnt
	echo "$(arg dtest_token)" >/mnt/d/persist.txt
	sync
	echo "dtest: wrote $(cat /mnt/d/persist.txt)"
	poweroff -f
	;;
check)
	mnt
	echo "dtest: found $(cat /mnt/d/persist.txt 2>/dev/null || echo nothing)"
	end
	;;
loop)
	mnt
	n=1
	while :; do
		if printf 'record %08d\n' $n |
			dd of=/mnt/d/log.txt bs=16 seek=$((n - 1)) conv=notrunc,fsync 2>/dev/null; then
			echo "dtest: fsynced $n"
		else
			echo "dtest: fsync of record $n failed"
			end
		fi
		n=$((n + 1))
	done
	;;
errors)
	if dd if=/dev/vda of=/dev/null bs=512 skip="$(arg dtest_sector)" count=1 iflag=direct \
		2>/dev/null; then
		echo "dtest: read returned ok"
	else
		echo "dtest: read failed"
	fi
	if dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/dev/null; then
		echo "dtest: fsync returned ok"
	else
		echo "dtest: fsync failed"
	fi
	end
	;;
bench)
	# Timed by the guest's clock (/proc/uptime, 10 ms), as dd itself would: this busybox's dd
	# prints no rate.
	mib=$(arg dtest_mib)
	for op in write read; do
		t0=$(cut -d' ' -f1 /proc/uptime)
		if [ $op = write ]; then
			dd if=/dev/zero of=/dev/vda bs=1M count="$mib" oflag=direct 2>/dev/null
		else
			dd if=/dev/vda of=/dev/null bs=1M count="$mib" iflag=direct 2>/dev/null
		fi || echo "dtest: dd $op failed"
		t1=$(cut -d' ' -f1 /proc/uptime)
		awk -v op=$op -v m="$mib" -v a="$t0" -v b="$t1" 'BEGIN {
			d = b - a > 0 ? b - a : 0.01
			printf "dtest: dd %s %d MiB in %.2f s: %.1f MiB/s\n", op, m, d, m / d }'
	done
	ops=$(arg dtest_ops)
	if [ -n "$ops" ] && [ -x /randio ]; then
		/randio /dev/vda "$ops" || echo "dtest: randio failed"
	fi
	end
	;;
mount)
	mnt
	echo "dtest: mounted"
	end
	;;
*) echo "dtest: unknown dtest=$mode"; end ;;
esac
