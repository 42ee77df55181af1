#!/bin/sh
# make-corpus.sh - regenerates the seed corpus, tests/fuzz/corpus/<target>,
# from real traffic (docs/fuzzing.md).
#
#   sh tests/fuzz/make-corpus.sh BUILD-DIR
#
# BUILD-DIR is configured with CC=clang --enable-fuzzing. The daemon tests
# that talk to heapd through libheapd (test_client, test_sessions,
# test_heapctl and test_heapctl_stats through heapctl, test_batch, test_cas,
# test_view_client) and by hand (test_protocol)
# run with tests/fuzz/record standing in for heapd, which records every
# request frame and every run, all of it an admin's, and so does a short
# run of the stress test (tests/stress: its clients seal, view and try to
# change sealed objects); tests/fuzz/permseeds adds runs of the dispatch
# target's other identities (fuzzperm.c).
# libFuzzer's -merge=1 then keeps, of all that, the inputs that add
# coverage, smallest first: that is the committed corpus. The snapshot
# target's seeds are written, not recorded: tests/fuzz/snapseeds saves a
# few graphs, each as a file and as a stream, and they are the corpus
# whole, not merged: each stands for a kind of graph, whatever its
# coverage.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: make-corpus.sh BUILD-DIR (configured with CC=clang --enable-fuzzing)}" && pwd)
tests="test_client test_sessions test_protocol test_heapctl test_heapctl_stats test_batch test_cas test_view_client"
programs="daemon/heapd client/heapctl/heapctl tests/fuzz/record tests/fuzz/permseeds tests/fuzz/snapseeds tests/fuzz/fuzz_frame tests/fuzz/fuzz_dispatch tests/stress/stress_model"
for t in $tests; do
	programs="$programs tests/daemon/$t"
done
make -C "$build" $programs
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
for t in $tests; do
	if ! CMOCKA_MESSAGE_OUTPUT=TAP HEAPD_BIN="$build/tests/fuzz/record" HEAPD_RECORD_REAL="$build/daemon/heapd" HEAPD_RECORD_DIR="$raw" \
		HEAPCTL_BIN="$build/client/heapctl/heapctl" "$build/tests/daemon/$t" >"$raw/$t.log" 2>&1; then
		echo "make-corpus: $t did not pass with the recorder in between (its traffic is kept):" >&2
		grep '^not ok' "$raw/$t.log" >&2 || true
	fi
done
if ! STRESS_CLIENTS=2 STRESS_OPS=4000 STRESS_KILLS=0 STRESS_BALLAST=100 HEAPD_BIN="$build/tests/fuzz/record" \
	HEAPD_RECORD_REAL="$build/daemon/heapd" HEAPD_RECORD_DIR="$raw" "$build/tests/stress/stress_model" >"$raw/stress.log" 2>&1; then
	echo "make-corpus: stress_model did not pass with the recorder in between (its traffic is kept):" >&2
	tail -n 5 "$raw/stress.log" >&2
fi
mkdir -p "$raw/dispatch"
"$build/tests/fuzz/permseeds" "$raw/dispatch"
for t in frame dispatch; do
	out="$src/tests/fuzz/corpus/$t"
	rm -rf "$out"
	mkdir -p "$out"
	"$build/tests/fuzz/fuzz_$t" -merge=1 "$out" "$raw/$t" 2>"$raw/merge-$t.log" ||
		{ cat "$raw/merge-$t.log" >&2; exit 1; }
	echo "make-corpus: $t: $(ls "$out" | wc -l) inputs, $(du -sk "$out" | cut -f1) KiB," \
		"from $(ls "$raw/$t" | wc -l) recorded"
done
out="$src/tests/fuzz/corpus/snapshot"
rm -rf "$out"
mkdir -p "$out"
"$build/tests/fuzz/snapseeds" "$out"
echo "make-corpus: snapshot: $(ls "$out" | wc -l) inputs, $(du -sk "$out" | cut -f1) KiB, written by snapseeds"
