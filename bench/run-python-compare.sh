#!/bin/sh
# run-python-compare.sh - the Python binding of libheapd against redis-py
# (python3-redis with python3-hiredis), in the same run: 64 B writes and
# reads at 1 connection, one at a time and pipelined 1000 deep.
#
# Usage: run-python-compare.sh BUILD_DIR [RUNS]
#
# Starts a fresh heapd (BUILD_DIR/daemon/heapd --config /dev/null) and a
# fresh redis-server (--port 0 --save "" --appendonly no), each on a Unix
# socket in a temporary directory, then runs bench/pybench RUNS times
# (default 3) with the package built in BUILD_DIR/python/lib and the
# in-tree libheapd, each test about SECS seconds (environment, default 2).
# Prints every run's lines, then the median ops/s of each side of each
# test and the median (min-max) of the runs' ratios heapd / redis-py
# (target: >= 1.00x on each). pybench runs the two sides in turns of 0.2 s,
# so a ratio compares them under the same load from the rest of the
# machine. Placement as
# run-redis-compare.sh's PIN (default split: the servers on CPU 0, Python
# on the others).
#
# Without redis-server, python3-redis or python3-hiredis it says how to
# install them and exits 0 ("skipped"). Exits 2 on a usage error, 1 when a
# server or the benchmark fails, else 0 whatever the target says.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
me="run-python-compare.sh"
py=${PYTHON3:-/usr/bin/python3}
# shellcheck source=bench/compare.sh
. "$here/compare.sh"
cmp_args 3 "$@"
secs=${SECS:-2}
if ! command -v redis-server >/dev/null 2>&1 ||
	! "$py" -c 'import redis, hiredis' >/dev/null 2>&1; then
	echo "$me: redis-server, python3-redis or python3-hiredis is missing;"
	echo "install them with: apt-get install redis-server python3-redis python3-hiredis"
	echo "skipped"
	exit 0
fi
heapd_bin=$(cmp_find_bin daemon/heapd)
dir=$(cd "$dir" && pwd)
[ -f "$dir/python/lib/heapd/__init__.py" ] || {
	echo "$me: no Python package in $dir/python/lib (run make there)" >&2
	exit 1
}
cmp_place
tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapd-pybench.XXXXXX")
hpid=""
rpid=""
stop() {
	[ -z "$hpid" ] || kill "$hpid" 2>/dev/null || true
	[ -z "$rpid" ] || kill "$rpid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT TERM
# shellcheck disable=SC2086 # the taskset prefix is words
$on_server "$heapd_bin" --config /dev/null --socket "$tmp/heapd.sock" --state-dir "$tmp/state" \
	--save-on-stop no --save-interval 0 >"$tmp/heapd.log" 2>&1 &
hpid=$!
# shellcheck disable=SC2086
$on_server redis-server --port 0 --unixsocket "$tmp/redis.sock" --save "" --appendonly no --dir "$tmp" \
	>"$tmp/redis.log" 2>&1 &
rpid=$!
i=0
while [ ! -S "$tmp/heapd.sock" ] || [ ! -S "$tmp/redis.sock" ]; do
	i=$((i + 1))
	if [ $i -gt 500 ]; then
		echo "$me: a server did not start" >&2
		cat "$tmp/heapd.log" "$tmp/redis.log" >&2
		exit 1
	fi
	sleep 0.01
done

r=1
while [ $r -le "$runs" ]; do
	echo "run $r of $runs" >&2
	# shellcheck disable=SC2086
	LD_LIBRARY_PATH="$dir/client/.libs" PYTHONPATH="$dir/python/lib" \
		$on_client "$py" "$here/pybench" "$tmp/heapd.sock" "$tmp/redis.sock" "$secs" >"$tmp/run$r" ||
		{ cat "$tmp/run$r" >&2; exit 1; }
	cat "$tmp/run$r" >&2
	r=$((r + 1))
done

# pybench's lines: "NAME heapd N ops/s  redis-py N ops/s  ratio Rx".
echo
echo "| test (1 connection) | heapd ops/s | redis-py ops/s | heapd / redis-py (each run's ratio: median, min-max) |"
echo "|---|---:|---:|---:|"
cat "$tmp"/run* | grep ' ratio ' | sed 's/  */ /g' | awk '
{
	name = $0; sub(/ heapd .*/, "", name)
	for (i = 1; i <= NF; i++) {
		if ($i == "heapd") h = $(i + 1)
		if ($i == "redis-py") r = $(i + 1)
	}
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
	k = ++cnt[name]; H[name, k] = h; R[name, k] = r; Q[name, k] = h / r
}
function med(A, name, c,    i, j, t, v) {
	for (i = 1; i <= c; i++) v[i] = A[name, i]
	for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
}
END {
	fail = 0
	for (i = 1; i <= n; i++) {
		nm = order[i]; h = med(H, nm, cnt[nm]); r = med(R, nm, cnt[nm]); q = med(Q, nm, cnt[nm])
		lo = hi = Q[nm, 1]
		for (k = 2; k <= cnt[nm]; k++) { if (Q[nm, k] < lo) lo = Q[nm, k]; if (Q[nm, k] > hi) hi = Q[nm, k] }
		printf "| %s | %.0f | %.0f | %.2fx (%.2f-%.2f) |\n", nm, h, r, q, lo, hi
		if (q < 1) fail = 1
	}
	print ""
	print (fail ? "FAIL" : "PASS") ": heapd >= 1.00x redis-py on each (medians of " cnt[order[1]] " runs)"
}'
