# shellcheck shell=sh disable=SC2154,SC2034
# (the caller sets me and heapd_bin; it reads dir, runs, pin, secs and
# on_client)
#
# compare.sh - what the heapd-vs-Redis request benchmarks share; sourced
# (". compare.sh") by the run-*-compare.sh scripts and run-fairness.sh after
# they set me (the script's name, for messages), and before they set
# heapd_bin (the daemon, for cmp_start).
#
# It provides: cmp_args (the command line and environment both take: dir,
# the build directory; runs; secs from $SECS, seconds each measured test
# should run (size_for); pin from $PIN, the placement: split, same or none,
# run-redis-compare.sh says what each means and docs/performance.md which
# to use when), cmp_need_redis (say how to install Redis and exit 0 when it
# is missing), cmp_find_bin, cmp_place (on_server and on_client: the
# taskset prefixes of the placement), cmp_start (a fresh heapd and a fresh
# redis-server on Unix sockets in $tmp, both stopped and $tmp removed on
# exit), the CPU accounting (cpu_ticks, other_cpu, proc_ticks, child_ticks,
# uptime_s, ticks_per_op, and measured: a load generator run with the
# CPU it, the server and the others used meanwhile), and median, field and size_for for the results.
#
# Every function keeps to POSIX sh and the tools Debian's base has (awk,
# sed, taskset from util-linux).

usage() {
	echo "usage: $0 BUILD_DIR [RUNS]" >&2
	exit 2
}

# cmp_args DEFAULT_RUNS "$@": BUILD_DIR [RUNS], $SECS and $PIN, checked.
cmp_args() {
	runs=$1
	shift
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then
		usage
	fi
	dir=$1
	runs=${2:-$runs}
	case $runs in
	'' | *[!0-9]*) usage ;;
	esac
	[ "$runs" -gt 0 ] || usage
	secs=${SECS:-4}
	case $secs in
	'' | *[!0-9]*) usage ;;
	esac
	pin=${PIN:-split}
	case $pin in
	split | same | none) ;;
	*) usage ;;
	esac
}

cmp_need_redis() {
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
		echo "$me: redis-server or redis-benchmark is missing;"
		echo "install them with: apt-get install redis-server redis-tools"
		echo "skipped"
		exit 0
	fi
}

# The path of a program built in $dir: $1 as given, or in $dir/bench.
cmp_find_bin() {
	for p in "$dir/$1" "$dir/bench/$(basename "$1")"; do
		if [ -f "$p" ] && [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	echo "$me: no executable $1 in $dir" >&2
	exit 1
}

# Sets ncpu, on_server and on_client for $pin; without taskset or with a
# single CPU nothing is pinned (pin becomes none).
cmp_place() {
	ncpu=$(nproc 2>/dev/null || echo 1)
	if [ "$pin" != none ] && { [ "$ncpu" -lt 2 ] || ! command -v taskset >/dev/null 2>&1; }; then
		echo "$me: no taskset or a single CPU: not pinning" >&2
		pin=none
	fi
	case $pin in
	split)
		on_server="taskset -c 0"
		on_client="taskset -c 1-$((ncpu - 1))"
		;;
	same)
		on_server="taskset -c 0"
		on_client="taskset -c 0"
		;;
	none)
		on_server=
		on_client=
		;;
	esac
}

# Waits up to 5 s for the socket $1 to appear, while process $2 lives.
wait_socket() {
	i=0
	while [ ! -S "$1" ]; do
		if ! kill -0 "$2" 2>/dev/null || [ $i -ge 50 ]; then
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

cmp_cleanup() {
	for pid in $heapd_pid $redis_pid $cmp_more_pids; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}

# Starts $heapd_bin (set by the caller; with the arguments in
# $cmp_heapd_args, if the caller sets it) and redis-server on sockets in a
# new $tmp, with $on_server; sets heapd_pid and redis_pid.
cmp_start() {
	tmp=$(mktemp -d)
	heapd_pid=
	redis_pid=
	cmp_more_pids=  # the caller's other servers, stopped with these
	trap cmp_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	# shellcheck disable=SC2086 # the arguments are split on purpose
	$on_server "$heapd_bin" --config /dev/null --state-dir "" --socket "$tmp/heapd.sock" ${cmp_heapd_args:-} \
		>"$tmp/heapd.log" 2>&1 &
	heapd_pid=$!
	if ! wait_socket "$tmp/heapd.sock" "$heapd_pid"; then
		echo "$me: heapd did not start:" >&2
		tail -n 5 "$tmp/heapd.log" >&2
		exit 1
	fi
	$on_server redis-server --port 0 --unixsocket "$tmp/redis.sock" --save "" --appendonly no \
		--daemonize no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
	redis_pid=$!
	if ! wait_socket "$tmp/redis.sock" "$redis_pid"; then
		echo "$me: redis-server did not start:" >&2
		tail -n 5 "$tmp/redis.log" >&2
		exit 1
	fi
}

# CPU time used so far, in clock ticks: "all ours", where ours is this
# shell's (with its waited-for children: the load generators) and the
# servers'. Their difference over a test is what other processes used.
cpu_ticks() {
	{
		awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
		for p in $$ $heapd_pid $redis_pid; do
			proc_ticks "$p"
		done
	} | awk 'NR == 1 { all = $1; next } { ours += $1 } END { print all, ours }'
}

# The CPU ticks of process $1, its waited-for children included. Fields
# after the ")" that ends the command name: utime is the 12th.
proc_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }'
}

# This shell's waited-for children's ticks: a load generator's CPU time is
# the difference around it.
child_ticks() {
	sed 's/.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'
}

# Ticks over elapsed seconds, as % of one CPU.
ticks_pct() { # ticks secs
	awk -v t="$1" -v s="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (s > 0 ? 100 * t / hz / s : 0) }'
}

# The other processes' CPU between two cpu_ticks, in % of one CPU, over
# the elapsed ticks of a CPU (uptime difference).
other_cpu() { # before after up_before up_after
	echo "$1 $2 $3 $4" | awk -v hz="$(getconf CLK_TCK)" '{
		other = ($3 - $1) - ($4 - $2); wall = ($6 - $5) * hz
		if (other < 0) other = 0
		printf "%.0f", (wall > 0 ? 100 * other / wall : 0)
	}'
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# measured SERVER_PID COMMAND...: runs the generator command, pinned, into
# $tmp/out and sets cpu_client, cpu_server and cpu_other: the CPU used
# meanwhile by the generator, by the server, and by other processes, in %
# of one CPU; and ticks_client and ticks_server, the first two in ticks.
measured() {
	spid=$1
	shift
	c0=$(cpu_ticks) u0=$(uptime_s) k0=$(child_ticks) s0=$(proc_ticks "$spid")
	if ! $on_client "$@" >"$tmp/out" 2>"$tmp/err"; then
		echo "$me: $* failed:" >&2
		tail -n 5 "$tmp/err" "$tmp/out" >&2
		exit 1
	fi
	c1=$(cpu_ticks) u1=$(uptime_s) k1=$(child_ticks) s1=$(proc_ticks "$spid")
	wall=$(awk -v a="$u0" -v b="$u1" 'BEGIN { print b - a }')
	ticks_client=$((k1 - k0))
	ticks_server=$((s1 - s0))
	cpu_client=$(ticks_pct "$ticks_client" "$wall")
	cpu_server=$(ticks_pct "$ticks_server" "$wall")
	cpu_other=$(other_cpu "$c0" "$c1" "$u0" "$u1")
}

# Ticks $1 over $2 operations, in us of CPU per operation.
ticks_per_op() { # ticks ops
	awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", (n > 0 ? t / hz / n * 1e6 : 0) }'
}

# A field "key=value" of a result line on stdin.
field() {
	awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }'
}

# Requests for about $secs seconds at rate $1 (at least $2, default 10000).
size_for() {
	awk -v r="$1" -v s="$secs" -v min="${2:-10000}" 'BEGIN { n = int(r * s); if (n < min) n = min; print n }'
}

# Median of a field over the result lines in file $1 whose first word is
# $2 and that have every "key=value" given after the field name:
#   median FILE IMPL FIELD test=read conns=50
# With MEDIAN_RANGE=D set, "median (min-max)" with D decimals.
median() {
	_m_file=$1 _m_impl=$2 _m_field=$3
	shift 3
	awk -v impl="$_m_impl" -v f="$_m_field" -v want="$*" -v d="${MEDIAN_RANGE:-}" '
		BEGIN { nw = split(want, w, " ") }
		$1 == impl {
			ok = 0; v = ""
			for (i = 2; i <= NF; i++) {
				for (j = 1; j <= nw; j++) if ($i == w[j]) ok++
				if (index($i, f "=") == 1) v = substr($i, length(f) + 2)
			}
			if (ok == nw && v != "") a[n++] = v + 0
		}
		END {
			if (n == 0) { print "-"; exit }
			for (i = 1; i < n; i++)
				for (j = i; j > 0 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
			m = n % 2 ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2
			if (d == "") { print m; exit }
			fmt = "%." d "f (%." d "f-%." d "f)"
			printf fmt, m, a[0], a[n - 1]
		}' "$_m_file"
}
