#!/bin/sh
# SPDX-License-Identifier: MIT
# dracut pre-pivot hook (sourced by dracut's init, dracut-lib.sh loaded): with
# ferry.restore=SPEC, restore the checkpoint's trees into the real root at $NEWROOT before
# switch_root; never stops the boot. In a systemd initrd it does not restore: systemd
# sends SIGTERM to every process left from the initrd when it switches root.
if getarg ferry.restore= >/dev/null; then
	. /usr/share/ferry/ferry-boot.sh
	if [ -n "${DRACUT_SYSTEMD:-}" ] || [ -d /run/systemd/system ]; then
		ferry_klog "restore refused: in a systemd initrd, systemd would kill the restored tasks when it switches root; the checkpoint stays in $(ferry_boot_spec) for ferry restore --store $(ferry_boot_spec) (or build the initrd without dracut's systemd modules)" 3
	else
		for m in nd_e820 nd_pmem dax_pmem virtio_pmem; do
			modprobe -q "$m" 2>/dev/null
		done
		ferry_boot_restore "${NEWROOT:-/sysroot}" /usr/sbin/ferry
	fi
fi
