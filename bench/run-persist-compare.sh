#!/bin/sh
# run-persist-compare.sh - persistence: heapd's snapshots against Redis's
# RDB, in the same run, on the same logical data.
#
# Usage: run-persist-compare.sh BUILD_DIR [RUNS]
#
# Starts heapd (BUILD_DIR/daemon/heapd --config /dev/null, its state_dir
# in a temporary directory, save_on_stop and save_interval off so that only
# the measured saves run) and redis-server (--save "" --appendonly no
# --rdbcompression no, rdbchecksum at its default, its dir in the same
# temporary directory), each on a Unix socket. bench/persist build then
# makes PERSIST_OBJECTS objects (environment, default 10000000: about 1
# GiB of heap_alloc) in heapd, a graph under 1000 named roots with shared
# subgraphs and cycles, and one Redis key per object whose value has the
# object's bytes plus 8 per slot (bench/persist.c has the graph). Then
# RUNS times (default 3), for each server (which goes first alternates):
#
#   save     bench/persist save: a reader (a 64-byte read or GET every
#            PERSIST_READ_US us, default 250, one at a time, each timed;
#            0: back to back) and a writer (PERSIST_WRITE_RATE ops/s,
#            default 2000: half overwrite an object's bytes in place -
#            heapd_write, SETRANGE - half replace a leaf by a new object
#            of the same size - heapd_alloc_into, SET) on their own
#            connections, 1 s before, then heapd_save(h, 1) or BGSAVE
#            until INFO says rdb_bgsave_in_progress:0; the server's RSS
#            sampled every 2 ms (Redis: plus its child's Private_Dirty
#            every 50 ms);
#   restart  SIGTERM, then the same command again: from just before the
#            start (bench/persist now) to the first ping answered (Redis:
#            PONG, not LOADING), and the server's own load time
#            (load_duration_ns; Redis's "DB loaded from disk").
#
# Each run's save works on the heap the run before loaded (the first: on
# the heap as built). Prints every result line as it comes (stderr), then
# a markdown table: the median and range of each figure over the runs,
# heapd / Redis ratios, and the issue's targets (save and load time <= 0.5
# x Redis; during a save a reader's p99 <= 2 ms and max <= 5 ms, extra
# memory <= 10% of the live heap; a snapshot <= 1.1 x the live data and
# slots, sum(nbytes + 8 x nrefs)).
#
# Placement (environment PIN, as run-redis-compare.sh): none by default,
# so that Redis's save child and heapd's thread pool may use the other CPU
# as they would on a server; PIN=split puts both servers (and so their
# children and threads) on CPU 0 and the clients on the others.
#
# Needs about 4 GiB of memory and 3 GiB of disk in $TMPDIR at the default
# size. PERSIST_OBJECTS=200000 makes a quick run. Without redis-server or
# redis-benchmark it says how to install them and exits 0 ("skipped").
# Exits 2 on a usage error, 1 when a server or a step fails, else 0
# whatever the targets say.

set -eu

here=$(dirname "$0")
me="run-persist-compare.sh"
PIN=${PIN:-none}
# shellcheck source=bench/compare.sh
. "$here/compare.sh"
cmp_args 3 "$@"
cmp_need_redis
heapd_bin=$(cmp_find_bin daemon/heapd)
persist=$(cmp_find_bin bench/persist)
objects=${PERSIST_OBJECTS:-10000000}
rate=${PERSIST_WRITE_RATE:-2000}
read_us=${PERSIST_READ_US:-250}
for n in "$objects" "$rate" "$read_us"; do
	case $n in
	'' | *[!0-9]*) echo "$me: PERSIST_OBJECTS, PERSIST_WRITE_RATE and PERSIST_READ_US are numbers" >&2 && exit 2 ;;
	esac
done
cmp_place

tmp=$(mktemp -d)
heapd_pid=
redis_pid=
cmp_more_pids=
trap cmp_cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE  # a reader that goes (| head) must not leave the servers running
mkdir "$tmp/heapd-state" "$tmp/redis"
: >"$tmp/results"

heapd_args="--config /dev/null --state-dir $tmp/heapd-state --save-on-stop no --save-interval 0 --socket $tmp/heapd.sock"
redis_args="--port 0 --unixsocket $tmp/redis.sock --appendonly no --rdbcompression no --dir $tmp/redis --dbfilename dump.rdb --daemonize no"

# Starts server $1 (heapd or redis) and waits until it answers; its
# "ready" line goes to $tmp/line.
start() {
	t0=$("$persist" now)
	if [ "$1" = heapd ]; then
		# shellcheck disable=SC2086 # heapd_args is a list of flags
		$on_server "$heapd_bin" $heapd_args >>"$tmp/heapd.log" 2>&1 &
		heapd_pid=$!
		pid=$heapd_pid
	else
		# shellcheck disable=SC2086 # redis_args is a list of flags
		$on_server redis-server $redis_args --save "" >>"$tmp/redis.log" 2>&1 &
		redis_pid=$!
		pid=$redis_pid
	fi
	if ! $on_client "$persist" ready -k "$1" -s "$tmp/$1.sock" -p "$pid" -T "$t0" -l "$tmp/$1.log" \
		>"$tmp/line" 2>"$tmp/err"; then
		echo "$me: $1 did not start:" >&2
		tail -n 5 "$tmp/err" "$tmp/$1.log" >&2
		exit 1
	fi
}

stop() {
	if [ "$1" = heapd ]; then
		kill "$heapd_pid"
		wait "$heapd_pid" || true
		heapd_pid=
	else
		kill "$redis_pid"
		wait "$redis_pid" || true
		redis_pid=
	fi
}

# A save of server $1 in run $2, measured; its line goes to the results.
save_test() {
	if [ "$1" = heapd ]; then
		pid=$heapd_pid file=$tmp/heapd-state/heapd.snapshot
	else
		pid=$redis_pid file=$tmp/redis/dump.rdb
	fi
	measured "$pid" "$persist" save -k "$1" -s "$tmp/$1.sock" -p "$pid" -t "$tmp/targets" -w "$rate" -i "$read_us" \
		-S "$2" -f "$file" -l "$tmp/$1.log"
	line="$(grep "^$1 test=save " "$tmp/out") run=$2 other_cpu=$cpu_other"
	grep '^persist: a request' "$tmp/err" >&2 || true
	echo "$line" >&2
	echo "$line" >>"$tmp/results"
}

restart_test() {
	stop "$1"
	start "$1"
	line="$(cat "$tmp/line") run=$2"
	echo "$line" >&2
	echo "$line" >>"$tmp/results"
}

began=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# $(uname -n): $ncpu CPUs, placement $pin, load average $load0 before the runs" >&2
echo "# $(redis-server --version | cut -d' ' -f1-3); heapd $("$heapd_bin" --version 2>/dev/null | head -n 1 || true)" >&2
start heapd
start redis
echo "# building $objects objects in heapd, then as many keys in Redis" >&2
if ! $on_client "$persist" build -H "$tmp/heapd.sock" -R "$tmp/redis.sock" -n "$objects" -t "$tmp/targets" \
	>"$tmp/build" 2>"$tmp/err"; then
	echo "$me: bench/persist build failed:" >&2
	tail -n 5 "$tmp/err" >&2
	exit 1
fi
cat "$tmp/build" >&2
run=1
while [ "$run" -le "$runs" ]; do
	order="heapd redis"
	[ $((run % 2)) -eq 1 ] || order="redis heapd"
	for impl in $order; do
		save_test "$impl" "$run"
	done
	for impl in $order; do
		restart_test "$impl" "$run"
	done
	run=$((run + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# load average $load1 after the runs; $(($(date +%s) - began)) s in all" >&2

# "median (min-max)" of a field over the result lines, as median() takes
# them; MR_DIGITS decimals (1).
mr() (
	MEDIAN_RANGE=${MR_DIGITS:-1}
	median "$@"
)

med() { median "$tmp/results" "$@"; }

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'
}

verdict() { # value op limit
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "-") { print "-"; exit }
		ok = (op == "<=" ? v <= l : v >= l); print (ok ? "PASS" : "FAIL") }'
}

bfield() { field "$1" <"$tmp/build"; }
logical=$(bfield logical_bytes)
heap=$(med heapd heap_before test=save)
R=$tmp/results

echo
echo "Persistence vs Redis: $(bfield objects) objects ($(bfield roots) roots, $(bfield slots) slots), $(awk -v b="$logical" 'BEGIN { printf "%.1f", b / 1048576 }') MiB of data and slots; heapd heap_alloc $(awk -v b="$(bfield heap_alloc)" 'BEGIN { printf "%.1f", b / 1048576 }') MiB after the build, Redis used_memory $(awk -v b="$(bfield redis_used_memory)" 'BEGIN { printf "%.1f", b / 1048576 }') MiB. Medians (min-max) of $runs run(s), placement $pin, the writer at $rate ops/s, the reader every $read_us us; load average $load0 before, $load1 after."
echo
echo "| figure | heapd | Redis | heapd / Redis | target | |"
echo "| --- | --- | --- | --- | --- | --- |"
r=$(ratio "$(med heapd wall_ms test=save)" "$(med redis wall_ms test=save)")
echo "| save, wall ms (save --wait; BGSAVE to rdb_bgsave_in_progress:0) | $(mr "$R" heapd wall_ms test=save) | $(mr "$R" redis wall_ms test=save) | $r | <= 0.5 | $(verdict "$r" "<=" 0.5) |"
echo "| save, server ms (last_save_duration_ns; log: started to terminated) | $(mr "$R" heapd server_ms test=save) | $(mr "$R" redis server_ms test=save) | $(ratio "$(med heapd server_ms test=save)" "$(med redis server_ms test=save)") | | |"
echo "| save, the server's CPU ms (heapd: its threads; Redis: with its child) | $(mr "$R" heapd cpu_ms test=save) | $(mr "$R" redis cpu_ms test=save) | $(ratio "$(med heapd cpu_ms test=save)" "$(med redis cpu_ms test=save)") | | |"
echo "| Redis: fork ms; the child's ms (log: started to DB saved on disk) | | $(MR_DIGITS=2 mr "$R" redis fork_ms test=save); $(mr "$R" redis child_ms test=save) | | | |"
r=$(ratio "$(med heapd ready_ms test=load)" "$(med redis ready_ms test=load)")
echo "| restart, ms from exec to ping answered | $(mr "$R" heapd ready_ms test=load) | $(mr "$R" redis ready_ms test=load) | $r | <= 0.5 | $(verdict "$r" "<=" 0.5) |"
echo "| restart, server's load ms (load_duration_ns; DB loaded from disk) | $(mr "$R" heapd load_ms test=load) | $(mr "$R" redis load_ms test=load) | $(ratio "$(med heapd load_ms test=load)" "$(med redis load_ms test=load)") | | |"
p99=$(med heapd lat_p99_us test=save)
max=$(med heapd lat_max_us test=save)
echo "| reader during the save: requests | $(MR_DIGITS=0 mr "$R" heapd lat_n test=save) | $(MR_DIGITS=0 mr "$R" redis lat_n test=save) | | | |"
echo "| reader during the save: p50 us | $(mr "$R" heapd lat_p50_us test=save) | $(mr "$R" redis lat_p50_us test=save) | | | |"
echo "| reader during the save: p99 us | $(mr "$R" heapd lat_p99_us test=save) | $(mr "$R" redis lat_p99_us test=save) | $(ratio "$p99" "$(med redis lat_p99_us test=save)") | heapd <= 2000 | $(verdict "$p99" "<=" 2000) |"
echo "| reader during the save: max us | $(mr "$R" heapd lat_max_us test=save) | $(mr "$R" redis lat_max_us test=save) | $(ratio "$max" "$(med redis lat_max_us test=save)") | heapd <= 5000 | $(verdict "$max" "<=" 5000) |"
echo "| reader in the 1 s before: p99 / max us | $(med heapd base_p99_us test=save) / $(med heapd base_max_us test=save) | $(med redis base_p99_us test=save) / $(med redis base_max_us test=save) | | | |"
extra=$(med heapd extra_mib test=save)
pct=$(awk -v e="$extra" -v h="$heap" 'BEGIN { printf "%.1f", 100 * e * 1048576 / h }')
echo "| extra memory during the save, MiB (heapd: peak RSS - RSS before; Redis: peak RSS + child's Private_Dirty - RSS before) | $(mr "$R" heapd extra_mib test=save) | $(mr "$R" redis extra_mib test=save) | $(ratio "$extra" "$(med redis extra_mib test=save)") | | |"
echo "| the same, % of the live heap (heapd: heap_alloc before the save; Redis: used_memory) | $pct | $(awk -v e="$(med redis extra_mib test=save)" -v h="$(med redis heap_before test=save)" 'BEGIN { printf "%.1f", 100 * e * 1048576 / h }') | | heapd <= 10 | $(verdict "$pct" "<=" 10) |"
echo "| Redis: rdb_last_cow_size MiB | | $(mr "$R" redis cow_mib test=save) | | | |"
echo "| writer ops/s during the save | $(MR_DIGITS=0 mr "$R" heapd writer_rate test=save) | $(MR_DIGITS=0 mr "$R" redis writer_rate test=save) | | | |"
size=$(med heapd size_bytes test=save)
r=$(ratio "$size" "$logical")
echo "| file bytes (heapd.snapshot; dump.rdb) | $(MR_DIGITS=0 mr "$R" heapd size_bytes test=save) | $(MR_DIGITS=0 mr "$R" redis size_bytes test=save) | $(ratio "$size" "$(med redis size_bytes test=save)") | | |"
echo "| file / data and slots ($logical bytes) | $r | $(ratio "$(med redis size_bytes test=save)" "$logical") | | heapd <= 1.1 | $(verdict "$r" "<=" 1.1) |"
echo
# The snapshot's own counts against the build's.
awk -v o="$(bfield objects)" -v s="$(bfield slots)" -v d="$(bfield data_bytes)" '
	$1 == "heapd" && $2 == "test=save" {
		for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["snap_objects"] != o || f["snap_slots"] != s || f["snap_data"] != d) bad++
		n++
	}
	END { printf "Every heapd.snapshot header counts the objects, slots and data bytes built: %s (%d of %d).\n", (bad ? "NO" : "yes"), n - bad, n }' "$R"
maxother=$(awk '{ for (i = 2; i <= NF; i++) if (index($i, "other_cpu=") == 1) { v = substr($i, 11) + 0; if (v > m) m = v } } END { print m + 0 }' "$R")
echo "Other processes used at most $maxother% of a CPU during a measured save."
echo
echo "heapd: $heapd_bin $heapd_args"
echo "Redis: redis-server $redis_args --save \"\""
echo "bench/persist build -n $objects; bench/persist save -w $rate -i $read_us (per run and server); restarts timed by bench/persist ready."
