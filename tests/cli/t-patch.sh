#!/bin/sh
# elivepatch patch: add (three patch forms), list, show, remove, and that
# refused input leaves the catalogue exactly as it was.
. "$(dirname "$0")/../lib.sh"

ELP=${ELIVEPATCH:-./build/san/elivepatch}
case $ELP in /*) ;; *) ELP=$(pwd)/$ELP ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/elp-t-patch.XXXXXX")
trap 'rm -rf "$T"' EXIT
DB=$T/c.db
elp() { "$ELP" --db "$DB" "$@"; }
dump() { sqlite3 "$DB" .dump; }
q() { sqlite3 "$DB" "$1"; }
[ -x "$ELP" ] || bail "no binary at $ELP"
command -v sqlite3 > /dev/null || bail "sqlite3 is needed"

# --- fixtures ---------------------------------------------------------------
cat > "$T/fix-cmdline.patch" <<'PATCH'
From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001
From: Jane Dev <jane@example.org>
Date: Tue, 1 Oct 2024 10:00:00 +0000
Subject: [PATCH v2] proc: do not leak the command line
 to everyone

This fixes CVE-2024-11111 (and cve-2024-22222).

Signed-off-by: Jane Dev <jane@example.org>
---
 fs/proc/cmdline.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/fs/proc/cmdline.c b/fs/proc/cmdline.c
index 1111111..2222222 100644
--- a/fs/proc/cmdline.c
+++ b/fs/proc/cmdline.c
@@ -3,5 +3,5 @@ static int cmdline_proc_show(struct seq_file *m, void *v)
 {
-	seq_puts(m, saved_command_line);
+	seq_puts(m, "patched");
 	seq_putc(m, '\n');
 	return 0;
 }
-- 
2.39.2

PATCH

# plain diff -ruN between two trees: a modified, an added and a deleted file
mkdir -p "$T/a/kernel" "$T/b/kernel" "$T/b/kernel/new"
printf 'int a;\nint b;\nint c;\nstatic int do_thing(void)\n{\n\treturn 1;\n}\n' > "$T/a/kernel/sys.c"
printf 'int a;\nint b;\nint c;\nstatic int do_thing(void)\n{\n\treturn 2;\n}\n' > "$T/b/kernel/sys.c"
printf 'gone\n' > "$T/a/kernel/old.c"
printf 'fresh\n' > "$T/b/kernel/new/file.c"
(cd "$T" && diff -ruN a b > "$T/tree.diff")
test $? -le 1 || bail "diff -ruN failed"
grep -q '^diff -ruN' "$T/tree.diff" || bail "no diff -ruN output"

# git diff output, no mail around it
cat > "$T/sys.diff" <<'PATCH'
diff --git a/kernel/sys.c b/kernel/sys.c
index 5555555..6666666 100644
--- a/kernel/sys.c
+++ b/kernel/sys.c
@@ -10,3 +10,3 @@ SYSCALL_DEFINE1(newuname, struct new_utsname __user *, name)
 	int errno;
-	errno = 0;
+	errno = 1;
 	return errno;
PATCH

# --- add --------------------------------------------------------------------
elp patch add "$T/fix-cmdline.patch" --cve CVE-2023-00001 > "$T/out" 2>&1
check "patch add of a format-patch mail succeeds" test $? -eq 0
check "...and says what it added" grep -q "^added patch 'fix-cmdline' (id 1): 1 file, " "$T/out"
check "...with the subject from the mail, [PATCH] stripped and unfolded" \
	test "$(q "SELECT subject FROM patches WHERE id = 1")" = "proc: do not leak the command line to everyone"
check "...CVE ids from the body and --cve, upper-case" \
	test "$(q "SELECT group_concat(cve, ' ') FROM (SELECT cve FROM patch_cves WHERE patch_id = 1 ORDER BY cve)")" = "CVE-2023-00001 CVE-2024-11111 CVE-2024-22222"
check "...the function from the hunk header" \
	test "$(q "SELECT function FROM patch_functions WHERE patch_id = 1")" = cmdline_proc_show
check "...the content byte for byte" \
	test "$(q "SELECT sha256 FROM patches WHERE id = 1")" = "$(sha256sum < "$T/fix-cmdline.patch" | cut -d' ' -f1)"
check "...its absolute origin" test "$(q "SELECT origin FROM patches WHERE id = 1")" = "$T/fix-cmdline.patch"
check "...and a patch-add event" test "$(q "SELECT count(*) FROM events WHERE kind = 'patch-add' AND patch_id = 1")" = 1

elp patch add "$T/tree.diff" --name tree > "$T/out" 2>&1
check "patch add of plain diff -ruN output succeeds" test $? -eq 0
check "...with three files" grep -q "^added patch 'tree' (id 2): 3 files$" "$T/out"
check "...modified, added, deleted with the first component stripped" \
	test "$(q "SELECT group_concat(status || ':' || path, ' ') FROM (SELECT * FROM patch_files WHERE patch_id = 2 ORDER BY path)")" = "added:kernel/new/file.c deleted:kernel/old.c modified:kernel/sys.c"

elp patch add "$T/sys.diff" > "$T/out" 2>&1
check "patch add of git diff output succeeds, named after the file" grep -q "^added patch 'sys' (id 3)" "$T/out"
check "...SYSCALL_DEFINE hunks name the __do_sys_ function" \
	test "$(q "SELECT function FROM patch_functions WHERE patch_id = 3")" = __do_sys_newuname

# --- list / show --------------------------------------------------------------
elp patch list > "$T/out" 2>&1
check "patch list succeeds" test $? -eq 0
check "...one tab-separated line per patch" test "$(wc -l < "$T/out")" -eq 3
check "...id, name, kind, files, CVEs, subject" \
	grep -q "^1	fix-cmdline	livepatch	1	CVE-2023-00001,CVE-2024-11111,CVE-2024-22222	proc: do not leak the command line to everyone$" "$T/out"
check "...'-' for no CVEs and no subject" grep -q "^2	tree	livepatch	3	-	-$" "$T/out"

elp patch show fix-cmdline > "$T/out" 2>&1
check "patch show by name succeeds" test $? -eq 0
check "...shows the sha256" grep -q "^sha256: *$(q "SELECT sha256 FROM patches WHERE id = 1")$" "$T/out"
check "...the file with status and counts" grep -q "^  modified fs/proc/cmdline.c (+1 -1, 1 hunk)$" "$T/out"
check "...the functions" grep -q "functions: cmdline_proc_show$" "$T/out"
check "...the CVEs" grep -q "^cves: *CVE-2023-00001,CVE-2024-11111,CVE-2024-22222$" "$T/out"

sha=$(q "SELECT substr(sha256, 1, 10) FROM patches WHERE id = 2")
elp patch show "$sha" > "$T/out" 2>&1
check "patch show by sha256 prefix" grep -q "^name: *tree$" "$T/out"
elp patch show 3 > "$T/out" 2>&1
check "patch show by id" grep -q "^name: *sys$" "$T/out"
elp patch show --diff 1 > "$T/out" 2>&1
check "patch show --diff prints the patch as added" cmp -s "$T/out" "$T/fix-cmdline.patch"

elp --json patch show 1 > "$T/out" 2>&1
check "patch show --json" grep -q '^{"id":1,"name":"fix-cmdline","kind":"livepatch","sha256":"[0-9a-f]\{64\}","origin":"[^"]*","subject":"proc: do not leak the command line to everyone","created_at":[0-9]*,"cves":\["CVE-2023-00001","CVE-2024-11111","CVE-2024-22222"\],"files":\[{"path":"fs/proc/cmdline.c","status":"modified","hunks":1,"additions":1,"deletions":1,"functions":\["cmdline_proc_show"\]}\]}$' "$T/out"
elp --json patch list > "$T/out" 2>&1
check "patch list --json is an array of the three" test "$(grep -o '"name":"[a-z-]*","kind"' "$T/out" | wc -l)" -eq 3
if command -v python3 > /dev/null; then
	check "...that parses as JSON" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==3 and d[1]["files"][0]["status"]' "$T/out"
else
	skip "patch list --json parses as JSON (no python3)"
fi

elp patch show nosuch > "$T/out" 2>&1
check "patch show of an unknown patch fails" test $? -eq 1
check "...saying so" grep -q "^error: no patch 'nosuch' in the catalogue$" "$T/out"

# --- refused input leaves the catalogue alone --------------------------------
before=$(dump)

elp patch add "$T/fix-cmdline.patch" --name again > "$T/out" 2>&1
check "identical content under another name is refused" test $? -eq 1
check "...in one line naming both" test "$(cat "$T/out")" = "error: cannot add '$T/fix-cmdline.patch' as 'again': same content as catalogued patch 'fix-cmdline' (id 1)"

mkdir -p "$T/other"
sed 's/"patched"/"other"/' "$T/fix-cmdline.patch" > "$T/other/fix-cmdline.patch"
elp patch add "$T/other/fix-cmdline.patch" > "$T/out" 2>&1
check "a name already used is refused" test $? -eq 1
check "...in one line naming both" test "$(cat "$T/out")" = "error: cannot add '$T/other/fix-cmdline.patch': a patch named 'fix-cmdline' is already catalogued (id 1, from '$T/fix-cmdline.patch')"

printf 'Subject: not a patch\n\njust words\n' > "$T/words.patch"
elp patch add "$T/words.patch" > "$T/out" 2>&1
check "a file without a diff is refused" test $? -eq 1
check "...naming file and line" grep -q "^error: $T/words.patch:3: not a unified diff" "$T/out"

printf -- '--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n' > "$T/trunc.patch"
elp patch add "$T/trunc.patch" > "$T/out" 2>&1
check "a truncated hunk is refused" test $? -eq 1
check "...naming file, line and hunk" grep -q "^error: $T/trunc.patch:6: truncated hunk '@@ -1,3 +1,3 @@'" "$T/out"

printf -- '--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@\n a\n-b\nrubbish\n c\n' > "$T/garbage.patch"
elp patch add "$T/garbage.patch" > "$T/out" 2>&1
check "garbage inside a hunk is refused" test $? -eq 1
check "...naming the line" grep -q "^error: $T/garbage.patch:6: unexpected line in hunk" "$T/out"

: > "$T/empty.patch"
elp patch add "$T/empty.patch" > "$T/out" 2>&1
check "an empty file is refused" grep -q "^error: $T/empty.patch:1: empty file" "$T/out"

elp patch add "$T/missing.patch" > "$T/out" 2>&1
check "a missing file is refused" test $? -eq 1
check "...with the system's reason" grep -q "^error: cannot open '$T/missing.patch': No such file or directory$" "$T/out"

elp patch add "$T/sys.diff" --name sys2 --cve CVE-12-34 > "$T/out" 2>&1
check "an invalid --cve is a usage error" test $? -eq 129
check "...quoting it" grep -q "^error: invalid CVE id 'CVE-12-34'" "$T/out"

elp patch add > "$T/out" 2>&1
check "patch add without FILE is a usage error" test $? -eq 129
elp patch frob > "$T/out" 2>&1
check "an unknown subcommand is a usage error" test $? -eq 129

check "...and none of that changed the catalogue" test "$(dump)" = "$before"

# --- remove ---------------------------------------------------------------------
q "INSERT INTO builds (id, kernel_release, module_name, inputs_sha256, status, created_at) VALUES (7, '6.1.0', 'livepatch_x', 'abc', 'succeeded', 1)"
q "INSERT INTO build_patches (build_id, position, patch_id) VALUES (7, 0, 1)"
q "INSERT INTO kernels (id, name, release, config, config_sha256, created_at) VALUES (4, 'deb', '6.1.0', '', '', 1)"
q "INSERT INTO kernel_patches (kernel_id, position, patch_id) VALUES (4, 0, 1)"
q "INSERT INTO kernel_patches (kernel_id, position, patch_id) VALUES (4, 1, 2)"
before=$(dump)
elp patch remove fix-cmdline > "$T/out" 2>&1
check "removing a patch a build and a kernel use is refused" test $? -eq 1
check "...naming them" test "$(cat "$T/out")" = "error: cannot remove patch 'fix-cmdline': used by build 7 and kernel 'deb'"
elp patch remove tree > "$T/out" 2>&1
check "removing a patch a kernel uses is refused" grep -q "^error: cannot remove patch 'tree': used by kernel 'deb'$" "$T/out"
elp patch remove nosuch > "$T/out" 2>&1
check "removing an unknown patch fails" grep -q "^error: no patch 'nosuch' in the catalogue$" "$T/out"
check "...and the catalogue is unchanged" test "$(dump)" = "$before"

elp patch remove sys > "$T/out" 2>&1
check "removing an unused patch succeeds" test $? -eq 0
check "...saying so" grep -q "^removed patch 'sys' (id 3)$" "$T/out"
check "...its rows are gone" test "$(q "SELECT count(*) FROM patches WHERE id = 3") $(q "SELECT count(*) FROM patch_files WHERE patch_id = 3") $(q "SELECT count(*) FROM patch_functions WHERE patch_id = 3")" = "0 0 0"
check "...a patch-remove event is recorded" test "$(q "SELECT detail FROM events WHERE kind = 'patch-remove'")" = sys
check "...and the others stay" test "$(q "SELECT count(*) FROM patches")" = 2

t_done
