#!/bin/sh
# Every command: a usage line naming the whole command once (like git), and
# a stray positional argument is a usage error (129) that changes nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

commands='kernel detect
kernel add
kernel list
kernel show
kernel remove
kernel patch add
toolchain detect
toolchain add
toolchain list
toolchain check
patch add
patch list
patch show
patch remove
build
build list
build show
history
apply
revert
status
verify
sign
builder serve
builder prune'

echo "$commands" | while read -r cmd; do
	# shellcheck disable=SC2086 # the command's words
	elp $cmd --help > "$T/out" 2>&1
	check "$cmd --help exits 0" test $? -eq 0
	check "$cmd --help: first line 'usage: elivepatch $cmd'" \
		sh -c 'head -n 1 "$1" | grep -q "^usage: elivepatch $2\( \|$\)"' - "$T/out" "$cmd"
	check "$cmd --help: -h, --help shown once" test "$(grep -c -- '--help' "$T/out")" = 1
	check "$cmd --help: no popt 'Usage:' line" sh -c '! grep -q "Usage:" "$1"' - "$T/out"
	# shellcheck disable=SC2086
	elp help $cmd > "$T/out2" 2>&1
	check "help $cmd is $cmd --help" cmp -s "$T/out" "$T/out2"
done

elp kernel add --release 6.1.0-57-amd64 --name k1 --source "$T/src" --config "$T/config" > /dev/null ||
	bail "kernel add"
printf -- '--- a/fs/proc/cmdline.c\n+++ b/fs/proc/cmdline.c\n@@ -1,4 +1,4 @@\n static int x(void)\n {\n-\treturn 0;\n+\treturn 1;\n }\n' > "$T/fix.patch"
elp patch add "$T/fix.patch" > /dev/null || bail "patch add"
before=$(dump)

# stray COMMAND...: exit 129, "unexpected argument 'stray'", a usage line naming the command
stray() {
	_cmd=$1; shift
	elp "$@" > "$T/out" 2> "$T/err"
	_rc=$?
	check "$*: usage error (got $_rc)" test "$_rc" = 129
	check "$*: names the stray word" grep -q "^error: unexpected argument 'stray'" "$T/err"
	check "$*: then its usage line" grep -q "^usage: elivepatch $_cmd\( \|$\)" "$T/err"
	check "$*: prints nothing on stdout" test ! -s "$T/out"
}
stray "kernel detect" kernel detect stray
stray "kernel list" kernel list stray
stray "kernel show" kernel show k1 stray
stray "kernel remove" kernel remove k1 stray
stray "kernel add" kernel add --release r --source "$T/src" --config "$T/config" stray
stray "toolchain detect" toolchain detect stray
stray "toolchain list" toolchain list stray
stray "toolchain add" toolchain add --cc /bin/true stray
stray "toolchain check" toolchain check k1 stray
stray "patch add" patch add "$T/fix.patch" stray
stray "patch list" patch list stray
stray "builder serve" builder serve stray
stray "builder prune" builder prune stray
stray "patch show" patch show fix stray
stray "patch remove" patch remove fix stray
stray "build list" build list stray
stray "build show" build show 1 stray
stray "build" build --patch fix stray
stray "build" build --kernel k1 --patch fix stray
stray "history" history stray
stray "apply" apply 1 stray
stray "revert" revert elp_fix stray
stray "status" status elp_fix stray
stray "verify" verify 1 stray
stray "sign" sign 1 stray
check "no stray argument changed the catalogue" test "$(dump)" = "$before"

# the issue's own cases: 'list' after build options is not a patch and not a kernel to resolve
elp build --patch fix list > "$T/out" 2> "$T/err"
check "build --patch fix list: usage error" test $? = 129
check "...before resolving the running kernel" sh -c '! grep -q "running kernel" "$1"' - "$T/err"
check "...and says where subcommands go" grep -q "'list' and 'show' come right after 'build'" "$T/err"
elp build fix > "$T/out" 2> "$T/err"
check "build WORD that is no subcommand: usage error" test $? = 129
check "...suggesting --patch" grep -q "^error: 'fix' is not an 'elivepatch build' subcommand (list, show); to build a patch: elivepatch build --patch fix$" "$T/err"
elp build > "$T/out" 2> "$T/err"
check "build without a patch: usage error" test $? = 129
check "...saying so" grep -q "^error: no patch given; use --patch PATCH" "$T/err"
elp build list > "$T/out" 2> "$T/err"
check "build list on an empty catalogue: exit 0, no rows" test $? = 0 -a ! -s "$T/out"

# the missing positional is named from the usage line
elp build show > "$T/out" 2> "$T/err"
check "build show without an id: usage error" test $? = 129
check "...naming it" grep -q "^error: missing argument: ID$" "$T/err"
elp kernel list --bogus > "$T/out" 2> "$T/err"
check "an unknown option: usage error" test $? = 129
check "...naming the option, then the usage line" test "$(cat "$T/err")" = "$(printf "error: --bogus: unknown option\nusage: elivepatch kernel list")"
elp kernel bogus > "$T/out" 2> "$T/err"
check "an unknown subcommand: usage error" test $? = 129
check "...naming it and the help" grep -q "^error: 'bogus' is not an 'elivepatch kernel' subcommand; see 'elivepatch kernel --help'$" "$T/err"

t_done
