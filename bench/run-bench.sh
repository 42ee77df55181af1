#!/bin/sh
# run-bench.sh - every heapd benchmark, one after the other.
#
# Usage: run-bench.sh BUILD_DIR
#
# Runs run-gcbench.sh BUILD_DIR (GCBench on heapd and on bdwgc), then
# peakshrink and pauses from BUILD_DIR/bench (or BUILD_DIR itself), then
# run-redis-compare.sh BUILD_DIR (requests per second through libheapd
# against Redis), run-async-compare.sh BUILD_DIR (pipelined, heapctl
# bench against redis-benchmark; both "skipped" without redis-server and
# redis-benchmark), run-fairness.sh BUILD_DIR (a bystander's latency
# while one client abuses heapd; its Redis row needs Redis too, the rest
# runs without), run-persist-compare.sh BUILD_DIR (saves and loads of
# about 1 GiB against Redis's BGSAVE and RDB load; "skipped" without
# Redis), run-python-compare.sh BUILD_DIR (the Python package against
# redis-py; "skipped" without redis-server, python3-redis, python3-hiredis)
# and run-view-compare.sh BUILD_DIR (zero-copy reads: heapd_view against
# heapd_read, Redis's GET and one round trip plus reading in place;
# "skipped" without Redis), printing each one's table as it finishes.
# The programs' own PASS/FAIL lines report the targets; this script exits
# 1 only when a program fails (or prints no result line), 2 on a usage
# error, else 0.

set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
dir=$1
here=$(dirname "$0")

find_bin() {
	for p in "$dir/bench/$1" "$dir/$1"; do
		if [ -f "$p" ] && [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	echo "run-bench.sh: no executable $1 in $dir/bench or $dir" >&2
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

echo "== gcbench"
if ! sh "$here/run-gcbench.sh" "$dir"; then
	echo "run-bench.sh: run-gcbench.sh failed" >&2
	status=1
fi

# Runs one program, its table on stdout, its progress on stderr.
run() {
	echo
	echo "== $1"
	bin=$(find_bin "$1") || return 1
	if ! "$bin" >"$tmp/out"; then
		cat "$tmp/out"
		echo "run-bench.sh: $1 failed" >&2
		return 1
	fi
	cat "$tmp/out"
	echo
	if ! grep -q "^$1 " "$tmp/out"; then
		echo "run-bench.sh: $1 printed no result line" >&2
		return 1
	fi
}

for prog in peakshrink pauses; do
	run "$prog" || status=1
done

for cmp in redis-compare async-compare fairness persist-compare python-compare view-compare; do
	echo
	echo "== $cmp"
	if ! sh "$here/run-$cmp.sh" "$dir"; then
		echo "run-bench.sh: run-$cmp.sh failed" >&2
		status=1
	fi
done
exit "$status"
