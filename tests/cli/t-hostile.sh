#!/bin/sh
# Hostile and malformed input: patches that climb out of the tree, absolute
# paths, symbolic links pointing outside, binary hunks, gigantic hunks and
# lines; configurations with gigantic lines; a truncated catalogue; a
# kernel tree that is a symlink loop.  Each is a clear error naming the
# input (or, for a large but sane hunk, accepted), never a crash (the
# sanitizer build), and writes nothing: the catalogue is unchanged and no
# file appears outside the cache.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

unset ELIVEPATCH_CONFIG ELIVEPATCH_ROOT
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE
H=$T/hostile
mkdir -p "$H"
elp kernel list > /dev/null
before=$(dump)
# a marker of the time: nothing outside the cache may be newer
touch "$T/.start"
sleep 1

refused() { # FILE MESSAGE: patch add FILE fails (exit 1) with MESSAGE, writes nothing
	elp patch add "$H/$1" > "$T/out" 2>&1
	rc=$?
	check "$1: refused (exit 1)" test $rc -eq 1
	check "...saying: $2" grep -qF "$2" "$T/out"
	check "...the catalogue is unchanged" test "$before" = "$(dump)"
}

printf -- '--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n' > "$H/dotdot.patch"
refused dotdot.patch "dotdot.patch:1: unsafe path '../../etc/passwd'"
printf 'diff --git a/x/../../y b/x/../../y\n--- a/x/../../y\n+++ b/x/../../y\n@@ -1 +1 @@\n-a\n+b\n' > "$H/gitdotdot.patch"
refused gitdotdot.patch "gitdotdot.patch:1: unsafe path 'x/../../y'"
printf -- '--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n' > "$H/absolute.patch"
refused absolute.patch "absolute.patch:1: absolute path '/etc/passwd'"
printf 'diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/shadow\n\\ No newline at end of file\n' > "$H/symlink.patch"
refused symlink.patch "symlink.patch:6: symbolic link 'link' would point outside the tree ('/etc/shadow')"
printf 'diff --git a/a/b/l b/a/b/l\nnew file mode 120000\n--- /dev/null\n+++ b/a/b/l\n@@ -0,0 +1 @@\n+../../../etc\n\\ No newline at end of file\n' > "$H/uplink.patch"
refused uplink.patch "symbolic link 'a/b/l' would point outside the tree ('../../../etc')"
printf 'diff --git a/x.bin b/x.bin\nindex 1..2 100644\nGIT binary patch\nliteral 4\nLcmZQzWMO0g0001\n\nliteral 0\nHcmV?d00001\n\n' > "$H/binary.patch"
refused binary.patch "binary.patch:2:"
printf 'diff --git a/x.bin b/x.bin\nBinary files a/x.bin and b/x.bin differ\n' > "$H/binary-differ.patch"
refused binary-differ.patch "binary-differ.patch:2:"
printf 'diff --git a/x.bin b/x.bin\nindex 1..2 100644\nGIT binary patch\nliteral 4\nLcmZQzWMO0g0001' > "$H/binary-cut.patch"
refused binary-cut.patch "binary-cut.patch:"
awk 'BEGIN { printf "--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-a\n+"; for (i = 0; i < 1100000; i++) printf "x"; printf "\n" }' > "$H/long-line.patch"
refused long-line.patch "long-line.patch:5: line longer than 1 MiB"
awk 'BEGIN { printf "--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-a\n"; for (i = 0; i < 70; i++) { printf "+"; for (j = 0; j < 1000000; j++) printf "x"; printf "\n" } }' > "$H/huge.patch"
refused huge.patch "huge.patch:1: 70000"
# found by make fuzz: libgit2 leaks the first of two 'rename from' lines
printf 'diff --git a/old.c b/new.c\nsimilarity index 90%%\nrename from old.c\nrename to new.c\nrename from other.c\n' > "$H/two-renames.patch"
refused two-renames.patch "two-renames.patch:5: 'rename from': the file header already names its source"
printf -- '--- a/f.c\n+++ b/f.c\n@@ -1,999999999 +1,999999999 @@\n-a\n+b\n' > "$H/lying-counts.patch"
refused lying-counts.patch "lying-counts.patch:"
printf 'From x\nSubject: [PATCH] x\n\n\000binary\n' > "$H/nul.patch"
refused nul.patch "nul.patch:4: binary data (NUL byte), not a patch"

# a gigantic but well-formed hunk is a patch: accepted, in one piece
awk 'BEGIN { n = 20000; printf "--- a/fs/proc/cmdline.c\n+++ b/fs/proc/cmdline.c\n@@ -1,%d +1,%d @@\n", n, n; for (i = 0; i < n; i++) printf "-l%d\n+m%d\n", i, i }' > "$H/big-hunk.patch"
elp patch add "$H/big-hunk.patch" > "$T/out" 2>&1
check "a 20000-line hunk is accepted" test $? -eq 0
check "...with its counts" test "$(sqlite3 "$DB" "SELECT additions || ' ' || deletions FROM patch_files")" = "20000 20000"
elp patch remove big-hunk > /dev/null 2>&1
before=$(dump)

# ---- configurations ----
awk 'BEGIN { printf "cache-dir = "; for (i = 0; i < 2000000; i++) printf "x"; printf "\n" }' > "$H/long.conf"
elp --config "$H/long.conf" kernel list > "$T/out" 2>&1
check "elivepatch.conf with a 2 MB line: an error" test $? -ne 0
check "...naming the file and line" grep -q "$H/long.conf:1:" "$T/out"
printf 'catalogue = /x\n\000\n' > "$H/nul.conf"
elp --config "$H/nul.conf" kernel list > "$T/out" 2>&1
check "elivepatch.conf with a NUL byte: an error naming it" grep -q "$H/nul.conf" "$T/out"
{ cat "$T/config"; awk 'BEGIN { printf "CONFIG_HUGE=\""; for (i = 0; i < 3000000; i++) printf "x"; printf "\"\n" }'; } > "$H/huge.config"
elp kernel add --release 6.1.0 --name huge --source "$T/src" --config "$H/huge.config" > "$T/out" 2>&1
rc=$?
check "a kernel .config with a 3 MB line: no crash (exit 0 or 1)" test $rc -le 1
check "...a clear answer" test -s "$T/out"
elp kernel remove huge > /dev/null 2>&1
before=$(dump)

# ---- a kernel tree that is a symlink loop ----
ln -s "$H/loop-b" "$H/loop-a"
ln -s "$H/loop-a" "$H/loop-b"
elp kernel add --release 6.1.0 --name loop --source "$H/loop-a" --config "$T/config" > "$T/out" 2>&1
check "a kernel source that is a symlink loop: refused (exit 1)" test $? -eq 1
check "...naming it" grep -q "$H/loop-a" "$T/out"
check "...the catalogue is unchanged" test "$before" = "$(dump)"

# ---- a truncated catalogue ----
cp "$DB" "$H/trunc.db"
sqlite3 "$H/trunc.db" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
size=$(stat -c %s "$H/trunc.db")
truncate -s $((size / 2)) "$H/trunc.db"
"$ELP" --db "$H/trunc.db" kernel list > "$T/out" 2>&1
rc=$?
check "a truncated catalogue: an error (exit 1), no crash" test $rc -eq 1
check "...naming the catalogue" grep -q "$H/trunc.db" "$T/out"
printf 'not a database at all, just text\n' > "$H/text.db"
"$ELP" --db "$H/text.db" kernel list > "$T/out" 2>&1
check "a file that is not a catalogue: an error (exit 1)" test $? -eq 1
check "...naming it" grep -q "$H/text.db" "$T/out"

# nothing anywhere under the test's root but the cache, the catalogue and our inputs changed
new=$(find "$T" -newer "$T/.start" ! -path "$T/cache*" ! -path "$H*" ! -path "$DB*" ! -name out ! -path "$T")
check "nothing was written outside the cache ($new)" test -z "$new"
t_done
