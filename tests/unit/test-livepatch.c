// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests: /sys/kernel/livepatch and /proc reads under the context's
 * ELP_SET_ROOT, the signature policy, the verify log verdicts, the initramfs writer,
 * signature detection, and the catalogue's applied-build lookup.
 */
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

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "lib/catalogue-internal.h"
#include "lib/catalogue.h"
#include "lib/livepatch.h"
#include "lib/qemu.h"
#include "lib/sign.h"
#include "lib/util.h"

struct fixture {
	char dir[64];
	struct elp_ctx *ctx;
	char last_error[512];
};

static void capture_log(void *data, int priority, const char *file, int line,
			const char *fn, const char *format, va_list args)
{
	struct fixture *f = data;

	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(f->last_error, sizeof(f->last_error), format, args);
}

static void put(struct fixture *f, const char *rel, const char *content)
{
	char path[512], *slash;

	snprintf(path, sizeof(path), "%s%s", f->dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(elp_mkdir_p(f->ctx, path, 0755), 0);
	*slash = '/';
	if (content)
		assert_int_equal(elp_write_file_atomic(f->ctx, path, content,
						       strlen(content), 0644),
				 0);
	else
		assert_int_equal(elp_mkdir_p(f->ctx, path, 0755), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/elp-unit-lp.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->ctx = elp_ctx_new();
	elp_set_log_fn(f->ctx, capture_log, f);
	if (elp_set(f->ctx, ELP_SET_ROOT, f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	elp_rm_rf(f->ctx, f->dir);
	elp_ctx_free(f->ctx);
	free(f);
	return 0;
}

static void make_patch(struct fixture *f, const char *name, int enabled,
		       int transition)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "/sys/kernel/livepatch/%s/enabled", name);
	put(f, rel, enabled ? "1\n" : "0\n");
	snprintf(rel, sizeof(rel), "/sys/kernel/livepatch/%s/transition", name);
	put(f, rel, transition ? "1\n" : "0\n");
	snprintf(rel, sizeof(rel),
		 "/sys/kernel/livepatch/%s/vmlinux/cmdline_proc_show,1", name);
	put(f, rel, NULL);
	snprintf(rel, sizeof(rel),
		 "/sys/kernel/livepatch/%s/vmlinux/do_sys_open,2", name);
	put(f, rel, NULL);
	snprintf(rel, sizeof(rel), "/sys/kernel/livepatch/%s/vmlinux/patched",
		 name);
	put(f, rel, "1\n");
}

static void test_read_and_list(void **state)
{
	struct fixture *f = *state;
	struct elp_livepatch *lp, **list;
	size_t nr;

	assert_false(elp_lp_supported(f->ctx));
	put(f, "/sys/kernel/livepatch", NULL);
	assert_true(elp_lp_supported(f->ctx));
	assert_int_equal(elp_lp_read(f->ctx, "nope", &lp), -ENOENT);
	assert_int_equal(elp_lp_read(f->ctx, "../x", &lp), -ENOENT);
	make_patch(f, "b_patch", 1, 0);
	make_patch(f, "a_patch", 0, 1);

	assert_int_equal(elp_lp_read(f->ctx, "b_patch", &lp), 0);
	assert_string_equal(lp->name, "b_patch");
	assert_int_equal(lp->enabled, 1);
	assert_int_equal(lp->transition, 0);
	assert_int_equal(lp->nr_objects, 1);
	assert_string_equal(lp->objects[0].name, "vmlinux");
	assert_int_equal(lp->objects[0].patched, 1);
	assert_int_equal(lp->objects[0].nr_funcs, 2);
	assert_string_equal(lp->objects[0].funcs[0].name, "cmdline_proc_show");
	assert_int_equal(lp->objects[0].funcs[0].sympos, 1);
	assert_string_equal(lp->objects[0].funcs[1].name, "do_sys_open");
	assert_int_equal(lp->objects[0].funcs[1].sympos, 2);
	elp_lp_free(lp);

	assert_int_equal(elp_lp_list(f->ctx, &list, &nr), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(list[0]->name, "a_patch");
	assert_int_equal(list[0]->enabled, 0);
	assert_int_equal(list[0]->transition, 1);
	assert_string_equal(list[1]->name, "b_patch");
	elp_lp_list_free(list, nr);
}

static void test_wait(void **state)
{
	struct fixture *f = *state;
	long long t0;

	make_patch(f, "p", 1, 1);
	t0 = elp_now_ms();
	assert_int_equal(elp_lp_wait(f->ctx, "p", 200), -ETIMEDOUT);
	assert_true(elp_now_ms() - t0 >= 200);
	put(f, "/sys/kernel/livepatch/p/transition", "0\n");
	assert_int_equal(elp_lp_wait(f->ctx, "p", 200), 0);
	/* a disabled patch is freed: its directory goes */
	assert_int_equal(elp_lp_wait(f->ctx, "gone", 200), 0);
}

static void test_blockers(void **state)
{
	struct fixture *f = *state;
	struct elp_lp_blocker *b;
	struct elp_livepatch *lp;
	size_t nr;

	make_patch(f, "p", 1, 1);
	/* enabling: target 1; task 10 unpatched in a patched function */
	put(f, "/proc/10/task/10/patch_state", "0\n");
	put(f, "/proc/10/task/10/comm", "worker\n");
	put(f, "/proc/10/task/10/stack",
	    "[<0>] __schedule+0x1/0x2\n[<0>] do_sys_open+0x10/0x20\n");
	put(f, "/proc/10/task/11/patch_state", "0\n");
	put(f, "/proc/10/task/11/comm", "worker2\n");
	put(f, "/proc/10/task/11/stack", "[<0>] do_sys_openat2+0x1/0x2\n");
	put(f, "/proc/12/task/12/patch_state", "1\n");
	put(f, "/proc/13/task/13/patch_state", "-1\n");
	put(f, "/proc/self/task/1/patch_state", "0\n");
	assert_int_equal(elp_lp_read(f->ctx, "p", &lp), 0);
	assert_int_equal(elp_lp_blockers(f->ctx, lp, &b, &nr), 0);
	assert_int_equal(nr, 2);
	if (b[0].tid != 10) { /* readdir order */
		struct elp_lp_blocker t = b[0];

		b[0] = b[1];
		b[1] = t;
	}
	assert_int_equal(b[0].pid, 10);
	assert_string_equal(b[0].comm, "worker");
	assert_string_equal(b[0].function, "do_sys_open");
	assert_non_null(b[0].stack);
	/* a prefix of a patched name is not the patched function */
	assert_int_equal(b[1].tid, 11);
	assert_null(b[1].function);
	elp_lp_blockers_free(b, nr);

	/* disabling: target 0, so the patched task 12 blocks */
	put(f, "/sys/kernel/livepatch/p/enabled", "0\n");
	elp_lp_free(lp);
	assert_int_equal(elp_lp_read(f->ctx, "p", &lp), 0);
	assert_int_equal(elp_lp_blockers(f->ctx, lp, &b, &nr), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(b[0].pid, 12);
	assert_null(b[0].comm);
	elp_lp_blockers_free(b, nr);
	elp_lp_free(lp);
}

static void test_release_and_signatures(void **state)
{
	struct fixture *f = *state;
	char *s = NULL;

	assert_int_equal(elp_lp_running_release(f->ctx, &s), -ENOENT);
	put(f, "/proc/sys/kernel/osrelease", "6.1.0-57-amd64\n");
	assert_int_equal(elp_lp_running_release(f->ctx, &s), 0);
	assert_string_equal(s, "6.1.0-57-amd64");
	free(s);

	assert_int_equal(elp_lp_sig_enforced(f->ctx, &s), 0);
	assert_null(s);
	put(f, "/sys/kernel/security/lockdown",
	    "[none] integrity confidentiality\n");
	assert_int_equal(elp_lp_sig_enforced(f->ctx, &s), 0);
	put(f, "/sys/kernel/security/lockdown",
	    "none integrity [confidentiality]\n");
	assert_int_equal(elp_lp_sig_enforced(f->ctx, &s), 1);
	assert_string_equal(s, "the kernel is locked down (confidentiality)");
	free(s);
	put(f, "/sys/module/module/parameters/sig_enforce", "Y\n");
	assert_int_equal(elp_lp_sig_enforced(f->ctx, &s), 1);
	assert_string_equal(s, "module.sig_enforce=1");
	free(s);

	assert_false(elp_module_loaded(f->ctx, "m"));
	put(f, "/sys/module/m", NULL);
	assert_true(elp_module_loaded(f->ctx, "m"));
}

static void test_module_is_signed(void **state)
{
	struct fixture *f = *state;
	char path[128];
	static const char sig[] = "ELF...data~Module signature appended~\n";

	snprintf(path, sizeof(path), "%s/m.ko", f->dir);
	assert_int_equal(
		elp_write_file_atomic(f->ctx, path, sig, sizeof(sig) - 1, 0644),
		0);
	assert_true(elp_module_is_signed(path));
	assert_int_equal(
		elp_write_file_atomic(f->ctx, path, sig, sizeof(sig) - 2, 0644),
		0);
	assert_false(elp_module_is_signed(path));
	assert_false(elp_module_is_signed("/nonexistent"));
	/* not an ELF: a clear error, not a libkmod crash */
	{
		struct elp_module_info *mi = NULL;

		assert_int_equal(elp_module_info_read(f->ctx, path, &mi),
				 -ENOEXEC);
		assert_non_null(strstr(f->last_error, "not a kernel module"));
	}
}

static void judge(const char *text, int boot, struct elp_verify_result *r)
{
	char *log = strdup(text);

	assert_int_equal(elp_verify_judge(log, boot, 5, r), 0);
	free(log);
}

static void test_verify_judge(void **state)
{
	struct elp_verify_result r;
	static const char good[] =
		"SeaBIOS\r\n\033[2JELP-VERIFY-BEGIN 6.1.0\r\n"
		"ELP-VERIFY-INSMOD 0\r\nELP-VERIFY-FUNC cmdline_proc_show,1\r\n"
		"ELP-VERIFY-TRANSITION done 170\r\n"
		"ELP-VERIFY-REDIRECT-ON vmlinux cmdline_proc_show,1 redirected\r\n"
		"ELP-VERIFY-DISABLE 0\r\nELP-VERIFY-UNPATCH done\r\n"
		"ELP-VERIFY-REDIRECT-OFF vmlinux cmdline_proc_show,1 direct\r\n"
		"ELP-VERIFY-RMMOD 0\r\n"
		"[ 1.0] livepatch: enabling patch 'p'\r\nELP-VERIFY-END\r\n";

	(void)state;
	judge(good, 0, &r);
	assert_true(r.passed);
	assert_null(r.reason);
	assert_int_equal(r.transition_ms, 170);

	judge("ELP-VERIFY-BEGIN x\nELP-VERIFY-INSMOD 0\n"
	      "ELP-VERIFY-FUNC kthreadd,1\nELP-VERIFY-TRANSITION timeout\n"
	      "ELP-VERIFY-BLOCKED 2/task/2 kthreadd\n"
	      "ELP-VERIFY-STACK [<0>] kthreadd+0x2bc/0x2d0\n"
	      "ELP-VERIFY-STACK [<0>] ret_from_fork+0x22/0x30\n"
	      "ELP-VERIFY-BLOCKED 7/task/8 sh\n"
	      "ELP-VERIFY-STACK [<0>] do_wait+0x1/0x2\n"
	      "ELP-VERIFY-DISABLE 0\nELP-VERIFY-UNPATCH done\n"
	      "ELP-VERIFY-RMMOD 0\nELP-VERIFY-END\n",
	      0, &r);
	assert_false(r.passed);
	assert_string_equal(
		r.reason,
		"the transition did not finish in 5 s (blocked: kthreadd (pid 2) in kthreadd; sh (pid 7))");
	elp_verify_result_clear(&r);

	judge("ELP-VERIFY-BEGIN x\nELP-VERIFY-INSMOD 0\n"
	      "ELP-VERIFY-TRANSITION done 10\n"
	      "[ 3.3] BUG: kernel NULL pointer dereference, address: 0\n"
	      "[ 3.3] Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
	      "ELP-VERIFY-DISABLE 0\nELP-VERIFY-UNPATCH done\n"
	      "ELP-VERIFY-RMMOD 0\nELP-VERIFY-END\n",
	      0, &r);
	assert_false(r.passed);
	assert_string_equal(
		r.reason,
		"the kernel log shows: [ 3.3] BUG: kernel NULL pointer dereference, address: 0");
	elp_verify_result_clear(&r);

	judge("ELP-VERIFY-BEGIN x\nELP-VERIFY-INSMOD 1\nELP-VERIFY-END\n", 0,
	      &r);
	assert_string_equal(r.reason,
			    "the module did not load (insmod status 1)");
	elp_verify_result_clear(&r);

	judge("SeaBIOS\n", -ETIMEDOUT, &r);
	assert_string_equal(
		r.reason,
		"the kernel did not reach the verify script (timed out)");
	elp_verify_result_clear(&r);

	judge("ELP-VERIFY-BEGIN x\nELP-VERIFY-INSMOD 0\n"
	      "ELP-VERIFY-TRANSITION done 10\nELP-VERIFY-CHECK 3\n",
	      -EIO, &r);
	assert_string_equal(r.reason, "the check script failed (status 3)");
	elp_verify_result_clear(&r);

	judge("ELP-VERIFY-BEGIN x\nELP-VERIFY-INSMOD 0\n"
	      "ELP-VERIFY-TRANSITION done 10\nELP-VERIFY-DISABLE 0\n"
	      "ELP-VERIFY-UNPATCH done\nELP-VERIFY-RMMOD 0\n",
	      -EIO, &r);
	assert_string_equal(r.reason, "the guest did not finish (panic?)");
	elp_verify_result_clear(&r);
}

static void test_initramfs(void **state)
{
	struct fixture *f = *state;
	struct elp_initramfs *ir = NULL;
	struct archive_entry *e;
	struct archive *a;
	char path[128], host[128], buf[64];
	int n = 0;

	snprintf(path, sizeof(path), "%s/initrd.gz", f->dir);
	snprintf(host, sizeof(host), "%s/hostfile", f->dir);
	assert_int_equal(elp_write_file_atomic(f->ctx, host, "hello", 5, 0644),
			 0);
	assert_int_equal(elp_initramfs_open(f->ctx, path, &ir), 0);
	assert_int_equal(elp_initramfs_dir(ir, "/bin"), 0);
	assert_int_equal(elp_initramfs_chardev(ir, "dev/console", 5, 1), 0);
	assert_int_equal(
		elp_initramfs_data(ir, "init", "#!/bin/sh\n", 10, 0755), 0);
	assert_int_equal(elp_initramfs_file(ir, "lp.ko", host, 0644), 0);
	assert_int_not_equal(elp_initramfs_file(ir, "x", "/nonexistent", 0644),
			     0);
	/* the failure sticks */
	assert_int_not_equal(elp_initramfs_close(ir), 0);

	assert_int_equal(elp_initramfs_open(f->ctx, path, &ir), 0);
	elp_initramfs_dir(ir, "/bin");
	elp_initramfs_chardev(ir, "dev/console", 5, 1);
	elp_initramfs_data(ir, "init", "#!/bin/sh\n", 10, 0755);
	elp_initramfs_file(ir, "lp.ko", host, 0644);
	assert_int_equal(elp_initramfs_close(ir), 0);

	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_cpio(a);
	assert_int_equal(archive_read_open_filename(a, path, 4096), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);

		n++;
		if (strcmp(name, "init") == 0) {
			assert_int_equal(archive_entry_perm(e), 0755);
			assert_int_equal(archive_read_data(a, buf, sizeof(buf)),
					 10);
		} else if (strcmp(name, "lp.ko") == 0) {
			assert_int_equal(archive_read_data(a, buf, sizeof(buf)),
					 5);
			assert_memory_equal(buf, "hello", 5);
		} else if (strcmp(name, "dev/console") == 0) {
			assert_int_equal(archive_entry_filetype(e), AE_IFCHR);
			assert_int_equal(archive_entry_rdevmajor(e), 5);
		} else {
			assert_string_equal(name, "bin");
		}
	}
	assert_int_equal(archive_format(a), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
	archive_read_free(a);
	assert_int_equal(n, 4);
	assert_false(elp_is_static_elf(host));
}

static void test_applied_build(void **state)
{
	struct fixture *f = *state;
	struct elp_catalogue *cat;
	struct elp_lp_build *b = NULL;
	char path[128], host[256] = "", sql[1024];

	snprintf(path, sizeof(path), "%s/c.db", f->dir);
	assert_int_equal(elp_catalogue_open(f->ctx, path, 0, &cat), 0);
	gethostname(host, sizeof(host) - 1);
	snprintf(
		sql, sizeof(sql),
		"INSERT INTO builds (id, kernel_release, module_name, inputs_sha256, status, artefact_path, artefact_sha256, created_at)"
		" VALUES (3, 'r', 'm', 'i', 'succeeded', '/x.ko', 'abc', 1), (4, 'r', 'm', 'i', 'succeeded', '/y.ko', 'def', 1);"
		"INSERT INTO events (time, kind, kernel_release, build_id, module, host) VALUES"
		" (10, 'apply', 'r', 3, 'm', '%s'), (11, 'apply', 'r', 4, 'm', 'elsewhere');",
		host);
	assert_int_equal(
		sqlite3_exec(elp_catalogue_db(cat), sql, NULL, NULL, NULL),
		SQLITE_OK);
	assert_int_equal(elp_lp_build_applied(cat, "m", "r", &b), 0);
	assert_int_equal(b->id, 3); /* this host's apply, not elsewhere's */
	assert_string_equal(b->artefact_path, "/x.ko");
	elp_lp_build_free(b);
	assert_int_equal(elp_lp_build_applied(cat, "m", "other", &b), -ENOENT);
	assert_int_equal(elp_lp_build_by_sha(cat, "def", &b), 0);
	assert_int_equal(b->id, 4);
	elp_lp_build_free(b);
	assert_int_equal(elp_lp_build_by_path(cat, "/nope", &b), -ENOENT);

	snprintf(
		sql, sizeof(sql),
		"INSERT INTO events (time, kind, kernel_release, build_id, module, host) VALUES"
		" (20, 'replace', 'r', 3, 'm', '%s');",
		host);
	sqlite3_exec(elp_catalogue_db(cat), sql, NULL, NULL, NULL);
	assert_int_equal(elp_lp_build_applied(cat, "m", "r", &b), -ENOENT);

	assert_int_equal(elp_lp_build_set_verified(cat, 3, false, "/log"), 0);
	assert_int_equal(elp_lp_build_get(cat, 3, &b), 0);
	assert_string_equal(b->verified, "failed");
	assert_string_equal(b->verify_log, "/log");
	elp_lp_build_free(b);
	assert_int_equal(elp_lp_build_get(cat, 99, &b), -ENOENT);
	elp_catalogue_close(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_and_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blockers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_and_signatures,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_module_is_signed, setup,
						teardown),
		cmocka_unit_test(test_verify_judge),
		cmocka_unit_test_setup_teardown(test_initramfs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_applied_build, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
