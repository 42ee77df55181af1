#!/bin/sh
# test_docs.sh - the docs name every setting and every figure heapd has.
#
# TAP. heapd's option table (daemon/confopts.c, config_opts[]) is what `heapd --help`
# prints: for each setting its flag, then "key: help. Default: X. Range: R.
# Changes on reload." (or "Changes at restart."). docs/configuration.md's
# Keys table must have one row per key, and only those, with the same flag,
# default and Applies (reload or restart). Defaults are compared without
# spaces and backticks: the table writes `16 MiB` where --help has 16MiB.
# make check runs it with the built heapd (HEAPD_BIN) and the source tree
# (HEAPD_SOURCE_DIR). So a key added to heapd without its row, or a row
# that says reload for a key that changes at restart, fails this test.
#
# And every figure of HEAPD_STATS (client/include/heapd/stats.h) is
# explained in docs/stats.md (as `name`) and its Prometheus metric listed
# in docs/heapctl.md (as `metric`).
#
# And every operation of HEAPD_OPS (proto/ops.h) has exactly one row in
# docs/protocol.md's operations table; those that cannot be batch ops
# (ALONE) are the ones its "Not in a batch" paragraph names; and each is in
# docs/security.md's table of what each role may do.
set -u
LC_ALL=C
export LC_ALL

src=${HEAPD_SOURCE_DIR:-.}
heapd=${HEAPD_BIN:-daemon/heapd}
doc=$src/docs/configuration.md

. "$(dirname "$0")/tap.sh"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# KEY<TAB>FLAG<TAB>DEFAULT<TAB>APPLIES from --help: a line "  --flag ARG"
# starts an option, the lines indented by 8 that follow are its text; an
# option whose text starts with "key: " is a setting.
"$heapd" --help | awk '
	function done() {
		if (body ~ /^[a-z_]+: /) {
			key = body; sub(/:.*/, "", key)
			def = "?"
			if (match(body, / Default: [^ ]*\. /))
				def = substr(body, RSTART + 10, RLENGTH - 12)
			applies = "?"
			if (body ~ / Changes on reload\./) applies = "reload"
			if (body ~ / Changes at restart\./) applies = "restart"
			gsub(/ /, "", def)
			printf "%s\t%s\t%s\t%s\n", key, flag, def, applies
		}
		flag = ""; body = ""
	}
	/^  -/ { done(); flag = $0; sub(/^ +/, "", flag); next }
	/^        / && flag != "" { line = $0; sub(/^ +/, "", line); body = body (body == "" ? "" : " ") line; next }
	{ done() }
	END { done() }
' | sort >"$tmp/help"

# The same from the rows of the Keys table ("| `key` | `--flag ARG` |
# default | range | applies | what |"); "\|" is a "|" inside a cell.
sed -n '/^## Keys/,/^## /p' "$doc" | awk -F'|' '
	function trim(s) { gsub(/`/, "", s); sub(/^ +/, "", s); sub(/ +$/, "", s); gsub(/\001/, "|", s); return s }
	/^\| `/ {
		gsub(/\\\|/, "\001")
		def = trim($4); gsub(/ /, "", def)
		printf "%s\t%s\t%s\t%s\n", trim($2), trim($3), def, trim($6)
	}
' | sort >"$tmp/doc"

cut -f1 "$tmp/help" >"$tmp/help.keys"
cut -f1 "$tmp/doc" >"$tmp/doc.keys"

echo "1..10"

# 1: a row for every key. An empty list means --help changed shape: fail.
count=$(wc -l <"$tmp/help.keys")
missing=$(comm -23 "$tmp/help.keys" "$tmp/doc.keys" | tr '\n' ' ')
[ "$count" -gt 0 ] || missing="(no keys found in heapd --help)"
[ -z "$missing" ] || echo "# docs/configuration.md lacks a row for: $missing"
[ -z "$missing" ]
result $? "docs/configuration.md has a row for each of heapd's $count keys"

# 2: no row for a key heapd does not have, and none twice.
extra=$(sort -u "$tmp/doc.keys" | comm -13 "$tmp/help.keys" - | tr '\n' ' ')
twice=$(uniq -d "$tmp/doc.keys" | tr '\n' ' ')
[ -z "$extra" ] || echo "# rows for keys heapd does not have: $extra"
[ -z "$twice" ] || echo "# keys with more than one row: $twice"
[ -z "$extra$twice" ]
result $? "docs/configuration.md has no row for a key heapd lacks, and none twice"

# column N NAME: for each key in both, the table's column N (2 flag,
# 3 default, 4 applies) is what --help says.
column() {
	wrong=$(join -t "$(printf '\t')" "$tmp/help" "$tmp/doc" | awk -F'\t' -v n="$1" '
		{ h = $n; d = $(n + 3); if (h != d) printf "%s (--help: %s; table: %s) ", $1, h, d }')
	[ -z "$wrong" ] || echo "# wrong $2: $wrong"
	[ -z "$wrong" ]
	result $? "docs/configuration.md gives each key's $2 as heapd --help does"
}

column 2 "flag"
column 3 "default"
column 4 "Applies (reload or restart)"

# documented DOC WHAT NAMES...: each name appears in DOC in backticks,
# alone or followed by [ or {.
documented() {
	doc=$1
	what=$2
	shift 2
	missing=""
	for name in "$@"; do
		grep -q -e "\`$name[\`[{]" "$src/$doc" || missing="$missing $name"
	done
	[ "$#" -gt 0 ] || missing=" (none found in stats.h)"
	[ -z "$missing" ] || echo "# $doc lacks:$missing"
	[ -z "$missing" ]
	result $? "$doc names all $# $what"
}

stats_h=$src/client/include/heapd/stats.h
# shellcheck disable=SC2046 # word lists
documented docs/stats.md "figures of HEAPD_STATS" \
	$(sed -n 's/^[[:space:]]*X(\([a-z_]*\), [A-Z_]*, [A-Z]*, [0-9]*,.*/\1/p' "$stats_h")
# shellcheck disable=SC2046
documented docs/heapctl.md "Prometheus metrics of HEAPD_STATS" \
	$(grep -o '"heapd_[a-z_]*"' "$stats_h" | tr -d '"' | sort -u)

ops_h=$src/proto/ops.h
ops=$(sed -n 's/^[[:space:]]*X(\([a-z_]*\), [A-Z_]*, [A-Za-z]*, \([A-Z]*\),.*/\1 \2/p' "$ops_h")
proto=$src/docs/protocol.md
# The first column of the table under "| Request field |", one a line.
sed -n '/^| Request field |/,/^$/p' "$proto" | sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' | sort > "$tmp/op_rows"
echo "$ops" | cut -d' ' -f1 | sort > "$tmp/ops"
diff "$tmp/ops" "$tmp/op_rows" | sed -n 's/^[<>]/#&/p'
cmp -s "$tmp/ops" "$tmp/op_rows"
result $? "docs/protocol.md's operations table has one row for each of the $(wc -l < "$tmp/ops") operations"

# The paragraph, its words in backticks, one a line.
sed -n '/^\*\*Not in a batch\.\*\*/,/^$/p' "$proto" | grep -o '`[a-z_]*`' | tr -d '`' | sort -u > "$tmp/alone_doc"
echo "$ops" | sed -n 's/ ALONE$//p' | sort > "$tmp/alone"
diff "$tmp/alone" "$tmp/alone_doc" | sed -n 's/^[<>]/#&/p'
cmp -s "$tmp/alone" "$tmp/alone_doc"
result $? "docs/protocol.md's \"Not in a batch\" names the $(wc -l < "$tmp/alone") operations that are not batch ops, no other"

roles=$(sed -n '/^| Operation | read-only | user | admin |/,/^$/p' "$src/docs/security.md" | cut -d'|' -f2)
missing=""
for op in $(cat "$tmp/ops"); do
	echo "$roles" | grep -q -w -e "$op" || missing="$missing $op"
done
[ -z "$missing" ] || echo "# docs/security.md's role table lacks:$missing"
[ -z "$missing" ]
result $? "docs/security.md's role table names each operation"

[ "$failed" -eq 0 ]
