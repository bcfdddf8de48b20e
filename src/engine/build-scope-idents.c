// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a header change changes: the identifiers whose definitions the
 * patch's hunks in a header change (macros, inline functions, types;
 * comment and whitespace changes do not count), grown with the macros and
 * inline functions of the headers around it whose body uses one of them,
 * and whether a file's text uses one of them.
 *
 * Apart from build-scope.c, which decides with the answers, because this
 * is text analysis only (patch hunks and header sources, nothing built or
 * run), tested on its own through elp_scope_derive().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-scope-internal.h"

/* ---- what a header change changes --------------------------------------- */

/* Comments cut, whitespace collapsed: does a change mean anything? */
static void normalise(struct elp_buf *out, const char *s, size_t len,
		      bool *in_comment)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (*in_comment) {
			if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
				*in_comment = false;
				i++;
			}
			continue;
		}
		if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			*in_comment = true;
			i++;
			continue;
		}
		if (s[i] == '/' && i + 1 < len && s[i + 1] == '/')
			break;
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
			if (out->len && out->data[out->len - 1] != ' ')
				elp_buf_puts(out, " ");
			continue;
		}
		elp_buf_append(out, s + i, 1);
	}
	if (out->len && out->data[out->len - 1] != ' ')
		elp_buf_puts(out, " ");
}

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/*
 * The name a definition line starts: "#define NAME", "... NAME(" (a
 * function), "struct NAME", else the last identifier before ';', '=' or
 * '{'.  NULL when the line starts nothing ('}', a preprocessor
 * conditional, a comment, indented text).
 */
static char *definition_name(const char *line, size_t len, bool *unknown)
{
	const char *p, *end = line + len, *stop, *id_end = NULL;

	if (!len || line[0] == ' ' || line[0] == '\t' || line[0] == '}' ||
	    line[0] == '{' || line[0] == '/' || line[0] == '*' ||
	    line[0] == ')')
		return NULL;
	if (line[0] == '#') {
		for (p = line + 1; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		if ((size_t)(end - p) > 6 && strncmp(p, "define", 6) == 0) {
			const char *n = p + 6, *ne;

			while (n < end && (*n == ' ' || *n == '\t'))
				n++;
			for (ne = n; ne < end && is_ident(*ne); ne++)
				;
			return ne > n ? strndup(n, (size_t)(ne - n)) : NULL;
		}
		/* #include, #undef: the meaning of everything after changes */
		if ((size_t)(end - p) > 7 && (strncmp(p, "include", 7) == 0 ||
					      strncmp(p, "undef", 5) == 0))
			*unknown = true;
		return NULL;
	}
	stop = line;
	while (stop < end && *stop != '(' && *stop != ';' && *stop != '=' &&
	       *stop != '{')
		stop++;
	if (stop == end && (size_t)(end - line) > 7 &&
	    (strncmp(line, "struct ", 7) == 0 ||
	     strncmp(line, "union ", 6) == 0 ||
	     strncmp(line, "enum ", 5) == 0)) {
		/* "struct foo" with its brace on the next line */
		stop = end;
	}
	for (p = stop; p > line && !is_ident(p[-1]); p--)
		;
	id_end = p;
	while (p > line && is_ident(p[-1]))
		p--;
	if (id_end == p || (*p >= '0' && *p <= '9'))
		return NULL;
	return strndup(p, (size_t)(id_end - p));
}

struct hline {
	char type; /* ' ', '-', '+' */
	const char *s;
	size_t len;
};

/* The definition a changed line belongs to, scanning back in its side. */
static int hunk_idents(const struct hline *lines, size_t n, const char *context,
		       struct elp_strset *idents, bool *unknown)
{
	struct elp_buf before = { 0 }, after = { 0 };
	bool cb = false, ca = false;
	size_t i;
	int err = 0;

	for (i = 0; i < n; i++) {
		if (lines[i].type != '+')
			normalise(&before, lines[i].s, lines[i].len, &cb);
		if (lines[i].type != '-')
			normalise(&after, lines[i].s, lines[i].len, &ca);
	}
	if ((before.len == after.len &&
	     (!before.len || memcmp(before.data, after.data, before.len) == 0)))
		goto out; /* comments and whitespace only */
	for (i = 0; i < n && !err; i++) {
		struct elp_buf one = { 0 };
		bool c = false;
		char *name = NULL;
		size_t j;

		if (lines[i].type == ' ')
			continue;
		normalise(&one, lines[i].s, lines[i].len, &c);
		if (!one.len || (one.len == 1 && one.data[0] == ' ')) {
			elp_buf_free(&one);
			continue;
		}
		elp_buf_free(&one);
		for (j = i + 1; j-- > 0 && !name;) {
			if (lines[j].type != ' ' &&
			    lines[j].type != lines[i].type)
				continue;
			name = definition_name(lines[j].s, lines[j].len,
					       unknown);
		}
		if (!name && context && *context)
			name = definition_name(context, strlen(context),
					       unknown);
		if (!name) {
			*unknown = true;
			continue;
		}
		if (elp_strset_add(idents, name) < 0)
			err = -ENOMEM;
		free(name);
	}
out:
	elp_buf_free(&before);
	elp_buf_free(&after);
	return err;
}

/* "+++ b/include/x.h\t..." names path? */
static bool names_path(const char *line, size_t len, const char *path)
{
	const char *p = line + 4, *end = line + len;
	size_t pl = strlen(path);

	while (p < end && *p == ' ')
		p++;
	for (end = p; end < line + len && *end != '\t'; end++)
		;
	while (end > p && end[-1] == ' ')
		end--;
	return (size_t)(end - p) >= pl && strncmp(end - pl, path, pl) == 0 &&
	       (end - pl == p || end[-pl - 1] == '/');
}

/* The identifiers the patch's hunks in header path change. */
int elp_scope_header_idents(const struct elp_patch *p, const char *path,
			    struct elp_strset *idents, bool *unknown)
{
	const char *line = p->content, *context = NULL;
	struct hline *lines = NULL;
	size_t n = 0, cap = 0, ctx_len = 0;
	bool in_file = false, in_hunk = false;
	long old_left = 0, new_left = 0;
	int err = 0;

	while (line && *line && !err) {
		const char *end = strchrnul(line, '\n');
		size_t len = (size_t)(end - line);

		if (in_hunk && (old_left > 0 || new_left > 0) &&
		    (line[0] == ' ' || line[0] == '-' || line[0] == '+' ||
		     len == 0)) {
			char t = len ? line[0] : ' ';

			if (n == cap) {
				struct hline *nl = elp_grow(lines, &cap, n + 1,
							    sizeof(*nl));

				if (!nl) {
					err = -ENOMEM;
					break;
				}
				lines = nl;
			}
			lines[n].type = t;
			lines[n].s = len ? line + 1 : line;
			lines[n].len = len ? len - 1 : 0;
			n++;
			if (t != '+')
				old_left--;
			if (t != '-')
				new_left--;
		} else if (line[0] == '\\') {
			/* "\ No newline at end of file" */
		} else {
			if (in_hunk && n) {
				char *c = context ? strndup(context, ctx_len)
						  : NULL;

				err = hunk_idents(lines, n, c, idents, unknown);
				free(c);
			}
			in_hunk = false;
			n = 0;
			if (strncmp(line, "+++ ", 4) == 0) {
				in_file = names_path(line, len, path);
			} else if (in_file && strncmp(line, "@@ -", 4) == 0) {
				const char *q = line + 4, *cx;
				long a = 1, bb = 1;

				strtol(q, (char **)&q, 10);
				if (*q == ',')
					a = strtol(q + 1, (char **)&q, 10);
				q = strstr(q, " +");
				if (q) {
					strtol(q + 2, (char **)&q, 10);
					if (*q == ',')
						bb = strtol(q + 1, (char **)&q,
							    10);
				}
				old_left = a;
				new_left = bb;
				cx = q ? strstr(q, "@@") : NULL;
				context = NULL;
				ctx_len = 0;
				if (cx && cx + 2 < end) {
					context = cx + 2;
					while (*context == ' ')
						context++;
					ctx_len = (size_t)(end - context);
				}
				in_hunk = true;
			}
		}
		line = *end ? end + 1 : NULL;
	}
	if (!err && in_hunk && n) {
		char *c = context ? strndup(context, ctx_len) : NULL;

		err = hunk_idents(lines, n, c, idents, unknown);
		free(c);
	}
	free(lines);
	return err;
}

/* Do the len bytes at text use one of the identifiers (as a word)? */
static bool uses_any_n(const char *text, size_t len,
		       const struct elp_strset *idents)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *s;

		while (p < end && !is_ident(*p))
			p++;
		s = p;
		while (p < end && is_ident(*p))
			p++;
		if (p > s && !(*s >= '0' && *s <= '9') &&
		    elp_strset_has_n(idents, s, (size_t)(p - s)))
			return true;
	}
	return false;
}

/* Does the file use one of the identifiers (as a word)? */
bool elp_scope_uses(const char *text, const struct elp_strset *idents)
{
	return uses_any_n(text, strlen(text), idents);
}

/* ---- inline code reached through other headers -------------------------- */

/* text with comments and string/char literals blanked, same offsets */
static char *code_only(const char *text)
{
	char *out = strdup(text), *p;
	char quote = 0;

	if (!out)
		return NULL;
	for (p = out; *p; p++) {
		if (quote) {
			if (*p == '\\' && p[1]) {
				*p++ = ' ';
				if (*p != '\n')
					*p = ' ';
				continue;
			}
			if (*p == quote)
				quote = 0;
			else if (*p != '\n')
				*p = ' ';
			continue;
		}
		if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (p[0] == '/' && p[1] == '*') {
			char *e = strstr(p + 2, "*/");
			char *stop = e ? e + 2 : p + strlen(p);

			for (; p < stop; p++)
				if (*p != '\n')
					*p = ' ';
			p--;
		} else if (p[0] == '/' && p[1] == '/') {
			for (; *p && *p != '\n'; p++)
				*p = ' ';
			p--;
		}
	}
	return out;
}

/* The identifier that ends right before end (skipping blanks), or NULL. */
static const char *ident_before(const char *text, const char *end, size_t *len)
{
	const char *e = end, *s;

	while (e > text && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		e--;
	s = e;
	while (s > text && is_ident(s[-1]))
		s--;
	*len = (size_t)(e - s);
	return *len && !(*s >= '0' && *s <= '9') ? s : NULL;
}

/* Add name to idents when the definition body at [b, e) uses one. */
static int derive(struct elp_strset *idents, const char *name, size_t nlen,
		  const char *b, const char *e)
{
	char *n;
	int r;

	if (elp_strset_has_n(idents, name, nlen) ||
	    !uses_any_n(b, (size_t)(e - b), idents))
		return 0;
	n = strndup(name, nlen);
	if (!n)
		return -ENOMEM;
	r = elp_strset_add(idents, n);
	free(n);
	return r;
}

/* Is word one of the identifiers in the len bytes at s? */
static bool has_ident(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word), i = 0;

	while (i < len) {
		size_t j;

		while (i < len && !is_ident(s[i]))
			i++;
		for (j = i; j < len && is_ident(s[j]); j++)
			;
		if (j - i == wl && strncmp(s + i, word, wl) == 0)
			return true;
		i = j;
	}
	return false;
}

/* "#define NAME body": derive NAME; the line is blanked afterwards. */
static int derive_macros(char *code, struct elp_strset *idents)
{
	char *p;
	int added = 0, r;

	for (p = code; *p; p++) {
		char *l = p, *e = p, *name;

		while (*e && !(*e == '\n' && (e == code || e[-1] != '\\')))
			e++;
		while (*l == ' ' || *l == '\t')
			l++;
		if (*l == '#') {
			l++;
			while (*l == ' ' || *l == '\t')
				l++;
			if (!strncmp(l, "define", 6) && !is_ident(l[6])) {
				for (l += 6; *l == ' ' || *l == '\t'; l++)
					;
				for (name = l; is_ident(*l); l++)
					;
				r = l > name ? derive(idents, name,
						      (size_t)(l - name), l, e)
					     : 0;
				if (r < 0)
					return r;
				added += r;
			}
			memset(p, ' ', (size_t)(e - p));
		}
		if (!*e)
			break;
		p = e;
	}
	return added;
}

/* The name of the function whose body opens at open: "name(args) ... {". */
static const char *function_name(const char *stmt, const char *open,
				 size_t *len)
{
	const char *q = open;
	int depth = 0;

	while (q > stmt && q[-1] != ')') {
		q--;
		if (*q == ';' || *q == '=')
			return NULL;
	}
	while (q > stmt) {
		q--;
		if (*q == ')')
			depth++;
		else if (*q == '(' && --depth == 0)
			return ident_before(stmt, q, len);
	}
	return NULL;
}

/* "... inline ... name(...) { body }" at file scope: derive name. */
static int derive_inlines(const char *code, struct elp_strset *idents)
{
	const char *p, *stmt = code;
	int added = 0, r;

	for (p = code; *p; p++) {
		const char *open = p, *name;
		size_t nlen;
		int d = 1;

		if (*p == ';' || *p == '}') {
			stmt = p + 1;
			continue;
		}
		if (*p != '{')
			continue;
		for (p++; *p && d; p++)
			d += *p == '{' ? 1 : *p == '}' ? -1 : 0;
		name = function_name(stmt, open, &nlen);
		if (name && (has_ident(stmt, (size_t)(name - stmt), "inline") ||
			     has_ident(stmt, (size_t)(name - stmt),
				       "__always_inline"))) {
			r = derive(idents, name, nlen, open, p);
			if (r < 0)
				return r;
			added += r;
		}
		stmt = p;
		if (!*p)
			break;
	}
	return added;
}

/*
 * The macros and inline functions a header defines whose body uses one of
 * idents, added to idents (a file that calls them uses the change too);
 * returns how many were added, or -ENOMEM.
 */
static int derive_from(const char *header, struct elp_strset *idents)
{
	char *code = code_only(header);
	int m, f;

	if (!code)
		return -ENOMEM;
	m = derive_macros(code, idents);
	f = m < 0 ? 0 : derive_inlines(code, idents);
	free(code);
	return m < 0 ? m : f < 0 ? f : m + f;
}

/*
 * idents grown to a fixed point with what the headers in closure (those
 * including a changed header, and the changed headers) define on top of
 * them.
 */
int elp_scope_derive_idents(struct elp_bstate *b,
			    const struct elp_strset *closure,
			    struct elp_strset *idents)
{
	char **texts;
	size_t i, n = 0;
	int err = 0, grew = 1;

	texts = calloc(closure->n + 1, sizeof(*texts));
	if (!texts)
		return -ENOMEM;
	for (i = 0; i < closure->cap; i++) {
		const char *f = closure->slot[i];
		char *path;
		size_t l;

		if (!f || (l = strlen(f)) < 3 || strcmp(f + l - 2, ".h") != 0)
			continue;
		if (asprintf(&path, "%s/%s", b->tree, f) < 0) {
			err = -ENOMEM;
			break;
		}
		if (elp_read_file(NULL, path, &texts[n], NULL) == 0)
			n++;
		free(path);
	}
	while (!err && grew > 0)
		for (i = 0, grew = 0; !err && i < n; i++) {
			int r = derive_from(texts[i], idents);

			if (r < 0)
				err = r;
			else
				grew += r;
		}
	for (i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	return err;
}

char *elp_scope_derive(const char *const *headers, size_t n, const char *idents)
{
	struct elp_strset set = { 0 };
	struct elp_buf out = { 0 };
	const char *p = idents;
	size_t i;
	int grew = 1, err = 0;

	while (!err && *p) {
		const char *e = strchrnul(p, '\n');
		char *w = strndup(p, (size_t)(e - p));

		err = !w || elp_strset_add(&set, w) < 0;
		free(w);
		p = *e ? e + 1 : e;
	}
	while (!err && grew > 0)
		for (i = 0, grew = 0; !err && i < n; i++) {
			int r = derive_from(headers[i], &set);

			err = r < 0;
			grew += r > 0 ? r : 0;
		}
	for (i = 0; !err && i < set.cap; i++)
		if (set.slot[i])
			elp_buf_printf(&out, "%s\n", set.slot[i]);
	elp_strset_free(&set);
	if (err || !out.data) {
		elp_buf_free(&out);
		return err ? NULL : strdup("");
	}
	return out.data;
}
