#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: time `ferry dump` into a tmpfs and `ferry restore -d` from it for N GiB of touched
# memory (memhog), next to this machine's copy limits measured in the same run (membw), and
# CRIU's figures when criu works here; then the dump and restore time of a BENCH_THREADS-thread
# process (threadhog). Prints figures, not pass/fail; exits non-zero if ferry fails or the
# workload's memory or threads are wrong after restore.
# Usage: run.sh [FERRY]   env: BENCH_SIZES="1 4" (GiB), BENCH_REPEAT=3, BENCH_WARMUP=1,
#                              BENCH_THREADS=64,
#                              BENCH_DIR (tmpfs mount point to create; default under /tmp)
set -u

FERRY=$(readlink -f "${1:-./ferry}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HELPERS=$ROOT/build/selftests/bench
SIZES=${BENCH_SIZES-1 4}	# BENCH_SIZES="": threads only
REPEAT=${BENCH_REPEAT:-3}
WARMUP=${BENCH_WARMUP:-1}
TIMEOUT=${BENCH_TIMEOUT:-300}

say() { printf '==> %s\n' "$*"; }
die() { printf '\n!!! bench: %s\n' "$*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] && return
	command -v sudo >/dev/null && exec sudo -E "$0" "$@"
	die "must run as root (ferry needs ptrace over the workload and CAP_CHECKPOINT_RESTORE)"
}

build_helpers() {
	mkdir -p "$HELPERS" || die "cannot create $HELPERS"
	for h in launch memhog membw threadhog treehog; do
		[ "$HELPERS/$h" -nt "$ROOT/selftests/bench/$h.c" ] && continue
		${CC:-cc} -O2 -Wall -Wextra -Werror -Wno-unused-parameter -o "$HELPERS/$h" \
			"$ROOT/selftests/bench/$h.c" -lpthread || die "cannot build $h"
	done
}

# --- the store: a fresh tmpfs of our own, or /dev/shm/ferry-bench if mounting fails -----------
# Logs go to BASE/logs (kept when the bench fails), images to STORE.
STORE_MNT=""
setup_store() {
	local max_gib=0 s
	for s in $SIZES; do [ "$s" -gt "$max_gib" ] && max_gib=$s; done
	[ "$max_gib" = 0 ] && max_gib=1
	BASE=$(mktemp -d "${BENCH_DIR:-/tmp}/ferry-bench.XXXXXX") || die "mktemp failed"
	LOGS=$BASE/logs
	mkdir -p "$LOGS" "$BASE/store"
	if mount -t tmpfs -o "size=$((max_gib * 3 + 1))g,mode=0700" ferry-bench "$BASE/store"; then
		STORE_MNT=$BASE/store
		STORE=$STORE_MNT
	else
		say "cannot mount a tmpfs; using /dev/shm/ferry-bench"
		STORE=/dev/shm/ferry-bench
		mkdir -p "$STORE" || die "cannot create $STORE"
	fi
}

WORKLOAD_PIDS=""
cleanup() {
	local rc=$1 p
	for p in $WORKLOAD_PIDS; do kill -KILL "$p" 2>/dev/null; done
	[ -n "${STORE:-}" ] && rm -rf "$STORE"/img "$STORE"/membw.* 2>/dev/null
	[ "${STORE:-}" = /dev/shm/ferry-bench ] && rmdir "$STORE" 2>/dev/null
	if [ -n "$STORE_MNT" ]; then
		umount "$STORE_MNT" 2>/dev/null || umount -l "$STORE_MNT"
		rmdir "$STORE_MNT" 2>/dev/null
	fi
	[ -n "${BASE:-}" ] || return
	if [ "$rc" = 0 ]; then
		rm -rf "$BASE"
	else
		echo "bench: logs kept in $LOGS" >&2
	fi
}

# --- timing helpers -------------------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
gbps() {
	awk -v gib="$1" -v s="$2" \
		'BEGIN { if (s > 0) printf "%.2f", gib * 1073741824 / s / 1e9; else print "-" }'
}
ratio() {
	awk -v a="$1" -v b="$2" \
		'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'
}

# wait_for FILE PATTERN SECONDS: wait until FILE has a line matching PATTERN.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_gone PID SECONDS: the subreaper (launch) reaps it, so kill -0 fails once it is gone.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

show_log() {
	echo "----- $1 -----" >&2
	tail -n "${2:-30}" "$1" >&2 2>/dev/null || echo "(no log)" >&2
	echo "-----" >&2
}

start_memhog() { # GIB LOG -> sets HOG
	"$HELPERS/memhog" $(($1 * 1024)) >>"$2" 2>&1 </dev/null &
	HOG=$!
	WORKLOAD_PIDS="$WORKLOAD_PIDS $HOG"
	wait_for "$2" "ready" $((30 + $1 * 15)) || { show_log "$2"; die "memhog did not get ready"; }
}

# verify_memhog PID LOG: SIGTERM, expect "verify OK" from inside the restored workload.
verify_memhog() {
	kill -TERM "$1" 2>/dev/null || { show_log "$2"; die "restored PID $1 is not running"; }
	if ! wait_for "$2" "verify OK\|VERIFY FAILED" 120; then
		show_log "$2"
		die "restored workload $1 did not answer SIGTERM"
	fi
	if grep -q "VERIFY FAILED" "$2"; then
		show_log "$2"
		printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
		printf '!!! MEMORY CHECK FAILED: the restored workload saw wrong data !!!\n' >&2
		printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
		exit 1
	fi
	wait_gone "$1" 30 || kill -KILL "$1" 2>/dev/null
}

# --- one dump/restore cycle ----------------------------------------------------------------
# cycle TOOL GIB TAG: sets DUMP_S, RESTORE_S, IMG_BYTES. TOOL is ferry or criu.
cycle() {
	local tool=$1 gib=$2 tag=$3 img=$STORE/img log t0 t1 t2 t3 rc
	log=$LOGS/memhog-$tag.log
	rm -rf "$img" && mkdir -p "$img"
	: >"$log"
	start_memhog "$gib" "$log"
	say "$tag: dumping memhog $HOG ($gib GiB) with $tool into $img"
	t0=$(now)
	if [ "$tool" = ferry ]; then
		timeout "$TIMEOUT" "$FERRY" dump -t "$HOG" -D "$img" -W "$LOGS" -o "dump-$tag.log" -v4
	else
		timeout "$TIMEOUT" criu dump -t "$HOG" -D "$img" -W "$LOGS" -o "dump-$tag.log" -v4
	fi
	rc=$?
	t1=$(now)
	if [ $rc != 0 ]; then
		show_log "$LOGS/dump-$tag.log"
		kill -KILL "$HOG" 2>/dev/null
		wait "$HOG" 2>/dev/null
		echo "!!! $tool dump of PID $HOG failed (exit $rc)" >&2
		return 1
	fi
	wait "$HOG" 2>/dev/null # the dumper killed it; reap it so its PID is free
	kill -0 "$HOG" 2>/dev/null && { echo "!!! PID $HOG still alive after dump" >&2; return 1; }
	IMG_BYTES=$(du -sb "$img" | cut -f1)
	say "$tag: restoring from $img ($((IMG_BYTES >> 20)) MiB of images)"
	t2=$(now)
	if [ "$tool" = ferry ]; then
		timeout "$TIMEOUT" "$FERRY" restore -d -D "$img" -W "$LOGS" -o "restore-$tag.log" -v4
	else
		timeout "$TIMEOUT" criu restore -d -D "$img" -W "$LOGS" -o "restore-$tag.log" -v4
	fi
	rc=$?
	t3=$(now)
	if [ $rc != 0 ]; then
		show_log "$LOGS/restore-$tag.log"
		echo "!!! $tool restore of PID $HOG failed (exit $rc)" >&2
		return 1
	fi
	verify_memhog "$HOG" "$log"
	DUMP_S=$(elapsed "$t0" "$t1")
	RESTORE_S=$(elapsed "$t2" "$t3")
	say "$tag: dump ${DUMP_S}s, restore ${RESTORE_S}s, memory verified"
	rm -rf "$img"
}

# thread_cycle N TAG: dump and restore a threadhog of N threads; sets DUMP_S, RESTORE_S.
thread_cycle() {
	local n=$1 tag=$2 img=$STORE/img log=$LOGS/threadhog-$2.log t0 t1 t2 t3
	rm -rf "$img" && mkdir -p "$img"
	: >"$log"
	"$HELPERS/threadhog" "$n" >>"$log" 2>&1 </dev/null &
	HOG=$!
	WORKLOAD_PIDS="$WORKLOAD_PIDS $HOG"
	wait_for "$log" "ready" 60 || { show_log "$log"; die "threadhog did not get ready"; }
	t0=$(now)
	timeout "$TIMEOUT" "$FERRY" dump -t "$HOG" -D "$img" -W "$LOGS" -o "dump-$tag.log" -v4 ||
		{ show_log "$LOGS/dump-$tag.log"; kill -KILL "$HOG"; return 1; }
	t1=$(now)
	wait "$HOG" 2>/dev/null
	t2=$(now)
	timeout "$TIMEOUT" "$FERRY" restore -d -D "$img" -W "$LOGS" -o "restore-$tag.log" -v4 ||
		{ show_log "$LOGS/restore-$tag.log"; return 1; }
	t3=$(now)
	verify_memhog "$HOG" "$log"
	DUMP_S=$(elapsed "$t0" "$t1")
	RESTORE_S=$(elapsed "$t2" "$t3")
	say "$tag: dump ${DUMP_S}s, restore ${RESTORE_S}s, threads verified"
	rm -rf "$img"
}

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# --- a tree of 100 processes ---------------------------------------------------------------
# tree_cycle TAG: sets TREE_DUMP_S, TREE_RESTORE_S. Each of the 100 tasks checks its memory.
tree_cycle() {
	local tag=$1 img=$STORE/img log=$LOGS/treehog-$1.log ready=$BASE/tree-ready t0 t1 t2 t3
	rm -rf "$img" "$ready" && mkdir -p "$img" "$ready"
	: >"$log"
	"$HELPERS/treehog" "$ready" >>"$log" 2>&1 </dev/null &
	HOG=$!
	WORKLOAD_PIDS="$WORKLOAD_PIDS $HOG"
	wait_for "$log" "ready" 60 || { show_log "$log"; die "treehog did not get ready"; }
	say "$tag: dumping the 100-process tree under $HOG"
	t0=$(now)
	timeout "$TIMEOUT" "$FERRY" dump -t "$HOG" -D "$img" -W "$LOGS" -o "dump-$tag.log" -v4 ||
		{ show_log "$LOGS/dump-$tag.log"; echo "!!! tree dump failed" >&2; return 1; }
	t1=$(now)
	wait "$HOG" 2>/dev/null
	sleep 0.2 # the other 99 are reaped by launch
	t2=$(now)
	timeout "$TIMEOUT" "$FERRY" restore -d -D "$img" -W "$LOGS" -o "restore-$tag.log" -v4 ||
		{ show_log "$LOGS/restore-$tag.log"; echo "!!! tree restore failed" >&2; return 1; }
	t3=$(now)
	verify_memhog "$HOG" "$log"
	TREE_DUMP_S=$(elapsed "$t0" "$t1")
	TREE_RESTORE_S=$(elapsed "$t2" "$t3")
	say "$tag: dump ${TREE_DUMP_S}s, restore ${TREE_RESTORE_S}s, all 100 verified"
	rm -rf "$img" "$ready"
}

# --- criu: only where it works ---------------------------------------------------------------
criu_usable() {
	CRIU_WHY=""
	if ! command -v criu >/dev/null; then
		CRIU_WHY="criu is not installed"
		return 1
	fi
	if ! criu check >"$LOGS/criu-check.log" 2>&1; then
		# The first real error line says why (e.g. the vDSO check on 6.18).
		CRIU_WHY="'criu check' fails on kernel $(uname -r): $(grep -v 'util.c' \
			"$LOGS/criu-check.log" | grep -i 'error' | grep -iv 'could not init' |
			head -n 1 | sed 's/^Error ([^)]*): *//' | cut -c1-80)"
		return 1
	fi
	return 0
}

# --- main ----------------------------------------------------------------------------------
need_root "$@"
[ -x "$FERRY" ] || die "no ferry binary at ${1:-./ferry} (run make first)"
build_helpers
if [ -z "${FERRY_SUBREAPER:-}" ]; then
	# Run the whole bench under a subreaper: restored workloads are reparented to it and
	# reaped at once, and anything left when the bench ends is killed.
	exec "$HELPERS/launch" "$0" "$FERRY"
fi
setup_store
trap 'cleanup $?' EXIT
trap 'exit 130' INT TERM

say "ferry: $FERRY ($("$FERRY" --version)), kernel $(uname -r), $(nproc) CPUs"
[ -n "$STORE_MNT" ] && kind="a fresh tmpfs" || kind="/dev/shm"
say "store: $STORE ($kind), sizes: $SIZES GiB"
CRIU=0
criu_usable && CRIU=1
if [ $CRIU = 1 ]; then
	say "criu: $(criu --version | head -1), runs here"
else
	say "criu: skipped: $CRIU_WHY"
fi

FAILED=0
declare -A R
for gib in $SIZES; do
	say "$gib GiB: measuring copy limits (membw, 1 warm-up + $REPEAT runs each)"
	while read -r name med best; do
		R[$gib,$name]=$med
		printf '    %-18s %6s GB/s (best %s)\n' "$name" "$med" "$best"
	done < <("$HELPERS/membw" $((gib * 1024)) "$STORE" "$REPEAT")
	[ -n "${R[$gib,memcpy_touched]:-}" ] || die "membw failed"

	R[$gib,ferry_dump]=- R[$gib,ferry_restore]=- R[$gib,criu_dump]=- R[$gib,criu_restore]=-
	if [ $FAILED = 0 ]; then
		ok=1
		for ((w = 1; w <= WARMUP; w++)); do
			cycle ferry "$gib" "ferry-${gib}g-warmup$w" || { ok=0; break; }
		done
		[ $ok = 1 ] && cycle ferry "$gib" "ferry-${gib}g" || ok=0
		if [ $ok = 1 ]; then
			R[$gib,ferry_dump]=$(gbps "$gib" "$DUMP_S") R[$gib,ferry_dump_s]=$DUMP_S
			R[$gib,ferry_restore]=$(gbps "$gib" "$RESTORE_S") R[$gib,ferry_restore_s]=$RESTORE_S
		else
			FAILED=1
			echo "!!! ferry failed at $gib GiB; the remaining ferry runs are skipped" >&2
		fi
	fi
	if [ $CRIU = 1 ]; then
		if cycle criu "$gib" "criu-${gib}g-warmup" && cycle criu "$gib" "criu-${gib}g"; then
			R[$gib,criu_dump]=$(gbps "$gib" "$DUMP_S")
			R[$gib,criu_restore]=$(gbps "$gib" "$RESTORE_S")
		else
			echo "!!! criu failed at $gib GiB (figures left out)" >&2
		fi
	fi
done

THREADS=${BENCH_THREADS:-64}
TH_DUMP=- TH_RESTORE=-
if [ $FAILED = 0 ]; then
	say "threads: dump and restore of a $THREADS-thread process (1 warm-up + $REPEAT runs)"
	ds=() rs=() ok=1
	for ((k = 0; k <= REPEAT; k++)); do
		thread_cycle "$THREADS" "threads-$k" || { ok=0; break; }
		[ $k = 0 ] && continue
		ds+=("$DUMP_S") rs+=("$RESTORE_S")
	done
	if [ $ok = 1 ]; then
		TH_DUMP=$(median "${ds[@]}") TH_RESTORE=$(median "${rs[@]}")
	else
		FAILED=1
	fi
fi

TREE=-
if [ $FAILED = 0 ]; then
	if tree_cycle tree-warmup && tree_cycle tree; then
		TREE="dump ${TREE_DUMP_S}s, restore ${TREE_RESTORE_S}s"
	else
		FAILED=1
	fi
fi

echo
echo "================================ ferry bench summary ================================"
echo "kernel $(uname -r); GB = 10^9 bytes; rates are medians of $REPEAT runs after a warm-up"
printf '%-4s | %-18s %-18s | %-7s %-7s %-7s %-7s | %-9s %-9s %-9s %-9s\n' \
	"GiB" "ferry dump" "ferry restore" "tmpfs-w" "fresh" "touched" "tmpfs-r" \
	"dump/tw" "rest/fr" "rest/tch" "rest/tr"
for gib in $SIZES; do
	fd=${R[$gib,ferry_dump]} fr=${R[$gib,ferry_restore]}
	printf '%-4s | %-18s %-18s | %-7s %-7s %-7s %-7s | %-9s %-9s %-9s %-9s\n' "$gib" \
		"$( [ "$fd" = - ] && echo FAILED || echo "${R[$gib,ferry_dump_s]}s ${fd}GB/s")" \
		"$( [ "$fr" = - ] && echo FAILED || echo "${R[$gib,ferry_restore_s]}s ${fr}GB/s")" \
		"${R[$gib,tmpfs_write]}" "${R[$gib,memcpy_fresh]}" "${R[$gib,memcpy_touched]}" \
		"${R[$gib,tmpfs_read_fresh]}" \
		"$(ratio "$fd" "${R[$gib,tmpfs_write]}")" "$(ratio "$fr" "${R[$gib,memcpy_fresh]}")" \
		"$(ratio "$fr" "${R[$gib,memcpy_touched]}")" "$(ratio "$fr" "${R[$gib,tmpfs_read_fresh]}")"
done
echo "  tmpfs-w: write(2) into new tmpfs pages   fresh: memcpy into a new mapping"
echo "  touched: memcpy into touched memory      tmpfs-r: read(2) from tmpfs into a new mapping"
echo "  dump/tw = ferry dump ÷ tmpfs-w; rest/fr = ferry restore ÷ fresh (target >= 0.80);"
echo "  rest/tch = ferry restore ÷ touched; rest/tr = ferry restore ÷ tmpfs-r"
echo "  100-process tree (256 KiB each): ${TREE/#-/FAILED}"
if [ $CRIU = 1 ]; then
	for gib in $SIZES; do
		printf '  vs criu, %s GiB: dump %s GB/s (ferry/criu %s), restore %s GB/s (ferry/criu %s)\n' \
			"$gib" "${R[$gib,criu_dump]}" "$(ratio "${R[$gib,ferry_dump]}" "${R[$gib,criu_dump]}")" \
			"${R[$gib,criu_restore]}" \
			"$(ratio "${R[$gib,ferry_restore]}" "${R[$gib,criu_restore]}")"
	done
else
	echo "  vs criu: skipped: $CRIU_WHY"
fi
printf '  %s-thread process: dump %ss, restore %ss (medians of %s runs)\n' "$THREADS" \
	"$TH_DUMP" "$TH_RESTORE" "$REPEAT"
echo "====================================================================================="
if [ $FAILED = 1 ]; then
	echo "bench: FAILED: ferry did not complete a dump/restore" >&2
	exit 1
fi
echo "bench: ferry dumped, restored and the memory checks passed for every size"
