#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every ferry test: builds them, runs the image and memfs unit tests (plain and ASan+UBSan),
# checks the ZDTM test programs and runner themselves (selfcheck: PASS untouched; corrupt:
# FAIL when their memory is damaged; plumbing: the runner's flow with a fake ferry), then
# the ZDTM suite with FERRY and again with FERRY_ASAN.
# Usage: selftests/run.sh FERRY [FERRY_ASAN]   (as root)
# ZDTM_TIMEOUT: seconds per step (60); ZDTM_BUDGET: seconds per ZDTM suite run (800).
set -eu -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ferry=${1:-}
ferry_asan=${2:-}

if [ -z "$ferry" ]; then
	echo "usage: $0 FERRY [FERRY_ASAN]" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "$0: the tests dump and restore processes and change credentials: run as root" >&2
	exit 1
fi
for f in "$ferry" $ferry_asan; do
	if [ ! -x "$f" ]; then
		echo "$0: no ferry binary at $f (build it first: make all)" >&2
		exit 1
	fi
done
ferry=$(realpath "$ferry")
[ -n "$ferry_asan" ] && ferry_asan=$(realpath "$ferry_asan")

if ! ls "$root"/build/proto/*.pb-c.c >/dev/null 2>&1; then
	make -C "$root" all
fi
make -s -C "$here" PROTO_DIR="$root/build/proto"

timeout=${ZDTM_TIMEOUT:-60}	# per step (start, dump, restore, verify): anon256m on a loaded box
budget=${ZDTM_BUDGET:-900}	# per ferry suite: hung engines cannot stall `make check` (a hang guard, not a timing test)
work=$here/build/run
rm -rf "$work"
mkdir -p "$work"
passed=0 failed=0 skipped=0
summary=""

# run NAME CMD...: show its TAP, add its totals line to ours
run() {
	local name=$1 out=$work/$1.tap rc=0 line p f s t0=$SECONDS
	shift
	echo "# === $name"
	"$@" 2>&1 | tee "$out" || rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -n 1 || true)
	if [ -z "$line" ]; then
		echo "# $name: no totals line (exit status $rc): counted as one failure"
		line="0 passed, 1 failed, 0 skipped"
	fi
	read -r p _ f _ s _ <<<"$line"
	p=${p%,} f=${f%,}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "# $name: exit status $rc with no failed test: counted as one failure"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	summary="$summary# $name: $p passed, $f failed, $s skipped ($((SECONDS - t0)) s)"$'\n'
}

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run unit "$here/build/unit/image_test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run unit-asan "$here/build/unit/image_test-asan"
run unit-memfs "$here/build/unit/memfs_test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run unit-memfs-asan "$here/build/unit/memfs_test-asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run unit-kexec "$here/build/unit/kexec_cmdline_test"
run zdtm-selfcheck "$here/build/runner" -m selfcheck -w "$work/selfcheck" -T "$timeout"
run zdtm-corrupt "$here/build/runner" -m corrupt -w "$work/corrupt" -T "$timeout"
# the runner's own flow, with a fake ferry that restarts each test with its PID
run zdtm-plumbing "$here/build/runner" -C -P -f "$here/build/ferry-fake" -w "$work/plumbing" \
	-T "$timeout"
run zdtm "$here/build/runner" -f "$ferry" -w "$work/ferry" -T "$timeout" -B "$budget"
run cli-errors python3 "$here/cli/errors_test.py" "$ferry" "$here/build/cli/ticker" "$work/errors"
run cli-unsupported python3 "$here/cli/unsupported_test.py" "$ferry" "$here/build/cli/ticker" \
	"$work/unsupported"
run cli-sockets python3 "$here/cli/sockets_test.py" "$ferry" "$here/build/cli/sockholder" "$work/sockets"
run cli-files-images python3 "$here/cli/files_images_test.py" "$ferry" "$here/build/cli/ticker" \
	"$work/files-images"
run cli-seccomp-images python3 "$here/cli/seccomp_images_test.py" "$ferry" "$here/build/cli/ticker" \
	"$work/seccomp-images"
run cli-pty python3 "$here/cli/pty_test.py" "$ferry" "$here/build/cli/ticker" "$work/pty"
run share-images python3 "$here/cli/share_images_test.py" "$ferry" "$here/build/zdtm/tree_clone_files" \
	"$work/share-images"
run shell-job python3 "$here/cli/shell_job_test.py" "$ferry" "$here/build/cli/ticker" "$work/shell-job"
run timens python3 "$here/cli/timens_test.py" "$ferry" "$here/build/cli/clockwatch" "$work/timens"
run ipc-host python3 "$here/cli/ipc_host_test.py" "$ferry" "$here/build/cli/shmhost" "$work/ipc-host"
run netns python3 "$here/cli/netns_test.py" "$ferry" "$here/build/cli/netns_veth" "$work/netns"
run hostnet python3 "$here/cli/hostnet_test.py" "$ferry" "$here/build/cli/sockholder" "$work/hostnet"
run switch-root-guard python3 "$here/cli/guard_test.py" "$ferry" "$here/build/cli/sigwatch" "$work/guard"
# CRIU's own RPC client: Debian's pycriu, in the system's python (criu package)
syspy=/usr/bin/python3
[ -x "$syspy" ] || syspy=python3
run rpc "$syspy" "$here/cli/rpc_test.py" "$ferry" "$here/build/cli/counter" "$here/build/cli/ticker" \
	"$work/rpc"
run libcriu "$here/build/lib/libcriu_test" "$ferry" "$here/build/cli/counter" "$work/libcriu"
run cgroup-cli python3 "$here/cli/cgroup_test.py" "$ferry" "$here/build/cli/ticker" "$work/cgroup"
run cli-store python3 "$here/cli/store_test.py" "$ferry" "$here/build/cli/counter" \
	"$here/build/cli/ticker" "$here/build/zdtm" "$work/store"
run upgrade-cli python3 "$here/cli/upgrade_test.py" "$ferry" "$here/build/zdtm/anon256m" "$work/upgrade"
# the seamless upgrade in QEMU: 6.1.0-NN -> 6.1.0-MM with a pmem store, and its failure cases
run kexec-e2e python3 "$here/kexec/e2e.py" "$ferry"
if [ -n "$ferry_asan" ]; then
	# a dumped or restored task is not ours to leak-check; ferry forks into them
	ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
		run zdtm-asan "$here/build/runner" -f "$ferry_asan" -w "$work/asan" -T "$timeout" -B "$budget"
	# net.c and net-host.c parse images and netlink replies in ferry itself: worth a sanitized run
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
		run netns-asan python3 "$here/cli/netns_test.py" "$ferry_asan" \
		"$here/build/cli/netns_veth" "$work/netns-asan"
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
		run hostnet-asan python3 "$here/cli/hostnet_test.py" "$ferry_asan" \
		"$here/build/cli/sockholder" "$work/hostnet-asan"
	# rpc.c decodes untrusted requests in ferry itself
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
		run rpc-asan "$syspy" "$here/cli/rpc_test.py" "$ferry_asan" "$here/build/cli/counter" \
		"$here/build/cli/ticker" "$work/rpc-asan"
	# the guard's ptrace bookkeeping runs in ferry's own process too
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
		run switch-root-guard-asan python3 "$here/cli/guard_test.py" "$ferry_asan" \
		"$here/build/cli/sigwatch" "$work/guard-asan"
fi

echo "# ==="
printf '%s' "$summary"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
