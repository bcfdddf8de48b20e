// SPDX-License-Identifier: GPL-2.0-or-later
/* The catalogue's builds as users query them: `build list`, `build show`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builds.h"

/* Patch names of build b.id, in the order they were applied. */
#define BUILD_PATCHES_SQL                                               \
	"(SELECT group_concat(name, ',') FROM (SELECT p.name AS name"   \
	"   FROM build_patches bp JOIN patches p ON p.id = bp.patch_id" \
	"   WHERE bp.build_id = b.id ORDER BY bp.position))"

/*
 * Hosts where build b.id is applied now: an 'apply' of it not followed by
 * an 'apply', 'revert' or 'replace' of the same module on that kernel and
 * host (as elp_lp_build_applied() reads the events).
 */
#define BUILD_APPLIED_SQL                                                     \
	"(SELECT group_concat(host, ',') FROM (SELECT DISTINCT"               \
	"   coalesce(e.host, '?') AS host FROM events e"                      \
	"   WHERE e.kind = 'apply' AND e.build_id = b.id"                     \
	"   AND NOT EXISTS (SELECT 1 FROM events l WHERE l.module = e.module" \
	"    AND l.kernel_release IS e.kernel_release AND l.host IS e.host"   \
	"    AND l.kind IN ('apply', 'revert', 'replace')"                    \
	"    AND (l.time > e.time OR (l.time = e.time AND l.id > e.id)))"     \
	"   ORDER BY host))"

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

static void bind_opt(sqlite3_stmt *stmt, int idx, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, idx);
}

int elp_builds_list(struct elp_catalogue *cat,
		    const struct elp_builds_filter *f, elp_builds_cb cb,
		    void *data)
{
	sqlite3_stmt *stmt;
	int err, rc;

	err = elp_catalogue_prepare(cat, list_sql, &stmt);
	if (err)
		return err;
	bind_opt(stmt, 1, f->kernel);
	bind_opt(stmt, 2, f->patch);
	bind_opt(stmt, 3, f->status);
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

static int add_input(sqlite3_stmt *stmt, void *data)
{
	struct elp_build_info *info = data;
	struct elp_build_input *in;

	in = realloc(info->inputs, (info->nr_inputs + 1) * sizeof(*in));
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
	struct elp_build_info *info = data;
	struct elp_build_stage_time *st;

	st = realloc(info->stages, (info->nr_stages + 1) * sizeof(*st));
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
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
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
	sqlite3_stmt *stmt;
	int err, rc;

	*out = NULL;
	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	err = elp_catalogue_prepare(cat, info_sql, &stmt);
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
	if (!err)
		err = elp_catalogue_each_row(cat, inputs_sql, id, add_input,
					     info, "cannot read build inputs");
	if (!err)
		err = elp_catalogue_each_row(cat, stages_sql, id, add_stage,
					     info, "cannot read build passes");
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
