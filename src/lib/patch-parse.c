// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unified diffs: parsing, cataloguing and applying to a plain source tree.
 *
 * Patches arrive in three forms: `git format-patch` mails, `git diff` output
 * and plain `diff -u`/`diff -ruN` output.  libgit2 (1.5) only parses the git
 * form, so every patch goes through a small line-based pass first that
 *  - validates it, naming "<file>:<line>" for anything wrong,
 *  - picks the Subject: and CVE ids from the mail part,
 *  - and re-emits each file section in the git form (synthesising the
 *    `diff --git` header for plain sections), forwards or reversed.
 * libgit2 then does the parsing proper (statistics, hunk headers) and the
 * application (git_apply_to_tree on an in-memory repository holding only the
 * files the patch touches).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include "patch-internal.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* The line-based pass                                                 */

void elp_parser_free(struct parser *P)
{
	size_t i;

	for (i = 0; i < P->nsecs; i++) {
		free(P->secs[i].old_path);
		free(P->secs[i].new_path);
		free(P->secs[i].hunks);
	}
	free(P->secs);
	free(P->lines);
	free(P->buf);
	free(P->subject);
	memset(P, 0, sizeof(*P));
}

static int perr(struct parser *P, size_t lineno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int perr(struct parser *P, size_t lineno, const char *fmt, ...)
{
	char *msg = NULL;
	va_list args;

	va_start(args, fmt);
	if (vasprintf(&msg, fmt, args) < 0)
		msg = NULL;
	va_end(args);
	elp_err(P->ctx, "%s:%zu: %s", P->origin, lineno,
		msg ? msg : "invalid patch");
	free(msg);
	return -EBADMSG;
}

/* What no source fix needs: refused before any work (hostile input). */
#define PATCH_MAX_BYTES (64u << 20)
#define PATCH_MAX_LINE (1u << 20)

static int split_lines(struct parser *P, const char *content, size_t len)
{
	size_t i, n = 0, cap = 0;
	char *s;

	P->buf = malloc(len + 1);
	if (!P->buf)
		return -ENOMEM;
	memcpy(P->buf, content, len);
	P->buf[len] = '\0';
	s = P->buf;
	for (i = 0; i <= len; i++) {
		if (i < len && P->buf[i] != '\n')
			continue;
		if (i == len && s == P->buf + len)
			break; /* nothing after the last newline */
		if ((size_t)(P->buf + i - s) > PATCH_MAX_LINE)
			return perr(P, n + 1, "line longer than %u MiB",
				    PATCH_MAX_LINE >> 20);
		if (n == cap) {
			char **l = elp_grow(P->lines, &cap, n + 1, sizeof(*l));

			if (!l)
				return -ENOMEM;
			P->lines = l;
		}
		P->buf[i] = '\0';
		P->lines[n++] = s;
		s = P->buf + i + 1;
	}
	P->nlines = n;
	return 0;
}

bool elp_patch_path_is_safe(const char *path)
{
	const char *p = path, *slash;

	if (!*path || *path == '/')
		return false;
	for (;;) {
		size_t len;

		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

/* Mail headers at the top: only Subject: is kept. */
static int parse_mail(struct parser *P)
{
	struct elp_buf subject = { 0 };
	bool in_subject = false, headers = false;
	size_t i = 0;

	if (P->nlines && elp_starts_with(P->lines[0], "From "))
		i = 1;
	for (; i < P->nlines && P->lines[i][0]; i++) {
		const char *l = P->lines[i], *c;

		if ((l[0] == ' ' || l[0] == '\t') && headers) {
			if (in_subject) {
				while (*l == ' ' || *l == '\t')
					l++;
				if (elp_buf_puts(&subject, " ") ||
				    elp_buf_puts(&subject, l))
					goto oom;
			}
			continue;
		}
		for (c = l; isalnum((unsigned char)*c) || *c == '-'; c++)
			;
		if (c == l || *c != ':')
			break; /* not a header block */
		headers = true;
		in_subject = strncasecmp(l, "Subject:", 8) == 0;
		if (in_subject) {
			elp_buf_free(&subject);
			if (elp_buf_puts(&subject, c + 1))
				goto oom;
		}
	}
	if (subject.data) {
		char *s = subject.data;

		while (*s == ' ' || *s == '\t')
			s++;
		/* "[PATCH v2 3/7] fix" -> "fix", as git am does */
		while (*s == '[' && strchr(s, ']')) {
			s = strchr(s, ']') + 1;
			while (*s == ' ' || *s == '\t')
				s++;
		}
		elp_rstrip(s);
		if (*s) {
			P->subject = strdup(s);
			if (!P->subject)
				goto oom;
		}
		elp_buf_free(&subject);
	}
	return 0;
oom:
	elp_buf_free(&subject);
	return -ENOMEM;
}

static bool parse_number(const char **p, int *out)
{
	long v = 0;

	if (!isdigit((unsigned char)**p))
		return false;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		if (v > INT_MAX / 2)
			return false;
		(*p)++;
	}
	*out = (int)v;
	return true;
}

static bool parse_range(const char **p, char sign, int *start, int *count)
{
	if (**p != sign)
		return false;
	(*p)++;
	if (!parse_number(p, start))
		return false;
	*count = 1;
	if (**p == ',') {
		(*p)++;
		if (!parse_number(p, count))
			return false;
	}
	return true;
}

static bool parse_hunk_header(const char *l, struct phunk *h)
{
	const char *p = l + 3;

	if (!elp_starts_with(l, "@@ "))
		return false;
	if (!parse_range(&p, '-', &h->old_start, &h->old_count) || *p != ' ')
		return false;
	p++;
	if (!parse_range(&p, '+', &h->new_start, &h->new_count) ||
	    !elp_starts_with(p, " @@"))
		return false;
	p += 3;
	if (*p && *p != ' ')
		return false;
	h->tail = p;
	return h->old_count + h->new_count > 0;
}

/* Hunks from line i; returns the index after them or -errno. */
static long parse_hunks(struct parser *P, struct psection *sec, size_t i)
{
	while (i < P->nlines && elp_starts_with(P->lines[i], "@@")) {
		struct phunk h = { 0 }, *hunks;
		int old, new;
		size_t j;

		if (!parse_hunk_header(P->lines[i], &h))
			return perr(P, i + 1, "invalid hunk header '%s'",
				    P->lines[i]);
		h.header = i;
		h.first = i + 1;
		old = h.old_count;
		new = h.new_count;
		for (j = i + 1; old > 0 || new > 0; j++) {
			const char *l;

			if (j >= P->nlines)
				return perr(
					P, P->nlines,
					"truncated hunk '%s' (line %zu): %d old and %d new lines missing",
					P->lines[i], i + 1, old, new);
			l = P->lines[j];
			switch (l[0]) {
			case ' ':
			case '\0':
				old--;
				new --;
				break;
			case '-':
				old--;
				break;
			case '+':
				new --;
				break;
			case '\\':
				if (j == i + 1)
					return perr(
						P, j + 1,
						"'\\' line without a line before it");
				continue;
			default:
				return perr(
					P, j + 1,
					"unexpected line in hunk '%s' (line %zu): %d old and %d new lines missing",
					P->lines[i], i + 1, old, new);
			}
			if (old < 0 || new < 0)
				return perr(
					P, j + 1,
					"hunk '%s' (line %zu) has more lines than its header says",
					P->lines[i], i + 1);
		}
		if (j < P->nlines && P->lines[j][0] == '\\')
			j++;
		/* a body line right after the counted ones: miscounted hunk */
		if (j < P->nlines && strchr(" +-", P->lines[j][0]) &&
		    P->lines[j][0] && strcmp(P->lines[j], "-- ") != 0 &&
		    !(elp_starts_with(P->lines[j], "--- ") &&
		      j + 1 < P->nlines &&
		      elp_starts_with(P->lines[j + 1], "+++ ")))
			return perr(
				P, j + 1,
				"hunk '%s' (line %zu) has more lines than its header says",
				P->lines[i], i + 1);
		h.n = j - h.first;
		hunks = elp_grow(sec->hunks, &sec->cap_hunks, sec->nhunks + 1,
				 sizeof(*hunks));
		if (!hunks)
			return -ENOMEM;
		sec->hunks = hunks;
		sec->hunks[sec->nhunks++] = h;
		i = j;
	}
	return (long)i;
}

static struct psection *new_section(struct parser *P, size_t first)
{
	struct psection *s;

	s = elp_grow(P->secs, &P->cap_secs, P->nsecs + 1, sizeof(*s));
	if (!s)
		return NULL;
	P->secs = s;
	s = &P->secs[P->nsecs++];
	memset(s, 0, sizeof(*s));
	s->first = first;
	s->status = 'M';
	return s;
}

static bool epoch_date(const char *ts)
{
	return ts && (strstr(ts, "1970-01-01") || strstr(ts, "1969-12-31") ||
		      strstr(ts, " 1970"));
}

/*
 * A plain "--- " / "+++ " name: up to a tab (the timestamp), first path
 * component stripped as patch -p1 would.  *dev_null for /dev/null.
 */
static char *plain_path(const char *s, const char **ts, bool *dev_null)
{
	const char *tab = strchr(s, '\t');
	size_t len = tab ? (size_t)(tab - s) : strlen(s);
	const char *slash;
	char *path;

	*ts = tab ? tab + 1 : NULL;
	while (!tab && len && s[len - 1] == ' ')
		len--;
	*dev_null = len == 9 && strncmp(s, "/dev/null", 9) == 0;
	slash = memchr(s, '/', len);
	if (slash && !*dev_null) {
		len -= (size_t)(slash + 1 - s);
		s = slash + 1;
	}
	path = strndup(s, len);
	return path;
}

static long parse_plain_section(struct parser *P, size_t i)
{
	struct psection *sec = new_section(P, i);
	const char *old_ts, *new_ts;
	bool old_null, new_null;
	char *old, *new;
	long next;

	if (!sec)
		return -ENOMEM;
	old = plain_path(P->lines[i] + 4, &old_ts, &old_null);
	new = plain_path(P->lines[i + 1] + 4, &new_ts, &new_null);
	if (!old || !new) {
		free(old);
		free(new);
		return -ENOMEM;
	}
	if (old_null && new_null) {
		free(old);
		free(new);
		return perr(P, i + 1, "both file names are /dev/null");
	}
	if ((!old_null && P->lines[i][4] == '/') ||
	    (!new_null && P->lines[i + 1][4] == '/')) {
		long err = perr(P, i + 1, "absolute path '%s'",
				P->lines[i + (P->lines[i][4] != '/')] + 4);

		free(old);
		free(new);
		return err;
	}
	if (i + 2 >= P->nlines || !elp_starts_with(P->lines[i + 2], "@@")) {
		long err = perr(P, i + 2 < P->nlines ? i + 3 : i + 2,
				"file section '%s' has no hunks",
				new_null ? old : new);

		free(old);
		free(new);
		return err;
	}
	next = parse_hunks(P, sec, i + 2);
	if (next < 0) {
		free(old);
		free(new);
		return next;
	}
	if (old_null || (epoch_date(old_ts) && sec->nhunks == 1 &&
			 sec->hunks[0].old_count == 0)) {
		sec->status = 'A';
		sec->new_path = new;
		free(old);
	} else if (new_null || (epoch_date(new_ts) && sec->nhunks == 1 &&
				sec->hunks[0].new_count == 0)) {
		sec->status = 'D';
		sec->old_path = old;
		free(new);
	} else {
		sec->old_path = new; /* patch(1) too prefers the new name */
		sec->new_path = strdup(new);
		free(old);
		if (!sec->new_path)
			return -ENOMEM;
	}
	return next;
}

static int git_side_path(const char *s, char prefix, char **out)
{
	const char *tab = strchr(s, '\t');
	size_t len = tab ? (size_t)(tab - s) : strlen(s);

	free(*out);
	*out = NULL;
	if (len == 9 && strncmp(s, "/dev/null", 9) == 0)
		return 0;
	if (len >= 2 && s[0] == prefix && s[1] == '/') {
		s += 2;
		len -= 2;
	}
	*out = strndup(s, len);
	return *out ? 0 : -ENOMEM;
}

/* "a/X b/Y" of a diff --git line. */
static int split_git_line(struct psection *sec, const char *rest)
{
	size_t len = strlen(rest), half;
	const char *b;

	if (rest[0] == '"') {
		sec->quoted = true;
		return 0;
	}
	if (!elp_starts_with(rest, "a/"))
		return 0;
	half = (len - 1) / 2;
	if (len % 2 == 1 && rest[half] == ' ' &&
	    elp_starts_with(rest + half + 1, "b/") &&
	    memcmp(rest + 2, rest + half + 3, half - 2) == 0) {
		b = rest + half + 1;
	} else {
		b = strstr(rest, " b/");
		if (!b)
			return 0;
		b++;
	}
	sec->old_path = strndup(rest + 2, (size_t)(b - 1 - (rest + 2)));
	sec->new_path = strdup(b + 2);
	return sec->old_path && sec->new_path ? 0 : -ENOMEM;
}

/*
 * A symbolic link the patch creates or changes stays inside the tree: its
 * target is relative and its ".." never climb above the top.
 */
static bool link_is_safe(const char *path, const char *target)
{
	const char *p;
	int depth = 0;

	if (*target == '/' || !*target)
		return false;
	for (p = path; (p = strchr(p, '/')); p++)
		depth++; /* the link's directory */
	for (p = target; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			depth--;
		else if (len && !(len == 1 && p[0] == '.'))
			depth++;
		if (depth < 0)
			return false;
		p += len;
		if (*p)
			p++;
	}
	return true;
}

/* Each target a symbolic link section gives (its '+' lines) is safe. */
static int check_link(struct parser *P, const struct psection *sec)
{
	const char *path = sec->new_path ? sec->new_path : sec->old_path;
	size_t h, k;

	if ((sec->new_mode & 0170000) != 0120000 || !path)
		return 0;
	for (h = 0; h < sec->nhunks; h++) {
		const struct phunk *hk = &sec->hunks[h];

		for (k = hk->first; k < hk->first + hk->n; k++)
			if (P->lines[k][0] == '+' &&
			    !link_is_safe(path, P->lines[k] + 1))
				return perr(
					P, k + 1,
					"symbolic link '%s' would point outside the tree ('%s')",
					path, P->lines[k] + 1);
	}
	return 0;
}

static long parse_git_section(struct parser *P, size_t i)
{
	struct psection *sec = new_section(P, i);
	size_t j = i + 1;
	bool saw_minus = false, extended = false, saw_from = false,
	     saw_to = false;
	const char *arg = NULL;
	int err;

	if (!sec)
		return -ENOMEM;
	sec->git = true;
	err = split_git_line(sec, P->lines[i] + strlen("diff --git "));
	if (err)
		return err;
	for (; j < P->nlines; j++) {
		const char *l = P->lines[j];
		char **target = NULL;

		if (elp_starts_with(l, "old mode ")) {
			sec->old_mode = (unsigned)strtoul(l + 9, NULL, 8);
		} else if (elp_starts_with(l, "new mode ")) {
			sec->new_mode = (unsigned)strtoul(l + 9, NULL, 8);
		} else if (elp_starts_with(l, "deleted file mode ")) {
			sec->status = 'D';
			sec->old_mode = (unsigned)strtoul(l + 18, NULL, 8);
		} else if (elp_starts_with(l, "new file mode ")) {
			sec->status = 'A';
			sec->new_mode = (unsigned)strtoul(l + 14, NULL, 8);
		} else if (elp_starts_with(l, "similarity index ") ||
			   elp_starts_with(l, "dissimilarity index ")) {
			sec->similarity = atoi(strchr(l, 'x') + 2);
		} else if (elp_starts_with(l, "rename from ")) {
			sec->status = 'R';
			target = &sec->old_path;
			arg = l + 12;
		} else if (elp_starts_with(l, "rename to ")) {
			target = &sec->new_path;
			arg = l + 10;
		} else if (elp_starts_with(l, "copy from ")) {
			sec->status = 'C';
			target = &sec->old_path;
			arg = l + 10;
		} else if (elp_starts_with(l, "copy to ")) {
			target = &sec->new_path;
			arg = l + 8;
		} else if (elp_starts_with(l, "index ")) {
			/* blob ids: not needed */
		} else if (elp_starts_with(l, "--- ")) {
			saw_minus = true;
			err = git_side_path(l + 4, 'a', &sec->old_path);
		} else if (elp_starts_with(l, "+++ ")) {
			err = git_side_path(l + 4, 'b', &sec->new_path);
		} else if (elp_starts_with(l, "Binary files ")) {
			sec->binary = true;
		} else if (strcmp(l, "GIT binary patch") == 0) {
			int blocks = 0;

			sec->binary = true;
			/* "literal N"/"delta N", base85 lines, a blank line; twice */
			for (j++; j < P->nlines && blocks < 2; j++) {
				if (!elp_starts_with(P->lines[j], "literal ") &&
				    !elp_starts_with(P->lines[j], "delta "))
					break;
				while (++j < P->nlines && P->lines[j][0])
					;
				blocks++;
			}
			/* the last line read; a patch may end in the block */
			j = (j > P->nlines ? P->nlines : j) - 1;
		} else {
			break;
		}
		if (err)
			return err;
		/* one source and one destination a file header: libgit2
		 * would take the last (and leak the first) */
		if (target && (target == &sec->old_path ? saw_from : saw_to))
			return perr(
				P, j + 1,
				"'%.*s': the file header already names its %s",
				(int)(arg - l - 1), l,
				target == &sec->old_path ? "source"
							 : "destination");
		if (target == &sec->old_path)
			saw_from = true;
		else if (target)
			saw_to = true;
		if (target) {
			free(*target);
			*target = strdup(arg);
			if (!*target)
				return -ENOMEM;
		}
		extended = true;
	}
	if (sec->status == 'A') {
		free(sec->old_path);
		sec->old_path = NULL;
	} else if (sec->status == 'D') {
		free(sec->new_path);
		sec->new_path = NULL;
	}
	sec->hdr_n = j - i;
	if (j < P->nlines && elp_starts_with(P->lines[j], "@@")) {
		long next = parse_hunks(P, sec, j);

		if (next < 0)
			return next;
		j = (size_t)next;
	} else if (saw_minus) {
		return perr(P, j + 1, "file section '%s' has no hunks",
			    P->lines[i] + strlen("diff --git "));
	} else if (!extended) {
		return perr(P, i + 1, "'diff --git' line without any change");
	}
	if (!sec->quoted) {
		const char *bad = NULL;

		if (sec->old_path && !elp_patch_path_is_safe(sec->old_path))
			bad = sec->old_path;
		if (sec->new_path && !elp_patch_path_is_safe(sec->new_path))
			bad = sec->new_path;
		if (!sec->old_path && !sec->new_path)
			return perr(P, i + 1, "cannot tell the file name");
		if (bad)
			return perr(P, i + 1, "unsafe path '%s'", bad);
	}
	/* sec is P->secs' last element, freed with P */
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
	err = check_link(P, sec);
	return err ? err : (long)j;
}

static int parse_sections(struct parser *P)
{
	size_t i = 0;

	while (i < P->nlines) {
		const char *l = P->lines[i];
		long next;

		if (elp_starts_with(l, "diff --git ")) {
			next = parse_git_section(P, i);
		} else if (elp_starts_with(l, "--- ") && i + 1 < P->nlines &&
			   elp_starts_with(P->lines[i + 1], "+++ ")) {
			next = parse_plain_section(P, i);
			if (next > 0) {
				struct psection *s = &P->secs[P->nsecs - 1];
				const char *p =
					s->new_path ? s->new_path : s->old_path;

				if (!elp_patch_path_is_safe(p))
					return perr(P, i + 1,
						    "unsafe path '%s'", p);
			}
		} else if (elp_starts_with(l, "@@ -")) {
			return perr(
				P, i + 1,
				"hunk outside a file section (no '---'/'+++' lines before it)");
		} else if (strcmp(l, "-- ") == 0 && P->nsecs) {
			break; /* mail signature */
		} else {
			i++; /* commentary: mail body, diffstat, "Only in" */
			continue;
		}
		if (next < 0)
			return (int)next;
		if (P->nsecs == 1)
			P->preamble_end = P->secs[0].first;
		i = (size_t)next;
	}
	if (!P->nsecs)
		return perr(
			P, P->nlines ? P->nlines : 1,
			"not a unified diff: no file sections ('diff --git' or '---'/'+++' lines)");
	return 0;
}

int elp_parser_run(struct parser *P, struct elp_ctx *ctx, const char *origin,
		   const char *content, size_t len)
{
	const char *nul;
	size_t k;
	int err;

	memset(P, 0, sizeof(*P));
	P->ctx = ctx;
	P->origin = origin ? origin : "patch";
	for (k = 0; k < len && isspace((unsigned char)content[k]); k++)
		;
	if (k == len)
		return perr(P, 1, "empty file, not a patch");
	if (len > PATCH_MAX_BYTES)
		return perr(P, 1,
			    "%zu bytes, larger than a patch can be (%u MiB)",
			    len, PATCH_MAX_BYTES >> 20);
	nul = memchr(content, '\0', len);
	if (nul) {
		size_t line = 1;

		for (k = 0; content + k < nul; k++)
			line += content[k] == '\n';
		return perr(P, line, "binary data (NUL byte), not a patch");
	}
	err = split_lines(P, content, len);
	if (!err)
		err = parse_mail(P);
	if (!err)
		err = parse_sections(P);
	return err;
}

/* ------------------------------------------------------------------ */
/* Re-emitting in the git form                                         */

static int emit_line(struct emit *e, size_t lineno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int emit_line(struct emit *e, size_t lineno, const char *fmt, ...)
{
	char *s;
	va_list args;
	int n, err;

	va_start(args, fmt);
	n = vasprintf(&s, fmt, args);
	va_end(args);
	if (n < 0)
		return -ENOMEM;
	err = elp_buf_append(&e->buf, s, (size_t)n);
	free(s);
	if (!err)
		err = elp_buf_append(&e->buf, "\n", 1);
	if (err)
		return err;
	if (e->nmap == e->cap) {
		size_t *m = elp_grow(e->map, &e->cap, e->nmap + 1, sizeof(*m));

		if (!m)
			return -ENOMEM;
		e->map = m;
	}
	e->map[e->nmap++] = lineno;
	return 0;
}

void elp_emit_free(struct emit *e)
{
	elp_buf_free(&e->buf);
	free(e->map);
	memset(e, 0, sizeof(*e));
}

static unsigned int mode_or_blob(unsigned int mode)
{
	return mode ? mode : 0100644;
}

static int emit_section(struct emit *e, const struct parser *P,
			const struct psection *s, bool reverse)
{
	const char *old = reverse ? s->new_path : s->old_path;
	const char *new = reverse ? s->old_path : s->new_path;
	unsigned int om = reverse ? s->new_mode : s->old_mode;
	unsigned int nm = reverse ? s->old_mode : s->new_mode;
	size_t ln = s->first + 1, h, k;
	char st = s->status;
	int err = 0;

	if (reverse && st == 'A')
		st = 'D';
	else if (reverse && st == 'D')
		st = 'A';

	if (s->git && !reverse) {
		for (k = 0; k < s->hdr_n && !err; k++)
			err = emit_line(e, s->first + k + 1, "%s",
					P->lines[s->first + k]);
	} else {
		err = emit_line(e, ln, "diff --git a/%s b/%s", old ? old : new,
				new ? new : old);
		if (!err && st == 'A')
			err = emit_line(e, ln, "new file mode %o",
					mode_or_blob(nm));
		if (!err && st == 'D')
			err = emit_line(e, ln, "deleted file mode %o",
					mode_or_blob(om));
		if (!err && om && nm && om != nm && st != 'A' && st != 'D') {
			err = emit_line(e, ln, "old mode %o", om);
			if (!err)
				err = emit_line(e, ln, "new mode %o", nm);
		}
		if (!err && st == 'R') {
			err = emit_line(e, ln, "similarity index %d%%",
					s->similarity);
			if (!err)
				err = emit_line(e, ln, "rename from %s", old);
			if (!err)
				err = emit_line(e, ln, "rename to %s", new);
		}
		if (!err && s->nhunks) {
			if (old)
				err = emit_line(e, ln, "--- a/%s", old);
			else
				err = emit_line(e, ln, "--- /dev/null");
			if (!err && new)
				err = emit_line(e, ln, "+++ b/%s", new);
			else if (!err)
				err = emit_line(e, ln, "+++ /dev/null");
		}
	}
	for (h = 0; h < s->nhunks && !err; h++) {
		const struct phunk *hk = &s->hunks[h];
		int os = reverse ? hk->new_start : hk->old_start;
		int oc = reverse ? hk->new_count : hk->old_count;
		int ns = reverse ? hk->old_start : hk->new_start;
		int nc = reverse ? hk->old_count : hk->new_count;

		if (hk->adjusted) {
			os = hk->adj_old;
			ns = hk->adj_new;
		}
		err = emit_line(e, hk->header + 1, "@@ -%d,%d +%d,%d @@%s", os,
				oc, ns, nc, hk->tail);
		for (k = hk->first; k < hk->first + hk->n && !err; k++) {
			const char *l = P->lines[k];
			char c = l[0];

			if (c == '\0')
				err = emit_line(e, k + 1, " ");
			else if (reverse && (c == '+' || c == '-'))
				err = emit_line(e, k + 1, "%c%s",
						c == '+' ? '-' : '+', l + 1);
			else
				err = emit_line(e, k + 1, "%s", l);
		}
	}
	return err;
}

int elp_emit_all(const struct parser *P, bool reverse, struct emit *e)
{
	size_t i;
	int err = 0;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < P->nsecs && !err; i++)
		err = emit_section(e, P, &P->secs[i], reverse);
	if (!err && !e->buf.data)
		err = elp_buf_append(&e->buf, "", 0);
	if (err)
		elp_emit_free(e);
	return err;
}

int elp_emit_diff(struct elp_ctx *ctx, const char *origin, const struct emit *e,
		  git_diff **diff)
{
	int rc;

	elp_git_init_memory();
	rc = git_diff_from_buffer(diff, e->buf.data, e->buf.len);
	if (rc < 0) {
		int err = elp_git_fail(ctx, rc, e->map, e->nmap, "%s", origin);

		return err == -EIO ? -EBADMSG : err;
	}
	if (git_diff_num_deltas(*diff) == 0) {
		git_diff_free(*diff);
		*diff = NULL;
		elp_err(ctx, "%s: no file changes found", origin);
		return -EBADMSG;
	}
	return 0;
}

static char *default_name(const char *origin)
{
	const char *base, *dot;
	size_t len;

	if (!origin)
		return NULL;
	base = strrchr(origin, '/');
	base = base ? base + 1 : origin;
	len = strlen(base);
	dot = strrchr(base, '.');
	if (dot && dot != base &&
	    (strcmp(dot, ".patch") == 0 || strcmp(dot, ".diff") == 0))
		len = (size_t)(dot - base);
	return len ? strndup(base, len) : NULL;
}

int elp_patch_parse(struct elp_ctx *ctx, const char *origin,
		    const char *content, size_t len, struct elp_patch **out)
{
	struct elp_patch *p = NULL;
	git_diff *diff = NULL;
	struct parser P;
	struct emit e = { 0 };
	char sha[ELP_SHA256_HEX_LEN + 1];
	int err;

	err = elp_parser_run(&P, ctx, origin, content, len);
	if (!err)
		err = elp_emit_all(&P, false, &e);
	if (!err)
		err = elp_emit_diff(ctx, P.origin, &e, &diff);
	if (err)
		goto out;
	p = calloc(1, sizeof(*p));
	if (!p || elp_sha256_hex(content, len, sha) < 0) {
		err = -ENOMEM;
		goto out;
	}
	p->kind = ELP_PATCH_LIVEPATCH;
	p->name = default_name(origin);
	p->content = strndup(content, len);
	p->sha256 = strdup(sha);
	p->origin = origin ? strdup(origin) : NULL;
	p->subject = P.subject;
	P.subject = NULL;
	if (!p->content || !p->sha256 || (origin && !p->origin)) {
		err = -ENOMEM;
		goto out;
	}
	err = elp_patch_collect_stats(ctx, p, diff, P.origin);
	if (!err)
		err = elp_patch_scan_cves(p, &P);
out:
	if (err == -ENOMEM)
		elp_err(ctx, "%s: out of memory", P.origin);
	if (err) {
		elp_patch_free(p);
		p = NULL;
	}
	git_diff_free(diff);
	elp_emit_free(&e);
	elp_parser_free(&P);
	*out = p;
	return err;
}

int elp_patch_load(struct elp_ctx *ctx, const char *path,
		   struct elp_patch **out)
{
	char *content, *abs;
	size_t len;
	int err;

	*out = NULL;
	err = elp_read_file(ctx, path, &content, &len);
	if (err)
		return err;
	err = elp_patch_parse(ctx, path, content, len, out);
	free(content);
	if (err)
		return err;
	abs = elp_abspath(path);
	if (abs) {
		free((*out)->origin);
		(*out)->origin = abs;
	}
	return 0;
}
