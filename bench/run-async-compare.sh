#!/bin/sh
# run-async-compare.sh - pipelined requests per second: heapd through
# `heapctl bench` (libheapd's async API) against Redis through
# `redis-benchmark`, in the same run: 50 connections, 16 requests in
# flight on each, 64-byte values.
#
# Usage: run-async-compare.sh BUILD_DIR [RUNS]
#
# Starts a fresh heapd (BUILD_DIR/daemon/heapd --config /dev/null) and a
# fresh redis-server (--port 0 --save "" --appendonly no), each on a Unix
# socket in a temporary directory (compare.sh). Then RUNS times (default
# 5), heapd's tests and Redis's, alternating which goes first:
#   heapctl bench -c 50 -P 16 -d 64 -t alloc, then -t read;
#   redis-benchmark -c 50 -P 16 -d 64 -t set, then -t get (SET first, so
#   GET finds a 64-byte value).
# alloc is one request: an object with its 64 bytes of data, stored in a
# cycling slot of the connection's key space, as a SET replaces a key's
# value (docs/heapctl.md). Both sides of a pair make the same number of
# requests, sized from a short probe of each so that the faster runs about
# SECS seconds (environment, default 4).
#
# Prints every result line as it comes (stderr), then a markdown table of
# the medians over the runs: requests per second, the ratio heapd/Redis
# (target: heapd >= 1.2x Redis), latency, and the CPU each load generator
# and each server used, in % of one CPU over its test (a generator near
# 100% is the bottleneck, and then the figure is its own, not the
# server's), and the servers' CPU per request, which the placement
# hardly changes. Every line also has other_cpu, what other processes used
# meanwhile (figures taken with it above a few % are not comparable).
#
# Placement (environment PIN, default split): see run-redis-compare.sh.
# Here both sides are CPU-bound, so split (servers on CPU 0, generators on
# the others) measures a server as long as its generator keeps up; same
# would add the generator's cost to the server's (docs/performance.md).
#
# Without redis-server or redis-benchmark it says how to install them and
# exits 0 ("skipped"). Exits 2 on a usage error, 1 when a server or a
# benchmark fails, else 0 whatever the target says.

set -eu

conns=50
depth=16
size=64

here=$(dirname "$0")
me="run-async-compare.sh"
# shellcheck source=bench/compare.sh
. "$here/compare.sh"
cmp_args 5 "$@"
cmp_need_redis
heapd_bin=$(cmp_find_bin daemon/heapd)
heapctl=$(cmp_find_bin client/heapctl/heapctl)
cmp_place
cmp_start

# heapd_test TEST N: one result line in $tmp/line, from heapctl bench's
# CSV row (test,connections,pipeline,data_bytes,requests,seconds,rps,
# p50_us,p99_us,max_us).
heapd_test() {
	measured "$heapd_pid" "$heapctl" -s "$tmp/heapd.sock" bench -c "$conns" -P "$depth" -d "$size" -t "$1" \
		-n "$2" --csv
	awk -F, 'NR == 2 { printf "heapd test=%s rps=%s p50_us=%s p99_us=%s", $1, $7, $8, $9 }' "$tmp/out" >"$tmp/line"
	result "$2"
}

# redis_test TEST N: the same from redis-benchmark's CSV row
# ("SET","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
# "p95_latency_ms","p99_latency_ms","max_latency_ms").
redis_test() {
	measured "$redis_pid" redis-benchmark -s "$tmp/redis.sock" -c "$conns" -P "$depth" -d "$size" -t "$1" \
		-n "$2" --csv
	tr -d '"' <"$tmp/out" | awk -F, 'NR == 2 {
		printf "redis test=%s rps=%s p50_us=%.1f p99_us=%.1f", $1, $2, $5 * 1000, $7 * 1000
	}' >"$tmp/line"
	result "$2"
}

# Completes $tmp/line with n and the CPU figures (also per request, in us,
# the objects' setup included), checks it, and records it.
result() {
	if ! grep -q 'rps=[0-9]' "$tmp/line"; then
		echo "$me: no result in the output:" >&2
		tail -n 5 "$tmp/out" >&2
		exit 1
	fi
	per="client_us=$(ticks_per_op "$ticks_client" "$1") server_us=$(ticks_per_op "$ticks_server" "$1")"
	echo " n=$1 client_cpu=$cpu_client server_cpu=$cpu_server $per other_cpu=$cpu_other" >>"$tmp/line"
	tr -d '\n' <"$tmp/line" >>"$tmp/results"
	echo >>"$tmp/results"
	tail -n 1 "$tmp/results" >&2
}

# The number of requests for a pair: a probe of each side, then enough for
# the faster to run about $secs seconds.
size_pair() { # heapd_test redis_test
	heapd_test "$1" 200000
	h=$(field rps <"$tmp/line")
	redis_test "$2" 200000
	r=$(field rps <"$tmp/line")
	size_for "$(awk -v h="$h" -v r="$r" 'BEGIN { print (h > r ? h : r) }')" 200000
}

: >"$tmp/results"
echo "# $(uname -n): $ncpu CPUs, placement $pin, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs" >&2
echo "# $(redis-server --version | cut -d' ' -f1-3); heapd $("$heapd_bin" --version 2>/dev/null | head -n 1 || true)" >&2
echo "# $conns connections, pipeline $depth, $size-byte values; probes first (not counted)" >&2
n_set=$(size_pair alloc SET)
n_get=$(size_pair read GET)
: >"$tmp/results"
run=1
while [ "$run" -le "$runs" ]; do
	if [ $((run % 2)) -eq 1 ]; then
		heapd_test alloc "$n_set"
		heapd_test read "$n_get"
		redis_test SET "$n_set"
		redis_test GET "$n_get"
	else
		redis_test SET "$n_set"
		redis_test GET "$n_get"
		heapd_test alloc "$n_set"
		heapd_test read "$n_get"
	fi
	run=$((run + 1))
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs" >&2

m() { median "$tmp/results" "$@"; }
maxother=$(awk '{ for (i = 2; i <= NF; i++) if (index($i, "other_cpu=") == 1) { v = substr($i, 11) + 0; if (v > m) m = v } } END { print m + 0 }' "$tmp/results")
echo
echo "Medians of $runs run(s), placement $pin, $conns connections, pipeline $depth, $size-byte values; alloc is one request (an object with its data, into a cycling slot). CPU in % of one CPU over each test, and per request in us; other processes used at most $maxother% of a CPU during a test."
echo
echo "| heapd vs Redis | heapd req/s | Redis req/s | ratio | target >= 1.2 | heapd p50 / p99 us | Redis p50 / p99 us | CPU heapctl / redis-benchmark | CPU heapd / redis-server | server CPU us/req heapd / Redis |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for pair in alloc:SET read:GET; do
	t=${pair%%:*}
	peer=${pair#*:}
	h=$(m heapd rps "test=$t")
	r=$(m redis rps "test=$peer")
	ratio=$(awk -v h="$h" -v r="$r" 'BEGIN { printf "%.2f", h / r }')
	verdict=$(awk -v x="$ratio" 'BEGIN { print (x >= 1.2 ? "PASS" : "FAIL") }')
	printf '| %s vs %s | %.0f | %.0f | %s | %s | %s / %s | %s / %s | %s%% / %s%% | %s%% / %s%% | %s / %s |\n' \
		"$t" "$peer" "$h" "$r" "$ratio" "$verdict" "$(m heapd p50_us "test=$t")" "$(m heapd p99_us "test=$t")" \
		"$(m redis p50_us "test=$peer")" "$(m redis p99_us "test=$peer")" \
		"$(m heapd client_cpu "test=$t")" "$(m redis client_cpu "test=$peer")" \
		"$(m heapd server_cpu "test=$t")" "$(m redis server_cpu "test=$peer")" \
		"$(m heapd server_us "test=$t")" "$(m redis server_us "test=$peer")"
done
