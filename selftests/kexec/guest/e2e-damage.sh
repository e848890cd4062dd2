# SPDX-License-Identifier: MIT
# The failure cases of the QEMU test, done in the test initramfs before ferry's boot script
# runs (sourced by initrd-init with $damage from e2e.damage=a,b):
#   image   change one byte of a pages image in the newest checkpoint (saved on the root)
#   unflip  put that byte back
#   midway  hold the PID of the second workload, so that its tree fails to restore after
#           the first one was restored (which must then be killed)
# "store" (no pmem driver loaded) is handled by initrd-init itself.
holder=
e2e_pages() {
	ls /mnt/ckpt-*/tree-1/pages-*.img 2>/dev/null | tail -n 1
}

case ",$damage," in
*,image,* | *,unflip,*)
	mkdir -p /mnt
	mode=unflip
	case ",$damage," in *,image,*) mode=image ;; esac
	if mount -t ext4 /dev/pmem0 /mnt; then
		f=$(e2e_pages)
		if [ -z "$f" ]; then
			echo "E2E: FAIL damage: no pages image in the store"
		elif [ $mode = image ]; then
			dd if="$f" bs=1 skip=100 count=1 2>/dev/null >/root/var/e2e/saved.byte
			printf '\377' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
			echo "E2E: damage: byte 100 of $f changed"
		else
			dd if=/root/var/e2e/saved.byte of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
			echo "E2E: damage: byte 100 of $f put back"
		fi
		umount /mnt
	else
		echo "E2E: FAIL damage: cannot mount /dev/pmem0"
	fi
	;;
esac
case ",$damage," in
*,midway,*)
	pid=$(cat /root/var/e2e/counter/pid)
	echo $((pid - 1)) >/proc/sys/kernel/ns_last_pid
	sleep 600 &
	holder=$!
	echo "E2E: damage: PID $holder held (the counter's is $pid)"
	;;
esac
