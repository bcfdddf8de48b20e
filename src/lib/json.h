/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small JSON writer (as git's json-writer): it appends to a buffer and
 * tracks the open objects and arrays, so callers write members and
 * elements without threading "first" flags.  Output is compact; an array
 * opened with elp_json_lines() puts each element on a line of its own.
 * Strings are passed through as UTF-8, control characters escaped.
 *
 * key names the member in an object; it is NULL for an array's elements
 * and for the top-level value.
 */
#ifndef ELP_JSON_H
#define ELP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define ELP_JSON_DEPTH 16

struct elp_json {
	struct elp_buf buf; /* what was written; errors are sticky */
	int depth; /* open objects and arrays */
	char close[ELP_JSON_DEPTH]; /* '}' or ']' for each */
	bool used[ELP_JSON_DEPTH]; /* a member or element written there */
	bool lines[ELP_JSON_DEPTH]; /* one element a line */
};

void elp_json_object(struct elp_json *j, const char *key);
void elp_json_array(struct elp_json *j, const char *key);
/* An array written "[\n" elem ",\n" elem "\n]", or "[]" when empty. */
void elp_json_lines(struct elp_json *j, const char *key);
/* Close the innermost object or array. */
void elp_json_end(struct elp_json *j);

/* s NULL writes null. */
void elp_json_str(struct elp_json *j, const char *key, const char *s);
void elp_json_int(struct elp_json *j, const char *key, int64_t v);
void elp_json_bool(struct elp_json *j, const char *key, bool v);
void elp_json_null(struct elp_json *j, const char *key);
/* text as it is: a JSON value the caller vouches for. */
void elp_json_raw(struct elp_json *j, const char *key, const char *text);
/* A catalogue id, null when 0 (none). */
void elp_json_id(struct elp_json *j, const char *key, int64_t id);
/* "a,b,c" (or NULL: empty) as an array of strings. */
void elp_json_csv(struct elp_json *j, const char *key, const char *csv);
/* n strings as an array. */
void elp_json_strv(struct elp_json *j, const char *key, char *const *v,
		   size_t n);

/* A newline after the value just written (outputs that have one there). */
void elp_json_newline(struct elp_json *j);

/* What was written, cleared for the next value; "" when nothing was. */
const char *elp_json_text(const struct elp_json *j);
void elp_json_reset(struct elp_json *j);
void elp_json_release(struct elp_json *j);

#endif
