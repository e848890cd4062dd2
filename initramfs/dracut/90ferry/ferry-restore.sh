#!/bin/sh
# SPDX-License-Identifier: MIT
# dracut pre-pivot hook (sourced by dracut's init, dracut-lib.sh loaded): with
# ferry.restore=SPEC, restore the checkpoint's trees into the real root at $NEWROOT before
# switch_root; never stops the boot.
if getarg ferry.restore= >/dev/null; then
	for m in nd_e820 nd_pmem dax_pmem virtio_pmem; do
		modprobe -q "$m" 2>/dev/null
	done
	. /usr/share/ferry/ferry-boot.sh
	ferry_boot_restore "${NEWROOT:-/sysroot}" /usr/sbin/ferry
fi
