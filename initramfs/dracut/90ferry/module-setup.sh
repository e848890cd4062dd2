#!/bin/bash
# SPDX-License-Identifier: MIT
# dracut module: ferry (with its libraries), the early-boot restore script with the tools it
# runs, the pmem and ext4 drivers, and a pre-pivot hook (the real root is mounted at
# $NEWROOT, switch_root is next). Installed as /usr/lib/dracut/modules.d/90ferry/.

check() {
	require_binaries ferry || return 1
	return 0
}

depends() {
	return 0
}

installkernel() {
	# the store's filesystem and persistent memory, also when host-only (the store is not
	# mounted while the initramfs is built); built-in or missing ones are skipped
	hostonly='' instmods nd_e820 nd_pmem libnvdimm dax_pmem virtio_pmem ext4
	# the network lock of the TCP connections the restore brings back
	hostonly='' instmods nf_tables
}

install() {
	inst_binary "$(command -v ferry)" /usr/sbin/ferry
	inst_simple /usr/share/ferry/ferry-boot.sh /usr/share/ferry/ferry-boot.sh
	# ferry-boot.sh's tools; dracut's base has sh, mount, cat but not grep or tail
	inst_multiple grep tail cat mount umount modprobe
	# after 50-mount-usr: the restored tasks map files from a separate /usr too
	inst_hook pre-pivot 90 "$moddir/ferry-restore.sh"
}
