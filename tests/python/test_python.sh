#!/bin/sh
# test_python.sh - the Python package heapd's pytest suite, as TAP.
#
# make check runs it with the package built in the build tree
# (HEAPD_PYTHONPATH, python/lib), the in-tree libheapd (HEAPD_LIBDIR) and
# heapd (HEAPD_BIN); each test module starts its own daemon
# (tests/python/conftest.py). Every pytest test is one TAP line, then
# pytest's own summary. Python must be the one configure chose
# (HEAPD_PYTHON: Debian's, with python3-pytest).
#
# In a sanitizer build (HEAPD_SAN_FLAGS set) it skips: libheapd is then
# instrumented and would need the sanitizer's runtime loaded into python
# before anything else.
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=${HEAPD_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapd-pytest.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ -n "${HEAPD_SAN_FLAGS:-}" ]; then
	echo "1..1"
	echo "ok 1 - the pytest suite # SKIP a sanitizer build ($HEAPD_SAN_FLAGS): libheapd needs its runtime"
	exit 0
fi
for v in HEAPD_BIN HEAPD_PYTHONPATH HEAPD_LIBDIR; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "1..0 # SKIP $v is not set: run it with make check"
		exit 0
	fi
done

LD_LIBRARY_PATH=$HEAPD_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
PYTHONPATH=$HEAPD_PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
	"$py" -m pytest -p no:cacheprovider -v -rfE --rootdir "$here" "$here" >"$tmp/out" 2>&1
st=$?
# "tests/python/test_x.py::test_y PASSED   [ 10%]" -> one TAP line each.
awk '
/::[^ ]* (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)/ {
	n++
	name = $1; sub(/.*\//, "", name)
	st = $2
	if (st == "PASSED" || st == "XFAIL") print "ok " n " - " name
	else if (st == "SKIPPED") print "ok " n " - " name " # SKIP"
	else print "not ok " n " - " name " (" st ")"
	next
}
{ print "# " $0 }
END { print "1.." n }' "$tmp/out"
[ $st -eq 0 ]
