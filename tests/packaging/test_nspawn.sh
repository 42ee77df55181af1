#!/bin/sh
# test_nspawn.sh [DEBDIR] - the Debian packages under a real systemd (PID 1).
#
# TAP. Boots a Debian 12 system in systemd-nspawn, installs heapd and
# libheapd1 in it with apt-get, and checks what docs/service.md promises
# as systemd itself runs it: socket activation, READY and STATUS, the state
# directory, reload, restart, stop, the watchdog, who may connect, the
# security rating, systemd-analyze verify, an upgrade and a purge; and that
# restart, stop, the watchdog and the upgrade keep the heap (the snapshot),
# through roots made with heapd_root.c.
#
# The packages are DEBDIR's (heapd_VERSION_ARCH.deb and libheapd1_..., the
# version from packaging/debian/changelog). Without DEBDIR they are
# build-deb/'s, built there with scripts/build-deb.sh when absent or older
# than a file of the source tree.
#
# The root is debootstrap's minbase with systemd, systemd-sysv and dbus,
# from the mirror the machine's apt sources name (HEAPD_NSPAWN_MIRROR
# overrides). It is made once and kept as a tarball in HEAPD_NSPAWN_CACHE
# (default /var/cache/heapd-test), made again when 30 days old; each run
# boots a fresh copy in a temporary directory, which goes with the
# container however the run ends. The container shares the machine's
# network: apt-get in it fetches heapd's dependencies from the mirror.
#
# Needs root. Installs debootstrap, systemd-container and procps with
# apt-get when missing. Slow (a package build when there is none, a
# bootstrap when there is no cache), so .ci/run runs it, not make check.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/tap.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (debootstrap, systemd-nspawn, nsenter)"
	exit 0
fi

suite=bookworm
cache=${HEAPD_NSPAWN_CACHE:-/var/cache/heapd-test}
tarball=$cache/$suite-minbase-systemd.tar.gz
# How long a check may wait for systemd to get somewhere, in seconds.
boot_timeout=90
watchdog_timeout=15

tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapd-nspawn.XXXXXX") || exit 1
root=$tmp/heapd-test
nspawn=""
ct_pid=""
broken=""

# The container powers off on SIGTERM to systemd-nspawn (its PID 1 gets
# SIGRTMIN+3); if it has not within 20 s, its PID 1 and nspawn are killed.
# Then the copy of the root goes.
cleanup() {
	if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
		kill -TERM "$nspawn" 2>/dev/null
		i=0
		while kill -0 "$nspawn" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.2
			i=$((i + 1))
		done
		if kill -0 "$nspawn" 2>/dev/null; then
			echo "# the container did not power off in 20 s: killed"
			[ -z "$ct_pid" ] || kill -KILL "$ct_pid" 2>/dev/null
			kill -KILL "$nspawn" 2>/dev/null
		fi
		wait "$nspawn" 2>/dev/null
	fi
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

diag() { sed 's/^/# /' "$@"; }
# run DESCRIPTION FUNCTION: one TAP line from the function's status, then
# its output as diagnostics (what it saw: a few lines). After a setup step
# failed ($broken says which), each check is a failure that did not run.
run() {
	if [ -n "$broken" ]; then
		not_ok "$1 (not run: $broken)"
		return
	fi
	if "$2" >"$tmp/out" 2>&1; then ok "$1"; else not_ok "$1"; fi
	diag "$tmp/out"
}
# setup DESCRIPTION FUNCTION: as run, and a failure stops the checks after it.
setup() {
	before=$failed
	run "$1" "$2"
	[ "$failed" -eq "$before" ] || [ -n "$broken" ] || broken="$1 failed"
}

# ct_for SECONDS COMMAND...: runs COMMAND in the container, in all its
# namespaces, with a clean environment, for at most SECONDS; ct, 60 s.
ct_for() {
	ct_secs=$1
	shift
	timeout "$ct_secs" nsenter -t "$ct_pid" -a env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
ct() { ct_for 60 "$@"; }
prop() { ct systemctl show -P "$2" "$1"; } # prop UNIT PROPERTY
# until_true SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds
# or SECONDS have passed.
until_true() {
	end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
journal() { # the last lines of heapd.service's journal
	echo "journalctl -u heapd:"
	ct journalctl -u heapd -n 15 --no-pager -o short-monotonic
}

echo "1..18"

# --- the packages ---
arch=$(dpkg --print-architecture)
version=$(sed -n '1s/^heapd (\(.*\)).*/\1/p' "$top/packaging/debian/changelog")
version=${version#*:}
debs_given=${1:-}
debs=${debs_given:-$top/build-deb}
case "$debs" in /*) ;; *) debs=$(pwd)/$debs ;; esac
heapd_deb=$debs/heapd_${version}_$arch.deb
lib_deb=$debs/libheapd1_${version}_$arch.deb

# newer_source: the first file of the source tree (as build-deb.sh takes
# it: what git tracks or would track) newer than the heapd package.
newer_source() {
	(cd "$top" && git ls-files -z --cached --others --exclude-standard 2>/dev/null |
		HEAPD_DEB=$heapd_deb xargs -0 -r sh -c 'find "$@" -maxdepth 0 -newer "$HEAPD_DEB" -print 2>/dev/null' sh |
		head -n 1)
}
packages() {
	if [ -z "$debs_given" ]; then
		why=""
		if [ ! -f "$heapd_deb" ] || [ ! -f "$lib_deb" ]; then
			why="no heapd $version packages in $debs"
		else
			newer=$(newer_source)
			[ -z "$newer" ] || why="$newer is newer than $heapd_deb"
		fi
		if [ -n "$why" ]; then
			echo "building them ($why): sh scripts/build-deb.sh -o $debs"
			sh "$top/scripts/build-deb.sh" -o "$debs" >"$tmp/build.log" 2>&1 ||
				{ tail -n 40 "$tmp/build.log"; return 1; }
		fi
	fi
	[ -f "$heapd_deb" ] && [ -f "$lib_deb" ] ||
		{ echo "missing: $heapd_deb or $lib_deb"; return 1; }
}
if [ -n "$debs_given" ]; then
	setup "the packages heapd and libheapd1 $version are in $debs" packages
else
	setup "the packages heapd and libheapd1 $version are built (scripts/build-deb.sh)" packages
fi

# --- the root, from the cache or bootstrapped ---

# The first "deb" source for $suite in the machine's apt sources, one-line
# (sources.list, *.list) or deb822 (*.sources).
mirror() {
	if [ -n "${HEAPD_NSPAWN_MIRROR:-}" ]; then
		echo "$HEAPD_NSPAWN_MIRROR"
		return
	fi
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENT...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk -v s="$suite" '$1 == "deb" && $3 == s { print $2; exit }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			function check() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && uris != "") {
					split(uris, u, " "); print u[1]; exit
				}
				types = suites = uris = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { check(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			END { check() }' "$f"
	done
}
# tools: debootstrap, systemd-nspawn and pgrep, installed when missing.
tools() {
	missing=""
	command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
	command -v systemd-nspawn >/dev/null 2>&1 || missing="$missing systemd-container"
	command -v pgrep >/dev/null 2>&1 || missing="$missing procps"
	[ -n "$missing" ] || return 0
	echo "installing:$missing"
	apt-get update >/dev/null || return 1
	# shellcheck disable=SC2086 # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}
rootfs() {
	tools || return 1
	url=$(mirror | head -n 1)
	[ -n "$url" ] || { echo "no deb source for $suite in /etc/apt/sources.list*"; return 1; }
	if [ -z "$(find "$tarball" -mtime -30 2>/dev/null)" ]; then
		echo "bootstrapping $suite from $url into $tarball"
		mkdir -p "$cache" && work=$(mktemp -d "$cache/make.XXXXXX") || return 1
		if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
			"$suite" "$work/root" "$url" >"$work/debootstrap.log" 2>&1; then
			tail -n 30 "$work/debootstrap.log"
			rm -rf --one-file-system "$work"
			return 1
		fi
		tar --numeric-owner --xattrs --xattrs-include='*' -C "$work/root" -czf "$work/root.tar.gz" . &&
			mv -f "$work/root.tar.gz" "$tarball"
		st=$?
		rm -rf --one-file-system "$work"
		[ $st -eq 0 ] || return 1
	fi
	mkdir "$root" &&
		tar --numeric-owner --xattrs --xattrs-include='*' -C "$root" -xzf "$tarball" || return 1
	# apt in the container uses the mirror of today's sources, whatever
	# the cached root was made from.
	echo "deb $url $suite main" >"$root/etc/apt/sources.list"
	mkdir -p "$root/root/debs" && cp "$heapd_deb" "$lib_deb" "$root/root/debs/" || return 1
	# heapd_root (tests/packaging/heapd_root.c) makes and reads a root from
	# the shell; built here against the package's libheapd.so.1, which
	# the container gets with libheapd1.
	dpkg-deb -x "$lib_deb" "$tmp/lib" &&
		cc -O1 -I"$top/client/include" -o "$root/usr/local/bin/heapd_root" "$top/tests/packaging/heapd_root.c" \
			-L"$(dirname "$(find "$tmp/lib" -name 'libheapd.so.1' | head -n 1)")" -l:libheapd.so.1
}

# --- booting it ---
# SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: the container gets the unified
# cgroup hierarchy (v2) whatever the machine mounts; --register=no and
# --keep-unit: nspawn needs no systemd (machined, a scope unit, a system
# bus) on the machine itself.
state() { # the container's systemd is up: running, or degraded
	st=$(ct systemctl is-system-running 2>/dev/null)
	[ "$st" = running ] || [ "$st" = degraded ]
}
find_init() { ct_pid=$(pgrep -P "$nspawn" -x systemd) && [ -n "$ct_pid" ]; }
boot() {
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -b -D "$root" --register=no --keep-unit \
		--console=read-only </dev/null >"$tmp/console.log" 2>&1 &
	nspawn=$!
	if ! until_true 30 find_init; then
		echo "no systemd under systemd-nspawn (pid $nspawn) after 30 s; its output:"
		tail -n 30 "$tmp/console.log"
		return 1
	fi
	if ! until_true $boot_timeout state; then
		echo "systemctl is-system-running: $(ct systemctl is-system-running) after $boot_timeout s"
		tail -n 30 "$tmp/console.log"
		return 1
	fi
	if [ "$st" = degraded ]; then
		echo "degraded; failed units:"
		ct systemctl --failed --no-pager
	fi
	echo "systemd $(ct systemctl --version | sed -n '1s/^systemd //p'), PID 1 is $ct_pid here"
}
install_debs() {
	ct_for 300 sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends \
		/root/debs/heapd_*.deb /root/debs/libheapd1_*.deb' >"$tmp/apt.log" 2>&1 ||
		{ tail -n 30 "$tmp/apt.log"; return 1; }
	ct dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' heapd libheapd1
}
setup "a Debian 12 root with systemd (cached in $tarball)" rootfs
setup "it boots in systemd-nspawn: systemctl is-system-running says running or degraded" boot
setup "apt-get installs heapd and libheapd1 in it" install_debs

# --- the units at work ---
socket_activation() {
	sock=$(ct systemctl is-active heapd.socket)
	svc=$(ct systemctl is-active heapd.service)
	echo "heapd.socket: $sock; heapd.service: $svc"
	perm=$(ct stat -c '%U:%G %a' /run/heapd/heapd.sock)
	echo "/run/heapd/heapd.sock: $perm"
	[ "$sock" = active ] && [ "$svc" = inactive ] && [ "$perm" = "root:heapd 660" ]
}
ping_root() {
	ct heapctl ping || { journal; return 1; }
	svc=$(ct systemctl is-active heapd.service)
	echo "heapd.service: $svc"
	[ "$svc" = active ]
}
# Type=notify: active means heapd said READY=1; StatusText is its STATUS=.
ready() {
	a=$(prop heapd ActiveState)
	s=$(prop heapd SubState)
	status=$(prop heapd StatusText)
	echo "ActiveState=$a SubState=$s StatusText=$status"
	[ "$a" = active ] && [ "$s" = running ] && [ -n "$status" ]
}
# StateDirectory=: owned by heapd, 0700, writable by heapd where
# ProtectSystem=strict makes the rest of the file system read-only (tried
# in heapd's own mount namespace).
state_dir() {
	st=$(ct stat -c '%U:%G %a' /var/lib/heapd) || return 1
	echo "/var/lib/heapd: $st"
	[ "$st" = "heapd:heapd 700" ] || return 1
	pid=$(prop heapd MainPID)
	uid=$(ct id -u heapd)
	gid=$(ct id -g heapd)
	ct nsenter -t "$pid" -m -S "$uid" -G "$gid" \
		sh -c 'touch /var/lib/heapd/probe && rm /var/lib/heapd/probe' || return 1
	if ct nsenter -t "$pid" -m sh -c 'touch /var/lib/probe' 2>&1; then
		ct rm -f /var/lib/probe
		echo "/var/lib is writable in heapd's mount namespace: not ProtectSystem=strict"
		return 1
	fi
	echo "(so heapd may write /var/lib/heapd and not /var/lib)"
}
reload() {
	before=$(prop heapd MainPID)
	ct systemctl reload heapd || { journal; return 1; }
	after=$(prop heapd MainPID)
	a=$(prop heapd ActiveState)
	echo "MainPID $before -> $after, $a"
	[ "$before" = "$after" ] && [ "$a" = active ]
}
# kept NAME TEXT: the root NAME still holds TEXT (docs/persistence.md).
kept() {
	got=$(ct heapd_root get "$1") || { journal; return 1; }
	echo "root $1: $got"
	[ "$got" = "$2" ]
}
restart() {
	ct heapd_root set restart "made before a restart" || return 1
	before=$(prop heapd MainPID)
	ct systemctl restart heapd || { journal; return 1; }
	after=$(prop heapd MainPID)
	echo "MainPID $before -> $after"
	[ "$after" != "$before" ] && [ "$after" != 0 ] && kept restart "made before a restart" || return 1
	ct journalctl -u heapd -n 30 --no-pager -o cat | grep -E '^(saved|loaded) ' || true
}
stop() {
	ct heapd_root set stop "made before a stop" || return 1
	ct systemctl stop heapd || { journal; return 1; }
	svc=$(ct systemctl is-active heapd.service)
	sock=$(ct systemctl is-active heapd.socket)
	echo "after stop: heapd.service $svc, heapd.socket $sock"
	[ "$svc" = inactive ] && [ "$sock" = active ] || return 1
	kept stop "made before a stop" && [ "$(ct systemctl is-active heapd.service)" = active ]
}
# WatchdogSec=2s in a drop-in; heapd stopped with SIGSTOP misses its pings,
# and systemd must kill it (SIGABRT) and start it again (Restart=on-failure).
dropin=$root/etc/systemd/system/heapd.service.d
restarted() { # heapd has a MainPID other than $old and is active
	new=$(prop heapd MainPID)
	[ "$new" != "$old" ] && [ "$new" != 0 ] && [ "$(prop heapd ActiveState)" = active ]
}
watchdog() {
	mkdir -p "$dropin" && printf '[Service]\nWatchdogSec=2s\n' >"$dropin/watchdog.conf" &&
		ct systemctl daemon-reload && ct systemctl restart heapd || return 1
	echo "WatchdogUSec=$(prop heapd WatchdogUSec)"
	old=$(prop heapd MainPID)
	restarts=$(prop heapd NRestarts)
	# Saved, then not: a heapd the watchdog kills saves nothing more.
	ct heapd_root set watchdog "saved before the watchdog" && ct heapctl save --wait &&
		ct heapd_root set unsaved "made after the last save" || return 1
	ct sh -c "kill -STOP $old" || return 1
	start=$(date +%s)
	if until_true $watchdog_timeout restarted; then
		st=0
	else
		st=1
		ct sh -c "kill -CONT $old" 2>/dev/null
	fi
	echo "MainPID $old -> $new after $(($(date +%s) - start)) s; NRestarts $restarts -> $(prop heapd NRestarts)"
	[ $st -eq 0 ] || journal
	rm -f "$dropin/watchdog.conf"
	ct systemctl daemon-reload
	[ $st -eq 0 ] && [ "$(prop heapd NRestarts)" -gt "$restarts" ] &&
		kept watchdog "saved before the watchdog" || return 1
	if ct heapd_root get unsaved; then
		echo "a root made after the last save outlived the watchdog's kill"
		return 1
	fi
}
member() {
	ct useradd -M -G heapd alice && ct runuser -u alice -- heapctl ping
}
non_member() {
	ct useradd -M bob || return 1
	if ct runuser -u bob -- heapctl ping >"$tmp/bob" 2>&1; then
		echo "bob, not in group heapd, was served"
		return 1
	fi
	cat "$tmp/bob"
	grep -q 'Permission denied' "$tmp/bob"
}
# The figure docs/service.md states ("rates the unit **0.4 SAFE**"), and
# the one systemd-analyze gives the installed unit: no higher.
security() {
	want=$(sed -n 's/.*rates the unit \*\*\([0-9][0-9.]*\) [A-Z]*\*\*.*/\1/p' "$top/docs/service.md" | head -n 1)
	[ -n "$want" ] || { echo "docs/service.md states no rating"; return 1; }
	ct systemd-analyze security heapd.service >"$tmp/security" 2>&1
	got=$(sed -n 's/.*Overall exposure level for heapd.service: *\([0-9][0-9.]*\) .*/\1/p' "$tmp/security")
	echo "exposure $got, docs/service.md says $want"
	[ -n "$got" ] || { cat "$tmp/security"; return 1; }
	awk -v g="$got" -v w="$want" 'BEGIN { exit !(g + 0 <= w + 0) }' || { grep '^✗' "$tmp/security"; return 1; }
}
# Any message at all fails, as a misspelt key is only a warning. --man=no:
# minbase has no man(1); test_units.sh checks the pages the units name.
verify() {
	ct systemd-analyze verify --man=no heapd.service heapd.socket >"$tmp/verify" 2>&1
	st=$?
	cat "$tmp/verify"
	[ $st -eq 0 ] && [ ! -s "$tmp/verify" ]
}
# heapd's package repacked as VERSION+nspawn1. The upgrade restarts a
# running heapd (heapd.postinst): a new MainPID, serving the same heap.
upgrade() {
	new_version=$version+nspawn1
	rm -rf "$tmp/repack"
	dpkg-deb -R "$heapd_deb" "$tmp/repack" &&
		sed -i "s/^Version: .*/Version: $new_version/" "$tmp/repack/DEBIAN/control" &&
		dpkg-deb --root-owner-group -b "$tmp/repack" "$root/root/debs/heapd-upgrade.deb" >/dev/null || return 1
	ct heapd_root set upgrade "made before an upgrade" || return 1
	before=$(prop heapd MainPID)
	ct_for 120 apt-get install -y -q /root/debs/heapd-upgrade.deb >"$tmp/apt.log" 2>&1 ||
		{ tail -n 30 "$tmp/apt.log"; return 1; }
	got=$(ct dpkg-query -W -f '${Version}' heapd)
	after=$(prop heapd MainPID)
	echo "heapd $got installed; MainPID $before -> $after"
	[ "$got" = "$new_version" ] && [ "$after" != "$before" ] && [ "$after" != 0 ] &&
		[ "$(ct systemctl is-active heapd.socket)" = active ] && kept upgrade "made before an upgrade"
}
purge() {
	ct_for 120 apt-get purge -y -q heapd >"$tmp/apt.log" 2>&1 || { tail -n 30 "$tmp/apt.log"; return 1; }
	st=0
	status=$(ct dpkg-query -W -f '${db:Status-Abbrev}' heapd 2>/dev/null)
	case "$status" in "" | un*) ;; *) echo "dpkg says heapd is '$status'" && st=1 ;; esac
	for d in /run/heapd /etc/heapd /var/lib/heapd; do
		ct test ! -e "$d" || { echo "$d is left" && ct ls -la "$d" && st=1; }
	done
	for u in heapd.socket heapd.service; do
		a=$(ct systemctl is-active "$u")
		[ "$a" = inactive ] || { echo "$u is $a" && st=1; }
	done
	left=$(ct sh -c 'grep -lx heapd /proc/[0-9]*/comm' 2>/dev/null)
	[ -z "$left" ] || { echo "heapd still runs: $left" && st=1; }
	return $st
}

run "heapd.socket listens (root:heapd 0660) and heapd.service waits for the first connection" socket_activation
run "heapctl ping as root works and starts heapd.service" ping_root
run "heapd is ready (Type=notify) with a STATUS= line (systemctl show -p StatusText)" ready
run "/var/lib/heapd (StateDirectory=) is heapd's, mode 0700, writable by it under ProtectSystem=strict" state_dir
run "systemctl reload heapd exits 0 and heapd keeps its MainPID" reload
run "systemctl restart heapd: a new MainPID that serves, with the heap saved at the stop" restart
run "systemctl stop heapd stops it, the socket stays, the next connection starts it with the heap" stop
run "the watchdog (WatchdogSec=2s): heapd stopped with SIGSTOP is killed and restarted within ${watchdog_timeout} s, with its last snapshot" watchdog
run "a member of group heapd may connect (heapctl ping)" member
run "a user not in group heapd is refused (Permission denied)" non_member
run "systemd-analyze security heapd.service: exposure no higher than docs/service.md says" security
run "systemd-analyze verify heapd.service heapd.socket prints nothing" verify
run "an upgrade to a newer heapd restarts it (try-restart), keeping the heap" upgrade
run "apt-get purge heapd: no heapd, /run/heapd, /etc/heapd or /var/lib/heapd left" purge

[ "$failed" -eq 0 ]
