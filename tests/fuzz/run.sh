#!/bin/sh
# make fuzz: run each libFuzzer target (build/fuzz/fuzz-TARGET) for
# FUZZ_SECONDS (default 60) from its corpus (tests/fuzz/corpus/TARGET, new
# inputs in build/fuzz/corpus/TARGET), a crash kept in
# tests/fuzz/crashes/TARGET/ as a regression test.  Writes "TARGET
# executions crashes" per target to FUZZ_OUT (default fuzz-results.txt)
# and exits 1 when a target crashed.
#   FUZZ_BIN_DIR=build/fuzz sh tests/fuzz/run.sh TARGET...
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FUZZ_BIN_DIR:-$top/build/fuzz}
secs=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$top/fuzz-results.txt}
work=$bin/corpus
status=0
{
	echo "# make fuzz, $(date -u '+%Y-%m-%d %H:%M UTC'), ${secs} s per target (libFuzzer, ASan+UBSan)"
	printf '%-10s %12s %8s %8s\n' target executions crashes corpus
} > "$out"
for t in "$@"; do
	mkdir -p "$work/$t" "$top/tests/fuzz/crashes/$t"
	log=$work/$t.log
	"$bin/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 -timeout=20 \
		-rss_limit_mb=2048 -artifact_prefix="$top/tests/fuzz/crashes/$t/" \
		"$work/$t" "$top/tests/fuzz/corpus/$t" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	crashes=0
	if [ "$rc" -ne 0 ]; then
		crashes=1
		status=1
		echo "fuzz: $t crashed, input kept in tests/fuzz/crashes/$t/ (log: $log)" >&2
	fi
	n=$(find "$work/$t" "$top/tests/fuzz/corpus/$t" -type f | wc -l)
	printf '%-10s %12s %8s %8s\n' "$t" "${execs:-0}" "$crashes" "$n" | tee -a "$out"
done
exit $status
