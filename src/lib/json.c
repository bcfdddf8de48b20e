// SPDX-License-Identifier: GPL-2.0-or-later
/* The JSON writer of json.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void put_string(struct elp_buf *b, const char *s)
{
	if (!s) {
		elp_buf_puts(b, "null");
		return;
	}
	elp_buf_puts(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '"':
			elp_buf_puts(b, "\\\"");
			break;
		case '\\':
			elp_buf_puts(b, "\\\\");
			break;
		case '\n':
			elp_buf_puts(b, "\\n");
			break;
		case '\t':
			elp_buf_puts(b, "\\t");
			break;
		case '\r':
			elp_buf_puts(b, "\\r");
			break;
		default:
			if (ch < 0x20)
				elp_buf_printf(b, "\\u%04x", ch);
			else
				elp_buf_append(b, s, 1);
		}
	}
	elp_buf_puts(b, "\"");
}

/* The separator before a value at the current level, and its key. */
static void begin_value(struct elp_json *j, const char *key)
{
	int d = j->depth;

	if (d > 0) {
		if (j->used[d - 1])
			elp_buf_puts(&j->buf, j->lines[d - 1] ? ",\n" : ",");
		else if (j->lines[d - 1])
			elp_buf_puts(&j->buf, "\n");
		j->used[d - 1] = true;
	}
	if (key) {
		put_string(&j->buf, key);
		elp_buf_puts(&j->buf, ":");
	}
}

static void open_level(struct elp_json *j, const char *key, char open,
		       char close, bool lines)
{
	begin_value(j, key);
	elp_buf_append(&j->buf, &open, 1);
	if (j->depth >= ELP_JSON_DEPTH) {
		j->buf.err = -E2BIG;
		return;
	}
	j->close[j->depth] = close;
	j->used[j->depth] = false;
	j->lines[j->depth] = lines;
	j->depth++;
}

void elp_json_object(struct elp_json *j, const char *key)
{
	open_level(j, key, '{', '}', false);
}

void elp_json_array(struct elp_json *j, const char *key)
{
	open_level(j, key, '[', ']', false);
}

void elp_json_lines(struct elp_json *j, const char *key)
{
	open_level(j, key, '[', ']', true);
}

void elp_json_end(struct elp_json *j)
{
	int d = j->depth - 1;

	if (d < 0)
		return;
	if (j->lines[d] && j->used[d])
		elp_buf_puts(&j->buf, "\n");
	elp_buf_append(&j->buf, &j->close[d], 1);
	j->depth = d;
}

void elp_json_str(struct elp_json *j, const char *key, const char *s)
{
	begin_value(j, key);
	put_string(&j->buf, s);
}

void elp_json_int(struct elp_json *j, const char *key, int64_t v)
{
	begin_value(j, key);
	elp_buf_printf(&j->buf, "%lld", (long long)v);
}

void elp_json_bool(struct elp_json *j, const char *key, bool v)
{
	begin_value(j, key);
	elp_buf_puts(&j->buf, v ? "true" : "false");
}

void elp_json_null(struct elp_json *j, const char *key)
{
	begin_value(j, key);
	elp_buf_puts(&j->buf, "null");
}

void elp_json_raw(struct elp_json *j, const char *key, const char *text)
{
	begin_value(j, key);
	elp_buf_puts(&j->buf, text);
}

void elp_json_id(struct elp_json *j, const char *key, int64_t id)
{
	if (id)
		elp_json_int(j, key, id);
	else
		elp_json_null(j, key);
}

void elp_json_csv(struct elp_json *j, const char *key, const char *csv)
{
	const char *p = csv;

	elp_json_array(j, key);
	while (p && *p) {
		const char *end = strchrnul(p, ',');
		char *item = strndup(p, (size_t)(end - p));

		if (!item) {
			j->buf.err = -ENOMEM;
			break;
		}
		elp_json_str(j, NULL, item);
		free(item);
		p = *end ? end + 1 : end;
	}
	elp_json_end(j);
}

void elp_json_strv(struct elp_json *j, const char *key, char *const *v,
		   size_t n)
{
	size_t i;

	elp_json_array(j, key);
	for (i = 0; i < n; i++)
		elp_json_str(j, NULL, v[i]);
	elp_json_end(j);
}

void elp_json_newline(struct elp_json *j)
{
	elp_buf_puts(&j->buf, "\n");
}

const char *elp_json_text(const struct elp_json *j)
{
	return j->buf.data ? j->buf.data : "";
}

void elp_json_reset(struct elp_json *j)
{
	int err = j->buf.err;

	j->buf.len = 0;
	if (j->buf.data)
		j->buf.data[0] = '\0';
	j->buf.err = err;
	j->depth = 0;
}

void elp_json_release(struct elp_json *j)
{
	elp_buf_free(&j->buf);
	memset(j, 0, sizeof(*j));
}
