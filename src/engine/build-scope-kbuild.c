// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The scope pass's first question: is an object built with the kernel's
 * config?  kbuild compiles any "make dir/x.o" it is asked for, so the
 * answer comes from the directory's Makefile (or Kbuild):
 * "obj-$(CONFIG_X) += x.o", composite objects ("foo-y += x.o", foo.o
 * built) and the directory itself in its parent's Makefile.  Lines that
 * cannot be evaluated (conditionals, computed names) count as built.
 *
 * Apart from build-scope.c, which asks it for the units and for the files
 * a changed header reaches, because reading kbuild Makefiles is a job of
 * its own, with its own cache of the Makefiles read (b->mkfiles).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-scope-internal.h"

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
	nm = elp_grow(b->mkfiles, &b->cap_mkfiles, b->nr_mkfiles + 1,
		      sizeof(*nm));
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

static enum elp_scope_built obj_built_in(struct elp_bstate *b, const char *dir,
					 const char *base, char **why,
					 int depth);

/* The condition of a kbuild list name "<prefix>-<suffix>". */
static enum elp_scope_built list_cond(struct elp_bstate *b, const char *suffix,
				      size_t len, char **config)
{
	char *name, *v;
	enum elp_scope_built r;

	if ((len == 1 && (suffix[0] == 'y' || suffix[0] == 'm')) ||
	    (len == 4 && strncmp(suffix, "objs", 4) == 0))
		return ELP_SCOPE_BUILT;
	if (len < 10 || strncmp(suffix, "$(CONFIG_", 9) != 0 ||
	    suffix[len - 1] != ')')
		return ELP_SCOPE_UNKNOWN;
	name = strndup(suffix + 2, len - 3);
	if (!name)
		return ELP_SCOPE_UNKNOWN;
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
	    strlen(name)) {
		free(name);
		return ELP_SCOPE_UNKNOWN;
	}
	v = elp_config_get(b->config, name);
	r = v && (strcmp(v, "y") == 0 || strcmp(v, "m") == 0)
		    ? ELP_SCOPE_BUILT
		    : ELP_SCOPE_NOT_BUILT;
	free(v);
	if (r == ELP_SCOPE_NOT_BUILT)
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
static enum elp_scope_built obj_built_in(struct elp_bstate *b, const char *dir,
					 const char *base, char **why,
					 int depth)
{
	const char *text = mkfile_text(b, dir), *line;
	char *off_config = NULL;
	enum elp_scope_built r = ELP_SCOPE_NOT_BUILT;
	bool mentioned = false;

	if (!text || depth > 4)
		return ELP_SCOPE_UNKNOWN;
	for (line = text; *line && r != ELP_SCOPE_BUILT;) {
		const char *end = strchrnul(line, '\n');
		const char *op = NULL, *p, *lhs, *lhs_end, *dash;
		char *cfg = NULL;
		enum elp_scope_built c;

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
		if (c == ELP_SCOPE_NOT_BUILT) {
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
			r = r == ELP_SCOPE_NOT_BUILT ? ELP_SCOPE_UNKNOWN : r;
		} else {
			/* a part of composite object <prefix>.o */
			char *comp = NULL, *w = NULL;
			enum elp_scope_built cr;

			if (asprintf(&comp, "%.*s.o", (int)(dash - lhs), lhs) <
			    0) {
				r = ELP_SCOPE_UNKNOWN;
				goto next;
			}
			cr = obj_built_in(b, dir, comp, &w, depth + 1);
			free(comp);
			if (cr == ELP_SCOPE_NOT_BUILT && w && !off_config)
				off_config = w;
			else
				free(w);
			if (cr != ELP_SCOPE_NOT_BUILT)
				r = cr;
		}
	next:
		line = *end ? end + 1 : end;
	}
	if (r == ELP_SCOPE_NOT_BUILT && !mentioned && computed_lists(text))
		r = ELP_SCOPE_UNKNOWN;
	if (r == ELP_SCOPE_NOT_BUILT) {
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
		return ELP_SCOPE_NOT_BUILT;
	}
	free(off_config);
	if (strchr(dir, '/')) {
		/* the directory itself, in its parent's Makefile */
		char *parent = strdup(dir), *slash, *sub = NULL;
		enum elp_scope_built pr = ELP_SCOPE_UNKNOWN;

		if (parent && (slash = strrchr(parent, '/')) &&
		    asprintf(&sub, "%s/", slash + 1) > 0) {
			*slash = '\0';
			pr = obj_built_in(b, parent, sub, why, depth + 1);
		}
		free(parent);
		free(sub);
		if (pr == ELP_SCOPE_NOT_BUILT)
			return ELP_SCOPE_NOT_BUILT;
	}
	return r;
}

/* Is the object "fs/proc/x.o" built?  *why as above when not. */
enum elp_scope_built elp_scope_obj_built(struct elp_bstate *b, const char *obj,
					 char **why)
{
	const char *slash = strrchr(obj, '/');
	char *dir;
	enum elp_scope_built r;

	*why = NULL;
	if (!slash)
		return ELP_SCOPE_UNKNOWN;
	dir = strndup(obj, (size_t)(slash - obj));
	if (!dir)
		return ELP_SCOPE_UNKNOWN;
	r = obj_built_in(b, dir, slash + 1, why, 0);
	free(dir);
	return r;
}
