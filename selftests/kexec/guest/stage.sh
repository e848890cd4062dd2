#!/bin/sh
# SPDX-License-Identifier: MIT
# The real root's sysinit (busybox init runs it; systemd, as e2e.service, in the root of
# the dracut-systemd flavor): one step of the QEMU kexec test, chosen
# by e2e=STEP on the kernel command line. Everything it finds is printed as "E2E: ..."
# lines on the console, which the host-side driver (e2e.py) stamps and judges.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
# the Debian root of the full variant: busybox's tools first, / read-write (initramfs-tools
# mounts it read-only unless ferry's boot script had to remount it)
[ -d /opt/e2e/bin ] && PATH=/opt/e2e/bin:$PATH
export PATH
mount -o remount,rw / 2>/dev/null
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t tmpfs tmp /tmp
ip link set lo up
echo "E2E: T init $(uname -r)"
step=
for w in $(cat /proc/cmdline); do
	case $w in e2e=*) step=${w#e2e=} ;; esac
done
. /etc/e2e/steps.sh
"step_${step:-none}"
echo "E2E: done"
sync
poweroff -f
