#!/bin/sh
# run-view-compare.sh - zero-copy reads (issue 19): reading a sealed
# object in place through heapd_view, against heapd_read, against Redis's
# GET of a value of the same size, and against the floor (one round trip
# plus reading the bytes where they are), in the same run, at 1
# connection.
#
# Usage: run-view-compare.sh BUILD_DIR [RUNS]
#
# Starts a fresh heapd (BUILD_DIR/daemon/heapd --config /dev/null
# --max-object-size 128M: an object of 64 MiB of data is past the default
# 64 MiB, which counts its header; max_frame_size stays at its 16 MiB) and
# a fresh redis-server (--port 0 --save "" --appendonly no; its
# proto-max-bulk-len, 512 MB, takes 64 MiB), each on a Unix socket in a
# temporary directory, placed as run-redis-compare.sh places them
# (environment PIN, default split: the servers on CPU 0, bench/viewbench
# on the others). Then RUNS times (default 3), for each size of
# VIEW_SIZES (environment, bytes; default 64 B, 4 KiB, 64 KiB, 1 MiB, 16
# MiB and 64 MiB), bench/viewbench, which makes a sealed object of that
# size (and the Redis key) and times, each for SECS seconds (environment,
# default 2; the tests take turns in 40 rounds) with the time of an
# operation the median of many:
#
#   view        heapd_view + reading every byte + heapd_view_release
#   view-batch  one batch [view_release of the previous view, view] +
#               reading every byte (the release pipelined with the next
#               view)
#   read        heapd_read of the whole object into a buffer + reading
#               every byte; an object whose reply cannot fit in
#               max_frame_size is read in equal pieces of at most
#               max_frame_size - 4 KiB, one heapd_read each (the table
#               says how many)
#   redis       GET + reading every byte (RESP over the socket, the reply
#               received straight into a buffer)
#   ping        heapd_ping: one round trip
#   inplace     reading every byte of a view held open: no request
#   floor       heapd_ping, then reading every byte of a view held open:
#               one round trip plus reading in place, as one operation
#               (the daemon idles while the client reads, as in a view)
#
# "Reading every byte" sums the bytes as 8-byte words and checks the sum
# against what was written (bench/viewbench.c).
#
# Prints every result line as it comes (stderr), then a markdown table of
# the medians over the runs: each test's time per operation in us and
# its throughput in GB/s (10^9 bytes/s), and the ratios: view/read and
# view/Redis (view's throughput over theirs), view/(RTT+in-place) (view's
# time over floor's: 1.0 is the floor); then the targets,
# checked for view and for view-batch: at 1 MiB and above view >= 8x
# heapd_read's throughput and view's time <= 1.5x RTT + in-place; at 64
# B view no slower than heapd_read; objects larger than max_frame_size
# viewable whole.
#
# Each size's line ends with other_cpu: the CPU time that processes other
# than the servers and viewbench used meanwhile, in % of one CPU; figures
# taken with other_cpu above a few % are not comparable.
#
# Without redis-server or redis-benchmark it says how to install them and
# exits 0 ("skipped"). Exits 2 on a usage error, 1 when a server or
# viewbench fails, else 0 whatever the targets say.

set -eu

here=$(dirname "$0")
me="run-view-compare.sh"
SECS=${SECS:-2}
# shellcheck source=bench/compare.sh
. "$here/compare.sh"
cmp_args 3 "$@"
cmp_need_redis
heapd_bin=$(cmp_find_bin daemon/heapd)
viewbench=$(cmp_find_bin bench/viewbench)
sizes=${VIEW_SIZES:-64 4096 65536 1048576 16777216 67108864}
for b in $sizes; do
	case $b in
	'' | *[!0-9]*) usage ;;
	esac
done
cmp_heapd_args="--max-object-size 128M"
cmp_place
cmp_start

: >"$tmp/results"
echo "# $(uname -n): $ncpu CPUs, placement $pin, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs" >&2
echo "# $(redis-server --version | cut -d' ' -f1-3); heapd $("$heapd_bin" --version 2>/dev/null | head -n 1 || true)" >&2
run=1
while [ "$run" -le "$runs" ]; do
	for b in $sizes; do
		measured "$heapd_pid" "$viewbench" -s "$tmp/heapd.sock" -r "$tmp/redis.sock" -b "$b" -d "$secs"
		grep '^# viewbench' "$tmp/out" >"$tmp/info.$b" || true
		grep '^viewbench ' "$tmp/out" | sed "s/\$/ run=$run other_cpu=$cpu_other/" >"$tmp/lines"
		if [ "$(wc -l <"$tmp/lines")" -ne 7 ]; then
			echo "$me: viewbench printed no result lines:" >&2
			cat "$tmp/out" "$tmp/err" >&2
			exit 1
		fi
		sed 's/^# //' "$tmp/info.$b" >&2
		sed 's/$/%/' "$tmp/lines" >&2
		cat "$tmp/lines" >>"$tmp/results"
	done
	run=$((run + 1))
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs" >&2

maxother=$(awk '{ for (i = 2; i <= NF; i++) if (index($i, "other_cpu=") == 1) { v = substr($i, 11) + 0; if (v > m) m = v } } END { print m + 0 }' "$tmp/results")
# The last size's line says max_frame_size.
frame=$(sed -n 's/.*max_frame_size \([0-9]*\).*/\1/p' "$tmp/info.$b")

# p50 in ns of test $1 at size $2, the median over the runs.
p50() { median "$tmp/results" viewbench p50_ns "test=$1" "bytes=$2"; }

echo
echo "Medians of $runs run(s), placement $pin, 1 connection; time per operation in us (GB/s = 10^9 bytes/s). Every test reads every byte. view/read and view/Redis: view's throughput over theirs; view/(RTT+in-place): view's time over that of one round trip then reading in place, one operation (floor). Other processes used at most $maxother% of a CPU during a size's tests."
echo
echo "| size | view | view-batch | read (pieces) | Redis GET | RTT (ping) | in-place | RTT+in-place (floor) | view/read | view/Redis | view/(RTT+in-place) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
: >"$tmp/table"
for b in $sizes; do
	pieces=$(sed -n 's/.*read in \([0-9]*\) piece.*/\1/p' "$tmp/info.$b")
	echo "$b $(p50 view "$b") $(p50 view-batch "$b") $(p50 read "$b") $(p50 redis "$b") $(p50 ping "$b") $(p50 inplace "$b") $pieces $(p50 floor "$b")" >>"$tmp/table"
done
awk '
	function size(b) {
		if (b >= 1048576 && b % 1048576 == 0) return b / 1048576 " MiB"
		if (b >= 1024 && b % 1024 == 0) return b / 1024 " KiB"
		return b " B"
	}
	function us(ns) {
		x = ns / 1000
		return sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : x >= 1 ? "%.2f" : x >= 0.1 ? "%.3f" : "%.4f", x)
	}
	function cell(b, ns) { return us(ns) " (" sprintf("%.2f", b / ns) ")" }
	{
		printf "| %s | %s | %s | %s, %d | %s | %s | %s | %s | %.2fx | %.2fx | %.2f |\n", size($1), cell($1, $2),
			cell($1, $3), cell($1, $4), $8, cell($1, $5), us($6), cell($1, $7), cell($1, $9), $4 / $2, $5 / $2, $2 / $9
	}' "$tmp/table"

echo
echo "Targets (view: heapd_view + heapd_view_release each time; view-batch: the release pipelined with the next view):"
awk -v frame="$frame" '
	function size(b) {
		if (b >= 1048576 && b % 1048576 == 0) return b / 1048576 " MiB"
		if (b >= 1024 && b % 1024 == 0) return b / 1024 " KiB"
		return b " B"
	}
	function verdict(ok) { return ok ? "PASS" : "FAIL" }
	{
		for (v = 0; v < 2; v++) {
			name = v ? "view-batch" : "view"
			t = v ? $3 : $2
			if ($1 >= 1048576) {
				printf " %s at %s: %.2fx heapd_read throughput (>= 8): %s; time %.2fx RTT + in-place (<= 1.5): %s\n",
					name, size($1), $4 / t, verdict($4 / t >= 8), t / $9, verdict(t / $9 <= 1.5)
			}
			if ($1 == 64)
				printf " %s at 64 B: %.1f us against heapd_read %.1f us (no slower): %s\n", name, t / 1000, $4 / 1000,
					verdict(t <= $4)
		}
		if (frame != "" && $1 > frame + 0)
			whole = whole (whole == "" ? "" : ", ") size($1)
	}
	END {
		if (whole == "")
			printf " objects larger than max_frame_size (%s bytes) viewable whole: none measured\n", frame
		else
			printf " objects larger than max_frame_size (%s bytes) viewable whole: %s viewed whole, every byte checked: PASS\n",
				frame, whole
	}' "$tmp/table"
