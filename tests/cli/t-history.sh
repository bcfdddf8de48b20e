#!/bin/sh
# elivepatch history: filters by kernel, patch, CVE, time; table and JSON.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

elp kernel add --release 6.1.0-57-amd64 --name k1 --source "$T/src" --config "$T/config" > /dev/null
elp kernel add --release 6.6.30-gentoo --name k2 --source "$T/src" --config "$T/config" > /dev/null
# builds and their patches, as the build command records them
sqlite3 "$DB" <<'SQL'
INSERT INTO patches (id, name, kind, sha256, content, created_at) VALUES
 (10, 'fix-a', 'livepatch', 'aa', 'x', 1), (11, 'fix-b', 'livepatch', 'bb', 'y', 1);
INSERT INTO patch_cves VALUES (10, 'CVE-2024-1086'), (11, 'CVE-2023-0001');
INSERT INTO builds (id, kernel_id, kernel_release, module_name, inputs_sha256, status, created_at)
 VALUES (5, 1, '6.1.0-57-amd64', 'elp_fix_a', 'h1', 'succeeded', 1700000000),
        (6, 2, '6.6.30-gentoo', 'elp_fix_b', 'h2', 'succeeded', 1700000100);
INSERT INTO build_patches VALUES (5, 1, 10), (6, 1, 10), (6, 2, 11);
INSERT INTO events (time, kind, kernel_id, kernel_release, build_id, module, host) VALUES
 (1700000000, 'build', 1, '6.1.0-57-amd64', 5, 'elp_fix_a', 'h'),
 (1700086400, 'apply', 1, '6.1.0-57-amd64', 5, 'elp_fix_a', 'h'),
 (1700172800, 'build', 2, '6.6.30-gentoo', 6, 'elp_fix_b', 'h'),
 (1700259200, 'revert', 1, '6.1.0-57-amd64', 5, 'elp_fix_a', 'h');
SQL

count() { elp history "$@" | grep -c . ; }
check "history lists every event (2 kernel-add + 4)" test "$(count)" = 6
check "--kernel by name" test "$(count --kernel k1)" = 4
check "--kernel by release" test "$(count --kernel 6.6.30-gentoo)" = 2
check "--patch through the build's patches" test "$(count --patch fix-b)" = 1
check "--patch matches every build that carries it" test "$(count --patch fix-a)" = 4
check "--cve" test "$(count --cve CVE-2023-0001)" = 1
check "--cve is case-insensitive" test "$(count --cve cve-2024-1086)" = 4
check "--event" test "$(count --event build)" = 2
check "--since a date" test "$(count --since 2023-11-16 --until 2023-11-17)" = 1
check "--since @epoch" test "$(count --since @1700259200 --until @1700259200)" = 1
check "--limit" test "$(count --limit 2)" = 2

elp history --kernel k1 --event apply > "$T/out"
check "a row shows time, event, kernel, build, module, patches, CVEs" \
	test "$(cat "$T/out")" = "$(printf '2023-11-15 22:13:20\tapply\t6.1.0-57-amd64\t5\telp_fix_a\tfix-a\tCVE-2024-1086\t')"

elp --json history --kernel 6.6.30-gentoo --event build > "$T/out"
check "--json is one array of stable objects" \
	test "$(tr -d '\n' < "$T/out")" = '[{"id":5,"time":"2023-11-16T22:13:20Z","timestamp":1700172800,"event":"build","kernel":"6.6.30-gentoo","build":6,"module":"elp_fix_b","patches":["fix-a","fix-b"],"cves":["CVE-2023-0001","CVE-2024-1086"],"host":"h","detail":null}]'
elp --json history --cve CVE-1999-0000 > "$T/out"
check "--json with no match is an empty array" test "$(cat "$T/out")" = "[]"

elp history --since yesterday-ish > "$T/out" 2>&1
check "an unparseable time is a usage error (129)" test $? -eq 129
check "...naming the input" grep -q "invalid --since 'yesterday-ish'" "$T/out"
elp history --since "2 days ago" > /dev/null 2>&1
check "relative times are accepted" test $? -eq 0

# a failing stdout is an error, not silence
if [ -w /dev/full ]; then
	elp history > /dev/full 2> "$T/err"
	check "a write error on stdout exits non-zero" test $? -ne 0
	check "...and says so" grep -q "cannot write to standard output" "$T/err"
else
	skip "a write error on stdout (no writable /dev/full)"
fi

t_done
