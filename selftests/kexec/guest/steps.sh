# SPDX-License-Identifier: MIT
# The steps of the QEMU kexec test, sourced by stage.sh. Workloads are ZDTM-style programs
# (selftests/zdtm/lib.h): each runs in /var/e2e/NAME on the real root, writes its ready
# file, and on SIGTERM checks its state from inside and prints PASS or FAIL.
W=/var/e2e
STORE=pmem:/dev/pmem0

say() { echo "E2E: $*"; }
pass() { say "PASS $*"; }
fail() { say "FAIL $*"; }

# start_wl NAME PROG [ARGS]: start it detached in its own session, wait until ready
start_wl() {
	local name=$1 i=0
	shift
	rm -rf "${W:?}/$name"
	mkdir -p "$W/$name"
	(cd "$W/$name" && ZT_READY=$W/$name/ready setsid "$@" </dev/null >"$W/$name/out" 2>&1 &)
	while [ ! -f "$W/$name/ready" ] && [ $i -lt 1200 ]; do
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
	local name rc
	ferry check >/tmp/check.out 2>&1
	rc=$?
	sed 's/^/E2E: check: /' /tmp/check.out
	[ $rc = 0 ] && pass "smoke-check" || fail "smoke-check: ferry check exit $rc"
	for name in anon256m file_offset counter; do
		start_wl "$name" "/opt/e2e/$name" || continue
		rc=0
		ferry dump -t "$(wl_pid "$name")" -D "/tmp/img-$name" -v4 -o dump.log || rc=$?
		if [ $rc != 0 ]; then
			fail "smoke-dump-$name: exit $rc: $(grep -i 'error\|fail' "/tmp/img-$name/dump.log" | tail -n 5 | tr '\n' ' ')"
			continue
		fi
		ferry restore -D "/tmp/img-$name" -d -v4 -o restore.log || rc=$?
		if [ $rc != 0 ]; then
			fail "smoke-restore-$name: exit $rc: $(grep -i 'error\|fail' "/tmp/img-$name/restore.log" | tail -n 5 | tr '\n' ' ')"
			continue
		fi
		verify_wl "$name"
	done
}
