/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ELP_CATALOGUE_H
#define ELP_CATALOGUE_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "elp.h"

struct elp_catalogue;

enum elp_catalogue_flags {
	/* fall back to a read-only open when the file is not writable */
	ELP_CATALOGUE_READ = 1 << 0,
};

/* Opens (creating it and its directory when needed) and migrates. */
int elp_catalogue_open(struct elp_ctx *ctx, const char *path,
		       unsigned int flags, struct elp_catalogue **out);
void elp_catalogue_close(struct elp_catalogue *cat);

struct elp_ctx *elp_catalogue_ctx(const struct elp_catalogue *cat);
sqlite3 *elp_catalogue_db(const struct elp_catalogue *cat);
const char *elp_catalogue_path(const struct elp_catalogue *cat);
/* Opened read-only (ELP_CATALOGUE_READ on a file the user cannot write)? */
bool elp_catalogue_readonly(const struct elp_catalogue *cat);
int elp_catalogue_schema_version(void);

/*
 * The one place sqlite errors are turned into log lines and errnos:
 * logs "catalogue '<path>': <what>: <sqlite message>" and returns -errno.
 */
int elp_catalogue_error(struct elp_catalogue *cat, const char *what);

int elp_catalogue_begin(struct elp_catalogue *cat);
int elp_catalogue_commit(struct elp_catalogue *cat);
void elp_catalogue_rollback(struct elp_catalogue *cat);

/* Prepare a statement; logs and returns -errno on failure. */
int elp_catalogue_prepare(struct elp_catalogue *cat, const char *sql,
			  sqlite3_stmt **stmt);
/* Step a statement expected to finish (INSERT/UPDATE/DELETE), finalize it. */
int elp_catalogue_step_done(struct elp_catalogue *cat, sqlite3_stmt *stmt,
			    const char *what);

/*
 * Run a query whose one parameter is an id and call row() for each result
 * row; a non-zero return from row() stops and is returned.
 */
typedef int (*elp_row_fn)(sqlite3_stmt *stmt, void *data);
int elp_catalogue_each_row(struct elp_catalogue *cat, const char *sql,
			   int64_t id, elp_row_fn row, void *data,
			   const char *what);

/* Column text duplicated, NULL-safe. */
char *elp_column_strdup(sqlite3_stmt *stmt, int col);

struct elp_event {
	int64_t time; /* 0: now */
	const char *kind;
	int64_t kernel_id; /* 0: none */
	const char *kernel_release;
	int64_t build_id;
	int64_t patch_id;
	const char *module;
	const char *host; /* NULL: this host */
	const char *detail;
};

int elp_event_add(struct elp_catalogue *cat, const struct elp_event *ev);

#endif
