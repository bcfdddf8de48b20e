/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the files of patch overlays: the public operations (overlay.c)
 * call down into importing a checkout's fixes (overlay-import.c), the git
 * side (overlay-git.c) and the format (overlay-meta.c); both overlay.c and
 * overlay-import.c reach the catalogue's overlay tables through
 * overlay-store.c, the only file with SQL on them; none of these calls
 * back up.
 */
#ifndef ELP_OVERLAY_INTERNAL_H
#define ELP_OVERLAY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <git2.h>

#include "overlay.h"

static inline char *overlay_path_join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

/* overlay-meta.c */
int overlay_conf_words(char *value, char ***v, size_t *n,
		       bool (*ok)(const char *), const char **bad);

/* overlay-git.c */
char *overlay_oid_hex(const git_oid *oid);
int overlay_verify_commits(struct elp_ctx *ctx, git_repository *repo,
			   const git_oid *tip, const git_oid *base,
			   const char *keyring, const char *overlay);
int overlay_clone_url(struct elp_ctx *ctx, const char *url, char **out);
int overlay_copy_keyring(struct elp_ctx *ctx, const char *from, const char *to);
int overlay_head_oid(struct elp_ctx *ctx, git_repository *repo,
		     const char *name, git_oid *oid);
int overlay_fetch_tip(struct elp_ctx *ctx, git_repository *repo,
		      const char *name, git_reference **branch, git_oid *tip);
int overlay_move_to(struct elp_ctx *ctx, git_repository *repo,
		    git_reference *branch, const git_oid *tip,
		    const char *name);

/* overlay-import.c */
int overlay_import_checkout(struct elp_catalogue *cat,
			    const struct elp_overlay *o, const char *root,
			    const char *commit, const char *event, bool revive,
			    struct elp_overlay_report *rep);

/*
 * overlay-store.c: the overlays, overlay_fixes, overlay_patches and
 * patch_versions tables.  0 or -errno (logged) unless said otherwise.
 */
/* The overlay named so, removed or not: 1 found (*out), 0 not; quiet. */
int overlay_store_lookup(struct elp_catalogue *cat, const char *name,
			 struct elp_overlay **out);
/* A new overlay's row: sets o->created_at (now) and o->id. */
int overlay_store_insert(struct elp_catalogue *cat, struct elp_overlay *o);
/* An overlay's row deleted (an add that failed: no half-added overlay). */
int overlay_store_delete(struct elp_catalogue *cat, int64_t id);
/* A removed overlay's row taken up again, with what o says now. */
int overlay_store_revive(struct elp_catalogue *cat,
			 const struct elp_overlay *o);
/* The commit catalogued (NULL: none, not a git checkout), synced at now. */
int overlay_store_set_commit(struct elp_catalogue *cat, int64_t id,
			     const char *commit, int64_t now);
/* An overlay removed: its present fixes too (*fixes: how many). */
int overlay_store_remove(struct elp_catalogue *cat, int64_t id, size_t *fixes);
/* The ids and names of an overlay's patches, by id: "ID", "NAME", ... */
int overlay_store_patch_specs(struct elp_catalogue *cat, int64_t overlay_id,
			      char ***specs, size_t *nr);
/* 1 when the overlay has a present fix of this name, 0 not. */
int overlay_store_fix_present(struct elp_catalogue *cat, int64_t overlay_id,
			      const char *name);
/* Insert or update a fix (present, updated_at now if it changed); *id. */
int overlay_store_upsert_fix(struct elp_catalogue *cat, int64_t overlay_id,
			     const struct elp_fix *fix, const char *commit,
			     int64_t now, int64_t *id);
/*
 * The overlay's present fixes not named in seen marked removed; *removed
 * counts them.
 */
int overlay_store_remove_fixes_except(struct elp_catalogue *cat,
				      int64_t overlay_id, char **seen,
				      size_t nr_seen, size_t *removed);
/*
 * A fix's writes as one savepoint, inside the import's transaction:
 * begun, undone (rolled back and released) or ended (released).
 */
int overlay_store_fix_begin(struct elp_catalogue *cat);
int overlay_store_fix_undo(struct elp_catalogue *cat);
int overlay_store_fix_end(struct elp_catalogue *cat);
/* The catalogued patch of a fix read from path: *id (0: none), *sha256. */
int overlay_store_fix_patch(struct elp_catalogue *cat, int64_t fix_id,
			    const char *path, int64_t *id, char **sha256);
/* A patch is the fix's position-th, read from path at commit. */
int overlay_store_link_patch(struct elp_catalogue *cat, int64_t fix_id,
			     int64_t patch_id, int position, const char *path,
			     const char *commit);
/*
 * A patch's content (and its overlay commit) kept in patch_versions,
 * replaced at now: before the patch is updated in place.
 */
int overlay_store_keep_version(struct elp_catalogue *cat, int64_t patch_id,
			       int64_t now);

#endif
