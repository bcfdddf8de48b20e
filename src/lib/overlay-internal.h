/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the files of patch overlays: the public operations and the
 * catalogue's overlays table (overlay.c) call down into importing a
 * checkout's fixes (overlay-import.c), the git side (overlay-git.c) and
 * the format (overlay-meta.c); none of these calls back up.
 */
#ifndef ELP_OVERLAY_INTERNAL_H
#define ELP_OVERLAY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <git2.h>

#include "catalogue-internal.h"
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
void overlay_bind_text_or_null(sqlite3_stmt *st, int col, const char *s);
int overlay_exec_id(struct elp_catalogue *cat, const char *sql, int64_t id,
		    const char *what);
int overlay_import_checkout(struct elp_catalogue *cat,
			    const struct elp_overlay *o, const char *root,
			    const char *commit, const char *event, bool revive,
			    struct elp_overlay_report *rep);

#endif
