#!/bin/sh
# The catalogue file itself: creation, schema version, WAL, bad files.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

elp kernel list > "$T/out" 2>&1
check "a new catalogue is created on first use" test -s "$DB"
check "schema version is recorded in user_version" \
	test "$(sqlite3 "$DB" 'PRAGMA user_version')" -ge 1
check "the catalogue is in WAL mode" \
	test "$(sqlite3 "$DB" 'PRAGMA journal_mode')" = wal
check "all tables exist" test "$(sqlite3 "$DB" "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('kernels','toolchains','patches','patch_files','patch_cves','kernel_patches','builds','build_patches','events','jobs')")" = 10

mkdir -p "$T/nested/dir"
"$ELP" --db "$T/nested/dir/deeper/c.db" kernel list > /dev/null 2>&1
check "missing parent directories are created" test -f "$T/nested/dir/deeper/c.db"

echo "this is not sqlite, just text that is long enough to be a header....." > "$T/notdb"
cp "$T/notdb" "$T/notdb.orig"
"$ELP" --db "$T/notdb" kernel list > "$T/out" 2>&1
rc=$?
check "a file that is not SQLite is refused" test "$rc" -ne 0
check "...with an error naming it" grep -q "catalogue '$T/notdb'.*not a database" "$T/out"
check "...and left untouched" cmp -s "$T/notdb" "$T/notdb.orig"

"$ELP" --db "$T" kernel list > "$T/out" 2>&1
check "a directory as catalogue is refused" test $? -ne 0
check "...naming it" grep -q "cannot open catalogue '$T': is a directory" "$T/out"

version=$(sqlite3 "$DB" 'PRAGMA user_version')
sqlite3 "$DB" 'PRAGMA user_version = 99'
elp kernel list > "$T/out" 2>&1
check "a newer schema is refused" test $? -ne 0
check "...with a clear error" grep -q "schema version 99, newer than this elivepatch knows" "$T/out"
sqlite3 "$DB" "PRAGMA user_version = $version"

# an old catalogue is migrated one version at a time
sqlite3 "$T/old.db" < data/schema/001-initial.sql && sqlite3 "$T/old.db" 'PRAGMA user_version = 1'
"$ELP" --db "$T/old.db" kernel list > /dev/null 2>&1
check "an older catalogue is migrated to the current schema" \
	test "$(sqlite3 "$T/old.db" 'PRAGMA user_version')" = "$version"
check "...with the later migrations' columns" \
	sqlite3 "$T/old.db" 'SELECT image_path FROM kernels'

if [ "$(id -u)" = 0 ]; then
	# root ignores file modes: test read-only through a read-only bind
	# is not portable; use chattr +i where the filesystem supports it
	if chattr +i "$DB" 2>/dev/null; then
		before=$(dump)
		elp kernel add --release 1 --source "$T/src" --config "$T/config" > "$T/out" 2>&1
		check "a read-only catalogue refuses writes" test $? -ne 0
		check "...saying it is read-only" grep -q "read-only\|readonly" "$T/out"
		elp kernel list > /dev/null 2>&1
		check "a read-only catalogue still answers queries" test $? -eq 0
		chattr -i "$DB"
		check "...and is unchanged" test "$(dump)" = "$before"
	else
		skip "read-only catalogue (chattr unsupported here)"
	fi
else
	chmod a-w "$DB"
	elp kernel add --release 1 --source "$T/src" --config "$T/config" > "$T/out" 2>&1
	check "a read-only catalogue refuses writes" test $? -ne 0
	check "...saying it is read-only" grep -q "read-only" "$T/out"
	chmod u+w "$DB"
fi

ELIVEPATCH_DB="$T/env.db" "$ELP" kernel list > /dev/null 2>&1
check "ELIVEPATCH_DB chooses the catalogue" test -f "$T/env.db"
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$T"
	cp "$ELP" "$T/elivepatch" # the build tree may not be readable by nobody
	mkdir -p "$T/state" && chmod 777 "$T/state"
	env -u ELIVEPATCH_DB HOME="$T/home" XDG_STATE_HOME="$T/state" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$T/elivepatch" kernel list > "$T/out" 2>&1
	check "a non-root user's default is \$XDG_STATE_HOME/elivepatch/catalogue.db" \
		test -f "$T/state/elivepatch/catalogue.db"
	# root's catalogue (WAL, no -shm left) is readable by other users
	elp kernel add --release 6.1.0-57-amd64 --source "$T/src" --config "$T/config" > /dev/null 2>&1
	chmod 644 "$DB"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$T/elivepatch" --db "$DB" kernel list > "$T/out" 2>&1
	check "another user can read root's catalogue" grep -q "6.1.0-57-amd64" "$T/out"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$T/elivepatch" --db "$DB" kernel remove 6.1.0-57-amd64 > "$T/out" 2>&1
	check "...but not write it" grep -q "catalogue '$DB' is read-only" "$T/out"
else
	skip "another user's default catalogue and access to root's (needs root for setpriv)"
fi

t_done
