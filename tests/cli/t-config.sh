#!/bin/sh
# elivepatch.conf: format, errors naming file and line, and the precedence
# command line > environment > file > defaults.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

unset ELIVEPATCH_DB ELIVEPATCH_CACHE ELIVEPATCH_CONFIG
conf=$T/elivepatch.conf
add_kernel() { # NAME [ELIVEPATCH ARGS...]: a kernel add without --db
	_name=$1; shift
	"$ELP" "$@" kernel add --release 6.6.30-gentoo --name "$_name" \
		--source "$T/src" --config "$T/config" > /dev/null
}
names() { sqlite3 "$1" 'SELECT name FROM kernels ORDER BY id' 2>/dev/null | tr '\n' ' '; }

cat > "$conf" <<CONF
# a comment, a blank line, blanks around keys and values

   catalogue   =   $T/from-file.db
	# an indented comment
patch-overlay = my-livepatches
auto-apply = no
sandbox = no
builders =
CONF
ELIVEPATCH_CONFIG=$conf add_kernel k1
check "ELIVEPATCH_CONFIG names the file; its catalogue is used" test "$(names "$T/from-file.db")" = "k1 "
add_kernel k2 --config "$conf"
check "--config names the file" test "$(names "$T/from-file.db")" = "k1 k2 "
ELIVEPATCH_CONFIG=$conf ELIVEPATCH_DB=$T/from-env.db add_kernel k3
check "the environment beats the file" test "$(names "$T/from-env.db")" = "k3 "
ELIVEPATCH_CONFIG=$conf ELIVEPATCH_DB=$T/from-env.db add_kernel k4 --db "$T/from-arg.db"
check "the command line beats the environment" test "$(names "$T/from-arg.db")" = "k4 "
check "...and nothing else was written" test "$(names "$T/from-file.db")$(names "$T/from-env.db")" = "k1 k2 k3 "
printf 'catalogue = %s\n' "$T/other.db" > "$T/other.conf"
ELIVEPATCH_CONFIG=$conf add_kernel k5 --config "$T/other.conf"
check "--config beats ELIVEPATCH_CONFIG" test "$(names "$T/other.db")" = "k5 "

# cache-dir reaches the build library as ELIVEPATCH_CACHE does: a build of
# the fake tree fails, and its log is under the configured cache
printf 'cache-dir = %s\n' "$T/cache" > "$T/cache.conf"
elp patch add "$(dirname "$0")/../../contrib/examples/cmdline.patch" > /dev/null
elp kernel add --release 6.6.30-gentoo --name kc --source "$T/src" --config "$T/config" > /dev/null
"$ELP" --config "$T/cache.conf" --db "$DB" build --kernel kc --patch cmdline --force-toolchain > "$T/out" 2>&1
check "cache-dir is where builds go" grep -q "log: $T/cache/" "$T/out"
ELIVEPATCH_CACHE=$T/cache-env "$ELP" --config "$T/cache.conf" --db "$DB" build --kernel kc --patch cmdline --force-toolchain > "$T/out" 2>&1
check "...unless ELIVEPATCH_CACHE says otherwise" grep -q "log: $T/cache-env/" "$T/out"

check "the installed default (all commented out) parses" \
	"$ELP" --config "$(dirname "$0")/../../data/elivepatch.conf" --db "$DB" kernel list

# errors: file and line, every bad line, and the command does not run
cat > "$T/bad.conf" <<CONF
# line 1
catalogue = $T/never.db
foo = 1
catalogue = $T/again.db
no equals sign here
cache-dir = relative/path
sandbox = maybe
auto-apply = sometimes
builders = host1 host2
patch-overlay = two words
CONF
"$ELP" --config "$T/bad.conf" kernel list > "$T/out" 2>&1
check "a bad file fails the command (exit 1)" test $? -eq 1
check "an unknown key names file and line" grep -qx "error: $T/bad.conf:3: unknown key 'foo'" "$T/out"
check "a key set twice" grep -qx "error: $T/bad.conf:4: 'catalogue' is already set on line 2" "$T/out"
check "a line without =" grep -qx "error: $T/bad.conf:5: expected 'key = value', got 'no equals sign here'" "$T/out"
check "a relative path" grep -qx "error: $T/bad.conf:6: cache-dir 'relative/path' must be an absolute path" "$T/out"
check "yes/no" grep -qx "error: $T/bad.conf:7: sandbox 'maybe' must be 'yes' or 'no'" "$T/out"
check "auto-apply is yes or no" grep -qx "error: $T/bad.conf:8: auto-apply 'sometimes' must be 'yes' or 'no'" "$T/out"
check "builders are ssh URLs" grep -qx "error: $T/bad.conf:9: builders 'host1 host2' must be ssh://\[user@\]host\[:port\]\[/path\] URLs" "$T/out"
check "patch-overlay is one name" grep -qx "error: $T/bad.conf:10: patch-overlay 'two words' must be one repository name" "$T/out"
check "nothing else is said" test "$(wc -l < "$T/out")" -eq 8
check "the catalogue of a bad file is not created" test ! -e "$T/never.db"

ELIVEPATCH_CONFIG=$T/missing.conf "$ELP" --db "$DB" kernel list > "$T/out" 2>&1
check "a named file that is missing is an error" test $? -eq 1
check "...saying which" grep -qx "error: cannot read configuration '$T/missing.conf': No such file or directory" "$T/out"
"$ELP" --config "$T/missing.conf" --db "$DB" kernel list > /dev/null 2>&1
check "...also with --config" test $? -eq 1
"$ELP" --config > /dev/null 2>&1
check "--config without a file is a usage error" test $? -eq 129

t_done
