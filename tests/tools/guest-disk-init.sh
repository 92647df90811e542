#!/bin/sh
# The guest side of tests/tools/guest-disk.sh and tools/bench-guest-disk.sh: /dtest in an initramfs appended to the default one,
# run by rdinit=/dtest. dtest=MODE on the command line chooses what it does with /dev/vda:
#   write TOKEN   mount the ext4 file system, write TOKEN to /persist.txt, sync, poweroff -f
#   check         mount it, print /persist.txt
#   loop          mount it, append 16-byte records to /log.txt, each with its own fsync, and
#                 print each record's number once its fsync returned (until killed)
#   flush         write one block of the raw disk with fsync: print whether the fsync failed
#   bench         dd 1 MiB blocks with direct I/O: write, then read, dtest_mib=N of them
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
flush)
	if dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/dev/null; then
		echo "dtest: fsync returned ok"
	else
		echo "dtest: fsync failed"
	fi
	end
	;;
bench)
	mib=$(arg dtest_mib)
	for op in write read; do
		if [ $op = write ]; then
			out=$(dd if=/dev/zero of=/dev/vda bs=1M count="$mib" oflag=direct 2>&1)
		else
			out=$(dd if=/dev/vda of=/dev/null bs=1M count="$mib" iflag=direct 2>&1)
		fi
		echo "dtest: dd $op $(echo "$out" | tail -1)"
	done
	end
	;;
mount)
	mnt
	echo "dtest: mounted"
	end
	;;
*) echo "dtest: unknown dtest=$mode"; end ;;
esac
