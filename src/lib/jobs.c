// SPDX-License-Identifier: GPL-2.0-or-later
/* The jobs table and its runner: queued work carried out by the libraries. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "../engine/build.h"
#include "jobs.h"
#include "kernel.h"
#include "livepatch.h"
#include "patch.h"
#include "util.h"

/* ---- rows ---- */

static const char *const arg_names[] = { "source",  "release",	"image",
					 "overlay", "location", "kernel",
					 "patch" };
#define NR_ARGS (sizeof(arg_names) / sizeof(arg_names[0]))

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
	free(job);
}

/*
 * The columns every job query selects.  json_extract() fails the whole
 * statement on malformed JSON, hence the guard: a corrupt row reads as
 * NULL arguments and is reported by read_row().
 */
/* json_extract() of an object's member, NULL for malformed JSON */
#define JOB_JSON(member)                                                     \
	"CASE WHEN NOT json_valid(arguments) THEN NULL "                     \
	"WHEN json_type(arguments) = 'object' THEN json_extract(arguments, " \
	"'$." member "') END"
#define JOB_SELECT                                                                                                                                \
	"SELECT id, kind, state, origin, arguments, error, created_at, "                                                                          \
	"started_at, finished_at, CASE WHEN NOT json_valid(arguments) THEN "                                                                      \
	"0 ELSE json_type(arguments) = 'object' END, " JOB_JSON("runner_pid") ", " JOB_JSON("runner_host") ", " JOB_JSON("source") ", " JOB_JSON( \
		"release") ", " JOB_JSON("image") ", " JOB_JSON("overlay") ", " JOB_JSON("location") ", " JOB_JSON("kernel") ", " JOB_JSON("patch") " FROM jobs"
#define JOB_FIRST_ARG 12

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

static bool process_alive(int64_t pid)
{
	if (pid <= 0 || pid > INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int requeue(struct elp_catalogue *cat, int64_t id)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE jobs SET state = 'queued', started_at = NULL, arguments = json_remove(arguments, '$.runner_pid', '$.runner_host') WHERE id = ? AND state = 'running'",
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
	size_t n = 0, i;
	int err, rc;

	this_host(host, sizeof(host));
	err = elp_catalogue_prepare(cat, JOB_SELECT " WHERE state = 'running'",
				    &stmt);
	if (err)
		return err;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(stmt, 11);

		if (!h || strcmp(h, host) != 0 ||
		    process_alive(sqlite3_column_int64(stmt, 10)))
			continue;
		nd = realloc(dead, (n + 1) * sizeof(*nd));
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
		err = requeue(cat, dead[i]);
	}
	free(dead);
	return err ? err : (int)n;
}

/* Take the oldest queued job: state running, our pid and host recorded. */
static int claim_next(struct elp_catalogue *cat, struct elp_job **out,
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
		*corrupt
			? "UPDATE jobs SET state = 'running', started_at = ?1 WHERE id = ?4"
			: "UPDATE jobs SET state = 'running', started_at = ?1, arguments = json_set(arguments, '$.runner_pid', ?2, '$.runner_host', ?3) WHERE id = ?4",
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

static int finish(struct elp_catalogue *cat, struct elp_job *job,
		  const char *state, const char *error, const char *key)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE jobs SET state = ?1, error = ?2, finished_at = ?3, arguments = CASE WHEN NOT json_valid(arguments) THEN arguments WHEN ?4 IS NULL THEN json_remove(arguments, '$.runner_pid', '$.runner_host') ELSE json_set(json_remove(arguments, '$.runner_pid', '$.runner_host'), '$.key', ?4) END WHERE id = ?5",
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
	job->state = strdup(state);
	job->error = error ? strdup(error) : NULL;
	return job->state ? 0 : -ENOMEM;
}

/*
 * What a job reports: the library's first error message while the job
 * runs is kept (the CLI's own log callback still sees every message).
 */
struct run {
	struct elp_catalogue *cat;
	struct elp_ctx *ctx;
	const struct elp_job_run_options *opts;
	struct elp_job *job;
	char *error; /* the reason the job failed */
	char *key; /* build jobs: identity of the inputs */
	elp_log_fn outer_fn;
	void *outer_data;
};

static int vfail(struct run *r, bool replace, const char *fmt, va_list args)
{
	char *s;

	if (r->error && !replace)
		return -EINVAL;
	if (vasprintf(&s, fmt, args) < 0)
		return -ENOMEM;
	free(r->error);
	r->error = s;
	return -EINVAL;
}

/* The job failed: why, unless a library already said (its first error). */
static int failf(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int failf(struct run *r, const char *fmt, ...)
{
	va_list args;
	int err;

	va_start(args, fmt);
	err = vfail(r, false, fmt, args);
	va_end(args);
	return err;
}

/* The job failed: exactly why (a build's outcome, not its first error). */
static int outcomef(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int outcomef(struct run *r, const char *fmt, ...)
{
	va_list args;
	int err;

	va_start(args, fmt);
	err = vfail(r, true, fmt, args);
	va_end(args);
	return err;
}

static int queue_build(struct run *r, const char *kernel, const char *patch)
{
	char origin[64];
	struct elp_job_request req = { .kind = "build",
				       .origin = origin,
				       .kernel = kernel,
				       .patch = patch };
	int64_t id;
	int err;

	snprintf(origin, sizeof(origin), "job %lld", (long long)r->job->id);
	err = elp_job_add(r->cat, &req, &id);
	if (err == 0)
		elp_info(r->ctx, "queued job %lld: patch %s for kernel %s",
			 (long long)id, patch, kernel);
	return err < 0 ? err : 0;
}

struct each_patch {
	struct run *r;
	const char *kernel;
	int err;
};

static int queue_patch_build(const struct elp_patch *p, void *data)
{
	struct each_patch *e = data;

	if (p->kind != ELP_PATCH_LIVEPATCH)
		return 0;
	e->err = queue_build(e->r, e->kernel, p->name);
	return e->err;
}

/* ---- kernel jobs ---- */

/* path or NULL when it is not an existing file */
static char *existing(char *path)
{
	if (path && elp_is_file(path))
		return path;
	free(path);
	return NULL;
}

static char *joined(const char *dir, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* A symbol table in kallsyms form (a Debian /boot/System.map is a stub). */
static bool is_symbol_table(const char *path)
{
	char line[512], type, name[256];
	unsigned long long addr;
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(line, sizeof(line), f) &&
	     sscanf(line, "%llx %c %255s", &addr, &type, name) == 3;
	fclose(f);
	return ok;
}

static char *symbol_table(char *path)
{
	path = existing(path);
	if (path && !is_symbol_table(path)) {
		free(path);
		return NULL;
	}
	return path;
}

/* The kernel a configured and built source tree describes. */
static int describe_source(struct run *r, const char *source,
			   struct elp_kernel *k, char **config_path)
{
	const char *kind;
	char *release_file, *release = NULL;

	if (elp_kernel_check_source(r->ctx, source, &kind))
		return -EINVAL;
	*config_path = existing(joined(source, ".config"));
	if (!*config_path)
		return failf(
			r,
			"'%s' has no .config yet: the kernel is catalogued when it is built and installed (installkernel or kernel-install queue it then)",
			source);
	release_file = joined(source, "include/config/kernel.release");
	if (!release_file ||
	    elp_read_file(NULL, release_file, &release, NULL) != 0) {
		free(release_file);
		return failf(
			r,
			"'%s' is not built yet (no include/config/kernel.release): the kernel is catalogued when it is built and installed",
			source);
	}
	free(release_file);
	*strchrnul(release, '\n') = '\0';
	k->release = release;
	k->source = elp_abspath(source);
	k->source_kind = strdup(kind);
	release_file = existing(joined(source, "Module.symvers"));
	if (release_file)
		k->build_dir = elp_abspath(source);
	free(release_file);
	k->symbols_path = symbol_table(joined(source, "System.map"));
	return k->release && k->source && k->source_kind ? 0 : -ENOMEM;
}

/* The kernel installed as /lib/modules/<release> (and /boot). */
static int describe_release(struct run *r, const char *release,
			    const char *image, struct elp_kernel *k,
			    char **config_path)
{
	char *moddir = NULL, *link = NULL, *source = NULL, *build = NULL;
	char *boot = NULL;
	const char *kind;
	int err = -ENOMEM;

	if (asprintf(&link, "/lib/modules/%s", release) < 0)
		return -ENOMEM;
	moddir = elp_lp_rooted(link);
	free(link);
	if (!moddir)
		return -ENOMEM;
	link = joined(moddir, "build");
	build = link ? elp_abspath(link) : NULL;
	free(link);
	link = joined(moddir, "source");
	source = link ? elp_abspath(link) : NULL;
	free(link);
	if (!source)
		source = build ? strdup(build) : NULL;
	if (!source || !elp_is_dir(source)) {
		err = failf(r, "no kernel source for %s: '%s/build' is missing",
			    release, moddir);
		goto out;
	}
	if (elp_kernel_check_source(r->ctx, source, &kind)) {
		err = failf(r, "'%s' (the source of %s) is not a kernel tree",
			    source, release);
		goto out;
	}
	if (asprintf(&link, "/boot/config-%s", release) < 0)
		goto out;
	*config_path = existing(elp_lp_rooted(link));
	free(link);
	if (!*config_path && build)
		*config_path = existing(joined(build, ".config"));
	if (!*config_path) {
		err = failf(
			r,
			"no configuration for %s: neither /boot/config-%s nor '%s/.config'",
			release, release, build ? build : source);
		goto out;
	}
	k->release = strdup(release);
	k->source = source;
	source = NULL;
	k->source_kind = strdup(kind);
	if (build && elp_is_dir(build)) {
		k->build_dir = build;
		build = NULL;
		k->symbols_path =
			symbol_table(joined(k->build_dir, "System.map"));
	}
	if (!k->symbols_path &&
	    asprintf(&link, "/boot/System.map-%s", release) >= 0) {
		k->symbols_path = symbol_table(elp_lp_rooted(link));
		free(link);
	}
	if (image) {
		k->image_path = elp_abspath(image);
		if (!k->image_path) {
			err = failf(r, "cannot use kernel image '%s': %s",
				    image, strerror(errno));
			goto out;
		}
	} else if (asprintf(&boot, "/boot/vmlinuz-%s", release) >= 0) {
		k->image_path = existing(elp_lp_rooted(boot));
	}
	err = k->release && k->source_kind ? 0 : -ENOMEM;
out:
	free(boot);
	free(moddir);
	free(source);
	free(build);
	return err;
}

static int store_kernel(struct run *r, struct elp_kernel *k)
{
	struct elp_event ev = { .kind = "kernel-add" };
	char detail[128];
	int err;

	err = elp_catalogue_begin(r->cat);
	if (err)
		return err;
	err = elp_kernel_store(r->cat, k);
	if (!err) {
		snprintf(detail, sizeof(detail), "%s (job %lld)", k->name,
			 (long long)r->job->id);
		ev.kernel_id = k->id;
		ev.kernel_release = k->release;
		ev.detail = detail;
		err = elp_event_add(r->cat, &ev);
	}
	if (!err)
		err = elp_catalogue_commit(r->cat);
	if (err)
		elp_catalogue_rollback(r->cat);
	return err;
}

static int run_kernel(struct run *r)
{
	struct elp_kernel *k = calloc(1, sizeof(*k)), *known = NULL;
	const struct elp_job *job = r->job;
	char *config_path = NULL, *config = NULL;
	struct each_patch each = { .r = r };
	int err;

	if (!k)
		return -ENOMEM;
	err = job->source ? describe_source(r, job->source, k, &config_path)
			  : describe_release(r, job->release, job->image, k,
					     &config_path);
	if (err)
		goto out;
	err = elp_config_read(r->ctx, config_path, &config);
	if (!err)
		err = elp_kernel_set_config(k, config);
	if (err)
		goto out;
	k->config_path = config_path;
	config_path = NULL;
	if (!k->livepatch) {
		err = failf(
			r,
			"'%s' has no CONFIG_LIVEPATCH=y: livepatches cannot load into kernel '%s'",
			k->config_path, k->release);
		goto out;
	}
	k->name = strdup(k->release);
	if (!k->name) {
		err = -ENOMEM;
		goto out;
	}
	err = elp_kernel_find(r->cat, k->name, &known);
	if (err == 0) {
		/* installkernel after the sources' hook: one kernel, once */
		if (!known->source || strcmp(known->source, k->source) != 0) {
			err = failf(
				r,
				"a kernel named '%s' is already catalogued with source '%s'",
				k->name, known->source ? known->source : "-");
			goto out;
		}
		elp_info(r->ctx, "kernel '%s' is already catalogued", k->name);
	} else if (err == -ENOENT) {
		err = store_kernel(r, k);
		if (!err)
			elp_notice(r->ctx, "added kernel '%s' (id %lld)",
				   k->name, (long long)k->id);
	}
	if (err)
		goto out;
	each.kernel = k->name;
	err = elp_patch_foreach(r->cat, queue_patch_build, &each);
	if (each.err)
		err = each.err;
out:
	elp_kernel_free(known);
	elp_kernel_free(k);
	free(config_path);
	free(config);
	return err;
}

/* ---- overlay jobs ---- */

static int patch_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 6 &&
	       strcmp(d->d_name + n - 6, ".patch") == 0;
}

struct each_kernel {
	struct run *r;
	const char *patch;
	int err;
};

static int queue_kernel_build(const struct elp_kernel *k, void *data)
{
	struct each_kernel *e = data;

	if (!k->livepatch)
		return 0;
	e->err = queue_build(e->r, k->name, e->patch);
	return e->err;
}

/* Catalogue one patch file unless its content already is; 1 when added. */
static int import_patch(struct run *r, const char *path, char **name)
{
	struct elp_event ev = { .kind = "patch-add" };
	struct elp_patch *p = NULL, *known = NULL;
	int err;

	err = elp_patch_load(r->ctx, path, &p);
	if (err)
		return failf(r, "cannot import '%s'", path);
	p->kind = ELP_PATCH_LIVEPATCH;
	err = elp_patch_find_by_sha(r->cat, ELP_PATCH_LIVEPATCH, p->sha256,
				    &known);
	if (err != 0) {
		elp_patch_free(known);
		elp_patch_free(p);
		return err < 0 ? err : 0;
	}
	err = elp_catalogue_begin(r->cat);
	if (!err)
		err = elp_patch_store(r->cat, p);
	if (!err) {
		ev.patch_id = p->id;
		ev.detail = p->name;
		err = elp_event_add(r->cat, &ev);
	}
	if (!err)
		err = elp_catalogue_commit(r->cat);
	if (err) {
		elp_catalogue_rollback(r->cat);
		failf(r, "cannot catalogue '%s' as patch '%s'", path, p->name);
	} else {
		elp_notice(r->ctx, "added patch '%s' from '%s'", p->name, path);
		*name = strdup(p->name);
		err = *name ? 1 : -ENOMEM;
	}
	elp_patch_free(p);
	return err;
}

static int run_overlay(struct run *r)
{
	struct dirent **names = NULL;
	char *dir = joined(r->job->location, "livepatches");
	int n, i, err = 0, failed = 0;

	if (!dir)
		return -ENOMEM;
	n = scandir(dir, &names, patch_file, alphasort);
	if (n < 0) {
		err = failf(r, "cannot read '%s': %s", dir, strerror(errno));
		free(dir);
		return err;
	}
	for (i = 0; i < n; i++) {
		struct each_kernel each = { .r = r };
		char *path = joined(dir, names[i]->d_name), *name = NULL;
		int e = path ? import_patch(r, path, &name) : -ENOMEM;

		if (e == 1) {
			each.patch = name;
			e = elp_kernel_foreach(r->cat, queue_kernel_build,
					       &each);
			if (each.err)
				e = each.err;
		}
		if (e == -ENOMEM && !err)
			err = e;
		if (e < 0)
			failed++;
		free(name);
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dir);
	if (!err && failed)
		err = -EINVAL;
	return err;
}

/* ---- build jobs ---- */

/* The inputs a refusal depends on: a new kernel, patch or engine retries. */
static char *build_key(const struct elp_kernel *k, const struct elp_patch *p)
{
	char hex[ELP_SHA256_HEX_LEN + 1], *text;
	int n;

	n = asprintf(&text,
		     "job-build-1\nengine %s\nkernel %s %s %s\npatch %s\n",
		     ELP_BUILD_ENGINE_VERSION, k->release, k->config_sha256,
		     k->source ? k->source : "", p->sha256);
	if (n < 0)
		return NULL;
	n = elp_sha256_hex(text, (size_t)n, hex);
	free(text);
	return n < 0 ? NULL : strdup(hex);
}

/* The id and reason of an earlier job that saw these inputs refused. */
static int find_refusal(struct run *r, int64_t *id, char **error)
{
	sqlite3_stmt *stmt;
	int err, rc;

	err = elp_catalogue_prepare(
		r->cat,
		"SELECT id, error FROM jobs WHERE kind = 'build' AND state = 'failed' AND error LIKE 'refused: %' AND CASE WHEN json_valid(arguments) THEN json_extract(arguments, '$.key') END = ? ORDER BY id DESC LIMIT 1",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, r->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		*error = elp_column_strdup(stmt, 1);
		err = *error ? 1 : -ENOMEM;
	} else if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(r->cat, "cannot look up refusals");
	}
	sqlite3_finalize(stmt);
	return err;
}

static int run_build(struct run *r)
{
	struct elp_build_options opts = { 0 };
	struct elp_build_result *res = NULL;
	struct elp_kernel *k = NULL;
	struct elp_patch *p = NULL;
	const char *patches[1];
	char *earlier = NULL;
	int64_t earlier_id = 0;
	int err;

	err = elp_kernel_find(r->cat, r->job->kernel, &k);
	if (err == -ENOENT)
		failf(r, "no kernel '%s' in the catalogue", r->job->kernel);
	if (!err)
		err = elp_patch_find(r->cat, r->job->patch, &p);
	if (err)
		goto out;
	r->key = build_key(k, p);
	if (!r->key) {
		err = -ENOMEM;
		goto out;
	}
	err = find_refusal(r, &earlier_id, &earlier);
	if (err == 1) {
		/* "refused: ..." again, so that this job is found as well */
		err = outcomef(
			r,
			"%s (as in job %lld; not built again until the kernel, the patch or elivepatch changes)",
			earlier, (long long)earlier_id);
		goto out;
	}
	if (err)
		goto out;
	patches[0] = p->name;
	opts.kernel = k->name;
	opts.patches = patches;
	opts.nr_patches = 1;
	opts.cumulative = -1;
	opts.jobs = r->opts->jobs;
	opts.cancel = r->opts->cancel;
	err = elp_build(r->cat, &opts, &res);
	if (err == -EINTR || (r->opts->cancel && *r->opts->cancel))
		err = -EINTR;
	else if (err && res && strcmp(res->status, "refused") == 0 &&
		 res->build_id)
		err = outcomef(r, "refused: %s",
			       res->reason ? res->reason : "-");
	else if (err && res && strcmp(res->status, "refused") == 0)
		/* before a build row: this host (no compiler); retried */
		err = outcomef(r, "cannot build here: %s",
			       res->reason ? res->reason : "-");
	else if (err && res && res->build_id)
		err = outcomef(r, "build %lld failed: %s%s%s",
			       (long long)res->build_id,
			       res->reason ? res->reason : "-",
			       res->log_path ? "; log: " : "",
			       res->log_path ? res->log_path : "");
	else if (!err)
		elp_notice(r->ctx, "job %lld: %s %s", (long long)r->job->id,
			   res->reused ? "reused build" : "built",
			   res->artefact_path);
out:
	elp_build_result_free(res);
	free(earlier);
	elp_kernel_free(k);
	elp_patch_free(p);
	return err;
}

/* Keep the first error a library reports while the job runs. */
static void capture_log(void *data, int priority, const char *file, int line,
			const char *fn, const char *format, va_list args)
{
	struct run *r = data;
	va_list copy;

	if (priority <= ELP_LOG_ERR && !r->error) {
		va_copy(copy, args);
		if (vasprintf(&r->error, format, copy) < 0)
			r->error = NULL;
		va_end(copy);
	}
	if (r->outer_fn)
		r->outer_fn(r->outer_data, priority, file, line, fn, format,
			    args);
}

int elp_job_run_next(struct elp_catalogue *cat,
		     const struct elp_job_run_options *opts,
		     struct elp_job **ran)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct run r = { .cat = cat, .ctx = ctx, .opts = opts };
	const char *corrupt;
	char *reason = NULL;
	int err, ferr;

	*ran = NULL;
	err = claim_next(cat, &r.job, &corrupt);
	if (err || !r.job)
		return err;
	if (corrupt) {
		if (asprintf(&reason, "corrupt job: %s", corrupt) < 0)
			reason = NULL;
		err = finish(cat, r.job, "failed", reason ? reason : corrupt,
			     NULL);
		free(reason);
		goto out;
	}
	elp_get_log_fn(ctx, &r.outer_fn, &r.outer_data);
	elp_set_log_fn(ctx, capture_log, &r);
	if (strcmp(r.job->kind, "kernel") == 0)
		err = run_kernel(&r);
	else if (strcmp(r.job->kind, "overlay") == 0)
		err = run_overlay(&r);
	else
		err = run_build(&r);
	elp_set_log_fn(ctx, r.outer_fn, r.outer_data);
	if (err == -EINTR) {
		ferr = requeue(cat, r.job->id);
		elp_job_free(r.job);
		r.job = NULL;
		err = ferr ? ferr : -EINTR;
		goto out;
	}
	if (err)
		ferr = finish(cat, r.job, "failed",
			      r.error ? r.error : strerror(-err), r.key);
	else
		ferr = finish(cat, r.job, "done", NULL, r.key);
	err = ferr;
out:
	if (err) {
		elp_job_free(r.job);
		r.job = NULL;
	}
	*ran = r.job;
	free(r.error);
	free(r.key);
	return err;
}
