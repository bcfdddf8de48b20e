// SPDX-License-Identifier: GPL-2.0-or-later
/* One fix for several kernels (codestreams) and CVE mode; see codestream.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builds.h"
#include "codestream.h"
#include "kernel.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"

static void result_release(struct elp_codestream_result *r)
{
	free(r->kernel);
	free(r->release);
	free(r->version);
	elp_strv_free(r->selected, r->nr_selected);
	elp_strv_free(r->live, r->nr_live);
	elp_strv_free(r->skipped, r->nr_skipped);
	elp_strv_free(r->cves, r->nr_cves);
	free(r->reason);
	elp_build_result_free(r->build);
	elp_apply_result_free(r->applied);
	memset(r, 0, sizeof(*r));
}

/* ---- the kernels ---- */

struct kernels {
	struct elp_kernel **v;
	size_t n, cap;
};

static void kernels_free(struct kernels *ks)
{
	while (ks->n)
		elp_kernel_free(ks->v[--ks->n]);
	free(ks->v);
}

static int kernels_push(struct kernels *ks, struct elp_kernel *k)
{
	struct elp_kernel **nv =
		elp_grow(ks->v, &ks->cap, ks->n + 1, sizeof(*nv));

	if (!nv) {
		elp_kernel_free(k);
		return -ENOMEM;
	}
	ks->v = nv;
	nv[ks->n++] = k;
	return 0;
}

static int collect_livepatch(const struct elp_kernel *k, void *data)
{
	struct elp_kernel *copy = NULL;
	struct elp_catalogue *cat = ((void **)data)[1];
	char id[24];
	int err;

	if (!k->livepatch)
		return 0;
	snprintf(id, sizeof(id), "%lld", (long long)k->id);
	err = elp_kernel_find(cat, id, &copy);
	return err ? err : kernels_push(((void **)data)[0], copy);
}

/* The kernels opts names, every livepatch kernel, or the running one. */
static int kernels_get(struct elp_catalogue *cat,
		       const struct elp_codestream_options *opts,
		       struct kernels *ks)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_kernel *k;
	char *release = NULL;
	size_t i;
	int err = 0;

	memset(ks, 0, sizeof(*ks));
	if (opts->all_kernels) {
		void *data[2] = { ks, cat };

		err = elp_kernel_foreach(cat, collect_livepatch, data);
		if (!err && ks->n == 0) {
			elp_err(ctx,
				"no livepatch-capable kernel is catalogued (see: elivepatch kernel list)");
			err = -ENOENT;
		}
		return err;
	}
	for (i = 0; !err && i < opts->nr_kernels; i++) {
		err = elp_kernel_find(cat, opts->kernels[i], &k);
		if (!err)
			err = kernels_push(ks, k);
	}
	if (!err && opts->nr_kernels == 0) {
		err = elp_kernel_running_release(ctx, &release);
		if (err)
			elp_err(ctx, "cannot tell the running kernel: %s",
				strerror(-err));
		if (!err)
			err = elp_kernel_find(cat, release, &k);
		if (!err)
			err = kernels_push(ks, k);
		free(release);
	}
	return err;
}

/* ---- building for several kernels ---- */

/* A patch file, catalogued once (or found by its content). */
static int catalogue_file(struct elp_catalogue *cat, const char *path,
			  char **name)
{
	struct elp_patch *p = NULL, *known = NULL;
	int err;

	err = elp_patch_load(elp_catalogue_ctx(cat), path, &p);
	if (err)
		return err;
	p->kind = ELP_PATCH_LIVEPATCH;
	err = elp_patch_find_by_sha(cat, ELP_PATCH_LIVEPATCH, p->sha256,
				    &known);
	if (err == 1 && known) {
		*name = strdup(known->name);
		err = *name ? 0 : -ENOMEM;
		goto out;
	}
	if (err < 0)
		goto out;
	err = elp_patch_add(cat, p);
	if (!err && !(*name = strdup(p->name)))
		err = -ENOMEM;
out:
	elp_patch_free(known);
	elp_patch_free(p);
	return err;
}

/* ---- running the builds: in process, or one child process each ---- */

/* One kernel's work: its result and, when it builds, the build's options. */
struct job {
	const struct elp_kernel *k;
	struct elp_build_options o;
	bool build; /* false: the result is complete without a build */
	char *name; /* the module name o.name points to, owned */
	struct elp_codestream_result r;
};

static int job_init(struct job *j, const struct elp_kernel *k)
{
	j->k = k;
	j->r.kernel = strdup(k->name);
	j->r.release = strdup(k->release);
	return j->r.kernel && j->r.release ? 0 : -ENOMEM;
}

static void jobs_free(struct job *jobs, size_t n)
{
	size_t i;

	for (i = 0; jobs && i < n; i++) {
		result_release(&jobs[i].r);
		free(jobs[i].name);
	}
	free(jobs);
}

unsigned int elp_codestream_parallel(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	/* a kernel build's compiles and the engine's diff, at most */
	const long long per_build = 1536LL << 20;
	long long n = cpus > 1 ? cpus / 2 : 1;

	if (pages > 0 && page > 0 && (long long)pages * page / per_build < n)
		n = (long long)pages * page / per_build;
	return n < 1 ? 1 : (unsigned int)n;
}

/* What a child sends back: its errors and the fields of its result. */
struct wire {
	int32_t err;
	int32_t reused;
	int32_t has_build;
	uint32_t nr_errors;
	int64_t build_id;
	int64_t duration_ms;
};

static int put_str(struct elp_buf *b, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
	int err = elp_buf_append(b, &n, sizeof(n));

	return err || !s ? err : elp_buf_append(b, s, n);
}

static int get_str(const char **p, const char *end, char **out)
{
	uint32_t n;

	*out = NULL;
	if ((size_t)(end - *p) < sizeof(n))
		return -EPROTO;
	memcpy(&n, *p, sizeof(n));
	*p += sizeof(n);
	if (n == UINT32_MAX)
		return 0;
	if ((size_t)(end - *p) < n)
		return -EPROTO;
	*out = strndup(*p, n);
	*p += n;
	return *out ? 0 : -ENOMEM;
}

/*
 * In the child, the errors the build logs are kept and sent to the parent,
 * which logs them in kernel order just before that kernel's result; the
 * rest (progress) goes to the log callback as it comes.
 */
struct capture {
	elp_log_fn fn;
	void *data;
	char **errors;
	size_t nr_errors;
};

static void capture_log(void *data, int priority, const char *file, int line,
			const char *fn, const char *format, va_list args)
{
	struct capture *c = data;
	char *msg = NULL;

	if (priority > ELP_LOG_ERR) {
		if (c->fn)
			c->fn(c->data, priority, file, line, fn, format, args);
		return;
	}
	if (vasprintf(&msg, format, args) < 0)
		return; /* out of memory: lost */
	(void)elp_strv_push(&c->errors, &c->nr_errors, msg);
	free(msg);
}

static int write_all(int fd, const char *p, size_t len)
{
	size_t off;

	for (off = 0; off < len;) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		off += (size_t)n;
	}
	return 0;
}

/* In the child: build with a connection of its own, report, exit. */
static void child_build(struct elp_catalogue *cat, const struct job *j, int fd)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_build_result *r = NULL;
	struct elp_catalogue *own = NULL;
	struct capture cap = { 0 };
	struct elp_buf b = { 0 };
	struct wire w = { 0 };
	size_t i;
	int err = 0;

	elp_get_log_fn(ctx, &cap.fn, &cap.data);
	elp_set_log_fn(ctx, capture_log, &cap);
	w.err = elp_catalogue_open(ctx, elp_catalogue_path(cat), 0, &own);
	if (!w.err) {
		w.err = elp_build(own, &j->o, &r);
		elp_catalogue_close(own);
	}
	if (r) {
		w.reused = r->reused;
		w.has_build = 1;
		w.build_id = r->build_id;
		w.duration_ms = r->duration_ms;
	}
	w.nr_errors = (uint32_t)cap.nr_errors;
	err = elp_buf_append(&b, &w, sizeof(w));
	for (i = 0; !err && i < cap.nr_errors; i++)
		err = put_str(&b, cap.errors[i]);
	if (!err && r)
		err = put_str(&b, r->status) || put_str(&b, r->reason) ||
		      put_str(&b, r->module_name) ||
		      put_str(&b, r->kernel_release) ||
		      put_str(&b, r->artefact_path) ||
		      put_str(&b, r->artefact_sha256) ||
		      put_str(&b, r->log_path) || put_str(&b, r->inputs_sha256);
	if (err || write_all(fd, b.data, b.len))
		_exit(1);
	_exit(0);
}

static const char *static_status(const char *s)
{
	if (s && strcmp(s, "succeeded") == 0)
		return "succeeded";
	if (s && strcmp(s, "refused") == 0)
		return "refused";
	return "failed";
}

static int read_build(const char **p, const char *end, const struct wire *w,
		      struct elp_build_result **out)
{
	struct elp_build_result *b = calloc(1, sizeof(*b));
	char *status = NULL;
	int err;

	*out = b;
	if (!b)
		return -ENOMEM;
	b->build_id = w->build_id;
	b->reused = w->reused;
	b->duration_ms = w->duration_ms;
	err = get_str(p, end, &status);
	b->status = static_status(status);
	free(status);
	if (!err)
		err = get_str(p, end, &b->reason);
	if (!err)
		err = get_str(p, end, &b->module_name);
	if (!err)
		err = get_str(p, end, &b->kernel_release);
	if (!err)
		err = get_str(p, end, &b->artefact_path);
	if (!err)
		err = get_str(p, end, &b->artefact_sha256);
	if (!err)
		err = get_str(p, end, &b->log_path);
	if (!err)
		err = get_str(p, end, &b->inputs_sha256);
	return err;
}

/* In the parent: a child's report into r, its errors logged here. */
static int read_child(struct elp_ctx *ctx, int fd,
		      struct elp_codestream_result *r)
{
	struct elp_buf in = { 0 };
	const char *p, *end;
	struct wire w;
	char buf[4096];
	uint32_t i;
	ssize_t n;
	int err = 0;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || elp_buf_append(&in, buf, (size_t)n)) {
			err = n < 0 ? -errno : -ENOMEM;
			break;
		}
	}
	if (!err && in.len < sizeof(w))
		err = -EPROTO;
	if (err) {
		elp_buf_free(&in);
		return err;
	}
	memcpy(&w, in.data, sizeof(w));
	r->err = w.err;
	p = in.data + sizeof(w);
	end = in.data + in.len;
	for (i = 0; !err && i < w.nr_errors; i++) {
		char *msg = NULL;

		err = get_str(&p, end, &msg);
		if (!err && msg)
			elp_err(ctx, "%s", msg);
		free(msg);
	}
	if (!err && w.has_build)
		err = read_build(&p, end, &w, &r->build);
	elp_buf_free(&in);
	return err;
}

struct child {
	pid_t pid;
	int fd;
};

static int start_child(struct elp_catalogue *cat, const struct job *j,
		       struct child *c)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	int fds[2];

	if (pipe(fds)) {
		elp_err(ctx, "cannot create a pipe: %s", strerror(errno));
		return -errno;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		elp_err(ctx, "cannot fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (c->pid == 0) {
		close(fds[0]);
		child_build(cat, j, fds[1]);
	}
	close(fds[1]);
	c->fd = fds[0];
	return 0;
}

/* The result of a child: read, reaped. */
static void finish_child(struct elp_ctx *ctx, struct child *c, struct job *j)
{
	int e, status;

	e = read_child(ctx, c->fd, &j->r);
	close(c->fd);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (e && !j->r.err) {
		j->r.err = e;
		if (asprintf(
			    &j->r.reason,
			    "the build process for kernel '%s' ended without a result",
			    j->k->name) < 0)
			j->r.reason = NULL;
	}
}

static bool cancelled(const struct elp_build_options *o)
{
	return o->cancel && *o->cancel;
}

/* What to apply once built: the running kernel's build, if any. */
struct apply {
	const char *release; /* the running kernel's; NULL: apply nothing */
	long wait_ms;
};

static void apply_build(struct elp_catalogue *cat, const struct apply *a,
			struct elp_codestream_result *r)
{
	struct elp_apply_options ao = { .wait_ms = a->wait_ms > 0 ? a->wait_ms
								  : 60000 };
	char id[24];

	if (!a->release || !r->build || r->err || !r->build->build_id ||
	    strcmp(r->release, a->release) != 0)
		return;
	snprintf(id, sizeof(id), "%lld", (long long)r->build->build_id);
	ao.spec = id;
	r->apply_err = elp_apply(elp_catalogue_ctx(cat), cat, &ao, &r->applied);
}

/*
 * The jobs' builds, up to parallel at once (each then in a child process
 * with its own connection; 1: in this process, one after the other), the
 * running kernel's applied when a says so.  Results go to cb in job order,
 * each as soon as it and those before it are done.  *failed counts the
 * jobs whose result has an error.
 */
static int run_jobs(struct elp_catalogue *cat, struct job *jobs, size_t n,
		    unsigned int parallel, const struct apply *a,
		    elp_codestream_cb cb, void *data, int *failed)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct child *kids = NULL;
	size_t i, next = 0, done, nr_builds = 0;
	unsigned int running = 0;
	int err = 0;

	for (i = 0; i < n; i++)
		nr_builds += jobs[i].build;
	if (parallel == 0)
		parallel = elp_codestream_parallel();
	if (parallel > nr_builds)
		parallel = (unsigned int)nr_builds;
	if (parallel > 1) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned int share =
			cpus > 0 ? (unsigned int)cpus / parallel : 1;

		kids = calloc(n, sizeof(*kids));
		if (!kids)
			return -ENOMEM;
		/* the CPUs shared between the builds running at once */
		for (i = 0; i < n; i++)
			if (jobs[i].o.jobs == 0)
				jobs[i].o.jobs = share ? share : 1;
	}
	for (done = 0; done < n; done++) {
		struct job *j = &jobs[done];

		/* after an error, only the builds already started are seen
		 * to their end */
		if (err && (!kids || done >= next))
			break;
		while (kids && !err && next < n && running < parallel &&
		       !cancelled(&j->o)) {
			if (jobs[next].build) {
				err = start_child(cat, &jobs[next],
						  &kids[next]);
				if (err)
					break;
				running++;
			}
			next++;
		}
		if (j->build && kids) {
			if (done >= next)
				break; /* not started: an error or cancelled */
			finish_child(ctx, &kids[done], j);
			running--;
		} else if (j->build) {
			if (cancelled(&j->o))
				break;
			j->r.err = elp_build(cat, &j->o, &j->r.build);
		}
		if (a)
			apply_build(cat, a, &j->r);
		if (j->r.err || j->r.apply_err)
			(*failed)++;
		if (cb && !err)
			err = cb(&j->r, data);
		result_release(&j->r);
	}
	free(kids);
	if (!err && done < n && cancelled(&jobs[0].o))
		err = -EINTR;
	return err;
}

int elp_build_kernels(struct elp_catalogue *cat,
		      const struct elp_codestream_options *opts,
		      elp_codestream_cb cb, void *data)
{
	struct elp_build_options tmpl = opts->build;
	struct job *jobs = NULL;
	struct kernels ks;
	char **names = NULL;
	size_t nr_names = 0, i;
	int err, failed = 0;

	err = kernels_get(cat, opts, &ks);
	/* a file is parsed and catalogued once, then named */
	for (i = 0; !err && i < tmpl.nr_patches; i++) {
		char *name = NULL;

		if (elp_is_file(tmpl.patches[i]))
			err = catalogue_file(cat, tmpl.patches[i], &name);
		if (!err)
			err = elp_strv_push(&names, &nr_names,
					    name ? name : tmpl.patches[i]);
		free(name);
	}
	tmpl.patches = (const char *const *)names;
	if (!err && !(jobs = calloc(ks.n ? ks.n : 1, sizeof(*jobs))))
		err = -ENOMEM;
	for (i = 0; !err && i < ks.n; i++) {
		err = job_init(&jobs[i], ks.v[i]);
		jobs[i].o = tmpl;
		jobs[i].o.kernel = ks.v[i]->name;
		jobs[i].build = true;
	}
	if (!err)
		err = run_jobs(cat, jobs, ks.n, opts->parallel, NULL, cb, data,
			       &failed);
	jobs_free(jobs, ks.n);
	elp_strv_free(names, nr_names);
	kernels_free(&ks);
	return err ? err : failed;
}

/* ---- CVE mode ---- */

/* Copies of the present fixes of every overlay. */
struct fixes {
	struct elp_fix *v;
	size_t n, cap;
};

static int collect_fix(struct elp_fix *fix, void *data)
{
	struct fixes *fs = data;
	struct elp_fix *nv = elp_grow(fs->v, &fs->cap, fs->n + 1, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	fs->v = nv;
	/* take the strings over: the caller frees only what is left */
	nv[fs->n++] = *fix;
	memset(fix, 0, sizeof(*fix));
	return 0;
}

static bool fix_wanted(const struct elp_fix *fix,
		       const struct elp_codestream_options *opts)
{
	size_t i;

	if (opts->nr_cves == 0)
		return true;
	for (i = 0; i < opts->nr_cves; i++)
		if (elp_strv_has(fix->cves, fix->nr_cves, opts->cves[i]))
			return true;
	return false;
}

static bool id_in(const int64_t *ids, size_t n, int64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* What one fix means for one kernel: skipped, live, or its patches. */
static int select_fix(struct elp_catalogue *cat, const struct elp_fix *fix,
		      const struct elp_kernel *k, const struct elp_version *v,
		      const int64_t *live, size_t nr_live,
		      struct elp_codestream_result *r)
{
	char *reason = NULL, *label = NULL;
	size_t i, nr_new = 0;
	int err;

	if (asprintf(&label, "%s:%s", fix->overlay, fix->name) < 0)
		return -ENOMEM;
	err = elp_fix_applies(cat, fix, k, v, &reason);
	if (err == 0) {
		char *s = NULL;

		err = asprintf(&s, "%s: %s", label, reason) < 0
			      ? -ENOMEM
			      : elp_strv_push(&r->skipped, &r->nr_skipped, s);
		free(s);
		goto out;
	}
	if (err < 0)
		goto out;
	err = 0;
	for (i = 0; !err && i < fix->nr_patches; i++) {
		if (id_in(live, nr_live, fix->patches[i].patch_id))
			continue;
		nr_new++;
		err = elp_strv_push(&r->selected, &r->nr_selected,
				    fix->patches[i].name);
	}
	if (!err && nr_new == 0)
		err = elp_strv_push(&r->live, &r->nr_live, label);
	for (i = 0; !err && nr_new && i < fix->nr_cves; i++)
		if (!elp_strv_has(r->cves, r->nr_cves, fix->cves[i]))
			err = elp_strv_push(&r->cves, &r->nr_cves,
					    fix->cves[i]);
out:
	free(reason);
	free(label);
	return err;
}

/* elp_cve_<8 hex>: one name per set of patches, so a new set loads
 * beside (and replaces) the module it supersedes. */
static char *cve_module_name(const struct elp_kernel *k,
			     const struct elp_codestream_result *r,
			     const int64_t *live, size_t nr_live)
{
	char hex[ELP_SHA256_HEX_LEN + 1], *name = NULL;
	struct elp_buf b = { 0 };
	size_t i;
	int err;

	err = elp_buf_printf(&b, "%s\n", k->release);
	for (i = 0; !err && i < nr_live; i++)
		err = elp_buf_printf(&b, "live %lld\n", (long long)live[i]);
	for (i = 0; !err && i < r->nr_selected; i++)
		err = elp_buf_printf(&b, "new %s\n", r->selected[i]);
	if (!err && elp_sha256_hex(b.data, b.len, hex) == 0 &&
	    asprintf(&name, "elp_cve_%.8s", hex) < 0)
		name = NULL;
	elp_buf_free(&b);
	return name;
}

/* What one kernel gets: its fixes selected into j->r, its build set up. */
static int cve_select(struct elp_catalogue *cat,
		      const struct elp_codestream_options *opts,
		      const struct fixes *fs, struct job *j)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_codestream_result *r = &j->r;
	struct elp_version v;
	const char *from;
	int64_t *live = NULL;
	size_t nr_live = 0, i;
	int err;

	err = elp_kernel_version(ctx, j->k, &v, &from, &r->reason);
	if (err) {
		r->err = err;
		return r->reason ? 0 : -ENOMEM;
	}
	if (asprintf(&r->version, "%lu.%lu.%lu", v.v[0], v.v[1], v.v[2]) < 0)
		return -ENOMEM;
	elp_info(ctx, "kernel '%s': version %s (from %s)", j->k->name,
		 r->version, from);
	err = elp_builds_applied_patch_ids(cat, j->k->release, &live, &nr_live,
					   NULL);
	for (i = 0; !err && i < fs->n; i++)
		if (fix_wanted(&fs->v[i], opts))
			err = select_fix(cat, &fs->v[i], j->k, &v, live,
					 nr_live, r);
	if (err || r->nr_selected == 0 || opts->dry_run)
		goto out;
	j->name = cve_module_name(j->k, r, live, nr_live);
	if (!j->name) {
		err = -ENOMEM;
		goto out;
	}
	j->o = opts->build;
	j->o.kernel = j->k->name;
	j->o.patches = (const char *const *)r->selected;
	j->o.nr_patches = r->nr_selected;
	j->o.cumulative = 1;
	j->o.name = j->name;
	j->build = true;
out:
	free(live);
	return err;
}

int elp_cve_run(struct elp_catalogue *cat,
		const struct elp_codestream_options *opts, elp_codestream_cb cb,
		void *data)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct fixes fs = { 0 };
	struct kernels ks = { 0 };
	struct job *jobs = NULL;
	struct apply a = { .wait_ms = opts->apply_wait_ms };
	char *running = NULL;
	size_t i, j;
	int err, failed = 0;

	for (i = 0; i < opts->nr_cves; i++)
		if (!elp_cve_is_valid(opts->cves[i])) {
			elp_err(ctx,
				"invalid CVE id '%s' (expected CVE-YYYY-NNNN)",
				opts->cves[i]);
			return -EINVAL;
		}
	err = elp_overlay_fixes(cat, NULL, false, collect_fix, &fs);
	for (i = 0; !err && i < opts->nr_cves; i++) {
		for (j = 0; j < fs.n; j++)
			if (elp_strv_has(fs.v[j].cves, fs.v[j].nr_cves,
					 opts->cves[i]))
				break;
		if (j == fs.n) {
			elp_err(ctx,
				"no fix for %s in the overlays (see: elivepatch overlay show NAME)",
				opts->cves[i]);
			err = -ENOENT;
		}
	}
	if (!err && opts->apply) {
		err = elp_kernel_running_release(ctx, &running);
		if (err)
			elp_err(ctx, "cannot tell the running kernel: %s",
				strerror(-err));
		a.release = running;
	}
	if (!err)
		err = kernels_get(cat, opts, &ks);
	if (!err && !(jobs = calloc(ks.n ? ks.n : 1, sizeof(*jobs))))
		err = -ENOMEM;
	/* the selection for every kernel first, then the builds */
	for (i = 0; !err && i < ks.n; i++) {
		err = job_init(&jobs[i], ks.v[i]);
		if (!err)
			err = cve_select(cat, opts, &fs, &jobs[i]);
	}
	if (!err)
		err = run_jobs(cat, jobs, ks.n, opts->parallel, &a, cb, data,
			       &failed);
	jobs_free(jobs, ks.n);
	kernels_free(&ks);
	free(running);
	for (i = 0; i < fs.n; i++)
		elp_fix_free(&fs.v[i]);
	free(fs.v);
	return err ? err : failed;
}
