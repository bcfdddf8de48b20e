#!/bin/sh
# tests/run.sh itself: a run where nothing ran, or where a file said nothing, fails; a
# cmocka skip ("not ok N # SKIP") is a skip; the last line stays "N passed, N failed".
. "$(dirname "$0")/../lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/elp-runner.XXXXXX")
trap 'rm -rf "$T"' EXIT

# runner NAME [VAR=VALUE...]: run tests/run.sh on the fake tests in $T/NAME; status in $rc,
# output in $T/NAME.out
runner() {
	_n=$1; shift
	env ELP_TEST_DIR="$T/$_n" ELP_TESTS=cli ELP_TEST_FILTER= "$@" \
		sh "$top/tests/run.sh" > "$T/$_n.out" 2>&1
	rc=$?
}
# fake NAME FILE BODY: a test file of the fake suite NAME
fake() {
	mkdir -p "$T/$1/cli" "$T/$1/unit"
	printf '%s\n' "$3" > "$T/$1/$2"
}
last() { tail -n 1 "$T/$1.out"; }
says() { # DESC NAME PATTERN
	if grep -q -- "$3" "$T/$2.out"; then ok "$1"; else
		not_ok "$1"; sed 's/^/#   /' "$T/$2.out"; fi
}

# the control: a suite that passes is reported as passing
fake good cli/t-a.sh 'echo "ok - one"; echo "ok - two"'
runner good
check "a passing suite exits 0 (status $rc)" [ "$rc" = 0 ]
check "... and ends with '2 passed, 0 failed'" [ "$(last good)" = "2 passed, 0 failed" ]

runner good ELP_TESTS=bogus
check "an unknown ELP_TESTS group fails (status $rc)" [ "$rc" != 0 ]
says "... naming the group" good "unknown test group ELP_TESTS='bogus'"
check "... and still ends with the count line" [ "$(last good)" = "0 passed, 1 failed" ]

runner good ELP_TEST_FILTER=no-such-test
check "a filter that matches nothing fails (status $rc)" [ "$rc" != 0 ]
says "... saying nothing matched" good "no test file matches"

fake silent cli/t-silent.sh 'exit 0'
runner silent
check "a file that prints no result and exits 0 fails (status $rc)" [ "$rc" != 0 ]
says "... naming the file" silent "cli/t-silent.sh printed no test result"

fake silent2 cli/t-a.sh 'echo "ok - one"'
fake silent2 cli/t-silent.sh 'echo "just talk"'
runner silent2
check "a silent file fails the run even when another passes (status $rc)" [ "$rc" != 0 ]
check "... counted as one failure" [ "$(last silent2)" = "1 passed, 1 failed" ]

fake died cli/t-died.sh 'echo "ok - one"; exit 3'
runner died
check "a file that dies after an ok fails (status $rc)" [ "$rc" != 0 ]
says "... with its status" died "cli/t-died.sh exited with status 3"

fake empty cli/README 'no tests here'
runner empty
check "a group with no test files fails (status $rc)" [ "$rc" != 0 ]
says "... saying so" empty "no cli tests found"

fake allskip cli/t-skip.sh 'echo "ok - # SKIP no tool"'
runner allskip
check "a run where everything was skipped fails (status $rc)" [ "$rc" != 0 ]

fake cmocka cli/t-cm.sh 'echo "ok 1 - a"; echo "not ok 2 - b # SKIP"; echo "ok 3 - # SKIP c"'
runner cmocka
check "a cmocka skip (not ok N, directive SKIP) is not a failure (status $rc)" [ "$rc" = 0 ]
check "... it is counted as a skip" [ "$(last cmocka)" = "1 passed, 0 failed, 2 skipped" ]

fake unit unit/test-gone.c 'int main(void) { return 0; }'
runner unit ELP_TESTS=unit
check "a unit test without its binary fails (status $rc)" [ "$rc" != 0 ]
says "... naming it" unit "unit test .*/test-gone is missing"
printf '#!/bin/sh\necho "ok 1 - fine"\n' > "$T/unit/unit/test-gone" && chmod +x "$T/unit/unit/test-gone"
runner unit ELP_TESTS=unit
check "... and passes once it is there (status $rc)" [ "$rc" = 0 ]
t_done
