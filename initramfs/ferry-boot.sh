# SPDX-License-Identifier: MIT
# ferry's early-boot restore, shared by the initramfs-tools script, the dracut hook and the
# QEMU test initramfs (POSIX sh; busybox ash, dash and bash run it). Source it, then call
#   ferry_boot_restore ROOTMNT [FERRY [OPTION...]]
# after the real root is mounted at ROOTMNT and before switch_root (OPTIONs go to ferry
# restore: a systemd initrd passes --switch-root-guard). With ferry.restore=SPEC
# on the kernel command line it restores the newest sealed checkpoint of that store into the
# real root (ferry restore --root: ferry itself runs from the initramfs, the restored tasks
# get ROOTMNT as their root) and logs to the kernel log. It never fails the boot: on any
# error it says why and leaves the checkpoint in the store for `ferry restore` by hand.

ferry_klog() {
	# <5> notice, <3> error; the console shows both unless the log level is lowered
	echo "<${2:-5}>ferry: $1" >/dev/kmsg 2>/dev/null || echo "ferry: $1" >&2
}

ferry_boot_spec() {
	local w
	for w in $(cat /proc/cmdline); do
		case $w in
		ferry.restore=*) echo "${w#ferry.restore=}" ;;
		esac
	done | tail -n 1
}

# mount what ferry and the restored tasks need inside ROOTMNT; remember it for the undo
ferry_boot_mounts() {
	ferry_mounted=""
	if ! grep -q " $1/proc " /proc/mounts; then
		mount -t proc proc "$1/proc" && ferry_mounted="$1/proc"
	fi
	if ! grep -q " $1/dev " /proc/mounts; then
		mount -o bind /dev "$1/dev" && ferry_mounted="$ferry_mounted $1/dev"
	fi
}

ferry_boot_umounts() {
	local m
	for m in $ferry_mounted; do
		umount -l "$m" 2>/dev/null || ferry_klog "cannot unmount $m" 3
	done
}

ferry_boot_restore() {
	local rootmnt=$1 ferry=${2:-/usr/sbin/ferry} spec log rc line
	shift
	if [ $# -gt 0 ]; then shift; fi
	spec=$(ferry_boot_spec)
	[ -n "$spec" ] || return 0
	log=/run/ferry-restore.log
	[ -d /run ] || log=/tmp/ferry-restore.log
	ferry_klog "restoring the checkpoint in $spec into $rootmnt"
	if [ ! -x "$ferry" ]; then
		ferry_klog "no ferry at $ferry in the initramfs; the checkpoint stays in $spec" 3
		return 0
	fi
	# the restored tasks reopen their files for writing: the real root must be read-write
	if grep -q " $rootmnt [^ ]* ro[, ]" /proc/mounts &&
		! mount -o remount,rw "$rootmnt"; then
		ferry_klog "cannot remount $rootmnt read-write; the checkpoint stays in $spec" 3
		return 0
	fi
	# the network lock of TCP connections coming back (no lock: ferry warns and goes on)
	modprobe -q nf_tables 2>/dev/null
	ferry_boot_mounts "$rootmnt"
	rc=0
	"$ferry" restore --store "$spec" --root "$rootmnt" -d -v3 "$@" >"$log" 2>&1 </dev/null || rc=$?
	ferry_boot_umounts
	while read -r line; do
		ferry_klog "$line" 6
	done <"$log"
	if [ "$rc" = 0 ]; then
		ferry_klog "restore done: the tasks run again in $rootmnt"
	else
		ferry_klog "restore failed (exit $rc); booting on, the checkpoint stays in $spec for ferry restore --store $spec" 3
	fi
	return 0
}
