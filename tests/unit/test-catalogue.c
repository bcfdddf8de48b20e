// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests: catalogue open/migrate, kernel rows, config parsing, times. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/catalogue-internal.h"
#include "lib/catalogue.h"
#include "lib/history.h"
#include "lib/kernel.h"
#include "lib/util.h"

struct fixture {
	char dir[64];
	char path[96];
	struct elp_ctx *ctx;
	struct elp_catalogue *cat;
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

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/elp-unit.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/c.db", f->dir);
	f->ctx = elp_ctx_new();
	elp_set_log_fn(f->ctx, capture_log, f);
	if (elp_catalogue_open(f->ctx, f->path, 0, &f->cat))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	elp_catalogue_close(f->cat);
	elp_rm_rf(f->ctx, f->dir);
	elp_ctx_free(f->ctx);
	free(f);
	return 0;
}

static struct elp_kernel *new_kernel(const char *name, const char *release)
{
	struct elp_kernel *k = calloc(1, sizeof(*k));

	k->name = strdup(name);
	k->release = strdup(release);
	elp_kernel_set_config(
		k, "CONFIG_LIVEPATCH=y\n"
		   "CONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian) 12\"\n");
	return k;
}

static void test_schema_version(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *stmt;

	assert_int_equal(
		elp_catalogue_prepare(f->cat, "PRAGMA user_version", &stmt), 0);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0),
			 elp_catalogue_schema_version());
	sqlite3_finalize(stmt);
	assert_true(elp_catalogue_schema_version() >= 2);
}

static void test_reopen_is_idempotent(void **state)
{
	struct fixture *f = *state;
	struct elp_catalogue *again;

	assert_int_equal(elp_catalogue_open(f->ctx, f->path, 0, &again), 0);
	elp_catalogue_close(again);
}

static void test_kernel_store_find(void **state)
{
	struct fixture *f = *state;
	struct elp_kernel *a = new_kernel("a", "6.1.0-1-amd64");
	struct elp_kernel *b = new_kernel("b", "6.1.0-1-amd64");
	struct elp_kernel *found = NULL;

	assert_int_equal(elp_kernel_store(f->cat, a), 0);
	assert_int_equal(elp_kernel_store(f->cat, b), 0);
	assert_true(a->id > 0 && b->id > a->id);

	assert_int_equal(elp_kernel_find(f->cat, "b", &found), 0);
	assert_string_equal(found->release, "6.1.0-1-amd64");
	assert_true(found->livepatch);
	assert_string_equal(found->cc_version_text, "gcc-12 (Debian) 12");
	elp_kernel_free(found);

	/* two kernels share the release: ambiguous, not a guess */
	assert_int_equal(elp_kernel_find(f->cat, "6.1.0-1-amd64", &found),
			 -EINVAL);
	assert_non_null(strstr(f->last_error, "ambiguous"));
	assert_int_equal(elp_kernel_find(f->cat, "nope", &found), -ENOENT);

	/* duplicate names are refused, and say which */
	assert_int_equal(elp_kernel_store(f->cat, a), -EEXIST);
	assert_non_null(strstr(f->last_error, "kernel 'a' is already"));
	elp_kernel_free(a);
	elp_kernel_free(b);
}

static void test_foreign_keys_enforced(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *stmt;

	assert_int_equal(
		elp_catalogue_prepare(
			f->cat,
			"INSERT INTO kernel_patches VALUES (999, 1, 999)",
			&stmt),
		0);
	assert_int_equal(elp_catalogue_step_done(f->cat, stmt, "insert"),
			 -EEXIST);
	assert_non_null(strstr(f->last_error, "FOREIGN KEY"));
}

static void test_rollback_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct elp_kernel *k = new_kernel("gone", "6.6.6");
	struct elp_kernel *found = NULL;

	assert_int_equal(elp_catalogue_begin(f->cat), 0);
	assert_int_equal(elp_kernel_store(f->cat, k), 0);
	elp_catalogue_rollback(f->cat);
	assert_int_equal(elp_kernel_find(f->cat, "gone", &found), -ENOENT);
	elp_kernel_free(k);
}

static void test_config_get(void **state)
{
	const char *config = "# comment\n"
			     "CONFIG_A=y\n"
			     "CONFIG_AB=m\n"
			     "CONFIG_TEXT=\"quoted value\"\n"
			     "# CONFIG_OFF is not set\n";
	char *v;

	(void)state;
	v = elp_config_get(config, "CONFIG_A");
	assert_string_equal(v, "y");
	free(v);
	v = elp_config_get(config, "CONFIG_AB");
	assert_string_equal(v, "m");
	free(v);
	v = elp_config_get(config, "CONFIG_TEXT");
	assert_string_equal(v, "quoted value");
	free(v);
	assert_null(elp_config_get(config, "CONFIG_OFF"));
	assert_null(elp_config_get(config, "CONFIG"));
}

static void test_parse_time(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(elp_parse_time("2023-11-14", 0, &t), 0);
	assert_int_equal(t, 1699920000);
	assert_int_equal(elp_parse_time("2023-11-14 22:13:20", 0, &t), 0);
	assert_int_equal(t, 1700000000);
	assert_int_equal(elp_parse_time("2023-11-14T22:13:20Z", 0, &t), 0);
	assert_int_equal(t, 1700000000);
	assert_int_equal(elp_parse_time("@42", 0, &t), 0);
	assert_int_equal(t, 42);
	assert_int_equal(elp_parse_time("2 days ago", 1000000, &t), 0);
	assert_int_equal(t, 1000000 - 2 * 86400);
	assert_int_equal(elp_parse_time("1 week ago", 1000000, &t), 0);
	assert_int_equal(t, 1000000 - 604800);
	assert_int_equal(elp_parse_time("yesterday", 0, &t), -EINVAL);
	assert_int_equal(elp_parse_time("2023-13-45", 0, &t), -EINVAL);
	assert_int_equal(elp_parse_time("@12x", 0, &t), -EINVAL);
}

static void test_sha256(void **state)
{
	char hex[ELP_SHA256_HEX_LEN + 1];

	(void)state;
	assert_int_equal(elp_sha256_hex("abc", 3, hex), 0);
	assert_string_equal(
		hex,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* A program that cannot run is an error, not "exit 127". */
static void test_run_exec_failure(void **state)
{
	const char *const missing[] = { "/nonexistent/elp-no-such-program",
					NULL };
	const char *const exits127[] = { "sh", "-c", "exit 127", NULL };
	const char *const echo[] = { "sh", "-c", "echo hi", NULL };
	struct elp_ctx *ctx = elp_ctx_new();
	struct elp_buf out = { 0 };

	(void)state;
	elp_set_log_priority(ctx, -1);
	assert_int_equal(elp_run(ctx, missing, NULL, -1, NULL), -ENOENT);
	assert_int_equal(elp_run(ctx, exits127, NULL, -1, NULL), 127);
	assert_int_equal(elp_run(ctx, echo, "/nonexistent/elp-dir", -1, NULL),
			 -ENOENT);
	assert_int_equal(elp_run(ctx, echo, NULL, -1, &out), 0);
	assert_string_equal(out.data, "hi\n");
	elp_buf_free(&out);
	elp_ctx_free(ctx);
}

/* A buffer remembers a failed append; freeing forgets it. */
static void test_buf_sticky_error(void **state)
{
	struct elp_buf b = { 0 };

	(void)state;
	assert_int_equal(elp_buf_puts(&b, "a"), 0);
	b.err = -ENOMEM; /* as a failed realloc leaves it */
	assert_int_equal(elp_buf_puts(&b, "b"), -ENOMEM);
	assert_int_equal(elp_buf_printf(&b, "%d", 1), -ENOMEM);
	assert_string_equal(b.data, "a");
	assert_int_equal(elp_buf_error(&b), -ENOMEM);
	elp_buf_free(&b);
	assert_int_equal(elp_buf_error(&b), 0);
	assert_int_equal(elp_buf_puts(&b, "c"), 0);
	assert_string_equal(b.data, "c");
	elp_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_version, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reopen_is_idempotent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_store_find, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_foreign_keys_enforced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing,
						setup, teardown),
		cmocka_unit_test(test_config_get),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_run_exec_failure),
		cmocka_unit_test(test_buf_sticky_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
