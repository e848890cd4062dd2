#!/bin/bash
# SPDX-License-Identifier: MIT
# dracut module: ferry (with its libraries), the early-boot restore script and a
# pre-pivot hook (the real root is mounted at $NEWROOT, switch_root is next).
# Installed as /usr/lib/dracut/modules.d/90ferry/.

check() {
	require_binaries ferry || return 1
	return 0
}

depends() {
	return 0
}

installkernel() {
	instmods nd_e820 nd_pmem libnvdimm dax_pmem virtio_pmem ext4
}

install() {
	inst_binary "$(command -v ferry)" /usr/sbin/ferry
	inst_simple /usr/share/ferry/ferry-boot.sh /usr/share/ferry/ferry-boot.sh
	inst_hook pre-pivot 50 "$moddir/ferry-restore.sh"
}
