// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patch overlays: importing a checkout's fixes (livepatches/FIX/) into the
 * overlay_fixes, overlay_patches and patch_versions tables.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalogue-internal.h"
#include "overlay-internal.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"

#define FIXES_DIR "livepatches"
#define FIX_CONF "fix.conf"

void overlay_bind_text_or_null(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
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
	overlay_bind_text_or_null(st, 4, fix->upstream);
	overlay_bind_text_or_null(st, 5, fix->versions);
	overlay_bind_text_or_null(st, 6, req.len ? req.data : NULL);
	sqlite3_bind_int(st, 7, fix->cumulative_only);
	overlay_bind_text_or_null(st, 8, im->commit);
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

int overlay_exec_id(struct elp_catalogue *cat, const char *sql, int64_t id,
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
	overlay_bind_text_or_null(st, 5, im->commit);
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
	conf = overlay_path_join(dir, FIX_CONF);
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
		char *path = overlay_path_join(dir, ents[k]->d_name);
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
	size_t nr_gone = 0, cap = 0, i;
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
		ng = elp_grow(gone, &cap, nr_gone + 1, sizeof(*ng));
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
		err = overlay_exec_id(
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
	overlay_bind_text_or_null(st, 4, o->signing_key);
	sqlite3_bind_int64(st, 5, o->id);
	return elp_catalogue_step_done(cat, st, "cannot record overlay");
}

/*
 * Catalogue the checkout's fixes and the overlay's commit, in one
 * transaction; with revive, the removed overlay's row is taken up again
 * in it.
 */
int overlay_import_checkout(struct elp_catalogue *cat,
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
	char *dir = overlay_path_join(root, FIXES_DIR), **seen = NULL,
	     *detail = NULL;
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
		char *sub = overlay_path_join(dir, ents[i]->d_name);

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
		overlay_bind_text_or_null(st, 1, commit);
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
	err = elp_catalogue_end(cat, err);
	free(detail);
	elp_strv_free(seen, nr_seen);
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(dir);
	return err;
}
