// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Patch overlays: importing a checkout's fixes (livepatches/FIX/) into the
 * overlay_fixes, overlay_patches and patch_versions tables (written by
 * overlay-store.c).
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "overlay-internal.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"

#define FIXES_DIR "livepatches"
#define FIX_CONF "fix.conf"

/* ---- import: the checkout's fixes into the catalogue ---- */

struct import {
	struct elp_catalogue *cat;
	struct elp_ctx *ctx;
	const struct elp_overlay *o;
	const char *root; /* the checkout */
	const char *commit; /* HEAD, or NULL */
	struct elp_overlay_report *rep;
	int64_t now;
};

static int is_patch_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 6 &&
	       strcmp(d->d_name + n - 6, ".patch") == 0;
}

static int is_fix_dir(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int skip_fix(struct import *im, const char *fix, const char *why)
{
	char *s;

	if (asprintf(&s, "%s: %s", fix, why) < 0)
		return -ENOMEM;
	elp_warn(im->ctx, "overlay '%s': fix '%s' skipped: %s", im->o->name,
		 fix, why);
	if (elp_strv_push(&im->rep->skipped, &im->rep->nr_skipped, s)) {
		free(s);
		return -ENOMEM;
	}
	free(s);
	return 0;
}

static int patch_event(struct import *im, const char *kind, int64_t patch_id,
		       const char *detail)
{
	struct elp_event ev = {
		.time = im->now,
		.kind = kind,
		.patch_id = patch_id,
		.detail = detail,
	};

	return elp_event_add(im->cat, &ev);
}

/* Keep the old content, then replace it. */
static int update_patch(struct import *im, struct elp_patch *p,
			const char *old_sha)
{
	char *detail = NULL;
	int err;

	err = overlay_store_keep_version(im->cat, p->id, im->now);
	if (!err)
		err = elp_patch_update(im->cat, p);
	if (!err && asprintf(&detail, "%s: %.12s -> %.12s (overlay %s%s%.12s)",
			     p->name, old_sha, p->sha256, im->o->name,
			     im->commit ? " commit " : "",
			     im->commit ? im->commit : "") < 0)
		err = -ENOMEM;
	if (!err)
		err = patch_event(im, "patch-update", p->id, detail);
	free(detail);
	return err;
}

/*
 * One patch of a fix: new (stored), changed (updated in place), or the
 * same.  Returns 1 when added or updated (*changed counts it), 0 same.
 */
static int import_patch(struct import *im, int64_t fix_id, int position,
			const char *rel, struct elp_patch *p, bool *updated)
{
	int64_t id;
	char *sha = NULL;
	int err;

	err = overlay_store_fix_patch(im->cat, fix_id, rel, &id, &sha);
	if (err)
		return err;
	if (id && strcmp(sha, p->sha256) == 0) {
		free(sha);
		return overlay_store_link_patch(im->cat, fix_id, id, position,
						rel, im->commit);
	}
	if (id) {
		p->id = id;
		err = update_patch(im, p, sha);
		*updated = true;
	} else {
		err = elp_patch_store(im->cat, p);
		if (!err)
			err = patch_event(im, "patch-add", p->id, p->name);
	}
	free(sha);
	if (!err)
		err = overlay_store_link_patch(im->cat, fix_id, p->id, position,
					       rel, im->commit);
	if (!err)
		err = elp_strv_push(&im->rep->changed, &im->rep->nr_changed,
				    p->name);
	return err ? err : 1;
}

/* Read a fix directory: its fix.conf and patches, parsed, all or none. */
static int read_fix(struct import *im, const char *name, struct elp_fix *fix,
		    struct elp_patch ***patches, char ***rels, size_t *nr)
{
	struct dirent **ents = NULL;
	char *dir = NULL, *conf = NULL, *text = NULL;
	size_t len, i;
	int n = 0, k, err;

	*patches = NULL;
	*rels = NULL;
	*nr = 0;
	if (asprintf(&dir, "%s/" FIXES_DIR "/%s", im->root, name) < 0)
		return -ENOMEM;
	conf = overlay_path_join(dir, FIX_CONF);
	err = conf ? elp_read_file(im->ctx, conf, &text, &len) : -ENOMEM;
	if (!err)
		err = elp_fix_conf_parse(im->ctx, conf, text, fix);
	if (!err && !(fix->name = strdup(name)))
		err = -ENOMEM;
	if (!err) {
		n = scandir(dir, &ents, is_patch_name, alphasort);
		if (n < 0)
			err = -errno;
		else if (n == 0)
			err = -ENOENT;
	}
	if (!err) {
		*patches = calloc((size_t)n, sizeof(**patches));
		*rels = calloc((size_t)n, sizeof(**rels));
		if (!*patches || !*rels)
			err = -ENOMEM;
	}
	for (k = 0; !err && k < n; k++) {
		char *path = overlay_path_join(dir, ents[k]->d_name);
		struct elp_patch *p = NULL;

		err = path ? elp_patch_load(im->ctx, path, &p) : -ENOMEM;
		free(path);
		if (err)
			break;
		(*patches)[*nr] = p;
		if (asprintf(&(*rels)[*nr], FIXES_DIR "/%s/%s", name,
			     ents[k]->d_name) < 0) {
			(*rels)[*nr] = NULL;
			(*nr)++;
			err = -ENOMEM;
			break;
		}
		(*nr)++;
		p->kind = ELP_PATCH_LIVEPATCH;
		free(p->name);
		if (n == 1)
			err = asprintf(&p->name, "%s:%s", im->o->name, name);
		else
			err = asprintf(&p->name, "%s:%s:%.*s", im->o->name,
				       name, (int)(strlen(ents[k]->d_name) - 6),
				       ents[k]->d_name);
		if (err < 0) {
			p->name = NULL;
			err = -ENOMEM;
			break;
		}
		err = 0;
		for (i = 0; !err && i < fix->nr_cves; i++)
			err = elp_patch_add_cve(p, fix->cves[i]);
	}
	for (k = 0; k < n; k++)
		free(ents[k]);
	free(ents);
	free(text);
	free(conf);
	free(dir);
	return err;
}

static int import_fix(struct import *im, const char *name)
{
	struct elp_fix fix = { 0 };
	struct elp_patch **patches = NULL;
	char **rels = NULL;
	size_t nr = 0, i;
	size_t nr_changed = im->rep->nr_changed;
	bool updated = false, added = false, existed;
	int64_t fix_id = 0;
	int err, e;

	if (!elp_overlay_name_is_valid(name))
		return skip_fix(im, name,
				"not a fix name ([a-z0-9][a-z0-9._-]*)");
	err = read_fix(im, name, &fix, &patches, &rels, &nr);
	if (err == -ENOENT && nr == 0 && fix.summary)
		err = skip_fix(im, name, "no *.patch file");
	else if (err && err != -ENOMEM)
		err = skip_fix(im, name, "cannot be read (see above)");
	else if (!err) {
		/* whether the fix was there before, for the counts */
		e = overlay_store_fix_present(im->cat, im->o->id, name);
		err = e < 0 ? e : overlay_store_fix_begin(im->cat);
		if (err)
			goto out;
		existed = e == 1;
		err = overlay_store_upsert_fix(im->cat, im->o->id, &fix,
					       im->commit, im->now, &fix_id);
		for (i = 0; !err && i < nr; i++) {
			e = import_patch(im, fix_id, (int)i + 1, rels[i],
					 patches[i], &updated);
			if (e < 0)
				err = e;
			else if (e == 1 && !updated)
				added = true;
		}
		if (err == -EEXIST || err == -EINVAL) {
			/* this fix only: the others are catalogued */
			while (im->rep->nr_changed > nr_changed)
				free(im->rep->changed[--im->rep->nr_changed]);
			err = overlay_store_fix_undo(im->cat);
			if (!err)
				err = skip_fix(
					im, name,
					"cannot be catalogued (see above)");
			goto out;
		}
		e = overlay_store_fix_end(im->cat);
		if (!err)
			err = e;
		if (!err && (updated || (added && existed)))
			im->rep->updated++;
		else if (!err && (added || !existed))
			/* new, or back after the overlay or the fix was
			 * removed */
			im->rep->added++;
		else if (!err)
			im->rep->unchanged++;
	}
out:
	for (i = 0; i < nr; i++) {
		elp_patch_free(patches[i]);
		free(rels[i]);
	}
	free(patches);
	free(rels);
	elp_fix_free(&fix);
	return err;
}

/*
 * Catalogue the checkout's fixes and the overlay's commit, in one
 * transaction; with revive, the removed overlay's row is taken up again
 * in it.
 */
int overlay_import_checkout(struct elp_catalogue *cat,
			    const struct elp_overlay *o, const char *root,
			    const char *commit, const char *event, bool revive,
			    struct elp_overlay_report *rep)
{
	struct import im = {
		.cat = cat,
		.ctx = elp_catalogue_ctx(cat),
		.o = o,
		.root = root,
		.commit = commit,
		.rep = rep,
		.now = (int64_t)time(NULL),
	};
	struct dirent **ents = NULL;
	char *dir = overlay_path_join(root, FIXES_DIR), **seen = NULL,
	     *detail = NULL;
	struct elp_event ev = { .kind = event };
	size_t nr_seen = 0;
	int n = 0, i, err;

	if (!dir)
		return -ENOMEM;
	if (elp_is_dir(dir)) {
		n = scandir(dir, &ents, is_fix_dir, alphasort);
		if (n < 0) {
			elp_err(im.ctx, "cannot read '%s': %s", dir,
				strerror(errno));
			free(dir);
			return -errno;
		}
	}
	err = elp_catalogue_begin(cat);
	if (!err && revive)
		err = overlay_store_revive(cat, o);
	for (i = 0; !err && i < n; i++) {
		char *sub = overlay_path_join(dir, ents[i]->d_name);

		if (!sub) {
			err = -ENOMEM;
			break;
		}
		if (elp_is_dir(sub)) {
			err = import_fix(&im, ents[i]->d_name);
			if (!err)
				err = elp_strv_push(&seen, &nr_seen,
						    ents[i]->d_name);
		}
		free(sub);
	}
	/* fixes catalogued but no longer in the checkout */
	if (!err)
		err = overlay_store_remove_fixes_except(cat, o->id, seen,
							nr_seen, &rep->removed);
	if (!err)
		err = overlay_store_set_commit(cat, o->id, commit, im.now);
	if (!err &&
	    asprintf(&detail, "%s%s%.12s: %zu added, %zu updated, %zu removed",
		     o->name, commit ? " at " : "", commit ? commit : "",
		     rep->added, rep->updated, rep->removed) < 0)
		err = -ENOMEM;
	if (!err) {
		ev.time = im.now;
		ev.detail = detail;
		err = elp_event_add(cat, &ev);
	}
	err = elp_catalogue_end(cat, err);
	free(detail);
	elp_strv_free(seen, nr_seen);
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(dir);
	return err;
}
