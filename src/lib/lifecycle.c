// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Applying and reverting a livepatch: loading and unloading, the transition
 * (a stalled one backed out), cumulative replacement and the catalogue
 * events that record them.  The rules a module must pass before it is
 * loaded are lifecycle-check.c's; both first reconcile the catalogue with
 * what is loaded under the lifecycle lock (lifecycle-reconcile.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "history.h"
#include "lifecycle-internal.h"
#include "lifecycle.h"
#include "util.h"

/* Enabled livepatches: candidates for replacement by a cumulative one. */
static int snapshot(struct elp_ctx *ctx, char ***names, size_t *nr)
{
	struct elp_livepatch **list;
	size_t n, i, k = 0;
	int err = elp_lp_list(ctx, &list, &n);

	*names = NULL;
	*nr = 0;
	if (err)
		return err;
	*names = calloc(n ? n : 1, sizeof(**names));
	for (i = 0; *names && i < n; i++) {
		if (list[i]->enabled != 1)
			continue;
		(*names)[k] = strdup(list[i]->name);
		if (!(*names)[k])
			break;
		k++;
	}
	*nr = k;
	err = *names && i == n ? 0 : -ENOMEM;
	elp_lp_list_free(list, n);
	return err;
}

/* Was a previously enabled patch replaced (disabled and freed)? */
static bool was_replaced(struct elp_ctx *ctx, const char *name)
{
	long long deadline = elp_now_ms() + 5000;

	for (;;) {
		struct elp_livepatch *lp;

		if (elp_lp_read(ctx, name, &lp))
			return true;
		if (lp->enabled == 0 && lp->transition == 0) {
			elp_lp_free(lp);
			return true;
		}
		elp_lp_free(lp);
		/* replaced patches are freed when the transition completes */
		if (elp_now_ms() >= deadline)
			return false;
		usleep(50000);
	}
}

/* Tell the caller who blocks a stalled transition. */
static void report_stall(struct elp_ctx *ctx, const char *name,
			 elp_stall_fn on_stall, void *data)
{
	struct elp_lp_blocker *b = NULL;
	struct elp_livepatch *lp;
	size_t nr = 0;

	if (!on_stall || elp_lp_read(ctx, name, &lp))
		return;
	if (elp_lp_blockers(ctx, lp, &b, &nr) == 0)
		on_stall(data, lp, b, nr);
	elp_lp_blockers_free(b, nr);
	elp_lp_free(lp);
}

/* Back out a patch whose transition stalled: disable, wait, unload. */
static void cancel(struct elp_ctx *ctx, const char *name, long wait_ms)
{
	if (elp_lp_disable(ctx, name))
		return;
	if (elp_lp_wait(ctx, name, wait_ms) == -ETIMEDOUT) {
		elp_err(ctx,
			"livepatch '%s' is still in transition back; see 'elivepatch status'",
			name);
		return;
	}
	if (elp_lp_unload(ctx, name, 5000) == 0)
		elp_notice(ctx,
			   "livepatch '%s' was disabled and unloaded again",
			   name);
}

static int record_apply(struct elp_catalogue *cat,
			const struct elp_lp_artefact *a,
			const struct elp_apply_result *r)
{
	struct elp_event ev = { .kind = "apply" };
	char detail[256];
	size_t i;
	int err;

	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	ev.kernel_release = r->release;
	ev.module = r->module;
	if (a->build) {
		ev.build_id = a->build->id;
		ev.kernel_id = a->build->kernel_id;
	}
	snprintf(detail, sizeof(detail), "sha256 %.16s, transition %lld ms%s",
		 a->sha256, r->transition_ms,
		 a->build ? "" : ", not in the catalogue");
	ev.detail = detail;
	err = elp_event_add(cat, &ev);
	for (i = 0; !err && i < r->nr_replaced; i++) {
		struct elp_event rep = { .kind = "replace" };
		char d[256];

		rep.kernel_release = r->release;
		rep.module = r->replaced[i].name;
		rep.build_id = r->replaced[i].build_id;
		if (a->build)
			snprintf(d, sizeof(d), "replaced by %s (build %lld)",
				 r->module, (long long)a->build->id);
		else
			snprintf(d, sizeof(d), "replaced by %s", r->module);
		rep.detail = d;
		err = elp_event_add(cat, &rep);
	}
	return elp_catalogue_end(cat, err);
}

/* Open the build or file; a file the catalogue lacks only with force. */
static int open_artefact(struct elp_ctx *ctx, struct elp_catalogue *cat,
			 const struct elp_apply_options *opts,
			 struct elp_lp_artefact **a)
{
	int err = elp_lp_artefact_open(cat, opts->spec, opts->force, a);

	if (err == -ENOENT && *a) {
		elp_warn(
			ctx,
			"'%s' is not a build in the catalogue (sha256 %.16s...); applying it anyway",
			opts->spec, (*a)->sha256);
		return 0;
	}
	if (err == -ENOENT && elp_is_file(opts->spec))
		elp_err(ctx,
			"'%s' is not a build in the catalogue; use 'elivepatch apply BUILD', or --force to apply an unknown module",
			opts->spec);
	return err;
}

/* Load, wait for the transition (backing out a stalled one). */
static int load(struct elp_ctx *ctx, const struct elp_lp_artefact *a,
		const struct elp_apply_options *opts, long long *ms)
{
	struct elp_livepatch *lp;
	long long t0 = elp_now_ms();
	int err;

	elp_fault_point(ctx, "apply", "load");
	err = elp_lp_load(ctx, a->path, a->info);
	if (err)
		return err;
	elp_fault_point(ctx, "apply", "transition");
	if (elp_lp_wait(ctx, a->info->name, opts->wait_ms) == -ETIMEDOUT) {
		elp_err(ctx,
			"livepatch '%s' did not finish its transition in %ld s",
			a->info->name, opts->wait_ms / 1000);
		report_stall(ctx, a->info->name, opts->on_stall, opts->data);
		cancel(ctx, a->info->name, 10000);
		return -ETIMEDOUT;
	}
	*ms = elp_now_ms() - t0;
	if (elp_lp_read(ctx, a->info->name, &lp)) {
		elp_err(ctx, "livepatch '%s' is gone after loading (see dmesg)",
			a->info->name);
		return -EIO;
	}
	elp_lp_free(lp);
	return 0;
}

/* The patches of before that a cumulative module disabled. */
static int collect_replaced(struct elp_ctx *ctx, struct elp_catalogue *cat,
			    char **before, size_t nr_before,
			    struct elp_apply_result *r)
{
	size_t i;

	r->replaced = calloc(nr_before ? nr_before : 1, sizeof(*r->replaced));
	if (!r->replaced)
		return -ENOMEM;
	for (i = 0; i < nr_before; i++) {
		struct elp_apply_replaced *rep = &r->replaced[r->nr_replaced];
		struct elp_lp_build *b = NULL;

		if (!was_replaced(ctx, before[i]))
			continue;
		rep->name = strdup(before[i]);
		if (!rep->name)
			return -ENOMEM;
		if (elp_lp_build_applied(cat, before[i], r->release, &b) == 0) {
			rep->build_id = b->id;
			elp_lp_build_free(b);
		}
		r->nr_replaced++;
	}
	return 0;
}

static void free_names(char **names, size_t nr)
{
	while (nr)
		free(names[--nr]);
	free(names);
}

int elp_apply(struct elp_ctx *ctx, struct elp_catalogue *cat,
	      const struct elp_apply_options *opts,
	      struct elp_apply_result **out)
{
	struct elp_lp_artefact *a = NULL;
	struct elp_apply_result *r;
	char **before = NULL;
	size_t nr_before = 0, i;
	unsigned int found;
	int err, lock = -1;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = open_artefact(ctx, cat, opts, &a);
	if (!err && !elp_catalogue_readonly(cat)) {
		err = elp_lifecycle_lock(cat, true, &lock);
		if (!err)
			err = elp_lifecycle_reconcile_locked(ctx, cat, &found);
	}
	if (!err)
		err = elp_lp_running_release(ctx, &r->release);
	if (!err)
		err = elp_lifecycle_check_apply(ctx, cat, a, r->release,
						opts->force);
	if (!err)
		err = snapshot(ctx, &before, &nr_before);
	if (err)
		goto out;
	r->module = strdup(a->info->name);
	if (!r->module) {
		err = -ENOMEM;
		goto out;
	}
	r->build_id = a->build ? a->build->id : 0;
	memcpy(r->sha256, a->sha256, sizeof(r->sha256));
	err = load(ctx, a, opts, &r->transition_ms);
	if (err)
		goto out;
	err = collect_replaced(ctx, cat, before, nr_before, r);
	elp_fault_point(ctx, "apply", "record");
	if (!err)
		err = record_apply(cat, a, r);
	if (err) {
		elp_err(ctx,
			"livepatch '%s' is applied but could not be recorded in the catalogue",
			r->module);
		goto out;
	}
	for (i = 0; i < r->nr_replaced; i++)
		if (elp_module_loaded(ctx, r->replaced[i].name))
			elp_lp_unload(ctx, r->replaced[i].name, 5000);
	*out = r;
	r = NULL;
out:
	elp_lifecycle_unlock(lock);
	free_names(before, nr_before);
	elp_lp_artefact_free(a);
	elp_apply_result_free(r);
	return err;
}

void elp_apply_result_free(struct elp_apply_result *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nr_replaced; i++)
		free(r->replaced[i].name);
	free(r->replaced);
	free(r->module);
	free(r->release);
	free(r);
}

/* NAME, or a build id naming its module. */
static int resolve_name(struct elp_ctx *ctx, struct elp_catalogue *cat,
			const char *spec, char **name)
{
	struct elp_lp_build *b = NULL;
	char *end;
	long long id;

	id = strtoll(spec, &end, 10);
	if (*spec < '0' || *spec > '9' || *end || id <= 0) {
		*name = strdup(spec);
		return *name ? 0 : -ENOMEM;
	}
	if (elp_lp_build_get(cat, id, &b)) {
		elp_err(ctx, "no build '%s' in the catalogue", spec);
		return -ENOENT;
	}
	*name = strdup(b->module_name);
	elp_lp_build_free(b);
	return *name ? 0 : -ENOMEM;
}

/* Is NAME a loaded livepatch?  Explains why not. */
static int check_loaded(struct elp_ctx *ctx, const char *name)
{
	struct elp_livepatch *lp;
	int err = elp_lp_read(ctx, name, &lp);

	if (err == -ENOENT) {
		if (!elp_lp_supported(ctx))
			elp_err(ctx,
				"livepatch '%s' is not loaded: the running kernel has no livepatch support",
				name);
		else if (elp_module_loaded(ctx, name))
			elp_err(ctx,
				"module '%s' is loaded but is not an active livepatch (replaced or disabled?); unload it with 'rmmod %s'",
				name, name);
		else
			elp_err(ctx,
				"livepatch '%s' is not loaded; see 'elivepatch status'",
				name);
		return err;
	}
	if (!err)
		elp_lp_free(lp);
	return err;
}

static int record_revert(struct elp_catalogue *cat,
			 const struct elp_revert_result *r, int64_t kernel_id)
{
	struct elp_event ev = { .kind = "revert" };
	char detail[128];

	snprintf(detail, sizeof(detail), "transition %lld ms",
		 r->transition_ms);
	ev.kernel_release = r->release;
	ev.module = r->module;
	ev.detail = detail;
	ev.build_id = r->build_id;
	ev.kernel_id = kernel_id;
	if (elp_catalogue_begin(cat) || elp_event_add(cat, &ev) ||
	    elp_catalogue_commit(cat)) {
		elp_catalogue_rollback(cat);
		return -EIO;
	}
	return 0;
}

int elp_revert(struct elp_ctx *ctx, struct elp_catalogue *cat,
	       const struct elp_revert_options *opts,
	       struct elp_revert_result **out)
{
	struct elp_revert_result *r;
	struct elp_lp_build *b = NULL;
	int64_t kernel_id = 0;
	unsigned int found;
	int err, lock = -1;
	long long t0;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = resolve_name(ctx, cat, opts->spec, &r->module);
	if (!err && !elp_catalogue_readonly(cat)) {
		err = elp_lifecycle_lock(cat, true, &lock);
		if (!err)
			err = elp_lifecycle_reconcile_locked(ctx, cat, &found);
	}
	if (!err)
		err = check_loaded(ctx, r->module);
	if (err)
		goto out;
	if (elp_catalogue_readonly(cat)) {
		elp_err(ctx,
			"catalogue '%s' is read-only: the revert could not be recorded",
			elp_catalogue_path(cat));
		err = -EROFS;
		goto out;
	}
	err = elp_lp_running_release(ctx, &r->release);
	if (err)
		goto out;
	if (elp_lp_build_applied(cat, r->module, r->release, &b) == 0) {
		r->build_id = b->id;
		kernel_id = b->kernel_id;
		elp_lp_build_free(b);
	}

	t0 = elp_now_ms();
	elp_fault_point(ctx, "revert", "disable");
	err = elp_lp_disable(ctx, r->module);
	if (err)
		goto out;
	elp_fault_point(ctx, "revert", "transition");
	if (elp_lp_wait(ctx, r->module, opts->wait_ms) == -ETIMEDOUT) {
		elp_err(ctx,
			"livepatch '%s' did not finish its transition back in %ld s; it stays in transition (see 'elivepatch status')",
			r->module, opts->wait_ms / 1000);
		report_stall(ctx, r->module, opts->on_stall, opts->data);
		err = -ETIMEDOUT;
		goto out;
	}
	r->transition_ms = elp_now_ms() - t0;
	if (elp_lp_unload(ctx, r->module, 10000))
		elp_warn(
			ctx,
			"livepatch '%s' is disabled but its module stays loaded",
			r->module);
	elp_fault_point(ctx, "revert", "record");
	err = record_revert(cat, r, kernel_id);
	if (err) {
		elp_err(ctx,
			"livepatch '%s' is reverted but could not be recorded in the catalogue",
			r->module);
		goto out;
	}
	*out = r;
	r = NULL;
out:
	elp_lifecycle_unlock(lock);
	elp_revert_result_free(r);
	return err;
}

void elp_revert_result_free(struct elp_revert_result *r)
{
	if (!r)
		return;
	free(r->module);
	free(r->release);
	free(r);
}
