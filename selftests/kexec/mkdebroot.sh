#!/bin/bash
# SPDX-License-Identifier: MIT
# The full variant's real root: a Debian 12 minbase (debootstrap, cached), the kernels'
# packages unpacked into it, ferry put in with `make install` (its initramfs-tools hook and
# local-bottom script), and Debian's own mkinitramfs run in a chroot for each kernel: the
# initrd the guest boots and `ferry upgrade` loads is the real one, built with ferry's hook.
# The test's steps, workloads and a static busybox (for its init and tools) go in /opt/e2e.
#
#   mkdebroot.sh OUT FERRY WORKLOAD_DIR RELEASE...
# Makes OUT/debroot.img (ext4) and OUT/debroot/boot/initrd.img-RELEASE.
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$1 ferry=$2 wl=$3
shift 3
cache=$("$here/kernels.sh" dir)
base=$cache/debroot-bookworm
rf=$out/debroot
PATH=$PATH:/sbin:/usr/sbin
PKGS=initramfs-tools,kmod,busybox,libprotobuf-c1,libcap2,libxxhash0,kexec-tools,e2fsprogs,zstd,gzip
MIRROR=${FERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() {
	echo "mkdebroot.sh: $*" >&2
	exit 1
}

command -v debootstrap >/dev/null || die "no debootstrap (apt-get install debootstrap)"
if [ ! -f "$base/.complete" ]; then
	rm -rf "$base"
	debootstrap --variant=minbase --include="$PKGS" bookworm "$base" "$MIRROR" \
		>"$cache/debootstrap.log" 2>&1 || die "debootstrap failed: $(tail -n 3 "$cache/debootstrap.log")"
	rm -rf "$base/var/cache/apt/archives/"*.deb
	touch "$base/.complete"
fi

rm -rf "$rf"
cp -a "$base" "$rf"
make -s -C "$top" install DESTDIR="$rf" >/dev/null
cp -L "$ferry" "$rf/usr/sbin/ferry"

# the initrd holds what the QEMU guest needs, not what this host has (a zstd initrd hangs
# 6.1 under TCG here: gzip)
cat >"$rf/etc/initramfs-tools/conf.d/e2e" <<'EOF'
MODULES=list
COMPRESS=gzip
EOF
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic >"$rf/etc/initramfs-tools/modules"

inroot() {
	chroot "$rf" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
mounted=""
undo() {
	local m
	for m in $mounted; do umount -l "$m" 2>/dev/null || true; done
}
trap undo EXIT
for m in proc sys dev; do
	mount --bind "/$m" "$rf/$m"
	mounted="$rf/$m $mounted"
done
for rel in "$@"; do
	# keep the root's /lib -> usr/lib symlink (usrmerge): plain dpkg-deb -x replaces it
	dpkg-deb --fsys-tarfile "$("$here/kernels.sh" deb "$rel")" |
		tar -x --keep-directory-symlink -C "$rf"
	inroot depmod "$rel"
	inroot mkinitramfs -o "/boot/initrd.img-$rel" "$rel" >"$out/mkinitramfs-$rel.log" 2>&1 ||
		die "mkinitramfs $rel failed: $(tail -n 3 "$out/mkinitramfs-$rel.log")"
	# ferry's hook must have put ferry and its boot script in
	inroot lsinitramfs "/boot/initrd.img-$rel" >"$out/lsinitramfs-$rel.txt"
	grep -q 'usr/sbin/ferry$' "$out/lsinitramfs-$rel.txt" ||
		die "the initrd for $rel has no ferry: the hook did not run"
done
undo
mounted=""

# the test: steps, workloads, busybox init and tools (shadowing Debian's, but not mke2fs)
mkdir -p "$rf/opt/e2e/bin" "$rf/var/e2e" "$rf/etc/e2e"
cp /bin/busybox "$rf/opt/e2e/busybox"
for a in $(/bin/busybox --list); do
	case $a in mke2fs | mkfs.* | mkswap) continue ;; esac
	ln -sf ../busybox "$rf/opt/e2e/bin/$a"
done
for w in "$wl"/*; do
	cp "$w" "$rf/opt/e2e/$(basename "$w")"
done
cp "$here/guest/stage.sh" "$here/guest/steps.sh" "$rf/etc/e2e/"
chmod +x "$rf/etc/e2e/stage.sh"
printf '::sysinit:/etc/e2e/stage.sh\n' >"$rf/etc/inittab"
size=$(du -sm "$rf" | cut -f1)
rm -f "$out/debroot.img"
mke2fs -q -t ext4 -L e2eroot -d "$rf" "$out/debroot.img" "$((size + 160))M"
