// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patch overlays, the catalogue: the only file with SQL on the overlays,
 * overlay_fixes, overlay_patches and patch_versions tables, as typed
 * functions (overlay-internal.h) for the operations (overlay.c) and
 * importing a checkout's fixes (overlay-import.c); it calls neither back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalogue-internal.h"
#include "overlay-internal.h"
#include "overlay.h"
#include "util.h"

/* ---- overlays ---- */

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

int overlay_store_lookup(struct elp_catalogue *cat, const char *name,
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

int overlay_store_insert(struct elp_catalogue *cat, struct elp_overlay *o)
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
	elp_bind_text_opt(st, 5, o->signing_key);
	sqlite3_bind_int64(st, 6, o->created_at);
	err = elp_catalogue_step_done(cat, st, "cannot record overlay");
	if (!err)
		o->id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
	return err;
}

int overlay_store_delete(struct elp_catalogue *cat, int64_t id)
{
	return exec_id(cat, "DELETE FROM overlays WHERE id = ?", id,
		       "cannot remove overlay");
}

int overlay_store_revive(struct elp_catalogue *cat, const struct elp_overlay *o)
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
	elp_bind_text_opt(st, 4, o->signing_key);
	sqlite3_bind_int64(st, 5, o->id);
	return elp_catalogue_step_done(cat, st, "cannot record overlay");
}

int overlay_store_set_commit(struct elp_catalogue *cat, int64_t id,
			     const char *commit, int64_t now)
{
	sqlite3_stmt *st;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE overlays SET commit_id = ?, synced_at = ? WHERE id = ?",
		&st);
	if (err)
		return err;
	elp_bind_text_opt(st, 1, commit);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	return elp_catalogue_step_done(cat, st, "cannot record overlay");
}

int overlay_store_remove(struct elp_catalogue *cat, int64_t id, size_t *fixes)
{
	int err;

	*fixes = 0;
	err = exec_id(
		cat,
		"UPDATE overlay_fixes SET state = 'removed', updated_at = strftime('%s', 'now') WHERE overlay_id = ? AND state = 'present'",
		id, "cannot record overlay fix");
	if (err)
		return err;
	*fixes = (size_t)sqlite3_changes(elp_catalogue_db(cat));
	return exec_id(
		cat,
		"UPDATE overlays SET removed_at = strftime('%s', 'now') WHERE id = ?",
		id, "cannot record overlay");
}

/* ---- fixes ---- */

static int fix_patch_row(sqlite3_stmt *st, void *data)
{
	struct elp_fix *fix = data;
	struct elp_fix_patch *np, *p;

	np = elp_grow(fix->patches, &fix->cap_patches, fix->nr_patches + 1,
		      sizeof(*np));
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
	err = overlay_conf_words(s, v, n, NULL, &bad);
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
	elp_bind_text_opt(st, 1, overlay);
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

int overlay_store_fix_present(struct elp_catalogue *cat, int64_t overlay_id,
			      const char *name)
{
	sqlite3_stmt *st;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"SELECT 1 FROM overlay_fixes WHERE overlay_id = ? AND name = ? AND state = 'present'",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, overlay_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	return elp_catalogue_step_exists(cat, st, "cannot read overlay fixes");
}

int overlay_store_upsert_fix(struct elp_catalogue *cat, int64_t overlay_id,
			     const struct elp_fix *fix, const char *commit,
			     int64_t now, int64_t *id)
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
		cat,
		"INSERT INTO overlay_fixes (overlay_id, name, summary, upstream, versions, requires, cumulative_only, commit_id, state, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'present', ?9) ON CONFLICT (overlay_id, name) DO UPDATE SET summary = ?3, upstream = ?4, versions = ?5, requires = ?6, cumulative_only = ?7, commit_id = ?8, state = 'present', updated_at = CASE WHEN summary IS ?3 AND upstream IS ?4 AND versions IS ?5 AND requires IS ?6 AND cumulative_only = ?7 AND state = 'present' THEN updated_at ELSE ?9 END RETURNING id",
		&st);
	if (err) {
		elp_buf_free(&req);
		return err;
	}
	sqlite3_bind_int64(st, 1, overlay_id);
	sqlite3_bind_text(st, 2, fix->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, fix->summary, -1, SQLITE_STATIC);
	elp_bind_text_opt(st, 4, fix->upstream);
	elp_bind_text_opt(st, 5, fix->versions);
	elp_bind_text_opt(st, 6, req.len ? req.data : NULL);
	sqlite3_bind_int(st, 7, fix->cumulative_only);
	elp_bind_text_opt(st, 8, commit);
	sqlite3_bind_int64(st, 9, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		err = elp_catalogue_error(cat, "cannot record overlay fix");
	sqlite3_finalize(st);
	elp_buf_free(&req);
	return err;
}

int overlay_store_remove_fixes_except(struct elp_catalogue *cat,
				      int64_t overlay_id, char **seen,
				      size_t nr_seen, size_t *removed)
{
	sqlite3_stmt *st;
	int64_t *gone = NULL;
	size_t nr_gone = 0, cap = 0, i;
	int err, rc;

	err = elp_catalogue_prepare(
		cat,
		"SELECT id, name FROM overlay_fixes WHERE overlay_id = ? AND state = 'present'",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, overlay_id);
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
		err = elp_catalogue_error(cat, "cannot read overlay fixes");
	sqlite3_finalize(st);
	for (i = 0; !err && i < nr_gone; i++) {
		err = exec_id(
			cat,
			"UPDATE overlay_fixes SET state = 'removed', updated_at = strftime('%s', 'now') WHERE id = ?",
			gone[i], "cannot record overlay fix");
		(*removed)++;
	}
	free(gone);
	return err;
}

/* One savepoint's statement; the statement names the failure. */
static int savepoint(struct elp_catalogue *cat, const char *sql)
{
	if (sqlite3_exec(elp_catalogue_db(cat), sql, NULL, NULL, NULL) !=
	    SQLITE_OK)
		return elp_catalogue_error(cat, sql);
	return 0;
}

int overlay_store_fix_begin(struct elp_catalogue *cat)
{
	return savepoint(cat, "SAVEPOINT fix");
}

int overlay_store_fix_undo(struct elp_catalogue *cat)
{
	int err = savepoint(cat, "ROLLBACK TO fix");

	return err ? err : savepoint(cat, "RELEASE fix");
}

int overlay_store_fix_end(struct elp_catalogue *cat)
{
	return savepoint(cat, "RELEASE fix");
}

/* ---- the fixes' patches ---- */

int overlay_store_fix_patch(struct elp_catalogue *cat, int64_t fix_id,
			    const char *path, int64_t *id, char **sha256)
{
	sqlite3_stmt *st;
	int err, rc;

	*id = 0;
	*sha256 = NULL;
	err = elp_catalogue_prepare(
		cat,
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
		err = elp_catalogue_error(cat, "cannot read overlay patches");
	}
	sqlite3_finalize(st);
	return err;
}

int overlay_store_link_patch(struct elp_catalogue *cat, int64_t fix_id,
			     int64_t patch_id, int position, const char *path,
			     const char *commit)
{
	sqlite3_stmt *st;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO overlay_patches (patch_id, fix_id, position, path, commit_id) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (patch_id) DO UPDATE SET fix_id = ?2, position = ?3, path = ?4, commit_id = ?5",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, patch_id);
	sqlite3_bind_int64(st, 2, fix_id);
	sqlite3_bind_int(st, 3, position);
	sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
	elp_bind_text_opt(st, 5, commit);
	return elp_catalogue_step_done(cat, st, "cannot record overlay patch");
}

int overlay_store_keep_version(struct elp_catalogue *cat, int64_t patch_id,
			       int64_t now)
{
	sqlite3_stmt *st;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO patch_versions (patch_id, sha256, content, origin, commit_id, replaced_at) SELECT p.id, p.sha256, p.content, p.origin, op.commit_id, ?2 FROM patches p LEFT JOIN overlay_patches op ON op.patch_id = p.id WHERE p.id = ?1",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, patch_id);
	sqlite3_bind_int64(st, 2, now);
	return elp_catalogue_step_done(cat, st, "cannot keep patch version");
}

struct specs {
	char ***v;
	size_t *nr;
};

static int patch_spec_row(sqlite3_stmt *st, void *data)
{
	struct specs *s = data;
	char id[24];
	int err;

	snprintf(id, sizeof(id), "%lld",
		 (long long)sqlite3_column_int64(st, 0));
	err = elp_strv_push(s->v, s->nr, id);
	return err ? err
		   : elp_strv_push(s->v, s->nr,
				   (const char *)sqlite3_column_text(st, 1));
}

int overlay_store_patch_specs(struct elp_catalogue *cat, int64_t overlay_id,
			      char ***specs, size_t *nr)
{
	struct specs s = { .v = specs, .nr = nr };

	return elp_catalogue_each_row(
		cat,
		"SELECT p.id, p.name FROM overlay_patches op JOIN overlay_fixes f ON f.id = op.fix_id JOIN patches p ON p.id = op.patch_id WHERE f.overlay_id = ? ORDER BY p.id",
		overlay_id, patch_spec_row, &s, "cannot read overlay patches");
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
