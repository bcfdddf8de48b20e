// SPDX-License-Identifier: GPL-2.0-or-later
/* The owner of builds, build_patches and build_stages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/build.h"
#include "builds.h"
#include "catalogue-internal.h"
#include "history.h"
#include "kernel.h"
#include "livepatch.h"
#include "patch.h"
#include "util.h"

/* Patch names of build b.id, in the order they were applied. */
#define BUILD_PATCHES_SQL                                               \
	"(SELECT group_concat(name, ',') FROM (SELECT p.name AS name"   \
	"   FROM build_patches bp JOIN patches p ON p.id = bp.patch_id" \
	"   WHERE bp.build_id = b.id ORDER BY bp.position))"

/*
 * Hosts where build b.id is applied now (%s: elp_events_applied_sql(),
 * history.c's one reading of "applied").
 */
#define BUILD_APPLIED_SQL                                       \
	"(SELECT group_concat(host, ',') FROM (SELECT DISTINCT" \
	"   coalesce(a.host, '?') AS host FROM (%s) a"          \
	"   WHERE a.build_id = b.id ORDER BY host))"

static const char list_sql[] =
	"SELECT * FROM (SELECT b.id, b.created_at, b.kernel_release, " BUILD_PATCHES_SQL
	", b.status, b.module_name, b.artefact_sha256,"
	" b.verified, " BUILD_APPLIED_SQL " FROM builds b"
	" WHERE (?1 IS NULL OR b.kernel_release = ?1 OR b.kernel_id IN"
	"        (SELECT id FROM kernels WHERE name = ?1 OR CAST(id AS TEXT) = ?1"
	"         OR release = ?1))"
	"  AND (?2 IS NULL OR b.id IN (SELECT bp.build_id FROM build_patches bp"
	"        JOIN patches p ON p.id = bp.patch_id"
	"        WHERE p.name = ?2 OR CAST(p.id AS TEXT) = ?2))"
	"  AND (?3 IS NULL OR b.status = ?3)"
	" ORDER BY b.id DESC LIMIT CASE WHEN ?4 > 0 THEN ?4 ELSE -1 END)"
	" ORDER BY id";

static const char *text(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}

int elp_builds_list(struct elp_catalogue *cat,
		    const struct elp_builds_filter *f, elp_builds_cb cb,
		    void *data)
{
	sqlite3_stmt *stmt;
	char *sql;
	int err, rc;

	if (asprintf(&sql, list_sql, elp_events_applied_sql()) < 0)
		return -ENOMEM;
	err = elp_catalogue_prepare(cat, sql, &stmt);
	free(sql);
	if (err)
		return err;
	elp_bind_text_opt(stmt, 1, f->kernel);
	elp_bind_text_opt(stmt, 2, f->patch);
	elp_bind_text_opt(stmt, 3, f->status);
	sqlite3_bind_int(stmt, 4, f->limit);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct elp_build_summary b = {
			.id = sqlite3_column_int64(stmt, 0),
			.created_at = sqlite3_column_int64(stmt, 1),
			.kernel = text(stmt, 2),
			.patches = text(stmt, 3),
			.status = text(stmt, 4),
			.module = text(stmt, 5),
			.sha256 = text(stmt, 6),
			.verified = text(stmt, 7),
			.applied = text(stmt, 8),
		};

		err = cb(&b, data);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read builds");
	sqlite3_finalize(stmt);
	return err;
}

static const char info_sql[] =
	"SELECT b.id, b.created_at, coalesce(b.started_at, 0),"
	" coalesce(b.finished_at, 0), coalesce(b.duration_ms, -1),"
	" b.kernel_release, k.name, b.module_name, b.status, b.reason,"
	" b.log_path, b.artefact_path, b.artefact_sha256, b.inputs_sha256,"
	" b.verified, b.verify_log, b.builder_host, " BUILD_APPLIED_SQL ","
	" b.cumulative, b.backend"
	" FROM builds b LEFT JOIN kernels k ON k.id = b.kernel_id"
	" WHERE b.id = ?";

/* The stored inputs: patches in order, the kernel's config, the compiler. */
static const char inputs_sql[] =
	"SELECT 'patch', p.name, p.sha256 FROM build_patches bp"
	" JOIN patches p ON p.id = bp.patch_id WHERE bp.build_id = ?1"
	" UNION ALL SELECT 'config', k.name, k.config_sha256 FROM builds b"
	" JOIN kernels k ON k.id = b.kernel_id WHERE b.id = ?1"
	" UNION ALL SELECT 'toolchain', t.cc_path || ' (' || t.version_text || ')',"
	" NULL FROM builds b JOIN toolchains t ON t.id = b.toolchain_id"
	" WHERE b.id = ?1";

static const char stages_sql[] =
	"SELECT stage, duration_ms FROM build_stages WHERE build_id = ?"
	" ORDER BY position";

/* A build's info being read, with its lists' capacities. */
struct info_fill {
	struct elp_build_info *info;
	size_t cap_inputs, cap_stages;
};

static int add_input(sqlite3_stmt *stmt, void *data)
{
	struct info_fill *fill = data;
	struct elp_build_info *info = fill->info;
	struct elp_build_input *in;

	in = elp_grow(info->inputs, &fill->cap_inputs, info->nr_inputs + 1,
		      sizeof(*in));
	if (!in)
		return -ENOMEM;
	info->inputs = in;
	in += info->nr_inputs++;
	in->kind = elp_column_strdup(stmt, 0);
	in->name = elp_column_strdup(stmt, 1);
	in->sha256 = elp_column_strdup(stmt, 2);
	return in->kind && in->name ? 0 : -ENOMEM;
}

static int add_stage(sqlite3_stmt *stmt, void *data)
{
	struct info_fill *fill = data;
	struct elp_build_info *info = fill->info;
	struct elp_build_stage_time *st;

	st = elp_grow(info->stages, &fill->cap_stages, info->nr_stages + 1,
		      sizeof(*st));
	if (!st)
		return -ENOMEM;
	info->stages = st;
	st += info->nr_stages++;
	st->stage = elp_column_strdup(stmt, 0);
	st->ms = sqlite3_column_int64(stmt, 1);
	return st->stage ? 0 : -ENOMEM;
}

static int read_info(sqlite3_stmt *stmt, struct elp_build_info *info)
{
	char **strings[] = {
		&info->kernel,	      &info->kernel_name, &info->module,
		&info->status,	      &info->reason,	  &info->log_path,
		&info->artefact_path, &info->sha256,	  &info->inputs_sha256,
		&info->verified,      &info->verify_log,  &info->builder_host,
		&info->applied,
	};
	size_t i;

	info->id = sqlite3_column_int64(stmt, 0);
	info->created_at = sqlite3_column_int64(stmt, 1);
	info->started_at = sqlite3_column_int64(stmt, 2);
	info->finished_at = sqlite3_column_int64(stmt, 3);
	info->duration_ms = sqlite3_column_int64(stmt, 4);
	for (i = 0; i < ARRAY_SIZE(strings); i++) {
		*strings[i] = elp_column_strdup(stmt, (int)i + 5);
		if (!*strings[i] &&
		    sqlite3_column_type(stmt, (int)i + 5) != SQLITE_NULL)
			return -ENOMEM;
	}
	info->cumulative = sqlite3_column_int(stmt, 18) != 0;
	info->backend = elp_column_strdup(stmt, 19);
	if (!info->backend)
		return -ENOMEM;
	return 0;
}

int elp_build_info_get(struct elp_catalogue *cat, int64_t id,
		       struct elp_build_info **out)
{
	struct elp_build_info *info;
	struct info_fill fill = { 0 };
	sqlite3_stmt *stmt;
	char *sql;
	int err, rc;

	*out = NULL;
	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	if (asprintf(&sql, info_sql, elp_events_applied_sql()) < 0) {
		free(info);
		return -ENOMEM;
	}
	err = elp_catalogue_prepare(cat, sql, &stmt);
	free(sql);
	if (err) {
		free(info);
		return err;
	}
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		err = read_info(stmt, info);
	} else if (rc == SQLITE_DONE) {
		elp_err(elp_catalogue_ctx(cat),
			"build %lld is not in the catalogue; see 'elivepatch build list'",
			(long long)id);
		err = -ENOENT;
	} else {
		err = elp_catalogue_error(cat, "cannot read build");
	}
	sqlite3_finalize(stmt);
	fill.info = info;
	if (!err)
		err = elp_catalogue_each_row(cat, inputs_sql, id, add_input,
					     &fill, "cannot read build inputs");
	if (!err)
		err = elp_catalogue_each_row(cat, stages_sql, id, add_stage,
					     &fill, "cannot read build passes");
	if (err) {
		elp_build_info_free(info);
		return err;
	}
	*out = info;
	return 0;
}

void elp_build_info_free(struct elp_build_info *info)
{
	size_t i;

	if (!info)
		return;
	for (i = 0; i < info->nr_inputs; i++) {
		free(info->inputs[i].kind);
		free(info->inputs[i].name);
		free(info->inputs[i].sha256);
	}
	free(info->inputs);
	for (i = 0; i < info->nr_stages; i++)
		free(info->stages[i].stage);
	free(info->stages);
	free(info->kernel);
	free(info->kernel_name);
	free(info->module);
	free(info->status);
	free(info->reason);
	free(info->log_path);
	free(info->artefact_path);
	free(info->sha256);
	free(info->inputs_sha256);
	free(info->verified);
	free(info->verify_log);
	free(info->builder_host);
	free(info->backend);
	free(info->applied);
	free(info);
}

/* --- a build as the lifecycle sees it ----------------------------------- */

void elp_lp_build_free(struct elp_lp_build *b)
{
	if (!b)
		return;
	free(b->kernel_release);
	free(b->module_name);
	free(b->status);
	free(b->artefact_path);
	free(b->artefact_sha256);
	free(b->verified);
	free(b->verify_log);
	free(b->patches);
	free(b->cves);
	free(b);
}

#define BUILD_COLUMNS                                                              \
	"b.id, coalesce(b.kernel_id, 0), b.kernel_release, b.module_name,"         \
	" b.status, b.artefact_path, b.artefact_sha256, b.verified,"               \
	" b.verify_log, b.cumulative,"                                             \
	" (SELECT group_concat(name, ',') FROM (SELECT p.name AS name"             \
	"   FROM build_patches bp JOIN patches p ON p.id = bp.patch_id"            \
	"   WHERE bp.build_id = b.id ORDER BY bp.position)),"                      \
	" (SELECT group_concat(cve, ',') FROM (SELECT DISTINCT pc.cve AS cve"      \
	"   FROM build_patches bp JOIN patch_cves pc ON pc.patch_id = bp.patch_id" \
	"   WHERE bp.build_id = b.id ORDER BY pc.cve))"

/* Run a prepared query whose first row is a build; finalizes stmt. */
static int build_row(struct elp_catalogue *cat, sqlite3_stmt *stmt,
		     struct elp_lp_build **out)
{
	struct elp_lp_build *b;
	int rc = sqlite3_step(stmt);

	*out = NULL;
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(stmt);
		return -ENOENT;
	}
	if (rc != SQLITE_ROW) {
		int err = elp_catalogue_error(cat, "cannot read builds");

		sqlite3_finalize(stmt);
		return err;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		sqlite3_finalize(stmt);
		return -ENOMEM;
	}
	b->id = sqlite3_column_int64(stmt, 0);
	b->kernel_id = sqlite3_column_int64(stmt, 1);
	b->kernel_release = elp_column_strdup(stmt, 2);
	b->module_name = elp_column_strdup(stmt, 3);
	b->status = elp_column_strdup(stmt, 4);
	b->artefact_path = elp_column_strdup(stmt, 5);
	b->artefact_sha256 = elp_column_strdup(stmt, 6);
	b->verified = elp_column_strdup(stmt, 7);
	b->verify_log = elp_column_strdup(stmt, 8);
	b->cumulative = sqlite3_column_int(stmt, 9) != 0;
	b->patches = elp_column_strdup(stmt, 10);
	b->cves = elp_column_strdup(stmt, 11);
	sqlite3_finalize(stmt);
	*out = b;
	return 0;
}

int elp_lp_build_get(struct elp_catalogue *cat, int64_t id,
		     struct elp_lp_build **out)
{
	sqlite3_stmt *stmt;
	int err = elp_catalogue_prepare(
		cat, "SELECT " BUILD_COLUMNS " FROM builds b WHERE b.id = ?",
		&stmt);

	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, id);
	return build_row(cat, stmt, out);
}

/* The newest build whose artefact column (sha256 or path) equals value. */
static int latest_build_by(struct elp_catalogue *cat, const char *column,
			   const char *value, struct elp_lp_build **out)
{
	sqlite3_stmt *stmt;
	char *sql;
	int err;

	if (asprintf(&sql,
		     "SELECT " BUILD_COLUMNS
		     " FROM builds b WHERE b.%s = ? ORDER BY b.id DESC LIMIT 1",
		     column) < 0)
		return -ENOMEM;
	err = elp_catalogue_prepare(cat, sql, &stmt);
	free(sql);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, value, -1, SQLITE_STATIC);
	return build_row(cat, stmt, out);
}

int elp_lp_build_by_sha(struct elp_catalogue *cat, const char *sha256,
			struct elp_lp_build **out)
{
	return latest_build_by(cat, "artefact_sha256", sha256, out);
}

int elp_lp_build_by_path(struct elp_catalogue *cat, const char *path,
			 struct elp_lp_build **out)
{
	return latest_build_by(cat, "artefact_path", path, out);
}

int elp_lp_build_applied(struct elp_catalogue *cat, const char *module,
			 const char *release, struct elp_lp_build **out)
{
	struct elp_applied_module *app = NULL;
	size_t nr = 0, i;
	int64_t id = 0;
	int err = elp_events_applied(cat, release, &app, &nr);

	for (i = 0; !err && i < nr; i++)
		if (app[i].build_id && strcmp(app[i].module, module) == 0)
			id = app[i].build_id;
	elp_applied_modules_free(app, nr);
	if (err)
		return err;
	if (!id)
		return -ENOENT;
	return elp_lp_build_get(cat, id, out);
}

int elp_lp_build_set_verified(struct elp_catalogue *cat, int64_t id,
			      bool passed, const char *log_path)
{
	sqlite3_stmt *stmt;
	int err = elp_catalogue_prepare(
		cat,
		"UPDATE builds SET verified = ?, verify_log = ? WHERE id = ?",
		&stmt);

	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, passed ? "passed" : "failed", -1,
			  SQLITE_STATIC);
	if (log_path)
		sqlite3_bind_text(stmt, 2, log_path, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 2);
	sqlite3_bind_int64(stmt, 3, id);
	return elp_catalogue_step_done(cat, stmt, "cannot record the verdict");
}

int elp_lp_build_set_sha256(struct elp_catalogue *cat, int64_t id,
			    const char *sha256)
{
	sqlite3_stmt *stmt;
	int err = elp_catalogue_prepare(
		cat, "UPDATE builds SET artefact_sha256 = ? WHERE id = ?",
		&stmt);

	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, id);
	return elp_catalogue_step_done(cat, stmt,
				       "cannot record the module's sha256");
}

/* --- the engine's records ------------------------------------------------ */

int elp_builds_start(struct elp_catalogue *cat,
		     const struct elp_build_record *r, int64_t *id)
{
	char host[256] = "";
	sqlite3_stmt *stmt;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO builds (kernel_id, kernel_release, toolchain_id, module_name, inputs_sha256, status, created_at, started_at, cumulative, builder_host, builder_pid, backend) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
		&stmt);
	if (err)
		return err;
	gethostname(host, sizeof(host) - 1);
	sqlite3_bind_int(stmt, 8, r->cumulative ? 1 : 0);
	sqlite3_bind_text(stmt, 9, r->builder_host ? r->builder_host : host, -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(stmt, 11, r->backend ? r->backend : "local", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 10, (int64_t)getpid());
	elp_bind_id_opt(stmt, 1, r->kernel_id);
	sqlite3_bind_text(stmt, 2, r->kernel_release, -1, SQLITE_STATIC);
	elp_bind_id_opt(stmt, 3, r->toolchain_id);
	sqlite3_bind_text(stmt, 4, r->module_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, r->inputs_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, now);
	sqlite3_bind_int64(stmt, 7, now);
	err = elp_catalogue_step_done(cat, stmt, "cannot record the build");
	if (err)
		return err;
	*id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
	for (i = 0; i < r->nr_patch_ids; i++) {
		if (!r->patch_ids[i])
			continue;
		err = elp_catalogue_prepare(
			cat,
			"INSERT INTO build_patches (build_id, position, patch_id) VALUES (?, ?, ?)",
			&stmt);
		if (err)
			return err;
		sqlite3_bind_int64(stmt, 1, *id);
		sqlite3_bind_int64(stmt, 2, (sqlite3_int64)i);
		sqlite3_bind_int64(stmt, 3, r->patch_ids[i]);
		err = elp_catalogue_step_done(cat, stmt,
					      "cannot record the build");
		if (err)
			return err;
	}
	return 0;
}

int elp_builds_finish(struct elp_catalogue *cat, int64_t id,
		      const struct elp_build_outcome *o)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE builds SET status = ?, reason = ?, log_path = ?, artefact_path = ?, artefact_sha256 = ?, finished_at = ?, duration_ms = ? WHERE id = ?",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, o->status, -1, SQLITE_STATIC);
	elp_bind_text_opt(stmt, 2, o->reason);
	elp_bind_text_opt(stmt, 3, o->log_path);
	elp_bind_text_opt(stmt, 4, o->artefact_path);
	elp_bind_text_opt(stmt, 5, o->artefact_sha256);
	sqlite3_bind_int64(stmt, 6, (int64_t)time(NULL));
	sqlite3_bind_int64(stmt, 7, o->duration_ms);
	sqlite3_bind_int64(stmt, 8, id);
	return elp_catalogue_step_done(cat, stmt, "cannot record the build");
}

int elp_builds_stage(struct elp_catalogue *cat, int64_t id, size_t position,
		     const char *stage, int64_t ms)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"INSERT OR REPLACE INTO build_stages (build_id, position, stage, duration_ms) VALUES (?, ?, ?, ?)",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)position);
	sqlite3_bind_text(stmt, 3, stage, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, ms);
	return elp_catalogue_step_done(cat, stmt, "cannot record the build");
}

int elp_builds_finish_result(struct elp_catalogue *cat,
			     const struct elp_build_result *r)
{
	struct elp_build_outcome o = { 0 };
	size_t i;
	int err;

	o.status = r->status;
	o.reason = r->reason;
	o.log_path = r->log_path;
	o.artefact_path = r->artefact_path;
	o.artefact_sha256 = r->artefact_sha256;
	o.duration_ms = r->duration_ms;
	err = elp_builds_finish(cat, r->build_id, &o);
	for (i = 0; !err && i < r->nr_stages; i++)
		err = elp_builds_stage(cat, r->build_id, i, r->stages[i].name,
				       r->stages[i].ms);
	return err;
}

/* Is pid a live elivepatch process (not a recycled pid)? */
int elp_builds_reap_interrupted(struct elp_catalogue *cat)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	char host[256] = "";
	sqlite3_stmt *stmt;
	int64_t *dead = NULL;
	size_t n = 0, cap = 0, i;
	int err;

	gethostname(host, sizeof(host) - 1);
	err = elp_catalogue_prepare(
		cat,
		"SELECT id, builder_pid, coalesce(started_at, 0) FROM builds WHERE status = 'running' AND builder_host = ? AND builder_pid IS NOT NULL",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, host, -1, SQLITE_STATIC);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		int64_t *nd;

		if (elp_process_alive(sqlite3_column_int64(stmt, 1),
				      sqlite3_column_int64(stmt, 2)))
			continue;
		nd = elp_grow(dead, &cap, n + 1, sizeof(*nd));
		if (!nd) {
			err = -ENOMEM;
			break;
		}
		dead = nd;
		dead[n++] = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	for (i = 0; !err && i < n; i++) {
		err = elp_catalogue_prepare(
			cat,
			"UPDATE builds SET status = 'failed', reason = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running'",
			&stmt);
		if (err)
			break;
		sqlite3_bind_int64(stmt, 1, (int64_t)time(NULL));
		sqlite3_bind_int64(stmt, 2, dead[i]);
		err = elp_catalogue_step_done(
			cat, stmt, "cannot mark an interrupted build");
		if (!err)
			elp_warn(
				ctx,
				"build %lld was interrupted (its process is gone); marked failed",
				(long long)dead[i]);
	}
	free(dead);
	return err;
}

int elp_builds_find_identical(struct elp_catalogue *cat,
			      const char *inputs_sha256,
			      struct elp_build_found *out)
{
	sqlite3_stmt *stmt;
	int err, found = 0;

	memset(out, 0, sizeof(*out));
	err = elp_catalogue_prepare(
		cat,
		"SELECT id, artefact_path, artefact_sha256, log_path FROM builds WHERE inputs_sha256 = ? AND status = 'succeeded' AND artefact_path IS NOT NULL ORDER BY id DESC",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, inputs_sha256, -1, SQLITE_STATIC);
	while (!found && sqlite3_step(stmt) == SQLITE_ROW) {
		const char *path = text(stmt, 1);
		const char *sha = text(stmt, 2);
		char got[ELP_SHA256_HEX_LEN + 1];

		if (!path || !sha || !elp_is_file(path) ||
		    elp_sha256_file(NULL, path, got) < 0 ||
		    strcmp(got, sha) != 0)
			continue;
		out->id = sqlite3_column_int64(stmt, 0);
		out->artefact_path = strdup(path);
		out->artefact_sha256 = strdup(sha);
		out->log_path = elp_column_strdup(stmt, 3);
		found = 1;
	}
	sqlite3_finalize(stmt);
	if (found && (!out->artefact_path || !out->artefact_sha256)) {
		elp_build_found_release(out);
		return -ENOMEM;
	}
	return found;
}

void elp_build_found_release(struct elp_build_found *f)
{
	free(f->artefact_path);
	free(f->artefact_sha256);
	free(f->log_path);
	memset(f, 0, sizeof(*f));
}

/* Every first column of a query on one id (or two texts), as int64s. */
static int collect_ids(struct elp_catalogue *cat, sqlite3_stmt *stmt,
		       int64_t **ids, size_t *nr, const char *what)
{
	size_t cap = 0;
	int err = 0, rc;

	*ids = NULL;
	*nr = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t *n = elp_grow(*ids, &cap, *nr + 1, sizeof(*n));

		if (!n) {
			err = -ENOMEM;
			break;
		}
		*ids = n;
		n[(*nr)++] = sqlite3_column_int64(stmt, 0);
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, what);
	sqlite3_finalize(stmt);
	return err;
}

int elp_builds_of_module(struct elp_catalogue *cat, const char *release,
			 const char *module, int64_t **ids, size_t *nr)
{
	sqlite3_stmt *stmt;
	int err;

	*ids = NULL;
	*nr = 0;
	err = elp_catalogue_prepare(
		cat,
		"SELECT id FROM builds WHERE kernel_release = ?1 AND module_name = ?2"
		" AND artefact_path IS NOT NULL AND artefact_sha256 IS NOT NULL"
		" ORDER BY id DESC",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, release, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, module, -1, SQLITE_STATIC);
	return collect_ids(cat, stmt, ids, nr, "cannot read builds");
}

int elp_builds_using_patch(struct elp_catalogue *cat, int64_t patch_id,
			   int64_t **ids, size_t *nr)
{
	sqlite3_stmt *stmt;
	int err;

	*ids = NULL;
	*nr = 0;
	err = elp_catalogue_prepare(
		cat,
		"SELECT DISTINCT build_id FROM build_patches WHERE patch_id = ? ORDER BY build_id",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, patch_id);
	return collect_ids(cat, stmt, ids, nr, "cannot look up references");
}

int elp_builds_patch_ids(struct elp_catalogue *cat, int64_t build_id,
			 int64_t **ids, size_t *nr)
{
	sqlite3_stmt *stmt;
	int err;

	*ids = NULL;
	*nr = 0;
	err = elp_catalogue_prepare(
		cat,
		"SELECT patch_id FROM build_patches WHERE build_id = ? ORDER BY position",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, build_id);
	return collect_ids(cat, stmt, ids, nr, "cannot read a build's patches");
}

int elp_builds_applied_patch_ids(struct elp_catalogue *cat, const char *release,
				 int64_t **ids, size_t *nr, size_t *nr_applied)
{
	struct elp_applied_module *app = NULL;
	size_t nr_app = 0, nr_builds = 0, cap = 0, i, j, k;
	int err;

	*ids = NULL;
	*nr = 0;
	err = elp_events_applied(cat, release, &app, &nr_app);
	for (i = 0; !err && i < nr_app; i++) {
		int64_t *p = NULL;
		size_t np = 0;

		if (!app[i].build_id)
			continue; /* applied with --force: no build */
		nr_builds++;
		err = elp_builds_patch_ids(cat, app[i].build_id, &p, &np);
		for (j = 0; !err && j < np; j++) {
			int64_t *n;

			for (k = 0; k < *nr && (*ids)[k] != p[j]; k++)
				;
			if (k < *nr)
				continue;
			n = elp_grow(*ids, &cap, *nr + 1, sizeof(*n));
			if (!n) {
				err = -ENOMEM;
				break;
			}
			*ids = n;
			n[(*nr)++] = p[j];
		}
		free(p);
	}
	elp_applied_modules_free(app, nr_app);
	if (nr_applied)
		*nr_applied = err ? 0 : nr_builds;
	if (err) {
		free(*ids);
		*ids = NULL;
		*nr = 0;
	}
	return err;
}

int elp_kernel_count_builds(struct elp_catalogue *cat, int64_t kernel_id)
{
	sqlite3_stmt *stmt;
	int err, n = 0;

	err = elp_catalogue_prepare(
		cat, "SELECT count(*) FROM builds WHERE kernel_id = ?", &stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, kernel_id);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int(stmt, 0);
	else
		n = elp_catalogue_error(cat, "cannot count builds");
	sqlite3_finalize(stmt);
	return n;
}
