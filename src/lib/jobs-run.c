// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Running the queue: the next job claimed from the jobs table (jobs.c) and
 * what each kind of job does, with the kernel, patch and build libraries:
 * catalogue a kernel, import a patch overlay, build a patch for a kernel.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs-internal.h"
#include "kernel-add.h"
#include "kernel.h"
#include "lifecycle.h"
#include "livepatch.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"
#include "../engine/build.h"

static int vfail(struct elp_job_run *r, bool replace, const char *fmt,
		 va_list args)
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
static int failf(struct elp_job_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int failf(struct elp_job_run *r, const char *fmt, ...)
{
	va_list args;
	int err;

	va_start(args, fmt);
	err = vfail(r, false, fmt, args);
	va_end(args);
	return err;
}

/* The job failed: exactly why (a build's outcome, not its first error). */
static int outcomef(struct elp_job_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int outcomef(struct elp_job_run *r, const char *fmt, ...)
{
	va_list args;
	int err;

	va_start(args, fmt);
	err = vfail(r, true, fmt, args);
	va_end(args);
	return err;
}

static int queue_build(struct elp_job_run *r, const char *kernel,
		       const char *patch)
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
	struct elp_job_run *r;
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

/* The kernel a configured and built source tree describes. */
static int describe_source(struct elp_job_run *r, const char *source,
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
	return k->release && k->source && k->source_kind ? 0 : -ENOMEM;
}

/* The kernel installed as /lib/modules/<release> (and /boot). */
static int describe_release(struct elp_job_run *r, const char *release,
			    const char *image, struct elp_kernel *k,
			    char **config_path)
{
	char *moddir = NULL, *link = NULL, *source = NULL, *build = NULL;
	char *boot = NULL;
	const char *kind;
	int err = -ENOMEM;

	if (asprintf(&link, "/lib/modules/%s", release) < 0)
		return -ENOMEM;
	moddir = elp_rooted(r->ctx, link);
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
	*config_path = existing(elp_rooted(r->ctx, link));
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
	}
	if (image) {
		k->image_path = elp_abspath(image);
		if (!k->image_path) {
			err = failf(r, "cannot use kernel image '%s': %s",
				    image, strerror(errno));
			goto out;
		}
	} else if (asprintf(&boot, "/boot/vmlinuz-%s", release) >= 0) {
		k->image_path = existing(elp_rooted(r->ctx, boot));
	}
	err = k->release && k->source_kind ? 0 : -ENOMEM;
out:
	free(boot);
	free(moddir);
	free(source);
	free(build);
	return err;
}

static int store_kernel(struct elp_job_run *r, struct elp_kernel *k)
{
	char detail[128];

	snprintf(detail, sizeof(detail), "%s (job %lld)", k->name,
		 (long long)r->job->id);
	return elp_kernel_add(r->cat, k, detail, false);
}

static int run_kernel(struct elp_job_run *r)
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
	/* symbols and modules as kernel add finds them; the store snapshots */
	err = elp_kernel_find_symbols(r->ctx, k);
	if (!err || err == -ENOENT)
		err = elp_kernel_check_image(r->ctx, k);
	if (!err) {
		err = elp_kernel_find_modules(r->ctx, k);
		if (err == -ENOENT)
			err = 0;
	}
	if (err)
		goto out;
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

struct overlay_builds {
	struct elp_job_run *r;
	const struct elp_overlay_report *rep;
	const struct elp_fix *fix;
	int err;
};

static bool changed(const struct elp_overlay_report *rep, const char *name)
{
	size_t i;

	for (i = 0; i < rep->nr_changed; i++)
		if (strcmp(rep->changed[i], name) == 0)
			return true;
	return false;
}

/* The fix's new or changed patches, for one kernel it applies to. */
static int queue_fix_kernel(const struct elp_kernel *k, void *data)
{
	struct overlay_builds *ob = data;
	struct elp_version v;
	const char *from;
	char *reason = NULL;
	size_t i;
	int err;

	if (!k->livepatch)
		return 0;
	err = elp_kernel_version(ob->r->ctx, k, &v, &from, NULL);
	if (!err)
		err = elp_fix_applies(ob->r->cat, ob->fix, k, &v, &reason);
	if (err == 0) {
		elp_info(ob->r->ctx, "fix '%s' is not for kernel '%s': %s",
			 ob->fix->name, k->name, reason);
		free(reason);
		return 0;
	}
	for (i = 0; err > 0 && i < ob->fix->nr_patches; i++)
		if (changed(ob->rep, ob->fix->patches[i].name))
			err = queue_build(ob->r, k->name,
					  ob->fix->patches[i].name);
	ob->err = err < 0 ? err : 0;
	return ob->err;
}

static int queue_fix(struct elp_fix *fix, void *data)
{
	struct overlay_builds *ob = data;
	size_t i;

	for (i = 0; i < fix->nr_patches; i++)
		if (changed(ob->rep, fix->patches[i].name))
			break;
	if (i == fix->nr_patches)
		return 0;
	ob->fix = fix;
	return elp_kernel_foreach(ob->r->cat, queue_fix_kernel, ob);
}

static int run_overlay(struct elp_job_run *r)
{
	struct elp_overlay_report rep = { 0 };
	struct overlay_builds ob = { .r = r, .rep = &rep };
	int err;

	err = elp_overlay_import(r->cat, r->job->overlay, r->job->location,
				 &rep);
	if (err) {
		failf(r, "cannot import overlay '%s' from '%s'",
		      r->job->overlay, r->job->location);
		goto out;
	}
	elp_notice(r->ctx,
		   "overlay '%s': %zu fixes added, %zu updated, %zu removed",
		   r->job->overlay, rep.added, rep.updated, rep.removed);
	err = elp_overlay_fixes(r->cat, r->job->overlay, false, queue_fix, &ob);
	if (ob.err)
		err = ob.err;
	if (!err && rep.nr_skipped)
		/* the library's reason (logged first) when there is one */
		err = failf(r, "overlay '%s': %zu fix%s skipped: %s",
			    r->job->overlay, rep.nr_skipped,
			    rep.nr_skipped == 1 ? "" : "es", rep.skipped[0]);
out:
	elp_overlay_report_release(&rep);
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

/* Is this very build the one loaded under its module's name? */
static bool applied_already(struct elp_job_run *r, const struct elp_kernel *k,
			    const struct elp_build_result *res)
{
	struct elp_lp_build *b = NULL;
	bool same;

	if (!elp_module_loaded(r->ctx, res->module_name) ||
	    elp_lp_build_applied(r->cat, res->module_name, k->release, &b))
		return false;
	same = b->id == res->build_id;
	elp_lp_build_free(b);
	return same;
}

/* auto-apply: load a build for the running kernel, as `apply ID` does */
static int auto_apply(struct elp_job_run *r, const struct elp_kernel *k,
		      const struct elp_build_result *res)
{
	struct elp_apply_options ao = { .wait_ms = r->opts->apply_wait_ms };
	struct elp_apply_result *ar = NULL;
	char *running = NULL, spec[24];
	long long id = (long long)res->build_id;
	int err;

	err = elp_lp_running_release(r->ctx, &running);
	if (err)
		return outcomef(r,
				"build %lld succeeded but was not applied: %s",
				id, r->error ? r->error : strerror(-err));
	if (strcmp(running, k->release) != 0) {
		elp_info(
			r->ctx,
			"job %lld: build %lld not applied: kernel %s is not the running kernel (%s)",
			(long long)r->job->id, id, k->release, running);
		free(running);
		return 0;
	}
	free(running);
	if (!ao.wait_ms)
		ao.wait_ms = 60000;
	snprintf(spec, sizeof(spec), "%lld", id);
	ao.spec = spec;
	/* the apply's own first error is the reason, not the build's */
	free(r->error);
	r->error = NULL;
	err = elp_apply(r->ctx, r->cat, &ao, &ar);
	if (err == -EEXIST && applied_already(r, k, res)) {
		elp_info(r->ctx, "job %lld: build %lld is applied already",
			 (long long)r->job->id, id);
		return 0;
	}
	if (err)
		return outcomef(r,
				"build %lld succeeded but was not applied: %s",
				id, r->error ? r->error : strerror(-err));
	elp_notice(r->ctx, "job %lld: applied build %lld as livepatch '%s'",
		   (long long)r->job->id, id, ar->module);
	elp_apply_result_free(ar);
	return 0;
}

static int run_build(struct elp_job_run *r)
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
	err = elp_job_find_refusal(r->cat, r->key, &earlier_id, &earlier);
	if (err == 1) {
		r->refused = true;
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
	opts.sandbox = r->opts->sandbox;
	opts.cancel = r->opts->cancel;
	err = elp_build(r->cat, &opts, &res);
	if (err == -EINTR || (r->opts->cancel && *r->opts->cancel))
		err = -EINTR;
	else if (err && res && strcmp(res->status, "refused") == 0 &&
		 res->build_id) {
		r->refused = true;
		err = outcomef(r, "%s", res->reason ? res->reason : "-");
	} else if (err && res && strcmp(res->status, "refused") == 0)
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
	if (!err && r->opts->auto_apply)
		err = auto_apply(r, k, res);
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
	struct elp_job_run *r = data;
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
	struct elp_job_run r = { .cat = cat, .ctx = ctx, .opts = opts };
	const char *corrupt;
	char *reason = NULL;
	int err, ferr;

	*ran = NULL;
	err = elp_job_claim_next(cat, &r.job, &corrupt);
	if (err || !r.job)
		return err;
	if (corrupt) {
		if (asprintf(&reason, "corrupt job: %s", corrupt) < 0)
			reason = NULL;
		err = elp_job_finish(cat, r.job, "failed",
				     reason ? reason : corrupt, NULL);
		free(reason);
		goto out;
	}
	elp_fault_point(ctx, "queue", "claimed");
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
		ferr = elp_job_requeue(cat, r.job->id);
		elp_job_free(r.job);
		r.job = NULL;
		err = ferr ? ferr : -EINTR;
		goto out;
	}
	elp_fault_point(ctx, "queue", "finish");
	if (err)
		ferr = elp_job_finish(
			cat, r.job, r.refused ? "refused" : "failed",
			r.error ? r.error : strerror(-err), r.key);
	else
		ferr = elp_job_finish(cat, r.job, "done", NULL, r.key);
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
