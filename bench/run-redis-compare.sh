#!/bin/sh
# run-redis-compare.sh - requests per second: heapd (through libheapd)
# against Redis, in the same run, with 1 and with 50 connections.
#
# Usage: run-redis-compare.sh BUILD_DIR [RUNS]
#
# Starts a fresh heapd (BUILD_DIR/daemon/heapd --config /dev/null) and a
# fresh redis-server (--port 0 --save "" --appendonly no), each on a Unix
# socket in a temporary directory. Then RUNS times (default 3), for 1 and
# for 50 connections: bench/reqbench for alloc+write, read and set_ref, and
# redis-benchmark -t set,get -d 64 -q. Each test's request count is sized
# from a short probe so that it runs about SECS seconds (environment,
# default 4). Prints every result line as it comes (stderr), then a markdown
# table of the medians over the runs: alloc+write against SET, read against
# GET (target: heapd >= 1.00x Redis), set_ref without a peer. Stops both
# servers.
#
# Placement (environment PIN): on a small machine the scheduler decides
# much of the result, so by default both servers run on CPU 0 and the load
# generators on the other CPUs (PIN=split), with taskset. PIN=same puts
# everything on CPU 0 (each request then costs the CPU time of client and
# server, and no cross-CPU wake-up); PIN=none lets the scheduler place them
# (with 1 connection, runs then differ by up to 10x, depending on whether
# client and server happen to share a CPU). Without taskset, or with one
# CPU, nothing is pinned.
#
# Each run also measures the floor at 1 connection: round trips to
# bench/pingpong, a server that does no work, placed as the servers are;
# the end says what share of it each server reaches.
#
# A second table gives the CPU time per operation of each load generator
# and each server, and how often libheapd's waits spun (heapd_set_spin);
# a line after it, heapd at 1 connection with spinning off
# (HEAPD_SPIN_US=0), measured in the same runs.
#
# Each measured test's line ends with other_cpu: the CPU time that
# processes other than the servers and the load generator used meanwhile,
# in % of one CPU. Figures taken with other_cpu above a few % are not
# comparable.
#
# alloc+write is one request: heapd_alloc_into of a 64-byte object into a
# slot of the connection's key space, as a SET of a key replaces its value.
# See bench/reqbench.c.
#
# Without redis-server or redis-benchmark it says how to install them and
# exits 0 ("skipped"). Exits 2 on a usage error, 1 when a server or a
# benchmark fails, else 0 whatever the target says.

set -eu

here=$(dirname "$0")
me="run-redis-compare.sh"
# shellcheck source=bench/compare.sh
. "$here/compare.sh"
cmp_args 3 "$@"
cmp_need_redis
heapd_bin=$(cmp_find_bin daemon/heapd)
reqbench=$(cmp_find_bin bench/reqbench)
pingpong=$(cmp_find_bin bench/pingpong)
cmp_place
cmp_start
$on_server "$pingpong" serve "$tmp/pingpong.sock" >"$tmp/pingpong.log" 2>&1 &
cmp_more_pids=$!
if ! wait_socket "$tmp/pingpong.sock" "$cmp_more_pids"; then
	echo "run-redis-compare.sh: pingpong did not start:" >&2
	cat "$tmp/pingpong.log" >&2
	exit 1
fi

# Runs pingpong for $1 round trips; its result line goes to $tmp/line.
floor_test() {
	if ! $on_client "$pingpong" "$tmp/pingpong.sock" "$1" >"$tmp/line" 2>"$tmp/err"; then
		echo "run-redis-compare.sh: pingpong failed:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
}

# Runs reqbench, measured, with $HEAPD_SPIN_US=$4 if given; its result
# line goes to $tmp/line.
heapd_test() { # test conns n [spin_us]
	measured "$heapd_pid" env ${4:+HEAPD_SPIN_US=$4} "$reqbench" -s "$tmp/heapd.sock" -t "$1" -c "$2" -n "$3"
	grep '^reqbench ' "$tmp/out" >"$tmp/line" || {
		echo "run-redis-compare.sh: reqbench printed no result line" >&2
		exit 1
	}
}

# Runs redis-benchmark -t set,get; "SET rps p50_ms" and "GET ..." lines
# to $tmp/rline.
redis_test() { # conns n
	measured "$redis_pid" redis-benchmark -s "$tmp/redis.sock" -c "$1" -n "$2" -d 64 -t set,get -q
	tr '\r' '\n' <"$tmp/out" | awk '
		/^(SET|GET): [0-9.]+ requests per second/ {
			p50 = ""
			for (i = 1; i <= NF; i++) if (index($i, "p50=") == 1) p50 = substr($i, 5)
			sub(":", "", $1); print $1, $2, p50
		}' >"$tmp/rline"
	if [ "$(wc -l <"$tmp/rline")" -ne 2 ]; then
		echo "run-redis-compare.sh: cannot read redis-benchmark's output:" >&2
		tr '\r' '\n' <"$tmp/out" | tail -n 5 >&2
		exit 1
	fi
}

: >"$tmp/results"
echo "# $(uname -n): $ncpu CPUs, placement $pin, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs" >&2
echo "# $(redis-server --version | cut -d' ' -f1-3); heapd $("$heapd_bin" --version 2>/dev/null | head -n 1 || true)" >&2
run=1
while [ "$run" -le "$runs" ]; do
	floor_test 5000
	floor_test "$(size_for "$(field per_s <"$tmp/line")")"
	cat "$tmp/line" >&2
	cat "$tmp/line" >>"$tmp/results"
	for conns in 1 50; do
		for t in alloc+write read set_ref; do
			heapd_test "$t" "$conns" 20000
			n=$(size_for "$(field ops_per_s <"$tmp/line")")
			heapd_test "$t" "$conns" "$n"
			per="client_us=$(ticks_per_op "$ticks_client" "$n") server_us=$(ticks_per_op "$ticks_server" "$n")"
			echo "$(cat "$tmp/line") n=$n $per other_cpu=$cpu_other%" >&2
			echo "heapd $(cat "$tmp/line") n=$n $per other_cpu=$cpu_other" >>"$tmp/results"
			if [ "$conns" = 1 ] && [ "$t" != set_ref ]; then
				heapd_test "$t" 1 "$n" 0
				echo "$(cat "$tmp/line") spin=off n=$n other_cpu=$cpu_other%" >&2
				echo "heapd-nospin $(cat "$tmp/line") n=$n other_cpu=$cpu_other" >>"$tmp/results"
			fi
		done
		redis_test "$conns" 20000
		n=$(awk -v s="$secs" '{ inv += 1 / $2 } END { n = int(2 * s / inv); if (n < 10000) n = 10000; print n }' "$tmp/rline")
		redis_test "$conns" "$n"
		per="client_us=$(ticks_per_op "$ticks_client" $((2 * n))) server_us=$(ticks_per_op "$ticks_server" $((2 * n)))"
		while read -r name rps p50; do
			echo "redis test=$name conns=$conns ops_per_s=$rps p50_ms=$p50 n=$n $per other_cpu=$cpu_other% (SET and GET together)" >&2
			echo "redis test=$name conns=$conns ops_per_s=$rps p50_us=$(awk -v m="$p50" 'BEGIN { printf "%.1f", m * 1000 }') n=$n $per other_cpu=$cpu_other" >>"$tmp/results"
		done <"$tmp/rline"
	done
	run=$((run + 1))
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs" >&2

maxother=$(awk '{ for (i = 2; i <= NF; i++) if (index($i, "other_cpu=") == 1) { v = substr($i, 11) + 0; if (v > m) m = v } } END { print m + 0 }' "$tmp/results")
echo
echo "Medians of $runs run(s), placement $pin; alloc+write is one heapd_alloc_into request per operation. Other processes used at most $maxother% of a CPU during a measured test."
echo
echo "| test | connections | heapd ops/s | heapd reqs/s | heapd p50 / p99 us | redis ops/s | redis p50 us | ratio | target >= 1.0 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for conns in 1 50; do
	for pair in alloc+write:SET read:GET set_ref:-; do
		t=${pair%%:*}
		peer=${pair#*:}
		hops=$(median "$tmp/results" heapd ops_per_s "test=$t" "conns=$conns")
		hreqs=$(median "$tmp/results" heapd reqs_per_s "test=$t" "conns=$conns")
		hp50=$(median "$tmp/results" heapd p50_us "test=$t" "conns=$conns")
		hp99=$(median "$tmp/results" heapd p99_us "test=$t" "conns=$conns")
		if [ "$peer" = - ]; then
			rops=-
			rp50=-
			ratio=-
			verdict="no peer"
			label=$t
		else
			rops=$(median "$tmp/results" redis ops_per_s "test=$peer" "conns=$conns")
			rp50=$(median "$tmp/results" redis p50_us "test=$peer" "conns=$conns")
			ratio=$(awk -v h="$hops" -v r="$rops" 'BEGIN { printf "%.2f", h / r }')
			verdict=$(awk -v x="$ratio" 'BEGIN { print (x >= 1.0 ? "PASS" : "FAIL") }')
			label="$t vs $peer"
		fi
		printf '| %s | %s | %.0f | %.0f | %s / %s | %s | %s | %s | %s |\n' "$label" "$conns" "$hops" "$hreqs" \
			"$hp50" "$hp99" "$(awk -v x="$rops" 'BEGIN { if (x == "-") print x; else printf "%.0f", x }')" \
			"$rp50" "$ratio" "$verdict"
	done
done
echo
echo "CPU per operation, us (medians): the load generator's (heapd: reqbench through libheapd; Redis: redis-benchmark) and the server's. libheapd's blocking calls spin before sleeping (heapd_set_spin); spun is the share of heapd's requests whose wait spun, hit the share of those spins that saw the reply."
echo
echo "| test | connections | heapd client | heapd server | heapd spun / hit % | redis client | redis server |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for conns in 1 50; do
	for pair in alloc+write:SET read:GET; do
		t=${pair%%:*}
		peer=${pair#*:}
		printf '| %s vs %s | %s | %s | %s | %s / %s | %s | %s |\n' "$t" "$peer" "$conns" \
			"$(median "$tmp/results" heapd client_us "test=$t" "conns=$conns")" \
			"$(median "$tmp/results" heapd server_us "test=$t" "conns=$conns")" \
			"$(median "$tmp/results" heapd spun_pct "test=$t" "conns=$conns")" \
			"$(median "$tmp/results" heapd spin_hit_pct "test=$t" "conns=$conns")" \
			"$(median "$tmp/results" redis client_us "test=$peer" "conns=$conns")" \
			"$(median "$tmp/results" redis server_us "test=$peer" "conns=$conns")"
	done
done
echo
echo "At 1 connection with spinning off (HEAPD_SPIN_US=0, the same n):"
for pair in alloc+write:SET read:GET; do
	t=${pair%%:*}
	peer=${pair#*:}
	awk -v t="$t" -v p="$peer" -v h="$(median "$tmp/results" heapd-nospin ops_per_s "test=$t" conns=1)" \
		-v r="$(median "$tmp/results" redis ops_per_s "test=$peer" conns=1)" \
		'BEGIN { printf " heapd %s %.0f ops/s, %.2fx Redis %s;", t, h, h / r, p }'
done
echo
floor=$(median "$tmp/results" pingpong per_s)
echo
printf 'Floor at 1 connection, placed as the servers are: %.0f round trips/s (median rtt %s us) to bench/pingpong, a server that does no work. As a share of it at 1 connection:' \
	"$floor" "$(median "$tmp/results" pingpong rtt_us)"
for pair in alloc+write:SET read:GET; do
	t=${pair%%:*}
	peer=${pair#*:}
	awk -v t="$t" -v p="$peer" -v f="$floor" -v h="$(median "$tmp/results" heapd ops_per_s "test=$t" conns=1)" \
		-v r="$(median "$tmp/results" redis ops_per_s "test=$peer" conns=1)" \
		'BEGIN { printf " heapd %s %.0f%%, Redis %s %.0f%%;", t, 100 * h / f, p, 100 * r / f }'
done
echo
