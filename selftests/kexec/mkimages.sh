#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds what the QEMU kexec test boots: a busybox initramfs (cpio, newc) with the modules
# of every given kernel, ferry and the early-boot restore script, and a small ext4 "real
# root" image (mke2fs -d, no mount needed) holding busybox init, ferry, kexec, mke2fs, the
# workloads, every kernel under /boot and the initramfs itself (what `ferry upgrade` loads).
#
#   mkimages.sh OUT FERRY WORKLOAD_DIR RELEASE...
# Makes OUT/initrd.cpio and OUT/root.img. Kernels come from kernels.sh's cache.
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$1 ferry=$2 wl=$3
shift 3
cache=$("$here/kernels.sh" dir)
PATH=$PATH:/sbin:/usr/sbin

die() {
	echo "mkimages.sh: $*" >&2
	exit 1
}

# copy_exec BIN DEST_ROOT [PATH_IN_DEST]: the binary and every shared library it loads
copy_exec() {
	local bin=$1 dst=$2 as=${3:-$1} lib
	mkdir -p "$dst/$(dirname "$as")"
	cp -L "$bin" "$dst/$as"
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$dst$lib" ] || cp -L --parents "$lib" "$dst"
	done
}

# busybox with its applets as symlinks (the initramfs and root share this layout)
busybox_tree() {
	local dst=$1 a
	mkdir -p "$dst/bin" "$dst/sbin" "$dst/usr/bin" "$dst/usr/sbin"
	cp /bin/busybox "$dst/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		[ -e "$dst/$a" ] || ln -s /bin/busybox "$dst/$a"
	done
	mkdir -p "$dst/proc" "$dst/sys" "$dst/dev" "$dst/tmp" "$dst/run" "$dst/root" "$dst/etc"
}

[ -x /bin/busybox ] && /bin/busybox --list-full >/dev/null 2>&1 ||
	die "no static busybox at /bin/busybox (apt-get install busybox-static)"
command -v kexec >/dev/null || die "no kexec (apt-get install kexec-tools)"
[ -x /usr/sbin/mke2fs ] || die "no /usr/sbin/mke2fs (apt-get install e2fsprogs)"

rm -rf "$out/initrd" "$out/rootfs"
mkdir -p "$out/initrd" "$out/rootfs"

# --- initramfs -----------------------------------------------------------------------
ir=$out/initrd
busybox_tree "$ir"
rm -f "$ir/sbin/switch_root" "$ir/sbin/init"
ln -s /bin/busybox "$ir/sbin/switch_root"
for rel in "$@"; do
	[ -f "$cache/$rel/modules.order" ] || die "kernel $rel not fetched (kernels.sh fetch $rel)"
	mkdir -p "$ir/lib/modules/$rel"
	cp "$cache/$rel/modules/"*.ko "$cache/$rel/modules.order" "$ir/lib/modules/$rel/"
done
copy_exec "$ferry" "$ir" /usr/sbin/ferry
copy_exec /usr/sbin/mke2fs "$ir" /usr/sbin/mke2fs
# what `make install` puts where the initramfs-tools hook copies it from
mkdir -p "$ir/scripts/local-bottom" "$ir/usr/share/ferry"
cp "$top/initramfs/ferry-boot.sh" "$ir/usr/share/ferry/ferry-boot.sh"
cp "$top/initramfs/initramfs-tools/scripts/local-bottom/ferry" "$ir/scripts/local-bottom/ferry"
cp "$here/guest/initrd-init" "$ir/init"
cp "$here/guest/e2e-damage.sh" "$ir/e2e-damage.sh"
chmod +x "$ir/init"
(cd "$ir" && find . | cpio -o -H newc --quiet) >"$out/initrd.cpio"

# --- real root -----------------------------------------------------------------------
rf=$out/rootfs
busybox_tree "$rf"
rm -f "$rf/sbin/init"
ln -s /bin/busybox "$rf/sbin/init"
copy_exec "$ferry" "$rf" /usr/sbin/ferry
copy_exec "$(command -v kexec)" "$rf" /sbin/kexec
copy_exec /usr/sbin/mke2fs "$rf" /usr/sbin/mke2fs
ln -sf mke2fs "$rf/usr/sbin/mkfs.ext4"
mkdir -p "$rf/opt/e2e" "$rf/var/e2e" "$rf/boot" "$rf/etc/e2e"
for w in "$wl"/*; do
	copy_exec "$w" "$rf" "/opt/e2e/$(basename "$w")"
done
cp "$here/guest/stage.sh" "$here/guest/steps.sh" "$rf/etc/e2e/"
chmod +x "$rf/etc/e2e/stage.sh"
printf '::sysinit:/etc/e2e/stage.sh\n' >"$rf/etc/inittab"
for rel in "$@"; do
	cp "$cache/$rel/vmlinuz" "$rf/boot/vmlinuz-$rel"
	mkdir -p "$rf/lib/modules/$rel"
	cp "$cache/$rel/modules/"*.ko "$cache/$rel/modules.order" "$rf/lib/modules/$rel/"
done
cp "$out/initrd.cpio" "$rf/boot/initrd.img"
size=$(du -sm "$rf" | cut -f1)
rm -f "$out/root.img"
/usr/sbin/mke2fs -q -t ext4 -L e2eroot -d "$rf" "$out/root.img" "$((size + 96))M"
