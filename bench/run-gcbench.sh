#!/bin/sh
# run-gcbench.sh - GCBench on heapd against GCBench on bdwgc.
#
# Usage: run-gcbench.sh BUILD_DIR_OR_BIN_DIR [RUNS]
#
# Runs gcbench_heapd, gcbench_heapd --strict and gcbench_bdwgc (found in
# the directory or in its bench/) RUNS times each, default 5, alternating so
# that drift in the machine's state falls on all alike, echoing each result
# line to stderr. Prints a markdown table, one row per program: median time,
# median GCs, median collector time (heapd: all pauses; bdwgc: its
# collections), the max of the runs' max pauses and of their peak RSS; then
# the heapd/bdwgc ratios of median time, collector time and max pause,
# checked against heapd's targets (time <= 0.70, max pause <= 1.00); and
# bdwgc's time outside its collections (median time minus median collector
# time: allocation, lazy sweeping and the benchmark itself), as a share of
# its whole time, with heapd's time against it. With heapd's collector on
# its own CPU, heapd's time is its mutator's; that line says how far the
# time target sits from bdwgc's own mutator.
# Exits 2 on a usage error, 1 when a program fails, else 0 whatever the
# targets say.

set -eu

usage() {
	echo "usage: $0 BUILD_DIR_OR_BIN_DIR [RUNS]" >&2
	exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
dir=$1
runs=${2:-5}
case $runs in
'' | *[!0-9]*) usage ;;
esac
[ "$runs" -gt 0 ] || usage

find_bin() {
	for p in "$dir/$1" "$dir/bench/$1"; do
		if [ -f "$p" ] && [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	echo "run-gcbench.sh: no executable $1 in $dir or $dir/bench" >&2
	exit 1
}

heapd_bin=$(find_bin gcbench_heapd)
bdwgc_bin=$(find_bin gcbench_bdwgc)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs one program once and appends its result line to $tmp/results.
run_one() {
	if ! "$@" >"$tmp/out" 2>"$tmp/err"; then
		echo "run-gcbench.sh: $1 failed:" >&2
		tail -n 5 "$tmp/err" >&2
		exit 1
	fi
	if ! grep '^gcbench ' "$tmp/out" >>"$tmp/results"; then
		echo "run-gcbench.sh: $1 printed no result line" >&2
		exit 1
	fi
	tail -n 1 "$tmp/results" >&2
}

i=0
while [ "$i" -lt "$runs" ]; do
	run_one "$heapd_bin"
	run_one "$heapd_bin" --strict
	run_one "$bdwgc_bin"
	i=$((i + 1))
done

# Values of KEY in IMPL's result lines, one a line.
field() {
	awk -v impl="impl=$1" -v key="$2=" '
		$2 == impl {
			for (i = 3; i <= NF; i++)
				if (index($i, key) == 1)
					print substr($i, length(key) + 1)
		}' "$tmp/results"
}

median() {
	sort -n | awk '
		{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

maximum() {
	sort -n | tail -n 1
}

for impl in heapd heapd-strict bdwgc; do
	printf '%s %s %s %s %s %s\n' "$impl" \
		"$(field "$impl" time_s | median)" \
		"$(field "$impl" num_gc | median)" \
		"$(field "$impl" gc_ms | median)" \
		"$(field "$impl" max_pause_us | maximum)" \
		"$(field "$impl" peak_rss_kib | maximum)"
done | awk '
	BEGIN {
		print "| impl | time (median s) | GCs | collector (median ms) | max pause (us) | peak RSS (MiB) |"
		print "| --- | --- | --- | --- | --- | --- |"
	}
	{
		printf "| %s | %.3f | %g | %.1f | %d | %.1f |\n", $1, $2, $3, $4, $5, $6 / 1024
		time[$1] = $2
		gc[$1] = $4
		pause[$1] = $5
	}
	function ratio(a, b) { return b > 0 ? a / b : (a > 0 ? 1e9 : 1) }
	END {
		rt = ratio(time["heapd"], time["bdwgc"])
		rs = ratio(time["heapd-strict"], time["bdwgc"])
		rg = ratio(gc["heapd"], gc["bdwgc"])
		rp = ratio(pause["heapd"], pause["bdwgc"])
		printf "\nratio heapd/bdwgc time=%.2f (strict %.2f) collector=%.2f max_pause=%.2f\n", rt, rs, rg, rp
		mut = time["bdwgc"] - gc["bdwgc"] / 1000
		printf "bdwgc outside collections: %.3f s = %.2f of its time; heapd/that=%.2f\n", mut, ratio(mut, time["bdwgc"]), ratio(time["heapd"], mut)
		printf "target time<=0.70: %s\n", rt <= 0.70 ? "PASS" : "FAIL"
		printf "target max_pause<=1.00: %s\n", rp <= 1.00 ? "PASS" : "FAIL"
	}'
