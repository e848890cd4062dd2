#!/bin/sh
# SPDX-License-Identifier: MIT
# dracut pre-pivot hook (sourced by dracut's init, dracut-lib.sh loaded): with
# ferry.restore=SPEC, restore the checkpoint's trees into the real root at $NEWROOT before
# switch_root; never stops the boot. In a systemd initrd (dracut-pre-pivot.service) systemd
# sends SIGTERM, SIGHUP and SIGCONT to every process left from the initrd when it switches
# root: the restore leaves a guard (@ferry-guard) holding the trees until that is over.
if getarg ferry.restore= >/dev/null; then
	. /usr/share/ferry/ferry-boot.sh
	for m in nd_e820 nd_pmem dax_pmem virtio_pmem; do
		modprobe -q "$m" 2>/dev/null
	done
	if [ -n "${DRACUT_SYSTEMD:-}" ] || [ -d /run/systemd/system ]; then
		ferry_boot_restore "${NEWROOT:-/sysroot}" /usr/sbin/ferry --switch-root-guard
	else
		ferry_boot_restore "${NEWROOT:-/sysroot}" /usr/sbin/ferry
	fi
fi
