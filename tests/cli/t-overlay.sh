#!/bin/sh
# elivepatch overlay (elivepatch-overlay(5)) on real git repositories: add from a local path
# and a file:// URL, list, show, sync (new, changed and removed fixes; a rewritten history
# refused unless --force), commits checked against a signing key with gpgv; then cve
# --dry-run's selection per kernel (version range, out-of-tree prerequisites, CVE ids), cve
# builds (a failure's reason printed once, --parallel in processes of their own, --apply
# through elp_apply), build --all-kernels, cumulative-only fixes (never built
# non-cumulative) and overlay remove (patches kept, queued jobs refuse it or are cancelled).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

unset ELIVEPATCH_CONFIG ELIVEPATCH_ROOT
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE
example=$(cd "$(dirname "$0")/../../contrib/overlay" && pwd)
q() { sqlite3 "$DB" "$1"; }
g() { git -C "$T/repo" -c user.name=test -c user.email=test@elivepatch.invalid "$@"; }

# the example overlay as a git repository
cp -r "$example" "$T/repo"
git -C "$T/repo" init -q -b main
g add -A
g commit -qm "example overlay"
first=$(g rev-parse HEAD)

# ---- add ----
elp overlay add ex "$T/repo" > "$T/out" 2>&1
check "overlay add from a local path succeeds" test $? -eq 0
check "...saying what it catalogued" grep -q "^added overlay 'ex' at ${first%"${first#????????????}"}: 3 fixes added" "$T/out"
check "...cloned into the store beside the catalogue" test -d "$T/overlays/ex/.git"
check "...each fix's patch catalogued as OVERLAY:FIX" \
	test "$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM patches ORDER BY name)")" = \
	"ex:cmdline-marker ex:meminfo-kib-5.10 ex:version-marker"
check "...with its origin: overlay, commit, path" \
	test "$(q "SELECT o.name, op.commit_id, op.path FROM overlay_patches op JOIN overlay_fixes f ON f.id = op.fix_id JOIN overlays o ON o.id = f.overlay_id JOIN patches p ON p.id = op.patch_id WHERE p.name = 'ex:cmdline-marker'")" = \
	"ex|$first|livepatches/cmdline-marker/0001-proc-mark-cmdline.patch"
check "...and the CVEs of its fix.conf" \
	test "$(q "SELECT cve FROM patch_cves c JOIN patches p ON p.id = c.patch_id WHERE p.name = 'ex:version-marker'")" = CVE-2099-1002
check "...with an overlay-add event" test "$(q "SELECT count(*) FROM events WHERE kind = 'overlay-add'")" = 1

before=$(dump)
elp overlay add ex "$T/repo" > "$T/out" 2>&1
check "a second overlay of the same name is refused" test $? -eq 1
check "...saying so" grep -q "an overlay named 'ex' is already catalogued" "$T/out"
elp overlay add other "$T/nowhere" > "$T/out" 2>&1
check "an overlay that cannot be cloned fails" test $? -eq 1
check "...naming it" grep -q "cannot clone '$T/nowhere'" "$T/out"
check "...leaving nothing behind" test ! -e "$T/overlays/other" -a ! -e "$T/overlays/other.clone"
elp overlay add Bad "$T/repo" > "$T/out" 2>&1
check "an invalid name is a usage error" test $? -eq 129
elp overlay add onlyname > /dev/null 2>&1
check "a missing PATH|URL is a usage error" test $? -eq 129
check "nothing was written by the refused adds" test "$before" = "$(dump)"

# a fix.conf with a mistake: skipped with the reason, the others catalogued
cp -r "$T/repo" "$T/repo2"
printf 'summary = bad\nversions = 6.1 to 6.2\n' > "$T/repo2/livepatches/cmdline-marker/fix.conf"
git -C "$T/repo2" -c user.name=t -c user.email=t@x commit -qam "bad range"
rm "$T/repo2/livepatches/version-marker/"*.patch
git -C "$T/repo2" -c user.name=t -c user.email=t@x commit -qam "no patch"
"$ELP" --db "$T/other.db" overlay add ex2 "file://$T/repo2" > "$T/out" 2>&1
check "overlay add from a file:// URL succeeds" test $? -eq 0
check "...a fix with a bad fix.conf is skipped, naming the line" \
	grep -q "livepatches/cmdline-marker/fix.conf:2: invalid version range '6.1 to 6.2'" "$T/out"
check "...a fix without a patch is skipped" grep -q "skipped version-marker: no \*.patch file" "$T/out"
check "...the others are catalogued" grep -q "1 fix added" "$T/out"

# ---- list, show ----
elp overlay list > "$T/out"
check "list: name, url, commit, fixes, signed, synced by, time" \
	grep -q "^ex	$T/repo	${first%"${first#????????????}"}	3	no	elivepatch	20" "$T/out"
elp overlay list --json > "$T/out"
check "list --json" grep -q "^{\"name\":\"ex\",\"url\":\"$T/repo\",\"path\":\"$T/overlays/ex\",\"managed\":true,\"commit\":\"$first\",\"fixes\":3,\"signed\":false," "$T/out"
elp overlay show ex > "$T/out"
check "show lists each fix with its CVEs, versions and patches" \
	grep -q "^version-marker: proc: mark /proc/version as live patched" "$T/out"
check "...its upstream commit" grep -q "upstream:  0123456789abcdef0123456789abcdef01234567" "$T/out"
check "...its version range" grep -q "versions:  5.10 <= v < 5.11" "$T/out"
elp overlay show --json ex > "$T/out"
check "show --json" grep -q '"name":"cmdline-marker","summary":"proc: mark /proc/cmdline as live patched","cves":\["CVE-2099-1001"\],"upstream":null,"versions":"6.1 <= v < 6.2"' "$T/out"
elp overlay show nope > "$T/out" 2>&1
check "show of an unknown overlay fails, naming it" grep -q "no overlay named 'nope'" "$T/out"

# ---- sync ----
elp overlay sync ex > "$T/out" 2>&1
check "sync with nothing new says it is up to date" grep -q "^overlay 'ex' is up to date" "$T/out"
id=$(q "SELECT id FROM patches WHERE name = 'ex:version-marker'")
sed -i 's/live patched by elivepatch/live patched again/' "$T/repo/livepatches/version-marker/0001-proc-mark-version.patch"
mkdir "$T/repo/livepatches/second"
printf 'summary = a second fix\ncve = CVE-2099-2000, cve-2099-2001\nrequires = oot-cmdline-comment\n' \
	> "$T/repo/livepatches/second/fix.conf"
sed -n 's/live patched by elivepatch/second/; /^diff/,$p' "$example/livepatches/cmdline-marker/0001-proc-mark-cmdline.patch" \
	> "$T/repo/livepatches/second/1.patch"
g rm -rq livepatches/meminfo-kib-5.10
g add -A
g commit -qm "a second fix, a change, a removal"
second=$(g rev-parse HEAD)
elp overlay sync > "$T/out" 2>&1
check "sync (all overlays) succeeds" test $? -eq 0
check "...counting what changed" grep -q "^synced overlay 'ex' at ${second%"${second#????????????}"}: 1 fix added, 1 updated, 1 removed" "$T/out"
check "...the checkout is at the new commit" test "$(git -C "$T/overlays/ex" rev-parse HEAD)" = "$second"
check "...a changed patch is updated in place (same id)" \
	test "$(q "SELECT id FROM patches WHERE name = 'ex:version-marker' AND content LIKE '%patched again%'")" = "$id"
check "...its commit is the new one" test "$(q "SELECT commit_id FROM overlay_patches WHERE patch_id = $id")" = "$second"
check "...the old content is kept, with the commit it came from" \
	test "$(q "SELECT commit_id FROM patch_versions WHERE patch_id = $id AND content LIKE '%live patched by elivepatch%'")" = "$first"
check "...and history shows the update" \
	sh -c "'$ELP' --db '$DB' history --patch ex:version-marker | grep -q 'patch-update'"
check "...the new fix's CVEs are upper-cased" \
	test "$(q "SELECT group_concat(cve, ' ') FROM patch_cves c JOIN patches p ON p.id = c.patch_id WHERE p.name = 'ex:second'")" = "CVE-2099-2000 CVE-2099-2001"
check "...a removed fix is marked removed, its patch kept" \
	test "$(q "SELECT state FROM overlay_fixes WHERE name = 'meminfo-kib-5.10'")|$(q "SELECT count(*) FROM patches WHERE name = 'ex:meminfo-kib-5.10'")" = "removed|1"
elp overlay show ex > "$T/out"
check "...show leaves it out" sh -c "! grep -q meminfo '$T/out'"
elp overlay show --all ex > "$T/out"
check "...show --all has it" grep -q "^meminfo-kib-5.10 (removed):" "$T/out"

# a rewritten history is refused
g commit -q --amend -m "rewritten"
rewritten=$(g rev-parse HEAD)
before=$(dump)
elp overlay sync ex > "$T/out" 2>&1
check "a non-fast-forward update is refused" test $? -eq 1
check "...saying why and what to do" grep -q "not a fast-forward: ${rewritten%"${rewritten#????????????}"} does not contain ${second%"${second#????????????}"}.*--force" "$T/out"
check "...changing nothing" test "$before" = "$(dump)"
check "...not even the checkout" test "$(git -C "$T/overlays/ex" rev-parse HEAD)" = "$second"
elp overlay sync --force ex > "$T/out" 2>&1
check "--force accepts it" test $? -eq 0
check "...with a warning" grep -q "warning: overlay 'ex': not a fast-forward" "$T/out"
check "...and records the new commit" test "$(q "SELECT commit_id FROM overlays WHERE name = 'ex'")" = "$rewritten"

# ---- signing key ----
if command -v gpg > /dev/null && command -v gpgv > /dev/null; then
	GNUPGHOME=$T/gnupg
	export GNUPGHOME
	mkdir -m 700 "$GNUPGHOME"
	gpg --batch --passphrase '' --quick-gen-key 'Overlay <overlay@elivepatch.invalid>' ed25519 sign never > /dev/null 2>&1
	gpg --batch --passphrase '' --quick-gen-key 'Other <other@elivepatch.invalid>' ed25519 sign never > /dev/null 2>&1
	gpg --export overlay@elivepatch.invalid > "$T/trusted.gpg"
	# a catalogue of its own: the fixes below are for the ex overlay only
	elp() { "$ELP" --db "$T/signed.db" "$@"; }
	cp -r "$example" "$T/signed"
	git -C "$T/signed" init -q -b main
	sg() { k=$1; shift; git -C "$T/signed" -c user.name=t -c user.email=t@x -c user.signingkey="$k" "$@"; }
	sg overlay@elivepatch.invalid add -A
	sg overlay@elivepatch.invalid commit -S -qm signed
	elp overlay add --signing-key "$T/trusted.gpg" signed "$T/signed" > "$T/out" 2>&1
	check "add with a signing key accepts a commit signed by it" test $? -eq 0
	check "...and keeps a copy of the keyring" \
		test "$(sqlite3 "$T/signed.db" "SELECT signing_key FROM overlays WHERE name = 'signed'")" = "$T/overlays/signed.keyring"
	echo x >> "$T/signed/README"
	sg overlay@elivepatch.invalid commit -qam unsigned
	echo y >> "$T/signed/README"
	sg overlay@elivepatch.invalid commit -S -qam "signed on top"
	elp overlay sync signed > "$T/out" 2>&1
	check "sync refuses a history with an unsigned commit" test $? -eq 1
	check "...naming it" grep -q "commit $(git -C "$T/signed" rev-parse --short=12 HEAD~1) is not signed" "$T/out"
	git -C "$T/signed" reset -q --hard HEAD~2
	echo z >> "$T/signed/README"
	sg other@elivepatch.invalid commit -S -qam "other key"
	elp overlay sync --force signed > "$T/out" 2>&1
	check "sync refuses a commit signed by another key, even with --force" test $? -eq 1
	check "...saying so" grep -q "refused: not signed by the trusted key" "$T/out"
	git -C "$T/signed" reset -q --hard HEAD~1
	echo w >> "$T/signed/README"
	sg overlay@elivepatch.invalid commit -S -qam "good"
	elp overlay sync signed > "$T/out" 2>&1
	check "...and accepts commits signed by the trusted key" test $? -eq 0
	elp overlay add --signing-key "$T/trusted.gpg" unsigned "$T/repo" > "$T/out" 2>&1
	check "add refuses an unsigned HEAD" test $? -eq 1
	check "...and leaves no overlay" test -z "$(sqlite3 "$T/signed.db" "SELECT 1 FROM overlays WHERE name = 'unsigned'")"
	unset GNUPGHOME
	elp() { "$ELP" --db "$DB" "$@"; }
else
	skip "signing keys: gpg and gpgv are needed"
fi

# ---- cve --dry-run: which fixes each kernel gets ----
mk_kernel() { # NAME RELEASE SUBLEVEL-VERSION
	make_source_tree "$T/k-$1"
	printf 'VERSION = %s\nPATCHLEVEL = %s\nSUBLEVEL = %s\n' $(echo "$3" | tr . ' ') > "$T/k-$1/Makefile"
	elp kernel add --release "$2" --name "$1" --source "$T/k-$1" --config "$T/config" > /dev/null 2>&1
}
mk_kernel k61 6.1.0-1-amd64 6.1.150
mk_kernel k510 5.10.0-1-amd64 5.10.200
printf -- '--- a/fs/proc/cmdline.c\n+++ b/fs/proc/cmdline.c\n@@ -1,4 +1,4 @@\n static int x(void)\n {\n-\treturn 0;\n+\treturn 1;\n }\n' > "$T/oot-cmdline-comment.patch"
elp kernel patch add k510 "$T/oot-cmdline-comment.patch" > /dev/null 2>&1 || bail "kernel patch add"
elp cve --all-kernels --dry-run > "$T/out" 2>&1
check "cve --dry-run succeeds" test $? -eq 0
check "...the 6.1 kernel gets the fixes in its range (version from its Makefile)" \
	grep -q "^k61: would build ex:cmdline-marker ex:version-marker (CVE-2099-1001 CVE-2099-1002); 0 live, 1 skipped" "$T/out"
check "...not the one needing an out-of-tree patch it lacks, with the reason" \
	grep -q "^  skipped ex:second: needs the out-of-tree patch 'oot-cmdline-comment', which the kernel was not built with" "$T/out"
check "...the 5.10 kernel with the out-of-tree patch gets that one" \
	grep -q "^k510: would build ex:second (CVE-2099-2000 CVE-2099-2001); 0 live, 2 skipped" "$T/out"
check "...and not the 6.1 fixes, with the reason" \
	grep -q "^  skipped ex:cmdline-marker: version 5.10.200 is not in '6.1 <= v < 6.2'" "$T/out"
elp cve --kernel k61 --dry-run CVE-2099-1002 > "$T/out" 2>&1
check "cve with an id selects only the fixes for it" \
	grep -q "^k61: would build ex:version-marker (CVE-2099-1002); 0 live, 0 skipped" "$T/out"
elp cve --kernel k510 CVE-2099-1002 > "$T/out" 2>&1
check "nothing to do for a kernel: quiet, exit 0" test $? -eq 0 -a ! -s "$T/out"
elp cve --kernel k61 --dry-run CVE-2099-9999 > "$T/out" 2>&1
check "a CVE no fix carries fails" test $? -eq 1
check "...naming it" grep -q "no fix for CVE-2099-9999 in the overlays" "$T/out"
elp cve --kernel k61 --dry-run --json > "$T/out"
check "cve --json: one object per kernel" \
	grep -q '^\[{"kernel":"k61","release":"6.1.0-1-amd64","version":"6.1.150","selected":\["ex:cmdline-marker","ex:version-marker"\],"cves":\["CVE-2099-1001","CVE-2099-1002"\],"live":\[\],"skipped":\["ex:second: needs' "$T/out"
elp cve nonsense > /dev/null 2>&1
check "an invalid CVE id is a usage error" test $? -eq 129
elp cve --all-kernels --kernel k61 > /dev/null 2>&1
check "--all-kernels with --kernel is a usage error" test $? -eq 129

# a fix already live (a build of it applied on this host) is not selected again
elp build --kernel k61 --patch ex:cmdline-marker > /dev/null 2>&1
bid=$(q "SELECT max(id) FROM builds")
q "INSERT INTO events (time, kind, kernel_release, build_id, module, host) VALUES (strftime('%s','now'), 'apply', '6.1.0-1-amd64', $bid, 'elp_ex_cmdline_marker', '$(hostname)')"
elp cve --kernel k61 --dry-run > "$T/out" 2>&1
check "a fix already live is counted, not built again" \
	grep -q "^k61: would build ex:version-marker (CVE-2099-1002); 1 live, 1 skipped" "$T/out"

# ---- cve builds: the reason once, on the kernel's line; several kernels at once ----
elp cve --kernel k61 CVE-2099-1002 > "$T/out" 2> "$T/err"
check "a cve build that fails exits 1" test $? -eq 1
bid=$(q "SELECT max(id) FROM builds")
reason=$(q "SELECT reason FROM builds WHERE id = $bid")
check "...one line: the build, its CVEs, the counts, then the reason" \
	test "$(cat "$T/out")" = "k61: build $bid failed (CVE-2099-1002); 0 live, 0 skipped: $reason"
check "...a reason from the build's record" test -n "$reason"
check "...and not printed again on stderr" test ! -s "$T/err"
check "...a cumulative build, carrying the live fix along" \
	test "$(q "SELECT b.cumulative || ' ' || group_concat(p.name, ' ') FROM builds b JOIN build_patches bp ON bp.build_id = b.id JOIN patches p ON p.id = bp.patch_id WHERE b.id = $bid")" = \
	"1 ex:cmdline-marker ex:version-marker"
"$ELP" --db "$DB" cve --all-kernels --parallel 2 > "$T/out" 2> "$T/err" &
pid=$!
wait $pid
check "cve --parallel 2 builds for both kernels, a failure not stopping the other" test $? -eq 1
check "...each kernel's line in kernel order, its reason once" \
	test "$(grep -v '^  skipped ' "$T/out" | sed 's/: build [0-9]* failed (.*); [0-9]* live, [0-9]* skipped: make olddefconfig failed: .*//' | tr '\n' ' ')" = "k61 k510 "
check "...nothing on stderr: the builds' errors are their reasons" test ! -s "$T/err"
check "...each build in a process of its own" \
	test "$(q "SELECT count(DISTINCT builder_pid) FROM builds WHERE id > $bid AND builder_pid != $pid")" = 2
bid=$(q "SELECT max(id) FROM builds")
"$ELP" --db "$DB" cve --all-kernels --parallel 1 > /dev/null 2>&1 &
pid=$!
wait $pid
check "cve --parallel 1 builds one after the other, in its own process" \
	test "$(q "SELECT count(*) || ' ' || group_concat(DISTINCT builder_pid) FROM builds WHERE id > $bid")" = "2 $pid"
elp cve --parallel -1 > /dev/null 2>&1
check "a negative --parallel is a usage error" test $? -eq 129

# ---- build for several kernels ----
elp build --all-kernels --patch ex:cmdline-marker > "$T/out" 2> "$T/err"
check "build --all-kernels tries every kernel, a failure not stopping the others" \
	test "$(grep -c '^k[0-9]*: build [0-9]* failed: ' "$T/out")" = 2
check "...and says how many failed" grep -q "error: 2 of the builds failed" "$T/err"
check "...each reason once, on its kernel's line, not again on stderr" \
	test "$(grep -c 'make olddefconfig failed' "$T/out")|$(grep -c 'make olddefconfig failed' "$T/err")" = "2|0"
before=$(q "SELECT count(*) FROM builds")
elp build --all-kernels --parallel 2 --patch ex:cmdline-marker > "$T/out" 2> "$T/err"
check "--parallel 2: one process per kernel, each result reported in kernel order" \
	test "$(sed 's/: build [0-9]* failed: .*//' "$T/out" | tr '\n' ' ')" = "$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM kernels WHERE livepatch ORDER BY id)") "
check "...with its build recorded" test "$(q "SELECT count(*) FROM builds")" = $((before + 2))
check "...and the reason it failed, once" \
	test "$(grep -c "failed: make olddefconfig failed" "$T/out")|$(grep -c "make olddefconfig failed" "$T/err")" = "2|0"
elp build --all-kernels --parallel -1 --patch ex:cmdline-marker > /dev/null 2>&1
check "a negative --parallel is a usage error" test $? -eq 129
elp build -k k61 -k k510 --patch ex:cmdline-marker -o "$T/x.ko" > /dev/null 2>&1
check "--output with several kernels is a usage error" test $? -eq 129

# ---- cumulative-only: such a fix is delivered only in a cumulative build ----
mkdir "$T/repo/livepatches/atomic"
printf 'summary = replace atomically\ncve = CVE-2099-3000\ncumulative-only = yes\n' > "$T/repo/livepatches/atomic/fix.conf"
sed -n 's/live patched by elivepatch/atomic/; /^diff/,$p' "$example/livepatches/cmdline-marker/0001-proc-mark-cmdline.patch" \
	> "$T/repo/livepatches/atomic/1.patch"
g add -A
g commit -qm "a cumulative-only fix"
elp overlay sync ex > /dev/null 2>&1 || bail "sync of the cumulative-only fix"
elp overlay show ex > "$T/out"
check "show says a fix is cumulative-only" sh -c "grep -A4 '^atomic: ' '$T/out' | grep -q '^  cumulative-only$'"
before=$(q "SELECT count(*) FROM builds")
elp build --kernel k61 --patch ex:atomic --no-cumulative > "$T/out" 2> "$T/err"
check "a non-cumulative build of a cumulative-only fix is refused (exit 2)" test $? -eq 2
bid=$(q "SELECT max(id) FROM builds")
check "...recorded as refused, not cumulative, with the reason" \
	test "$(q "SELECT status || '|' || cumulative || '|' || reason FROM builds WHERE id = $bid")" = \
	"refused|0|patch 'ex:atomic' is of fix 'ex:atomic', which is cumulative-only: it is only delivered in a cumulative build (klp replace); build it without --no-cumulative"
check "...saying so" grep -q "build $bid refused: patch 'ex:atomic' is of fix 'ex:atomic', which is cumulative-only" "$T/err"
check "...before anything was compiled" test "$(q "SELECT count(*) FROM build_stages WHERE build_id = $bid AND stage NOT IN ('resolve', 'record')")" = 0
elp build --kernel k61 --patch ex:atomic > /dev/null 2>&1
bid=$(q "SELECT max(id) FROM builds")
check "a build of it without --no-cumulative is cumulative (even with nothing live)" \
	test "$(q "SELECT cumulative || ' ' || status FROM builds WHERE id = $bid")" = "1 failed"
check "...carrying the live fixes along" \
	test "$(q "SELECT group_concat(p.name, ' ') FROM build_patches bp JOIN patches p ON p.id = bp.patch_id WHERE bp.build_id = $bid")" = "ex:cmdline-marker ex:atomic"
printf 'ffffffff81000000 T _text\nffffffff81001000 t x\n' > "$T/kallsyms"
elp kernel add --release 6.1.0-9-amd64 --name k61s --source "$T/k-k61" --config "$T/config" --symbols "$T/kallsyms" > /dev/null 2>&1 ||
	bail "kernel add k61s"
before=$(dump)
elp build --kernel k61s --patch ex:atomic --no-cumulative --builder ssh://nowhere.invalid > "$T/out" 2>&1
check "a remote --no-cumulative build of it is refused before any builder is asked" test $? -eq 1
check "...saying why" grep -q "error: patch 'ex:atomic' is of fix 'ex:atomic', which is cumulative-only: it is only delivered in a cumulative build (klp replace); build it without --no-cumulative" "$T/out"
check "...once" test "$(grep -c cumulative-only "$T/out")" = 1
check "...no builder asked" sh -c '! grep -q "nowhere.invalid" "$1"' - "$T/out"
check "...recording nothing" test "$before" = "$(dump)"
ELIVEPATCH_SSH=false elp -v build --kernel k61s --patch ex:atomic --builder ssh://nowhere.invalid > "$T/out" 2>&1
check "a remote build of it is cumulative, as here, and goes to the builder" \
	grep -q "cumulative: patch 'ex:atomic' is of fix 'ex:atomic', which is cumulative-only" "$T/out"
check "...which is asked" grep -q "building on nowhere.invalid" "$T/out"
elp cve --kernel k61 --dry-run CVE-2099-3000 > "$T/out" 2>&1
check "cve selects it (its builds are cumulative)" grep -q "^k61: would build ex:atomic (CVE-2099-3000)" "$T/out"

# ---- overlay remove: the fixes go, the patches stay with their history ----
elp queue add build --kernel k61 --patch ex:version-marker --origin test > /dev/null 2>&1 || bail "queue add build"
job=$(q "SELECT max(id) FROM jobs")
nr_patches=$(q "SELECT count(*) FROM patches")
vid=$(q "SELECT id FROM patches WHERE name = 'ex:version-marker'")
origins=$(q "SELECT patch_id, fix_id, path, commit_id FROM overlay_patches ORDER BY patch_id")
before=$(dump)
elp overlay remove ex > "$T/out" 2>&1
check "remove refuses while a queued job needs the overlay" test $? -eq 1
check "...naming the job and what to do" \
	grep -q "error: overlay 'ex' is needed by 1 queued job: job $job (patch ex:version-marker for kernel k61); run it first (elivepatch queue run), or remove it with --force, which cancels it" "$T/out"
check "...changing nothing" test "$before" = "$(dump)"
check "...not even the clone" test -d "$T/overlays/ex/.git"
elp overlay remove --force ex > "$T/out" 2>&1
check "remove --force removes it" test $? -eq 0
check "...saying what became of its fixes and patches" \
	grep -q "^removed overlay 'ex': 4 fixes marked removed; its 5 patches stay catalogued, with their history$" "$T/out"
check "...that its clone was deleted" grep -q "^  deleted its clone $T/overlays/ex$" "$T/out"
check "...and which job it cancelled" grep -q "^  cancelled queued job $job (patch ex:version-marker for kernel k61)$" "$T/out"
check "...the clone is gone" test ! -e "$T/overlays/ex" -a ! -e "$T/overlays/ex.removed"
check "...the overlay is marked removed, its fixes too" \
	test "$(q "SELECT removed_at IS NOT NULL FROM overlays WHERE name = 'ex'")|$(q "SELECT count(*) FROM overlay_fixes f JOIN overlays o ON o.id = f.overlay_id WHERE o.name = 'ex' AND f.state = 'present'")" = "1|0"
check "...its patches kept, with their origin" \
	test "$(q "SELECT count(*) FROM patches")|$(q "SELECT patch_id, fix_id, path, commit_id FROM overlay_patches ORDER BY patch_id")" = "$nr_patches|$origins"
check "...and their earlier versions" test "$(q "SELECT count(*) FROM patch_versions WHERE patch_id = $vid")" = 1
check "...the job failed, saying why" \
	test "$(q "SELECT state || '|' || error FROM jobs WHERE id = $job")" = "failed|overlay 'ex' was removed"
check "...with an overlay-remove event" \
	test "$(q "SELECT detail FROM events WHERE kind = 'overlay-remove'")" = "ex: 4 fixes removed, 5 patches kept; 1 queued job cancelled"
elp overlay list > "$T/out"
check "list leaves a removed overlay out" test ! -s "$T/out"
elp overlay list --all > "$T/out"
check "list --all shows it removed" grep -q "^ex (removed)	$T/repo	" "$T/out"
elp overlay list --all --json > "$T/out"
check "...with its removal time in --json" grep -q '"name":"ex",.*"removed_at":[0-9]' "$T/out"
elp overlay show ex > "$T/out"
check "show says it was removed" grep -q "^removed     20" "$T/out"
elp cve --kernel k61 > "$T/out" 2>&1
check "cve no longer selects its fixes: nothing to do" test $? -eq 0 -a ! -s "$T/out"
elp cve --kernel k61 CVE-2099-1002 > "$T/out" 2>&1
check "...nor its CVEs" grep -q "no fix for CVE-2099-1002 in the overlays" "$T/out"
elp patch show ex:version-marker > /dev/null 2>&1
check "its patches can still be shown" test $? -eq 0
elp overlay sync ex > "$T/out" 2>&1
check "sync of a removed overlay fails, saying how to take it up again" \
	grep -q "overlay 'ex' was removed; add it again with: elivepatch overlay add ex $T/repo" "$T/out"
elp overlay remove ex > "$T/out" 2>&1
check "removing it twice fails" test $? -eq 1
check "...saying so" grep -q "overlay 'ex' was removed already" "$T/out"
elp overlay remove nope > "$T/out" 2>&1
check "removing an unknown overlay fails, naming it" grep -q "no overlay named 'nope'" "$T/out"
elp overlay remove > /dev/null 2>&1
check "remove without a name is a usage error" test $? -eq 129
oid=$(q "SELECT id FROM overlays WHERE name = 'ex'")
elp overlay add ex "$T/repo" > "$T/out" 2>&1
check "adding it again takes up its record" \
	test "$(q "SELECT id || '|' || (removed_at IS NULL) FROM overlays WHERE name = 'ex'")" = "$oid|1"
check "...its fixes back" grep -q "^added overlay 'ex' at .*: 4 fixes added, 0 updated, 0 removed" "$T/out"
check "...the same patches, not new ones" \
	test "$(q "SELECT count(*) FROM patches")|$(q "SELECT id FROM patches WHERE name = 'ex:version-marker'")" = "$nr_patches|$vid"

# a Portage overlay (read in place): its directory is not elivepatch's to delete
pe() { "$ELP" --db "$T/port.db" "$@"; }
pe queue add overlay --overlay port --location "$T/repo" --origin test > /dev/null 2>&1 &&
	pe queue run > /dev/null 2>&1 || bail "import of a Portage overlay"
pe queue add overlay --overlay port --location "$T/repo" --origin test > /dev/null 2>&1 || bail "queue add overlay"
pjob=$(sqlite3 "$T/port.db" "SELECT max(id) FROM jobs")
sqlite3 "$T/port.db" "UPDATE jobs SET state = 'running', runner_pid = 1, runner_host = 'elsewhere' WHERE id = $pjob"
pe overlay remove --force port > "$T/out" 2>&1
check "a running job that needs it refuses even --force" test $? -eq 1
check "...naming it" grep -q "overlay 'port' is needed by a running job: job $pjob (overlay port at $T/repo); wait for it to end" "$T/out"
sqlite3 "$T/port.db" "UPDATE jobs SET state = 'queued', runner_pid = NULL, runner_host = NULL WHERE id = $pjob"
pe overlay remove --force port > "$T/out" 2>&1
check "removing a Portage overlay leaves its directory in place" test $? -eq 0 -a -d "$T/repo/livepatches"
check "...saying so" grep -q "^  left $T/repo in place: Portage syncs it" "$T/out"
check "...and cancels its queued import" grep -q "^  cancelled queued job $pjob (overlay port at $T/repo)$" "$T/out"
pe queue add overlay --overlay port --location "$T/repo" --origin test > /dev/null 2>&1 &&
	pe queue run > /dev/null 2>&1
check "the next import (the next Portage sync) takes it up again, with its fixes" \
	test "$(pe overlay list | cut -f1,4,6)" = "port	4	portage"

# ---- cve --apply: the build for the running kernel is applied through elp_apply ----
# A fake running system ($ELIVEPATCH_ROOT) as in t-auto-apply.sh: loading is real and this
# machine's kernel refuses the fake module, which is what cve then says.  The build is
# answered from the catalogue: a succeeded build of the same inputs stands for it.
ae() { "$ELP" --db "$T/apply.db" "$@"; }
R=$T/root
mkdir -p "$R/proc/sys/kernel" "$R/sys/kernel/livepatch" "$R/sys/module/module/parameters"
echo 6.1.0-7-amd64 > "$R/proc/sys/kernel/osrelease"
echo N > "$R/sys/module/module/parameters/sig_enforce"
ae overlay add ap "$T/repo" > /dev/null 2>&1 || bail "overlay add ap"
ae kernel add --release 6.1.0-7-amd64 --name run --source "$T/k-k61" --config "$T/config" > /dev/null 2>&1 || bail "kernel add run"
ae kernel add --release 6.1.0-8-amd64 --name notrun --source "$T/k-k61" --config "$T/config" > /dev/null 2>&1 || bail "kernel add notrun"
ae cve --kernel run CVE-2099-1002 > /dev/null 2>&1
h=$(sqlite3 "$T/apply.db" "SELECT inputs_sha256 FROM builds ORDER BY id DESC LIMIT 1")
m=$(sqlite3 "$T/apply.db" "SELECT module_name FROM builds ORDER BY id DESC LIMIT 1")
printf 'name=%s\0vermagic=6.1.0-7-amd64 SMP preempt mod_unload modversions \0livepatch=Y\0license=GPL\0' "$m" > "$T/modinfo.bin"
{ echo 'int x;' | cc -c -x c - -o "$T/fake.o" &&
	objcopy --add-section .modinfo="$T/modinfo.bin" --set-section-flags .modinfo=alloc,readonly "$T/fake.o" "$T/lp.ko"; } ||
	bail "fake livepatch module"
sqlite3 "$T/apply.db" "INSERT INTO builds (kernel_id, kernel_release, module_name, inputs_sha256, status, artefact_path, artefact_sha256, verified, cumulative, created_at)
	SELECT id, '6.1.0-7-amd64', '$m', '$h', 'succeeded', '$T/lp.ko', '$(sha256sum "$T/lp.ko" | cut -d' ' -f1)', 'passed', 1, 1 FROM kernels WHERE name = 'run'"
ok_id=$(sqlite3 "$T/apply.db" "SELECT max(id) FROM builds")
ELIVEPATCH_ROOT=$R ae cve --all-kernels --apply CVE-2099-1002 > "$T/out" 2> "$T/err"
check "cve --apply exits 1 when the apply fails" test $? -eq 1
check "...the running kernel's build (here: reused) is reported" \
	grep -q "^run: build $ok_id succeeded (reused), $T/lp.ko (CVE-2099-1002); 0 live, 0 skipped$" "$T/out"
check "...then applied through elp_apply, which says why it cannot load" grep -q "^error: cannot load '$m': " "$T/err"
check "...only for the running kernel" test "$(grep -c "cannot load" "$T/err")" = 1
check "...the other kernel's build reported on its own line" grep -q "^notrun: build [0-9]* failed (CVE-2099-1002); 0 live, 0 skipped: " "$T/out"
ELIVEPATCH_ROOT=$R ae cve --kernel run --apply --rebuild CVE-2099-1002 > "$T/out" 2> "$T/err"
check "cve --rebuild builds again instead of answering with the identical build" \
	grep -q "^run: build $((ok_id + 2)) failed (CVE-2099-1002); 0 live, 0 skipped: " "$T/out"
check "...and applies nothing that failed" sh -c "! grep -q 'cannot load' '$T/err'"
ELIVEPATCH_ROOT=$R ae cve --kernel run --apply --dry-run > /dev/null 2>&1
check "--apply with --dry-run is a usage error" test $? -eq 129
t_done
