#!/bin/sh
# shellcheck disable=SC2154 # bin_0, bin_1, ... are set by eval
#
# run-gcbench-ab.sh - GCBench on two or more builds of the engine, paired,
# with the noise measured in the same run.
#
# Usage: run-gcbench-ab.sh ROUNDS A B [C ...]
#
# Each of A, B, ... is a gcbench_heapd binary, or a directory holding one
# or a build directory holding bench/gcbench_heapd; A is the reference. Every round runs A twice (the
# second time as "A'", an A/A pair that shows what noise alone does) and
# each other build once, in an order that rotates from round to round, on
# both CPUs and then pinned to one (taskset -c of the last CPU: no mark
# worker, the collector's work the same every run); MODES="2" or "1" runs
# only one of the two. Per mode it prints a markdown table: each build's
# median and minimum time, and the median and interquartile range of its
# time over A's in the same round. On a shared machine single runs spread
# by 10% and more; a pair's ratio cancels the drift they share, and a
# difference is real only when it lies well outside A'/A's range.
# Exits 2 on a usage error, 1 when a run fails.

set -eu

usage() {
	echo "usage: $0 ROUNDS A B [C ...]   (a gcbench_heapd or a build directory each)" >&2
	exit 2
}

if [ $# -lt 3 ] || [ $# -gt 26 ]; then
	usage
fi
rounds=$1
shift
case $rounds in
'' | *[!0-9]*) usage ;;
esac
[ "$rounds" -gt 0 ] || usage
modes=${MODES:-2 1}

n=0
for arg in "$@"; do
	if [ -d "$arg" ]; then
		if [ -f "$arg/gcbench_heapd" ]; then
			arg=$arg/gcbench_heapd
		else
			arg=$arg/bench/gcbench_heapd
		fi
	fi
	if [ ! -f "$arg" ] || [ ! -x "$arg" ]; then
		echo "run-gcbench-ab.sh: no executable gcbench_heapd at $arg" >&2
		exit 2
	fi
	eval "bin_$n=\$arg"
	n=$((n + 1))
done
# The runs of a round: A, A', then the others; run k of round r is
# (k + r) mod total, so each build goes first, last and between in turn.
total=$((n + 1))
lastcpu=$(($(getconf _NPROCESSORS_ONLN) - 1))

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A row's name: A, A', then B, C, ... for the other builds, and its path.
label() {
	case $1 in
	0) echo "A: $bin_0" ;;
	1) echo "A': $bin_0" ;;
	*) eval "echo \"$(echo BCDEFGHIJKLMNOPQRSTUVWXYZ | cut -c $(($1 - 1))): \$bin_$(($1 - 1))\"" ;;
	esac
}

for mode in $modes; do
	case $mode in
	2) pin= ;;
	1) pin="taskset -c $lastcpu" ;;
	*) usage ;;
	esac
	: >"$tmp/times"
	r=0
	while [ $r -lt "$rounds" ]; do
		k=0
		while [ $k -lt $total ]; do
			run=$(((k + r) % total))
			if [ $run -le 1 ]; then
				b=$bin_0
			else
				eval "b=\$bin_$((run - 1))"
			fi
			if ! $pin "$b" >"$tmp/out" 2>"$tmp/err"; then
				echo "run-gcbench-ab.sh: $b failed:" >&2
				tail -n 5 "$tmp/err" >&2
				exit 1
			fi
			t=$(sed -n 's/.*time_s=\([0-9.]*\).*/\1/p' "$tmp/out")
			echo "$r $run $t" >>"$tmp/times"
			k=$((k + 1))
		done
		r=$((r + 1))
	done
	echo
	echo "GCBench on $mode CPU(s), $rounds rounds:"
	echo
	echo "| build | median (s) | min (s) | over A in the same round: median [IQR] |"
	echo "| --- | --- | --- | --- |"
	k=0
	while [ $k -lt $total ]; do
		stats=$(awk -v k=$k '
			{ t[$1, $2] = $3; if ($1 + 1 > nr) nr = $1 + 1 }
			function sort(a, m,   i, j, x) {
				for (i = 2; i <= m; i++) {
					x = a[i]
					for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]
					a[j + 1] = x
				}
			}
			function med(a, m) { return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
			END {
				for (r = 0; r < nr; r++) { s[r + 1] = t[r, k]; q[r + 1] = t[r, k] / t[r, 0] }
				sort(s, nr); sort(q, nr)
				lo = int(nr / 4) + 1; hi = nr - int(nr / 4)
				if (k == 0)
					printf "%.3f | %.3f | 1\n", med(s, nr), s[1]
				else
					printf "%.3f | %.3f | %.3f [%.3f-%.3f]\n", med(s, nr), s[1], med(q, nr), q[lo], q[hi]
			}' "$tmp/times")
		echo "| $(label $k) | $stats |"
		k=$((k + 1))
	done
done
