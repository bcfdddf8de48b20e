// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reconciliation: the catalogue's apply records against what is loaded in
 * /sys/kernel/livepatch, and the lifecycle lock that apply and revert hold
 * so that it never takes their work in progress for a mismatch.  Apply
 * and revert (lifecycle.c) reconcile first under that lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "history.h"
#include "lifecycle-internal.h"
#include "lifecycle.h"
#include "util.h"

/*
 * Apply and revert hold CATALOGUE.lifecycle-lock from their checks to their
 * record, so that reconciliation never takes a module being loaded (or an
 * apply being recorded) for one loaded without a record.  The kernel drops
 * the lock of a killed process.
 */
int elp_lifecycle_lock(struct elp_catalogue *cat, bool exclusive, int *fd)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	char *path;
	int err = 0;

	*fd = -1;
	if (asprintf(&path, "%s.lifecycle-lock", elp_catalogue_path(cat)) < 0)
		return -ENOMEM;
	if (exclusive)
		*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	else
		*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		err = -errno;
		/* never applied here: nothing can be in progress; root's
		 * lock (0600) unreadable: a reader only reports anyway */
		if (!exclusive && (err == -ENOENT || err == -EACCES))
			err = 0;
		else
			elp_err(ctx, "cannot open lock '%s': %s", path,
				strerror(-err));
		free(path);
		return err;
	}
	if (exclusive && flock(*fd, LOCK_EX | LOCK_NB) < 0 &&
	    errno == EWOULDBLOCK)
		elp_notice(ctx,
			   "waiting for another apply or revert to finish");
	if (flock(*fd, exclusive ? LOCK_EX : LOCK_SH | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (err != -EAGAIN)
			elp_err(ctx, "cannot lock '%s': %s", path,
				strerror(-err));
		close(*fd);
		*fd = -1;
	}
	free(path);
	return err;
}

void elp_lifecycle_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* --- reconciliation: the catalogue against /sys/kernel/livepatch --------- */

/*
 * Could build b have been applied here: its module intact and built for
 * the running kernel?  Quiet: only telling builds apart.
 */
static bool applicable(struct elp_catalogue *cat, struct elp_lp_build *b,
		       const char *release)
{
	struct elp_lp_artefact a = { .build = b, .path = b->artefact_path };
	bool ok;

	if (elp_sha256_file(NULL, a.path, a.sha256) ||
	    strcmp(a.sha256, b->artefact_sha256) != 0 ||
	    elp_module_info_read(NULL, a.path, &a.info))
		return false;
	ok = strcmp(a.info->release, release) == 0 &&
	     elp_lifecycle_check_built_for(NULL, cat, &a, release) == 0;
	elp_module_info_free(a.info);
	return ok;
}

static const struct elp_applied_module *
find_applied(const struct elp_applied_module *app, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (strcmp(app[i].module, name) == 0)
			return &app[i];
	return NULL;
}

/* The build a loaded module is: the same build-id as its artefact. */
static int loaded_build(struct elp_ctx *ctx, struct elp_catalogue *cat,
			const char *release, const char *name,
			struct elp_lp_build **out)
{
	int64_t *ids = NULL;
	char *loaded;
	size_t nr = 0, i;
	int err;

	*out = NULL;
	err = elp_builds_of_module(cat, release, name, &ids, &nr);
	if (err || !nr) {
		free(ids);
		return err ? err : -ENOENT;
	}
	loaded = elp_module_loaded_build_id(ctx, name);
	if (!loaded) {
		elp_warn(
			ctx,
			"livepatch '%s' is loaded without an apply record and is named like build %lld, but its build-id cannot be read (/sys/module/%s/notes needs root): not reconciled",
			name, (long long)ids[0], name);
		free(ids);
		return -EACCES;
	}
	/* the newest build with that build-id that apply would load here,
	 * else the newest with that build-id */
	for (i = 0; i < nr; i++) {
		struct elp_lp_build *b = NULL;
		char *id;

		if (elp_lp_build_get(cat, ids[i], &b))
			continue;
		id = elp_module_file_build_id(b->artefact_path);
		if (!id || strcmp(id, loaded) != 0) {
			elp_lp_build_free(b);
		} else if (applicable(cat, b, release)) {
			elp_lp_build_free(*out);
			*out = b;
			free(id);
			break;
		} else if (!*out) {
			*out = b;
		} else {
			elp_lp_build_free(b);
		}
		free(id);
	}
	if (!*out)
		elp_notice(
			ctx,
			"livepatch '%s' has the module name of build %lld but is none of its builds (build-id %.12s...): not applied by elivepatch",
			name, (long long)ids[0], loaded);
	free(loaded);
	free(ids);
	return *out ? 0 : -ENOENT;
}

static int record_reconciled(struct elp_catalogue *cat, const char *kind,
			     const char *release, const char *module,
			     int64_t build_id, int64_t kernel_id,
			     const char *detail)
{
	struct elp_event ev = { .kind = kind };

	ev.kernel_release = release;
	ev.module = module;
	ev.build_id = build_id;
	ev.kernel_id = kernel_id;
	ev.detail = detail;
	if (elp_catalogue_begin(cat) || elp_event_add(cat, &ev) ||
	    elp_catalogue_commit(cat)) {
		elp_catalogue_rollback(cat);
		return -EIO;
	}
	return 0;
}

/* A livepatch of ours is loaded but no apply was recorded. */
static int reconcile_loaded(struct elp_ctx *ctx, struct elp_catalogue *cat,
			    const char *release, const struct elp_livepatch *lp,
			    bool ro, unsigned int *found)
{
	struct elp_lp_build *b = NULL;
	char detail[256];
	int err;

	if (loaded_build(ctx, cat, release, lp->name, &b))
		return 0; /* not ours, or cannot tell (said so) */
	(*found)++;
	if (ro) {
		elp_warn(
			ctx,
			"livepatch '%s' (build %lld) is loaded but no apply was recorded; not recorded now: catalogue '%s' is read-only",
			lp->name, (long long)b->id, elp_catalogue_path(cat));
		elp_lp_build_free(b);
		return 0;
	}
	snprintf(
		detail, sizeof(detail),
		"reconciled: found loaded without an apply record (an interrupted apply, or loaded outside elivepatch)%s",
		lp->transition == 1 ? ", in transition" : "");
	err = record_reconciled(cat, "apply", release, lp->name, b->id,
				b->kernel_id, detail);
	if (!err)
		elp_warn(
			ctx,
			"livepatch '%s' (build %lld) is loaded but no apply was recorded (an interrupted apply, or loaded outside elivepatch): recorded as applied now",
			lp->name, (long long)b->id);
	elp_lp_build_free(b);
	return err;
}

/* Loaded with an apply record, but not the module of the recorded build. */
static int reconcile_other(struct elp_ctx *ctx, struct elp_catalogue *cat,
			   const char *release, const struct elp_livepatch *lp,
			   const struct elp_applied_module *rec, bool ro,
			   unsigned int *found)
{
	struct elp_lp_build *rb = NULL, *b = NULL;
	char *loaded, *recorded = NULL, detail[320];
	long long was = (long long)rec->build_id;
	int err = 0;

	if (!rec->build_id)
		return 0;
	loaded = elp_module_loaded_build_id(ctx, lp->name);
	if (loaded && elp_lp_build_get(cat, rec->build_id, &rb) == 0)
		recorded = elp_module_file_build_id(rb->artefact_path);
	elp_lp_build_free(rb);
	/* cannot tell (not root, module gone), or the recorded one */
	if (!recorded || strcmp(recorded, loaded) == 0)
		goto out;
	(*found)++;
	if (loaded_build(ctx, cat, release, lp->name, &b) == 0 &&
	    b->id != rec->build_id) {
		if (ro) {
			elp_warn(
				ctx,
				"livepatch '%s' is recorded as build %lld but the loaded module is build %lld; not recorded now: catalogue '%s' is read-only",
				lp->name, was, (long long)b->id,
				elp_catalogue_path(cat));
			goto out;
		}
		snprintf(
			detail, sizeof(detail),
			"reconciled: the loaded module is build %lld, not build %lld as recorded (loaded outside elivepatch)",
			(long long)b->id, was);
		err = record_reconciled(cat, "apply", release, lp->name, b->id,
					b->kernel_id, detail);
		if (!err)
			elp_warn(
				ctx,
				"livepatch '%s' is recorded as build %lld but the loaded module is build %lld: recorded as applied now",
				lp->name, was, (long long)b->id);
		goto out;
	}
	if (ro) {
		elp_warn(
			ctx,
			"livepatch '%s' is recorded as build %lld but the loaded module is not that build; not recorded now: catalogue '%s' is read-only",
			lp->name, was, elp_catalogue_path(cat));
		goto out;
	}
	snprintf(
		detail, sizeof(detail),
		"reconciled: the loaded module '%s' is not build %lld's (another build-id, loaded outside elivepatch)",
		lp->name, was);
	err = record_reconciled(cat, "revert", release, lp->name, rec->build_id,
				0, detail);
	if (!err)
		elp_warn(
			ctx,
			"livepatch '%s' is recorded as build %lld but the loaded module is not that build (another build-id): recorded as reverted now",
			lp->name, was);
out:
	elp_lp_build_free(b);
	free(recorded);
	free(loaded);
	return err;
}

/* An apply was recorded but the livepatch is not loaded: reverted, or
 * replaced by a cumulative one applied after it (by). */
static int reconcile_gone(struct elp_ctx *ctx, struct elp_catalogue *cat,
			  const char *release,
			  const struct elp_applied_module *m,
			  const struct elp_applied_module *by, bool ro,
			  unsigned int *found)
{
	bool left = elp_module_loaded(ctx, m->module);
	struct elp_lp_build *b = NULL;
	char what[64] = "", detail[320];
	int64_t kernel_id = 0;
	int err;

	(*found)++;
	if (m->build_id) {
		snprintf(what, sizeof(what), " (build %lld)",
			 (long long)m->build_id);
		if (elp_lp_build_get(cat, m->build_id, &b) == 0) {
			kernel_id = b->kernel_id;
			elp_lp_build_free(b);
		}
	}
	if (left)
		elp_warn(
			ctx,
			"module '%s' is loaded but is no active livepatch any more (disabled); unload it with 'rmmod %s'",
			m->module, m->module);
	if (ro) {
		elp_warn(
			ctx,
			"livepatch '%s'%s is recorded as applied but is not loaded; not recorded now: catalogue '%s' is read-only",
			m->module, what, elp_catalogue_path(cat));
		return 0;
	}
	if (by)
		snprintf(
			detail, sizeof(detail),
			"reconciled: replaced by cumulative livepatch %s (build %lld) with no record of it (an interrupted apply)%s",
			by->module, (long long)by->build_id,
			left ? "; its module is still loaded" : "");
	else
		snprintf(
			detail, sizeof(detail),
			"reconciled: recorded as applied but not in /sys/kernel/livepatch (an interrupted revert, or removed outside elivepatch)%s",
			left ? "; its module is still loaded" : "");
	err = record_reconciled(cat, by ? "replace" : "revert", release,
				m->module, m->build_id, kernel_id, detail);
	if (err)
		return err;
	if (by)
		elp_warn(
			ctx,
			"livepatch '%s'%s was replaced by cumulative livepatch '%s' (build %lld) but no replace was recorded: recorded now",
			m->module, what, by->module, (long long)by->build_id);
	else
		elp_warn(
			ctx,
			"livepatch '%s'%s is recorded as applied but is not loaded (an interrupted revert, or removed outside elivepatch): recorded as reverted now",
			m->module, what);
	return 0;
}

static bool is_loaded(struct elp_livepatch **lps, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (strcmp(lps[i]->name, name) == 0)
			return true;
	return false;
}

/* A loaded cumulative build applied after app[i], which it replaced. */
static const struct elp_applied_module *
replaced_by(struct elp_catalogue *cat, const struct elp_applied_module *app,
	    size_t nr, size_t i, struct elp_livepatch **lps, size_t nr_lp)
{
	size_t j;

	for (j = nr; j-- > i + 1;) {
		struct elp_lp_build *b = NULL;
		bool cumulative;

		if (!app[j].build_id || !is_loaded(lps, nr_lp, app[j].module) ||
		    elp_lp_build_get(cat, app[j].build_id, &b))
			continue;
		cumulative = b->cumulative;
		elp_lp_build_free(b);
		if (cumulative)
			return &app[j];
	}
	return NULL;
}

int elp_lifecycle_reconcile_locked(struct elp_ctx *ctx,
				   struct elp_catalogue *cat,
				   unsigned int *found)
{
	struct elp_applied_module *app = NULL;
	struct elp_livepatch **lps = NULL;
	size_t nr_app = 0, nr_lp = 0, i;
	bool ro = elp_catalogue_readonly(cat);
	char *release = NULL;
	int err;

	*found = 0;
	if (!elp_lp_supported(ctx))
		return 0;
	err = elp_lp_running_release(ctx, &release);
	if (!err)
		err = elp_lp_list(ctx, &lps, &nr_lp);
	if (!err)
		err = elp_events_applied(cat, release, &app, &nr_app);
	for (i = 0; !err && i < nr_lp; i++) {
		const struct elp_applied_module *rec =
			find_applied(app, nr_app, lps[i]->name);

		if (rec)
			err = reconcile_other(ctx, cat, release, lps[i], rec,
					      ro, found);
		else
			err = reconcile_loaded(ctx, cat, release, lps[i], ro,
					       found);
	}
	/* with what was just recorded: a cumulative one replaced others */
	if (!err && *found && !ro) {
		elp_applied_modules_free(app, nr_app);
		app = NULL;
		nr_app = 0;
		err = elp_events_applied(cat, release, &app, &nr_app);
	}
	for (i = 0; !err && i < nr_app; i++)
		if (!is_loaded(lps, nr_lp, app[i].module))
			err = reconcile_gone(
				ctx, cat, release, &app[i],
				replaced_by(cat, app, nr_app, i, lps, nr_lp),
				ro, found);
	elp_applied_modules_free(app, nr_app);
	elp_lp_list_free(lps, nr_lp);
	free(release);
	return err;
}

int elp_reconcile(struct elp_ctx *ctx, struct elp_catalogue *cat,
		  unsigned int *found)
{
	int fd, err;

	*found = 0;
	err = elp_lifecycle_lock(cat, false, &fd);
	if (err == -EAGAIN) {
		elp_notice(
			ctx,
			"an apply or revert is in progress: the catalogue is not checked against the running kernel now");
		return 0;
	}
	if (err)
		return err;
	err = elp_lifecycle_reconcile_locked(ctx, cat, found);
	elp_lifecycle_unlock(fd);
	return err;
}
