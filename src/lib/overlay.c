// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patch overlays: the public operations (add, sync, import, remove).  The
 * format is overlay-meta.c, the git side overlay-git.c, importing a
 * checkout's fixes overlay-import.c, the catalogue's overlay tables
 * overlay-store.c (their private calls in overlay-internal.h).  See
 * overlay.h and elivepatch-overlay(5).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "git.h"
#include "jobs.h"
#include "overlay-internal.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"

/* ---- where the clones are ---- */

/* <catalogue dir>/overlays[/NAME[SUFFIX]] */
static char *store_path(struct elp_catalogue *cat, const char *name,
			const char *suffix)
{
	char *db = strdup(elp_catalogue_path(cat)), *path = NULL;
	int n;

	if (!db)
		return NULL;
	if (name)
		n = asprintf(&path, "%s/overlays/%s%s", dirname(db), name,
			     suffix ? suffix : "");
	else
		n = asprintf(&path, "%s/overlays", dirname(db));
	free(db);
	return n < 0 ? NULL : path;
}

void elp_overlay_report_release(struct elp_overlay_report *rep)
{
	if (!rep)
		return;
	free(rep->old_commit);
	free(rep->new_commit);
	elp_strv_free(rep->changed, rep->nr_changed);
	elp_strv_free(rep->skipped, rep->nr_skipped);
	memset(rep, 0, sizeof(*rep));
}

int elp_overlay_find(struct elp_catalogue *cat, const char *name,
		     struct elp_overlay **out)
{
	int err = overlay_store_lookup(cat, name, out);

	if (err == 0) {
		elp_err(elp_catalogue_ctx(cat),
			"no overlay named '%s' (see: elivepatch overlay list)",
			name);
		return -ENOENT;
	}
	return err < 0 ? err : 0;
}

/* ---- add, sync, import ---- */

int elp_overlay_add(struct elp_catalogue *cat, const char *name,
		    const char *url, const char *signing_key,
		    struct elp_overlay_report *rep)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	git_clone_options opts;
	struct elp_overlay o = { .name = (char *)name, .managed = true };
	struct elp_overlay *known = NULL;
	git_repository *repo = NULL;
	char *store = NULL, *tmp = NULL, *key = NULL, *src = NULL;
	bool revive;
	git_oid head;
	int err, rc;

	memset(rep, 0, sizeof(*rep));
	if (!elp_overlay_name_is_valid(name)) {
		elp_err(ctx,
			"invalid overlay name '%s' (expected [a-z0-9][a-z0-9._-]*)",
			name);
		return -EINVAL;
	}
	err = overlay_store_lookup(cat, name, &known);
	if (err == 1 && known && !known->removed_at) {
		elp_err(ctx, "an overlay named '%s' is already catalogued (%s)",
			name, known->url);
		elp_overlay_free(known);
		return -EEXIST;
	}
	if (err < 0)
		return err;
	if (known) /* removed: its record is taken up again */
		o.id = known->id;
	elp_overlay_free(known);
	err = overlay_clone_url(ctx, url, &src);
	if (err)
		goto out;
	store = store_path(cat, NULL, NULL);
	o.path = store_path(cat, name, NULL);
	tmp = store_path(cat, name, ".clone");
	if (!store || !o.path || !tmp) {
		err = -ENOMEM;
		goto out;
	}
	if (access(o.path, F_OK) == 0) {
		elp_err(ctx, "cannot add overlay '%s': '%s' already exists",
			name, o.path);
		err = -EEXIST;
		goto out;
	}
	err = elp_mkdir_p(ctx, store, 0755);
	if (err)
		goto out;
	elp_rm_rf(ctx, tmp);
	elp_git_init();
	git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
	elp_info(ctx, "cloning '%s'", src);
	rc = git_clone(&repo, src, tmp, &opts);
	if (rc < 0) {
		err = elp_git_error(ctx, rc, "cannot clone '%s'", url);
		goto out_rm;
	}
	err = overlay_head_oid(ctx, repo, name, &head);
	if (!err && signing_key) {
		key = store_path(cat, name, ".keyring");
		err = key ? overlay_copy_keyring(ctx, signing_key, key)
			  : -ENOMEM;
		if (!err)
			err = overlay_verify_commits(ctx, repo, &head, NULL,
						     key, name);
	}
	if (err)
		goto out_rm;
	if (rename(tmp, o.path)) {
		err = -errno;
		elp_err(ctx, "cannot rename '%s': %s", tmp, strerror(errno));
		goto out_rm;
	}
	o.url = src;
	o.signing_key = key;
	revive = o.id != 0;
	if (!revive)
		err = overlay_store_insert(cat, &o);
	if (!err) {
		rep->new_commit = overlay_oid_hex(&head);
		err = rep->new_commit ? overlay_import_checkout(cat, &o, o.path,
								rep->new_commit,
								"overlay-add",
								revive, rep)
				      : -ENOMEM;
		if (err && !revive) /* no half-added overlay */
			overlay_store_delete(cat, o.id);
	}
	if (err)
		elp_rm_rf(ctx, o.path);
out_rm:
	if (err && key)
		unlink(key);
	elp_rm_rf(ctx, tmp);
out:
	git_repository_free(repo);
	free(store);
	free(o.path);
	free(tmp);
	free(key);
	free(src);
	return err;
}

int elp_overlay_sync(struct elp_catalogue *cat, const char *name, bool force,
		     struct elp_overlay_report *rep)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_overlay *o = NULL;
	git_repository *repo = NULL;
	git_reference *branch = NULL;
	git_oid tip, old;
	bool have_old = false;
	int err, rc;

	memset(rep, 0, sizeof(*rep));
	err = elp_overlay_find(cat, name, &o);
	if (err || !o)
		return err ? err : -ENOENT;
	if (o->removed_at) {
		elp_err(ctx,
			"overlay '%s' was removed; add it again with: elivepatch overlay add %s %s",
			name, name, o->url);
		err = -ENOENT;
		goto out;
	}
	if (!o->managed) {
		elp_err(ctx,
			"overlay '%s' is synced by Portage ('%s'), not by elivepatch",
			name, o->path);
		err = -EINVAL;
		goto out;
	}
	elp_git_init();
	rc = git_repository_open(&repo, o->path);
	if (rc < 0) {
		err = elp_git_error(ctx, rc, "overlay '%s'", name);
		goto out;
	}
	err = overlay_fetch_tip(ctx, repo, name, &branch, &tip);
	if (err)
		goto out;
	if (o->commit_id && git_oid_fromstr(&old, o->commit_id) == 0)
		have_old = true;
	rep->old_commit = o->commit_id ? strdup(o->commit_id) : NULL;
	rep->new_commit = overlay_oid_hex(&tip);
	if (!rep->new_commit) {
		err = -ENOMEM;
		goto out;
	}
	if (have_old && git_oid_equal(&old, &tip)) {
		err = 0; /* up to date */
		goto out;
	}
	if (have_old && git_graph_descendant_of(repo, &tip, &old) != 1) {
		if (!force) {
			elp_err(ctx,
				"overlay '%s': not a fast-forward: %.12s does not contain %.12s, the commit catalogued (its history was rewritten); check it and sync again with --force",
				name, rep->new_commit, o->commit_id);
			err = -ENOTSUP;
			goto out;
		}
		elp_warn(
			ctx,
			"overlay '%s': not a fast-forward (%.12s to %.12s), forced",
			name, o->commit_id, rep->new_commit);
	}
	if (o->signing_key) {
		err = overlay_verify_commits(ctx, repo, &tip,
					     have_old ? &old : NULL,
					     o->signing_key, name);
		if (err)
			goto out;
	}
	err = overlay_move_to(ctx, repo, branch, &tip, name);
	if (!err)
		err = overlay_import_checkout(cat, o, o->path, rep->new_commit,
					      "overlay-sync", false, rep);
out:
	git_reference_free(branch);
	git_repository_free(repo);
	elp_overlay_free(o);
	return err;
}

int elp_overlay_import(struct elp_catalogue *cat, const char *name,
		       const char *dir, struct elp_overlay_report *rep)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_overlay *o = NULL;
	git_repository *repo = NULL;
	char *commit = NULL, *abs = elp_abspath(dir);
	bool revive = false;
	git_oid head;
	int err;

	memset(rep, 0, sizeof(*rep));
	if (!abs) {
		elp_err(ctx, "cannot read '%s': %s", dir, strerror(errno));
		return -errno;
	}
	err = overlay_store_lookup(cat, name, &o);
	if (err == 1 && !o)
		err = -ENOMEM;
	if (err == 0) {
		if (!elp_overlay_name_is_valid(name)) {
			elp_err(ctx,
				"invalid overlay name '%s' (expected [a-z0-9][a-z0-9._-]*)",
				name);
			err = -EINVAL;
			goto out;
		}
		o = calloc(1, sizeof(*o));
		if (!o || !(o->name = strdup(name)) ||
		    !(o->url = strdup(abs)) || !(o->path = strdup(abs))) {
			err = -ENOMEM;
			goto out;
		}
		err = overlay_store_insert(cat, o);
	} else if (err == 1 && o && o->removed_at) {
		/* removed: taken up again, read in place from now on */
		revive = true;
		free(o->url);
		free(o->path);
		free(o->signing_key);
		o->signing_key = NULL;
		o->managed = false;
		o->url = strdup(abs);
		o->path = strdup(abs);
		err = o->url && o->path ? 0 : -ENOMEM;
	} else if (err == 1 && o && o->managed) {
		elp_err(ctx,
			"overlay '%s' is cloned and synced by elivepatch ('%s'): elivepatch overlay sync %s",
			name, o->url, name);
		err = -EINVAL;
	} else if (err == 1) {
		err = 0;
	}
	if (err)
		goto out;
	elp_git_init();
	if (git_repository_open(&repo, abs) == 0 &&
	    git_reference_name_to_id(&head, repo, "HEAD") == 0) {
		commit = overlay_oid_hex(&head);
		if (!commit) {
			err = -ENOMEM;
			goto out;
		}
	}
	rep->old_commit = o->commit_id ? strdup(o->commit_id) : NULL;
	rep->new_commit = commit ? strdup(commit) : NULL;
	err = overlay_import_checkout(cat, o, abs, commit, "overlay-sync",
				      revive, rep);
out:
	git_repository_free(repo);
	elp_overlay_free(o);
	free(commit);
	free(abs);
	return err;
}

/* ---- remove ---- */

void elp_overlay_removal_release(struct elp_overlay_removal *rm)
{
	if (!rm)
		return;
	free(rm->deleted);
	free(rm->kept);
	free(rm->jobs);
	elp_strv_free(rm->job_subjects, rm->nr_jobs);
	memset(rm, 0, sizeof(*rm));
}

/* The jobs that need an overlay: its imports, builds of its patches. */
struct needs {
	struct elp_ctx *ctx;
	const char *overlay;
	char **specs; /* the names and ids of its patches */
	size_t nr_specs;
	int64_t *queued;
	char **subjects;
	size_t nr_queued, cap_queued;
	struct elp_buf running; /* "job N (subject)", ... */
	int err;
};

static int job_needs(const struct elp_job *job, void *data)
{
	struct needs *n = data;
	char *subject;
	int64_t *nq;
	size_t i;

	if (strcmp(job->state, "queued") != 0 &&
	    strcmp(job->state, "running") != 0)
		return 0;
	if (strcmp(job->kind, "overlay") == 0) {
		if (!job->overlay || strcmp(job->overlay, n->overlay) != 0)
			return 0;
	} else if (strcmp(job->kind, "build") == 0 && job->patch) {
		for (i = 0; i < n->nr_specs; i++)
			if (strcmp(job->patch, n->specs[i]) == 0)
				break;
		if (i == n->nr_specs)
			return 0;
	} else {
		return 0;
	}
	subject = elp_job_subject(job);
	if (!subject)
		return -ENOMEM;
	if (strcmp(job->state, "running") == 0) {
		n->err = elp_buf_printf(&n->running, "%sjob %lld (%s)",
					n->running.len ? ", " : "",
					(long long)job->id, subject);
		free(subject);
		return n->err;
	}
	nq = elp_grow(n->queued, &n->cap_queued, n->nr_queued + 1, sizeof(*nq));
	if (!nq) {
		free(subject);
		return -ENOMEM;
	}
	n->queued = nq;
	nq[n->nr_queued] = job->id;
	n->err = elp_strv_push(&n->subjects, &n->nr_queued, subject);
	free(subject);
	return n->err;
}

static void needs_release(struct needs *n)
{
	elp_strv_free(n->specs, n->nr_specs);
	elp_strv_free(n->subjects, n->nr_queued);
	free(n->queued);
	elp_buf_free(&n->running);
}

/* The catalogue's part of a removal, in the caller's transaction. */
static int remove_records(struct elp_catalogue *cat,
			  const struct elp_overlay *o, bool force,
			  struct needs *n, struct elp_overlay_removal *rm)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_event ev = { .kind = "overlay-remove" };
	struct elp_buf list = { 0 };
	char *why = NULL, *detail = NULL;
	size_t i;
	int err;

	err = overlay_store_patch_specs(cat, o->id, &n->specs, &n->nr_specs);
	rm->patches = n->nr_specs / 2;
	if (!err) {
		err = elp_job_foreach(cat, job_needs, n);
		err = err < 0 ? err : n->err;
	}
	if (err)
		return err;
	if (n->running.len) {
		elp_err(ctx,
			"overlay '%s' is needed by a running job: %s; wait for it to end",
			o->name, n->running.data);
		return -EBUSY;
	}
	for (i = 0; i < n->nr_queued; i++)
		if (elp_buf_printf(&list, "%sjob %lld (%s)", i ? ", " : "",
				   (long long)n->queued[i], n->subjects[i])) {
			elp_buf_free(&list);
			return -ENOMEM;
		}
	if (n->nr_queued && !force) {
		elp_err(ctx,
			"overlay '%s' is needed by %zu queued job%s: %s; run %s first (elivepatch queue run), or remove it with --force, which cancels %s",
			o->name, n->nr_queued, n->nr_queued == 1 ? "" : "s",
			list.data, n->nr_queued == 1 ? "it" : "them",
			n->nr_queued == 1 ? "it" : "them");
		elp_buf_free(&list);
		return -EBUSY;
	}
	elp_buf_free(&list);
	err = overlay_store_remove(cat, o->id, &rm->fixes);
	if (!err && n->nr_queued &&
	    asprintf(&why, "overlay '%s' was removed", o->name) < 0)
		err = -ENOMEM;
	for (i = 0; !err && i < n->nr_queued; i++) {
		err = elp_job_cancel(cat, n->queued[i], why);
		if (err == -ENOENT) /* it ended meanwhile: not ours to cancel */
			err = 0;
	}
	free(why);
	if (!err &&
	    asprintf(
		    &detail,
		    "%s: %zu fix%s removed, %zu patch%s kept; %zu queued job%s cancelled",
		    o->name, rm->fixes, rm->fixes == 1 ? "" : "es", rm->patches,
		    rm->patches == 1 ? "" : "es", n->nr_queued,
		    n->nr_queued == 1 ? "" : "s") < 0)
		err = -ENOMEM;
	if (!err) {
		ev.detail = detail;
		err = elp_event_add(cat, &ev);
	}
	free(detail);
	if (!err) {
		/* the jobs cancelled: the caller's now */
		rm->jobs = n->queued;
		rm->job_subjects = n->subjects;
		rm->nr_jobs = n->nr_queued;
		n->queued = NULL;
		n->subjects = NULL;
		n->nr_queued = 0;
	}
	return err;
}

int elp_overlay_remove(struct elp_catalogue *cat, const char *name, bool force,
		       struct elp_overlay_removal *rm)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct needs n = { .ctx = ctx, .overlay = name };
	struct elp_overlay *o = NULL;
	char *aside = NULL;
	bool moved = false;
	int err;

	memset(rm, 0, sizeof(*rm));
	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	err = elp_overlay_find(cat, name, &o);
	if (!err && !o)
		err = -ENOENT;
	if (!err && o->removed_at) {
		elp_err(ctx, "overlay '%s' was removed already", name);
		err = -ENOENT;
	}
	if (!err)
		err = remove_records(cat, o, force, &n, rm);
	/* the clone moved aside first, so that a failed commit can undo it */
	if (!err && o->managed) {
		aside = store_path(cat, name, ".removed");
		if (!aside)
			err = -ENOMEM;
		else
			elp_rm_rf(ctx, aside);
		if (!err && rename(o->path, aside) == 0)
			moved = true;
		else if (!err && errno != ENOENT) {
			err = -errno;
			elp_err(ctx, "cannot remove '%s': %s", o->path,
				strerror(errno));
		}
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err) {
		elp_catalogue_rollback(cat);
		if (moved && rename(aside, o->path))
			elp_err(ctx, "cannot put '%s' back: %s", o->path,
				strerror(errno));
		elp_overlay_removal_release(rm);
		goto out;
	}
	if (moved) {
		elp_rm_rf(ctx, aside);
		rm->deleted = strdup(o->path);
	} else if (!o->managed) {
		rm->kept = strdup(o->path);
	}
	if (o->managed && o->signing_key && unlink(o->signing_key) &&
	    errno != ENOENT)
		elp_warn(ctx, "cannot remove '%s': %s", o->signing_key,
			 strerror(errno));
	if ((moved && !rm->deleted) || (!o->managed && !rm->kept))
		err = -ENOMEM;
out:
	needs_release(&n);
	elp_overlay_free(o);
	free(aside);
	return err;
}
