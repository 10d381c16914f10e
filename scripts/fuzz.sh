#!/bin/sh
# Runs every libFuzzer target for SECONDS each, starting from the stored
# corpus (fuzz/corpus/<target>/). New inputs go to a scratch corpus; crashes
# are written to fuzz/crashes/ and fail the run. Add each crash, once fixed,
# to fuzz/corpus/<target>/ so `make check` replays it forever.
set -eu
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
cd "$(dirname "$0")/.."
mkdir -p fuzz/crashes
status=0
for exe in "$BUILD"/fuzz/fuzz_*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	target=${exe##*/fuzz_}
	scratch=$(mktemp -d)
	echo "== fuzz $target for ${SECONDS_EACH}s"
	if ! "$exe" -max_total_time="$SECONDS_EACH" -max_len=70000 -timeout=10 \
		-artifact_prefix=fuzz/crashes/"$target"- -print_final_stats=1 \
		"$scratch" "fuzz/corpus/$target" 2>"$scratch.log"; then
		status=1
		tail -40 "$scratch.log"
	else
		grep -E "stat::number_of_executed_units|Done" "$scratch.log" | tail -2
	fi
	rm -rf "$scratch" "$scratch.log"
done
exit $status
