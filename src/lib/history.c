// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/build.h"
#include "catalogue-internal.h"
#include "history.h"
#include "util.h"

/*
 * An event concerns a patch directly (patch-add) or through its build (%s:
 * ELP_BUILD_PATCHES_SQL); the patch and CVE lists come from whichever
 * applies.
 */
static const char history_sql[] =
	"WITH ev_patches(event_id, patch_id, position) AS ("
	"  SELECT e.id, e.patch_id, 0 FROM events e WHERE e.patch_id IS NOT NULL"
	"  UNION SELECT e.id, bp.patch_id, bp.position FROM events e"
	"  JOIN (%s) bp ON bp.build_id = e.build_id)"
	" SELECT e.id, e.time, e.kind,"
	"  coalesce(e.kernel_release, k.release, b.kernel_release),"
	"  coalesce(e.build_id, 0), coalesce(e.module, b.module_name),"
	"  (SELECT group_concat(name, ',') FROM (SELECT p.name AS name FROM ev_patches ep"
	"    JOIN patches p ON p.id = ep.patch_id WHERE ep.event_id = e.id"
	"    ORDER BY ep.position)),"
	"  (SELECT group_concat(cve, ',') FROM (SELECT DISTINCT pc.cve AS cve FROM ev_patches ep"
	"    JOIN patch_cves pc ON pc.patch_id = ep.patch_id WHERE ep.event_id = e.id"
	"    ORDER BY pc.cve)),"
	"  e.host, e.detail"
	" FROM events e"
	" LEFT JOIN kernels k ON k.id = e.kernel_id"
	" LEFT JOIN builds b ON b.id = e.build_id"
	" WHERE (?1 IS NULL OR e.kernel_id IN (SELECT id FROM kernels WHERE name = ?1"
	"        OR CAST(id AS TEXT) = ?1 OR release = ?1)"
	"        OR coalesce(e.kernel_release, b.kernel_release) = ?1)"
	"  AND (?2 IS NULL OR e.id IN (SELECT ep.event_id FROM ev_patches ep"
	"        JOIN patches p ON p.id = ep.patch_id"
	"        WHERE p.name = ?2 OR CAST(p.id AS TEXT) = ?2))"
	"  AND (?3 IS NULL OR e.id IN (SELECT ep.event_id FROM ev_patches ep"
	"        JOIN patch_cves pc ON pc.patch_id = ep.patch_id WHERE pc.cve = upper(?3)))"
	"  AND (?4 IS NULL OR e.kind = ?4)"
	"  AND (?5 = 0 OR e.time >= ?5)"
	"  AND (?6 = 0 OR e.time <= ?6)"
	"  AND (?7 = 0 OR e.build_id = ?7)"
	" ORDER BY e.time, e.id"
	" LIMIT CASE WHEN ?8 > 0 THEN ?8 ELSE -1 END";

static const char *text(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}

int elp_history_query(struct elp_catalogue *cat,
		      const struct elp_history_filter *f, elp_history_cb cb,
		      void *data)
{
	sqlite3_stmt *stmt;
	char *sql;
	int err, rc;

	if (asprintf(&sql, history_sql, ELP_BUILD_PATCHES_SQL) < 0)
		return -ENOMEM;
	err = elp_catalogue_prepare(cat, sql, &stmt);
	free(sql);
	if (err)
		return err;
	elp_bind_text_opt(stmt, 1, f->kernel);
	elp_bind_text_opt(stmt, 2, f->patch);
	elp_bind_text_opt(stmt, 3, f->cve);
	elp_bind_text_opt(stmt, 4, f->kind);
	sqlite3_bind_int64(stmt, 5, f->since);
	sqlite3_bind_int64(stmt, 6, f->until);
	sqlite3_bind_int64(stmt, 7, f->build_id);
	sqlite3_bind_int(stmt, 8, f->limit);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct elp_history_entry e = {
			.id = sqlite3_column_int64(stmt, 0),
			.time = sqlite3_column_int64(stmt, 1),
			.kind = text(stmt, 2),
			.kernel = text(stmt, 3),
			.build_id = sqlite3_column_int64(stmt, 4),
			.module = text(stmt, 5),
			.patches = text(stmt, 6),
			.cves = text(stmt, 7),
			.host = text(stmt, 8),
			.detail = text(stmt, 9),
		};

		err = cb(&e, data);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read history");
	sqlite3_finalize(stmt);
	return err;
}

static int parse_relative(const char *text, int64_t now, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t seconds;
	} units[] = {
		{ "second", 1 },  { "minute", 60 },   { "hour", 3600 },
		{ "day", 86400 }, { "week", 604800 },
	};
	char unit[16], ago[8], extra;
	long long n;
	size_t i, len;

	if (sscanf(text, "%lld %15s %7s %c", &n, unit, ago, &extra) != 3 ||
	    strcmp(ago, "ago") != 0 || n < 0)
		return -EINVAL;
	len = strlen(unit);
	if (len > 1 && unit[len - 1] == 's')
		unit[len - 1] = '\0';
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			*out = now - (int64_t)n * units[i].seconds;
			return 0;
		}
	}
	return -EINVAL;
}

int elp_parse_time(const char *text, int64_t now, int64_t *out)
{
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
		"%Y-%m-%d %H:%M",     "%Y-%m-%d",
	};
	size_t i;

	if (text[0] == '@') {
		char *end;
		long long v = strtoll(text + 1, &end, 10);

		if (end == text + 1 || *end)
			return -EINVAL;
		*out = v;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(formats); i++) {
		struct tm tm = { 0 };
		const char *end = strptime(text, formats[i], &tm);

		if (end && *end == '\0') {
			*out = (int64_t)timegm(&tm);
			return 0;
		}
	}
	return parse_relative(text, now, out);
}

/*
 * The applies in effect: an 'apply' event not followed by an 'apply',
 * 'revert' or 'replace' of the same module on the same kernel release and
 * host.  The one reading of "applied": elp_events_applied() and the builds'
 * applied column (builds.c) both select from it.
 */
static const char applied_sql[] =
	"SELECT e.id, e.time, e.kernel_release, e.host, e.module, e.build_id"
	" FROM events e WHERE e.kind = 'apply'"
	" AND NOT EXISTS (SELECT 1 FROM events l WHERE l.module = e.module"
	"  AND l.kernel_release IS e.kernel_release AND l.host IS e.host"
	"  AND l.kind IN ('apply', 'revert', 'replace')"
	"  AND (l.time > e.time OR (l.time = e.time AND l.id > e.id)))";

const char *elp_events_applied_sql(void)
{
	return applied_sql;
}

int elp_events_applied(struct elp_catalogue *cat, const char *release,
		       struct elp_applied_module **out, size_t *nr)
{
	struct elp_applied_module *list = NULL;
	char host[256] = "";
	sqlite3_stmt *stmt;
	size_t n = 0, cap = 0;
	char *sql;
	int err, rc;

	*out = NULL;
	*nr = 0;
	gethostname(host, sizeof(host) - 1);
	if (asprintf(&sql,
		     "SELECT a.module, coalesce(a.build_id, 0) FROM (%s) a"
		     " WHERE a.kernel_release = ?1 AND a.host IS ?2"
		     " AND a.module IS NOT NULL ORDER BY a.time, a.id",
		     applied_sql) < 0)
		return -ENOMEM;
	err = elp_catalogue_prepare(cat, sql, &stmt);
	free(sql);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, release, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, host, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct elp_applied_module *p =
			elp_grow(list, &cap, n + 1, sizeof(*p));

		if (!p) {
			err = -ENOMEM;
			break;
		}
		list = p;
		list[n].module = elp_column_strdup(stmt, 0);
		list[n].build_id = sqlite3_column_int64(stmt, 1);
		if (!list[n].module) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read events");
	sqlite3_finalize(stmt);
	if (err) {
		elp_applied_modules_free(list, n);
		return err;
	}
	*out = list;
	*nr = n;
	return 0;
}

void elp_applied_modules_free(struct elp_applied_module *m, size_t nr)
{
	while (m && nr)
		free(m[--nr].module);
	free(m);
}

/* The one writer of events. */
int elp_event_add(struct elp_catalogue *cat, const struct elp_event *ev)
{
	char host[256] = "";
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO events (time, kind, kernel_id, kernel_release, build_id, patch_id, module, host, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		&stmt);
	if (err)
		return err;
	if (!ev->host)
		gethostname(host, sizeof(host) - 1);
	sqlite3_bind_int64(stmt, 1, ev->time ? ev->time : (int64_t)time(NULL));
	sqlite3_bind_text(stmt, 2, ev->kind, -1, SQLITE_STATIC);
	elp_bind_id_opt(stmt, 3, ev->kernel_id);
	elp_bind_text_opt(stmt, 4, ev->kernel_release);
	elp_bind_id_opt(stmt, 5, ev->build_id);
	elp_bind_id_opt(stmt, 6, ev->patch_id);
	elp_bind_text_opt(stmt, 7, ev->module);
	elp_bind_text_opt(stmt, 8, ev->host ? ev->host : host);
	elp_bind_text_opt(stmt, 9, ev->detail);
	return elp_catalogue_step_done(cat, stmt, "cannot record event");
}

int elp_event_add_build(struct elp_catalogue *cat,
			const struct elp_build_result *r, int64_t kernel_id,
			int64_t patch_id, const char *detail)
{
	struct elp_event ev = { 0 };

	ev.kind = "build";
	ev.kernel_id = kernel_id;
	ev.kernel_release = r->kernel_release;
	ev.build_id = r->build_id;
	ev.patch_id = patch_id;
	ev.module = r->module_name;
	ev.detail = detail;
	return elp_event_add(cat, &ev);
}
