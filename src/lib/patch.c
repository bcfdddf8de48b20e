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

#include "catalogue-internal.h"
#include "history.h"
#include "patch.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* libgit2                                                             */

static void git_init_once(void)
{
	static int initialised;

	if (!__atomic_exchange_n(&initialised, 1, __ATOMIC_SEQ_CST))
		git_libgit2_init();
}

/*
 * The one place libgit2 errors become log lines: "<prefix>: <message>".
 * When map is given and the message ends in " at line N" (libgit2's parse
 * errors, counted in the text it was given), N is translated back to the
 * user's file and the line is logged as "<prefix>:<line>: <message>".
 */
static int git_fail(struct elp_ctx *ctx, int rc, const size_t *map, size_t nmap,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int git_fail(struct elp_ctx *ctx, int rc, const size_t *map, size_t nmap,
		    const char *fmt, ...)
{
	const git_error *e = git_error_last();
	const char *msg =
		e && e->message ? e->message : "unknown libgit2 error";
	char *prefix = NULL;
	const char *at;
	va_list args;
	size_t n;

	va_start(args, fmt);
	if (vasprintf(&prefix, fmt, args) < 0)
		prefix = NULL;
	va_end(args);
	at = strstr(msg, " at line ");
	if (map && at && sscanf(at, " at line %zu", &n) == 1 && n >= 1 &&
	    n <= nmap) {
		elp_err(ctx, "%s:%zu: %.*s", prefix ? prefix : "patch",
			map[n - 1], (int)(at - msg), msg);
	} else {
		elp_err(ctx, "%s: %s", prefix ? prefix : "libgit2", msg);
	}
	free(prefix);
	switch (rc) {
	case GIT_ENOTFOUND:
		return -ENOENT;
	case GIT_EAPPLYFAIL:
		return -EINVAL;
	case GIT_EEXISTS:
		return -EEXIST;
	default:
		return rc == -1 && e && e->klass == GIT_ERROR_NOMEMORY ? -ENOMEM
								       : -EIO;
	}
}

/* ------------------------------------------------------------------ */
/* The line-based pass                                                 */

struct phunk {
	int old_start, old_count, new_start, new_count;
	int adj_old, adj_new; /* starts found in the tree, for apply */
	bool adjusted;
	size_t header; /* line index of the @@ line */
	size_t first, n; /* body lines */
	const char *tail; /* after the second @@, may be "" */
};

struct psection {
	size_t first; /* line index of its first line */
	bool git;
	size_t hdr_n; /* git form: raw header lines from first */
	char *old_path, *new_path; /* NULL for /dev/null */
	char status; /* 'M', 'A', 'D', 'R', 'C' */
	unsigned int old_mode, new_mode;
	int similarity;
	bool binary, quoted;
	struct phunk *hunks;
	size_t nhunks;
};

struct parser {
	struct elp_ctx *ctx;
	const char *origin;
	char *buf;
	char **lines;
	size_t nlines;
	struct psection *secs;
	size_t nsecs;
	char *subject;
	size_t preamble_end; /* line index of the first section */
};

static void parser_free(struct parser *P)
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
			char **l;

			cap = cap ? cap * 2 : 256;
			l = realloc(P->lines, cap * sizeof(*l));
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

static bool path_is_safe(const char *path)
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
		hunks = realloc(sec->hunks, (sec->nhunks + 1) * sizeof(*hunks));
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

	s = realloc(P->secs, (P->nsecs + 1) * sizeof(*s));
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
	bool saw_minus = false, extended = false;
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

		if (sec->old_path && !path_is_safe(sec->old_path))
			bad = sec->old_path;
		if (sec->new_path && !path_is_safe(sec->new_path))
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

				if (!path_is_safe(p))
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

static int parser_run(struct parser *P, struct elp_ctx *ctx, const char *origin,
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

struct emit {
	struct elp_buf buf;
	size_t *map; /* emitted line -> line number in the user's file */
	size_t nmap, cap;
};

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
		size_t cap = e->cap ? e->cap * 2 : 256;
		size_t *m = realloc(e->map, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		e->map = m;
		e->cap = cap;
	}
	e->map[e->nmap++] = lineno;
	return 0;
}

static void emit_free(struct emit *e)
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

static int emit_all(const struct parser *P, bool reverse, struct emit *e)
{
	size_t i;
	int err = 0;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < P->nsecs && !err; i++)
		err = emit_section(e, P, &P->secs[i], reverse);
	if (!err && !e->buf.data)
		err = elp_buf_append(&e->buf, "", 0);
	if (err)
		emit_free(e);
	return err;
}

static int diff_from_emit(struct elp_ctx *ctx, const char *origin,
			  const struct emit *e, git_diff **diff)
{
	int rc;

	git_init_once();
	rc = git_diff_from_buffer(diff, e->buf.data, e->buf.len);
	if (rc < 0) {
		int err = git_fail(ctx, rc, e->map, e->nmap, "%s", origin);

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

/* ------------------------------------------------------------------ */
/* struct elp_patch                                                    */

static void free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int strv_add_unique(char ***v, size_t *n, const char *s)
{
	char **nv;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

void elp_patch_free(struct elp_patch *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nr_files; i++) {
		free(p->files[i].path);
		free(p->files[i].status);
		free_strv(p->files[i].functions, p->files[i].nr_functions);
	}
	free(p->files);
	free_strv(p->cves, p->nr_cves);
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

static int kind_from_name(const char *s, enum elp_patch_kind *kind)
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
	if (strv_add_unique(&p->cves, &p->nr_cves, buf))
		return -ENOMEM;
	qsort(p->cves, p->nr_cves, sizeof(*p->cves), elp_cmp_str);
	return 0;
}

/* CVE ids mentioned in the mail headers and body (before the first file). */
static int scan_cves(struct elp_patch *p, const struct parser *P)
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
			err = strv_add_unique(&f->functions, &f->nr_functions,
					      current);
		if (l->len && l->text[0] == '}') {
			free(current);
			current = NULL;
		}
	}
	free(current);
	return err;
}

static struct elp_patch_file *file_for(struct elp_patch *p, const char *path,
				       const char *status)
{
	struct elp_patch_file *f;
	size_t i;

	for (i = 0; i < p->nr_files; i++)
		if (strcmp(p->files[i].path, path) == 0)
			return &p->files[i];
	f = realloc(p->files, (p->nr_files + 1) * sizeof(*f));
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
		return git_fail(ctx, rc, NULL, 0, "%s", origin);
	lines = calloc(nlines ? nlines : 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (i = 0; i < nlines; i++) {
		const git_diff_line *gl;

		rc = git_patch_get_line_in_hunk(&gl, gp, h, i);
		if (rc < 0) {
			free(lines);
			return git_fail(ctx, rc, NULL, 0, "%s", origin);
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

static int collect_stats(struct elp_ctx *ctx, struct elp_patch *p,
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
			return git_fail(ctx, rc, NULL, 0, "%s", origin);
		delta = git_patch_get_delta(gp);
		path = delta->status == GIT_DELTA_DELETED
			       ? delta->old_file.path
			       : delta->new_file.path;
		f = file_for(p, path, status_name(delta->status));
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

	err = parser_run(&P, ctx, origin, content, len);
	if (!err)
		err = emit_all(&P, false, &e);
	if (!err)
		err = diff_from_emit(ctx, P.origin, &e, &diff);
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
	err = collect_stats(ctx, p, diff, P.origin);
	if (!err)
		err = scan_cves(p, &P);
out:
	if (err == -ENOMEM)
		elp_err(ctx, "%s: out of memory", P.origin);
	if (err) {
		elp_patch_free(p);
		p = NULL;
	}
	git_diff_free(diff);
	emit_free(&e);
	parser_free(&P);
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

/* ------------------------------------------------------------------ */
/* Catalogue                                                           */

static bool name_is_valid(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;

	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static int insert_children(struct elp_catalogue *cat, const struct elp_patch *p)
{
	sqlite3_stmt *st;
	size_t i, j;
	int err;

	for (i = 0; i < p->nr_files; i++) {
		const struct elp_patch_file *f = &p->files[i];

		err = elp_catalogue_prepare(
			cat,
			"INSERT INTO patch_files (patch_id, path, status, hunks, additions, deletions) VALUES (?, ?, ?, ?, ?, ?)",
			&st);
		if (err)
			return err;
		sqlite3_bind_int64(st, 1, p->id);
		sqlite3_bind_text(st, 2, f->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, f->status, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, f->hunks);
		sqlite3_bind_int(st, 5, f->additions);
		sqlite3_bind_int(st, 6, f->deletions);
		err = elp_catalogue_step_done(cat, st,
					      "cannot record patch file");
		if (err)
			return err;
		for (j = 0; j < f->nr_functions; j++) {
			err = elp_catalogue_prepare(
				cat,
				"INSERT INTO patch_functions (patch_id, path, function) VALUES (?, ?, ?)",
				&st);
			if (err)
				return err;
			sqlite3_bind_int64(st, 1, p->id);
			sqlite3_bind_text(st, 2, f->path, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, f->functions[j], -1,
					  SQLITE_STATIC);
			err = elp_catalogue_step_done(
				cat, st, "cannot record patch function");
			if (err)
				return err;
		}
	}
	for (i = 0; i < p->nr_cves; i++) {
		err = elp_catalogue_prepare(
			cat,
			"INSERT INTO patch_cves (patch_id, cve) VALUES (?, ?)",
			&st);
		if (err)
			return err;
		sqlite3_bind_int64(st, 1, p->id);
		sqlite3_bind_text(st, 2, p->cves[i], -1, SQLITE_STATIC);
		err = elp_catalogue_step_done(cat, st, "cannot record CVE");
		if (err)
			return err;
	}
	return 0;
}

/* One row of "SELECT id, name FROM patches WHERE <col> = ?..." */
static int lookup_one(struct elp_catalogue *cat, const char *sql, const char *a,
		      const char *b, int64_t *id, char **name)
{
	sqlite3_stmt *st;
	int rc, err;

	err = elp_catalogue_prepare(cat, sql, &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (name)
			*name = elp_column_strdup(st, 1);
		err = 1;
	} else if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(cat, "cannot look up patch");
	}
	sqlite3_finalize(st);
	return err;
}

int elp_patch_store(struct elp_catalogue *cat, struct elp_patch *p)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	const char *what = p->origin ? p->origin : p->name;
	char *other = NULL;
	sqlite3_stmt *st;
	int64_t id = 0;
	int err;

	if (!name_is_valid(p->name)) {
		elp_err(ctx, "invalid patch name '%s'", p->name ? p->name : "");
		return -EINVAL;
	}
	if (!p->sha256 || !p->content) {
		elp_err(ctx, "patch '%s' has no content", p->name);
		return -EINVAL;
	}
	err = lookup_one(cat, "SELECT id, origin FROM patches WHERE name = ?",
			 p->name, NULL, &id, &other);
	if (err == 1) {
		elp_err(ctx,
			"cannot add '%s': a patch named '%s' is already catalogued (id %lld%s%s%s)",
			what, p->name, (long long)id, other ? ", from '" : "",
			other ? other : "", other ? "'" : "");
		free(other);
		return -EEXIST;
	}
	if (err < 0)
		return err;
	err = lookup_one(
		cat,
		"SELECT id, name FROM patches WHERE kind = ? AND sha256 = ?",
		elp_patch_kind_name(p->kind), p->sha256, &id, &other);
	if (err == 1) {
		elp_err(ctx,
			"cannot add '%s' as '%s': same content as catalogued patch '%s' (id %lld)",
			what, p->name, other ? other : "?", (long long)id);
		free(other);
		return -EEXIST;
	}
	if (err < 0)
		return err;

	if (!p->created_at)
		p->created_at = (int64_t)time(NULL);
	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO patches (name, kind, sha256, content, origin, subject, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		&st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, elp_patch_kind_name(p->kind), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->content, -1, SQLITE_STATIC);
	if (p->origin)
		sqlite3_bind_text(st, 5, p->origin, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (p->subject)
		sqlite3_bind_text(st, 6, p->subject, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, p->created_at);
	err = elp_catalogue_step_done(cat, st, "cannot record patch");
	if (err)
		return err;
	p->id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
	err = insert_children(cat, p);
	if (err)
		p->id = 0;
	return err;
}

int elp_patch_update(struct elp_catalogue *cat, const struct elp_patch *p)
{
	static const char *const clear[] = {
		"DELETE FROM patch_files WHERE patch_id = ?",
		"DELETE FROM patch_functions WHERE patch_id = ?",
		"DELETE FROM patch_cves WHERE patch_id = ?",
	};
	sqlite3_stmt *st;
	size_t i;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE patches SET sha256 = ?, content = ?, origin = ?, subject = ? WHERE id = ?",
		&st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, p->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->content, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, p->id);
	err = elp_catalogue_step_done(cat, st, "cannot update patch");
	for (i = 0; !err && i < sizeof(clear) / sizeof(clear[0]); i++) {
		err = elp_catalogue_prepare(cat, clear[i], &st);
		if (err)
			return err;
		sqlite3_bind_int64(st, 1, p->id);
		err = elp_catalogue_step_done(cat, st, "cannot update patch");
	}
	return err ? err : insert_children(cat, p);
}

static int file_row(sqlite3_stmt *st, void *data)
{
	struct elp_patch_file *f =
		file_for(data, (const char *)sqlite3_column_text(st, 0),
			 (const char *)sqlite3_column_text(st, 1));

	if (!f)
		return -ENOMEM;
	f->hunks = sqlite3_column_int(st, 2);
	f->additions = sqlite3_column_int(st, 3);
	f->deletions = sqlite3_column_int(st, 4);
	return 0;
}

static int function_row(sqlite3_stmt *st, void *data)
{
	struct elp_patch_file *f = file_for(
		data, (const char *)sqlite3_column_text(st, 0), "modified");

	if (!f || strv_add_unique(&f->functions, &f->nr_functions,
				  (const char *)sqlite3_column_text(st, 1)))
		return -ENOMEM;
	return 0;
}

static int cve_row(sqlite3_stmt *st, void *data)
{
	struct elp_patch *p = data;

	return strv_add_unique(&p->cves, &p->nr_cves,
			       (const char *)sqlite3_column_text(st, 0))
		       ? -ENOMEM
		       : 0;
}

static int load_children(struct elp_catalogue *cat, struct elp_patch *p)
{
	int err;

	err = elp_catalogue_each_row(
		cat,
		"SELECT path, status, hunks, additions, deletions FROM patch_files WHERE patch_id = ? ORDER BY rowid",
		p->id, file_row, p, "cannot read patch files");
	if (!err)
		err = elp_catalogue_each_row(
			cat,
			"SELECT path, function FROM patch_functions WHERE patch_id = ? ORDER BY rowid",
			p->id, function_row, p, "cannot read patch functions");
	if (!err)
		err = elp_catalogue_each_row(
			cat,
			"SELECT cve FROM patch_cves WHERE patch_id = ? ORDER BY cve",
			p->id, cve_row, p, "cannot read patch CVEs");
	return err;
}

static int load_patch(struct elp_catalogue *cat, int64_t id,
		      struct elp_patch **out)
{
	struct elp_patch *p;
	sqlite3_stmt *st;
	int rc, err;

	err = elp_catalogue_prepare(
		cat,
		"SELECT id, name, kind, sha256, content, origin, subject, created_at FROM patches WHERE id = ?",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = rc == SQLITE_DONE
			      ? -ENOENT
			      : elp_catalogue_error(cat, "cannot read patch");
		sqlite3_finalize(st);
		return err;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		sqlite3_finalize(st);
		return -ENOMEM;
	}
	p->id = sqlite3_column_int64(st, 0);
	p->name = elp_column_strdup(st, 1);
	if (kind_from_name((const char *)sqlite3_column_text(st, 2), &p->kind))
		p->kind = ELP_PATCH_LIVEPATCH;
	p->sha256 = elp_column_strdup(st, 3);
	p->content = elp_column_strdup(st, 4);
	p->origin = elp_column_strdup(st, 5);
	p->subject = elp_column_strdup(st, 6);
	p->created_at = sqlite3_column_int64(st, 7);
	sqlite3_finalize(st);
	err = load_children(cat, p);
	if (err) {
		elp_patch_free(p);
		return err;
	}
	*out = p;
	return 0;
}

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

int elp_patch_find(struct elp_catalogue *cat, const char *spec,
		   struct elp_patch **out)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	sqlite3_stmt *st;
	int64_t id = 0;
	int err, rc, n = 0;

	*out = NULL;
	err = lookup_one(cat, "SELECT id, name FROM patches WHERE name = ?",
			 spec, NULL, &id, NULL);
	if (err < 0)
		return err;
	if (err == 0 && elp_all_digits(spec, strlen(spec)) &&
	    strlen(spec) < 19) {
		err = lookup_one(
			cat,
			"SELECT id, name FROM patches WHERE id = CAST(? AS INTEGER)",
			spec, NULL, &id, NULL);
		if (err < 0)
			return err;
	}
	if (err == 0 && strlen(spec) >= 4 && strlen(spec) <= 64 &&
	    all_hex(spec)) {
		char lower[65];
		size_t i;

		for (i = 0; spec[i]; i++)
			lower[i] = (char)tolower((unsigned char)spec[i]);
		lower[i] = '\0';
		err = elp_catalogue_prepare(
			cat,
			"SELECT id FROM patches WHERE substr(sha256, 1, length(?1)) = ?1 ORDER BY id",
			&st);
		if (err)
			return err;
		sqlite3_bind_text(st, 1, lower, -1, SQLITE_TRANSIENT);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			n++;
		}
		if (rc != SQLITE_DONE) {
			err = elp_catalogue_error(cat, "cannot look up patch");
			sqlite3_finalize(st);
			return err;
		}
		sqlite3_finalize(st);
		if (n > 1) {
			elp_err(ctx,
				"patch '%s' is ambiguous: %d patches have a sha256 starting with it",
				spec, n);
			return -EINVAL;
		}
		err = n;
	}
	if (err == 0) {
		elp_err(ctx, "no patch '%s' in the catalogue", spec);
		return -ENOENT;
	}
	return load_patch(cat, id, out);
}

int elp_patch_find_by_sha(struct elp_catalogue *cat, enum elp_patch_kind kind,
			  const char *sha256, struct elp_patch **out)
{
	int64_t id = 0;
	int err;

	if (out)
		*out = NULL;
	err = lookup_one(
		cat,
		"SELECT id, name FROM patches WHERE kind = ? AND sha256 = ?",
		elp_patch_kind_name(kind), sha256, &id, NULL);
	if (err <= 0 || !out)
		return err;
	err = load_patch(cat, id, out);
	return err ? err : 1;
}

int elp_patch_foreach(struct elp_catalogue *cat, elp_patch_cb cb, void *data)
{
	int64_t *ids = NULL;
	size_t n = 0, i;
	sqlite3_stmt *st;
	int rc, err;

	err = elp_catalogue_prepare(cat, "SELECT id FROM patches ORDER BY id",
				    &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t *v = realloc(ids, (n + 1) * sizeof(*v));

		if (!v) {
			err = -ENOMEM;
			break;
		}
		ids = v;
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot list patches");
	sqlite3_finalize(st);
	for (i = 0; i < n && !err; i++) {
		struct elp_patch *p = NULL;

		err = load_patch(cat, ids[i], &p);
		if (err)
			break;
		err = cb(p, data);
		elp_patch_free(p);
	}
	free(ids);
	return err;
}

static int append_refs(struct elp_catalogue *cat, const char *sql, int64_t id,
		       struct elp_buf *out, const char *one, const char *many,
		       bool quote)
{
	struct elp_buf list = { 0 };
	sqlite3_stmt *st;
	int rc, err, n = 0;

	err = elp_catalogue_prepare(cat, sql, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		if (elp_buf_printf(&list, "%s%s%s%s", n ? ", " : "",
				   quote ? "'" : "", v ? v : "?",
				   quote ? "'" : "")) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot look up references");
	sqlite3_finalize(st);
	if (!err && n)
		err = elp_buf_printf(out, "%s%s %s", out->len ? " and " : "",
				     n == 1 ? one : many, list.data);
	elp_buf_free(&list);
	return err ? err : n;
}

int elp_patch_remove(struct elp_catalogue *cat, const struct elp_patch *p)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_buf why = { 0 };
	sqlite3_stmt *st;
	int err, nb, nk;

	nb = append_refs(
		cat,
		"SELECT DISTINCT build_id FROM build_patches WHERE patch_id = ? ORDER BY build_id",
		p->id, &why, "build", "builds", false);
	if (nb < 0)
		goto out_err;
	nk = append_refs(
		cat,
		"SELECT k.name FROM kernel_patches kp JOIN kernels k ON k.id = kp.kernel_id WHERE kp.patch_id = ? ORDER BY k.id",
		p->id, &why, "kernel", "kernels", true);
	if (nk < 0) {
		nb = nk;
		goto out_err;
	}
	if (nb || nk) {
		elp_err(ctx, "cannot remove patch '%s': used by %s", p->name,
			why.data);
		elp_buf_free(&why);
		return -EBUSY;
	}
	elp_buf_free(&why);
	err = elp_catalogue_prepare(cat, "DELETE FROM patches WHERE id = ?",
				    &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, p->id);
	return elp_catalogue_step_done(cat, st, "cannot remove patch");
out_err:
	elp_buf_free(&why);
	return nb;
}

/* ------------------------------------------------------------------ */
/* Applying to a plain tree                                            */

struct target {
	char *path; /* relative to the tree */
	bool existed;
	unsigned int git_mode; /* 0100644 or 0100755 */
	mode_t perm;
	char *data; /* preimage */
	size_t len;
	bool written;
};

struct apply {
	struct elp_ctx *ctx;
	const char *name;
	const char *tree;
	struct target *t;
	size_t nt;
};

static void apply_free(struct apply *A)
{
	size_t i;

	for (i = 0; i < A->nt; i++) {
		free(A->t[i].path);
		free(A->t[i].data);
	}
	free(A->t);
}

static char *tree_path(const struct apply *A, const char *path)
{
	char *s;

	if (asprintf(&s, "%s/%s", A->tree, path) < 0)
		return NULL;
	return s;
}

static struct target *find_target(struct apply *A, const char *path)
{
	size_t i;

	for (i = 0; i < A->nt; i++)
		if (strcmp(A->t[i].path, path) == 0)
			return &A->t[i];
	return NULL;
}

/* Read path from the tree (when present) as a target. */
static int add_target(struct apply *A, const char *path, bool must_exist,
		      bool must_not_exist)
{
	struct target *t = find_target(A, path);
	struct stat st;
	char *full;
	int err = 0;

	if (t)
		return 0;
	if (!path_is_safe(path)) {
		elp_err(A->ctx, "patch '%s' does not apply: unsafe path '%s'",
			A->name, path);
		return -EINVAL;
	}
	t = realloc(A->t, (A->nt + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	A->t = t;
	t = &A->t[A->nt];
	memset(t, 0, sizeof(*t));
	t->path = strdup(path);
	full = tree_path(A, path);
	if (!t->path || !full) {
		free(t->path);
		free(full);
		return -ENOMEM;
	}
	A->nt++;
	if (lstat(full, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			elp_err(A->ctx,
				"patch '%s' does not apply: %s: not a regular file",
				A->name, path);
			err = -EINVAL;
		} else if (must_not_exist) {
			elp_err(A->ctx,
				"patch '%s' does not apply: %s: already exists",
				A->name, path);
			err = -EEXIST;
		} else {
			t->existed = true;
			t->perm = st.st_mode & 07777;
			t->git_mode = st.st_mode & 0111 ? 0100755 : 0100644;
			err = elp_read_file(A->ctx, full, &t->data, &t->len);
		}
	} else if (errno != ENOENT && errno != ENOTDIR) {
		err = -errno;
		elp_err(A->ctx, "cannot read '%s': %s", full, strerror(errno));
	} else if (must_exist) {
		elp_err(A->ctx, "patch '%s' does not apply: %s: no such file",
			A->name, path);
		err = -ENOENT;
	}
	free(full);
	return err;
}

/* Split a file into lines (without '\n') for hunk matching. */
static char **file_lines(const char *data, size_t len, size_t *n)
{
	size_t cap = 64, i = 0;
	const char *p = data, *end = data + len;
	char **v = malloc(cap * sizeof(*v));

	if (!v)
		return NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (i == cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*v));

			if (!nv)
				goto fail;
			v = nv;
		}
		v[i] = strndup(p, l);
		if (!v[i])
			goto fail;
		i++;
		p += l + 1;
	}
	*n = i;
	return v;
fail:
	free_strv(v, i);
	return NULL;
}

static bool hunk_matches_at(const struct parser *P, const struct phunk *h,
			    bool reverse, char **fl, size_t fn, size_t pos)
{
	char del = reverse ? '+' : '-';
	size_t k, at = pos;

	for (k = h->first; k < h->first + h->n; k++) {
		const char *l = P->lines[k];

		if (l[0] != ' ' && l[0] != '\0' && l[0] != del)
			continue;
		if (at >= fn || strcmp(fl[at], l[0] ? l + 1 : "") != 0)
			return false;
		at++;
	}
	return true;
}

/*
 * libgit2 1.5 applies a hunk only at the exact line its header names; like
 * patch(1) and git apply, look for the hunk's preimage nearby first and
 * rewrite the header to where it is.  Unmatched hunks are left alone for
 * libgit2 to refuse.
 */
static int locate_hunks(const struct parser *P, struct psection *s,
			bool reverse, const struct target *t)
{
	long offset = 0, growth = 0;
	size_t fn = 0, h;
	char **fl;

	fl = file_lines(t->data ? t->data : "", t->len, &fn);
	if (!fl)
		return -ENOMEM;
	for (h = 0; h < s->nhunks; h++) {
		struct phunk *hk = &s->hunks[h];
		int os = reverse ? hk->new_start : hk->old_start;
		int oc = reverse ? hk->new_count : hk->old_count;
		int nc = reverse ? hk->old_count : hk->new_count;
		long want, d, found = -1;

		if (oc == 0) {
			hk->adj_old = (int)(os + offset);
			hk->adj_new = (int)(os + offset + growth + 1);
			hk->adjusted = hk->adj_old >= 0;
			growth += nc - oc;
			continue;
		}
		want = os - 1 + offset;
		for (d = 0; d <= (long)fn; d++) {
			if (want - d >= 0 && want - d + oc <= (long)fn &&
			    hunk_matches_at(P, hk, reverse, fl, fn,
					    (size_t)(want - d))) {
				found = want - d;
				break;
			}
			if (d && want + d >= 0 && want + d + oc <= (long)fn &&
			    hunk_matches_at(P, hk, reverse, fl, fn,
					    (size_t)(want + d))) {
				found = want + d;
				break;
			}
			if (want - d < 0 && want + d + oc > (long)fn)
				break;
		}
		if (found >= 0) {
			hk->adj_old = (int)found + 1;
			hk->adj_new = (int)(found + growth + 1);
			hk->adjusted = true;
			offset = found - (os - 1);
		}
		growth += nc - oc;
	}
	free_strv(fl, fn);
	return 0;
}

/* A file the patch deletes must hold exactly what the patch removes. */
static bool deletion_matches(const struct parser *P, const struct psection *s,
			     bool reverse, const struct target *t)
{
	struct elp_buf want = { 0 };
	char del = reverse ? '+' : '-';
	bool prev = false, same;
	size_t h, k;

	for (h = 0; h < s->nhunks; h++) {
		for (k = s->hunks[h].first;
		     k < s->hunks[h].first + s->hunks[h].n; k++) {
			const char *l = P->lines[k];

			if (l[0] == '\\') {
				if (prev && want.len)
					want.data[--want.len] = '\0';
				continue;
			}
			prev = l[0] == del || l[0] == ' ' || l[0] == '\0';
			if (prev && (elp_buf_puts(&want, l[0] ? l + 1 : "") ||
				     elp_buf_puts(&want, "\n"))) {
				elp_buf_free(&want);
				return false;
			}
		}
	}
	same = want.len == t->len &&
	       (!want.len || memcmp(want.data, t->data, want.len) == 0);
	elp_buf_free(&want);
	return same;
}

static int mem_repo(struct elp_ctx *ctx, git_repository **out)
{
	git_odb_backend *mempack = NULL;
	git_repository *repo = NULL;
	git_odb *odb = NULL;
	int rc;

	git_init_once();
	rc = git_odb_new(&odb);
	if (!rc)
		rc = git_mempack_new(&mempack);
	if (!rc) {
		rc = git_odb_add_backend(odb, mempack, 1);
		if (rc)
			mempack->free(mempack);
	}
	if (!rc)
		rc = git_repository_new(&repo);
	if (!rc)
		rc = git_repository_set_odb(repo, odb);
	git_odb_free(odb);
	if (rc) {
		git_repository_free(repo);
		return git_fail(ctx, rc, NULL, 0,
				"cannot create an in-memory repository");
	}
	*out = repo;
	return 0;
}

struct apply_pos {
	int delta, hunk;
};

static int on_delta(const git_diff_delta *delta, void *payload)
{
	struct apply_pos *pos = payload;

	(void)delta;
	pos->delta++;
	pos->hunk = -1;
	return 0;
}

static int on_hunk(const git_diff_hunk *hunk, void *payload)
{
	struct apply_pos *pos = payload;

	(void)hunk;
	pos->hunk++;
	return 0;
}

static int build_preimage(struct apply *A, git_repository *repo,
			  git_tree **tree)
{
	git_index *index = NULL;
	git_oid oid;
	size_t i;
	int rc;

	rc = git_index_new(&index);
	for (i = 0; i < A->nt && !rc; i++) {
		git_index_entry entry;

		if (!A->t[i].existed)
			continue;
		memset(&entry, 0, sizeof(entry));
		entry.path = A->t[i].path;
		entry.mode = A->t[i].git_mode;
		rc = git_blob_create_from_buffer(&entry.id, repo, A->t[i].data,
						 A->t[i].len);
		if (!rc)
			rc = git_index_add(index, &entry);
	}
	if (!rc)
		rc = git_index_write_tree_to(&oid, index, repo);
	if (!rc)
		rc = git_tree_lookup(tree, repo, &oid);
	git_index_free(index);
	if (rc)
		return git_fail(A->ctx, rc, NULL, 0,
				"patch '%s': cannot stage the files it touches",
				A->name);
	return 0;
}

static void remove_empty_parents(const struct apply *A, const char *path)
{
	char *full = tree_path(A, path), *slash;
	size_t root = strlen(A->tree);

	if (!full)
		return;
	while ((slash = strrchr(full, '/')) != NULL &&
	       (size_t)(slash - full) > root) {
		*slash = '\0';
		if (rmdir(full) < 0)
			break;
	}
	free(full);
}

static int make_parents(struct apply *A, const char *full)
{
	char *dir = strdup(full);
	int err = 0;

	if (!dir)
		return -ENOMEM;
	if (!elp_is_dir(dirname(dir))) {
		free(dir);
		dir = strdup(full);
		if (!dir)
			return -ENOMEM;
		err = elp_mkdir_p(A->ctx, dirname(dir), 0755);
	}
	free(dir);
	return err;
}

static int write_target(struct apply *A, struct target *t, const void *data,
			size_t len, unsigned int git_mode, bool exists)
{
	char *full = tree_path(A, t->path);
	int err = 0;

	if (!full)
		return -ENOMEM;
	if (!exists) {
		if (unlink(full) < 0 && errno != ENOENT) {
			err = -errno;
			elp_err(A->ctx, "cannot remove '%s': %s", full,
				strerror(errno));
		} else {
			remove_empty_parents(A, t->path);
		}
	} else {
		mode_t perm = git_mode == 0100755 ? 0777 : 0666;

		if (t->existed) {
			perm = t->perm;
			if (git_mode == 0100755)
				perm |= (perm & 0444) >> 2;
			else
				perm &= (mode_t)~0111;
		}
		err = make_parents(A, full);
		if (!err)
			err = elp_write_file_atomic(A->ctx, full, data, len,
						    (int)perm);
		if (!err && t->existed && chmod(full, perm) < 0) {
			err = -errno;
			elp_err(A->ctx, "cannot chmod '%s': %s", full,
				strerror(errno));
		}
	}
	free(full);
	return err;
}

/* Write the postimage of every target; on failure put the preimage back. */
static int write_back(struct apply *A, git_repository *repo, git_index *post)
{
	size_t i;
	int err = 0;

	for (i = 0; i < A->nt && !err; i++) {
		struct target *t = &A->t[i];
		const git_index_entry *e =
			git_index_get_bypath(post, t->path, 0);
		git_blob *blob = NULL;
		int rc;

		if (!e && !t->existed)
			continue;
		if (e) {
			rc = git_blob_lookup(&blob, repo, &e->id);
			if (rc) {
				err = git_fail(A->ctx, rc, NULL, 0,
					       "patch '%s': %s", A->name,
					       t->path);
				break;
			}
			if (t->existed && e->mode == t->git_mode &&
			    git_blob_rawsize(blob) == t->len &&
			    memcmp(git_blob_rawcontent(blob), t->data,
				   t->len) == 0) {
				git_blob_free(blob);
				continue;
			}
			t->written = true;
			err = write_target(A, t, git_blob_rawcontent(blob),
					   (size_t)git_blob_rawsize(blob),
					   e->mode, true);
			git_blob_free(blob);
		} else {
			t->written = true;
			err = write_target(A, t, NULL, 0, 0, false);
		}
	}
	if (err) {
		while (i-- > 0) {
			struct target *t = &A->t[i];

			if (t->written)
				write_target(A, t, t->data, t->len, t->git_mode,
					     t->existed);
		}
	}
	return err;
}

static int apply_failed(struct apply *A, const struct parser *P,
			const struct apply_pos *pos, git_diff *diff, int rc)
{
	const git_diff_delta *d = NULL;
	const char *file = "?";

	if (pos->delta >= 0 && (size_t)pos->delta < git_diff_num_deltas(diff)) {
		d = git_diff_get_delta(diff, (size_t)pos->delta);
		file = d->status == GIT_DELTA_DELETED ? d->old_file.path
						      : d->new_file.path;
	}
	if (d && pos->hunk >= 0 && (size_t)pos->delta < P->nsecs &&
	    (size_t)pos->hunk < P->secs[pos->delta].nhunks) {
		const struct phunk *h = &P->secs[pos->delta].hunks[pos->hunk];

		return git_fail(A->ctx, rc, NULL, 0,
				"patch '%s' does not apply: %s: %s (line %zu)",
				A->name, file, P->lines[h->header],
				h->header + 1);
	}
	return git_fail(A->ctx, rc, NULL, 0, "patch '%s' does not apply: %s",
			A->name, file);
}

int elp_patch_apply(struct elp_ctx *ctx, const char *tree_dir,
		    const struct elp_patch *p, bool reverse)
{
	git_apply_options opts;
	struct apply A = { ctx, p->name ? p->name : "?", tree_dir, NULL, 0 };
	struct apply_pos pos = { -1, -1 };
	git_repository *repo = NULL;
	git_index *post = NULL;
	git_diff *diff = NULL;
	git_tree *tree = NULL;
	struct emit e = { 0 };
	struct parser P;
	size_t i;
	int err, rc;

	if (!elp_is_dir(tree_dir)) {
		elp_err(ctx, "cannot apply patch '%s': '%s' is not a directory",
			A.name, tree_dir);
		return -ENOTDIR;
	}
	err = parser_run(&P, ctx, p->origin ? p->origin : A.name, p->content,
			 p->content ? strlen(p->content) : 0);
	if (err)
		goto out;
	for (i = 0; i < P.nsecs && reverse; i++) {
		const struct psection *s = &P.secs[i];
		const char *why = s->binary	     ? "a binary change"
				  : s->status == 'C' ? "a copy"
				  : s->quoted	     ? "a quoted file name"
						     : NULL;

		if (why) {
			elp_err(ctx,
				"patch '%s' cannot be reverse-applied: %s has %s",
				A.name, s->new_path ? s->new_path : "a file",
				why);
			err = -ENOTSUP;
			goto out;
		}
	}
	/* which files: ask libgit2, it knows quoted names too */
	err = emit_all(&P, reverse, &e);
	if (!err)
		err = diff_from_emit(ctx, P.origin, &e, &diff);
	if (err)
		goto out;
	if (git_diff_num_deltas(diff) != P.nsecs) {
		elp_err(ctx,
			"patch '%s': %zu file sections but libgit2 sees %zu",
			A.name, P.nsecs, git_diff_num_deltas(diff));
		err = -EBADMSG;
		goto out;
	}
	for (i = 0; i < P.nsecs && !err; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		struct target *t;

		if (d->status != GIT_DELTA_ADDED) {
			bool seen = find_target(&A, d->old_file.path) != NULL;

			err = add_target(&A, d->old_file.path, true, false);
			t = find_target(&A, d->old_file.path);
			if (!err && !seen && t && !t->existed) {
				elp_err(ctx,
					"patch '%s' does not apply: %s: no such file",
					A.name, d->old_file.path);
				err = -ENOENT;
			}
			if (err)
				break;
			if (d->status == GIT_DELTA_DELETED &&
			    !deletion_matches(&P, &P.secs[i], reverse, t)) {
				elp_err(ctx,
					"patch '%s' does not apply: %s: the file to delete differs from the patch",
					A.name, d->old_file.path);
				err = -EINVAL;
				break;
			}
			if (!seen && P.secs[i].nhunks)
				err = locate_hunks(&P, &P.secs[i], reverse, t);
		}
		if (!err && d->status != GIT_DELTA_DELETED &&
		    strcmp(d->new_file.path, d->old_file.path) != 0)
			err = add_target(&A, d->new_file.path, false, true);
		else if (!err && d->status == GIT_DELTA_ADDED)
			err = add_target(&A, d->new_file.path, false, true);
	}
	if (err)
		goto out;

	/* again, with the hunks where they are in this tree */
	git_diff_free(diff);
	diff = NULL;
	emit_free(&e);
	err = emit_all(&P, reverse, &e);
	if (!err)
		err = diff_from_emit(ctx, P.origin, &e, &diff);
	if (!err)
		err = mem_repo(ctx, &repo);
	if (!err)
		err = build_preimage(&A, repo, &tree);
	if (err)
		goto out;
	git_apply_options_init(&opts, GIT_APPLY_OPTIONS_VERSION);
	opts.delta_cb = on_delta;
	opts.hunk_cb = on_hunk;
	opts.payload = &pos;
	rc = git_apply_to_tree(&post, repo, tree, diff, &opts);
	if (rc) {
		err = apply_failed(&A, &P, &pos, diff, rc);
		goto out;
	}
	err = write_back(&A, repo, post);
out:
	git_index_free(post);
	git_tree_free(tree);
	git_repository_free(repo);
	git_diff_free(diff);
	emit_free(&e);
	parser_free(&P);
	apply_free(&A);
	return err;
}

int elp_patch_add(struct elp_catalogue *cat, struct elp_patch *p)
{
	struct elp_event ev = { .kind = "patch-add" };
	int err;

	err = elp_catalogue_begin(cat);
	if (!err)
		err = elp_patch_store(cat, p);
	if (!err) {
		ev.patch_id = p->id;
		ev.detail = p->name;
		err = elp_event_add(cat, &ev);
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err)
		elp_catalogue_rollback(cat);
	return err;
}

int elp_patch_resolve(struct elp_catalogue *cat, const char *spec,
		      struct elp_patch **out, char **file_name)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_patch *p = NULL, *known = NULL;
	int err;

	if (!elp_is_file(spec))
		return elp_patch_find(cat, spec, out);
	err = elp_patch_load(ctx, spec, &p);
	if (err)
		return err;
	*file_name = strdup(p->name);
	err = *file_name ? elp_patch_find_by_sha(cat, ELP_PATCH_LIVEPATCH,
						 p->sha256, &known)
			 : -ENOMEM;
	if (err < 0 || (err == 1 && known)) {
		elp_patch_free(p);
		*out = known;
		return err < 0 ? err : 0;
	}
	p->kind = ELP_PATCH_LIVEPATCH;
	if (elp_patch_name_taken(cat, p->name)) {
		/* another patch has that name: name this one by content */
		char *name;

		if (asprintf(&name, "%s-%.8s", p->name, p->sha256) < 0) {
			elp_patch_free(p);
			return -ENOMEM;
		}
		free(p->name);
		p->name = name;
	}
	err = elp_patch_store(cat, p);
	if (err) {
		elp_patch_free(p);
		return err;
	}
	elp_info(ctx, "catalogued patch '%s' from %s", p->name, spec);
	*out = p;
	return 0;
}

bool elp_patch_name_taken(struct elp_catalogue *cat, const char *name)
{
	sqlite3_stmt *stmt;
	bool taken;

	if (elp_catalogue_prepare(cat, "SELECT 1 FROM patches WHERE name = ?",
				  &stmt))
		return false;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	taken = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_finalize(stmt);
	return taken;
}
