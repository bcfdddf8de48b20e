// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalogue-internal.h"
#include "history.h"
#include "util.h"

/*
 * An event concerns a patch directly (patch-add) or through its build; the
 * patch and CVE lists come from whichever applies.
 */
static const char history_sql[] =
	"WITH ev_patches(event_id, patch_id, position) AS ("
	"  SELECT e.id, e.patch_id, 0 FROM events e WHERE e.patch_id IS NOT NULL"
	"  UNION SELECT e.id, bp.patch_id, bp.position FROM events e"
	"  JOIN build_patches bp ON bp.build_id = e.build_id)"
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

static void bind_opt(sqlite3_stmt *stmt, int idx, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, idx);
}

static const char *text(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}

int elp_history_query(struct elp_catalogue *cat,
		      const struct elp_history_filter *f, elp_history_cb cb,
		      void *data)
{
	sqlite3_stmt *stmt;
	int err, rc;

	err = elp_catalogue_prepare(cat, history_sql, &stmt);
	if (err)
		return err;
	bind_opt(stmt, 1, f->kernel);
	bind_opt(stmt, 2, f->patch);
	bind_opt(stmt, 3, f->cve);
	bind_opt(stmt, 4, f->kind);
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
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
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
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm = { 0 };
		const char *end = strptime(text, formats[i], &tm);

		if (end && *end == '\0') {
			*out = (int64_t)timegm(&tm);
			return 0;
		}
	}
	return parse_relative(text, now, out);
}
