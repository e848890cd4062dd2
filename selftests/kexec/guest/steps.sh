# SPDX-License-Identifier: MIT
# The steps of the QEMU kexec test, sourced by stage.sh. Workloads are ZDTM-style programs
# (selftests/zdtm/lib.h): each runs in /var/e2e/NAME on the real root, writes its ready
# file, and on SIGTERM checks its state from inside and prints PASS or FAIL.
W=/var/e2e
STORE=pmem:/dev/pmem0
# the initramfs for kernel $1: Debian's (full variant, built by mkinitramfs with ferry's
# hook) or the test's busybox one, shared by every kernel
initrd_for() {
	if [ -f "/boot/initrd.img-$1" ]; then echo "/boot/initrd.img-$1"; else echo /boot/initrd.img; fi
}

say() { echo "E2E: $*"; }
pass() { say "PASS $*"; }
fail() { say "FAIL $*"; }

# start_wl NAME PROG [ARGS]: start it detached in its own session, wait until ready. A
# server (tcpserver) makes a file "listening" first: the host's peer connects when the
# console says "T tcp-listen".
start_wl() {
	local name=$1 i=0 said=
	shift
	rm -rf "${W:?}/$name"
	mkdir -p "$W/$name"
	(cd "$W/$name" && ZT_READY=$W/$name/ready setsid "$@" </dev/null >"$W/$name/out" 2>&1 &)
	while [ ! -f "$W/$name/ready" ] && [ $i -lt 1200 ]; do
		if [ -z "$said" ] && [ -f "$W/$name/listening" ]; then
			say "T tcp-listen"
			said=1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -f "$W/$name/ready" ]; then
		fail "$name: not ready after 120 s: $(tail -n 3 "$W/$name/out")"
		return 1
	fi
	sed -n 's/^pid //p' "$W/$name/ready" >"$W/$name/pid"
}

wl_pid() { cat "$W/$1/pid"; }

# the guest side of QEMU's user-mode network, static (slirp's defaults): the NIC the
# host-forwarded port reaches, for tcpserver. Only boot 1 does this: in the next kernel
# ferry's restore brings up the network it saved with the connection.
net_up() {
	local i=0 dev=
	# eth0 in the busybox initramfs; a udev-named one (ens*, enp*) in the Debian roots
	while [ -z "$dev" ] && [ $i -lt 100 ]; do
		dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
		[ -n "$dev" ] || sleep 0.1
		i=$((i + 1))
	done
	if ! { [ -n "$dev" ] && ip addr add 10.0.2.15/24 dev "$dev" && ip link set "$dev" up &&
		ip route add default via 10.0.2.2; }; then
		fail "network: cannot configure the NIC '$dev': $(ip link 2>&1 | tr '\n' ' ')"
		return 1
	fi
}

# tcp_flowing: wait until tcpserver receives 25 more records from the host (its rx file;
# after a restore the first may come only when slirp retransmits: its backoff is at most
# 12 s), so that its verdict covers the stream after the restore
tcp_flowing() {
	local n0 i=0
	n0=$(cat "$W/tcpserver/rx" 2>/dev/null || echo 0)
	while [ "$(cat "$W/tcpserver/rx" 2>/dev/null || echo 0)" -le "$((n0 + 25))" ] && [ $i -lt 1200 ]; do
		grep -q FAIL "$W/tcpserver/out" && return 1 # its verdict says why
		sleep 0.1
		i=$((i + 1))
	done
	if [ $i -ge 1200 ]; then
		fail "tcpserver: no record from the host for 120 s (it has $n0)"
		return 1
	fi
	say "T tcp-flowing"
	say "note tcpserver: records from the host arrive ($n0 -> $(cat "$W/tcpserver/rx") after $((i / 10)).$((i % 10)) s)"
}

# verify_wl NAME: SIGTERM, wait for its verdict (it is not our child after a restore)
verify_wl() {
	local name=$1 pid i=0
	pid=$(wl_pid "$name")
	if ! kill -TERM "$pid" 2>/dev/null; then
		fail "$name: PID $pid is not running"
		return 1
	fi
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sed "s/^/E2E: out $name: /" "$W/$name/out"
	if grep -q ': PASS$' "$W/$name/out" && ! grep -q 'FAIL' "$W/$name/out"; then
		pass "$name"
	else
		fail "$name: $(tail -n 3 "$W/$name/out" | tr '\n' ' ')"
	fi
}

# the workloads' PIDs must be free in the next kernel's early boot: start them high
high_pids() {
	echo 5000 >/proc/sys/kernel/ns_last_pid
}

step_none() {
	fail "no e2e= step on the command line"
}

# ferry on this guest kernel: check, then dump -D and restore of two workloads
step_smoke() {
	local name rc opt
	ferry check >/tmp/check.out 2>&1
	rc=$?
	sed 's/^/E2E: check: /' /tmp/check.out
	[ $rc = 0 ] && pass "smoke-check" || fail "smoke-check: ferry check exit $rc"
	net_up
	local wl="anon256m file_offset counter tcpserver"
	[ "$(arg e2e.tcp)" = 0 ] && wl="anon256m file_offset counter"
	for name in $wl; do
		start_wl "$name" "/opt/e2e/$name" || continue
		rc=0 opt=
		[ "$name" = tcpserver ] && opt=--tcp-established
		# shellcheck disable=SC2086
		ferry dump $opt -t "$(wl_pid "$name")" -D "/tmp/img-$name" -v4 -o dump.log || rc=$?
		if [ $rc != 0 ]; then
			fail "smoke-dump-$name: exit $rc: $(grep -i 'error\|fail' "/tmp/img-$name/dump.log" | tail -n 5 | tr '\n' ' ')"
			continue
		fi
		# shellcheck disable=SC2086
		ferry restore $opt -D "/tmp/img-$name" -d -v4 -o restore.log || rc=$?
		if [ $rc != 0 ]; then
			fail "smoke-restore-$name: exit $rc: $(grep -i 'error\|fail' "/tmp/img-$name/restore.log" | tail -n 5 | tr '\n' ' ')"
			continue
		fi
		[ "$name" = tcpserver ] && tcp_flowing
		verify_wl "$name"
	done
}

UPGRADE_WL="anon256m file_offset counter"

arg() {
	local w v=
	for w in $(cat /proc/cmdline); do
		case $w in "$1="*) v=${w#"$1="} ;; esac
	done
	echo "$v"
}

# boot 1, the old kernel: workloads, then ferry upgrade into e2e.next
step_upgrade() {
	local next name trees="" rc=0
	next=$(arg e2e.next)
	high_pids
	ferry store init "$STORE" >/tmp/init.out 2>&1 || {
		fail "store-init: $(tail -n 3 /tmp/init.out | tr '\n' ' ')"
		return
	}
	for name in $UPGRADE_WL; do
		start_wl "$name" "/opt/e2e/$name" || return
		trees="$trees -t $(wl_pid "$name")"
	done
	tree_capable && trees="$trees -t $(wl_pid pipetree)"
	tcp_capable && trees="--tcp-established $trees -t $(wl_pid tcpserver)"
	uname -r >"$W/kernel.before"
	dry_run "$next" "$trees"
	volatile_refused "$next"
	say "T upgrade-start"
	# shellcheck disable=SC2086
	ferry upgrade --kernel "/boot/vmlinuz-$next" --initrd "$(initrd_for "$next")" --store "$STORE" \
		--append "e2e=upgraded" $trees || rc=$?
	fail "upgrade: ferry upgrade returned (exit $rc) instead of entering $next"
}

# The 3-process tree with a pipe needs process trees and pipes in ferry: ask ferry itself
# (a dry run), and SKIP with its reason when it cannot dump them yet.
tree_capable() {
	start_wl pipetree /opt/e2e/pipetree || return 1
	if ferry upgrade --dry-run --kernel "/boot/vmlinuz-$(arg e2e.next)" --initrd \
		"$(initrd_for "$(arg e2e.next)")" --store "$STORE" -t "$(wl_pid pipetree)" >/tmp/cap.out 2>&1; then
		say "note: this ferry dumps process trees with pipes: pipetree is upgraded too"
		echo pipetree >"$W/with-tree"
		return 0
	fi
	say "SKIP pipetree (3-process tree with a pipe): this ferry cannot dump it yet: $(grep -m1 'not supported' /tmp/cap.out)"
	kill -9 -"$(wl_pid pipetree)" 2>/dev/null
	rm -f "$W/with-tree"
	return 1
}

# The TCP connection from the host to tcpserver needs `ferry upgrade --tcp-established`
# (ferry's early-boot restore brings up the network it saved and repairs the socket): SKIP
# with the reason when this ferry's upgrade has no such option.
tcp_capable() {
	rm -f "$W/with-tcp"
	if [ "$(arg e2e.tcp)" = 0 ]; then
		say "SKIP tcpserver (a TCP connection from the host): FERRY_E2E_TCP=0"
		return 1
	fi
	if ! ferry upgrade --help 2>&1 | grep -q -- --tcp-established; then
		say "SKIP tcpserver (a TCP connection from the host): this ferry's upgrade has no --tcp-established"
		return 1
	fi
	net_up || return 1
	start_wl tcpserver /opt/e2e/tcpserver || return 1
	echo tcpserver >"$W/with-tcp"
}

# a process holding a file on tmpfs (gone in the next kernel) is refused by the
# pre-flight, naming the file, and keeps running
volatile_refused() {
	local pid st
	mkdir -p /tmp/e2e-volatile
	mount -t tmpfs e2e-volatile /tmp/e2e-volatile || { fail "volatile: cannot mount a tmpfs"; return; }
	cd / || return
	setsid sleep 600 3>/tmp/e2e-volatile/held </dev/null >/dev/null 2>&1 &
	pid=$!
	cd - >/dev/null || return
	sleep 0.3
	if ferry upgrade --dry-run --kernel "/boot/vmlinuz-$1" --initrd "$(initrd_for "$1")" \
		--store "$STORE" -t "$pid" >/tmp/volatile.out 2>&1; then
		fail "volatile: a file on tmpfs did not refuse the upgrade"
	elif ! grep -q '/tmp/e2e-volatile/held.*does not survive the kexec' /tmp/volatile.out; then
		fail "volatile: refused without naming the file: $(tail -n 2 /tmp/volatile.out | tr '\n' ' ')"
	else
		st=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
		case $st in
		S | R) pass "volatile: a file on tmpfs refuses the upgrade, named; the process runs on" ;;
		*) fail "volatile: the refused process is in state '$st'" ;;
		esac
	fi
	kill -9 "$pid" 2>/dev/null
	umount -l /tmp/e2e-volatile
}

# --dry-run: everything but the kill and the kexec; the trees must keep running
dry_run() {
	local name n1 n2 st ok=1
	n1=$(wc -l <"$W/counter/counter.log")
	# shellcheck disable=SC2086
	if ! ferry upgrade --dry-run --kernel "/boot/vmlinuz-$1" --initrd "$(initrd_for "$1")" \
		--store "$STORE" $2 >/tmp/dry.out 2>&1; then
		fail "dry run: $(tail -n 3 /tmp/dry.out | tr '\n' ' ')"
		return
	fi
	sleep 0.5
	n2=$(wc -l <"$W/counter/counter.log")
	for name in $UPGRADE_WL; do
		st=$(awk '/^State:/ {print $2}' "/proc/$(wl_pid "$name")/status" 2>/dev/null)
		case $st in S | R) ;; *) ok=0; say "dry run: $name is in state '$st'" ;; esac
	done
	[ "$n2" -gt "$n1" ] || { ok=0; say "dry run: the counter stopped at $n1"; }
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || { ok=0; say "dry run: a kernel is still loaded"; }
	ferry store ls "$STORE" | grep -q ' 0 checkpoints' || { ok=0; say "dry run: a checkpoint is left"; }
	[ $ok = 1 ] && pass "dry run: trees running, no checkpoint left, kernel unloaded" ||
		fail "dry run: $(tail -n 2 /tmp/dry.out | tr '\n' ' ')"
}

# boot 2, the new kernel: the workloads must have continued
step_upgraded() {
	local name pid before n1 n2 next wl=$UPGRADE_WL
	before=$(cat "$W/kernel.before")
	[ -f "$W/with-tree" ] && wl="$wl pipetree"
	[ -f "$W/with-tcp" ] && wl="$wl tcpserver"
	[ -f /etc/e2e/systemd-initrd ] && guard_said
	for name in $wl; do
		pid=$(wl_pid "$name")
		if kill -0 "$pid" 2>/dev/null && grep -q "$name" "/proc/$pid/cmdline"; then
			pass "$name: runs again with PID $pid"
		else
			fail "$name: PID $pid is not $name after the upgrade"
		fi
	done
	say "T workloads-running"
	if [ "$(uname -r)" != "$before" ]; then
		pass "uname -r changed: $before -> $(uname -r)"
	else
		fail "uname -r is still $before"
	fi
	n1=$(wc -l <"$W/counter/counter.log")
	sleep 1
	n2=$(wc -l <"$W/counter/counter.log")
	[ "$n2" -gt "$n1" ] && pass "counter continues in the new kernel ($n1 -> $n2 lines)" ||
		fail "counter stopped at $n1 lines"
	ferry store ls "$STORE" >/tmp/ls.out 2>&1
	sed 's/^/E2E: store: /' /tmp/ls.out
	grep -q restored /tmp/ls.out && pass "checkpoint marked restored" ||
		fail "checkpoint not marked restored"
	[ -f "$W/with-tcp" ] && tcp_flowing
	for name in $wl; do
		verify_wl "$name"
	done
	# the same kernel again, bare: the downtime of a kexec reboot without ferry
	next=$(uname -r)
	kexec -l "/boot/vmlinuz-$next" --initrd "$(initrd_for "$next")" --command-line="$(sed \
		's/e2e=[a-z]*//g; s/ferry\.restore=[^ ]*//' /proc/cmdline) e2e=bare" ||
		{ fail "bare: kexec -l"; return; }
	say "T bare-kexec-e"
	sync
	kexec -e
	fail "bare: kexec -e returned"
}

# boot 3: only the timeline mark (stage.sh prints "T init")
step_bare() {
	:
}

# --- failure cases: one chain of boots, each damaging what the next restore finds ----------
FAIL_WL="file_offset counter"

load_pmem() {
	local rel m
	rel=$(uname -r)
	[ -b /dev/pmem0 ] && return 0
	for m in $(grep -E '^(libnvdimm|nd_)' "/lib/modules/$rel/modules.order"); do
		insmod "/lib/modules/$rel/$m" 2>/dev/null
	done
	i=0
	while [ ! -b /dev/pmem0 ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# kexec into this same kernel again with e2e=STEP e2e.damage=DAMAGE (ferry.restore kept)
next_boot() {
	local cmd
	cmd=$(sed 's/e2e=[a-z]*//; s/e2e\.damage=[a-z,]*//' /proc/cmdline)
	kexec -l "/boot/vmlinuz-$(uname -r)" --initrd "$(initrd_for "$(uname -r)")" \
		--command-line="$cmd e2e=$1 e2e.damage=$2" || { fail "kexec -l for $1"; return; }
	sync
	kexec -e
	fail "kexec -e for $1 returned"
}

wl_gone() {
	local name pid
	for name in $FAIL_WL; do
		pid=$(wl_pid "$name")
		if kill -0 "$pid" 2>/dev/null; then
			fail "$1: $name (PID $pid) runs, but nothing should have been restored"
			return
		fi
	done
	pass "$1: no task left behind"
}

klog_says() {
	dmesg | grep 'ferry:' | sed "s/^/E2E: klog: /"
	if dmesg | grep -q "ferry: restore failed.*the checkpoint stays in"; then
		pass "$1: boot went on, the kernel log says why"
	else
		fail "$1: no 'restore failed' in the kernel log"
	fi
}

store_state() {
	load_pmem
	ferry store ls "$STORE" >/tmp/ls.out 2>&1
	sed 's/^/E2E: store: /' /tmp/ls.out
	if grep -q "$2" /tmp/ls.out; then
		pass "$1: the checkpoint is kept ($2)"
	else
		fail "$1: the checkpoint is not $2"
	fi
}

# boot 1: two small workloads, upgrade into e2e.next with the pmem driver "missing"
step_failures() {
	local name trees="" rc=0
	high_pids
	ferry store init "$STORE" >/tmp/init.out 2>&1 || {
		fail "store-init: $(tail -n 3 /tmp/init.out | tr '\n' ' ')"
		return
	}
	for name in $FAIL_WL; do
		start_wl "$name" "/opt/e2e/$name" || return
		trees="$trees -t $(wl_pid "$name")"
	done
	# shellcheck disable=SC2086
	ferry upgrade --kernel "/boot/vmlinuz-$(arg e2e.next)" --initrd "$(initrd_for "$(arg e2e.next)")" \
		--store "$STORE" --append "e2e=missing e2e.damage=store" $trees || rc=$?
	fail "failures: ferry upgrade returned (exit $rc)"
}

# boot 2: the store's device did not appear
step_missing() {
	klog_says "store missing"
	wl_gone "store missing"
	store_state "store missing" sealed
	next_boot corrupt image
}

# boot 3: a pages image was changed after the seal
step_corrupt() {
	klog_says "corrupt image"
	if dmesg | grep 'ferry:' | grep -q 'pages-'; then
		pass "corrupt image: the kernel log names the image"
	else
		fail "corrupt image: the kernel log does not name the damaged image"
	fi
	wl_gone "corrupt image"
	store_state "corrupt image" sealed
	next_boot midway unflip,midway
}

# boot 4: the first tree restored, the second failed: the first must be killed
step_midway() {
	local id name
	klog_says "restore fails midway"
	if dmesg | grep -q "restoring [0-9]* tasks under $(wl_pid file_offset) "; then
		pass "restore fails midway: the first tree had been restored"
	else
		fail "restore fails midway: the first tree was not restored before the failure"
	fi
	wl_gone "restore fails midway"
	store_state "restore fails midway" failed
	id=$(awk '$2 == "failed" {print $1; exit}' /tmp/ls.out)
	if ferry restore --store "$STORE" --checkpoint "$id" -d >/tmp/rst.out 2>&1; then
		pass "restore by hand of checkpoint $id after the failed boot"
		for name in $FAIL_WL; do
			verify_wl "$name"
		done
	else
		fail "restore by hand: $(tail -n 3 /tmp/rst.out | tr '\n' ' ')"
	fi
}

# a systemd initrd (dracut's, root made by mkdebroot.sh --dracut-systemd, which leaves
# /etc/e2e/systemd-initrd): the hook restored under the switch-root guard, which must have
# seen systemd switch root, dropped what PID 1 sent the trees on the way and let them go
guard_said() {
	local n
	dmesg | grep 'ferry-guard:' | sed "s/^/E2E: klog: /"
	if dmesg | grep -q 'ferry-guard: .*PID 1 switched root after'; then
		pass "systemd initrd: the guard saw PID 1 switch root"
	else
		fail "systemd initrd: no 'PID 1 switched root' from the guard in the kernel log"
	fi
	n=$(dmesg | sed -n 's/.*ferry-guard: .*dropped \([0-9]*\) signals from PID 1;.*/\1/p' | tail -n 1)
	if [ -n "$n" ] && [ "$n" -gt 0 ]; then
		pass "systemd initrd: the guard dropped $n signals systemd sent the trees, let them go"
	else
		fail "systemd initrd: the guard dropped no signal of PID 1 (${n:-no summary line})"
	fi
}
