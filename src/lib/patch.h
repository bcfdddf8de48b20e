/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unified diffs: parsing (libgit2), cataloguing and applying to a tree.
 * Functions named *_store write inside the caller's transaction.
 */
#ifndef ELP_PATCH_H
#define ELP_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "elp.h"

enum elp_patch_kind {
	ELP_PATCH_LIVEPATCH, /* a fix to turn into a livepatch */
	ELP_PATCH_KERNEL, /* an out-of-tree patch a kernel was built with */
};

struct elp_patch_file {
	char *path; /* new path (old path for deletions), no a/ b/ prefix */
	char *status; /* "added", "modified", "deleted", "renamed" */
	int hunks, additions, deletions;
	char **functions; /* from hunk headers, unique, in order */
	size_t nr_functions;
};

struct elp_patch {
	int64_t id; /* 0 until stored */
	char *name;
	enum elp_patch_kind kind;
	char *sha256;
	char *content; /* as given by the user */
	char *origin; /* absolute path of the file it came from */
	char *subject; /* "Subject:" of a format-patch mail, else NULL */
	int64_t created_at;
	struct elp_patch_file *files;
	size_t nr_files, cap_files;
	char **cves; /* "CVE-YYYY-NNNN" */
	size_t nr_cves;
};

/* Parse a unified diff (git or plain form); logs "<origin>:<line>: ..." */
int elp_patch_parse(struct elp_ctx *ctx, const char *origin,
		    const char *content, size_t len, struct elp_patch **out);
/* Read and parse a file. */
int elp_patch_load(struct elp_ctx *ctx, const char *path,
		   struct elp_patch **out);
/* Add a CVE id (case-insensitive CVE-YYYY-NNNN..., stored upper-case);
 * 0 also when already there, -EINVAL (not logged) when malformed. */
int elp_patch_add_cve(struct elp_patch *p, const char *cve);
/* CVE-\d{4}-\d{4,}, case-insensitive. */
bool elp_cve_is_valid(const char *cve);
void elp_patch_free(struct elp_patch *p);

const char *elp_patch_kind_name(enum elp_patch_kind kind);

/* Insert patch, files, functions, CVEs; -EEXIST (logged) on a duplicate. */
int elp_patch_store(struct elp_catalogue *cat, struct elp_patch *p);
/* Store p and its 'patch-add' event in one transaction. */
int elp_patch_add(struct elp_catalogue *cat, struct elp_patch *p);
/*
 * Replace the content of catalogued patch p->id (sha256, content, origin,
 * subject, files, functions, CVEs) in place; its name and id stay.
 */
int elp_patch_update(struct elp_catalogue *cat, const struct elp_patch *p);
/* By name, then numeric id, then sha256 prefix. -ENOENT (logged) if none. */
int elp_patch_find(struct elp_catalogue *cat, const char *spec,
		   struct elp_patch **out);
/*
 * A cumulative build's patches: those of applied (elp_builds_applied_patch_ids,
 * looked up), then *patches (owned) not among them, each once; *patches
 * and *nr_patches are replaced, the patches left out freed.  Logged (info)
 * on ctx.  On failure *patches is unchanged.
 */
int elp_patch_cumulative_merge(struct elp_catalogue *cat, struct elp_ctx *ctx,
			       const int64_t *applied, size_t nr_applied,
			       struct elp_patch ***patches, size_t *nr_patches);
/* Is a patch of that name catalogued? (false when it cannot tell) */
bool elp_patch_name_taken(struct elp_catalogue *cat, const char *name);
/*
 * A build's --patch: a catalogue spec, or a file catalogued on the fly as a
 * livepatch patch (under the name its file suggests, or that name and its
 * sha256 prefix when taken; the catalogued one when the content is known).
 * For a file, *file_name is the name the file suggests.
 */
int elp_patch_resolve(struct elp_catalogue *cat, const char *spec,
		      struct elp_patch **out, char **file_name);
/*
 * elp_patch_resolve() of each of a build's n --patch specs, in order, into
 * *out (an array of n; free each and the array); *first_file is the file
 * name of the first (NULL when it is a catalogue spec).  On failure nothing
 * is left to free.
 */
int elp_patch_resolve_all(struct elp_catalogue *cat, const char *const *specs,
			  size_t n, struct elp_patch ***out, char **first_file);
/* Same content already catalogued with this kind? 0/1 or -errno. */
int elp_patch_find_by_sha(struct elp_catalogue *cat, enum elp_patch_kind kind,
			  const char *sha256, struct elp_patch **out);

/*
 * Delete the patch spec names, its files, functions and CVEs, and record a
 * 'patch-remove' event, in one transaction; *out is the removed patch.
 * Refused with -EBUSY (logged, naming them) while a build or a kernel
 * references it.
 */
int elp_patch_remove(struct elp_catalogue *cat, const char *spec,
		     struct elp_patch **out);

typedef int (*elp_patch_cb)(const struct elp_patch *p, void *data);
int elp_patch_foreach(struct elp_catalogue *cat, elp_patch_cb cb, void *data);

/*
 * Apply (or reverse-apply) a patch to the files of a directory tree, all or
 * nothing: no file is written unless every hunk applies.  On failure logs
 * "patch '<name>' does not apply: <file>: <hunk>".
 * Only the files the patch names are read.  Hunks whose context has moved
 * are found nearby (as patch(1) does); no fuzz.  -EINVAL/-ENOENT/-EEXIST
 * when it does not apply, -ENOTSUP to reverse binary changes or copies.
 */
int elp_patch_apply(struct elp_ctx *ctx, const char *tree_dir,
		    const struct elp_patch *p, bool reverse);

#endif
