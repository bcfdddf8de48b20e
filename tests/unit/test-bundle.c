// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests: bundles are reproducible, round-trip, and are bounded. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/bundle.h"
#include "lib/util.h"

struct fix {
	char dir[64];
	struct elp_ctx *ctx;
	char last[512];
};

static void capture(void *data, int priority, const char *file, int line,
		    const char *fn, const char *format, va_list args)
{
	struct fix *f = data;

	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(f->last, sizeof(f->last), format, args);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/elp-bundle.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->ctx = elp_ctx_new();
	elp_set_log_fn(f->ctx, capture, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	elp_rm_rf(f->ctx, f->dir);
	elp_ctx_free(f->ctx);
	free(f);
	return 0;
}

static char *path(const struct fix *f, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	return p;
}

/* Write b to DIR/name; the manifest's sha256 into sha. */
static void write_to(struct fix *f, struct elp_bundle *b, const char *name,
		     char sha[ELP_SHA256_HEX_LEN + 1])
{
	char *p = path(f, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(elp_bundle_write(f->ctx, b, fd, sha), 0);
	close(fd);
	free(p);
}

static char *slurp(const struct fix *f, const char *name, size_t *len)
{
	char *p = path(f, name), *data = NULL;

	assert_int_equal(elp_read_file(NULL, p, &data, len), 0);
	free(p);
	return data;
}

static void test_reproducible(void **state)
{
	struct fix *f = *state;
	struct elp_bundle a = { 0 }, b = { 0 };
	char sa[ELP_SHA256_HEX_LEN + 1], sb[ELP_SHA256_HEX_LEN + 1];
	char *da, *db, *file = path(f, "input");
	size_t la, lb;

	assert_int_equal(
		elp_write_file_atomic(f->ctx, file, "from a file\n", 12, 0600),
		0);
	/* the same entries, added in another order, one from a file */
	elp_bundle_add_data(&a, "config", "CONFIG_X=y\n", 11);
	elp_bundle_add_data(&a, "patches/000/x.patch", "diff\n", 5);
	elp_bundle_add_file(&a, "symbols", file);
	elp_bundle_add_file(&b, "symbols", file);
	elp_bundle_add_data(&b, "patches/000/x.patch", "diff\n", 5);
	elp_bundle_add_data(&b, "config", "CONFIG_X=y\n", 11);
	write_to(f, &a, "a.tar.zst", sa);
	sleep(1); /* a second later: no time in the bytes */
	write_to(f, &b, "b.tar.zst", sb);
	da = slurp(f, "a.tar.zst", &la);
	db = slurp(f, "b.tar.zst", &lb);
	assert_string_equal(sa, sb);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
	/* zstd magic */
	assert_memory_equal(da, "\x28\xb5\x2f\xfd", 4);
	free(da);
	free(db);
	free(file);
	elp_bundle_free(&a);
	elp_bundle_free(&b);
}

static void test_round_trip(void **state)
{
	struct fix *f = *state;
	struct elp_bundle b = { 0 };
	struct elp_bundle_limits lim = { 16, 1 << 20 };
	char sw[ELP_SHA256_HEX_LEN + 1], sr[ELP_SHA256_HEX_LEN + 1];
	char *p = path(f, "b.tar.zst"), *out = path(f, "out"), *data;
	int fd;

	elp_bundle_add_data(&b, "request", "format 1\n", 9);
	elp_bundle_add_data(&b, "patches/001/fix.patch", "--- a\n", 6);
	elp_bundle_add_data(&b, "empty", "", 0);
	write_to(f, &b, "b.tar.zst", sw);
	fd = open(p, O_RDONLY);
	assert_int_equal(elp_bundle_extract(f->ctx, fd, out, &lim, "t", sr), 0);
	close(fd);
	assert_string_equal(sw, sr);
	data = slurp(f, "out/patches/001/fix.patch", NULL);
	assert_string_equal(data, "--- a\n");
	free(data);
	data = slurp(f, "out/empty", NULL);
	assert_string_equal(data, "");
	free(data);
	free(p);
	free(out);
	elp_bundle_free(&b);
}

static void test_limits(void **state)
{
	struct fix *f = *state;
	struct elp_bundle b = { 0 };
	struct elp_bundle_limits few = { 2, 1 << 20 }, small = { 16, 10 };
	char *p = path(f, "b.tar.zst"), *out = path(f, "out");
	int fd;

	elp_bundle_add_data(&b, "a", "0123456789", 10);
	elp_bundle_add_data(&b, "b", "0123456789", 10);
	write_to(f, &b, "b.tar.zst", NULL);
	/* MANIFEST, a, b: three entries */
	fd = open(p, O_RDONLY);
	assert_int_equal(elp_bundle_extract(f->ctx, fd, out, &few, "t", NULL),
			 -EBADMSG);
	close(fd);
	assert_non_null(strstr(f->last, "more than 2 entries"));
	assert_false(elp_is_dir(out));
	fd = open(p, O_RDONLY);
	assert_int_equal(elp_bundle_extract(f->ctx, fd, out, &small, "t", NULL),
			 -EBADMSG);
	close(fd);
	assert_false(elp_is_dir(out));
	free(p);
	free(out);
	elp_bundle_free(&b);
}

static void test_bad_names_are_not_written(void **state)
{
	struct fix *f = *state;
	struct elp_bundle b = { 0 };
	char *p = path(f, "x");
	int fd = open(p, O_WRONLY | O_CREAT, 0644);

	elp_bundle_add_data(&b, "../up", "x", 1);
	assert_int_equal(elp_bundle_write(f->ctx, &b, fd, NULL), -EINVAL);
	assert_non_null(strstr(f->last, "invalid bundle entry name '../up'"));
	close(fd);
	free(p);
	elp_bundle_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reproducible, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names_are_not_written,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
