#!/bin/sh
# The fuzz targets' regression run, in the sanitizer build (ASan+UBSan):
# every corpus input and every crash ever found (tests/fuzz/crashes/) runs
# clean, and so do deterministic mutations of the corpus (the same inputs
# every run: bit flips, tokens, truncations, repeats).  `make fuzz` is the
# coverage-guided (libFuzzer) run.
. "$(dirname "$0")/../lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(dirname "${ELIVEPATCH:-$top/build/san/elivepatch}")/fuzz
T=$(mktemp -d "${TMPDIR:-/tmp}/elp-fuzz.XXXXXX")
trap 'rm -rf "$T"' EXIT
for t in patch conf kconfig symbols elf; do
	[ -x "$bin/fuzz-$t" ] || bail "fuzz target $bin/fuzz-$t (make san)"
	FUZZ_LAST=$T/$t.last "$bin/fuzz-$t" "$top/tests/fuzz/crashes/$t" > "$T/out" 2> "$T/err"
	check "$t: the crashes kept as regression tests run clean ($(cut -d' ' -f1 "$T/out") inputs)" test $? -eq 0
	FUZZ_LAST=$T/$t.last "$bin/fuzz-$t" -m "${FUZZ_MUTATIONS:-20}" "$top/tests/fuzz/corpus/$t" > "$T/out" 2> "$T/err"
	rc=$?
	check "$t: corpus and its mutations run clean ($(cat "$T/out"))" test $rc -eq 0
	[ $rc -eq 0 ] || { sed 's/^/# /' "$T/err" | head -n 30; echo "# the input: $T/$t.last"; cp "$T/$t.last" "/tmp/fuzz-$t.crash" 2> /dev/null; }
done
t_done
