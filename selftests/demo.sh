#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo`: a guided tour. Starts a counter (selftests/demo/counter.c), dumps it with ferry
# into the default image store (dir:/run/ferry/store, a tmpfs), shows the checkpoint and that
# the process is gone, restores it with the same PID, and shows it ticking on from where it
# stopped with its memory intact.
# Usage: demo.sh [FERRY]   env: DEMO_STORE (store directory, default /run/ferry/store), DEMO_DIR
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY_ARG=${1:-./ferry}
STORE=${DEMO_STORE:-/run/ferry/store}
SPEC=dir:$STORE
DEMO=${DEMO_DIR:-/tmp/ferry-demo}
HELPERS=$ROOT/build/selftests/demo
CLOG=$DEMO/counter.log
TIMEOUT=120

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'; else B="" G="" R="" N=""; fi
say() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
note() { printf '    %s\n' "$*"; }
die() {
	printf '\n%s!!! demo failed: %s%s\n' "$R" "$*" "$N" >&2
	show_logs
	exit 1
}

show_logs() {
	local f
	for f in "$CLOG" "$DEMO"/dump.log "$DEMO"/restore.log; do
		[ -s "$f" ] || continue
		printf -- '----- %s (last lines) -----\n' "$f" >&2
		tail -n 25 "$f" >&2
	done
}

need_root() {
	[ "$(id -u)" = 0 ] && return
	if command -v sudo >/dev/null; then
		echo "ferry needs root (ptrace over the process, restoring PIDs): re-running with sudo"
		exec sudo "$0" "$@"
	fi
	echo "The demo needs root: ferry must ptrace the process and restore it with its PID." >&2
	echo "Run it as root, e.g.: su -c 'make demo'" >&2
	exit 1
}

build() {
	FERRY=$(readlink -f "$FERRY_ARG")
	if [ ! -x "$FERRY" ]; then
		say "building ferry"
		command -v cc >/dev/null && command -v protoc-c >/dev/null ||
			die "build tools missing: run ./selftests/install-deps.sh first"
		make -C "$ROOT" -j"$(nproc)" >/dev/null || die "make failed (run make to see why)"
		FERRY=$ROOT/ferry
	fi
	mkdir -p "$HELPERS" || die "cannot create $HELPERS"
	cc -O2 -Wall -Wextra -Werror -Wno-unused-parameter -o "$HELPERS/counter" \
		"$ROOT/selftests/demo/counter.c" &&
		cc -O2 -Wall -Wextra -Werror -Wno-unused-parameter -o "$HELPERS/launch" \
			"$ROOT/selftests/bench/launch.c" || die "cannot build the demo programs"
}

# wait_for PATTERN SECONDS: until the counter's log has a line matching PATTERN.
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -q "$1" "$CLOG" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# watch SECONDS: print the counter's new log lines as they come.
watch_log() {
	local from end=$((SECONDS + $1))
	from=$(wc -l <"$CLOG")
	while [ $SECONDS -lt $end ]; do
		sleep 0.25
		tail -n +"$((from + 1))" "$CLOG" | sed 's/^/    | /'
		from=$(wc -l <"$CLOG")
	done
}

last_tick() { grep '^tick ' "$CLOG" | tail -n 1 | cut -d' ' -f2; }

gone() { ! kill -0 "$1" 2>/dev/null; }

cleanup() {
	local rc=$1
	[ -n "${PID:-}" ] && kill -KILL "$PID" 2>/dev/null
	[ -n "${CKPT:-}" ] && "$FERRY" store rm "$SPEC" "$CKPT" >/dev/null 2>&1
	[ -n "${STORE_MNT:-}" ] && umount "$STORE_MNT" 2>/dev/null
	if [ "$rc" = 0 ]; then
		rm -rf "$DEMO"
	else
		echo "(logs kept in $DEMO)" >&2
	fi
}

# The default store lives in /run, a tmpfs on Debian; where it is not, mount one there.
setup_store() {
	rm -rf "$DEMO"
	mkdir -p "$STORE" "$DEMO" || die "cannot create $STORE and $DEMO"
	if [ "$(stat -f -c %T "$STORE")" != tmpfs ]; then
		mount -t tmpfs -o size=1g,mode=0700 ferry-demo "$STORE" || die "cannot mount a tmpfs"
		STORE_MNT=$STORE
	fi
	"$FERRY" store init "$SPEC" >"$DEMO/init.log" 2>&1 || {
		cat "$DEMO/init.log" >&2
		die "ferry store init $SPEC failed"
	}
}

check_kernel() {
	say "checking that this kernel has what ferry needs: ferry check"
	if ! "$FERRY" check >"$DEMO/check.log" 2>&1; then
		sed 's/^/    /' "$DEMO/check.log"
		die "ferry check reports missing kernel features"
	fi
	note "$(tail -n 1 "$DEMO/check.log")"
}

start_counter() {
	say "starting the counter: it ticks once a second into $CLOG"
	"$HELPERS/counter" "$CLOG" </dev/null >/dev/null 2>&1 &
	PID=$!
	wait_for "started" 10 || die "the counter did not start"
	note "PID $PID; a 64 MiB patterned buffer, checksum kept in memory"
	wait_for "^tick 1$" 5 || die "the counter does not tick"
	sed 's/^/    | /' "$CLOG"
	watch_log 3
	ps -o pid,ppid,sid,stat,rss,cmd -p "$PID" | sed 's/^/    /'
}

dump() {
	say "dumping PID $PID into the default store: ferry dump -t $PID --store $SPEC"
	if ! CKPT=$(timeout "$TIMEOUT" "$FERRY" dump -t "$PID" --store "$SPEC" -W "$DEMO" \
		-o dump.log -v4); then
		CKPT=""
		die "ferry dump failed (its error is above)"
	fi
	note "checkpoint $CKPT, sealed: every image checksummed (XXH3)"
	wait "$PID" 2>/dev/null # it was killed by the dump; collect it so its PID is free
	gone "$PID" || die "PID $PID is still alive after the dump"
	BEFORE=$(last_tick)
	note "dumped at tick $BEFORE"
}

show_images() {
	local tree=$STORE/ckpt-$CKPT/tree-0
	say "the store (a tmpfs): ferry store ls $SPEC"
	"$FERRY" store ls "$SPEC" | sed 's/^/    /'
	note "the images of tree 0, in $tree:"
	ls -la "$tree" | sed 's/^/    /'
	if command -v crit >/dev/null; then
		note "crit, CRIU's image tool, reads them too: crit x $tree ps"
		if crit x "$tree" ps >"$DEMO/crit.out" 2>&1; then
			sed 's/^/    /' "$DEMO/crit.out"
		else
			note "(crit could not decode them: $(tail -n 1 "$DEMO/crit.out"))"
		fi
	fi
	say "the process is gone"
	note "ps -p $PID: $(ps -o pid= -p "$PID" || echo 'no such process')"
	note "waiting 3 s: no ticks while it is only a set of images"
	sleep 3
	note "last line of the log is still: $(tail -n 1 "$CLOG")"
}

restore() {
	local restored
	say "restoring: ferry restore -d --store $SPEC --checkpoint $CKPT"
	if ! timeout "$TIMEOUT" "$FERRY" restore -d --store "$SPEC" --checkpoint "$CKPT" -W "$DEMO" \
		-o restore.log -v4 --pidfile "$DEMO/restored.pid"; then
		die "ferry restore failed (its error is above)"
	fi
	restored=$(cat "$DEMO/restored.pid" 2>/dev/null)
	[ "$restored" = "$PID" ] || die "restored root is PID '${restored}', expected $PID"
	kill -0 "$PID" 2>/dev/null || die "PID $PID is not running after the restore"
	note "the same PID $PID is back:"
	ps -o pid,ppid,sid,stat,rss,cmd -p "$PID" | sed 's/^/    /'
	note "the checkpoint is marked restored:"
	"$FERRY" store ls "$SPEC" | grep "^$CKPT" | sed 's/^/    /'
}

check_continues() {
	local first
	say "it ticks on from where it stopped (tick $BEFORE)"
	wait_for "^tick $((BEFORE + 1))$" 10 || die "no tick $((BEFORE + 1)) after the restore"
	first=$(grep '^tick ' "$CLOG" | awk -v b="$BEFORE" '$2 > b { print $2; exit }')
	sed -n "/^tick $BEFORE\$/,\$p" "$CLOG" | sed 's/^/    | /'
	watch_log 3
	[ "$first" = $((BEFORE + 1)) ] || die "after tick $BEFORE came tick $first"
	grep '^tick ' "$CLOG" | awk '$2 != NR { exit 1 }' ||
		die "the ticks are not 1, 2, 3, ... without a gap or a restart"
	note "${G}first tick after the restore: $first (no restart)${N}"

	say "asking it to check its memory: kill -USR1 $PID"
	kill -USR1 "$PID"
	wait_for "^checksum" 10 || die "no answer to SIGUSR1"
	grep -q "^checksum ok" "$CLOG" || die "$(grep '^checksum' "$CLOG" | tail -n 1)"
	note "${G}$(grep '^checksum ok' "$CLOG" | tail -n 1)${N}"
}

stop_counter() {
	local i
	say "stopping it: kill -TERM $PID"
	kill -TERM "$PID"
	for ((i = 0; i < 50; i++)); do
		gone "$PID" && break
		sleep 0.1
	done
	gone "$PID" || die "PID $PID did not stop"
	note "$(tail -n 1 "$CLOG")"
	PID=""
}

need_root "$@"
build
if [ -z "${FERRY_SUBREAPER:-}" ]; then
	# Run under a subreaper that reaps at once: the restored counter is reparented to it
	# (ferry restore -d exits), and dead tasks do not linger holding their PIDs.
	exec "$HELPERS/launch" "$0" "$FERRY"
fi
setup_store
trap 'cleanup $?' EXIT
trap 'exit 130' INT TERM

check_kernel
start_counter
dump
show_images
restore
check_continues
stop_counter
say "${G}demo done: dumped, gone, restored with the same PID, counting on, memory intact${N}"
