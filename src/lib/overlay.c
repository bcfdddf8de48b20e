// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patch overlays: the format (fix.conf, version ranges), cloning and
 * syncing with libgit2, signature checks with gpgv, and cataloguing the
 * fixes.  See overlay.h and elivepatch-overlay(5).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "catalogue-internal.h"
#include "git.h"
#include "jobs.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"

#define FIXES_DIR "livepatches"
#define FIX_CONF "fix.conf"

/* ---- small helpers ---- */

static char *path_join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static char *oid_hex(const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), oid);
	return strdup(hex);
}

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

bool elp_overlay_name_is_valid(const char *name)
{
	size_t i;

	if (!name || (!islower((unsigned char)name[0]) &&
		      !isdigit((unsigned char)name[0])))
		return false;
	for (i = 0; name[i]; i++)
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return i <= 64;
}

/* ---- versions ---- */

int elp_version_parse(const char *s, struct elp_version *v)
{
	int i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < 3; i++) {
		char *end;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		errno = 0;
		v->v[i] = strtoul(s, &end, 10);
		if (errno)
			return -EINVAL;
		s = end;
		if (*s != '.' || !isdigit((unsigned char)s[1]))
			break;
		s++;
	}
	return 0;
}

int elp_version_cmp(const struct elp_version *a, const struct elp_version *b)
{
	int i;

	for (i = 0; i < 3; i++)
		if (a->v[i] != b->v[i])
			return a->v[i] < b->v[i] ? -1 : 1;
	return 0;
}

/* A version followed by blanks; advances *s past it. */
static int range_version(const char **s, struct elp_version *v)
{
	const char *p = *s;
	size_t n = strspn(p, "0123456789.");

	if (n == 0 || p[n - 1] == '.')
		return -EINVAL;
	if (elp_version_parse(p, v))
		return -EINVAL;
	*s = p + n + strspn(p + n, " \t");
	return 0;
}

/* "<" or "<="; advances *s past it and the blanks after. */
static int range_op(const char **s, bool *incl)
{
	const char *p = *s;

	if (*p != '<')
		return -EINVAL;
	p++;
	*incl = *p == '=';
	if (*incl)
		p++;
	*s = p + strspn(p, " \t");
	return 0;
}

int elp_version_range_parse(const char *text, struct elp_version_range *r)
{
	const char *s = text + strspn(text, " \t");

	memset(r, 0, sizeof(*r));
	if (!*s)
		return 0;
	if (isdigit((unsigned char)*s)) {
		if (range_version(&s, &r->lo) || range_op(&s, &r->lo_incl))
			return -EINVAL;
		r->has_lo = true;
	}
	if (*s != 'v' || (s[1] && !strchr(" \t<", s[1])))
		return -EINVAL;
	s++;
	s += strspn(s, " \t");
	if (*s) {
		if (range_op(&s, &r->hi_incl) || range_version(&s, &r->hi))
			return -EINVAL;
		r->has_hi = true;
	}
	if (*s || (!r->has_lo && !r->has_hi))
		return -EINVAL;
	return 0;
}

bool elp_version_in_range(const struct elp_version_range *r,
			  const struct elp_version *v)
{
	int c;

	if (r->has_lo) {
		c = elp_version_cmp(&r->lo, v);
		if (c > 0 || (c == 0 && !r->lo_incl))
			return false;
	}
	if (r->has_hi) {
		c = elp_version_cmp(v, &r->hi);
		if (c > 0 || (c == 0 && !r->hi_incl))
			return false;
	}
	return true;
}

/* ---- fix.conf ---- */

void elp_fix_free(struct elp_fix *fix)
{
	size_t i;

	if (!fix)
		return;
	free(fix->overlay);
	free(fix->name);
	free(fix->summary);
	free(fix->upstream);
	free(fix->versions);
	elp_strv_free(fix->cves, fix->nr_cves);
	elp_strv_free(fix->requires, fix->nr_requires);
	free(fix->commit_id);
	free(fix->state);
	for (i = 0; i < fix->nr_patches; i++) {
		free(fix->patches[i].name);
		free(fix->patches[i].path);
		free(fix->patches[i].commit_id);
		free(fix->patches[i].sha256);
	}
	free(fix->patches);
	memset(fix, 0, sizeof(*fix));
}

/* Words separated by blanks or commas, each checked by ok. */
static int conf_words(char *value, char ***v, size_t *n,
		      bool (*ok)(const char *), const char **bad)
{
	char *save = NULL, *w;

	for (w = strtok_r(value, " \t,", &save); w;
	     w = strtok_r(NULL, " \t,", &save)) {
		if (ok && !ok(w)) {
			*bad = w;
			return -EINVAL;
		}
		if (elp_strv_push(v, n, w))
			return -ENOMEM;
	}
	return 0;
}

static bool is_upstream_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n >= 7 && n <= 64 && !s[n];
}

static bool is_requirement(const char *s)
{
	return *s && !strchr(s, ':');
}

static int conf_line(struct elp_ctx *ctx, const char *origin, int lineno,
		     char *key, char *value, struct elp_fix *fix)
{
	struct elp_version_range r;
	const char *bad = NULL;
	size_t i;
	int err;

	if (strcmp(key, "summary") == 0) {
		free(fix->summary);
		fix->summary = strdup(value);
		return fix->summary ? 0 : -ENOMEM;
	}
	if (strcmp(key, "cve") == 0) {
		err = conf_words(value, &fix->cves, &fix->nr_cves,
				 elp_cve_is_valid, &bad);
		if (err == -EINVAL)
			elp_err(ctx,
				"%s:%d: invalid CVE id '%s' (expected CVE-YYYY-NNNN)",
				origin, lineno, bad);
		for (i = 0; !err && i < fix->nr_cves; i++) {
			char *c;

			for (c = fix->cves[i]; *c; c++)
				*c = (char)toupper((unsigned char)*c);
		}
		return err;
	}
	if (strcmp(key, "upstream") == 0) {
		if (!is_upstream_id(value)) {
			elp_err(ctx,
				"%s:%d: invalid upstream commit '%s' (expected a lowercase hex commit id)",
				origin, lineno, value);
			return -EINVAL;
		}
		free(fix->upstream);
		fix->upstream = strdup(value);
		return fix->upstream ? 0 : -ENOMEM;
	}
	if (strcmp(key, "versions") == 0) {
		if (elp_version_range_parse(value, &r)) {
			elp_err(ctx,
				"%s:%d: invalid version range '%s' (expected e.g. '6.1.150 <= v < 6.1.200')",
				origin, lineno, value);
			return -EINVAL;
		}
		free(fix->versions);
		fix->versions = strdup(value);
		return fix->versions ? 0 : -ENOMEM;
	}
	if (strcmp(key, "requires") == 0) {
		err = conf_words(value, &fix->requires, &fix->nr_requires,
				 is_requirement, &bad);
		if (err == -EINVAL)
			elp_err(ctx,
				"%s:%d: invalid out-of-tree patch name '%s'",
				origin, lineno, bad);
		return err;
	}
	if (strcmp(key, "cumulative-only") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
			elp_err(ctx,
				"%s:%d: cumulative-only is 'yes' or 'no', not '%s'",
				origin, lineno, value);
			return -EINVAL;
		}
		fix->cumulative_only = strcmp(value, "yes") == 0;
		return 0;
	}
	elp_err(ctx,
		"%s:%d: unknown key '%s' (summary, cve, upstream, versions, requires, cumulative-only)",
		origin, lineno, key);
	return -EINVAL;
}

int elp_fix_conf_parse(struct elp_ctx *ctx, const char *origin,
		       const char *text, struct elp_fix *fix)
{
	char *copy = strdup(text), *line, *save = NULL, *next;
	int lineno = 0, err = 0;

	if (!copy)
		return -ENOMEM;
	for (line = copy; line && !err; line = next) {
		char *eq, *key, *value;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line += strspn(line, " \t");
		elp_rstrip(line);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			elp_err(ctx, "%s:%d: expected 'key = value'", origin,
				lineno);
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		key = elp_rstrip(line);
		value = eq + 1 + strspn(eq + 1, " \t");
		err = conf_line(ctx, origin, lineno, key, value, fix);
	}
	(void)save;
	free(copy);
	if (!err && (!fix->summary || !*fix->summary)) {
		elp_err(ctx, "%s: no summary", origin);
		err = -EINVAL;
	}
	return err;
}

/* ---- the store ---- */

/* <catalogue dir>/overlays[/NAME[SUFFIX]] */
static char *store_path(struct elp_catalogue *cat, const char *name,
			const char *suffix)
{
	char *db = strdup(elp_catalogue_path(cat)), *path = NULL;
	int n;

	if (!db)
		return NULL;
	if (name)
		n = asprintf(&path, "%s/overlays/%s%s", dirname(db), name,
			     suffix ? suffix : "");
	else
		n = asprintf(&path, "%s/overlays", dirname(db));
	free(db);
	return n < 0 ? NULL : path;
}

/* ---- signatures ---- */

/* The first "[GNUPG:] WORD ..." of gpgv's status output we know. */
static const char *gpgv_reason(const char *status)
{
	static const struct {
		const char *word, *reason;
	} words[] = {
		{ "BADSIG", "bad signature" },
		{ "NO_PUBKEY", "not signed by the trusted key" },
		{ "EXPKEYSIG", "signed by an expired key" },
		{ "REVKEYSIG", "signed by a revoked key" },
		{ "ERRSIG", "the signature cannot be checked" },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		char pat[48];

		snprintf(pat, sizeof(pat), "[GNUPG:] %s ", words[i].word);
		if (status && strstr(status, pat))
			return words[i].reason;
	}
	return "gpgv does not accept the signature";
}

/*
 * Check one commit's OpenPGP signature against keyring with gpgv:
 * 0 good, -EPERM (logged with the reason) otherwise.
 */
static int verify_commit(struct elp_ctx *ctx, git_repository *repo,
			 const git_oid *oid, const char *keyring,
			 const char *overlay)
{
	git_buf sig = { 0 }, data = { 0 };
	char dir[] = "/tmp/elivepatch-gpgv.XXXXXX", hex[GIT_OID_HEXSZ + 1];
	char *sig_path = NULL, *data_path = NULL;
	struct elp_buf status = { 0 };
	const char *tmp = getenv("TMPDIR");
	char *tdir = NULL;
	int rc, err;

	git_oid_tostr(hex, sizeof(hex), oid);
	rc = git_commit_extract_signature(&sig, &data, repo, (git_oid *)oid,
					  NULL);
	if (rc == GIT_ENOTFOUND) {
		elp_err(ctx, "overlay '%s': commit %.12s is not signed",
			overlay, hex);
		return -EPERM;
	}
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': commit %.12s",
				     overlay, hex);
	if (tmp && *tmp &&
	    asprintf(&tdir, "%s/elivepatch-gpgv.XXXXXX", tmp) < 0)
		tdir = NULL;
	if (!mkdtemp(tdir ? tdir : dir)) {
		elp_err(ctx, "cannot create a temporary directory: %s",
			strerror(errno));
		err = -errno;
		goto out;
	}
	sig_path = path_join(tdir ? tdir : dir, "sig.asc");
	data_path = path_join(tdir ? tdir : dir, "commit");
	err = !sig_path || !data_path ? -ENOMEM : 0;
	if (!err)
		err = elp_write_file_atomic(ctx, sig_path, sig.ptr, sig.size,
					    0600);
	if (!err)
		err = elp_write_file_atomic(ctx, data_path, data.ptr, data.size,
					    0600);
	if (!err) {
		const char *argv[] = {
			"gpgv",	       "--homedir", tdir ? tdir : dir,
			"--status-fd", "1",	    "--keyring",
			keyring,       sig_path,    data_path,
			NULL
		};

		rc = elp_run(ctx, argv, NULL, -1, &status);
		if (rc < 0) {
			elp_err(ctx, "cannot run gpgv: %s", strerror(-rc));
			err = rc;
		} else if (rc != 0 || !status.data ||
			   !strstr(status.data, "[GNUPG:] VALIDSIG ")) {
			elp_err(ctx, "overlay '%s': commit %.12s refused: %s",
				overlay, hex, gpgv_reason(status.data));
			err = -EPERM;
		}
	}
	elp_rm_rf(ctx, tdir ? tdir : dir);
out:
	elp_buf_free(&status);
	free(sig_path);
	free(data_path);
	free(tdir);
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	return err;
}

/* Every commit reachable from tip and not from base (NULL: tip only). */
static int verify_commits(struct elp_ctx *ctx, git_repository *repo,
			  const git_oid *tip, const git_oid *base,
			  const char *keyring, const char *overlay)
{
	git_revwalk *walk = NULL;
	git_oid oid;
	int rc, err = 0;

	if (!base)
		return verify_commit(ctx, repo, tip, keyring, overlay);
	rc = git_revwalk_new(&walk, repo);
	if (rc == 0)
		rc = git_revwalk_push(walk, tip);
	if (rc == 0)
		rc = git_revwalk_hide(walk, base);
	if (rc < 0) {
		git_revwalk_free(walk);
		return elp_git_error(ctx, rc, "overlay '%s': history", overlay);
	}
	while (!err && (rc = git_revwalk_next(&oid, walk)) == 0)
		err = verify_commit(ctx, repo, &oid, keyring, overlay);
	if (!err && rc != GIT_ITEROVER)
		err = elp_git_error(ctx, rc, "overlay '%s': history", overlay);
	git_revwalk_free(walk);
	return err;
}

/* ---- the catalogue ---- */

void elp_overlay_free(struct elp_overlay *o)
{
	if (!o)
		return;
	free(o->name);
	free(o->url);
	free(o->path);
	free(o->signing_key);
	free(o->commit_id);
	free(o);
}

void elp_overlay_report_release(struct elp_overlay_report *rep)
{
	if (!rep)
		return;
	free(rep->old_commit);
	free(rep->new_commit);
	elp_strv_free(rep->changed, rep->nr_changed);
	elp_strv_free(rep->skipped, rep->nr_skipped);
	memset(rep, 0, sizeof(*rep));
}

#define OVERLAY_COLUMNS                                                        \
	"o.id, o.name, o.url, o.path, o.managed, o.signing_key, "              \
	"o.commit_id, o.synced_at, o.created_at, (SELECT count(*) FROM "       \
	"overlay_fixes f WHERE f.overlay_id = o.id AND f.state = 'present'), " \
	"o.removed_at"

static struct elp_overlay *overlay_row(sqlite3_stmt *st)
{
	struct elp_overlay *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->id = sqlite3_column_int64(st, 0);
	o->name = elp_column_strdup(st, 1);
	o->url = elp_column_strdup(st, 2);
	o->path = elp_column_strdup(st, 3);
	o->managed = sqlite3_column_int(st, 4) != 0;
	o->signing_key = elp_column_strdup(st, 5);
	o->commit_id = elp_column_strdup(st, 6);
	o->synced_at = sqlite3_column_int64(st, 7);
	o->created_at = sqlite3_column_int64(st, 8);
	o->nr_fixes = (size_t)sqlite3_column_int64(st, 9);
	o->removed_at = sqlite3_column_int64(st, 10);
	if (!o->name || !o->url || !o->path) {
		elp_overlay_free(o);
		return NULL;
	}
	return o;
}

/* 1 found, 0 not, -errno; quiet. */
static int overlay_lookup(struct elp_catalogue *cat, const char *name,
			  struct elp_overlay **out)
{
	sqlite3_stmt *st;
	int err, rc;

	*out = NULL;
	err = elp_catalogue_prepare(cat,
				    "SELECT " OVERLAY_COLUMNS
				    " FROM overlays o WHERE name = ?",
				    &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = overlay_row(st);
		err = *out ? 1 : -ENOMEM;
	} else if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(cat, "cannot read overlays");
	}
	sqlite3_finalize(st);
	return err;
}

int elp_overlay_find(struct elp_catalogue *cat, const char *name,
		     struct elp_overlay **out)
{
	int err = overlay_lookup(cat, name, out);

	if (err == 0) {
		elp_err(elp_catalogue_ctx(cat),
			"no overlay named '%s' (see: elivepatch overlay list)",
			name);
		return -ENOENT;
	}
	return err < 0 ? err : 0;
}

int elp_overlay_foreach(struct elp_catalogue *cat, bool all, elp_overlay_cb cb,
			void *data)
{
	sqlite3_stmt *st;
	int err, rc;

	err = elp_catalogue_prepare(
		cat,
		"SELECT " OVERLAY_COLUMNS
		" FROM overlays o WHERE ? OR o.removed_at IS NULL ORDER BY name",
		&st);
	if (err)
		return err;
	sqlite3_bind_int(st, 1, all);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct elp_overlay *o = overlay_row(st);

		err = o ? cb(o, data) : -ENOMEM;
		elp_overlay_free(o);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read overlays");
	sqlite3_finalize(st);
	return err;
}

static int fix_patch_row(sqlite3_stmt *st, void *data)
{
	struct elp_fix *fix = data;
	struct elp_fix_patch *np, *p;

	np = realloc(fix->patches, (fix->nr_patches + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	fix->patches = np;
	p = &np[fix->nr_patches++];
	p->patch_id = sqlite3_column_int64(st, 0);
	p->name = elp_column_strdup(st, 1);
	p->path = elp_column_strdup(st, 2);
	p->commit_id = elp_column_strdup(st, 3);
	p->sha256 = elp_column_strdup(st, 4);
	return p->name && p->path && p->sha256 ? 0 : -ENOMEM;
}

static int fix_cve_row(sqlite3_stmt *st, void *data)
{
	struct elp_fix *fix = data;
	const char *cve = (const char *)sqlite3_column_text(st, 0);
	size_t i;

	for (i = 0; i < fix->nr_cves; i++)
		if (strcmp(fix->cves[i], cve) == 0)
			return 0;
	return elp_strv_push(&fix->cves, &fix->nr_cves, cve);
}

/* The words of a space-separated column. */
static int column_words(sqlite3_stmt *st, int col, char ***v, size_t *n)
{
	char *s = elp_column_strdup(st, col);
	const char *bad;
	int err;

	if (!s)
		return sqlite3_column_type(st, col) == SQLITE_NULL ? 0
								   : -ENOMEM;
	err = conf_words(s, v, n, NULL, &bad);
	free(s);
	return err;
}

static int fix_row(struct elp_catalogue *cat, sqlite3_stmt *st,
		   struct elp_fix *fix)
{
	int err;

	memset(fix, 0, sizeof(*fix));
	fix->id = sqlite3_column_int64(st, 0);
	fix->overlay = elp_column_strdup(st, 1);
	fix->name = elp_column_strdup(st, 2);
	fix->summary = elp_column_strdup(st, 3);
	fix->upstream = elp_column_strdup(st, 4);
	fix->versions = elp_column_strdup(st, 5);
	fix->cumulative_only = sqlite3_column_int(st, 7) != 0;
	fix->commit_id = elp_column_strdup(st, 8);
	fix->state = elp_column_strdup(st, 9);
	fix->updated_at = sqlite3_column_int64(st, 10);
	if (!fix->overlay || !fix->name || !fix->summary || !fix->state)
		return -ENOMEM;
	err = column_words(st, 6, &fix->requires, &fix->nr_requires);
	if (!err)
		err = elp_catalogue_each_row(
			cat,
			"SELECT op.patch_id, p.name, op.path, op.commit_id, p.sha256 FROM overlay_patches op JOIN patches p ON p.id = op.patch_id WHERE op.fix_id = ? ORDER BY op.position",
			fix->id, fix_patch_row, fix,
			"cannot read overlay patches");
	if (!err)
		err = elp_catalogue_each_row(
			cat,
			"SELECT DISTINCT c.cve FROM overlay_patches op JOIN patch_cves c ON c.patch_id = op.patch_id WHERE op.fix_id = ? ORDER BY c.cve",
			fix->id, fix_cve_row, fix, "cannot read CVEs");
	return err;
}

int elp_overlay_fixes(struct elp_catalogue *cat, const char *overlay, bool all,
		      elp_fix_cb cb, void *data)
{
	sqlite3_stmt *st;
	int err, rc;

	err = elp_catalogue_prepare(
		cat,
		"SELECT f.id, o.name, f.name, f.summary, f.upstream, f.versions, f.requires, f.cumulative_only, f.commit_id, f.state, f.updated_at FROM overlay_fixes f JOIN overlays o ON o.id = f.overlay_id WHERE (?1 IS NULL OR o.name = ?1) AND (?2 OR f.state = 'present') ORDER BY o.name, f.name",
		&st);
	if (err)
		return err;
	bind_text_or_null(st, 1, overlay);
	sqlite3_bind_int(st, 2, all);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct elp_fix fix;

		err = fix_row(cat, st, &fix);
		if (!err)
			err = cb(&fix, data);
		elp_fix_free(&fix);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = elp_catalogue_error(cat, "cannot read overlay fixes");
	sqlite3_finalize(st);
	return err;
}

int elp_overlay_patch_cumulative_only(struct elp_catalogue *cat,
				      int64_t patch_id, char **what)
{
	sqlite3_stmt *st;
	int err, rc;

	*what = NULL;
	err = elp_catalogue_prepare(
		cat,
		"SELECT p.name, o.name, f.name FROM overlay_patches op JOIN overlay_fixes f ON f.id = op.fix_id JOIN overlays o ON o.id = f.overlay_id JOIN patches p ON p.id = op.patch_id WHERE op.patch_id = ? AND f.cumulative_only",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, patch_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		err = asprintf(
			      what,
			      "patch '%s' is of fix '%s:%s', which is cumulative-only",
			      sqlite3_column_text(st, 0),
			      sqlite3_column_text(st, 1),
			      sqlite3_column_text(st, 2)) < 0
			      ? -ENOMEM
			      : 1;
		if (err < 0)
			*what = NULL;
	} else if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(cat, "cannot read overlay fixes");
	}
	sqlite3_finalize(st);
	return err;
}

/* ---- import: the checkout's fixes into the catalogue ---- */

struct import {
	struct elp_catalogue *cat;
	struct elp_ctx *ctx;
	const struct elp_overlay *o;
	const char *root; /* the checkout */
	const char *commit; /* HEAD, or NULL */
	struct elp_overlay_report *rep;
	int64_t now;
};

static int is_patch_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 6 &&
	       strcmp(d->d_name + n - 6, ".patch") == 0;
}

static int is_fix_dir(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int skip_fix(struct import *im, const char *fix, const char *why)
{
	char *s;

	if (asprintf(&s, "%s: %s", fix, why) < 0)
		return -ENOMEM;
	elp_warn(im->ctx, "overlay '%s': fix '%s' skipped: %s", im->o->name,
		 fix, why);
	if (elp_strv_push(&im->rep->skipped, &im->rep->nr_skipped, s)) {
		free(s);
		return -ENOMEM;
	}
	free(s);
	return 0;
}

/* Upsert the fix row; *id its id. */
static int store_fix(struct import *im, const struct elp_fix *fix, int64_t *id)
{
	struct elp_buf req = { 0 };
	sqlite3_stmt *st;
	size_t i;
	int err, rc;

	for (i = 0; i < fix->nr_requires; i++)
		if (elp_buf_printf(&req, "%s%s", i ? " " : "",
				   fix->requires[i])) {
			elp_buf_free(&req);
			return -ENOMEM;
		}
	err = elp_catalogue_prepare(
		im->cat,
		"INSERT INTO overlay_fixes (overlay_id, name, summary, upstream, versions, requires, cumulative_only, commit_id, state, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'present', ?9) ON CONFLICT (overlay_id, name) DO UPDATE SET summary = ?3, upstream = ?4, versions = ?5, requires = ?6, cumulative_only = ?7, commit_id = ?8, state = 'present', updated_at = CASE WHEN summary IS ?3 AND upstream IS ?4 AND versions IS ?5 AND requires IS ?6 AND cumulative_only = ?7 AND state = 'present' THEN updated_at ELSE ?9 END RETURNING id",
		&st);
	if (err) {
		elp_buf_free(&req);
		return err;
	}
	sqlite3_bind_int64(st, 1, im->o->id);
	sqlite3_bind_text(st, 2, fix->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, fix->summary, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, fix->upstream);
	bind_text_or_null(st, 5, fix->versions);
	bind_text_or_null(st, 6, req.len ? req.data : NULL);
	sqlite3_bind_int(st, 7, fix->cumulative_only);
	bind_text_or_null(st, 8, im->commit);
	sqlite3_bind_int64(st, 9, im->now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		err = elp_catalogue_error(im->cat, "cannot record overlay fix");
	sqlite3_finalize(st);
	elp_buf_free(&req);
	return err;
}

/* The catalogued patch of this fix read from path: id and sha256. */
static int known_patch(struct import *im, int64_t fix_id, const char *path,
		       int64_t *id, char **sha256)
{
	sqlite3_stmt *st;
	int err, rc;

	*id = 0;
	*sha256 = NULL;
	err = elp_catalogue_prepare(
		im->cat,
		"SELECT p.id, p.sha256 FROM overlay_patches op JOIN patches p ON p.id = op.patch_id WHERE op.fix_id = ? AND op.path = ?",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, fix_id);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*sha256 = elp_column_strdup(st, 1);
		err = *sha256 ? 0 : -ENOMEM;
	} else if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(im->cat,
					  "cannot read overlay patches");
	}
	sqlite3_finalize(st);
	return err;
}

static int exec_id(struct elp_catalogue *cat, const char *sql, int64_t id,
		   const char *what)
{
	sqlite3_stmt *st;
	int err = elp_catalogue_prepare(cat, sql, &st);

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	return elp_catalogue_step_done(cat, st, what);
}

static int patch_event(struct import *im, const char *kind, int64_t patch_id,
		       const char *detail)
{
	struct elp_event ev = {
		.time = im->now,
		.kind = kind,
		.patch_id = patch_id,
		.detail = detail,
	};

	return elp_event_add(im->cat, &ev);
}

/* Keep the old content, then replace it. */
static int update_patch(struct import *im, struct elp_patch *p,
			const char *old_sha)
{
	sqlite3_stmt *st;
	char *detail = NULL;
	int err;

	err = elp_catalogue_prepare(
		im->cat,
		"INSERT INTO patch_versions (patch_id, sha256, content, origin, commit_id, replaced_at) SELECT p.id, p.sha256, p.content, p.origin, op.commit_id, ?2 FROM patches p LEFT JOIN overlay_patches op ON op.patch_id = p.id WHERE p.id = ?1",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_int64(st, 2, im->now);
	err = elp_catalogue_step_done(im->cat, st, "cannot keep patch version");
	if (!err)
		err = elp_patch_update(im->cat, p);
	if (!err && asprintf(&detail, "%s: %.12s -> %.12s (overlay %s%s%.12s)",
			     p->name, old_sha, p->sha256, im->o->name,
			     im->commit ? " commit " : "",
			     im->commit ? im->commit : "") < 0)
		err = -ENOMEM;
	if (!err)
		err = patch_event(im, "patch-update", p->id, detail);
	free(detail);
	return err;
}

static int link_patch(struct import *im, int64_t fix_id, int64_t patch_id,
		      int position, const char *path)
{
	sqlite3_stmt *st;
	int err;

	err = elp_catalogue_prepare(
		im->cat,
		"INSERT INTO overlay_patches (patch_id, fix_id, position, path, commit_id) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (patch_id) DO UPDATE SET fix_id = ?2, position = ?3, path = ?4, commit_id = ?5",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, patch_id);
	sqlite3_bind_int64(st, 2, fix_id);
	sqlite3_bind_int(st, 3, position);
	sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
	bind_text_or_null(st, 5, im->commit);
	return elp_catalogue_step_done(im->cat, st,
				       "cannot record overlay patch");
}

/*
 * One patch of a fix: new (stored), changed (updated in place), or the
 * same.  Returns 1 when added or updated (*changed counts it), 0 same.
 */
static int import_patch(struct import *im, int64_t fix_id, int position,
			const char *rel, struct elp_patch *p, bool *updated)
{
	int64_t id;
	char *sha = NULL;
	int err;

	err = known_patch(im, fix_id, rel, &id, &sha);
	if (err)
		return err;
	if (id && strcmp(sha, p->sha256) == 0) {
		free(sha);
		return link_patch(im, fix_id, id, position, rel);
	}
	if (id) {
		p->id = id;
		err = update_patch(im, p, sha);
		*updated = true;
	} else {
		err = elp_patch_store(im->cat, p);
		if (!err)
			err = patch_event(im, "patch-add", p->id, p->name);
	}
	free(sha);
	if (!err)
		err = link_patch(im, fix_id, p->id, position, rel);
	if (!err)
		err = elp_strv_push(&im->rep->changed, &im->rep->nr_changed,
				    p->name);
	return err ? err : 1;
}

/* Read a fix directory: its fix.conf and patches, parsed, all or none. */
static int read_fix(struct import *im, const char *name, struct elp_fix *fix,
		    struct elp_patch ***patches, char ***rels, size_t *nr)
{
	struct dirent **ents = NULL;
	char *dir = NULL, *conf = NULL, *text = NULL;
	size_t len, i;
	int n = 0, k, err;

	*patches = NULL;
	*rels = NULL;
	*nr = 0;
	if (asprintf(&dir, "%s/" FIXES_DIR "/%s", im->root, name) < 0)
		return -ENOMEM;
	conf = path_join(dir, FIX_CONF);
	err = conf ? elp_read_file(im->ctx, conf, &text, &len) : -ENOMEM;
	if (!err)
		err = elp_fix_conf_parse(im->ctx, conf, text, fix);
	if (!err && !(fix->name = strdup(name)))
		err = -ENOMEM;
	if (!err) {
		n = scandir(dir, &ents, is_patch_name, alphasort);
		if (n < 0)
			err = -errno;
		else if (n == 0)
			err = -ENOENT;
	}
	if (!err) {
		*patches = calloc((size_t)n, sizeof(**patches));
		*rels = calloc((size_t)n, sizeof(**rels));
		if (!*patches || !*rels)
			err = -ENOMEM;
	}
	for (k = 0; !err && k < n; k++) {
		char *path = path_join(dir, ents[k]->d_name);
		struct elp_patch *p = NULL;

		err = path ? elp_patch_load(im->ctx, path, &p) : -ENOMEM;
		free(path);
		if (err)
			break;
		(*patches)[*nr] = p;
		if (asprintf(&(*rels)[*nr], FIXES_DIR "/%s/%s", name,
			     ents[k]->d_name) < 0) {
			(*rels)[*nr] = NULL;
			(*nr)++;
			err = -ENOMEM;
			break;
		}
		(*nr)++;
		p->kind = ELP_PATCH_LIVEPATCH;
		free(p->name);
		if (n == 1)
			err = asprintf(&p->name, "%s:%s", im->o->name, name);
		else
			err = asprintf(&p->name, "%s:%s:%.*s", im->o->name,
				       name, (int)(strlen(ents[k]->d_name) - 6),
				       ents[k]->d_name);
		if (err < 0) {
			p->name = NULL;
			err = -ENOMEM;
			break;
		}
		err = 0;
		for (i = 0; !err && i < fix->nr_cves; i++)
			err = elp_patch_add_cve(p, fix->cves[i]);
	}
	for (k = 0; k < n; k++)
		free(ents[k]);
	free(ents);
	free(text);
	free(conf);
	free(dir);
	return err;
}

static int savepoint(struct import *im, const char *sql)
{
	if (sqlite3_exec(elp_catalogue_db(im->cat), sql, NULL, NULL, NULL) !=
	    SQLITE_OK)
		return elp_catalogue_error(im->cat, sql);
	return 0;
}

static int import_fix(struct import *im, const char *name)
{
	struct elp_fix fix = { 0 };
	struct elp_patch **patches = NULL;
	char **rels = NULL;
	size_t nr = 0, i;
	size_t nr_changed = im->rep->nr_changed;
	bool updated = false, added = false, existed;
	int64_t fix_id = 0;
	int err, e;

	if (!elp_overlay_name_is_valid(name))
		return skip_fix(im, name,
				"not a fix name ([a-z0-9][a-z0-9._-]*)");
	err = read_fix(im, name, &fix, &patches, &rels, &nr);
	if (err == -ENOENT && nr == 0 && fix.summary)
		err = skip_fix(im, name, "no *.patch file");
	else if (err && err != -ENOMEM)
		err = skip_fix(im, name, "cannot be read (see above)");
	else if (!err) {
		sqlite3_stmt *st;

		/* whether the fix was there before, for the counts */
		err = elp_catalogue_prepare(
			im->cat,
			"SELECT 1 FROM overlay_fixes WHERE overlay_id = ? AND name = ? AND state = 'present'",
			&st);
		if (err)
			goto out;
		sqlite3_bind_int64(st, 1, im->o->id);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		existed = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		err = savepoint(im, "SAVEPOINT fix");
		if (err)
			goto out;
		err = store_fix(im, &fix, &fix_id);
		for (i = 0; !err && i < nr; i++) {
			e = import_patch(im, fix_id, (int)i + 1, rels[i],
					 patches[i], &updated);
			if (e < 0)
				err = e;
			else if (e == 1 && !updated)
				added = true;
		}
		if (err == -EEXIST || err == -EINVAL) {
			/* this fix only: the others are catalogued */
			while (im->rep->nr_changed > nr_changed)
				free(im->rep->changed[--im->rep->nr_changed]);
			err = savepoint(im, "ROLLBACK TO fix");
			if (!err)
				err = savepoint(im, "RELEASE fix");
			if (!err)
				err = skip_fix(
					im, name,
					"cannot be catalogued (see above)");
			goto out;
		}
		e = savepoint(im, "RELEASE fix");
		if (!err)
			err = e;
		if (!err && (updated || (added && existed)))
			im->rep->updated++;
		else if (!err && (added || !existed))
			/* new, or back after the overlay or the fix was
			 * removed */
			im->rep->added++;
		else if (!err)
			im->rep->unchanged++;
	}
out:
	for (i = 0; i < nr; i++) {
		elp_patch_free(patches[i]);
		free(rels[i]);
	}
	free(patches);
	free(rels);
	elp_fix_free(&fix);
	return err;
}

/* Fixes catalogued but no longer in the checkout. */
static int mark_removed(struct import *im, char **seen, size_t nr_seen)
{
	sqlite3_stmt *st;
	int64_t *gone = NULL;
	size_t nr_gone = 0, i;
	int err, rc;

	err = elp_catalogue_prepare(
		im->cat,
		"SELECT id, name FROM overlay_fixes WHERE overlay_id = ? AND state = 'present'",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, im->o->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		int64_t *ng;

		for (i = 0; i < nr_seen; i++)
			if (strcmp(seen[i], name) == 0)
				break;
		if (i < nr_seen)
			continue;
		ng = realloc(gone, (nr_gone + 1) * sizeof(*ng));
		if (!ng) {
			err = -ENOMEM;
			break;
		}
		gone = ng;
		gone[nr_gone++] = sqlite3_column_int64(st, 0);
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(im->cat, "cannot read overlay fixes");
	sqlite3_finalize(st);
	for (i = 0; !err && i < nr_gone; i++) {
		err = exec_id(
			im->cat,
			"UPDATE overlay_fixes SET state = 'removed', updated_at = strftime('%s', 'now') WHERE id = ?",
			gone[i], "cannot record overlay fix");
		im->rep->removed++;
	}
	free(gone);
	return err;
}

/* A removed overlay's row taken up again, with what o says now. */
static int revive_overlay(struct elp_catalogue *cat,
			  const struct elp_overlay *o)
{
	sqlite3_stmt *st;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE overlays SET url = ?, path = ?, managed = ?, signing_key = ?, removed_at = NULL WHERE id = ?",
		&st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, o->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, o->managed);
	bind_text_or_null(st, 4, o->signing_key);
	sqlite3_bind_int64(st, 5, o->id);
	return elp_catalogue_step_done(cat, st, "cannot record overlay");
}

/*
 * Catalogue the checkout's fixes and the overlay's commit, in one
 * transaction; with revive, the removed overlay's row is taken up again
 * in it.
 */
static int import_checkout(struct elp_catalogue *cat,
			   const struct elp_overlay *o, const char *root,
			   const char *commit, const char *event, bool revive,
			   struct elp_overlay_report *rep)
{
	struct import im = {
		.cat = cat,
		.ctx = elp_catalogue_ctx(cat),
		.o = o,
		.root = root,
		.commit = commit,
		.rep = rep,
		.now = (int64_t)time(NULL),
	};
	struct dirent **ents = NULL;
	char *dir = path_join(root, FIXES_DIR), **seen = NULL, *detail = NULL;
	struct elp_event ev = { .kind = event };
	sqlite3_stmt *st;
	size_t nr_seen = 0;
	int n = 0, i, err;

	if (!dir)
		return -ENOMEM;
	if (elp_is_dir(dir)) {
		n = scandir(dir, &ents, is_fix_dir, alphasort);
		if (n < 0) {
			elp_err(im.ctx, "cannot read '%s': %s", dir,
				strerror(errno));
			free(dir);
			return -errno;
		}
	}
	err = elp_catalogue_begin(cat);
	if (!err && revive)
		err = revive_overlay(cat, o);
	for (i = 0; !err && i < n; i++) {
		char *sub = path_join(dir, ents[i]->d_name);

		if (!sub) {
			err = -ENOMEM;
			break;
		}
		if (elp_is_dir(sub)) {
			err = import_fix(&im, ents[i]->d_name);
			if (!err)
				err = elp_strv_push(&seen, &nr_seen,
						    ents[i]->d_name);
		}
		free(sub);
	}
	if (!err)
		err = mark_removed(&im, seen, nr_seen);
	if (!err)
		err = elp_catalogue_prepare(
			cat,
			"UPDATE overlays SET commit_id = ?, synced_at = ? WHERE id = ?",
			&st);
	if (!err) {
		bind_text_or_null(st, 1, commit);
		sqlite3_bind_int64(st, 2, im.now);
		sqlite3_bind_int64(st, 3, o->id);
		err = elp_catalogue_step_done(cat, st, "cannot record overlay");
	}
	if (!err &&
	    asprintf(&detail, "%s%s%.12s: %zu added, %zu updated, %zu removed",
		     o->name, commit ? " at " : "", commit ? commit : "",
		     rep->added, rep->updated, rep->removed) < 0)
		err = -ENOMEM;
	if (!err) {
		ev.time = im.now;
		ev.detail = detail;
		err = elp_event_add(cat, &ev);
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	else
		elp_catalogue_rollback(cat);
	free(detail);
	elp_strv_free(seen, nr_seen);
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(dir);
	return err;
}

/* ---- add, sync, import ---- */

static int insert_overlay(struct elp_catalogue *cat, struct elp_overlay *o)
{
	sqlite3_stmt *st;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO overlays (name, url, path, managed, signing_key, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		&st);
	if (err)
		return err;
	o->created_at = (int64_t)time(NULL);
	sqlite3_bind_text(st, 1, o->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, o->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, o->path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, o->managed);
	bind_text_or_null(st, 5, o->signing_key);
	sqlite3_bind_int64(st, 6, o->created_at);
	err = elp_catalogue_step_done(cat, st, "cannot record overlay");
	if (!err)
		o->id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
	return err;
}

/* A local path is cloned by its absolute path; URLs as given. */
static int clone_url(struct elp_ctx *ctx, const char *url, char **out)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');

	if (strstr(url, "://") || (colon && (!slash || colon < slash)))
		*out = strdup(url);
	else if (!(*out = elp_abspath(url)) && errno != ENOMEM) {
		elp_err(ctx, "cannot clone '%s': %s", url, strerror(errno));
		return -errno;
	}
	return *out ? 0 : -ENOMEM;
}

static int copy_keyring(struct elp_ctx *ctx, const char *from, const char *to)
{
	char *data;
	size_t len;
	int err;

	err = elp_read_file(ctx, from, &data, &len);
	if (err)
		return err;
	err = elp_write_file_atomic(ctx, to, data, len, 0644);
	free(data);
	return err;
}

static int head_oid(struct elp_ctx *ctx, git_repository *repo, const char *name,
		    git_oid *oid)
{
	int rc = git_reference_name_to_id(oid, repo, "HEAD");

	return rc < 0 ? elp_git_error(ctx, rc, "overlay '%s': HEAD", name) : 0;
}

int elp_overlay_add(struct elp_catalogue *cat, const char *name,
		    const char *url, const char *signing_key,
		    struct elp_overlay_report *rep)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	git_clone_options opts;
	struct elp_overlay o = { .name = (char *)name, .managed = true };
	struct elp_overlay *known = NULL;
	git_repository *repo = NULL;
	char *store = NULL, *tmp = NULL, *key = NULL, *src = NULL;
	bool revive;
	git_oid head;
	int err, rc;

	memset(rep, 0, sizeof(*rep));
	if (!elp_overlay_name_is_valid(name)) {
		elp_err(ctx,
			"invalid overlay name '%s' (expected [a-z0-9][a-z0-9._-]*)",
			name);
		return -EINVAL;
	}
	err = overlay_lookup(cat, name, &known);
	if (err == 1 && known && !known->removed_at) {
		elp_err(ctx, "an overlay named '%s' is already catalogued (%s)",
			name, known->url);
		elp_overlay_free(known);
		return -EEXIST;
	}
	if (err < 0)
		return err;
	if (known) /* removed: its record is taken up again */
		o.id = known->id;
	elp_overlay_free(known);
	err = clone_url(ctx, url, &src);
	if (err)
		goto out;
	store = store_path(cat, NULL, NULL);
	o.path = store_path(cat, name, NULL);
	tmp = store_path(cat, name, ".clone");
	if (!store || !o.path || !tmp) {
		err = -ENOMEM;
		goto out;
	}
	if (access(o.path, F_OK) == 0) {
		elp_err(ctx, "cannot add overlay '%s': '%s' already exists",
			name, o.path);
		err = -EEXIST;
		goto out;
	}
	err = elp_mkdir_p(ctx, store, 0755);
	if (err)
		goto out;
	elp_rm_rf(ctx, tmp);
	elp_git_init();
	git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
	elp_info(ctx, "cloning '%s'", src);
	rc = git_clone(&repo, src, tmp, &opts);
	if (rc < 0) {
		err = elp_git_error(ctx, rc, "cannot clone '%s'", url);
		goto out_rm;
	}
	err = head_oid(ctx, repo, name, &head);
	if (!err && signing_key) {
		key = store_path(cat, name, ".keyring");
		err = key ? copy_keyring(ctx, signing_key, key) : -ENOMEM;
		if (!err)
			err = verify_commits(ctx, repo, &head, NULL, key, name);
	}
	if (err)
		goto out_rm;
	if (rename(tmp, o.path)) {
		err = -errno;
		elp_err(ctx, "cannot rename '%s': %s", tmp, strerror(errno));
		goto out_rm;
	}
	o.url = src;
	o.signing_key = key;
	revive = o.id != 0;
	if (!revive)
		err = insert_overlay(cat, &o);
	if (!err) {
		rep->new_commit = oid_hex(&head);
		err = rep->new_commit
			      ? import_checkout(cat, &o, o.path,
						rep->new_commit, "overlay-add",
						revive, rep)
			      : -ENOMEM;
		if (err && !revive) /* no half-added overlay */
			exec_id(cat, "DELETE FROM overlays WHERE id = ?", o.id,
				"cannot remove overlay");
	}
	if (err)
		elp_rm_rf(ctx, o.path);
out_rm:
	if (err && key)
		unlink(key);
	elp_rm_rf(ctx, tmp);
out:
	git_repository_free(repo);
	free(store);
	free(o.path);
	free(tmp);
	free(key);
	free(src);
	return err;
}

/* Fetch origin; the upstream of HEAD's branch after it. */
static int fetch_tip(struct elp_ctx *ctx, git_repository *repo,
		     const char *name, git_reference **branch, git_oid *tip)
{
	git_remote *remote = NULL;
	git_reference *up = NULL;
	int rc;

	rc = git_remote_lookup(&remote, repo, "origin");
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': remote", name);
	rc = git_remote_fetch(remote, NULL, NULL, "elivepatch: overlay sync");
	git_remote_free(remote);
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': cannot fetch",
				     name);
	rc = git_repository_head(branch, repo);
	if (rc == 0)
		rc = git_branch_upstream(&up, *branch);
	if (rc < 0)
		return elp_git_error(ctx, rc, "overlay '%s': upstream branch",
				     name);
	git_oid_cpy(tip, git_reference_target(up));
	git_reference_free(up);
	return 0;
}

/* Check out tip and move the branch to it. */
static int move_to(struct elp_ctx *ctx, git_repository *repo,
		   git_reference *branch, const git_oid *tip, const char *name)
{
	git_checkout_options co;
	git_reference *moved = NULL;
	git_commit *commit = NULL;
	int rc;

	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy =
		GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	rc = git_commit_lookup(&commit, repo, tip);
	if (rc == 0)
		rc = git_checkout_tree(repo, (git_object *)commit, &co);
	if (rc == 0)
		rc = git_reference_set_target(&moved, branch, tip,
					      "elivepatch: overlay sync");
	git_reference_free(moved);
	git_commit_free(commit);
	return rc < 0 ? elp_git_error(ctx, rc, "overlay '%s': cannot check out",
				      name)
		      : 0;
}

int elp_overlay_sync(struct elp_catalogue *cat, const char *name, bool force,
		     struct elp_overlay_report *rep)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_overlay *o = NULL;
	git_repository *repo = NULL;
	git_reference *branch = NULL;
	git_oid tip, old;
	bool have_old = false;
	int err, rc;

	memset(rep, 0, sizeof(*rep));
	err = elp_overlay_find(cat, name, &o);
	if (err || !o)
		return err ? err : -ENOENT;
	if (o->removed_at) {
		elp_err(ctx,
			"overlay '%s' was removed; add it again with: elivepatch overlay add %s %s",
			name, name, o->url);
		err = -ENOENT;
		goto out;
	}
	if (!o->managed) {
		elp_err(ctx,
			"overlay '%s' is synced by Portage ('%s'), not by elivepatch",
			name, o->path);
		err = -EINVAL;
		goto out;
	}
	elp_git_init();
	rc = git_repository_open(&repo, o->path);
	if (rc < 0) {
		err = elp_git_error(ctx, rc, "overlay '%s'", name);
		goto out;
	}
	err = fetch_tip(ctx, repo, name, &branch, &tip);
	if (err)
		goto out;
	if (o->commit_id && git_oid_fromstr(&old, o->commit_id) == 0)
		have_old = true;
	rep->old_commit = o->commit_id ? strdup(o->commit_id) : NULL;
	rep->new_commit = oid_hex(&tip);
	if (!rep->new_commit) {
		err = -ENOMEM;
		goto out;
	}
	if (have_old && git_oid_equal(&old, &tip)) {
		err = 0; /* up to date */
		goto out;
	}
	if (have_old && git_graph_descendant_of(repo, &tip, &old) != 1) {
		if (!force) {
			elp_err(ctx,
				"overlay '%s': not a fast-forward: %.12s does not contain %.12s, the commit catalogued (its history was rewritten); check it and sync again with --force",
				name, rep->new_commit, o->commit_id);
			err = -ENOTSUP;
			goto out;
		}
		elp_warn(
			ctx,
			"overlay '%s': not a fast-forward (%.12s to %.12s), forced",
			name, o->commit_id, rep->new_commit);
	}
	if (o->signing_key) {
		err = verify_commits(ctx, repo, &tip, have_old ? &old : NULL,
				     o->signing_key, name);
		if (err)
			goto out;
	}
	err = move_to(ctx, repo, branch, &tip, name);
	if (!err)
		err = import_checkout(cat, o, o->path, rep->new_commit,
				      "overlay-sync", false, rep);
out:
	git_reference_free(branch);
	git_repository_free(repo);
	elp_overlay_free(o);
	return err;
}

int elp_overlay_import(struct elp_catalogue *cat, const char *name,
		       const char *dir, struct elp_overlay_report *rep)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_overlay *o = NULL;
	git_repository *repo = NULL;
	char *commit = NULL, *abs = elp_abspath(dir);
	bool revive = false;
	git_oid head;
	int err;

	memset(rep, 0, sizeof(*rep));
	if (!abs) {
		elp_err(ctx, "cannot read '%s': %s", dir, strerror(errno));
		return -errno;
	}
	err = overlay_lookup(cat, name, &o);
	if (err == 1 && !o)
		err = -ENOMEM;
	if (err == 0) {
		if (!elp_overlay_name_is_valid(name)) {
			elp_err(ctx,
				"invalid overlay name '%s' (expected [a-z0-9][a-z0-9._-]*)",
				name);
			err = -EINVAL;
			goto out;
		}
		o = calloc(1, sizeof(*o));
		if (!o || !(o->name = strdup(name)) ||
		    !(o->url = strdup(abs)) || !(o->path = strdup(abs))) {
			err = -ENOMEM;
			goto out;
		}
		err = insert_overlay(cat, o);
	} else if (err == 1 && o && o->removed_at) {
		/* removed: taken up again, read in place from now on */
		revive = true;
		free(o->url);
		free(o->path);
		free(o->signing_key);
		o->signing_key = NULL;
		o->managed = false;
		o->url = strdup(abs);
		o->path = strdup(abs);
		err = o->url && o->path ? 0 : -ENOMEM;
	} else if (err == 1 && o && o->managed) {
		elp_err(ctx,
			"overlay '%s' is cloned and synced by elivepatch ('%s'): elivepatch overlay sync %s",
			name, o->url, name);
		err = -EINVAL;
	} else if (err == 1) {
		err = 0;
	}
	if (err)
		goto out;
	elp_git_init();
	if (git_repository_open(&repo, abs) == 0 &&
	    git_reference_name_to_id(&head, repo, "HEAD") == 0) {
		commit = oid_hex(&head);
		if (!commit) {
			err = -ENOMEM;
			goto out;
		}
	}
	rep->old_commit = o->commit_id ? strdup(o->commit_id) : NULL;
	rep->new_commit = commit ? strdup(commit) : NULL;
	err = import_checkout(cat, o, abs, commit, "overlay-sync", revive, rep);
out:
	git_repository_free(repo);
	elp_overlay_free(o);
	free(commit);
	free(abs);
	return err;
}

/* ---- remove ---- */

void elp_overlay_removal_release(struct elp_overlay_removal *rm)
{
	if (!rm)
		return;
	free(rm->deleted);
	free(rm->kept);
	free(rm->jobs);
	elp_strv_free(rm->job_subjects, rm->nr_jobs);
	memset(rm, 0, sizeof(*rm));
}

/* The jobs that need an overlay: its imports, builds of its patches. */
struct needs {
	struct elp_ctx *ctx;
	const char *overlay;
	char **specs; /* the names and ids of its patches */
	size_t nr_specs;
	int64_t *queued;
	char **subjects;
	size_t nr_queued;
	struct elp_buf running; /* "job N (subject)", ... */
	int err;
};

static int patch_spec_row(sqlite3_stmt *st, void *data)
{
	struct needs *n = data;
	char id[24];
	int err;

	snprintf(id, sizeof(id), "%lld",
		 (long long)sqlite3_column_int64(st, 0));
	err = elp_strv_push(&n->specs, &n->nr_specs, id);
	return err ? err
		   : elp_strv_push(&n->specs, &n->nr_specs,
				   (const char *)sqlite3_column_text(st, 1));
}

static int job_needs(const struct elp_job *job, void *data)
{
	struct needs *n = data;
	char *subject;
	int64_t *nq;
	size_t i;

	if (strcmp(job->state, "queued") != 0 &&
	    strcmp(job->state, "running") != 0)
		return 0;
	if (strcmp(job->kind, "overlay") == 0) {
		if (!job->overlay || strcmp(job->overlay, n->overlay) != 0)
			return 0;
	} else if (strcmp(job->kind, "build") == 0 && job->patch) {
		for (i = 0; i < n->nr_specs; i++)
			if (strcmp(job->patch, n->specs[i]) == 0)
				break;
		if (i == n->nr_specs)
			return 0;
	} else {
		return 0;
	}
	subject = elp_job_subject(job);
	if (!subject)
		return -ENOMEM;
	if (strcmp(job->state, "running") == 0) {
		n->err = elp_buf_printf(&n->running, "%sjob %lld (%s)",
					n->running.len ? ", " : "",
					(long long)job->id, subject);
		free(subject);
		return n->err;
	}
	nq = realloc(n->queued, (n->nr_queued + 1) * sizeof(*nq));
	if (!nq) {
		free(subject);
		return -ENOMEM;
	}
	n->queued = nq;
	nq[n->nr_queued] = job->id;
	n->err = elp_strv_push(&n->subjects, &n->nr_queued, subject);
	free(subject);
	return n->err;
}

static void needs_release(struct needs *n)
{
	elp_strv_free(n->specs, n->nr_specs);
	elp_strv_free(n->subjects, n->nr_queued);
	free(n->queued);
	elp_buf_free(&n->running);
}

/* The catalogue's part of a removal, in the caller's transaction. */
static int remove_records(struct elp_catalogue *cat,
			  const struct elp_overlay *o, bool force,
			  struct needs *n, struct elp_overlay_removal *rm)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_event ev = { .kind = "overlay-remove" };
	struct elp_buf list = { 0 };
	char *why = NULL, *detail = NULL;
	sqlite3_stmt *st;
	size_t i;
	int err;

	err = elp_catalogue_each_row(
		cat,
		"SELECT p.id, p.name FROM overlay_patches op JOIN overlay_fixes f ON f.id = op.fix_id JOIN patches p ON p.id = op.patch_id WHERE f.overlay_id = ? ORDER BY p.id",
		o->id, patch_spec_row, n, "cannot read overlay patches");
	rm->patches = n->nr_specs / 2;
	if (!err) {
		err = elp_job_foreach(cat, job_needs, n);
		err = err < 0 ? err : n->err;
	}
	if (err)
		return err;
	if (n->running.len) {
		elp_err(ctx,
			"overlay '%s' is needed by a running job: %s; wait for it to end",
			o->name, n->running.data);
		return -EBUSY;
	}
	for (i = 0; i < n->nr_queued; i++)
		if (elp_buf_printf(&list, "%sjob %lld (%s)", i ? ", " : "",
				   (long long)n->queued[i], n->subjects[i])) {
			elp_buf_free(&list);
			return -ENOMEM;
		}
	if (n->nr_queued && !force) {
		elp_err(ctx,
			"overlay '%s' is needed by %zu queued job%s: %s; run %s first (elivepatch queue run), or remove it with --force, which cancels %s",
			o->name, n->nr_queued, n->nr_queued == 1 ? "" : "s",
			list.data, n->nr_queued == 1 ? "it" : "them",
			n->nr_queued == 1 ? "it" : "them");
		elp_buf_free(&list);
		return -EBUSY;
	}
	elp_buf_free(&list);
	err = elp_catalogue_prepare(
		cat,
		"UPDATE overlay_fixes SET state = 'removed', updated_at = strftime('%s', 'now') WHERE overlay_id = ? AND state = 'present'",
		&st);
	if (!err) {
		sqlite3_bind_int64(st, 1, o->id);
		err = elp_catalogue_step_done(cat, st,
					      "cannot record overlay fix");
	}
	if (!err)
		rm->fixes = (size_t)sqlite3_changes(elp_catalogue_db(cat));
	if (!err)
		err = exec_id(
			cat,
			"UPDATE overlays SET removed_at = strftime('%s', 'now') WHERE id = ?",
			o->id, "cannot record overlay");
	if (!err && n->nr_queued &&
	    asprintf(&why, "overlay '%s' was removed", o->name) < 0)
		err = -ENOMEM;
	for (i = 0; !err && i < n->nr_queued; i++) {
		err = elp_job_cancel(cat, n->queued[i], why);
		if (err == -ENOENT) /* it ended meanwhile: not ours to cancel */
			err = 0;
	}
	free(why);
	if (!err &&
	    asprintf(
		    &detail,
		    "%s: %zu fix%s removed, %zu patch%s kept; %zu queued job%s cancelled",
		    o->name, rm->fixes, rm->fixes == 1 ? "" : "es", rm->patches,
		    rm->patches == 1 ? "" : "es", n->nr_queued,
		    n->nr_queued == 1 ? "" : "s") < 0)
		err = -ENOMEM;
	if (!err) {
		ev.detail = detail;
		err = elp_event_add(cat, &ev);
	}
	free(detail);
	if (!err) {
		/* the jobs cancelled: the caller's now */
		rm->jobs = n->queued;
		rm->job_subjects = n->subjects;
		rm->nr_jobs = n->nr_queued;
		n->queued = NULL;
		n->subjects = NULL;
		n->nr_queued = 0;
	}
	return err;
}

int elp_overlay_remove(struct elp_catalogue *cat, const char *name, bool force,
		       struct elp_overlay_removal *rm)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct needs n = { .ctx = ctx, .overlay = name };
	struct elp_overlay *o = NULL;
	char *aside = NULL;
	bool moved = false;
	int err;

	memset(rm, 0, sizeof(*rm));
	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	err = elp_overlay_find(cat, name, &o);
	if (!err && !o)
		err = -ENOENT;
	if (!err && o->removed_at) {
		elp_err(ctx, "overlay '%s' was removed already", name);
		err = -ENOENT;
	}
	if (!err)
		err = remove_records(cat, o, force, &n, rm);
	/* the clone moved aside first, so that a failed commit can undo it */
	if (!err && o->managed) {
		aside = store_path(cat, name, ".removed");
		if (!aside)
			err = -ENOMEM;
		else
			elp_rm_rf(ctx, aside);
		if (!err && rename(o->path, aside) == 0)
			moved = true;
		else if (!err && errno != ENOENT) {
			err = -errno;
			elp_err(ctx, "cannot remove '%s': %s", o->path,
				strerror(errno));
		}
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err) {
		elp_catalogue_rollback(cat);
		if (moved && rename(aside, o->path))
			elp_err(ctx, "cannot put '%s' back: %s", o->path,
				strerror(errno));
		elp_overlay_removal_release(rm);
		goto out;
	}
	if (moved) {
		elp_rm_rf(ctx, aside);
		rm->deleted = strdup(o->path);
	} else if (!o->managed) {
		rm->kept = strdup(o->path);
	}
	if (o->managed && o->signing_key && unlink(o->signing_key) &&
	    errno != ENOENT)
		elp_warn(ctx, "cannot remove '%s': %s", o->signing_key,
			 strerror(errno));
	if ((moved && !rm->deleted) || (!o->managed && !rm->kept))
		err = -ENOMEM;
out:
	needs_release(&n);
	elp_overlay_free(o);
	free(aside);
	return err;
}

/* ---- which kernels a fix is for ---- */

static int makefile_version(struct elp_ctx *ctx, const char *path,
			    struct elp_version *v, int depth);

/*
 * A distribution's headers Makefile includes the common part's
 * ("include /usr/src/linux-headers-R-common/Makefile"): that file, else
 * the same directory name beside this one (a package unpacked elsewhere).
 */
static int included_version(struct elp_ctx *ctx, const char *path,
			    const char *inc, struct elp_version *v)
{
	char *d1 = strdup(inc), *d2 = strdup(path), *alt = NULL;
	int found = makefile_version(ctx, inc, v, 1);

	if (found == 0 && d1 && d2 &&
	    asprintf(&alt, "%s/../%s/Makefile", dirname(d2),
		     basename(dirname(d1))) >= 0)
		found = makefile_version(ctx, alt, v, 1);
	free(alt);
	free(d1);
	free(d2);
	return found;
}

/* VERSION/PATCHLEVEL/SUBLEVEL of a kernel Makefile; 1 found, 0 not. */
static int makefile_version(struct elp_ctx *ctx, const char *path,
			    struct elp_version *v, int depth)
{
	static const char *const keys[] = { "VERSION", "PATCHLEVEL",
					    "SUBLEVEL" };
	char *text = NULL, *line, *save = NULL;
	int found = 0, err, i;
	unsigned long n;
	char key[16];
	size_t len;

	if (!elp_is_file(path))
		return 0;
	err = elp_read_file(ctx, path, &text, &len);
	if (err)
		return err;
	memset(v, 0, sizeof(*v));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%15[A-Z] = %lu", key, &n) == 2) {
			for (i = 0; i < 3; i++)
				if (strcmp(key, keys[i]) == 0) {
					v->v[i] = n;
					found |= 1 << i;
				}
		} else if (!found && depth == 0 &&
			   strncmp(line, "include ", 8) == 0) {
			char *inc = elp_rstrip(line + 8);

			inc += strspn(inc, " \t");
			if (included_version(ctx, path, inc, v) == 1) {
				found = 3;
				break;
			}
		}
	}
	free(text);
	return (found & 3) == 3 ? 1 : 0;
}

int elp_kernel_version(struct elp_ctx *ctx, const struct elp_kernel *k,
		       struct elp_version *v, const char **from, char **why)
{
	const char *dirs[2];
	size_t i;

	dirs[0] = k->source_kind && strcmp(k->source_kind, "dir") == 0
			  ? k->source
			  : NULL;
	dirs[1] = k->build_dir;
	for (i = 0; i < 2; i++) {
		char *mk;
		int found;

		if (!dirs[i])
			continue;
		mk = path_join(dirs[i], "Makefile");
		if (!mk)
			return -ENOMEM;
		found = makefile_version(ctx, mk, v, 0);
		free(mk);
		if (found == 1) {
			*from = i == 0 ? "the source's Makefile"
				       : "the build directory's Makefile";
			return 0;
		}
	}
	if (k->release && elp_version_parse(k->release, v) == 0) {
		*from = "the release";
		return 0;
	}
	if (!why)
		elp_err(ctx,
			"kernel '%s': no version in its Makefile or release",
			k->name);
	else if (asprintf(why,
			  "kernel '%s': no version in its Makefile or release",
			  k->name) < 0)
		*why = NULL;
	return -EINVAL;
}

/* Is an out-of-tree patch named want (or KERNEL:want) in the kernel? */
static int kernel_has_patch(struct elp_catalogue *cat, int64_t kernel_id,
			    const char *want)
{
	sqlite3_stmt *st;
	int err, rc;

	err = elp_catalogue_prepare(
		cat,
		"SELECT 1 FROM kernel_patches kp JOIN patches p ON p.id = kp.patch_id WHERE kp.kernel_id = ?1 AND (p.name = ?2 OR substr(p.name, instr(p.name, ':') + 1) = ?2)",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, kernel_id);
	sqlite3_bind_text(st, 2, want, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	err = rc == SQLITE_ROW ? 1
	      : rc == SQLITE_DONE
		      ? 0
		      : elp_catalogue_error(cat, "cannot read kernel");
	sqlite3_finalize(st);
	return err;
}

int elp_fix_applies(struct elp_catalogue *cat, const struct elp_fix *fix,
		    const struct elp_kernel *k, const struct elp_version *v,
		    char **reason)
{
	struct elp_version_range r;
	size_t i;
	int err;

	*reason = NULL;
	if (fix->versions && elp_version_range_parse(fix->versions, &r) == 0 &&
	    !elp_version_in_range(&r, v)) {
		if (asprintf(reason, "version %lu.%lu.%lu is not in '%s'",
			     v->v[0], v->v[1], v->v[2], fix->versions) < 0)
			return -ENOMEM;
		return 0;
	}
	for (i = 0; i < fix->nr_requires; i++) {
		err = kernel_has_patch(cat, k->id, fix->requires[i]);
		if (err < 0)
			return err;
		if (err == 0) {
			if (asprintf(
				    reason,
				    "needs the out-of-tree patch '%s', which the kernel was not built with",
				    fix->requires[i]) < 0)
				return -ENOMEM;
			return 0;
		}
	}
	return 1;
}
