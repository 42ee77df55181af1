#!/bin/sh
# test_deb.sh [DEBDIR] - the Debian packages build and hold what they should.
#
# TAP. Builds heapd, libheapd1, libheapd-dev and python3-heapd with scripts/build-deb.sh
# (dpkg-buildpackage -us -uc -b from a clean `make dist` tree, the test
# suite included) into a temporary directory, or takes the .deb files
# already in DEBDIR. Then checks with dpkg-deb that every file is in its
# package and place: the binaries, the library and its soname link, the
# headers (heapd.h, the async API's and its adapters'), the pkg-config
# file, the units, the sysusers file, the config (a conffile) and the man
# pages, the Python package; and that no file is in two packages. As root,
# it installs libheapd1 and python3-heapd (apt-get, with what they depend
# on), checks that /usr/bin/python3 imports heapd from them, and removes
# them again if they were not installed before.
#
# Slow (a whole build and test run), so .ci/run runs it, not make check.
# Building needs root to install missing build dependencies, as the script
# says.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapd-test-deb.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

. "$(dirname "$0")/tap.sh"

echo "1..9"

if [ $# -ge 1 ]; then
	debs=$1
	skip "the packages build" "taken from $debs"
else
	debs=$tmp/debs
	sh "$top/scripts/build-deb.sh" -o "$debs" >"$tmp/build.log" 2>&1
	st=$?
	[ $st -eq 0 ] || tail -40 "$tmp/build.log" | sed 's/^/# /'
	result $st "the packages build (scripts/build-deb.sh)"
fi

arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb() { # the one .deb of package $1
	set -- "$debs/$1"_*.deb
	[ $# -eq 1 ] && [ -f "$1" ] && echo "$1"
}
# contents PACKAGE: its paths, one a line, without the leading "."
contents() {
	f=$(deb "$1") || return 1
	dpkg-deb -c "$f" | awk '{ p = $6; sub(/^\./, "", p); print p }'
}
# holds PACKAGE PATH...: the package has each path (a file or a link)
holds() {
	pkg=$1
	shift
	if ! contents "$pkg" >"$tmp/$pkg.list"; then
		echo "# no single ${pkg}_*.deb in $debs"
		result 1 "$pkg holds its files"
		return
	fi
	missing=""
	for p in "$@"; do
		grep -qx -e "$p" "$tmp/$pkg.list" || missing="$missing $p"
	done
	[ -z "$missing" ] || echo "# $pkg lacks:$missing"
	[ -z "$missing" ]
	result $? "$pkg holds its $# files"
}

holds heapd /usr/sbin/heapd /usr/bin/heapctl \
	/lib/systemd/system/heapd.service /lib/systemd/system/heapd.socket \
	/usr/lib/sysusers.d/heapd.conf /etc/heapd/heapd.conf \
	/usr/share/man/man8/heapd.8.gz /usr/share/man/man5/heapd.conf.5.gz \
	/usr/share/man/man1/heapctl.1.gz
holds libheapd1 "/usr/lib/$arch/libheapd.so.1" "/usr/lib/$arch/libheapd.so.1.[0-9.]*"
holds libheapd-dev /usr/include/heapd.h /usr/include/heapd/async.h /usr/include/heapd/stats.h \
	/usr/include/heapd/adapters/libevent.h /usr/include/heapd/adapters/libuv.h \
	"/usr/lib/$arch/libheapd.so" "/usr/lib/$arch/pkgconfig/libheapd.pc" \
	/usr/share/man/man3/libheapd.3.gz /usr/share/man/man3/heapd_alloc.3.gz \
	/usr/share/man/man3/heapd_async_alloc.3.gz /usr/share/man/man3/heapd_set_timeout.3.gz

pydir=/usr/lib/python3/dist-packages/heapd
holds python3-heapd $pydir/__init__.py $pydir/_heapd.pyi $pydir/py.typed "$pydir/_heapd.cpython-[0-9]*-$arch.so"

# python3-heapd installs, and Debian's python imports it.
if [ "$(id -u)" -ne 0 ]; then
	skip "python3-heapd installs and imports" "needs root"
elif ! lib=$(deb libheapd1) || ! py=$(deb python3-heapd); then
	not_ok "python3-heapd installs and imports"
else
	had=""
	for p in libheapd1 python3-heapd; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' && had="$had $p"
	done
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$lib" "$py" >"$tmp/install.log" 2>&1 &&
		(cd / && /usr/bin/python3 -c 'import heapd; print(heapd.connect, heapd.Stats)') >"$tmp/import.log" 2>&1
	st=$?
	[ $st -eq 0 ] || sed 's/^/# /' "$tmp/install.log" "$tmp/import.log" | tail -30
	result $st "python3-heapd installs and imports"
	[ -n "$had" ] || dpkg -r python3-heapd libheapd1 >/dev/null 2>&1 || true
fi

# The config survives upgrades and local edits: dpkg knows it as a conffile.
f=$(deb heapd) && dpkg-deb --ctrl-tarfile "$f" | tar -xOf - ./conffiles 2>/dev/null |
	grep -qx /etc/heapd/heapd.conf
result $? "/etc/heapd/heapd.conf is a conffile"

# libheapd1 exports only heapd_* (the symbols file is checked by the build).
: >"$tmp/exports"
if f=$(deb libheapd1) && dpkg-deb -x "$f" "$tmp/lib"; then
	nm -D --defined-only "$tmp/lib/usr/lib/$arch"/libheapd.so.1.* |
		awk '{ print $3 }' >"$tmp/exports"
fi
grep -v '^heapd_[a-z]' "$tmp/exports" >"$tmp/foreign"
sed 's/^/# exported: /' "$tmp/foreign"
[ -s "$tmp/exports" ] && [ ! -s "$tmp/foreign" ]
st=$?
result $st "libheapd1 exports only heapd_* functions"

# No path is shipped by two packages (directories aside).
cat "$tmp"/*.list 2>/dev/null | grep -v '/$' | sort | uniq -d >"$tmp/dups"
[ ! -s "$tmp/dups" ]
st=$?
sed 's/^/# in two packages: /' "$tmp/dups"
result $st "no file is in two packages"

[ "$failed" -eq 0 ]
