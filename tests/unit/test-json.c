// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests: the JSON writer (src/lib/json.c) the --json outputs use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/json.h"

static void test_nesting(void **state)
{
	struct elp_json j = { 0 };
	char *const v[] = { "a", "b" };

	(void)state;
	elp_json_object(&j, NULL);
	elp_json_int(&j, "id", 7);
	elp_json_str(&j, "name", "x");
	elp_json_str(&j, "none", NULL);
	elp_json_bool(&j, "ok", true);
	elp_json_id(&j, "build", 0);
	elp_json_id(&j, "job", 3);
	elp_json_array(&j, "objects");
	elp_json_object(&j, NULL);
	elp_json_int(&j, "n", 1);
	elp_json_end(&j);
	elp_json_object(&j, NULL);
	elp_json_end(&j);
	elp_json_end(&j);
	elp_json_strv(&j, "v", v, 2);
	elp_json_csv(&j, "csv", "p,q");
	elp_json_csv(&j, "empty", NULL);
	elp_json_raw(&j, "raw", "{\"k\":1}");
	elp_json_end(&j);
	assert_int_equal(j.buf.err, 0);
	assert_int_equal(j.depth, 0);
	assert_string_equal(
		elp_json_text(&j),
		"{\"id\":7,\"name\":\"x\",\"none\":null,\"ok\":true,"
		"\"build\":null,\"job\":3,\"objects\":[{\"n\":1},{}],"
		"\"v\":[\"a\",\"b\"],\"csv\":[\"p\",\"q\"],\"empty\":[],"
		"\"raw\":{\"k\":1}}");
	elp_json_release(&j);
}

static void test_lines(void **state)
{
	struct elp_json j = { 0 };

	(void)state;
	elp_json_lines(&j, NULL);
	elp_json_end(&j);
	assert_string_equal(elp_json_text(&j), "[]");
	elp_json_reset(&j);
	assert_string_equal(elp_json_text(&j), "");
	elp_json_lines(&j, NULL);
	elp_json_object(&j, NULL);
	elp_json_end(&j);
	elp_json_int(&j, NULL, 2);
	elp_json_newline(&j);
	elp_json_end(&j);
	assert_string_equal(elp_json_text(&j), "[\n{},\n2\n\n]");
	elp_json_release(&j);
}

static void test_escapes(void **state)
{
	struct elp_json j = { 0 };

	(void)state;
	elp_json_str(&j, NULL, "q\"b\\n\nt\tr\r\x01 \xc3\xa9");
	assert_string_equal(elp_json_text(&j),
			    "\"q\\\"b\\\\n\\nt\\tr\\r\\u0001 \xc3\xa9\"");
	elp_json_release(&j);
}

static void test_too_deep(void **state)
{
	struct elp_json j = { 0 };
	int i;

	(void)state;
	for (i = 0; i <= ELP_JSON_DEPTH; i++)
		elp_json_array(&j, NULL);
	assert_int_not_equal(j.buf.err, 0);
	elp_json_release(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_too_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
