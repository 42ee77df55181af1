#!/bin/sh
# build-deb.sh [-t TARBALL] [-o OUTDIR] [-k] - build heapd's Debian packages.
#
# Builds heapd, libheapd1 and libheapd-dev (.deb) from a clean tree with
# `dpkg-buildpackage -us -uc -b`, which also runs the test suite (make
# check), and leaves the .deb, .buildinfo and .changes files in OUTDIR
# (default: build-deb/ at the top of the source tree). `make deb` in a
# build directory calls this with the tarball `make dist` just made.
#
#   -t TARBALL  build from this `make dist` tarball (heapd-VERSION.tar.gz).
#               Without it, the script makes one: it copies the files git
#               knows in this checkout (committed or not; ignored ones left
#               out) to a temporary directory, bootstraps and configures
#               there, and runs `make dist`. The working tree is not touched.
#   -o OUTDIR   where the packages go.
#   -k          keep the temporary directory (its path is printed).
#
# The clean tree is the tarball unpacked, with this source tree's
# packaging/debian copied to debian/ at its top, and the tarball beside it
# as heapd_VERSION.orig.tar.gz.
#
# Build dependencies: run as root, the script installs the missing ones
# with apt-get (only those missing, as scripts/quickstart.sh does);
# otherwise dpkg-buildpackage names them and stops.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tarball=""
out="$top/build-deb"
keep=no
usage() {
	echo "usage: $0 [-t TARBALL] [-o OUTDIR] [-k]" >&2
	exit 2
}
while getopts t:o:kh opt; do
	case "$opt" in
	t) tarball=$OPTARG ;;
	o) out=$OPTARG ;;
	k) keep=yes ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

say() { echo "build-deb: $*"; }
die() {
	echo "build-deb: $*" >&2
	exit 1
}

[ -f "$top/packaging/debian/control" ] || die "no packaging/debian in $top"
case "$tarball" in
"" | /*) ;;
*) tarball="$(pwd)/$tarball" ;;
esac
[ -z "$tarball" ] || [ -f "$tarball" ] || die "no such tarball: $tarball"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# --- tools and build dependencies ---
installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}
apt_install() {
	say "installing:$*"
	[ "$(id -u)" -eq 0 ] || die "run as root, or install these packages first:$*"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}
missing=""
for p in dpkg-dev debhelper build-essential; do
	installed "$p" || missing="$missing $p"
done
# shellcheck disable=SC2086 # a list of package names
[ -z "$missing" ] || apt_install $missing
# Unmet Build-Depends (and, to make the tarball, autotools), by name.
# dpkg-checkbuilddeps prints "Unmet build dependencies: a (>= 1) b | c".
# Version constraints, architecture and profile qualifiers are dropped; of
# alternatives, the first is taken.
deps=$(cd "$top/packaging" || exit 1; dpkg-checkbuilddeps debian/control 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
	sed -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/<[^>]*>//g' -e 's/| *[^ |]*//g' || true)
if [ -z "$tarball" ]; then
	for p in autoconf automake libtool; do
		installed "$p" || deps="$deps $p"
	done
fi
# shellcheck disable=SC2086
set -- $deps
[ $# -eq 0 ] || apt_install "$@"

work=$(mktemp -d "${TMPDIR:-/tmp}/heapd-deb.XXXXXX")
cleanup() {
	if [ "$keep" = yes ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the tarball ---
if [ -z "$tarball" ]; then
	say "making the tarball (make dist) in $work/src"
	mkdir "$work/src"
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Every file git tracks or would track, as it is in the working
		# tree; deleted files are skipped.
		(cd "$top" && git ls-files --cached --others --exclude-standard) |
			while IFS= read -r f; do
				[ -e "$top/$f" ] || [ -L "$top/$f" ] && printf '%s\n' "$f"
			done | sort -u | tar -C "$top" -cf - -T - | tar -C "$work/src" -xf -
	else
		[ ! -f "$top/config.status" ] || die "$top is configured in place: run make distclean there, or pass -t"
		cp -a "$top/." "$work/src/"
	fi
	(
		cd "$work/src"
		[ -x configure ] || autoreconf -fi >"$work/autoreconf.log" 2>&1 ||
			{ cat "$work/autoreconf.log" >&2; exit 1; }
		mkdir _dist && cd _dist
		../configure >"$work/configure.log" 2>&1 ||
			{ tail -20 "$work/configure.log" >&2; exit 1; }
		make dist >"$work/dist.log" 2>&1 || { tail -30 "$work/dist.log" >&2; exit 1; }
	) || die "make dist failed"
	set -- "$work"/src/_dist/heapd-*.tar.gz
	if [ $# -ne 1 ] || [ ! -f "$1" ]; then
		die "make dist made no single heapd-*.tar.gz"
	fi
	tarball=$1
fi

# --- the clean tree ---
name=$(basename "$tarball")
case "$name" in
heapd-*.tar.gz)
	version=${name#heapd-}
	version=${version%.tar.gz}
	;;
*) die "$name: expected heapd-VERSION.tar.gz (from make dist)" ;;
esac
debversion=$(cd "$top/packaging" && dpkg-parsechangelog -l debian/changelog -S Version)
upstream=${debversion#*:}
upstream=${upstream%-*}
[ "$upstream" = "$version" ] ||
	die "the tarball is heapd $version but packaging/debian/changelog says $debversion: add a changelog entry (dch -v $version-1)"
mkdir "$work/pkg"
cp "$tarball" "$work/pkg/heapd_$version.orig.tar.gz"
tar -C "$work/pkg" -xzf "$tarball"
src="$work/pkg/heapd-$version"
[ -d "$src" ] || die "$name does not unpack to heapd-$version/"
rm -rf "$src/debian"
cp -a "$top/packaging/debian" "$src/debian"

# --- the build ---
say "dpkg-buildpackage -us -uc -b in $src (the test suite runs too)"
(cd "$src" && dpkg-buildpackage -us -uc -b --jobs-try=auto) || {
	keep=yes
	die "dpkg-buildpackage failed"
}
n=0
for f in "$work"/pkg/*.deb "$work"/pkg/*.ddeb "$work"/pkg/*.buildinfo "$work"/pkg/*.changes; do
	[ -f "$f" ] || continue
	mv -f "$f" "$out/"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || die "dpkg-buildpackage left no packages"
say "packages in $out:"
ls -l "$out"
v=${debversion#*:}
say "install: apt-get install $out/heapd_${v}_*.deb $out/libheapd1_${v}_*.deb $out/libheapd-dev_${v}_*.deb"
say "then, where systemd runs: systemctl enable --now heapd.socket (the package did it already)"
