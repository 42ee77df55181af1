#!/bin/sh
# test_units.sh - the systemd units and the sysusers.d file (docs/service.md).
#
# TAP. make check runs it with the built units (HEAPD_UNIT_DIR), the source
# tree (HEAPD_SOURCE_DIR), the configured sbindir and sysconfdir, and the
# built heapd (HEAPD_BIN). No systemd PID 1 is needed: systemd-analyze
# verify and systemd-analyze security --offline=yes read unit files.
#
# The units are checked as installed, except that ExecStart names the built
# heapd: verify insists that the binary exists, and the configured sbindir
# holds none before make install.
#
# Each check that must fail on a bad unit is itself tested against one: a
# unit with a missing binary, one with a misspelt key, one without its
# hardening, so a change of systemd-analyze's output cannot make this test
# pass vacuously.
set -u

units=${HEAPD_UNIT_DIR:-packaging/systemd}
src=${HEAPD_SOURCE_DIR:-.}
sbindir=${HEAPD_SBINDIR:-/usr/sbin}
sysconfdir=${HEAPD_SYSCONFDIR:-/etc}
heapd=${HEAPD_BIN:-daemon/heapd}
analyze=${SYSTEMD_ANALYZE:-systemd-analyze}

if ! command -v "$analyze" >/dev/null 2>&1; then
	echo "1..0 # SKIP systemd-analyze not found (Debian package systemd)"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/heapd-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

. "$(dirname "$0")/tap.sh"
diag() { sed 's/^/# /' "$@"; }
check() { # check DESCRIPTION COMMAND...: one TAP line from the command's status
	desc=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$desc"; else not_ok "$desc"; diag "$tmp/out"; fi
}

echo "1..12"

service_in="$units/heapd.service"
socket_in="$src/packaging/systemd/heapd.socket"
sysusers="$src/packaging/sysusers.d/heapd.conf"

# value UNIT KEY: the unit's last KEY= value (what systemd uses).
value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

# The units as installed, but for ExecStart, which names the built heapd.
mkdir "$tmp/units"
cp "$socket_in" "$tmp/units/heapd.socket"
sed "s|^ExecStart=[^ ]*|ExecStart=$heapd|" "$service_in" >"$tmp/units/heapd.service"

# --- 1: heapd.service runs the configured heapd, reading the configured file.
exec_start=$(value "$service_in" ExecStart)
case "$sysconfdir" in
/etc) want="$sbindir/heapd" ;;
*) want="$sbindir/heapd --config $sysconfdir/heapd/heapd.conf" ;;
esac
if [ "$exec_start" = "$want" ]; then
	ok "heapd.service: ExecStart=$exec_start"
else
	not_ok "heapd.service: ExecStart is '$exec_start', configured for '$want'"
fi

# --- 2: the settings docs/service.md promises, as systemd would read them.
expect() { # expect UNIT KEY VALUE
	got=$(value "$1" "$2")
	[ "$got" = "$3" ] || echo "$(basename "$1"): $2 is '$got', want '$3'"
}
{
	s="$tmp/units/heapd.service"
	expect "$s" Type notify
	# shellcheck disable=SC2016 # the unit's literal text
	expect "$s" ExecReload '/bin/sh -c '\''kill -HUP "$$MAINPID"'\'
	expect "$s" Restart on-failure
	expect "$s" WatchdogSec 30s
	expect "$s" LimitNOFILE 65536
	expect "$s" Requires heapd.socket
	expect "$s" User heapd
	expect "$s" Group heapd
	expect "$s" UMask 0077
	expect "$s" StateDirectory heapd
	expect "$s" StateDirectoryMode 0700
	expect "$s" ProtectSystem strict
	expect "$s" PrivateNetwork yes
	expect "$s" RestrictAddressFamilies AF_UNIX
	for key in DynamicUser RuntimeDirectory; do
		grep -q "^$key=" "$s" && echo "heapd.service: has $key= (docs/service.md says why not)"
	done
	k="$tmp/units/heapd.socket"
	expect "$k" SocketGroup heapd
	expect "$k" SocketMode 0660
} >"$tmp/settings"
if [ -s "$tmp/settings" ]; then
	not_ok "the units' settings are those docs/service.md describes"
	diag "$tmp/settings"
else
	ok "the units' settings are those docs/service.md describes"
fi

# --- 3: the socket is where heapd listens by default (packaging/heapd.conf).
listen=$(value "$socket_in" ListenStream)
default=$(sed -n 's/^# *socket *= *//p' "$src/packaging/heapd.conf" | head -n 1)
if [ -n "$listen" ] && [ "$listen" = "$default" ]; then
	ok "heapd.socket listens on heapd's default socket $listen"
else
	not_ok "heapd.socket listens on '$listen', heapd's default is '$default'"
fi

# The man pages the units name (Documentation=man:...), from the source
# tree's man/ into a MANPATH of their own, so verify checks they exist.
# Without man(1), or when one is missing there, verify skips man pages and
# says so.
mkdir "$tmp/man"
man=yes
for page in $(sed -n 's/^Documentation=//p' "$tmp/units/heapd.socket" "$tmp/units/heapd.service" |
	tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([0-9]\))$/\1.\2/p' | sort -u); do
	section=${page##*.}
	mkdir -p "$tmp/man/man$section"
	cp "$src/man/$page" "$tmp/man/man$section/" 2>/dev/null || man="no ($src/man/$page is missing)"
done
command -v man >/dev/null 2>&1 || man="no (man not found)"

# verify UNIT-DIR: systemd-analyze verify on both units; fails on any
# message, as a misspelt key is only a warning to systemd.
verify() {
	(cd "$1" && MANPATH="$tmp/man" "$analyze" verify --man="${man%% *}" \
		./heapd.socket ./heapd.service) >"$tmp/verify" 2>&1
	status=$?
	[ "$status" -eq 0 ] && [ ! -s "$tmp/verify" ]
}

# --- 4: verify passes on both units.
if verify "$tmp/units"; then
	ok "systemd-analyze verify heapd.socket heapd.service (man pages checked: $man)"
else
	not_ok "systemd-analyze verify heapd.socket heapd.service (man pages checked: $man)"
	diag "$tmp/verify"
fi

# --- 5, 6: ... and fails on a missing binary and on a misspelt key.
mkdir "$tmp/nobinary" "$tmp/typo"
cp "$tmp/units/heapd.socket" "$tmp/nobinary/"
cp "$tmp/units/heapd.socket" "$tmp/typo/"
sed "s|^ExecStart=[^ ]*|ExecStart=$tmp/no-such-heapd|" "$tmp/units/heapd.service" >"$tmp/nobinary/heapd.service"
sed 's/^UMask=/UMsak=/' "$tmp/units/heapd.service" >"$tmp/typo/heapd.service"
if verify "$tmp/nobinary"; then
	not_ok "verify rejects a unit whose heapd is missing"
else
	ok "verify rejects a unit whose heapd is missing"
fi
if verify "$tmp/typo"; then
	not_ok "verify rejects a unit with a misspelt key"
else
	ok "verify rejects a unit with a misspelt key"
fi

# rating UNIT-FILE: prints "EXPOSURE LEVEL" from the last line of
# systemd-analyze security --offline=yes, e.g. "→ Overall exposure level for
# heapd.service: 0.4 SAFE 😀"; fails if there is no such line.
rating() {
	(cd "$(dirname "$1")" && "$analyze" security --offline=yes "./$(basename "$1")") \
		>"$tmp/security" 2>&1
	sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9.]*\) *\([A-Z]*\).*/\1 \2/p' \
		"$tmp/security" | grep .
}
good_level() {
	case "$1" in OK | SAFE | PERFECT) return 0 ;; esac
	return 1
}

# --- 7: heapd.service rates OK or better.
if r=$(rating "$tmp/units/heapd.service"); then
	# shellcheck disable=SC2086 # split into exposure and level
	set -- $r
	if good_level "$2"; then
		ok "systemd-analyze security: heapd.service exposure $1 $2 (OK or better)"
	else
		not_ok "systemd-analyze security: heapd.service exposure $1 $2, want OK, SAFE or PERFECT"
		grep '^✗' "$tmp/security" | diag
	fi
else
	not_ok "systemd-analyze security: no overall exposure level"
	diag "$tmp/security"
fi

# --- 8: ... and a heapd.service without its hardening does not.
mkdir "$tmp/weak"
cp "$tmp/units/heapd.socket" "$tmp/weak/"
sed '/^# Hardening/,/^\[Install\]/{/^\[Install\]/!d}' "$tmp/units/heapd.service" | sed '/^UMask=/d' \
	>"$tmp/weak/heapd.service"
if r=$(rating "$tmp/weak/heapd.service"); then
	# shellcheck disable=SC2086 # split into exposure and level
	set -- $r
	if good_level "$2"; then
		not_ok "heapd.service without its hardening still rates $1 $2: the check proves nothing"
	else
		ok "heapd.service without its hardening rates $1 $2"
	fi
else
	not_ok "systemd-analyze security: no overall exposure level for the unhardened unit"
	diag "$tmp/security"
fi

# --- 9: the sysusers.d file creates user and group heapd.
if ! command -v systemd-sysusers >/dev/null 2>&1; then
	skip "sysusers.d creates user and group heapd" "systemd-sysusers not found"
elif [ "$(id -u)" -ne 0 ]; then
	skip "sysusers.d creates user and group heapd" "systemd-sysusers --root needs root"
else
	mkdir -p "$tmp/root/etc"
	if systemd-sysusers --root="$tmp/root" "$sysusers" >"$tmp/out" 2>&1 &&
		grep -q '^heapd:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$tmp/root/etc/passwd" &&
		gid=$(sed -n 's/^heapd:x:[0-9]*:\([0-9]*\):.*/\1/p' "$tmp/root/etc/passwd") &&
		grep -q "^heapd:x:$gid:" "$tmp/root/etc/group"; then
		ok "sysusers.d creates user heapd with its group heapd, no login shell"
	else
		not_ok "sysusers.d creates user heapd with its group heapd, no login shell"
		diag "$tmp/out"
		[ -f "$tmp/root/etc/passwd" ] && diag "$tmp/root/etc/passwd" "$tmp/root/etc/group"
	fi
fi

# --- 10: systemd can read heapd.socket's group and user names in it.
if grep -q '^SocketGroup=heapd$' "$socket_in" && grep -q '^u heapd ' "$sysusers"; then
	ok "heapd.socket's group is the sysusers.d one"
else
	not_ok "heapd.socket's group is the sysusers.d one"
fi

# --- 11, 12: the [Install] sections: the socket starts at boot, and
# enabling the service enables the socket.
if [ "$(value "$socket_in" WantedBy)" = sockets.target ]; then
	ok "heapd.socket is WantedBy=sockets.target"
else
	not_ok "heapd.socket is WantedBy=sockets.target"
fi
if [ "$(value "$service_in" Also)" = heapd.socket ]; then
	ok "heapd.service has Also=heapd.socket"
else
	not_ok "heapd.service has Also=heapd.socket"
fi

[ "$failed" -eq 0 ]
