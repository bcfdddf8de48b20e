// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalogue-internal.h"
#include "catalogue.h"
#include "util.h"

/* data/schema/NNN-*.sql, embedded by data/sql2c.sh */
extern const char *const elp_migrations[];

struct elp_catalogue {
	struct elp_ctx *ctx;
	sqlite3 *db;
	char *path;
	int64_t busy_since_ms; /* when the current wait for the lock began */
	bool busy_told; /* the wait was announced */
};

/*
 * Another process (a build recording a stage, a runner claiming a job)
 * holds the catalogue's write lock: wait, saying so once it is not brief,
 * and give up only after ELP_CATALOGUE_BUSY_S, with our own message
 * instead of SQLite's "database is locked".
 */
#define ELP_CATALOGUE_BUSY_S 600
#define BUSY_TELL_MS 1000

int elp_catalogue_schema_version(void)
{
	int n = 0;

	while (elp_migrations[n])
		n++;
	return n;
}

static int sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_PERM:
		return -EACCES;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

int elp_catalogue_error(struct elp_catalogue *cat, const char *what)
{
	int rc = sqlite3_extended_errcode(cat->db);

	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		elp_err(cat->ctx,
			"catalogue '%s': %s: another elivepatch process kept it locked for %d s",
			cat->path, what, ELP_CATALOGUE_BUSY_S);
	else
		elp_err(cat->ctx, "catalogue '%s': %s: %s", cat->path, what,
			sqlite3_errmsg(cat->db));
	return sqlite_errno(rc);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SQLite's busy handler: nonzero to try again. */
static int busy_wait(void *data, int count)
{
	struct elp_catalogue *cat = data;
	struct timespec pause = { 0, 0 };
	int64_t now = now_ms(), waited;

	if (count == 0) {
		cat->busy_since_ms = now;
		cat->busy_told = false;
	}
	waited = now - cat->busy_since_ms;
	if (waited >= ELP_CATALOGUE_BUSY_S * 1000LL)
		return 0;
	if (waited >= BUSY_TELL_MS && !cat->busy_told) {
		cat->busy_told = true;
		elp_notice(
			cat->ctx,
			"waiting for the catalogue '%s': another elivepatch process (a build, apply or queue run) is writing to it",
			cat->path);
	}
	/* 1, 2, 4 ... ms, then every 50 ms */
	pause.tv_nsec = (count < 6 ? 1L << count : 50L) * 1000000L;
	nanosleep(&pause, NULL);
	return 1;
}

struct elp_ctx *elp_catalogue_ctx(const struct elp_catalogue *cat)
{
	return cat->ctx;
}

sqlite3 *elp_catalogue_db(const struct elp_catalogue *cat)
{
	return cat->db;
}

const char *elp_catalogue_path(const struct elp_catalogue *cat)
{
	return cat->path;
}

bool elp_catalogue_readonly(const struct elp_catalogue *cat)
{
	return sqlite3_db_readonly(cat->db, "main") == 1;
}

static int exec(struct elp_catalogue *cat, const char *sql, const char *what)
{
	if (sqlite3_exec(cat->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return elp_catalogue_error(cat, what);
	return 0;
}

int elp_catalogue_begin(struct elp_catalogue *cat)
{
	return exec(cat, "BEGIN IMMEDIATE", "cannot begin transaction");
}

int elp_catalogue_commit(struct elp_catalogue *cat)
{
	return exec(cat, "COMMIT", "cannot commit");
}

void elp_catalogue_rollback(struct elp_catalogue *cat)
{
	if (!sqlite3_get_autocommit(cat->db))
		sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
}

int elp_catalogue_end(struct elp_catalogue *cat, int err)
{
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err)
		elp_catalogue_rollback(cat);
	return err;
}

int elp_catalogue_prepare(struct elp_catalogue *cat, const char *sql,
			  sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(cat->db, sql, -1, stmt, NULL) != SQLITE_OK)
		return elp_catalogue_error(cat, "cannot prepare query");
	return 0;
}

int elp_catalogue_step_done(struct elp_catalogue *cat, sqlite3_stmt *stmt,
			    const char *what)
{
	int rc = sqlite3_step(stmt);
	int err = 0;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = elp_catalogue_error(cat, what);
	sqlite3_finalize(stmt);
	return err;
}

int elp_catalogue_step_exists(struct elp_catalogue *cat, sqlite3_stmt *stmt,
			      const char *what)
{
	int rc = sqlite3_step(stmt);
	int err = rc == SQLITE_ROW ? 1 : 0;

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = elp_catalogue_error(cat, what);
	sqlite3_finalize(stmt);
	return err;
}

int elp_catalogue_each_row(struct elp_catalogue *cat, const char *sql,
			   int64_t id, elp_row_fn row, void *data,
			   const char *what)
{
	sqlite3_stmt *stmt;
	int err, rc;

	err = elp_catalogue_prepare(cat, sql, &stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		err = row(stmt, data);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, what);
	sqlite3_finalize(stmt);
	return err;
}

char *elp_column_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);

	return s ? strdup((const char *)s) : NULL;
}

static int user_version(struct elp_catalogue *cat, int *version)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(cat, "PRAGMA user_version", &stmt);
	if (err)
		return err;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		err = elp_catalogue_error(cat, "cannot read schema version");
		sqlite3_finalize(stmt);
		return err;
	}
	*version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return 0;
}

/* One migration per transaction, as freebsd/pkg does. */
static int migrate(struct elp_catalogue *cat, bool read_only)
{
	int known = elp_catalogue_schema_version();
	int version, err;

	err = user_version(cat, &version);
	if (err)
		return err;
	if (version > known) {
		elp_err(cat->ctx,
			"catalogue '%s' has schema version %d, newer than this elivepatch knows (%d); upgrade elivepatch",
			cat->path, version, known);
		return -EPROTO;
	}
	if (version < known && read_only) {
		elp_err(cat->ctx,
			"catalogue '%s' needs a schema upgrade (%d to %d) but is read-only",
			cat->path, version, known);
		return -EROFS;
	}
	for (; version < known; version++) {
		char pragma[64];

		err = elp_catalogue_begin(cat);
		if (err)
			return err;
		err = exec(cat, elp_migrations[version],
			   "cannot apply schema migration");
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
			 version + 1);
		if (!err)
			err = exec(cat, pragma, "cannot set schema version");
		if (!err)
			err = elp_catalogue_commit(cat);
		if (err) {
			elp_catalogue_rollback(cat);
			return err;
		}
	}
	return 0;
}

static int open_db(struct elp_catalogue *cat, int sqlite_flags)
{
	int rc = sqlite3_open_v2(cat->path, &cat->db, sqlite_flags, NULL);

	if (rc != SQLITE_OK) {
		int err = sqlite_errno(rc);

		if (cat->db) {
			elp_err(cat->ctx, "cannot open catalogue '%s': %s",
				cat->path, sqlite3_errmsg(cat->db));
			sqlite3_close(cat->db);
			cat->db = NULL;
		}
		return err;
	}
	sqlite3_extended_result_codes(cat->db, 1);
	sqlite3_busy_handler(cat->db, busy_wait, cat);
	return 0;
}

/*
 * A reader without write access to a WAL catalogue's directory cannot create
 * the -shm file SQLite needs; open it as immutable then (a snapshot).
 */
static int open_snapshot(struct elp_catalogue *cat)
{
	struct elp_buf uri = { 0 };
	const char *p;
	int err = elp_buf_puts(&uri, "file:");

	for (p = cat->path; !err && *p; p++) {
		if (*p == '?' || *p == '#' || *p == '%')
			err = elp_buf_printf(&uri, "%%%02x", (unsigned char)*p);
		else
			err = elp_buf_append(&uri, p, 1);
	}
	if (!err)
		err = elp_buf_puts(&uri, "?immutable=1");
	if (!err) {
		char *path = cat->path;

		sqlite3_close(cat->db);
		cat->db = NULL;
		cat->path = uri.data;
		err = open_db(cat, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
		cat->path = path;
	}
	elp_buf_free(&uri);
	return err;
}

/*
 * A new catalogue is its owner's only: its directory (when made here) 0700,
 * the file 0600 -- SQLite gives its -wal and -shm files the same mode --
 * whatever the umask.  An administrator may open it to readers (chmod).
 */
static int create_private(struct elp_ctx *ctx, const char *path)
{
	char *copy = strdup(path);
	int err, fd;

	if (!copy)
		return -ENOMEM;
	err = elp_mkdir_p(ctx, dirname(copy), 0700);
	free(copy);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0; /* made by another process meanwhile */
		err = -errno;
		elp_err(ctx, "cannot create catalogue '%s': %s", path,
			strerror(errno));
		return err;
	}
	if (fchmod(fd, 0600) < 0)
		err = -errno;
	close(fd);
	return err;
}

int elp_catalogue_open(struct elp_ctx *ctx, const char *path,
		       unsigned int flags, struct elp_catalogue **out)
{
	struct elp_catalogue *cat;
	bool read_only = false;
	int err;

	cat = calloc(1, sizeof(*cat));
	if (!cat)
		return -ENOMEM;
	cat->ctx = ctx;
	cat->path = strdup(path);
	if (!cat->path) {
		free(cat);
		return -ENOMEM;
	}
	if (elp_is_dir(path)) {
		elp_err(ctx, "cannot open catalogue '%s': is a directory",
			path);
		err = -EISDIR;
		goto fail;
	}
	/* root never records into, or reads rules from, what others change */
	err = elp_check_trusted(ctx, path, "catalogue");
	if (err)
		goto fail;
	if ((access(path, F_OK) < 0 || access(path, R_OK) < 0) &&
	    errno == EACCES) {
		/* root's catalogue is root's only, unless root opens it */
		elp_err(ctx,
			"cannot read catalogue '%s': %s (it is its owner's only; to let other users read it: chmod 0755 its directory, chmod 0644 it)",
			path, strerror(EACCES));
		err = -EACCES;
		goto fail;
	}
	if (access(path, F_OK) == 0 && access(path, W_OK) < 0) {
		if (!(flags & ELP_CATALOGUE_READ)) {
			elp_err(ctx, "catalogue '%s' is read-only", path);
			err = -EROFS;
			goto fail;
		}
		read_only = true;
	} else if (access(path, F_OK) < 0) {
		err = create_private(ctx, path);
		if (err)
			goto fail;
	}
	err = open_db(cat,
		      read_only ? SQLITE_OPEN_READONLY
				: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (err)
		goto fail;
	if (!read_only) {
		err = exec(cat, "PRAGMA journal_mode = WAL",
			   "cannot open as a catalogue");
		if (err)
			goto fail;
	} else {
		if (sqlite3_exec(cat->db, "PRAGMA schema_version", NULL, NULL,
				 NULL) != SQLITE_OK) {
			err = open_snapshot(cat);
			if (err)
				goto fail;
		}
		err = exec(cat, "PRAGMA schema_version",
			   "cannot open as a catalogue");
		if (err)
			goto fail;
	}
	err = exec(cat, "PRAGMA foreign_keys = ON",
		   "cannot enable foreign keys");
	if (err)
		goto fail;
	err = migrate(cat, read_only);
	if (err)
		goto fail;
	*out = cat;
	return 0;
fail:
	elp_catalogue_close(cat);
	return err;
}

void elp_catalogue_close(struct elp_catalogue *cat)
{
	if (!cat)
		return;
	sqlite3_close(cat->db);
	free(cat->path);
	free(cat);
}

void elp_bind_text_opt(sqlite3_stmt *stmt, int idx, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, idx);
}

void elp_bind_id_opt(sqlite3_stmt *stmt, int idx, int64_t id)
{
	if (id > 0)
		sqlite3_bind_int64(stmt, idx, id);
	else
		sqlite3_bind_null(stmt, idx);
}
