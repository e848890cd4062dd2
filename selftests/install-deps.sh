#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian packages ferry's build and tests need, when any is missing.
set -e
PKGS="gcc make binutils pkg-config protobuf-c-compiler libprotobuf-c-dev libcap-dev
      libnl-3-dev libnl-route-3-dev libnftables-dev nftables libxxhash-dev e2fsprogs criu python3
      util-linux procps iproute2 qemu-system-x86 busybox-static kexec-tools cpio kmod xz-utils zstd
      debootstrap"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "need root to install:$missing (run: sudo apt-get install$missing)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
