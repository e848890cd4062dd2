#!/bin/bash
# SPDX-License-Identifier: MIT
# Fetches Debian kernels for the QEMU kexec tests into a cache (downloaded with
# `apt-get download` when missing) and keeps of each: vmlinuz, config, and the modules the
# test initramfs needs (pmem, virtio disk, ext4, virtio NIC, nf_tables for ferry's network
# lock), uncompressed, with their load order. A cached kernel whose module list differs
# from MODULES (its modules.list stamp) is fetched again.
#
#   kernels.sh pick old|new|major      print the release to use (FERRY_KOLD/KNEW/KMAJOR override)
#   kernels.sh fetch RELEASE            make $cache/RELEASE/{vmlinuz,config,modules/,modules.order}
#   kernels.sh deb RELEASE              print the path of its .deb, downloaded into $cache/debs
#   kernels.sh dir                      print the cache dir
# Cache: $FERRY_KCACHE, default selftests/kexec/cache (gitignored).
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${FERRY_KCACHE:-$here/cache}
# what the test initramfs loads; modprobe --show-depends gives the order
MODULES="nd_e820 nd_pmem virtio_pci virtio_blk ext4 virtio_net nf_tables"

die() {
	echo "kernels.sh: $*" >&2
	exit 1
}

# The 6.1.0-NN-amd64 releases (or 6.12.N+deb12-amd64) the registry offers, oldest first.
releases() {
	apt-cache search --names-only "$1" 2>/dev/null | awk '{print $1}' |
		grep -E "$2" | sed 's/^linux-image-//' | sort -V | uniq
}

pick() {
	local r6=()
	case $1 in
	old) [ -n "${FERRY_KOLD:-}" ] && { echo "$FERRY_KOLD"; return; } ;;
	new) [ -n "${FERRY_KNEW:-}" ] && { echo "$FERRY_KNEW"; return; } ;;
	major) [ -n "${FERRY_KMAJOR:-}" ] && { echo "$FERRY_KMAJOR"; return; } ;;
	*) die "pick old|new|major" ;;
	esac
	if [ "$1" = major ]; then
		releases '^linux-image-6\.12\.' '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | tail -n 1
		return
	fi
	mapfile -t r6 < <(releases '^linux-image-6\.1\.0-' '^linux-image-6\.1\.0-[0-9]+-amd64$')
	[ "${#r6[@]}" -ge 2 ] || die "the package lists offer fewer than two linux-image-6.1.0-NN-amd64 (run apt-get update)"
	if [ "$1" = new ]; then
		echo "${r6[-1]}"
	else
		echo "${r6[-2]}"
	fi
}

# Unpack the package into a scratch dir, keep what the tests need, drop the rest.
fetch() {
	local rel=$1 dst=$cache/$1 tmp deb m mods
	[ -f "$dst/modules.order" ] && [ -f "$dst/vmlinuz" ] &&
		[ "$(cat "$dst/modules.list" 2>/dev/null)" = "$MODULES" ] && return 0
	command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' RETURN
	(cd "$tmp" && apt-get download -q "linux-image-$rel" >/dev/null 2>"$tmp/apt.err") ||
		die "apt-get download linux-image-$rel failed: $(tail -n 2 "$tmp/apt.err")"
	deb=$(ls "$tmp"/linux-image-*.deb)
	dpkg-deb -x "$deb" "$tmp/x"
	depmod -b "$tmp/x" "$rel"
	rm -rf "$dst.new"
	mkdir -p "$dst.new/modules"
	cp "$tmp/x/boot/vmlinuz-$rel" "$dst.new/vmlinuz"
	cp "$tmp/x/boot/config-$rel" "$dst.new/config"
	mods=$(for m in $MODULES; do
		modprobe -d "$tmp/x" -S "$rel" --show-depends "$m"
	done | awk '$1 == "insmod" && !seen[$2]++ {print $2}')
	for m in $mods; do
		local base
		base=$(basename "$m")
		case $base in
		*.ko.xz) xz -dc "$m" >"$dst.new/modules/${base%.xz}"; base=${base%.xz} ;;
		*.ko.zst) zstd -qdc "$m" >"$dst.new/modules/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$m" "$dst.new/modules/$base" ;;
		esac
		echo "$base" >>"$dst.new/modules.order"
	done
	echo "$MODULES" >"$dst.new/modules.list"
	rm -rf "$dst"
	mv "$dst.new" "$dst"
}

deb() {
	local d=$cache/debs f
	mkdir -p "$d"
	f=$(ls "$d"/linux-image-"$1"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$f" ]; then
		(cd "$d" && apt-get download -q "linux-image-$1" >/dev/null 2>"$d/apt.err") ||
			die "apt-get download linux-image-$1 failed: $(tail -n 2 "$d/apt.err")"
		f=$(ls "$d"/linux-image-"$1"_*.deb | head -n 1)
	fi
	echo "$f"
}

case ${1:-} in
pick) pick "${2:-}" ;;
deb) [ -n "${2:-}" ] || die "deb RELEASE"; deb "$2" ;;
fetch) [ -n "${2:-}" ] || die "fetch RELEASE"; fetch "$2" ;;
dir) echo "$cache" ;;
*) die "usage: kernels.sh pick old|new|major | fetch RELEASE | deb RELEASE | dir" ;;
esac
