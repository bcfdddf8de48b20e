#!/bin/sh
# Run the test suite: cmocka unit tests (sanitizer build), black-box CLI
# tests and the qemu end-to-end tests.  Every test prints TAP lines; this
# counts them and ends with "N passed, N failed".
#   ELP_TESTS=unit|cli|e2e|all (default all)   which groups to run
#   ELP_TEST_FILTER=PATTERN                      only test files matching
#   ELP_TEST_DIR=DIR                             the tests' top directory
#                                                (default tests/; the runner's
#                                                own test points it elsewhere)
# A run fails when a test fails, when a file prints no result at all, when a
# file dies without naming the failed assertion, when a group is unknown or
# its tests are missing, and when nothing ran.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
tdir=${ELP_TEST_DIR:-$top/tests}
# the tests run the binaries from the build tree: use its data/, not an install
ELIVEPATCH_DATADIR=$top/data
export ELIVEPATCH_DATADIR
# third-party leaks the sanitizer builds would otherwise fail on (tests/lsan.supp)
LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}
export LSAN_OPTIONS
groups=${ELP_TESTS:-all}
filter=${ELP_TEST_FILTER:-}
passed=0 failed=0 skipped=0 files=0
out=$(mktemp -d "${TMPDIR:-/tmp}/elp-tests.XXXXXX")
trap 'rm -rf "$out"' EXIT

case $groups in
unit | cli | e2e | all) ;;
*)
	echo "not ok - unknown test group ELP_TESTS='$groups' (unit, cli, e2e or all)"
	echo "0 passed, 1 failed"
	exit 1
	;;
esac

# runner_fail WHAT: a failure of the run itself, not of a test file
runner_fail() {
	echo "not ok - $*"
	failed=$((failed + 1))
}

run_one() { # NAME COMMAND...
	name=$1; shift
	case "$name" in *"$filter"*) ;; *) return ;; esac
	files=$((files + 1))
	start=$(date +%s)
	"$@" > "$out/log" 2>&1
	status=$?
	# cmocka's TAP marks a skipped test "not ok N # SKIP": a skip, not a failure
	s=$(grep -Ec '^(not )?ok .*# SKIP' "$out/log")
	p=$(grep '^ok ' "$out/log" | grep -vc '# SKIP')
	f=$(grep '^not ok ' "$out/log" | grep -vc '# SKIP')
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		# died without saying which assertion failed
		echo "not ok - $name exited with status $status" >> "$out/log"
		f=1
	elif [ $((p + f + s)) -eq 0 ]; then
		echo "not ok - $name printed no test result" >> "$out/log"
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

# group_files GROUP GLOB...: the existing files, or a failure when there is none
group_files() {
	_g=$1; shift
	_n=0
	for _f in "$@"; do
		[ -f "$_f" ] || continue
		_n=$((_n + 1))
	done
	[ "$_n" -gt 0 ] && return 0
	runner_fail "no $_g tests found ($*)"
	return 1
}

if want unit; then
	# one cmocka binary per tests/unit/test-*.c: a missing one is a failure
	bindir=$top/build/san/tests
	[ "$tdir" = "$top/tests" ] || bindir=$tdir/unit
	set -- "$tdir"/unit/test-*.c
	if group_files unit "$@"; then
		for src in "$@"; do
			b=${src##*/}; b=${b%.c}
			case "unit/$b" in *"$filter"*) ;; *) continue ;; esac
			if [ ! -x "$bindir/$b" ]; then
				runner_fail "unit test $bindir/$b is missing (make san)"
				continue
			fi
			CMOCKA_MESSAGE_OUTPUT=TAP run_one "unit/$b" "$bindir/$b"
		done
	fi
fi
if want cli; then
	set -- "$tdir"/cli/t-*.sh
	if group_files cli "$@"; then
		for t in "$@"; do
			ELIVEPATCH="$top/build/san/elivepatch" run_one "cli/${t##*/}" sh "$t"
		done
	fi
fi
if want e2e; then
	set -- "$tdir"/e2e/t-*.sh
	if group_files e2e "$@"; then
		for t in "$@"; do
			ELIVEPATCH="$top/build/elivepatch" run_one "e2e/${t##*/}" sh "$t"
		done
	fi
fi
if [ "$files" -eq 0 ]; then
	runner_fail "no test file matches ELP_TESTS='$groups' ELP_TEST_FILTER='$filter'"
elif [ $((passed + failed)) -eq 0 ]; then
	runner_fail "no test passed or failed: everything was skipped"
fi

if [ "$skipped" -ne 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
