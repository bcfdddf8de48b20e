// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The jobs table: queueing, listing, clearing, and the runner's side of it
 * (the lock, claiming the next job, recording how it ended, recovering the
 * jobs of a runner that died).  jobs-run.c runs the jobs (elp_job_run_next())
 * and does the work of each kind; this file calls none of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "catalogue-internal.h"
#include "jobs-internal.h"
#include "util.h"

/* ---- rows ---- */

static const char *const arg_names[] = { "source",  "release",	"image",
					 "overlay", "location", "kernel",
					 "patch" };
#define NR_ARGS ARRAY_SIZE(arg_names)

static const char *request_arg(const struct elp_job_request *req, size_t i)
{
	const char *const v[NR_ARGS] = { req->source,	req->release,
					 req->image,	req->overlay,
					 req->location, req->kernel,
					 req->patch };

	return v[i];
}

static char **job_arg(struct elp_job *job, size_t i)
{
	char **const v[NR_ARGS] = { &job->source,  &job->release,  &job->image,
				    &job->overlay, &job->location, &job->kernel,
				    &job->patch };

	return v[i];
}

/* What a kind needs; NULL when the job is well-formed. */
static const char *check_args(const char *kind, const char *const *v)
{
	/* indexes into arg_names */
	enum { SRC, REL, IMG, OVL, LOC, KER, PAT };

	if (strcmp(kind, "kernel") == 0) {
		if (!v[SRC] == !v[REL])
			return "a kernel job needs a source directory or a release (one of them)";
		if (v[IMG] && !v[REL])
			return "a kernel image goes with a release";
		if (v[OVL] || v[LOC] || v[KER] || v[PAT])
			return "a kernel job takes a source or a release and an image only";
		return NULL;
	}
	if (strcmp(kind, "overlay") == 0) {
		if (!v[OVL] || !v[LOC])
			return "an overlay job needs the overlay's name and location";
		if (v[SRC] || v[REL] || v[IMG] || v[KER] || v[PAT])
			return "an overlay job takes a name and a location only";
		return NULL;
	}
	if (strcmp(kind, "build") == 0) {
		if (!v[KER] || !v[PAT])
			return "a build job needs a kernel and a patch";
		if (v[SRC] || v[REL] || v[IMG] || v[OVL] || v[LOC])
			return "a build job takes a kernel and a patch only";
		return NULL;
	}
	return "unknown kind (expected kernel, overlay or build)";
}

static int json_put_string(struct elp_buf *b, const char *s)
{
	int err = elp_buf_puts(b, "\"");

	for (; !err && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			err = elp_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			err = elp_buf_printf(b, "\\u%04x", c);
		else
			err = elp_buf_append(b, s, 1);
	}
	return err ? err : elp_buf_puts(b, "\"");
}

/* {"key":"value",...} in arg_names order: equal requests, equal text. */
static int request_json(const struct elp_job_request *req, struct elp_buf *b)
{
	bool first = true;
	size_t i;
	int err = elp_buf_puts(b, "{");

	for (i = 0; !err && i < NR_ARGS; i++) {
		const char *v = request_arg(req, i);

		if (!v)
			continue;
		err = elp_buf_printf(b, "%s\"%s\":", first ? "" : ",",
				     arg_names[i]);
		if (!err)
			err = json_put_string(b, v);
		first = false;
	}
	return err ? err : elp_buf_puts(b, "}");
}

int elp_job_add(struct elp_catalogue *cat, const struct elp_job_request *req,
		int64_t *id)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	const char *v[NR_ARGS];
	struct elp_buf args = { 0 };
	sqlite3_stmt *stmt;
	const char *why;
	size_t i;
	int err, rc;

	for (i = 0; i < NR_ARGS; i++) {
		v[i] = request_arg(req, i);
		if (v[i] && !*v[i]) {
			elp_err(ctx, "cannot queue a %s job: empty %s",
				req->kind, arg_names[i]);
			return -EINVAL;
		}
	}
	why = check_args(req->kind, v);
	if (why) {
		elp_err(ctx, "cannot queue a '%s' job: %s", req->kind, why);
		return -EINVAL;
	}
	err = request_json(req, &args);
	if (err)
		return err;
	err = elp_catalogue_prepare(
		cat,
		"SELECT id FROM jobs WHERE state = 'queued' AND kind = ? AND arguments = ? ORDER BY id LIMIT 1",
		&stmt);
	if (err)
		goto out;
	sqlite3_bind_text(stmt, 1, req->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, args.data, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		sqlite3_finalize(stmt);
		err = 1;
		goto out;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(cat, "cannot look up queued jobs");
		goto out;
	}
	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO jobs (kind, state, origin, arguments, created_at) VALUES (?, 'queued', ?, ?, ?)",
		&stmt);
	if (err)
		goto out;
	sqlite3_bind_text(stmt, 1, req->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, req->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, args.data, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (int64_t)time(NULL));
	err = elp_catalogue_step_done(cat, stmt, "cannot queue a job");
	if (!err)
		*id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
out:
	elp_buf_free(&args);
	return err;
}

int elp_job_cancel(struct elp_catalogue *cat, int64_t id, const char *error)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE id = ? AND state = 'queued'",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (int64_t)time(NULL));
	sqlite3_bind_int64(stmt, 3, id);
	err = elp_catalogue_step_done(cat, stmt, "cannot cancel a job");
	if (!err && sqlite3_changes(elp_catalogue_db(cat)) == 0)
		err = -ENOENT;
	return err;
}

void elp_job_free(struct elp_job *job)
{
	size_t i;

	if (!job)
		return;
	free(job->kind);
	free(job->state);
	free(job->origin);
	free(job->arguments);
	free(job->error);
	for (i = 0; i < NR_ARGS; i++)
		free(*job_arg(job, i));
	free(job->runner_host);
	free(job->inputs_key);
	free(job);
}

/*
 * The columns every job query selects.  json_extract() fails the whole
 * statement on malformed JSON, hence the guard: a corrupt row reads as
 * NULL arguments and is reported by read_row().
 */
#define JOB_JSON(member)                                                     \
	"CASE WHEN NOT json_valid(arguments) THEN NULL "                     \
	"WHEN json_type(arguments) = 'object' THEN json_extract(arguments, " \
	"'$." member "') END"
#define JOB_SELECT                                                                                                    \
	"SELECT id, kind, state, origin, arguments, error, created_at, "                                              \
	"started_at, finished_at, CASE WHEN NOT json_valid(arguments) THEN "                                          \
	"0 ELSE json_type(arguments) = 'object' END, runner_pid, "                                                    \
	"runner_host, inputs_key, " JOB_JSON("source") ", " JOB_JSON("release") ", " JOB_JSON("image") ", " JOB_JSON( \
		"overlay") ", " JOB_JSON("location") ", " JOB_JSON("kernel") ", " JOB_JSON("patch") " FROM jobs"
#define JOB_FIRST_ARG 13

/* A job from a JOB_SELECT row; *corrupt says why it cannot be used. */
static int read_row(sqlite3_stmt *stmt, struct elp_job **out,
		    const char **corrupt)
{
	struct elp_job *job = calloc(1, sizeof(*job));
	const char *v[NR_ARGS];
	size_t i;

	*out = NULL;
	*corrupt = NULL;
	if (!job)
		return -ENOMEM;
	job->id = sqlite3_column_int64(stmt, 0);
	job->kind = elp_column_strdup(stmt, 1);
	job->state = elp_column_strdup(stmt, 2);
	job->origin = elp_column_strdup(stmt, 3);
	job->arguments = elp_column_strdup(stmt, 4);
	job->error = elp_column_strdup(stmt, 5);
	job->created_at = sqlite3_column_int64(stmt, 6);
	job->started_at = sqlite3_column_int64(stmt, 7);
	job->finished_at = sqlite3_column_int64(stmt, 8);
	job->runner_pid = sqlite3_column_int64(stmt, 10);
	job->runner_host = elp_column_strdup(stmt, 11);
	job->inputs_key = elp_column_strdup(stmt, 12);
	for (i = 0; i < NR_ARGS; i++) {
		int col = JOB_FIRST_ARG + (int)i;

		if (sqlite3_column_type(stmt, col) == SQLITE_TEXT)
			*job_arg(job, i) = elp_column_strdup(stmt, col);
		else if (sqlite3_column_type(stmt, col) != SQLITE_NULL)
			*corrupt = "an argument is not a string";
		v[i] = *job_arg(job, i);
	}
	if (!job->kind || !job->state) {
		elp_job_free(job);
		return -ENOMEM;
	}
	if (!sqlite3_column_int(stmt, 9))
		*corrupt = "its arguments are not a JSON object";
	else if (!*corrupt)
		*corrupt = check_args(job->kind, v);
	*out = job;
	return 0;
}

int elp_job_foreach(struct elp_catalogue *cat, elp_job_cb cb, void *data)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	sqlite3_stmt *stmt;
	int err, rc, skipped = 0;

	err = elp_catalogue_prepare(cat, JOB_SELECT " ORDER BY created_at, id",
				    &stmt);
	if (err)
		return err;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct elp_job *job;
		const char *corrupt;

		err = read_row(stmt, &job, &corrupt);
		if (err)
			break;
		if (corrupt) {
			elp_warn(ctx, "job %lld skipped: %s",
				 (long long)job->id, corrupt);
			skipped++;
		} else {
			err = cb(job, data);
		}
		elp_job_free(job);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read jobs");
	sqlite3_finalize(stmt);
	return err ? err : skipped;
}

char *elp_job_subject(const struct elp_job *job)
{
	char *s = NULL;
	int n = -1;

	if (job->source)
		n = asprintf(&s, "kernel source %s", job->source);
	else if (job->release)
		n = asprintf(&s, "kernel %s%s%s", job->release,
			     job->image ? " image " : "",
			     job->image ? job->image : "");
	else if (job->overlay)
		n = asprintf(&s, "overlay %s at %s", job->overlay,
			     job->location);
	else if (job->patch)
		n = asprintf(&s, "patch %s for kernel %s", job->patch,
			     job->kernel);
	return n < 0 ? NULL : s;
}

int elp_job_clear(struct elp_catalogue *cat, bool all, int *removed)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		all ? "DELETE FROM jobs WHERE state != 'running'"
		    : "DELETE FROM jobs WHERE state IN ('done', 'failed')",
		&stmt);
	if (err)
		return err;
	err = elp_catalogue_step_done(cat, stmt, "cannot clear jobs");
	if (!err)
		*removed = sqlite3_changes(elp_catalogue_db(cat));
	return err;
}

/* ---- the runner ---- */

int elp_jobs_lock(struct elp_catalogue *cat, bool wait, int *fd)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	char *path;
	int err = 0;

	if (asprintf(&path, "%s.queue-lock", elp_catalogue_path(cat)) < 0)
		return -ENOMEM;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		err = -errno;
		elp_err(ctx, "cannot open queue lock '%s': %s", path,
			strerror(-err));
	} else if (flock(*fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		err = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		/* busy, or a signal ended the wait: the caller's to tell */
		if (err != -EAGAIN && err != -EINTR)
			elp_err(ctx, "cannot lock '%s': %s", path,
				strerror(-err));
		close(*fd);
		*fd = -1;
	}
	free(path);
	return err;
}

void elp_jobs_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void this_host(char *host, size_t len)
{
	host[0] = '\0';
	gethostname(host, len - 1);
	host[len - 1] = '\0';
}

int elp_job_requeue(struct elp_catalogue *cat, int64_t id)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE jobs SET state = 'queued', started_at = NULL, runner_pid = NULL, runner_host = NULL WHERE id = ? AND state = 'running'",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, id);
	return elp_catalogue_step_done(cat, stmt, "cannot queue a job again");
}

int elp_jobs_recover(struct elp_catalogue *cat)
{
	char host[256];
	sqlite3_stmt *stmt;
	int64_t *dead = NULL, *nd;
	size_t n = 0, cap = 0, i;
	int err, rc;

	this_host(host, sizeof(host));
	err = elp_catalogue_prepare(cat, JOB_SELECT " WHERE state = 'running'",
				    &stmt);
	if (err)
		return err;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(stmt, 11);

		if (!h || strcmp(h, host) != 0 ||
		    elp_process_alive(sqlite3_column_int64(stmt, 10),
				      sqlite3_column_int64(stmt, 7)))
			continue;
		nd = elp_grow(dead, &cap, n + 1, sizeof(*nd));
		if (!nd) {
			err = -ENOMEM;
			break;
		}
		dead = nd;
		dead[n++] = sqlite3_column_int64(stmt, 0);
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read running jobs");
	sqlite3_finalize(stmt);
	for (i = 0; !err && i < n; i++) {
		elp_notice(elp_catalogue_ctx(cat),
			   "job %lld: its runner died; queued again",
			   (long long)dead[i]);
		err = elp_job_requeue(cat, dead[i]);
	}
	free(dead);
	return err ? err : (int)n;
}

int elp_job_claim_next(struct elp_catalogue *cat, struct elp_job **out,
		       const char **corrupt)
{
	char host[256];
	sqlite3_stmt *stmt;
	int err, rc;

	*out = NULL;
	this_host(host, sizeof(host));
	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	err = elp_catalogue_prepare(
		cat,
		JOB_SELECT
		" WHERE state = 'queued' ORDER BY created_at, id LIMIT 1",
		&stmt);
	if (err)
		goto rollback;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		err = read_row(stmt, out, corrupt);
	else if (rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read queued jobs");
	sqlite3_finalize(stmt);
	if (err || !*out)
		goto rollback;
	err = elp_catalogue_prepare(
		cat,
		"UPDATE jobs SET state = 'running', started_at = ?1, runner_pid = ?2, runner_host = ?3 WHERE id = ?4",
		&stmt);
	if (err)
		goto rollback;
	sqlite3_bind_int64(stmt, 1, (int64_t)time(NULL));
	sqlite3_bind_int64(stmt, 2, (int64_t)getpid());
	sqlite3_bind_text(stmt, 3, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (*out)->id);
	err = elp_catalogue_step_done(cat, stmt, "cannot start a job");
	if (!err)
		err = elp_catalogue_commit(cat);
	if (!err)
		return 0;
rollback:
	elp_catalogue_rollback(cat);
	elp_job_free(*out);
	*out = NULL;
	return err;
}

int elp_job_find_refusal(struct elp_catalogue *cat, const char *key,
			 int64_t *id, char **error)
{
	sqlite3_stmt *stmt;
	int err, rc;

	err = elp_catalogue_prepare(
		cat,
		"SELECT id, error FROM jobs WHERE inputs_key = ? AND state = 'refused' AND kind = 'build' ORDER BY id LIMIT 1",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		*error = elp_column_strdup(stmt, 1);
		err = *error ? 1 : -ENOMEM;
	} else if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(cat, "cannot look up refusals");
	}
	sqlite3_finalize(stmt);
	return err;
}

int elp_job_finish(struct elp_catalogue *cat, struct elp_job *job,
		   const char *state, const char *error, const char *key)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE jobs SET state = ?1, error = ?2, finished_at = ?3, runner_pid = NULL, runner_host = NULL, inputs_key = ?4 WHERE id = ?5",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)time(NULL));
	sqlite3_bind_text(stmt, 4, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, job->id);
	err = elp_catalogue_step_done(cat, stmt, "cannot finish a job");
	if (err)
		return err;
	free(job->state);
	free(job->error);
	free(job->inputs_key);
	job->state = strdup(state);
	job->error = error ? strdup(error) : NULL;
	job->inputs_key = key ? strdup(key) : NULL;
	return job->state ? 0 : -ENOMEM;
}
