// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests: the overlay format (version ranges, fix.conf). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/overlay.h"

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

	if (!l)
		return -1;
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

static bool in(const char *range, const char *version)
{
	struct elp_version_range r;
	struct elp_version v;

	assert_int_equal(elp_version_range_parse(range, &r), 0);
	assert_int_equal(elp_version_parse(version, &v), 0);
	return elp_version_in_range(&r, &v);
}

static void test_version_ranges(void **state)
{
	struct elp_version_range r;
	struct elp_version v;

	(void)state;
	assert_true(in("6.1.150 <= v < 6.1.200", "6.1.150"));
	assert_true(in("6.1.150 <= v < 6.1.200", "6.1.199"));
	assert_false(in("6.1.150 <= v < 6.1.200", "6.1.200"));
	assert_false(in("6.1.150 <= v < 6.1.200", "6.1.149"));
	assert_true(in("6.1.150 <= v <= 6.1.200", "6.1.200"));
	assert_false(in("6.1.150 < v", "6.1.150"));
	assert_true(in("6.1 <= v < 6.2", "6.1.0"));
	assert_true(in("6.1 <= v < 6.2", "6.1.192"));
	assert_false(in("6.1 <= v < 6.2", "6.2"));
	assert_true(in("v < 6.2", "5.10.200"));
	assert_true(in("6.6 <= v", "6.10.1"));
	assert_false(in("6.6 <= v", "6.5.99"));
	assert_true(in("", "1.0"));
	/* a release's leading numbers */
	assert_int_equal(elp_version_parse("6.1.0-57-amd64", &v), 0);
	assert_true(v.v[0] == 6 && v.v[1] == 1 && v.v[2] == 0);
	assert_int_equal(elp_version_parse("6.6.30-gentoo", &v), 0);
	assert_true(v.v[2] == 30);
	assert_int_equal(elp_version_parse("v6", &v), -EINVAL);
	/* malformed ranges */
	assert_int_equal(elp_version_range_parse("6.1 to 6.2", &r), -EINVAL);
	assert_int_equal(elp_version_range_parse("v", &r), -EINVAL);
	assert_int_equal(elp_version_range_parse("6.1 <= x", &r), -EINVAL);
	assert_int_equal(elp_version_range_parse("6.1 >= v", &r), -EINVAL);
	assert_int_equal(elp_version_range_parse("6.1. <= v", &r), -EINVAL);
	assert_int_equal(elp_version_range_parse("v < 6.2 junk", &r), -EINVAL);
}

static void test_fix_conf(void **state)
{
	struct log *l = *state;
	struct elp_fix fix = { 0 };

	assert_int_equal(
		elp_fix_conf_parse(l->ctx, "fix.conf",
				   "# a fix\n"
				   "summary = proc: a fix\n"
				   "cve = cve-2024-1086, CVE-2023-0001\n"
				   "upstream = 0123456789abcdef\n"
				   "versions = 6.1.150 <= v < 6.1.200\n"
				   "requires = oot-a oot-b\n"
				   "cumulative-only = yes\n",
				   &fix),
		0);
	assert_string_equal(fix.summary, "proc: a fix");
	assert_int_equal(fix.nr_cves, 2);
	assert_string_equal(fix.cves[0], "CVE-2024-1086");
	assert_string_equal(fix.cves[1], "CVE-2023-0001");
	assert_string_equal(fix.upstream, "0123456789abcdef");
	assert_string_equal(fix.versions, "6.1.150 <= v < 6.1.200");
	assert_int_equal(fix.nr_requires, 2);
	assert_string_equal(fix.requires[1], "oot-b");
	assert_true(fix.cumulative_only);
	assert_string_equal(l->text, "");
	elp_fix_free(&fix);
}

static void test_fix_conf_errors(void **state)
{
	static const struct {
		const char *text, *message;
	} cases[] = {
		{ "cve = CVE-1\n", "fix.conf:1: invalid CVE id 'CVE-1'" },
		{ "summary = x\nversions = 6.1 to 6.2\n",
		  "fix.conf:2: invalid version range '6.1 to 6.2'" },
		{ "upstream = XYZ\n", "fix.conf:1: invalid upstream commit" },
		{ "colour = red\n", "fix.conf:1: unknown key 'colour'" },
		{ "summary\n", "fix.conf:1: expected 'key = value'" },
		{ "cumulative-only = maybe\n",
		  "fix.conf:1: cumulative-only is 'yes' or 'no'" },
		{ "cve = CVE-2024-1086\n", "fix.conf: no summary" },
	};
	struct log *l = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct elp_fix fix = { 0 };

		l->text[0] = '\0';
		assert_int_equal(elp_fix_conf_parse(l->ctx, "fix.conf",
						    cases[i].text, &fix),
				 -EINVAL);
		assert_non_null(strstr(l->text, cases[i].message));
		elp_fix_free(&fix);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_true(elp_overlay_name_is_valid("gentoo-livepatches"));
	assert_true(elp_overlay_name_is_valid("6.1.x_fixes"));
	assert_false(elp_overlay_name_is_valid("Upper"));
	assert_false(elp_overlay_name_is_valid("-dash"));
	assert_false(elp_overlay_name_is_valid("a/b"));
	assert_false(elp_overlay_name_is_valid("a:b"));
	assert_false(elp_overlay_name_is_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_ranges),
		cmocka_unit_test_setup_teardown(test_fix_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fix_conf_errors, setup,
						teardown),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
