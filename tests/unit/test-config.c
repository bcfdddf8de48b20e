// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests: the elivepatch.conf parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/util.h"

/* every message the parser logs, one a line */
struct log {
	struct elp_ctx *ctx;
	char text[2048];
};

static void capture(void *data, int priority, const char *file, int line,
		    const char *fn, const char *format, va_list args)
{
	struct log *l = data;
	size_t n = strlen(l->text);

	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(l->text + n, sizeof(l->text) - n, format, args);
	n = strlen(l->text);
	if (n + 1 < sizeof(l->text))
		strcat(l->text, "\n");
}

static int setup(void **state)
{
	struct log *l = calloc(1, sizeof(*l));

	l->ctx = elp_ctx_new();
	elp_set_log_fn(l->ctx, capture, l);
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	struct log *l = *state;

	elp_ctx_free(l->ctx);
	free(l);
	return 0;
}

static void test_values(void **state)
{
	struct log *l = *state;
	struct elp_conf *c;

	assert_int_equal(elp_conf_parse(l->ctx, "t",
					"# comment\n"
					"\n"
					"  catalogue\t=  /var/lib/x/c.db  \n"
					"cache-dir=/var/cache/x\n"
					"   # indented comment\n"
					"datadir = /usr/share/x\n"
					"signing-key = /etc/k.pem\n"
					"signing-cert = /etc/c.pem\n"
					"patch-overlay = my-lp\n"
					"auto-apply = no\n"
					"sandbox = yes\n"
					"builders =   \n",
					&c),
			 0);
	assert_string_equal(l->text, "");
	assert_string_equal(c->catalogue, "/var/lib/x/c.db");
	assert_string_equal(c->cache_dir, "/var/cache/x");
	assert_string_equal(c->builders, "");
	assert_string_equal(c->datadir, "/usr/share/x");
	assert_string_equal(c->signing_key, "/etc/k.pem");
	assert_string_equal(c->signing_cert, "/etc/c.pem");
	assert_string_equal(c->patch_overlay, "my-lp");
	assert_true(elp_conf_yes(c->sandbox));
	assert_false(elp_conf_yes(c->auto_apply));
	assert_null(c->path);
	elp_conf_free(c);
}

static void test_empty_and_no_final_newline(void **state)
{
	struct log *l = *state;
	struct elp_conf *c;

	assert_int_equal(elp_conf_parse(l->ctx, "t", "", &c), 0);
	assert_null(c->catalogue);
	elp_conf_free(c);
	assert_int_equal(elp_conf_parse(l->ctx, "t", "datadir = /d", &c), 0);
	assert_string_equal(c->datadir, "/d");
	elp_conf_free(c);
}

static void test_every_bad_line_is_reported(void **state)
{
	struct log *l = *state;
	struct elp_conf *c = (struct elp_conf *)&c;

	assert_int_equal(elp_conf_parse(l->ctx, "/etc/e.conf",
					"foo = 1\n"
					"catalogue = /a\n"
					"catalogue = /b\n"
					"=\n"
					"builders = a  b\n",
					&c),
			 -EINVAL);
	assert_null(c);
	assert_string_equal(
		l->text,
		"/etc/e.conf:1: unknown key 'foo'\n"
		"/etc/e.conf:3: 'catalogue' is already set on line 2\n"
		"/etc/e.conf:4: expected 'key = value', got '='\n"
		"/etc/e.conf:5: builders 'a b' must be ssh://[user@]host[:port][/path] URLs\n");
}

static void test_builders(void **state)
{
	struct log *l = *state;
	struct elp_conf *c;

	assert_int_equal(
		elp_conf_parse(
			l->ctx, "t",
			"builders = ssh://a\tssh://u@b:22/opt/elivepatch \n",
			&c),
		0);
	assert_string_equal(c->builders, "ssh://a ssh://u@b:22/opt/elivepatch");
	elp_conf_free(c);
	assert_int_equal(
		elp_conf_parse(l->ctx, "t", "builders = ssh://a b\n", &c),
		-EINVAL);
}

static void test_load(void **state)
{
	struct log *l = *state;
	char dir[] = "/tmp/elp-unit-conf.XXXXXX", path[64];
	struct elp_conf *c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/e.conf", dir);
	/* missing: empty when optional, an error when named */
	assert_int_equal(elp_conf_load(l->ctx, path, true, &c), 0);
	assert_null(c->path);
	elp_conf_free(c);
	assert_int_equal(elp_conf_load(l->ctx, path, false, &c), -ENOENT);
	assert_non_null(strstr(l->text, "cannot read configuration"));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("cache-dir = /c\n", f);
	fclose(f);
	assert_int_equal(elp_conf_load(l->ctx, path, true, &c), 0);
	assert_string_equal(c->path, path);
	assert_string_equal(c->cache_dir, "/c");
	elp_conf_free(c);
	elp_rm_rf(l->ctx, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_no_final_newline,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_bad_line_is_reported,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_builders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
