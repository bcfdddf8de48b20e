# Shared helpers for shell tests. Every test prints TAP lines
# ("ok - what", "not ok - what"); tests/run.sh counts them.
# shellcheck shell=sh

_t_failed=0

ok() { printf 'ok - %s\n' "$*"; }
not_ok() { printf 'not ok - %s\n' "$*"; _t_failed=1; }
skip() { printf 'ok - # SKIP %s\n' "$*"; }

# check DESCRIPTION COMMAND...: one TAP line from a command's exit status
check() {
	_desc=$1; shift
	if "$@"; then ok "$_desc"; else not_ok "$_desc"; fi
}

# bail: a precondition failed; count it as a failure and stop this test file
bail() { not_ok "$*"; exit 1; }

t_done() { exit "$_t_failed"; }
