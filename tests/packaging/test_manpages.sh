#!/bin/sh
# test_manpages.sh - the manual pages say what the programs do.
#
# TAP. Each page must document everything its program or header offers:
#   heapd(8)        every flag in `heapd --help`
#   heapd.conf(5)   every config key (the `key:` lines of `heapd --help`)
#   heapctl(1)      every command and option of `heapctl --help` and
#                   `heapctl COMMAND --help`
#   libheapd(3)     every function and callback type declared in client/include/heapd.h
#                   and client/include/heapd/async.h, and each adapter's attach function
# and groff must render each page without a warning. make check runs it with
# the built programs (HEAPD_BIN, HEAPCTL_BIN) and the source tree
# (HEAPD_SOURCE_DIR). A name missing from its page fails this test; so a
# new flag, key, command or function cannot ship undocumented.
set -u

src=${HEAPD_SOURCE_DIR:-.}
heapd=${HEAPD_BIN:-daemon/heapd}
heapctl=${HEAPCTL_BIN:-client/heapctl/heapctl}

. "$(dirname "$0")/tap.sh"

# The page's text with roff's escaped hyphens made plain.
page_text() { sed -e 's/\\-/-/g' -e 's/\\(en/-/g' "$src/man/$1"; }

# documents PAGE WHAT NAMES...: every name appears in the page, as a word.
documents() {
	page=$1
	what=$2
	shift 2
	missing=""
	count=0
	for name in "$@"; do
		count=$((count + 1))
		page_text "$page" | grep -q -e "\(^\|[^a-z0-9_-]\)$name\([^a-z0-9_-]\|$\)" ||
			missing="$missing $name"
	done
	# An empty list means the program's help changed shape: fail, do not
	# pass vacuously.
	[ "$count" -gt 0 ] || missing=" (no $what found)"
	[ -z "$missing" ] || echo "# $page lacks:$missing"
	[ -z "$missing" ]
	result $? "$page documents all $count $what"
}

flags() { sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}\(--[a-z-]*\).*/\2/p' | sort -u; }

echo "1..6"

# shellcheck disable=SC2046 # word lists
documents heapd.8 "heapd flags" $("$heapd" --help | flags)
# shellcheck disable=SC2046
documents heapd.conf.5 "config keys" \
	$("$heapd" --help | sed -n 's/^        \([a-z_]*\): .*/\1/p')

commands=$("$heapctl" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
options=$("$heapctl" --help | flags)
for c in $commands; do
	options="$options $("$heapctl" "$c" --help | flags)"
done
# shellcheck disable=SC2086
documents heapctl.1 "heapctl commands" $commands
# shellcheck disable=SC2046,SC2086
documents heapctl.1 "heapctl options" $(echo $options | tr ' ' '\n' | sort -u)

# shellcheck disable=SC2046
documents libheapd.3 "libheapd functions" \
	$({ sed -n 's/.*\(heapd_[a-z0-9_]*\) *(.*/\1/p' "$src/client/include/heapd.h" "$src/client/include/heapd/async.h"
	    sed -n 's/.*\(heapd_[a-z0-9]*_attach\) *(.*/\1/p' "$src/client/include/heapd/adapters/"*.h; } | sort -u)

if command -v groff >/dev/null 2>&1; then
	warnings=""
	for p in heapd.8 heapd.conf.5 heapctl.1 libheapd.3; do
		w=$(groff -man -Tutf8 -ww -z "$src/man/$p" 2>&1)
		[ -z "$w" ] || warnings="$warnings$p: $w
"
	done
	[ -z "$warnings" ] || printf '%s' "$warnings" | sed 's/^/# /'
	[ -z "$warnings" ]
	result $? "groff renders every page without a warning"
else
	skip "groff renders every page" "groff not found"
fi

[ "$failed" -eq 0 ]
