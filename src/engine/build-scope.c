// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The scope pass, run on the pristine prepared tree before anything is
 * compiled:
 *
 *  - every unit must be built with the kernel's config.  kbuild compiles
 *    any "make dir/x.o" it is asked for, so the answer comes from the
 *    directory's Makefile (or Kbuild): "obj-$(CONFIG_X) += x.o", composite
 *    objects ("foo-y += x.o", foo.o built) and the directory itself in its
 *    parent's Makefile.  Lines that cannot be evaluated (conditionals,
 *    computed names) count as built.
 *
 *  - a changed header: the identifiers whose definitions the patch changes
 *    (macros, inline functions, types; comment and whitespace changes do
 *    not count) and the .c files built with this config that include the
 *    header (transitively, from an index of the tree's #include lines made
 *    once per prepared tree) and use one of them.  Those files change too:
 *    unless the patch or --extra-files already compiles them, the build is
 *    refused with their names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-internal.h"

#define SCOPE_MAX_NAMED 5 /* files named in a refusal */

/* ---- kbuild Makefiles --------------------------------------------------- */

/* Continuations joined, comments cut. */
static char *logical_lines(const char *text)
{
	struct elp_buf out = { 0 };
	const char *p = text;
	bool comment = false;

	for (; *p; p++) {
		if (*p == '\\' && p[1] == '\n') {
			if (!comment)
				elp_buf_puts(&out, " ");
			p++;
			continue;
		}
		if (*p == '\n') {
			comment = false;
			elp_buf_puts(&out, "\n");
			continue;
		}
		if (*p == '#')
			comment = true;
		if (!comment)
			elp_buf_append(&out, p, 1);
	}
	if (elp_buf_error(&out)) {
		elp_buf_free(&out);
		return NULL;
	}
	if (!out.data)
		return strdup("");
	return out.data;
}

static const char *mkfile_text(struct elp_bstate *b, const char *dir)
{
	struct elp_mkfile *nm;
	char *path = NULL, *data = NULL;
	size_t i;

	for (i = 0; i < b->nr_mkfiles; i++)
		if (strcmp(b->mkfiles[i].dir, dir) == 0)
			return b->mkfiles[i].text;
	/* kbuild prefers Kbuild to Makefile */
	if (asprintf(&path, "%s/%s/Kbuild", b->tree, dir) < 0)
		return NULL;
	if (!elp_is_file(path)) {
		free(path);
		if (asprintf(&path, "%s/%s/Makefile", b->tree, dir) < 0)
			return NULL;
	}
	if (elp_read_file(NULL, path, &data, NULL) < 0)
		data = NULL;
	free(path);
	nm = realloc(b->mkfiles, (b->nr_mkfiles + 1) * sizeof(*nm));
	if (!nm) {
		free(data);
		return NULL;
	}
	b->mkfiles = nm;
	nm += b->nr_mkfiles;
	nm->dir = strdup(dir);
	nm->text = data ? logical_lines(data) : NULL;
	free(data);
	if (!nm->dir) {
		free(nm->text);
		return NULL;
	}
	b->nr_mkfiles++;
	return nm->text;
}

static bool word_in(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word), i = 0;

	while (i < len) {
		size_t j;

		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		for (j = i; j < len && s[j] != ' ' && s[j] != '\t'; j++)
			;
		if (j - i == wl && strncmp(s + i, word, wl) == 0)
			return true;
		i = j;
	}
	return false;
}

enum built { NOT_BUILT = 0, BUILT = 1, UNKNOWN = 2 };

static enum built obj_built_in(struct elp_bstate *b, const char *dir,
			       const char *base, char **why, int depth);

/* The condition of a kbuild list name "<prefix>-<suffix>". */
static enum built list_cond(struct elp_bstate *b, const char *suffix,
			    size_t len, char **config)
{
	char *name, *v;
	enum built r;

	if ((len == 1 && (suffix[0] == 'y' || suffix[0] == 'm')) ||
	    (len == 4 && strncmp(suffix, "objs", 4) == 0))
		return BUILT;
	if (len < 10 || strncmp(suffix, "$(CONFIG_", 9) != 0 ||
	    suffix[len - 1] != ')')
		return UNKNOWN;
	name = strndup(suffix + 2, len - 3);
	if (!name)
		return UNKNOWN;
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
	    strlen(name)) {
		free(name);
		return UNKNOWN;
	}
	v = elp_config_get(b->config, name);
	r = v && (strcmp(v, "y") == 0 || strcmp(v, "m") == 0) ? BUILT
							      : NOT_BUILT;
	free(v);
	if (r == NOT_BUILT)
		*config = name;
	else
		free(name);
	return r;
}

static bool computed_lists(const char *text)
{
	static const char *const fns[] = { "$(patsubst",  "$(addprefix",
					   "$(addsuffix", "$(foreach",
					   "$(wildcard",  "$(subst",
					   NULL };
	const char *const *f;

	for (f = fns; *f; f++)
		if (strstr(text, *f))
			return true;
	return false;
}

/*
 * Is "base" ("x.o" or "sub/") of directory dir built?  *why says why not:
 * "fs/Makefile builds x.o only with CONFIG_X, which is not set".
 */
static enum built obj_built_in(struct elp_bstate *b, const char *dir,
			       const char *base, char **why, int depth)
{
	const char *text = mkfile_text(b, dir), *line;
	char *off_config = NULL;
	enum built r = NOT_BUILT;
	bool mentioned = false;

	if (!text || depth > 4)
		return UNKNOWN;
	for (line = text; *line && r != BUILT;) {
		const char *end = strchrnul(line, '\n');
		const char *op = NULL, *p, *lhs, *lhs_end, *dash;
		char *cfg = NULL;
		enum built c;

		for (p = line; p < end && !op; p++)
			if (*p == '=' ||
			    (p + 1 < end &&
			     (*p == ':' || *p == '+' || *p == '?') &&
			     p[1] == '='))
				op = p;
		if (!op ||
		    !word_in(op + (*op == '=' ? 1 : 2),
			     (size_t)(end - op - (*op == '=' ? 1 : 2)), base))
			goto next;
		for (lhs = line; lhs < op && (*lhs == ' ' || *lhs == '\t');
		     lhs++)
			;
		for (lhs_end = op; lhs_end > lhs &&
				   (lhs_end[-1] == ' ' || lhs_end[-1] == '\t');
		     lhs_end--)
			;
		/* "prefix-suffix": the suffix may hold "$(CONFIG_X)" */
		dash = NULL;
		for (p = lhs; p < lhs_end; p++) {
			if (*p == '$')
				break;
			if (*p == '-')
				dash = p;
		}
		if (!dash)
			goto next;
		mentioned = true;
		c = list_cond(b, dash + 1, (size_t)(lhs_end - dash - 1), &cfg);
		if (c == NOT_BUILT) {
			if (!off_config)
				off_config = cfg;
			else
				free(cfg);
			goto next;
		}
		if ((dash - lhs == 3 && strncmp(lhs, "obj", 3) == 0) ||
		    (dash - lhs == 3 && strncmp(lhs, "lib", 3) == 0)) {
			r = c;
		} else if ((dash - lhs == 6 &&
			    strncmp(lhs, "subdir", 6) == 0) ||
			   (dash - lhs == 6 &&
			    strncmp(lhs, "always", 6) == 0) ||
			   (dash - lhs == 7 &&
			    strncmp(lhs, "targets", 7) == 0)) {
			r = r == NOT_BUILT ? UNKNOWN : r;
		} else {
			/* a part of composite object <prefix>.o */
			char *comp = NULL, *w = NULL;
			enum built cr;

			if (asprintf(&comp, "%.*s.o", (int)(dash - lhs), lhs) <
			    0) {
				r = UNKNOWN;
				goto next;
			}
			cr = obj_built_in(b, dir, comp, &w, depth + 1);
			free(comp);
			if (cr == NOT_BUILT && w && !off_config)
				off_config = w;
			else
				free(w);
			if (cr != NOT_BUILT)
				r = cr;
		}
	next:
		line = *end ? end + 1 : end;
	}
	if (r == NOT_BUILT && !mentioned && computed_lists(text))
		r = UNKNOWN;
	if (r == NOT_BUILT) {
		char *msg = NULL;

		if (off_config && strchr(off_config, ' ')) {
			msg = off_config; /* from a composite object */
			off_config = NULL;
		} else if (off_config &&
			   asprintf(
				   &msg,
				   "%s/Makefile builds %s only with %s, which is not set",
				   dir, base, off_config) < 0) {
			msg = NULL;
		} else if (!off_config && asprintf(&msg, "no %s in %s/Makefile",
						   base, dir) < 0) {
			msg = NULL;
		}
		free(off_config);
		*why = msg;
		return NOT_BUILT;
	}
	free(off_config);
	if (strchr(dir, '/')) {
		/* the directory itself, in its parent's Makefile */
		char *parent = strdup(dir), *slash, *sub = NULL;
		enum built pr = UNKNOWN;

		if (parent && (slash = strrchr(parent, '/')) &&
		    asprintf(&sub, "%s/", slash + 1) > 0) {
			*slash = '\0';
			pr = obj_built_in(b, parent, sub, why, depth + 1);
		}
		free(parent);
		free(sub);
		if (pr == NOT_BUILT)
			return NOT_BUILT;
	}
	return r;
}

/* Is the object "fs/proc/x.o" built?  *why as above when not. */
static enum built obj_built(struct elp_bstate *b, const char *obj, char **why)
{
	const char *slash = strrchr(obj, '/');
	char *dir;
	enum built r;

	*why = NULL;
	if (!slash)
		return UNKNOWN;
	dir = strndup(obj, (size_t)(slash - obj));
	if (!dir)
		return UNKNOWN;
	r = obj_built_in(b, dir, slash + 1, why, 0);
	free(dir);
	return r;
}

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
static int header_idents(const struct elp_patch *p, const char *path,
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

/* ---- who includes a header ---------------------------------------------- */

/* <tree_root>/include-index: "./path:#include <name>" lines, made once. */
static int include_index(struct elp_bstate *b, char **data)
{
	char *path = NULL, *tmp = NULL;
	int err, fd;

	if (asprintf(&path, "%s/include-index", b->tree_root) < 0)
		return -ENOMEM;
	if (elp_is_file(path)) {
		err = elp_read_file(b->ctx, path, data, NULL);
		free(path);
		return err;
	}
	elp_notice(b->ctx, "[scope] indexing the tree's #include lines");
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		free(path);
		return -ENOMEM;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		elp_err(b->ctx, "cannot create '%s': %m", tmp);
		goto out;
	}
	{
		const char *argv[] = {
			"grep",
			"-rEo",
			"--include=*.c",
			"--include=*.h",
			"^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"][^>\"]+[>\"]",
			".",
			NULL
		};

		err = elp_run(b->ctx, argv, b->tree, fd, NULL);
	}
	close(fd);
	if (err != 0) {
		elp_err(b->ctx, "cannot index the #include lines of '%s'",
			b->tree);
		err = -EIO;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		err = -errno;
		goto out;
	}
	err = elp_read_file(b->ctx, path, data, NULL);
out:
	if (err)
		unlink(tmp);
	free(tmp);
	free(path);
	return err;
}

/* dir + "/" + name with "./" and "../" resolved, into buf. */
static bool join_path(char *buf, size_t size, const char *dir, size_t dlen,
		      const char *name, size_t nlen)
{
	size_t n = 0;
	const char *p = name, *end = name + nlen;

	if (dlen + nlen + 2 > size)
		return false;
	memcpy(buf, dir, dlen);
	n = dlen;
	while (p < end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t l = s ? (size_t)(s - p) : (size_t)(end - p);

		if (l == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && buf[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else if (!(l == 1 && p[0] == '.') && l) {
			if (n)
				buf[n++] = '/';
			memcpy(buf + n, p, l);
			n += l;
		}
		p += l + 1;
	}
	buf[n] = '\0';
	return true;
}

/* Does the include line name a file in set? */
static bool include_hits(const struct elp_strset *set,
			 const struct elp_strset *bases, const char *from,
			 size_t from_len, const char *name, size_t nlen,
			 bool quoted)
{
	static const char *const dirs[] = { "include", "arch/x86/include",
					    "include/uapi",
					    "arch/x86/include/uapi" };
	const char *base = name + nlen;
	char path[4096];
	size_t i;

	while (base > name && base[-1] != '/')
		base--;
	if (!elp_strset_has_n(bases, base, (size_t)(name + nlen - base)))
		return false;
	if (quoted) {
		const char *slash = from + from_len;

		while (slash > from && slash[-1] != '/')
			slash--;
		if (join_path(path, sizeof(path), from,
			      slash > from ? (size_t)(slash - from - 1) : 0,
			      name, nlen) &&
		    elp_strset_has(set, path))
			return true;
	}
	for (i = 0; i < ARRAY_SIZE(dirs); i++)
		if (join_path(path, sizeof(path), dirs[i], strlen(dirs[i]),
			      name, nlen) &&
		    elp_strset_has(set, path))
			return true;
	return false;
}

static int add_base(struct elp_strset *bases, const char *path)
{
	const char *s = strrchr(path, '/');

	return elp_strset_add(bases, s ? s + 1 : path);
}

/* Every file including one of the seeds (in closure), directly or not. */
static int includers(const char *index, struct elp_strset *closure)
{
	struct elp_strset bases = { 0 };
	size_t i;
	bool grew = true;
	int err = 0;

	for (i = 0; !err && i < closure->cap; i++)
		if (closure->slot[i])
			err = add_base(&bases, closure->slot[i]);
	err = err < 0 ? err : 0;
	while (!err && grew) {
		const char *line = index;

		grew = false;
		while (line && *line && !err) {
			const char *end = strchrnul(line, '\n');
			const char *from = line, *colon, *open, *close;
			size_t flen;

			if (from[0] == '.' && from[1] == '/')
				from += 2;
			colon = memchr(from, ':', (size_t)(end - from));
			open = colon ? strpbrk(colon, "<\"") : NULL;
			if (!open || open > end)
				goto next;
			close = memchr(open + 1, *open == '<' ? '>' : '"',
				       (size_t)(end - open - 1));
			flen = (size_t)(colon - from);
			if (!close ||
			    (flen > 6 &&
			     (strncmp(from, "tools/", 6) == 0 ||
			      strncmp(from, "Documentation/", 14) == 0 ||
			      strncmp(from, "samples/", 8) == 0)))
				goto next;
			if (include_hits(closure, &bases, from, flen, open + 1,
					 (size_t)(close - open - 1),
					 *open == '"')) {
				char *f = strndup(from, flen);
				int r = f ? elp_strset_add(closure, f)
					  : -ENOMEM;

				if (r > 0) {
					grew = true;
					r = add_base(&bases, f);
				}
				free(f);
				if (r < 0)
					err = r;
			}
		next:
			line = *end ? end + 1 : NULL;
		}
	}
	elp_strset_free(&bases);
	return err;
}

/* "from\tincluded" for every #include "x.c": those .c files are part of
 * their includer's translation unit (kernel/sched/build_utility.c). */
static int included_c_files(const char *index, struct elp_buf *out)
{
	const char *line = index;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');
		const char *from = line, *colon, *open, *close;
		char path[4096];

		if (from[0] == '.' && from[1] == '/')
			from += 2;
		colon = memchr(from, ':', (size_t)(end - from));
		open = colon ? memchr(colon, '"', (size_t)(end - colon)) : NULL;
		close = open ? memchr(open + 1, '"', (size_t)(end - open - 1))
			     : NULL;
		if (close && close - open > 3 && close[-2] == '.' &&
		    close[-1] == 'c') {
			const char *slash = colon;

			while (slash > from && slash[-1] != '/')
				slash--;
			if (join_path(path, sizeof(path), from,
				      slash > from ? (size_t)(slash - from - 1)
						   : 0,
				      open + 1, (size_t)(close - open - 1)))
				elp_buf_printf(out, "%.*s\t%s\n",
					       (int)(colon - from), from, path);
		}
		line = *end ? end + 1 : NULL;
	}
	return 0;
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
static bool uses_any(const char *text, const struct elp_strset *idents)
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
static int derive_idents(struct elp_bstate *b, const struct elp_strset *closure,
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

/* ---- what the compiler includes ----------------------------------------- */

/* A file of another architecture, never built for this (x86_64) kernel. */
static bool foreign_arch(const char *f)
{
	return !strncmp(f, "arch/", 5) && strncmp(f, "arch/x86/", 9) != 0;
}

bool elp_scope_deps_name(const char *cmd, char *const *headers, size_t n)
{
	const char *p = cmd;

	while (*p) {
		const char *s;
		size_t i, len;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
			p++;
		s = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' &&
		       *p != '\\')
			p++;
		len = (size_t)(p - s);
		for (i = 0; i < n; i++) {
			size_t hl = strlen(headers[i]);

			if (len >= hl &&
			    !strncmp(s + len - hl, headers[i], hl) &&
			    (len == hl || s[len - hl - 1] == '/'))
				return true;
		}
	}
	return false;
}

/* "dir/x.c" -> "dir/x.i" and "dir/.x.i.cmd", or -ENOMEM */
static int preprocessed_names(const char *f, char **i_name, char **cmd)
{
	const char *base = strrchr(f, '/');
	int dlen = base ? (int)(base - f + 1) : 0;

	base = base ? base + 1 : f;
	*i_name = NULL;
	*cmd = NULL;
	if (asprintf(i_name, "%.*si", (int)strlen(f) - 1, f) < 0) {
		*i_name = NULL;
		return -ENOMEM;
	}
	if (asprintf(cmd, "%.*s.%.*si.cmd", dlen, f, (int)strlen(base) - 1,
		     base) < 0) {
		free(*i_name);
		*i_name = NULL;
		*cmd = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * Keep of files (.c, built with this config) those that include one of the
 * changed headers as the compiler sees them with this config: kbuild
 * preprocesses each (make dir/x.i, like the build's own compiles) and its
 * dependency list (dir/.x.i.cmd, from fixdep) names every header read.
 * The .i and .cmd files are removed again.  A file kbuild cannot
 * preprocess is kept.
 */
/* make -k dir/x.i for the m files; drop[k]: file k does not include */
static int preprocess_batch(struct elp_bstate *b, char **files, size_t m,
			    bool *drop)
{
	const char *argv[64];
	char jobs[32], cc[512];
	char *names[40] = { NULL };
	size_t k, a = 0;
	int err = 0;

	snprintf(jobs, sizeof(jobs), "-j%u", b->jobs);
	snprintf(cc, sizeof(cc), "CC=%s", b->cc);
	argv[a++] = "make";
	argv[a++] = "-k";
	argv[a++] = "-s";
	argv[a++] = jobs;
	argv[a++] = cc;
	for (k = 0; k < m; k++) {
		char *cmd = NULL;

		if (preprocessed_names(files[k], &names[k], &cmd)) {
			err = -ENOMEM;
			goto out;
		}
		free(cmd);
		argv[a++] = names[k];
	}
	argv[a] = NULL;
	if (elp_bstate_cancelled(b)) {
		err = -EINTR;
		goto out;
	}
	if (b->log_fd >= 0) {
		struct elp_buf line = { 0 };

		elp_buf_puts(&line, "$");
		for (k = 0; k < a; k++)
			elp_buf_printf(&line, " %s", argv[k]);
		elp_buf_puts(&line, "\n");
		if (line.data && write(b->log_fd, line.data, line.len) < 0)
			elp_dbg(b->ctx, "cannot write the build log");
		elp_buf_free(&line);
	}
	/* a file that does not preprocess is kept: the status is not used */
	err = elp_brun(b, argv, b->tree);
	err = err < 0 ? err : 0;
	for (k = 0; !err && k < m; k++) {
		char *i_name = NULL, *cmd = NULL, *text = NULL;
		char *i_path = NULL, *cmd_path = NULL;

		if (preprocessed_names(files[k], &i_name, &cmd) ||
		    asprintf(&i_path, "%s/%s", b->tree, i_name) < 0 ||
		    asprintf(&cmd_path, "%s/%s", b->tree, cmd) < 0) {
			i_path = cmd_path = NULL;
			err = -ENOMEM;
		} else if (elp_read_file(NULL, cmd_path, &text, NULL) == 0) {
			drop[k] = !elp_scope_deps_name(text, b->headers,
						       b->nr_headers);
			if (drop[k])
				elp_dbg(b->ctx,
					"[scope] %s does not include %s with this config",
					files[k], b->headers[0]);
		} else {
			elp_dbg(b->ctx,
				"[scope] %s: no dependency list from kbuild, counted as including",
				files[k]);
		}
		if (i_path)
			unlink(i_path);
		if (cmd_path)
			unlink(cmd_path);
		free(text);
		free(i_path);
		free(cmd_path);
		free(i_name);
		free(cmd);
	}
out:
	for (k = 0; k < m; k++)
		free(names[k]);
	return err;
}

static int compiler_includers(struct elp_bstate *b, char **files, size_t *n)
{
	bool *drop = calloc(*n ? *n : 1, sizeof(*drop));
	size_t i, kept = 0;
	int err = 0;

	if (!drop)
		return -ENOMEM;
	if (*n)
		elp_notice(
			b->ctx,
			"[scope] asking the compiler which of %zu files include %s",
			*n, b->nr_headers == 1 ? b->headers[0] : "the headers");
	for (i = 0; !err && i < *n; i += 40) {
		size_t m = *n - i < 40 ? *n - i : 40;

		err = preprocess_batch(b, files + i, m, drop + i);
	}
	for (i = 0; i < *n; i++) {
		if (drop[i])
			free(files[i]);
		else
			files[kept++] = files[i];
	}
	*n = kept;
	free(drop);
	return err;
}

static bool is_unit(const struct elp_bstate *b, const char *src)
{
	size_t i;

	for (i = 0; i < b->nr_units; i++)
		if (strcmp(b->units[i].src, src) == 0)
			return true;
	return false;
}

static void list_names(struct elp_buf *out, char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < SCOPE_MAX_NAMED; i++)
		elp_buf_printf(out, "%s%s", i ? ", " : "", names[i]);
	if (n > SCOPE_MAX_NAMED)
		elp_buf_printf(out, " and %zu more", n - SCOPE_MAX_NAMED);
}

static int scope_headers(struct elp_bstate *b)
{
	struct elp_strset idents = { 0 }, closure = { 0 }, users = { 0 };
	struct elp_buf hdrs = { 0 }, msg = { 0 };
	char **affected = NULL, *index = NULL;
	struct elp_buf cfiles = { 0 };
	const char *line;
	size_t i, j, nr_affected = 0, nr_includers = 0;
	bool unknown = false;
	int err = 0;

	for (i = 0; i < b->nr_headers; i++)
		elp_buf_printf(&hdrs, "%s%s", i ? ", " : "", b->headers[i]);
	for (i = 0; !err && i < b->nr_patches; i++)
		for (j = 0; !err && j < b->nr_headers; j++)
			err = header_idents(b->patches[i], b->headers[j],
					    &idents, &unknown);
	if (err)
		goto out;
	if (idents.n == 0 && !unknown) {
		elp_info(b->ctx,
			 "[scope] %s: only comments or whitespace change",
			 hdrs.data);
		if (b->nr_units == 0)
			err = elp_bstate_refuse(
				b,
				"the patch changes only %s, which alters no function body (only comments or whitespace change); nothing to patch",
				hdrs.data);
		goto out;
	}
	for (i = 0; i < idents.cap; i++)
		if (idents.slot[i])
			elp_buf_printf(&msg, "%s%s", msg.len ? ", " : "",
				       idents.slot[i]);
	elp_info(b->ctx, "[scope] %s changes %s", hdrs.data,
		 unknown ? "code it cannot name" : msg.data);
	/* every .c file that may include it */
	err = elp_btree_need_all(b);
	if (!err)
		err = include_index(b, &index);
	for (i = 0; !err && i < b->nr_headers; i++)
		err = elp_strset_add(&closure, b->headers[i]) < 0 ? -ENOMEM : 0;
	if (!err)
		err = includers(index, &closure);
	if (!err)
		err = included_c_files(index, &cfiles);
	if (!err && !unknown) {
		size_t before = idents.n;

		err = derive_idents(b, &closure, &idents);
		if (!err && idents.n > before)
			elp_info(
				b->ctx,
				"[scope] %zu macros and inline functions of the headers that include %s use it",
				idents.n - before, hdrs.data);
	}
	if (err)
		goto out;
	/* the .c files using the identifiers, and the .c files that
	 * #include those (kernel/sched/build_utility.c includes psi.c) */
	for (i = 0; !err && i < closure.cap; i++) {
		const char *f = closure.slot[i];
		char *text = NULL, *src = NULL;
		size_t l;

		if (!f || (l = strlen(f)) < 3 || strcmp(f + l - 2, ".c") != 0 ||
		    foreign_arch(f))
			continue;
		nr_includers++;
		if (asprintf(&src, "%s/%s", b->tree, f) < 0) {
			err = -ENOMEM;
			break;
		}
		if (unknown || (elp_read_file(NULL, src, &text, NULL) == 0 &&
				uses_any(text, &idents)))
			err = elp_strset_add(&users, f) < 0 ? -ENOMEM : 0;
		free(text);
		free(src);
		/* the .c files it includes are part of its unit */
		for (line = cfiles.data; !err && line && *line;) {
			const char *end = strchrnul(line, '\n');
			const char *tab =
				memchr(line, '\t', (size_t)(end - line));

			if (tab && (size_t)(tab - line) == l &&
			    strncmp(line, f, l) == 0 &&
			    asprintf(&src, "%s/%.*s", b->tree,
				     (int)(end - tab - 1), tab + 1) > 0) {
				text = NULL;
				if (elp_read_file(NULL, src, &text, NULL) ==
					    0 &&
				    uses_any(text, &idents))
					err = elp_strset_add(&users, f) < 0
						      ? -ENOMEM
						      : 0;
				free(text);
				free(src);
			}
			line = *end ? end + 1 : NULL;
		}
	}
	if (!err)
		err = includers(index, &users);
	if (err)
		goto out;
	affected = calloc(users.n + 1, sizeof(char *));
	if (!affected) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < users.cap; i++) {
		const char *f = users.slot[i];
		char *obj, *why = NULL;
		size_t l;

		if (!f || (l = strlen(f)) < 3 || strcmp(f + l - 2, ".c") != 0 ||
		    is_unit(b, f) || foreign_arch(f))
			continue;
		obj = strdup(f);
		if (!obj) {
			err = -ENOMEM;
			break;
		}
		obj[l - 1] = 'o';
		if (obj_built(b, obj, &why) != NOT_BUILT)
			affected[nr_affected++] = strdup(f);
		free(why);
		free(obj);
	}
	if (!err)
		err = compiler_includers(b, affected, &nr_affected);
	if (err)
		goto out;
	qsort(affected, nr_affected, sizeof(char *), elp_cmp_str);
	elp_info(
		b->ctx,
		"[scope] %zu .c files include %s by their #include lines; %zu built ones not in the build include it for the compiler and use %s",
		nr_includers, hdrs.data, nr_affected,
		unknown ? "it" : msg.data);
	if (nr_affected) {
		struct elp_buf names = { 0 };

		list_names(&names, affected, nr_affected);
		err = elp_bstate_refuse(
			b,
			"the patch changes %s (%s), which is also used by %zu file%s the patch does not change: %s; add them with --extra-files FILE.c... to patch them too",
			hdrs.data, unknown ? "code in it" : msg.data,
			nr_affected, nr_affected == 1 ? "" : "s", names.data);
		elp_buf_free(&names);
	} else if (b->nr_units == 0) {
		err = elp_bstate_refuse(
			b,
			"the patch changes only %s, which alters no function body in the %zu .c files built with this config that include it; nothing to patch",
			hdrs.data, nr_includers);
	}
out:
	for (i = 0; i < nr_affected; i++)
		free(affected[i]);
	free(affected);
	elp_strset_free(&idents);
	elp_strset_free(&closure);
	elp_strset_free(&users);
	free(index);
	elp_buf_free(&cfiles);
	elp_buf_free(&hdrs);
	elp_buf_free(&msg);
	return err;
}

/*
 * A .c file that kbuild does not build by itself may be #included by one
 * that it builds (kernel/sched/build_utility.c includes debug.c): that
 * object is the unit.  Sets *obj to it when exactly one built object
 * includes src; refuses when several do.
 */
static int included_by(struct elp_bstate *b, const char *src, char **obj)
{
	struct elp_buf cfiles = { 0 }, names = { 0 };
	char *index = NULL, *found = NULL;
	const char *line;
	size_t n = 0, l = strlen(src);
	int err;

	*obj = NULL;
	err = elp_btree_need_all(b);
	if (!err)
		err = include_index(b, &index);
	if (!err)
		err = included_c_files(index, &cfiles);
	for (line = cfiles.data; !err && line && *line;) {
		const char *end = strchrnul(line, '\n');
		const char *tab = memchr(line, '\t', (size_t)(end - line));
		char *o, *why = NULL;

		if (!tab || (size_t)(end - tab - 1) != l ||
		    strncmp(tab + 1, src, l) != 0 || foreign_arch(line))
			goto next;
		if (asprintf(&o, "%.*s", (int)(tab - line), line) < 0) {
			err = -ENOMEM;
			break;
		}
		o[strlen(o) - 1] = 'o';
		if (obj_built(b, o, &why) != NOT_BUILT) {
			elp_buf_printf(&names, "%s%s", n ? ", " : "", o);
			if (!n++)
				found = o;
			else
				free(o);
		} else {
			free(o);
		}
		free(why);
	next:
		line = *end ? end + 1 : NULL;
	}
	if (!err && n > 1)
		err = elp_bstate_refuse(
			b,
			"%s is not built by itself but #included by %zu built files (%s); patch the one file whose code must change, or copy the fix into a file of its own",
			src, n, names.data);
	if (!err && n == 1) {
		elp_info(b->ctx, "[scope] %s is built as part of %s (#include)",
			 src, found);
		*obj = found;
		found = NULL;
	}
	free(found);
	free(index);
	elp_buf_free(&cfiles);
	elp_buf_free(&names);
	return err;
}

/* Two units that are one object (two files of one #include unit): one. */
static bool merge_unit(struct elp_bstate *b, size_t i)
{
	size_t k;

	for (k = 0; k < b->nr_units; k++) {
		if (k == i || strcmp(b->units[k].obj, b->units[i].obj) != 0)
			continue;
		elp_info(b->ctx, "[scope] %s is compiled with %s",
			 b->units[i].src, b->units[k].src);
		free(b->units[i].src);
		free(b->units[i].obj);
		memmove(&b->units[i], &b->units[i + 1],
			(b->nr_units - i - 1) * sizeof(b->units[i]));
		b->nr_units--;
		return true;
	}
	return false;
}

int elp_bscope(struct elp_bstate *b)
{
	char *path = NULL;
	size_t i;
	int err;

	err = elp_btree_need_inputs(b);
	if (err)
		return err;
	if (asprintf(&path, "%s/.config", b->tree) < 0)
		return -ENOMEM;
	err = elp_read_file(b->ctx, path, &b->config, NULL);
	free(path);
	if (err)
		return err;
	for (i = 0; i < b->nr_units; i++) {
		struct elp_bunit *u = &b->units[i];
		char *why = NULL, *src, *inc = NULL;
		enum built built;

		if (asprintf(&src, "%s/%s", b->tree, u->src) < 0)
			return -ENOMEM;
		if (!elp_is_file(src)) {
			free(src);
			return elp_bstate_refuse(
				b, "'%s' is not in the kernel source of '%s'",
				u->src, b->kernel->name);
		}
		free(src);
		built = obj_built(b, u->obj, &why);
		if (built == NOT_BUILT) {
			err = included_by(b, u->src, &inc);
			if (err) {
				free(why);
				return err;
			}
		}
		if (inc) {
			free(why);
			free(u->obj);
			u->obj = inc;
			/* i-- wraps at 0 and the loop's i++ brings it back */
			if (merge_unit(b, i))
				i--;
			continue;
		}
		if (built == NOT_BUILT) {
			err = elp_bstate_refuse(
				b, "%s is not built with this config (%s)",
				u->src, why ? why : "not in its Makefile");
			free(why);
			return err;
		}
		free(why);
	}
	if (b->nr_headers)
		return scope_headers(b);
	return 0;
}

void elp_bscope_free(struct elp_bstate *b)
{
	size_t i;

	for (i = 0; i < b->nr_mkfiles; i++) {
		free(b->mkfiles[i].dir);
		free(b->mkfiles[i].text);
	}
	free(b->mkfiles);
	b->mkfiles = NULL;
	b->nr_mkfiles = 0;
	free(b->config);
	b->config = NULL;
}
