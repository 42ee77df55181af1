#!/bin/sh
# run-fairness.sh - issue 15's fairness benchmark: a bystander's latency
# and heapd's watchdog while one client abuses heapd, and a reader's
# latency under a heavy writer, heapd against Redis.
#
# Usage: run-fairness.sh BUILD_DIR
#
# Starts a fresh heapd at its defaults (BUILD_DIR/daemon/heapd --config
# /dev/null) on a socket in a temporary directory, with NOTIFY_SOCKET set
# to a datagram socket there and WATCHDOG_USEC (environment WATCHDOG_USEC,
# default 1000000: heapd pings every 0.5 s) as systemd would, and runs
# bench/fairness (bench/fairness.c says what each phase does): 1 GiB live
# (10 million objects), then each abuse pattern for SECS seconds
# (environment, default 5), a request still unanswered GRACE seconds
# (default 30) past a phase counted at its age (">="). Then, with
# redis-server, redis-cli and redis-benchmark installed, a fresh
# redis-server (--port 0 --save "" --appendonly no) with as many keys
# (DEBUG POPULATE 10000000, 96-byte values), its writer
# "redis-benchmark -t set -d 4096 -P 64 -r 1000000" and bench/redisget, a
# GET at a time, for SECS. Nothing is pinned: the processes share the
# machine's CPUs as the scheduler places them.
#
# Prints every result line as it comes (stderr), then two tables: per
# phase, the bystander's p50/p99/max and the watchdog's longest gap and
# misses (a gap over WATCHDOG_USEC, after which systemd would kill heapd),
# against the targets (p99 <= 2 ms, max <= 10 ms, no miss); and the heavy
# phase's reader, heapd with libheapd's spin on and off against Redis
# (target: p99 and max no worse, ratio <= 1). Latencies on a shared
# machine are noisy: the load average is printed before and after.
#
# Exits 2 on a usage error, 1 when heapd dies or a program fails, else 0
# whatever the targets say.

set -eu

here=$(dirname "$0")
me="run-fairness.sh"
# shellcheck source=bench/compare.sh
. "$here/compare.sh"
if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
dir=$1
secs=${SECS:-5}
grace=${GRACE:-30}
wd_usec=${WATCHDOG_USEC:-1000000}
for n in "$secs" "$grace" "$wd_usec"; do
	case $n in
	'' | *[!0-9]* | 0) echo "usage: $0 BUILD_DIR (SECS, GRACE, WATCHDOG_USEC: positive numbers)" >&2 && exit 2 ;;
	esac
done
heapd_bin=$(cmp_find_bin daemon/heapd)
fairness=$(cmp_find_bin bench/fairness)
redisget=$(cmp_find_bin bench/redisget)

tmp=$(mktemp -d)
heapd_pid=
redis_pid=
cmp_more_pids=  # the Redis writer, once started (compare.sh's cmp_cleanup)
redis_other=
trap cmp_cleanup EXIT
trap 'exit 1' INT TERM HUP
status=0
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# load average $load0 before the runs" >&2

# Every setting at its default but max_heap_per_uid: one uid makes the
# live heap and runs every abuse, and the full-heap pattern must reach
# max_heap, not that uid's quota (whose refusals cost nothing: test_quota).
# HEAPD_ARGS= runs heapd at its defaults, quota included.
# shellcheck disable=SC2086 # HEAPD_ARGS is a list of flags
NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=$wd_usec "$heapd_bin" --config /dev/null --state-dir "" \
	${HEAPD_ARGS---max-heap-per-uid none} --socket "$tmp/heapd.sock" >"$tmp/heapd.log" 2>&1 &
heapd_pid=$!
if ! wait_socket "$tmp/heapd.sock" "$heapd_pid"; then
	echo "$me: heapd did not start:" >&2
	tail -n 5 "$tmp/heapd.log" >&2
	exit 1
fi
c0=$(cpu_ticks) u0=$(uptime_s)
if ! "$fairness" -s "$tmp/heapd.sock" -n "$tmp/notify.sock" -p "$heapd_pid" -w "$wd_usec" -d "$secs" \
	-g "$grace" >"$tmp/results"; then
	echo "$me: bench/fairness failed; heapd's log ends:" >&2
	tail -n 5 "$tmp/heapd.log" >&2
	status=1
fi
heapd_other=$(other_cpu "$c0" "$(cpu_ticks)" "$u0" "$(uptime_s)")
cat "$tmp/results" >&2
echo "# other processes used $heapd_other% of a CPU meanwhile" >&2
kill "$heapd_pid" 2>/dev/null || true
wait "$heapd_pid" 2>/dev/null || true
heapd_pid=

# Commands Redis has run so far.
redis_commands() {
	redis-cli -s "$tmp/redis.sock" info stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'
}

if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 &&
	command -v redis-benchmark >/dev/null 2>&1; then
	redis-server --port 0 --unixsocket "$tmp/redis.sock" --save "" --appendonly no --daemonize no \
		--dir "$tmp" --enable-debug-command local >"$tmp/redis.log" 2>&1 &
	redis_pid=$!
	if ! wait_socket "$tmp/redis.sock" "$redis_pid"; then
		echo "$me: redis-server did not start:" >&2
		tail -n 5 "$tmp/redis.log" >&2
		exit 1
	fi
	redis-cli -s "$tmp/redis.sock" debug populate 10000000 fairness:live 96 >/dev/null
	c0=$(cpu_ticks) u0=$(uptime_s)
	n0=$(redis_commands)
	redis-benchmark -s "$tmp/redis.sock" -t set -d 4096 -P 64 -r 1000000 -n 2000000000 -q >/dev/null 2>&1 &
	cmp_more_pids=$!
	sleep 1
	if ! "$redisget" -s "$tmp/redis.sock" -d "$secs" -g "$grace" >"$tmp/redis"; then
		echo "$me: bench/redisget failed" >&2
		status=1
	fi
	n1=$(redis_commands)
	kill "$cmp_more_pids"
	wait "$cmp_more_pids" 2>/dev/null || true
	cmp_more_pids=
	redis_other=$(other_cpu "$c0" "$(cpu_ticks)" "$u0" "$(uptime_s)")
	cat "$tmp/redis" >&2
	echo "# Redis ran $(((n1 - n0) / (secs + 1))) commands/s (the writer's SETs, the reader's GETs)" >&2
	echo "# other processes used $redis_other% of a CPU meanwhile" >&2
	cat "$tmp/redis" >>"$tmp/results"
else
	echo "$me: redis-server, redis-cli or redis-benchmark is missing: no Redis figures" >&2
	echo "install them with: apt-get install redis-server redis-tools" >&2
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# load average $load1 after the runs" >&2

# Field $2 of the result line of phase $1, or "-".
get() {
	v=$(grep "^fairness phase=$1 " "$tmp/results" | field "$2" | head -n 1)
	echo "${v:--}"
}

# Microseconds $1 as milliseconds, ">=" before when the line has stuck=1.
ms() {
	awk -v v="$1" -v s="$2" 'BEGIN { if (v == "-") print v; else printf "%s%.2f", (s == 1 ? ">=" : ""), v / 1000 }'
}

echo
echo "Fair sharing: heapd at its defaults, 1 GiB live; $secs s per phase; WATCHDOG_USEC=$wd_usec; load average $load0 before, $load1 after; other processes used $heapd_other% of a CPU during heapd's phases${redis_other:+, $redis_other% during the Redis run}."
echo
echo "| phase | bystander | count | p50 ms | p99 ms | max ms | watchdog max gap ms | misses | target |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for p in quiet batch full roots idle idle-ping reads heavy heavy-nospin; do
	if ! grep -q "^fairness phase=$p " "$tmp/results"; then
		echo "| $p | not run | | | | | | | |"
		continue
	fi
	s=$(get "$p" stuck)
	meter=$(get "$p" meter)
	if [ "$meter" = connect ]; then
		meter="connect: $(get "$p" ok) ok, $(get "$p" refused) refused"
	fi
	# The heavy load's target is Redis's reader (below); a connect's wait
	# includes the kernel's accept queue (docs/performance.md): reported.
	case $p in
	heavy*) verdict="vs Redis, below" ;;
	idle) verdict="reported" ;;
	*) verdict=$(awk -v p99="$(get "$p" p99_us)" -v max="$(get "$p" max_us)" -v m="$(get "$p" wd_misses)" \
		-v ok="$(get "$p" ok)" -v s="$s" \
		'BEGIN { print (p99 <= 2000 && max <= 10000 && m == 0 && ok > 0 && s == 0 ? "PASS" : "FAIL") }') ;;
	esac
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" "$meter" "$(get "$p" count)" \
		"$(ms "$(get "$p" p50_us)" 0)" "$(ms "$(get "$p" p99_us)" 0)" "$(ms "$(get "$p" max_us)" "$s")" \
		"$(get "$p" wd_max_gap_ms)" "$(get "$p" wd_misses)" "$verdict"
done
if grep -q 'heapd=\|setup=failed' "$tmp/results"; then
	echo
	grep 'heapd=\|setup=failed' "$tmp/results" | sed 's/^fairness //'
	status=1
fi

echo
echo "Heavy legitimate load: a writer pipelining 64 x 4 KiB allocations (heapd) or SETs (Redis), a reader of 64 bytes at a time; ratios heapd / Redis (target <= 1)."
echo
echo "| reader | count | p50 ms | p99 ms | max ms | p99 ratio | max ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
rp99=$(get redis-heavy p99_us)
rmax=$(get redis-heavy max_us)
for p in heavy:"heapd, spin on" heavy-nospin:"heapd, spin off (HEAPD_SPIN_US=0)" redis-heavy:"Redis GET"; do
	ph=${p%%:*}
	p99=$(get "$ph" p99_us)
	max=$(get "$ph" max_us)
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${p#*:}" "$(get "$ph" count)" "$(ms "$(get "$ph" p50_us)" 0)" \
		"$(ms "$p99" 0)" "$(ms "$max" "$(get "$ph" stuck)")" \
		"$(awk -v a="$p99" -v b="$rp99" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }')" \
		"$(awk -v a="$max" -v b="$rmax" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }')"
done
exit "$status"
