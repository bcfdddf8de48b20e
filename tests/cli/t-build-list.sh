#!/bin/sh
# elivepatch build list / build show: the catalogued builds as a noun; and a
# failed build whose last line says why.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

q() { sqlite3 "$DB" "$1"; }

elp kernel add --release 6.1.0-57-amd64 --name k1 --source "$T/src" --config "$T/config" > /dev/null ||
	bail "kernel add k1"
elp kernel add --release 6.6.30-gentoo --name k2 --source "$T/src" --config "$T/config" > /dev/null ||
	bail "kernel add k2"
sha=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
# builds as the build command records them: one succeeded, verified and
# applied on host h1 (then on h2, reverted there), one refused with a reason
sqlite3 "$DB" <<SQL || bail "catalogue rows"
INSERT INTO toolchains (id, cc_path, version_text, target, created_at)
 VALUES (1, '/usr/bin/gcc-12', 'gcc-12 (Debian 12.2.0-14) 12.2.0', 'x86_64-linux-gnu', 1);
INSERT INTO patches (id, name, kind, sha256, content, created_at) VALUES
 (10, 'fix-a', 'livepatch', 'aa11', 'x', 1), (11, 'fix-b', 'livepatch', 'bb22', 'y', 1);
INSERT INTO builds (id, kernel_id, kernel_release, toolchain_id, module_name, inputs_sha256,
  status, reason, log_path, artefact_path, artefact_sha256, verified, created_at, duration_ms, builder_host)
 VALUES (5, 1, '6.1.0-57-amd64', 1, 'elp_fix_a', 'in5', 'succeeded', NULL, '/c/5/build.log',
  '/c/5/elp_fix_a.ko', '$sha', 'passed', 1700000000, 4321, 'h1'),
        (6, 2, '6.6.30-gentoo', NULL, 'elp_fix_b', 'in6', 'refused',
  'fs/x.c: changes data layout (struct y); use shadow variables', '/c/6/build.log', NULL, NULL, NULL,
  1700000100, 12, 'h1');
INSERT INTO build_patches VALUES (5, 1, 10), (5, 2, 11), (6, 1, 11);
INSERT INTO build_stages VALUES (5, 0, 'resolve', 3), (5, 1, 'tree', 1000), (5, 2, 'record', 2),
 (6, 0, 'resolve', 4), (6, 1, 'diff', 8);
INSERT INTO events (time, kind, kernel_release, build_id, module, host) VALUES
 (1700000200, 'apply', '6.1.0-57-amd64', 5, 'elp_fix_a', 'h1'),
 (1700000300, 'apply', '6.1.0-57-amd64', 5, 'elp_fix_a', 'h2'),
 (1700000400, 'revert', '6.1.0-57-amd64', 5, 'elp_fix_a', 'h2');
SQL

# --- list ----------------------------------------------------------------------------------------
elp build list > "$T/out" 2> "$T/err"
check "build list succeeds" test $? = 0
check "...one tab-separated row per build, oldest first" test "$(cut -f1 "$T/out" | tr '\n' ' ')" = "5 6 "
check "...id, kernel, patches, status, module, sha256 short, verified, applied" \
	test "$(sed -n 1p "$T/out")" = "$(printf '5\t6.1.0-57-amd64\tfix-a,fix-b\tsucceeded\telp_fix_a\t0123456789ab\tpassed\th1')"
check "...'-' for no module, never verified, not applied" \
	test "$(sed -n 2p "$T/out")" = "$(printf '6\t6.6.30-gentoo\tfix-b\trefused\telp_fix_b\t-\t-\t-')"
check "build list --kernel (name)" test "$(elp build list --kernel k2 | cut -f1)" = 6
check "build list --kernel (release)" test "$(elp build list --kernel 6.1.0-57-amd64 | cut -f1)" = 5
check "build list --patch" test "$(elp build list --patch fix-a | cut -f1)" = 5
check "build list --status" test "$(elp build list --status refused | cut -f1)" = 6
check "build list --limit keeps the newest" test "$(elp build list --limit 1 | cut -f1)" = 6
elp build list --status bogus > "$T/out" 2> "$T/err"
check "build list --status bogus: usage error" test $? = 129
check "...naming it" grep -q "^error: invalid --status 'bogus'" "$T/err"

elp build list --json --kernel k1 > "$T/out"
check "build list --json: one array of stable objects" \
	test "$(cat "$T/out")" = "$(printf '[\n{"id":5,"created_at":1700000000,"kernel":"6.1.0-57-amd64","patches":["fix-a","fix-b"],"status":"succeeded","module":"elp_fix_a","sha256":"%s","verified":"passed","applied":["h1"]}\n]' "$sha")"
check "elivepatch --json build list is the same" test "$(elp --json build list --kernel k1)" = "$(cat "$T/out")"
check "build list --json with no match: []" test "$(elp build list --json --status running)" = "[]"

# --- show ----------------------------------------------------------------------------------------
elp build show 5 > "$T/out" 2> "$T/err"
check "build show succeeds" test $? = 0
check "...status" grep -q "^status  *succeeded$" "$T/out"
check "...the module file and its sha256" grep -q "^sha256  *$sha$" "$T/out"
check "...the log path" grep -q "^log  *\/c\/5\/build.log$" "$T/out"
check "...where it is applied" grep -q "^applied on  *h1$" "$T/out"
check "...the patches in order with their sha256" \
	test "$(grep '^  patch ' "$T/out" | tr -s ' ')" = "$(printf ' patch fix-a sha256 aa11\n patch fix-b sha256 bb22')"
check "...the config with its sha256" grep -q "^  config  *k1  sha256 $(q "SELECT config_sha256 FROM kernels WHERE id = 1")$" "$T/out"
check "...the compiler" grep -q "^  toolchain  */usr/bin/gcc-12 (gcc-12 (Debian 12.2.0-14) 12.2.0)$" "$T/out"
check "...the passes with their timings, in order" \
	test "$(sed -n '/^passes:/,$p' "$T/out" | tr -s ' ')" = "$(printf 'passes:\n resolve 3 ms\n tree 1000 ms\n record 2 ms')"
check "...no reason for a success" sh -c '! grep -q "^reason" "$1"' - "$T/out"

elp build show 6 > "$T/out"
check "build show of a refused build keeps the reason" \
	grep -q "^reason  *fs/x.c: changes data layout (struct y); use shadow variables$" "$T/out"

elp build show --json 6 > "$T/out"
check "build show --json" grep -q '^{"id":6,"kernel":"6.6.30-gentoo","kernel_name":"k2","module":"elp_fix_b","status":"refused","reason":"fs/x.c: changes data layout (struct y); use shadow variables",.*"log":"/c/6/build.log",.*"applied":\[\],.*"duration_ms":12,"inputs":\[{"kind":"patch","name":"fix-b","sha256":"bb22"},{"kind":"config","name":"k2","sha256":"[0-9a-f]*"}\],"passes":\[{"name":"resolve","ms":4},{"name":"diff","ms":8}\]}$' "$T/out"

elp build show 99 > "$T/out" 2> "$T/err"
check "build show of an unknown id: exit 1" test $? = 1
check "...naming it" grep -q "^error: build 99 is not in the catalogue; see 'elivepatch build list'$" "$T/err"
elp build show 5x > "$T/out" 2> "$T/err"
check "build show of a non-number: usage error" test $? = 129
check "...naming it" grep -q "^error: invalid build id '5x'$" "$T/err"

# --- a failed build ends with why ----------------------------------------------------------------
# the fake source tree has no kbuild: the tree pass fails after a build row is made
printf -- '--- a/fs/proc/cmdline.c\n+++ b/fs/proc/cmdline.c\n@@ -1,4 +1,4 @@\n static int x(void)\n {\n-\treturn 0;\n+\treturn 1;\n }\n' > "$T/fix.patch"
ELIVEPATCH_CACHE=$T/cache elp build --kernel k1 --patch "$T/fix.patch" --force-toolchain > "$T/out" 2> "$T/err"
check "a failing build exits 1" test $? = 1
id=$(q "SELECT max(id) FROM builds")
reason=$(q "SELECT reason FROM builds WHERE id = $id")
check "...with a reason in the catalogue" test -n "$reason"
check "...its last line is the build, its status and the reason" \
	test "$(tail -n 1 "$T/err")" = "error: build $id failed: $reason"
check "...and nowhere before it" test "$(grep -cF -- "$reason" "$T/err")" = 1
check "...the line before names the log and build show" \
	grep -q "^log: $T/cache/builds/.*/build.log; details: elivepatch build show $id$" "$T/err"
check "build show keeps that reason" grep -qF "reason         $reason" "$(elp build show "$id" > "$T/show"; echo "$T/show")"

t_done
