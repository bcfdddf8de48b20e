#!/bin/sh
# Permissions: a new catalogue and its directory are 0600/0700 and a new cache 0700, whatever
# the umask; as root, elivepatch refuses a catalogue, cache, prepared tree, kernel source (or
# any file in it) or kernel build directory that another user could change (owned by a user
# other than root, or writable by every user), with the reason; another user's own files
# are theirs to use.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

mode() { stat -c %a "$1"; }
# expect DESC STATUS PATTERN COMMAND...: exit status and a line of stderr/stdout
expect() {
	_d=$1 _s=$2 _p=$3; shift 3
	"$@" > "$T/out" 2>&1
	_rc=$?
	if [ "$_rc" = "$_s" ] && grep -q -- "$_p" "$T/out"; then ok "$_d"; else
		not_ok "$_d (status $_rc)"; sed 's/^/#   /' "$T/out"; fi
}
# runs DESC COMMAND...: succeeds
runs() {
	_d=$1; shift
	if "$@" > "$T/out" 2>&1; then ok "$_d"; else not_ok "$_d"; sed 's/^/#   /' "$T/out"; fi
}

# --- modes of what elivepatch creates, under a permissive umask ----------------------------------
(umask 0 && "$ELP" --db "$T/new/state/catalogue.db" kernel add --release 6.1.0 --name k \
	--source "$T/src" --config "$T/config" > "$T/out" 2>&1)
check "a catalogue is created with umask 0" test -f "$T/new/state/catalogue.db"
check "... mode 0600" test "$(mode "$T/new/state/catalogue.db")" = 600
check "... its new directories 0700" test "$(mode "$T/new/state")$(mode "$T/new")" = 700700
mkdir -p "$T/existing" && chmod 755 "$T/existing"
(umask 0 && "$ELP" --db "$T/existing/c.db" kernel list > /dev/null 2>&1)
check "an existing directory keeps its mode" test "$(mode "$T/existing")" = 755
check "... the catalogue in it is 0600" test "$(mode "$T/existing/c.db")" = 600
"$ELP" --db "$T/new/state/catalogue.db" patch add "$(dirname "$0")/../../contrib/examples/cmdline.patch" > /dev/null 2>&1 ||
	bail "patch added"
(umask 0 && ELIVEPATCH_CACHE=$T/newcache/elp "$ELP" --db "$T/new/state/catalogue.db" \
	build --kernel k --patch cmdline > "$T/out" 2>&1)
check "a build creates its cache 0700 with umask 0" test "$(mode "$T/newcache/elp")" = 700

if [ "$(id -u)" != 0 ] || ! command -v setpriv > /dev/null; then
	skip "refusals as root (needs root and setpriv)"
	t_done
fi

# --- as root: what another user could change is refused ------------------------------------------
mkdir -p "$T/ww" && chmod 777 "$T/ww"
expect "a catalogue in a directory every user may write" 1 \
	"^error: refusing to use catalogue '$T/ww/c.db' as root: '$T/ww' is writable by every user (mode 0777)" \
	"$ELP" --db "$T/ww/c.db" kernel list
check "... is not created" test ! -e "$T/ww/c.db"
chmod 1777 "$T/ww"
runs "a sticky directory such as /tmp is fine" "$ELP" --db "$T/ww/c.db" kernel list
chmod 777 "$T/ww"
expect "... but not when it is not sticky" 1 "is writable by every user (mode 0777)" "$ELP" --db "$T/ww/c.db" kernel list
chmod 755 "$T/ww"
rm -f "$T/ww/c.db"*
"$ELP" --db "$T/theirs.db" kernel list > /dev/null 2>&1
chown 65534 "$T/theirs.db"
expect "a catalogue owned by another user" 1 \
	"^error: refusing to use catalogue '$T/theirs.db' as root: '$T/theirs.db' is owned by user nobody (uid 65534), not root" \
	"$ELP" --db "$T/theirs.db" kernel list
chown 0 "$T/theirs.db" && chmod 666 "$T/theirs.db"
expect "a catalogue every user may write" 1 \
	"'$T/theirs.db' is writable by every user (mode 0666)" "$ELP" --db "$T/theirs.db" history
ln -s "$T/new/state/catalogue.db" "$T/ww/link.db" && chown -h 65534 "$T/ww/link.db"
expect "a symlink to the catalogue planted by another user" 1 \
	"'$T/ww/link.db' is owned by user nobody (uid 65534), not root" "$ELP" --db "$T/ww/link.db" history
mkdir -p "$T/userdir" && chown 65534 "$T/userdir"
expect "a catalogue under another user's directory" 1 \
	"'$T/userdir' is owned by user nobody (uid 65534), not root" "$ELP" --db "$T/userdir/sub/c.db" history
# a non-root user is not root: their own directories are theirs
chmod 755 "$T"
cp "$ELP" "$T/elivepatch"
runs "another user uses a catalogue in their own directory" \
	setpriv --reuid 65534 --regid 65534 --clear-groups "$T/elivepatch" --db "$T/userdir/sub/c.db" history

# root's catalogue is root's: another user is told so, and how root can share it
"$ELP" --db "$T/rootcat/priv/c.db" kernel list > /dev/null 2>&1 || bail "root's catalogue created"
chmod 755 "$T/rootcat"
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$T/elivepatch" "$@"; }
expect "another user cannot read root's catalogue: says why and how to share it" 1 \
	"^error: cannot read catalogue '$T/rootcat/priv/c.db': Permission denied (it is its owner's only; to let other users read it: chmod 0755 its directory, chmod 0644 it)" \
	as_nobody --db "$T/rootcat/priv/c.db" history
chmod 755 "$T/rootcat/priv"
expect "... also when only the file is root's only" 1 \
	"^error: cannot read catalogue '$T/rootcat/priv/c.db': Permission denied" \
	as_nobody --db "$T/rootcat/priv/c.db" history
chmod 644 "$T/rootcat/priv/c.db"
runs "after chmod 0755 and 0644, another user reads its history" as_nobody --db "$T/rootcat/priv/c.db" history
check "... and nothing was written by them" test "$(stat -c %U "$T/rootcat/priv/c.db")" = root

# the cache, the prepared tree, the kernel source and build directory of a build
DB2=$T/new/state/catalogue.db
b() { "$ELP" --db "$DB2" build --kernel k --patch cmdline "$@"; }
before=$(sqlite3 "$DB2" 'SELECT count(*) FROM builds')
mkdir -p "$T/wwcache" && chmod 777 "$T/wwcache"
expect "a cache every user may write" 1 \
	"^error: refusing to use cache '$T/wwcache' as root: '$T/wwcache' is writable by every user (mode 0777)" \
	env ELIVEPATCH_CACHE="$T/wwcache" "$ELP" --db "$DB2" build --kernel k --patch cmdline
check "... no build recorded" test "$(sqlite3 "$DB2" 'SELECT count(*) FROM builds')" = "$before"
chown 65534 "$T/wwcache" && chmod 700 "$T/wwcache"
expect "a cache owned by another user" 1 \
	"'$T/wwcache' is owned by user nobody (uid 65534), not root" \
	env ELIVEPATCH_CACHE="$T/wwcache" "$ELP" --db "$DB2" build --kernel k --patch cmdline
# a failed build leaves no tree: make one where the next build would prepare it
lock=$(ls "$T"/newcache/elp/trees/*.lock 2> /dev/null | head -n1)
if [ -n "$lock" ]; then
	tree=${lock%.lock}/linux
	mkdir -p "$tree" && chmod 777 "$tree"
	expect "a prepared tree every user may write" 1 \
		"refusing to use prepared tree '$tree' as root: '$tree' is writable by every user (mode 0777)" \
		env ELIVEPATCH_CACHE="$T/newcache/elp" "$ELP" --db "$DB2" build --kernel k --patch cmdline --rebuild
	check "... the build is recorded as failed with the reason" test \
		"$(sqlite3 "$DB2" "SELECT status FROM builds WHERE reason LIKE '%writable by every user%' ORDER BY id DESC LIMIT 1")" = failed
	chmod 755 "$tree"
else
	not_ok "the first build used a tree under $T/newcache/elp/trees"
fi
chown -R 65534 "$T/src"
expect "a kernel source directory owned by another user" 1 \
	"refusing to use kernel source '$T/src' as root: '$T/src' is owned by user nobody (uid 65534), not root" \
	env ELIVEPATCH_CACHE="$T/newcache/elp" "$ELP" --db "$DB2" build --kernel k --patch cmdline --rebuild
chown -R 0 "$T/src"
chmod 666 "$T/src/fs/proc/cmdline.c"
expect "a kernel source with a file every user may write" 1 \
	"refusing to use kernel source '$T/src' as root: '$T/src/fs/proc/cmdline.c' is writable by every user (mode 0666)" \
	env ELIVEPATCH_CACHE="$T/newcache/elp" "$ELP" --db "$DB2" build --kernel k --patch cmdline --rebuild
chmod 644 "$T/src/fs/proc/cmdline.c"
chown 65534 "$T/src/fs/proc"
expect "... or a directory in it owned by another user" 1 \
	"refusing to use kernel source '$T/src' as root: '$T/src/fs/proc' is owned by user nobody (uid 65534), not root" \
	env ELIVEPATCH_CACHE="$T/newcache/elp" "$ELP" --db "$DB2" build --kernel k --patch cmdline --rebuild
chown 0 "$T/src/fs/proc"
mkdir -p "$T/kbuild" && chmod 777 "$T/kbuild"
sqlite3 "$DB2" "UPDATE kernels SET build_dir = '$T/kbuild'"
expect "a kernel build directory every user may write" 1 \
	"refusing to use kernel build directory '$T/kbuild' as root: '$T/kbuild' is writable by every user (mode 0777)" \
	env ELIVEPATCH_CACHE="$T/newcache/elp" "$ELP" --db "$DB2" build --kernel k --patch cmdline --rebuild
t_done
