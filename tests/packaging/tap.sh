# tap.sh - TAP output for the packaging tests; sourced, not run.
#
# Each function prints the next numbered line; $failed counts the failures,
# so a test ends with [ "$failed" -eq 0 ].
#   ok DESCRIPTION, not_ok DESCRIPTION
#   skip DESCRIPTION REASON
#   result STATUS DESCRIPTION   ok or not_ok from a command's exit status

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
result() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }
