/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sqlite3 helpers of the catalogue's table owners (the files of src/lib only:
 * the engine and the CLI go through the owners' typed functions).
 */
#ifndef ELP_CATALOGUE_INTERNAL_H
#define ELP_CATALOGUE_INTERNAL_H

#include <sqlite3.h>

#include "catalogue.h"

sqlite3 *elp_catalogue_db(const struct elp_catalogue *cat);

/*
 * The one place sqlite errors are turned into log lines and errnos:
 * logs "catalogue '<path>': <what>: <sqlite message>" and returns -errno.
 */
int elp_catalogue_error(struct elp_catalogue *cat, const char *what);

/* Prepare a statement; logs and returns -errno on failure. */
int elp_catalogue_prepare(struct elp_catalogue *cat, const char *sql,
			  sqlite3_stmt **stmt);
/* Step a statement expected to finish (INSERT/UPDATE/DELETE), finalize it. */
int elp_catalogue_step_done(struct elp_catalogue *cat, sqlite3_stmt *stmt,
			    const char *what);
/* Step a query that asks whether a row exists, finalize it: 1 yes, 0 no. */
int elp_catalogue_step_exists(struct elp_catalogue *cat, sqlite3_stmt *stmt,
			      const char *what);

/*
 * Run a query whose one parameter is an id and call row() for each result
 * row; a non-zero return from row() stops and is returned.
 */
typedef int (*elp_row_fn)(sqlite3_stmt *stmt, void *data);
int elp_catalogue_each_row(struct elp_catalogue *cat, const char *sql,
			   int64_t id, elp_row_fn row, void *data,
			   const char *what);

/* Bind text (copied), or NULL when s is NULL. */
void elp_bind_text_opt(sqlite3_stmt *stmt, int idx, const char *s);
/* Bind an id, or NULL when it is not > 0 (a foreign key left unset). */
void elp_bind_id_opt(sqlite3_stmt *stmt, int idx, int64_t id);

/* Column text duplicated, NULL-safe. */
char *elp_column_strdup(sqlite3_stmt *stmt, int col);

/*
 * The relations other owners' reports join without naming the owner's
 * table.  Text, not calls: builds.c asks history.c which builds are
 * applied, so history.c, whose report joins the builds' patches, does not
 * call builds.c back.
 *
 * builds.c's: (build_id, patch_id, position), every patch of every build.
 */
#define ELP_BUILD_PATCHES_SQL \
	"SELECT build_id, patch_id, position FROM build_patches"
/*
 * history.c's: (id, time, kernel_release, host, module, build_id), the
 * 'apply' events in effect (see elp_events_applied() in history.h).
 */
const char *elp_events_applied_sql(void);

#endif
