#!/bin/bash
# SPDX-License-Identifier: MIT
# The full variant's real root: a Debian 12 minbase (debootstrap, cached), the kernels'
# packages unpacked into it, ferry put in with `make install` (its initramfs-tools hook and
# local-bottom script), and Debian's own mkinitramfs run in a chroot for each kernel: the
# initrd the guest boots and `ferry upgrade` loads is the real one, built with ferry's hook.
# With --dracut, the root has Debian's dracut instead (it conflicts with initramfs-tools: a
# second cached base), and the initrds are dracut's, with ferry's 90ferry module; with
# --dracut-systemd, that root also has systemd, so dracut puts systemd in the initrd, and
# systemd is its init too (the test's step runs as e2e.service).
# The test's steps, workloads and a static busybox (for its init and tools) go in /opt/e2e.
#
#   mkdebroot.sh [--dracut|--dracut-systemd] OUT FERRY WORKLOAD_DIR RELEASE...
# Makes OUT/NAME.img (ext4) and OUT/NAME/boot/initrd.img-RELEASE, NAME debroot (--dracut:
# dracutroot, --dracut-systemd: dracutsdroot).
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
gen=initramfs-tools name=debroot
case ${1:-} in
--dracut) gen=dracut name=dracutroot; shift ;;
--dracut-systemd) gen=dracut,systemd name=dracutsdroot; shift ;;
esac
out=$1 ferry=$2 wl=$3
shift 3
cache=$("$here/kernels.sh" dir)
base=$cache/debroot-bookworm
[ $name = debroot ] || base=$cache/debroot-bookworm-${name%root}
rf=$out/$name
PATH=$PATH:/sbin:/usr/sbin
# ferry's libraries (ldd ferry) and the test's tools
LIBS=libprotobuf-c1,libcap2,libxxhash0,libnl-3-200,libnl-route-3-200,libnftables1
PKGS=$gen,kmod,busybox,$LIBS,kexec-tools,e2fsprogs,zstd,gzip
MIRROR=${FERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() {
	echo "mkdebroot.sh: $*" >&2
	exit 1
}

command -v debootstrap >/dev/null || die "no debootstrap (apt-get install debootstrap)"
# the cached base is good for the package list it was made with
if [ "$(cat "$base/.complete" 2>/dev/null)" != "$PKGS" ]; then
	rm -rf "$base"
	debootstrap --variant=minbase --include="$PKGS" bookworm "$base" "$MIRROR" \
		>"$cache/debootstrap-$name.log" 2>&1 ||
		die "debootstrap failed: $(tail -n 3 "$cache/debootstrap-$name.log")"
	rm -rf "$base/var/cache/apt/archives/"*.deb
	echo "$PKGS" >"$base/.complete"
fi

rm -rf "$rf"
cp -a "$base" "$rf"
make -s -C "$top" install DESTDIR="$rf" >/dev/null
cp -L "$ferry" "$rf/usr/sbin/ferry"

# the initrd holds what the QEMU guest needs, not what this host has (a zstd initrd hangs
# 6.1 under TCG here: gzip)
# (virtio_net: the NIC of the TCP connection the upgrade carries)
GUEST_MODULES="virtio_pci virtio_blk virtio_net ext4 crc32c_generic"
if [ $name != debroot ]; then
	# not host-only (this host is not the guest), and only these drivers besides what
	# the modules (ferry's: pmem, ext4) install; virtio loaded first thing
	cat >"$rf/etc/dracut.conf.d/e2e.conf" <<EOF
hostonly="no"
compress="gzip"
drivers=" $GUEST_MODULES "
force_drivers=" virtio_pci virtio_blk virtio_net "
filesystems=" ext4 "
# its poweroff/reboot/halt are systemd's, not in this root
omit_dracutmodules+=" shutdown "
EOF
else
	cat >"$rf/etc/initramfs-tools/conf.d/e2e" <<'EOF'
MODULES=list
COMPRESS=gzip
EOF
	# shellcheck disable=SC2086
	printf '%s\n' $GUEST_MODULES >"$rf/etc/initramfs-tools/modules"
fi

inroot() {
	chroot "$rf" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
mkinitrd_tools() {
	inroot mkinitramfs -o "/boot/initrd.img-$1" "$1" >"$out/mkinitramfs-$1.log" 2>&1 ||
		die "mkinitramfs $1 failed: $(tail -n 3 "$out/mkinitramfs-$1.log")"
	# ferry's hook must have put ferry and its boot script in
	inroot lsinitramfs "/boot/initrd.img-$1" >"$out/lsinitramfs-$1.txt"
	grep -q 'usr/sbin/ferry$' "$out/lsinitramfs-$1.txt" ||
		die "the initrd for $1 has no ferry: the hook did not run"
}

# dracut's image, checked with lsinitrd: ferry's module, its hook, script, binary and drivers
mkinitrd_dracut() {
	local l=$out/lsinitrd-$name-$1.txt f
	inroot dracut --force --kver "$1" "/boot/initrd.img-$1" >"$out/dracut-$name-$1.log" 2>&1 ||
		die "dracut $1 failed: $(tail -n 3 "$out/dracut-$name-$1.log")"
	inroot lsinitrd "/boot/initrd.img-$1" >"$l"
	for f in '^ferry$' ' usr/sbin/ferry$' ' usr/share/ferry/ferry-boot.sh$' \
		' usr/lib/dracut/hooks/pre-pivot/90-ferry-restore.sh$' '/nd_pmem\.ko' '/nd_e820\.ko' \
		'/virtio_blk\.ko' '/ext4\.ko'; do
		grep -q "$f" "$l" || die "the dracut initrd for $1 has no $f (see $l)"
	done
	if [ $name = dracutsdroot ] && ! grep -q ' usr/lib/systemd/systemd$' "$l"; then
		die "the dracut initrd for $1 has no systemd (see $l)"
	fi
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
	if [ $name != debroot ]; then
		mkinitrd_dracut "$rel"
	else
		mkinitrd_tools "$rel"
	fi
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
# systemd all the way: the initrd's (step_upgraded also checks what the switch-root guard
# said) and the real root's init, which runs the step as a service on the console
if [ $name = dracutsdroot ]; then
	touch "$rf/etc/e2e/systemd-initrd"
	cat >"$rf/etc/systemd/system/e2e.service" <<'EOF'
[Unit]
Description=ferry's QEMU test: this boot's step
After=local-fs.target

[Service]
Type=simple
ExecStart=/etc/e2e/stage.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no

[Install]
WantedBy=multi-user.target
EOF
	ln -sf /etc/systemd/system/e2e.service "$rf/etc/systemd/system/multi-user.target.wants/"
	# nothing else on the console
	ln -sf /dev/null "$rf/etc/systemd/system/serial-getty@.service"
	ln -sf /dev/null "$rf/etc/systemd/system/getty@.service"
fi
chmod +x "$rf/etc/e2e/stage.sh"
printf '::sysinit:/etc/e2e/stage.sh\n' >"$rf/etc/inittab"
size=$(du -sm "$rf" | cut -f1)
rm -f "$out/$name.img"
mke2fs -q -t ext4 -L e2eroot -d "$rf" "$out/$name.img" "$((size + 160))M"
