#!/bin/sh
# test_manlinks.sh - `man heapd_alloc` finds libheapd(3): every function
# libheapd exports has its link page.
#
# TAP. Installs the link pages as make install does (the install-man-links
# target, which install-data-local runs) into a temporary DESTDIR, with
# libheapd.3 beside them, and checks:
#   - libheapd1.symbols, the list the pages are made from, names exactly
#     what the built library exports (dpkg-gensymbols checks the same at
#     package build; this is make check's copy of that check);
#   - every exported function, every function of heapd.h and heapd/async.h
#     and each adapter's attach function has a page, `.so man3/libheapd.3`;
#   - man finds and renders one (when man is installed);
#   - make uninstall's target removes them all;
#   - libheapd(3)'s NAME section lists every function that has a page
#     (what apropos and whatis show), and no other;
#   - tests/daemon/test_nullargs.c calls every exported function (a NULL
#     argument row, or the NULL a function accepts), but those that take no
#     pointer to give NULL for (NO_POINTER) and heapd_connect, whose NULL
#     is the system's socket, which no test may touch.
# make check runs it with HEAPD_BUILD_DIR, HEAPD_SOURCE_DIR and MAKE set.
set -u

src=${HEAPD_SOURCE_DIR:-.}
build=${HEAPD_BUILD_DIR:-.}
make=${MAKE:-make}

. "$(dirname "$0")/tap.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/i18-manlinks.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

echo "1..7"

exports=$(nm -D --defined-only "$build/client/.libs/libheapd.so" | awk '$2 == "T" && $3 ~ /^heapd_/ { print $3 }' | LC_ALL=C sort)
listed=$(sed -n 's/^ \(heapd_[a-z0-9_]*\)@.*/\1/p' "$src/packaging/debian/libheapd1.symbols" | LC_ALL=C sort)
if [ -n "$exports" ] && [ "$exports" = "$listed" ]; then
	ok "libheapd1.symbols lists the $(echo "$exports" | wc -l) exported functions"
else
	printf '%s\n' "$exports" > "$tmp/exports"
	printf '%s\n' "$listed" > "$tmp/listed"
	diff "$tmp/listed" "$tmp/exports" | sed 's/^/# /'
	not_ok "libheapd1.symbols lists the exported functions"
fi

"$make" -s --no-print-directory -C "$build" install-man-links DESTDIR="$tmp/root" >"$tmp/log" 2>&1 ||
	sed 's/^/# /' "$tmp/log"
man3=$(find "$tmp/root" -type d -name man3 | head -1)
[ -n "$man3" ] && cp "$src/man/libheapd.3" "$man3/"

# The callback types (heapd_async_fn, ...) are declared as functions too.
names=$({ echo "$exports"
	  sed -n 's/.*\(heapd_[a-z0-9_]*\) *(.*/\1/p' "$src/client/include/heapd.h" "$src/client/include/heapd/async.h" |
		grep -v '_fn$'
	  sed -n 's/.*\(heapd_[a-z0-9]*_attach\) *(.*/\1/p' "$src/client/include/heapd/adapters/"*.h; } | LC_ALL=C sort -u)
missing=""
count=0
for name in $names; do
	count=$((count + 1))
	[ -n "$man3" ] && [ "$(cat "$man3/$name.3" 2>/dev/null)" = ".so man3/libheapd.3" ] ||
		missing="$missing $name"
done
[ -z "$missing" ] || echo "# no page:$missing"
[ "$count" -gt 0 ] && [ -z "$missing" ]
result $? "every function has its page ($count functions)"

pages=$(find "$man3" -name 'heapd_*.3' 2>/dev/null | wc -l)
[ "$pages" -eq "$count" ]
result $? "no page but for a function ($pages pages)"

if command -v man >/dev/null 2>&1; then
	page=$(MANPATH="$(dirname "$man3")" MANWIDTH=80 man -P cat heapd_alloc 2>"$tmp/err")
	echo "$page" | grep -q 'libheapd' && echo "$page" | grep -q 'heapd_alloc'
	status=$?
	[ $status -eq 0 ] || sed 's/^/# /' "$tmp/err"
	result $status "man heapd_alloc shows libheapd(3)"
else
	skip "man heapd_alloc shows libheapd(3)" "man not found"
fi

"$make" -s --no-print-directory -C "$build" uninstall-man-links DESTDIR="$tmp/root" >"$tmp/log" 2>&1 ||
	sed 's/^/# /' "$tmp/log"
[ -n "$man3" ] && [ "$(find "$man3" -name 'heapd_*.3' | wc -l)" -eq 0 ]
result $? "uninstall removes the pages"

sed -n '/^\.SH NAME/,/^\.SH /p' "$src/man/libheapd.3" | grep -o 'heapd_[a-z0-9_]*' | LC_ALL=C sort -u > "$tmp/named"
printf '%s\n' $names > "$tmp/paged"
diff "$tmp/paged" "$tmp/named" | sed -n 's/^[<>]/#&/p'
cmp -s "$tmp/paged" "$tmp/named"
result $? "libheapd(3)'s NAME lists the $count functions with a page, no other"

NO_POINTER="heapd_batch_new heapd_batch_result heapd_connect heapd_connect_timeout heapd_strerror"
untested=""
for name in $exports; do
	case " $NO_POINTER " in *" $name "*) continue ;; esac
	grep -q "\<$name(" "$src/tests/daemon/test_nullargs.c" || untested="$untested $name"
done
[ -z "$untested" ] || echo "# not in test_nullargs.c:$untested"
[ -n "$exports" ] && [ -z "$untested" ]
result $? "test_nullargs.c calls every exported function that takes a pointer or a handle"

[ "$failed" -eq 0 ]
