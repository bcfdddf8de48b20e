#!/bin/sh
# Where the binary finds its data (include/elivepatch.h): $ELIVEPATCH_DATADIR,
# else ../data beside it when it runs from a build tree, else DATADIR; and a
# build names the directory when elivepatch.h is not there.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

top=$(pwd)
# a checkout: build/elivepatch, ./elivepatch -> build/elivepatch, data/
mkdir -p "$T/co/build" "$T/co/data/include"
cp "$ELP" "$T/co/build/elivepatch" || bail "copy the binary"
ln -s build/elivepatch "$T/co/elivepatch"
datadir() { env -u ELIVEPATCH_DATADIR "$@" -v --version | sed -n 's/^data directory: //p'; }

compiled=$(datadir "$T/co/build/elivepatch")
check "no data beside the binary: the compiled-in DATADIR ($compiled)" \
	sh -c 'case "$1" in /*) [ "${1#"$2"}" = "$1" ] ;; *) false ;; esac' - "$compiled" "$T"
cp "$top/data/include/elivepatch.h" "$T/co/data/include/"
check "data/include/elivepatch.h without data/schema is no build tree" \
	test "$(datadir "$T/co/build/elivepatch")" = "$compiled"
mkdir "$T/co/data/schema"
here=$(cd "$T/co/data" && pwd -P)
check "a build tree's data/ beside the binary" test "$(datadir "$T/co/build/elivepatch")" = "$here"
check "...also through the ./elivepatch symlink" test "$(datadir "$T/co/elivepatch")" = "$here"
check "...also from another directory" test "$(cd / && datadir "$T/co/elivepatch")" = "$here"
check "ELIVEPATCH_DATADIR comes first" \
	test "$(ELIVEPATCH_DATADIR=/opt/elp "$T/co/elivepatch" -v --version | sed -n 's/^data directory: //p')" = /opt/elp
check "--version alone is one line" test "$("$T/co/elivepatch" --version)" = "$("$ELP" --version)"
if [ -x "$top/build/elivepatch" ]; then
	check "this checkout's ./elivepatch uses its data/" test "$(datadir "$top/elivepatch")" = "$(cd "$top/data" && pwd -P)"
else
	skip "this checkout's ./elivepatch is not built (make)"
fi

# a build names where it looked for elivepatch.h (the fake tree then fails in the tree pass)
elp kernel add --release 6.1.0-57-amd64 --name k1 --source "$T/src" --config "$T/config" > /dev/null ||
	bail "kernel add"
printf -- '--- a/fs/proc/cmdline.c\n+++ b/fs/proc/cmdline.c\n@@ -1,4 +1,4 @@\n static int x(void)\n {\n-\treturn 0;\n+\treturn 1;\n }\n' > "$T/fix.patch"
rm -rf "$T/co/data"
env -u ELIVEPATCH_DATADIR ELIVEPATCH_CACHE="$T/cache" "$T/co/elivepatch" --db "$DB" build --kernel k1 \
	--patch "$T/fix.patch" --force-toolchain > /dev/null 2> "$T/err"
check "without elivepatch.h a build warns, naming the directory searched" \
	grep -q "^warning: no elivepatch.h in '$compiled/include' (set ELIVEPATCH_DATADIR" "$T/err"
mkdir -p "$T/co/data/include" "$T/co/data/schema"
cp "$top/data/include/elivepatch.h" "$T/co/data/include/"
env -u ELIVEPATCH_DATADIR ELIVEPATCH_CACHE="$T/cache" "$T/co/elivepatch" --db "$DB" build --kernel k1 \
	--patch "$T/fix.patch" --force-toolchain > /dev/null 2> "$T/err"
check "with the build tree's data/ it does not" sh -c '! grep -q "elivepatch.h" "$1"' - "$T/err"
check "...and the build got as far as the tree pass" grep -q "^error: build [0-9]* failed: make olddefconfig failed" "$T/err"

t_done
