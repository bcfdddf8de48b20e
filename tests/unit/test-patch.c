// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for src/lib/patch.c: parsing, CVE ids, applying to a tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/patch.h"
#include "lib/util.h"

static char last_error[4096];
static int nr_errors;

static void capture(void *data, int priority, const char *file, int line,
		    const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)file;
	(void)line;
	(void)fn;
	if (priority > ELP_LOG_ERR)
		return;
	vsnprintf(last_error, sizeof(last_error), format, args);
	nr_errors++;
}

static struct elp_ctx *new_ctx(void)
{
	struct elp_ctx *ctx = elp_ctx_new();

	assert_non_null(ctx);
	elp_set_log_fn(ctx, capture, NULL);
	last_error[0] = '\0';
	nr_errors = 0;
	return ctx;
}

static const char MAIL[] =
	"From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001\n"
	"From: Jane Dev <jane@example.org>\n"
	"Date: Tue, 1 Oct 2024 10:00:00 +0000\n"
	"Subject: [PATCH v2 1/1] proc: fix cmdline\n"
	" output (CVE-2024-1111)\n"
	"\n"
	"Fixes cve-2024-22222; not XCVE-2024-3333 nor CVE-24-1.\n"
	"\n"
	"Signed-off-by: Jane Dev <jane@example.org>\n"
	"---\n"
	" fs/proc/cmdline.c | 2 +-\n"
	" 1 file changed, 1 insertion(+), 1 deletion(-)\n"
	"\n"
	"diff --git a/fs/proc/cmdline.c b/fs/proc/cmdline.c\n"
	"index 1111111..2222222 100644\n"
	"--- a/fs/proc/cmdline.c\n"
	"+++ b/fs/proc/cmdline.c\n"
	"@@ -2,4 +2,4 @@ static int cmdline_proc_show(struct seq_file *m, void *v)\n"
	" {\n"
	"-\tseq_puts(m, saved_command_line);\n"
	"+\tseq_puts(m, \"patched\");\n"
	" \treturn 0;\n"
	" }\n"
	"-- \n"
	"2.39.2\n"
	"\n";

static const char CMDLINE[] =
	"static int cmdline_proc_show(struct seq_file *m, void *v)\n"
	"{\n"
	"\tseq_puts(m, saved_command_line);\n"
	"\treturn 0;\n"
	"}\n";

static const char CMDLINE_PATCHED[] =
	"static int cmdline_proc_show(struct seq_file *m, void *v)\n"
	"{\n"
	"\tseq_puts(m, \"patched\");\n"
	"\treturn 0;\n"
	"}\n";

/* git diff: one added, one deleted, one modified file */
static const char GITDIFF[] =
	"diff --git a/kernel/new.c b/kernel/new.c\n"
	"new file mode 100644\n"
	"index 0000000..3333333\n"
	"--- /dev/null\n"
	"+++ b/kernel/new.c\n"
	"@@ -0,0 +1,2 @@\n"
	"+int new_thing;\n"
	"+int other_thing;\n"
	"diff --git a/kernel/old.c b/kernel/old.c\n"
	"deleted file mode 100644\n"
	"index 4444444..0000000\n"
	"--- a/kernel/old.c\n"
	"+++ /dev/null\n"
	"@@ -1 +0,0 @@\n"
	"-int old_thing;\n"
	"diff --git a/kernel/sys.c b/kernel/sys.c\n"
	"index 5555555..6666666 100644\n"
	"--- a/kernel/sys.c\n"
	"+++ b/kernel/sys.c\n"
	"@@ -1,3 +1,3 @@ SYSCALL_DEFINE1(newuname, struct new_utsname __user *, name)\n"
	" a\n"
	"-b\n"
	"+B\n"
	" c\n"
	"@@ -10,3 +10,4 @@ static int override_release(char __user *release, size_t len)\n"
	" j\n"
	" k\n"
	"+k2\n"
	" l\n";

static const char SYS[] = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n";
static const char SYS_PATCHED[] = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nk2\nl\nm\n";

/* diff -ruN between two trees, first components not a/ b/ */
static const char PLAIN[] =
	"Only in linux-6.1: .config\n"
	"diff -ruN linux-6.1.orig/fs/proc/cmdline.c linux-6.1/fs/proc/cmdline.c\n"
	"--- linux-6.1.orig/fs/proc/cmdline.c\t2024-01-01 10:00:00.000000000 +0100\n"
	"+++ linux-6.1/fs/proc/cmdline.c\t2024-01-02 10:00:00.000000000 +0100\n"
	"@@ -2,4 +2,4 @@ static int cmdline_proc_show(struct seq_file *m, void *v)\n"
	" {\n"
	"-\tseq_puts(m, saved_command_line);\n"
	"+\tseq_puts(m, \"patched\");\n"
	" \treturn 0;\n"
	" }\n"
	"diff -ruN linux-6.1.orig/fs/proc/extra.c linux-6.1/fs/proc/extra.c\n"
	"--- linux-6.1.orig/fs/proc/extra.c\t1970-01-01 01:00:00.000000000 +0100\n"
	"+++ linux-6.1/fs/proc/extra.c\t2024-01-02 10:00:00.000000000 +0100\n"
	"@@ -0,0 +1,2 @@\n"
	"+hello\n"
	"+world\n"
	"diff -ruN linux-6.1.orig/fs/proc/gone.c linux-6.1/fs/proc/gone.c\n"
	"--- linux-6.1.orig/fs/proc/gone.c\t2024-01-01 10:00:00.000000000 +0100\n"
	"+++ linux-6.1/fs/proc/gone.c\t1970-01-01 01:00:00.000000000 +0100\n"
	"@@ -1,2 +0,0 @@\n"
	"-bye\n"
	"-now\n";

static struct elp_patch *parse_ok(struct elp_ctx *ctx, const char *origin,
				  const char *text)
{
	struct elp_patch *p = NULL;
	int err = elp_patch_parse(ctx, origin, text, strlen(text), &p);

	if (err)
		fail_msg("parse failed: %d: %s", err, last_error);
	assert_non_null(p);
	return p;
}

static void parse_fails_len(const char *text, size_t len, const char *expect)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = (struct elp_patch *)1;
	int err;

	err = elp_patch_parse(ctx, "bad.patch", text, len, &p);
	assert_int_equal(err, -EBADMSG);
	assert_null(p);
	if (!strstr(last_error, expect))
		fail_msg("error '%s' does not contain '%s'", last_error,
			 expect);
	assert_int_equal(nr_errors, 1);
	elp_ctx_free(ctx);
}

static void parse_fails(const char *text, const char *expect)
{
	parse_fails_len(text, strlen(text), expect);
}

static void test_parse_mail(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "/x/0001-proc-fix.patch", MAIL);

	(void)state;
	assert_string_equal(p->name, "0001-proc-fix");
	assert_string_equal(p->subject,
			    "proc: fix cmdline output (CVE-2024-1111)");
	assert_string_equal(p->origin, "/x/0001-proc-fix.patch");
	assert_int_equal(strlen(p->sha256), 64);
	assert_string_equal(p->content, MAIL);
	assert_int_equal(p->nr_files, 1);
	assert_string_equal(p->files[0].path, "fs/proc/cmdline.c");
	assert_string_equal(p->files[0].status, "modified");
	assert_int_equal(p->files[0].hunks, 1);
	assert_int_equal(p->files[0].additions, 1);
	assert_int_equal(p->files[0].deletions, 1);
	assert_int_equal(p->files[0].nr_functions, 1);
	assert_string_equal(p->files[0].functions[0], "cmdline_proc_show");
	assert_int_equal(p->nr_cves, 2);
	assert_string_equal(p->cves[0], "CVE-2024-1111");
	assert_string_equal(p->cves[1], "CVE-2024-22222");
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_parse_git_diff(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "fix.diff", GITDIFF);

	(void)state;
	assert_string_equal(p->name, "fix");
	assert_null(p->subject);
	assert_int_equal(p->nr_cves, 0);
	assert_int_equal(p->nr_files, 3);
	assert_string_equal(p->files[0].path, "kernel/new.c");
	assert_string_equal(p->files[0].status, "added");
	assert_int_equal(p->files[0].additions, 2);
	assert_string_equal(p->files[1].path, "kernel/old.c");
	assert_string_equal(p->files[1].status, "deleted");
	assert_int_equal(p->files[1].deletions, 1);
	assert_string_equal(p->files[2].path, "kernel/sys.c");
	assert_string_equal(p->files[2].status, "modified");
	assert_int_equal(p->files[2].hunks, 2);
	assert_int_equal(p->files[2].additions, 2);
	assert_int_equal(p->files[2].deletions, 1);
	assert_int_equal(p->files[2].nr_functions, 2);
	assert_string_equal(p->files[2].functions[0], "__do_sys_newuname");
	assert_string_equal(p->files[2].functions[1], "override_release");
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_parse_plain(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "plain.patch", PLAIN);

	(void)state;
	assert_int_equal(p->nr_files, 3);
	assert_string_equal(p->files[0].path, "fs/proc/cmdline.c");
	assert_string_equal(p->files[0].status, "modified");
	assert_string_equal(p->files[0].functions[0], "cmdline_proc_show");
	assert_string_equal(p->files[1].path, "fs/proc/extra.c");
	assert_string_equal(p->files[1].status, "added");
	assert_int_equal(p->files[1].additions, 2);
	assert_string_equal(p->files[2].path, "fs/proc/gone.c");
	assert_string_equal(p->files[2].status, "deleted");
	assert_int_equal(p->files[2].deletions, 2);
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_parse_plain_dev_null(void **state)
{
	static const char text[] = "--- /dev/null\n"
				   "+++ b/drivers/x.c\n"
				   "@@ -0,0 +1 @@\n"
				   "+x\n"
				   "--- a/drivers/y.c\n"
				   "+++ /dev/null\n"
				   "@@ -1 +0,0 @@\n"
				   "-y\n";
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "n.patch", text);

	(void)state;
	assert_int_equal(p->nr_files, 2);
	assert_string_equal(p->files[0].path, "drivers/x.c");
	assert_string_equal(p->files[0].status, "added");
	assert_string_equal(p->files[1].path, "drivers/y.c");
	assert_string_equal(p->files[1].status, "deleted");
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_reject(void **state)
{
	static const char with_nul[] =
		"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\0\n";

	(void)state;
	parse_fails("", "bad.patch:1: empty file");
	parse_fails("\n\n  \n", "bad.patch:1: empty file");
	parse_fails("just some text\nand more\n",
		    "bad.patch:2: not a unified diff");
	parse_fails("--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n a\n-b\nGARBAGE\n",
		    "bad.patch:6: unexpected line in hunk '@@ -1,2 +1,2 @@'");
	parse_fails("--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n",
		    "bad.patch:6: truncated hunk '@@ -1,3 +1,3 @@'");
	parse_fails(
		"--- a/x.c\n+++ b/x.c\n@@ -1,1 +1,1 @@\n a\n-b\n",
		"bad.patch:5: hunk '@@ -1,1 +1,1 @@' (line 3) has more lines");
	parse_fails("intro\n--- a/x.c\n+++ b/x.c\n@@ -1,x +1 @@\n a\n",
		    "bad.patch:4: invalid hunk header '@@ -1,x +1 @@'");
	parse_fails("--- a/x.c\n+++ b/x.c\nnot a hunk\n",
		    "bad.patch:3: file section 'x.c' has no hunks");
	parse_fails("@@ -1 +1 @@\n-a\n+b\n",
		    "bad.patch:1: hunk outside a file");
	parse_fails(
		"--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n",
		"bad.patch:1: unsafe path '../etc/passwd'");
	parse_fails(
		"diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n",
		"bad.patch:5: truncated hunk");
	parse_fails("diff --git a/x.c b/x.c\n",
		    "bad.patch:1: 'diff --git' line without any change");
	parse_fails_len(with_nul, sizeof(with_nul) - 1,
			"bad.patch:5: binary data");
}

static void test_cve(void **state)
{
	struct elp_patch p = { 0 };

	(void)state;
	assert_true(elp_cve_is_valid("CVE-2024-1234"));
	assert_true(elp_cve_is_valid("cve-2024-123456"));
	assert_false(elp_cve_is_valid("CVE-2024-123"));
	assert_false(elp_cve_is_valid("CVE-24-1234"));
	assert_false(elp_cve_is_valid("CVE-2024-1234x"));
	assert_false(elp_cve_is_valid("CVE2024-1234"));
	assert_false(elp_cve_is_valid(" CVE-2024-1234"));
	assert_false(elp_cve_is_valid(""));
	assert_int_equal(elp_patch_add_cve(&p, "cve-2023-4567"), 0);
	assert_int_equal(elp_patch_add_cve(&p, "CVE-2023-4567"), 0);
	assert_int_equal(elp_patch_add_cve(&p, "CVE-2023-45"), -EINVAL);
	assert_int_equal(p.nr_cves, 1);
	assert_string_equal(p.cves[0], "CVE-2023-4567");
	free(p.cves[0]);
	free(p.cves);
}

/* ---- applying ---- */

static char tmpdir[256];
static struct elp_ctx *quiet_ctx;

static void put(const char *rel, const char *text)
{
	char path[512], *slash;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(elp_mkdir_p(quiet_ctx, path, 0755), 0);
	*slash = '/';
	assert_int_equal(elp_write_file_atomic(quiet_ctx, path, text,
					       strlen(text), 0644),
			 0);
}

static char *get(const char *rel)
{
	char path[512], *data = NULL;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	if (access(path, F_OK) < 0 ||
	    elp_read_file(quiet_ctx, path, &data, NULL) < 0)
		data = NULL;
	return data;
}

static void assert_file(const char *rel, const char *want)
{
	char *got = get(rel);

	if (!want) {
		if (got)
			fail_msg("'%s' should not exist", rel);
		return;
	}
	if (!got)
		fail_msg("'%s' is missing", rel);
	assert_string_equal(got, want);
	free(got);
}

static int setup_tree(void **state)
{
	(void)state;
	if (!quiet_ctx)
		quiet_ctx = elp_ctx_new();
	snprintf(tmpdir, sizeof(tmpdir), "%s/elp-test-patch.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown_tree(void **state)
{
	(void)state;
	return elp_rm_rf(quiet_ctx, tmpdir);
}

static void test_apply_mail(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "mail.patch", MAIL);

	(void)state;
	put("fs/proc/cmdline.c", CMDLINE);
	put("untouched.c", "same\n");
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, false), 0);
	assert_file("fs/proc/cmdline.c", CMDLINE_PATCHED);
	assert_file("untouched.c", "same\n");
	/* applying twice does not apply */
	assert_int_not_equal(elp_patch_apply(ctx, tmpdir, p, false), 0);
	assert_non_null(strstr(
		last_error,
		"patch 'mail' does not apply: fs/proc/cmdline.c: @@ -2,4 +2,4 @@ static int cmdline_proc_show"));
	assert_file("fs/proc/cmdline.c", CMDLINE_PATCHED);
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, true), 0);
	assert_file("fs/proc/cmdline.c", CMDLINE);
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_apply_git_and_reverse(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "g.patch", GITDIFF);
	struct stat st;
	char path[512];

	(void)state;
	put("kernel/old.c", "int old_thing;\n");
	put("kernel/sys.c", SYS);
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, false), 0);
	assert_file("kernel/new.c", "int new_thing;\nint other_thing;\n");
	assert_file("kernel/old.c", NULL);
	assert_file("kernel/sys.c", SYS_PATCHED);
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, true), 0);
	assert_file("kernel/new.c", NULL);
	assert_file("kernel/old.c", "int old_thing;\n");
	assert_file("kernel/sys.c", SYS);
	snprintf(path, sizeof(path), "%s/kernel/sys.c", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* reversing what is not applied fails and changes nothing */
	assert_int_not_equal(elp_patch_apply(ctx, tmpdir, p, true), 0);
	assert_file("kernel/sys.c", SYS);
	assert_file("kernel/old.c", "int old_thing;\n");
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_apply_plain_new_dir(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	static const char text[] =
		"--- a/fs/proc/cmdline.c\t2024-01-01 10:00:00\n"
		"+++ b/fs/proc/cmdline.c\t2024-01-01 10:00:00\n"
		"@@ -2,4 +2,4 @@ static int cmdline_proc_show(struct seq_file *m, void *v)\n"
		" {\n"
		"-\tseq_puts(m, saved_command_line);\n"
		"+\tseq_puts(m, \"patched\");\n"
		" \treturn 0;\n"
		" }\n"
		"--- a/fs/newdir/deep/file.c\t1970-01-01 00:00:00.000000000 +0000\n"
		"+++ b/fs/newdir/deep/file.c\t2024-01-01 10:00:00\n"
		"@@ -0,0 +1 @@\n"
		"+new\n";
	struct elp_patch *p = parse_ok(ctx, "p.patch", text);
	char path[512];

	(void)state;
	put("fs/proc/cmdline.c", CMDLINE);
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, false), 0);
	assert_file("fs/proc/cmdline.c", CMDLINE_PATCHED);
	assert_file("fs/newdir/deep/file.c", "new\n");
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, true), 0);
	assert_file("fs/proc/cmdline.c", CMDLINE);
	assert_file("fs/newdir/deep/file.c", NULL);
	snprintf(path, sizeof(path), "%s/fs/newdir", tmpdir);
	assert_false(elp_is_dir(path));
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_apply_offset(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "mail.patch", MAIL);
	char shifted[512], want[512];

	(void)state;
	snprintf(shifted, sizeof(shifted), "/* one */\n/* two */\n%s", CMDLINE);
	snprintf(want, sizeof(want), "/* one */\n/* two */\n%s",
		 CMDLINE_PATCHED);
	put("fs/proc/cmdline.c", shifted);
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, false), 0);
	assert_file("fs/proc/cmdline.c", want);
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, true), 0);
	assert_file("fs/proc/cmdline.c", shifted);
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

static void test_apply_failure_untouched(void **state)
{
	struct elp_ctx *ctx = new_ctx();
	struct elp_patch *p = parse_ok(ctx, "g.patch", GITDIFF);
	static const char sys_changed[] =
		"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nX\nl\nm\n";

	(void)state;
	/* new.c and old.c would apply; sys.c's second hunk does not */
	put("kernel/old.c", "int old_thing;\n");
	put("kernel/sys.c", sys_changed);
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, false), -EINVAL);
	assert_non_null(strstr(
		last_error,
		"patch 'g' does not apply: kernel/sys.c: @@ -10,3 +10,4 @@ static int override_release"));
	assert_file("kernel/new.c", NULL);
	assert_file("kernel/old.c", "int old_thing;\n");
	assert_file("kernel/sys.c", sys_changed);

	/* a file to delete that differs */
	put("kernel/sys.c", SYS);
	put("kernel/old.c", "int something_else;\n");
	assert_int_not_equal(elp_patch_apply(ctx, tmpdir, p, false), 0);
	assert_non_null(
		strstr(last_error, "kernel/old.c: the file to delete differs"));
	assert_file("kernel/sys.c", SYS);

	/* a file to create that exists */
	put("kernel/old.c", "int old_thing;\n");
	put("kernel/new.c", "already\n");
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, false), -EEXIST);
	assert_non_null(strstr(last_error, "kernel/new.c: already exists"));
	assert_file("kernel/new.c", "already\n");
	assert_file("kernel/sys.c", SYS);

	/* a file to modify that is missing */
	unlink(strcat(strcpy((char[512]){ 0 }, tmpdir), "/kernel/new.c"));
	unlink(strcat(strcpy((char[512]){ 0 }, tmpdir), "/kernel/sys.c"));
	assert_int_equal(elp_patch_apply(ctx, tmpdir, p, false), -ENOENT);
	assert_non_null(strstr(last_error, "kernel/sys.c: no such file"));
	assert_file("kernel/old.c", "int old_thing;\n");
	assert_file("kernel/new.c", NULL);
	elp_patch_free(p);
	elp_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_mail),
		cmocka_unit_test(test_parse_git_diff),
		cmocka_unit_test(test_parse_plain),
		cmocka_unit_test(test_parse_plain_dev_null),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_cve),
		cmocka_unit_test_setup_teardown(test_apply_mail, setup_tree,
						teardown_tree),
		cmocka_unit_test_setup_teardown(test_apply_git_and_reverse,
						setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_apply_plain_new_dir,
						setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_apply_offset, setup_tree,
						teardown_tree),
		cmocka_unit_test_setup_teardown(test_apply_failure_untouched,
						setup_tree, teardown_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
