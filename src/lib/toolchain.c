// SPDX-License-Identifier: GPL-2.0-or-later
/* Compilers: probe, find installed ones, catalogue, match a kernel's. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalogue-internal.h"
#include "toolchain.h"
#include "util.h"

void elp_toolchain_free(struct elp_toolchain *tc)
{
	if (!tc)
		return;
	free(tc->cc_path);
	free(tc->version_text);
	free(tc->target);
	free(tc);
}

void elp_toolchain_list_free(struct elp_toolchain **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		elp_toolchain_free(list[i]);
	free(list);
}

/* Absolute path of cc: made absolute when it has a '/', else from PATH. */
static char *locate(const char *cc)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *found = NULL;

	if (strchr(cc, '/')) {
		char cwd[PATH_MAX];

		if (cc[0] == '/')
			return strdup(cc);
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		if (asprintf(&found, "%s/%s", cwd, cc) < 0)
			return NULL;
		return found;
	}
	copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *candidate;

		if (!*dir)
			continue;
		if (asprintf(&candidate, "%s/%s", dir, cc) < 0)
			break;
		if (elp_is_file(candidate) && access(candidate, X_OK) == 0)
			found = candidate;
		else
			free(candidate);
	}
	free(copy);
	return found;
}

static char *first_line(const struct elp_buf *out)
{
	const char *s = out->data ? out->data : "";
	size_t len = strcspn(s, "\n");
	char *line = strndup(s, len);

	return line ? elp_rstrip(line) : NULL;
}

/* "x86_64-linux-gnu": no spaces, at least one dash, not an option. */
static bool looks_like_triplet(const char *s)
{
	const char *p;

	if (!*s || *s == '-' || !strchr(s, '-'))
		return false;
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			return false;
	return true;
}

int elp_toolchain_probe(struct elp_ctx *ctx, const char *cc,
			struct elp_toolchain **out)
{
	struct elp_buf buf = { 0 };
	struct elp_toolchain *tc;
	const char *argv[3];
	struct stat st;
	char *path;
	int rc, err = 0;

	*out = NULL;
	path = locate(cc);
	if (!path) {
		if (strchr(cc, '/'))
			return -ENOMEM;
		elp_err(ctx, "cannot find compiler '%s' in PATH", cc);
		return -ENOENT;
	}
	if (stat(path, &st) < 0) {
		err = -errno;
		elp_err(ctx, "cannot use compiler '%s': %s", cc,
			strerror(errno));
		free(path);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		elp_err(ctx, "'%s' is not a compiler: not a regular file", cc);
		free(path);
		return -ENOEXEC;
	}
	if (access(path, X_OK) < 0) {
		elp_err(ctx, "'%s' is not executable", cc);
		free(path);
		return -EACCES;
	}
	tc = calloc(1, sizeof(*tc));
	if (!tc) {
		free(path);
		return -ENOMEM;
	}
	tc->cc_path = path;

	argv[0] = path;
	argv[1] = "--version";
	argv[2] = NULL;
	rc = elp_run(ctx, argv, NULL, -1, &buf);
	tc->version_text = first_line(&buf);
	elp_buf_free(&buf);
	if (rc != 0 || !tc->version_text || !*tc->version_text) {
		elp_err(ctx, "'%s' is not a compiler: '%s --version' %s", cc,
			cc, rc ? "failed" : "printed nothing");
		err = -ENOEXEC;
		goto fail;
	}
	argv[1] = "-dumpmachine";
	rc = elp_run(ctx, argv, NULL, -1, &buf);
	tc->target = first_line(&buf);
	elp_buf_free(&buf);
	if (rc != 0 || !tc->target || !looks_like_triplet(tc->target)) {
		elp_err(ctx, "'%s' is not a compiler: '%s -dumpmachine' %s", cc,
			cc, rc ? "failed" : "printed no target triplet");
		err = -ENOEXEC;
		goto fail;
	}
	*out = tc;
	return 0;
fail:
	elp_toolchain_free(tc);
	return err;
}

/* gcc-N first (newest first), then clang-N, gcc, clang, cross names. */
static int rank(const char *name, long *version)
{
	static const char *const prefixes[] = { "gcc-", "clang-", NULL, NULL,
						"x86_64-linux-gnu-gcc-" };
	char *end;
	int i;

	*version = 0;
	if (strcmp(name, "gcc") == 0)
		return 2;
	if (strcmp(name, "clang") == 0)
		return 3;
	for (i = 0; i < 5; i++) {
		size_t len;

		if (!prefixes[i])
			continue;
		len = strlen(prefixes[i]);
		if (strncmp(name, prefixes[i], len) != 0 ||
		    !isdigit((unsigned char)name[len]))
			continue;
		*version = strtol(name + len, &end, 10);
		if (*end == '\0')
			return i;
	}
	return -1;
}

struct candidate {
	char *name, *path, *real;
	int rank;
	long version;
};

static int cmp_candidate(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	if (x->version != y->version)
		return x->version > y->version ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int scan_path(struct candidate **out, size_t *n)
{
	const char *env = getenv("PATH");
	char *copy, *dir, *save = NULL;
	struct candidate *c = NULL;
	size_t nc = 0, cap = 0, i;

	copy = strdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(dir);
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			struct candidate *nv, cand = { 0 };
			bool dup = false;

			cand.rank = rank(de->d_name, &cand.version);
			if (cand.rank < 0)
				continue;
			for (i = 0; i < nc && !dup; i++)
				dup = strcmp(c[i].name, de->d_name) == 0;
			if (dup)
				continue; /* an earlier PATH entry wins */
			if (asprintf(&cand.path, "%s/%s", dir, de->d_name) < 0)
				break;
			if (!elp_is_file(cand.path) ||
			    access(cand.path, X_OK) < 0) {
				free(cand.path);
				continue;
			}
			cand.real = realpath(cand.path, NULL);
			cand.name = strdup(de->d_name);
			nv = elp_grow(c, &cap, nc + 1, sizeof(*c));
			if (!nv || !cand.real || !cand.name) {
				free(cand.path);
				free(cand.real);
				free(cand.name);
				free(nv ? nv : c);
				closedir(d);
				free(copy);
				return -ENOMEM;
			}
			c = nv;
			c[nc++] = cand;
		}
		closedir(d);
	}
	free(copy);
	if (nc)
		qsort(c, nc, sizeof(*c), cmp_candidate);
	*out = c;
	*n = nc;
	return 0;
}

int elp_toolchain_installed(struct elp_ctx *ctx, bool dedup,
			    struct elp_toolchain ***out, size_t *n)
{
	struct elp_toolchain **list = NULL;
	struct candidate *c = NULL;
	size_t nc = 0, nl = 0, cap = 0, i, j;
	int err, prio;

	*out = NULL;
	*n = 0;
	err = scan_path(&c, &nc);
	if (err)
		return err;
	/* a program that does not answer as a compiler is not an error */
	prio = elp_get_log_priority(ctx);
	for (i = 0; i < nc && !err; i++) {
		struct elp_toolchain *tc, **nv;
		bool dup = false;

		for (j = 0; j < i && dedup && !dup; j++)
			dup = c[j].real && strcmp(c[j].real, c[i].real) == 0;
		if (dup)
			continue;
		elp_set_log_priority(ctx, -1);
		err = elp_toolchain_probe(ctx, c[i].path, &tc);
		elp_set_log_priority(ctx, prio);
		if (err) {
			elp_dbg(ctx, "skipping '%s': not a compiler",
				c[i].path);
			err = 0;
			free(c[i].real);
			c[i].real = NULL; /* not a match for later names */
			continue;
		}
		nv = elp_grow(list, &cap, nl + 1, sizeof(*nv));
		if (!nv) {
			elp_toolchain_free(tc);
			err = -ENOMEM;
			break;
		}
		list = nv;
		list[nl++] = tc;
	}
	for (i = 0; i < nc; i++) {
		free(c[i].name);
		free(c[i].path);
		free(c[i].real);
	}
	free(c);
	if (err) {
		elp_toolchain_list_free(list, nl);
		return err;
	}
	*out = list;
	*n = nl;
	return 0;
}

enum elp_cc_match elp_cc_match(const char *version_text, const char *want)
{
	const char *a, *b;

	if (!version_text || !want || !*want)
		return ELP_CC_MISMATCH;
	if (strcmp(version_text, want) == 0)
		return ELP_CC_MATCH;
	a = strchr(version_text, ' ');
	b = strchr(want, ' ');
	if (a && b && a != version_text && b != want && strcmp(a, b) == 0)
		return ELP_CC_COMPATIBLE;
	return ELP_CC_MISMATCH;
}

const char *elp_cc_match_name(enum elp_cc_match m)
{
	switch (m) {
	case ELP_CC_MATCH:
		return "match";
	case ELP_CC_COMPATIBLE:
		return "compatible";
	default:
		return "mismatch";
	}
}

static int load_row(sqlite3_stmt *st, struct elp_toolchain **out)
{
	struct elp_toolchain *tc = calloc(1, sizeof(*tc));

	if (!tc)
		return -ENOMEM;
	tc->id = sqlite3_column_int64(st, 0);
	tc->cc_path = elp_column_strdup(st, 1);
	tc->version_text = elp_column_strdup(st, 2);
	tc->target = elp_column_strdup(st, 3);
	tc->created_at = sqlite3_column_int64(st, 4);
	if (!tc->cc_path || !tc->version_text || !tc->target) {
		elp_toolchain_free(tc);
		return -ENOMEM;
	}
	*out = tc;
	return 0;
}

#define SELECT_TC \
	"SELECT id, cc_path, version_text, target, created_at FROM toolchains "

/* 1 with *out, 0 when none, -errno */
static int find_by(struct elp_catalogue *cat, const char *where,
		   const char *text, int64_t id, struct elp_toolchain **out)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc, err;

	snprintf(sql, sizeof(sql), SELECT_TC "WHERE %s", where);
	err = elp_catalogue_prepare(cat, sql, &st);
	if (err)
		return err;
	if (text)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = out ? load_row(st, out) : 0;
	else if (rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot look up toolchain");
	sqlite3_finalize(st);
	if (err)
		return err;
	return rc == SQLITE_ROW ? 1 : 0;
}

int elp_toolchain_store(struct elp_catalogue *cat, struct elp_toolchain *tc)
{
	struct elp_toolchain *old = NULL;
	sqlite3_stmt *st;
	int err;

	err = find_by(cat, "cc_path = ?", tc->cc_path, 0, &old);
	if (err < 0)
		return err;
	if (err == 1) {
		elp_err(elp_catalogue_ctx(cat),
			"toolchain '%s' is already catalogued (id %lld)",
			tc->cc_path, (long long)old->id);
		elp_toolchain_free(old);
		return -EEXIST;
	}
	if (!tc->created_at)
		tc->created_at = (int64_t)time(NULL);
	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO toolchains (cc_path, version_text, target, created_at) VALUES (?, ?, ?, ?)",
		&st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, tc->cc_path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tc->version_text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, tc->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, tc->created_at);
	err = elp_catalogue_step_done(cat, st, "cannot record toolchain");
	if (!err)
		tc->id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
	return err;
}

/* Store tc and its 'toolchain-add' event, in the caller's transaction. */
static int insert_logged(struct elp_catalogue *cat, struct elp_toolchain *tc)
{
	struct elp_event ev = { .kind = "toolchain-add" };
	int err = elp_toolchain_store(cat, tc);

	if (err)
		return err;
	ev.detail = tc->cc_path;
	return elp_event_add(cat, &ev);
}

int elp_toolchain_add(struct elp_catalogue *cat, struct elp_toolchain *tc)
{
	int err = elp_catalogue_begin(cat);

	if (!err)
		err = insert_logged(cat, tc);
	return elp_catalogue_end(cat, err);
}

int elp_toolchain_catalogue(struct elp_catalogue *cat,
			    struct elp_toolchain *const *tcs, size_t n,
			    bool add, int64_t *ids, bool *added)
{
	size_t i;
	int err = add ? elp_catalogue_begin(cat) : 0;

	for (i = 0; i < n && !err; i++) {
		struct elp_toolchain *old = NULL;

		added[i] = false;
		err = find_by(cat, "cc_path = ?", tcs[i]->cc_path, 0, &old);
		if (err < 0)
			break;
		ids[i] = err == 1 ? old->id : 0;
		elp_toolchain_free(old);
		err = 0;
		if (!ids[i] && add) {
			err = insert_logged(cat, tcs[i]);
			ids[i] = tcs[i]->id;
			added[i] = !err;
		}
	}
	if (add && !err)
		err = elp_catalogue_commit(cat);
	if (add && err)
		elp_catalogue_rollback(cat);
	return err;
}

int elp_toolchain_find(struct elp_catalogue *cat, const char *spec,
		       struct elp_toolchain **out)
{
	const char *p;
	char *abs;
	int err;

	*out = NULL;
	for (p = spec; isdigit((unsigned char)*p); p++)
		;
	if (*spec && !*p && p - spec < 19) {
		err = find_by(cat, "id = ?", NULL, strtoll(spec, NULL, 10),
			      out);
		if (err)
			return err < 0 ? err : 0;
	}
	err = find_by(cat, "cc_path = ?", spec, 0, out);
	if (err)
		return err < 0 ? err : 0;
	abs = locate(spec);
	if (abs) {
		err = find_by(cat, "cc_path = ?", abs, 0, out);
		free(abs);
		if (err)
			return err < 0 ? err : 0;
	}
	elp_err(elp_catalogue_ctx(cat), "no toolchain '%s' in the catalogue",
		spec);
	return -ENOENT;
}

int elp_toolchain_foreach(struct elp_catalogue *cat, elp_toolchain_cb cb,
			  void *data)
{
	sqlite3_stmt *st;
	int rc, err;

	err = elp_catalogue_prepare(cat, SELECT_TC "ORDER BY id", &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct elp_toolchain *tc;

		err = load_row(st, &tc);
		if (err)
			break;
		err = cb(tc, data);
		elp_toolchain_free(tc);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = elp_catalogue_error(cat, "cannot list toolchains");
	sqlite3_finalize(st);
	return err;
}

struct candidates {
	struct elp_toolchain **v;
	size_t n, cap;
};

/* Append tc (taken, freed on failure). */
static int add_candidate(struct candidates *c, struct elp_toolchain *tc)
{
	struct elp_toolchain **nv =
		elp_grow(c->v, &c->cap, c->n + 1, sizeof(*nv));

	if (!nv) {
		elp_toolchain_free(tc);
		return -ENOMEM;
	}
	c->v = nv;
	c->v[c->n++] = tc;
	return 0;
}

static struct elp_toolchain *toolchain_dup(const struct elp_toolchain *tc)
{
	struct elp_toolchain *copy;

	if (!tc)
		return NULL;
	copy = calloc(1, sizeof(*copy));
	if (!copy)
		return NULL;
	copy->id = tc->id;
	copy->created_at = tc->created_at;
	copy->cc_path = strdup(tc->cc_path);
	copy->version_text = strdup(tc->version_text);
	copy->target = tc->target ? strdup(tc->target) : NULL;
	if (!copy->cc_path || !copy->version_text ||
	    (tc->target && !copy->target)) {
		elp_toolchain_free(copy);
		return NULL;
	}
	return copy;
}

static int add_catalogued(const struct elp_toolchain *tc, void *data)
{
	struct elp_toolchain *copy = toolchain_dup(tc);

	return copy ? add_candidate(data, copy) : -ENOMEM;
}

/* The index of the best match in v[0..n), the first of equals; -1: none. */
static ssize_t best_match(struct elp_toolchain *const *v, size_t n,
			  const char *want, enum elp_cc_match *m)
{
	ssize_t best = -1;
	size_t i;

	*m = ELP_CC_MISMATCH;
	for (i = 0; i < n; i++) {
		enum elp_cc_match cur =
			want && v[i] ? elp_cc_match(v[i]->version_text, want)
				     : ELP_CC_MISMATCH;

		if (!v[i])
			continue;
		if (best < 0 || cur > *m) {
			best = (ssize_t)i;
			*m = cur;
		}
	}
	return best;
}

/* Set tc->id from the catalogued compilers: same path, same version. */
static void set_catalogued_id(const struct candidates *cat_tcs,
			      struct elp_toolchain *tc)
{
	size_t i;

	if (!tc)
		return;
	for (i = 0; !tc->id && i < cat_tcs->n; i++)
		if (strcmp(cat_tcs->v[i]->cc_path, tc->cc_path) == 0 &&
		    strcmp(cat_tcs->v[i]->version_text, tc->version_text) == 0)
			tc->id = cat_tcs->v[i]->id;
}

int elp_toolchain_choose(struct elp_catalogue *cat, const char *want,
			 const char *cc, struct elp_toolchain_choice *out)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct candidates c = { 0 };
	struct elp_toolchain **inst = NULL;
	size_t nr_inst = 0, i;
	ssize_t k;
	int err;

	memset(out, 0, sizeof(*out));
	err = elp_toolchain_foreach(cat, add_catalogued, &c);
	if (!err)
		err = elp_toolchain_installed(ctx, true, &inst, &nr_inst);
	if (err)
		goto out;
	for (i = 0; i < nr_inst; i++)
		set_catalogued_id(&c, inst[i]);
	k = best_match(inst, nr_inst, want, &out->installed_match);
	if (k >= 0 && inst) {
		out->installed = toolchain_dup(inst[k]);
		if (!out->installed) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (cc) {
		err = elp_toolchain_probe(ctx, cc, &out->tc);
		if (err)
			goto out;
		set_catalogued_id(&c, out->tc);
		out->match = want && out->tc
				     ? elp_cc_match(out->tc->version_text, want)
				     : ELP_CC_MISMATCH;
		goto out;
	}
	/* the catalogued ones first, then the installed ones */
	for (i = 0; !err && i < nr_inst; i++) {
		err = add_candidate(&c, inst[i]);
		inst[i] = NULL;
	}
	if (err)
		goto out;
	k = best_match(c.v, c.n, want, &out->match);
	if (k >= 0 && c.v) {
		out->tc = c.v[k];
		c.v[k] = NULL;
	}
out:
	elp_toolchain_list_free(inst, nr_inst);
	elp_toolchain_list_free(c.v, c.n);
	if (err)
		elp_toolchain_choice_release(out);
	return err;
}

void elp_toolchain_choice_release(struct elp_toolchain_choice *c)
{
	elp_toolchain_free(c->tc);
	elp_toolchain_free(c->installed);
	c->tc = NULL;
	c->installed = NULL;
}
