#!/bin/sh
# Run the test suite: cmocka unit tests (sanitizer build), black-box CLI
# tests and the qemu end-to-end tests.  Every test prints TAP lines; this
# counts them and ends with "N passed, N failed".
#   ELP_TESTS=unit|cli|e2e|all (default all)   which groups to run
#   ELP_TEST_FILTER=PATTERN                      only test files matching
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
# the tests run the binaries from the build tree: use its data/, not an install
ELIVEPATCH_DATADIR=$top/data
export ELIVEPATCH_DATADIR
groups=${ELP_TESTS:-all}
filter=${ELP_TEST_FILTER:-}
passed=0 failed=0 skipped=0
out=$(mktemp -d "${TMPDIR:-/tmp}/elp-tests.XXXXXX")
trap 'rm -rf "$out"' EXIT

run_one() { # NAME COMMAND...
	name=$1; shift
	case "$name" in *"$filter"*) ;; *) return ;; esac
	start=$(date +%s)
	"$@" > "$out/log" 2>&1
	status=$?
	p=$(grep -c '^ok ' "$out/log" | tr -d ' ')
	s=$(grep -c '^ok .*# SKIP' "$out/log" | tr -d ' ')
	f=$(grep -c '^not ok ' "$out/log" | tr -d ' ')
	p=$((p - s))
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		# died without saying which assertion failed
		echo "not ok - $name exited with status $status" >> "$out/log"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	printf '%-40s %3d passed %3d failed %3d skipped  (%ss)\n' "$name" \
		"$p" "$f" "$s" "$(($(date +%s) - start))"
	if [ "$f" -ne 0 ] || [ -n "${ELP_TEST_VERBOSE:-}" ]; then
		sed 's/^/    /' "$out/log"
	fi
}

want() { [ "$groups" = all ] || [ "$groups" = "$1" ]; }

if want unit; then
	for t in build/san/tests/test-*; do
		[ -x "$t" ] || continue
		CMOCKA_MESSAGE_OUTPUT=TAP run_one "unit/${t##*/}" "$t"
	done
fi
if want cli; then
	for t in tests/cli/t-*.sh; do
		[ -f "$t" ] || continue
		ELIVEPATCH="$top/build/san/elivepatch" run_one "cli/${t##*/}" sh "$t"
	done
fi
if want e2e; then
	for t in tests/e2e/t-*.sh; do
		[ -f "$t" ] || continue
		ELIVEPATCH="$top/build/elivepatch" run_one "e2e/${t##*/}" sh "$t"
	done
fi

if [ "$skipped" -ne 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
