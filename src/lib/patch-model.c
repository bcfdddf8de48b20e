// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * struct elp_patch: what a parsed patch changes (files, their hunks and the
 * functions the hunks touch, from libgit2's view of it) and the CVE ids its
 * mail names.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <git2.h>

#include "patch-internal.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* struct elp_patch                                                    */

void elp_patch_free(struct elp_patch *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nr_files; i++) {
		free(p->files[i].path);
		free(p->files[i].status);
		elp_strv_free(p->files[i].functions, p->files[i].nr_functions);
	}
	free(p->files);
	elp_strv_free(p->cves, p->nr_cves);
	free(p->name);
	free(p->sha256);
	free(p->content);
	free(p->origin);
	free(p->subject);
	free(p);
}

const char *elp_patch_kind_name(enum elp_patch_kind kind)
{
	return kind == ELP_PATCH_KERNEL ? "kernel" : "livepatch";
}

int elp_patch_kind_from_name(const char *s, enum elp_patch_kind *kind)
{
	if (s && strcmp(s, "kernel") == 0)
		*kind = ELP_PATCH_KERNEL;
	else if (s && strcmp(s, "livepatch") == 0)
		*kind = ELP_PATCH_LIVEPATCH;
	else
		return -EINVAL;
	return 0;
}

bool elp_cve_is_valid(const char *s)
{
	size_t i, digits = 0;

	if (!s || strncasecmp(s, "CVE-", 4) != 0)
		return false;
	for (i = 4; i < 8; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	if (s[8] != '-')
		return false;
	for (i = 9; isdigit((unsigned char)s[i]); i++)
		digits++;
	return s[i] == '\0' && digits >= 4 && digits <= 19;
}

int elp_patch_add_cve(struct elp_patch *p, const char *cve)
{
	char buf[64];
	size_t i;

	if (!elp_cve_is_valid(cve) || strlen(cve) >= sizeof(buf))
		return -EINVAL;
	for (i = 0; cve[i]; i++)
		buf[i] = (char)toupper((unsigned char)cve[i]);
	buf[i] = '\0';
	if (elp_strv_add_unique(&p->cves, &p->nr_cves, buf))
		return -ENOMEM;
	qsort(p->cves, p->nr_cves, sizeof(*p->cves), elp_cmp_str);
	return 0;
}

/* CVE ids mentioned in the mail headers and body (before the first file). */
int elp_patch_scan_cves(struct elp_patch *p, const struct parser *P)
{
	size_t i;

	for (i = 0; i < P->preamble_end; i++) {
		const char *line = P->lines[i], *s;

		for (s = line; (s = strcasestr(s, "cve-")) != NULL; s += 4) {
			char id[64];
			size_t n = 4;
			int err;

			if (s > line &&
			    (isalnum((unsigned char)s[-1]) || s[-1] == '_'))
				continue;
			while (n < sizeof(id) - 1 &&
			       (isdigit((unsigned char)s[n]) ||
				(n == 8 && s[n] == '-')))
				n++;
			if (isalnum((unsigned char)s[n]))
				continue;
			memcpy(id, s, n);
			id[n] = '\0';
			if (!elp_cve_is_valid(id))
				continue;
			err = elp_patch_add_cve(p, id);
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * The function named by the call-like text in [s, end): "static int foo(struct
 * x *y)" -> "foo"; SYSCALL_DEFINEn(name, ...) -> "__do_sys_name".  Text
 * without a call (struct definitions, labels) names no function.
 */
static char *function_name(const char *s, const char *end)
{
	const char *paren, *p, *q;

	paren = memchr(s, '(', (size_t)(end - s));
	if (!paren)
		return NULL;
	for (q = paren; q > s && q[-1] == ' '; q--)
		;
	for (p = q; p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
	     p--)
		;
	if (p == q || isdigit((unsigned char)*p))
		return NULL;
	if ((q - p == 15 && elp_starts_with(p, "SYSCALL_DEFINE")) ||
	    (q - p == 22 && elp_starts_with(p, "COMPAT_SYSCALL_DEFINE"))) {
		const char *a = paren + 1, *b;
		char *name;

		while (a < end && *a == ' ')
			a++;
		for (b = a;
		     b < end && (isalnum((unsigned char)*b) || *b == '_'); b++)
			;
		if (b == a)
			return NULL;
		if (asprintf(&name, "%s%.*s",
			     *p == 'C' ? "__do_compat_sys_" : "__do_sys_",
			     (int)(b - a), a) < 0)
			return NULL;
		return name;
	}
	return strndup(p, (size_t)(q - p));
}

/* The function a hunk header ("@@ -1,2 +1,2 @@ static int foo(...)") names. */
static char *hunk_function(const char *header, size_t len)
{
	const char *end = header + len, *at;

	at = len > 2 ? strstr(header + 2, "@@") : NULL;
	if (!at || at >= end)
		return NULL;
	return function_name(at + 2, end);
}

/* A hunk's lines as git gives them: origin ' ', '+' or '-', then text. */
struct hunk_line {
	char origin;
	const char *text;
	size_t len;
};

static bool line_ends_with(const struct hunk_line *l, char c)
{
	size_t n = l->len;

	while (n && isspace((unsigned char)l->text[n - 1]))
		n--;
	return n && l->text[n - 1] == c;
}

/*
 * The function whose definition starts at line i, in kernel style: a
 * declarator in column 0 with a parameter list, not a statement, followed
 * on the same side of the diff by a '{' opening a line (or ending this one)
 * before any ';'.
 */
static char *defined_function(const struct hunk_line *lines, size_t n, size_t i)
{
	const struct hunk_line *l = &lines[i];
	const char *paren, *eq;
	char skip = l->origin == '-' ? '+' : '-';
	size_t j, seen = 0;

	if (!l->len ||
	    !(isalpha((unsigned char)l->text[0]) || l->text[0] == '_'))
		return NULL;
	paren = memchr(l->text, '(', l->len);
	eq = memchr(l->text, '=', l->len);
	if (!paren || (eq && eq < paren) || line_ends_with(l, ';'))
		return NULL;
	for (j = i; j < n && seen < 16; j++) {
		const struct hunk_line *m = &lines[j];

		if (m->origin == skip)
			continue;
		seen++;
		if ((j > i && m->len && m->text[0] == '{') ||
		    (j == i && line_ends_with(m, '{')))
			return function_name(l->text, l->text + l->len);
		if (line_ends_with(m, ';') ||
		    (j > i && m->len && !isspace((unsigned char)m->text[0])))
			return NULL;
	}
	return NULL;
}

/*
 * The functions a hunk changes: the one its header names, until the hunk's
 * own lines close it ('}' in column 0) or define another one -- git leaves
 * the header empty, or names the previous function, when a hunk starts at
 * a definition, the usual shape of a small fix.
 */
static int hunk_functions(struct elp_patch_file *f, const char *header,
			  size_t header_len, const struct hunk_line *lines,
			  size_t n)
{
	char *current = hunk_function(header, header_len), *fn;
	size_t i;
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		const struct hunk_line *l = &lines[i];

		fn = defined_function(lines, n, i);
		if (fn) {
			free(current);
			current = fn;
		}
		if ((l->origin == '+' || l->origin == '-') && current)
			err = elp_strv_add_unique(&f->functions,
						  &f->nr_functions, current);
		if (l->len && l->text[0] == '}') {
			free(current);
			current = NULL;
		}
	}
	free(current);
	return err;
}

struct elp_patch_file *elp_patch_file_for(struct elp_patch *p, const char *path,
					  const char *status)
{
	struct elp_patch_file *f;
	size_t i;

	for (i = 0; i < p->nr_files; i++)
		if (strcmp(p->files[i].path, path) == 0)
			return &p->files[i];
	f = elp_grow(p->files, &p->cap_files, p->nr_files + 1, sizeof(*f));
	if (!f)
		return NULL;
	p->files = f;
	f = &p->files[p->nr_files];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	f->status = strdup(status);
	if (!f->path || !f->status) {
		free(f->path);
		free(f->status);
		return NULL;
	}
	p->nr_files++;
	return f;
}

static const char *status_name(git_delta_t status)
{
	switch (status) {
	case GIT_DELTA_ADDED:
	case GIT_DELTA_COPIED:
		return "added";
	case GIT_DELTA_DELETED:
		return "deleted";
	case GIT_DELTA_RENAMED:
		return "renamed";
	default:
		return "modified";
	}
}

static int collect_hunk_functions(struct elp_ctx *ctx, struct elp_patch_file *f,
				  git_patch *gp, size_t h, const char *origin)
{
	const git_diff_hunk *hunk;
	struct hunk_line *lines;
	size_t nlines, i, n = 0;
	int rc, err;

	rc = git_patch_get_hunk(&hunk, &nlines, gp, h);
	if (rc < 0)
		return elp_git_fail(ctx, rc, NULL, 0, "%s", origin);
	lines = calloc(nlines ? nlines : 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (i = 0; i < nlines; i++) {
		const git_diff_line *gl;

		rc = git_patch_get_line_in_hunk(&gl, gp, h, i);
		if (rc < 0) {
			free(lines);
			return elp_git_fail(ctx, rc, NULL, 0, "%s", origin);
		}
		if (gl->origin != GIT_DIFF_LINE_CONTEXT &&
		    gl->origin != GIT_DIFF_LINE_ADDITION &&
		    gl->origin != GIT_DIFF_LINE_DELETION)
			continue;
		lines[n].origin = gl->origin;
		lines[n].text = gl->content;
		lines[n].len = gl->content_len;
		n++;
	}
	err = hunk_functions(f, hunk->header, hunk->header_len, lines, n);
	free(lines);
	return err;
}

int elp_patch_collect_stats(struct elp_ctx *ctx, struct elp_patch *p,
			    git_diff *diff, const char *origin)
{
	size_t d, nd = git_diff_num_deltas(diff);
	int err = 0;

	for (d = 0; d < nd && !err; d++) {
		const git_diff_delta *delta;
		struct elp_patch_file *f;
		size_t adds = 0, dels = 0, h, nh;
		git_patch *gp;
		const char *path;
		int rc;

		rc = git_patch_from_diff(&gp, diff, d);
		if (rc < 0)
			return elp_git_fail(ctx, rc, NULL, 0, "%s", origin);
		delta = git_patch_get_delta(gp);
		path = delta->status == GIT_DELTA_DELETED
			       ? delta->old_file.path
			       : delta->new_file.path;
		f = elp_patch_file_for(p, path, status_name(delta->status));
		if (!f) {
			git_patch_free(gp);
			return -ENOMEM;
		}
		git_patch_line_stats(NULL, &adds, &dels, gp);
		nh = git_patch_num_hunks(gp);
		f->hunks += (int)nh;
		f->additions += (int)adds;
		f->deletions += (int)dels;
		for (h = 0; h < nh && !err; h++)
			err = collect_hunk_functions(ctx, f, gp, h, origin);
		git_patch_free(gp);
	}
	return err;
}
