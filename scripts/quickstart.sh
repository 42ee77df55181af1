#!/bin/sh
# quickstart.sh run|test - the README's two commands.
#
# Installs the Debian packages the build needs (only those missing, so it
# also works offline once they are there), bootstraps autotools, configures
# a build in ./build and builds. Then:
#   run   runs heapd in the foreground on ./run/heapd.sock (Ctrl-C stops
#         it); try build/client/heapctl/heapctl -s run/heapd.sock stats;
#   test  runs every test (make check).
set -eu

mode=${1:-}
case "$mode" in
run | test) ;;
*)
	echo "usage: $0 run|test" >&2
	exit 2
	;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages="build-essential autoconf automake libtool pkg-config
	libuv1-dev libprotobuf-c-dev protobuf-c-compiler libsystemd-dev libssl-dev libxxhash-dev
	libevent-dev libcmocka-dev libgc-dev libedit-dev systemd python3-dev python3-setuptools python3-pytest"
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "quickstart: installing:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "quickstart: run as root, or install these packages first" >&2
		exit 1
	fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure --enable-werror
make -j"$(nproc)"

case "$mode" in
run)
	mkdir -p "$top/run"
	exec ./daemon/heapd --config /dev/null --socket "$top/run/heapd.sock" --state-dir "$top/run"
	;;
test)
	make -j"$(nproc)" check
	;;
esac
