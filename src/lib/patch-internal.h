/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the patch parser (patch-parse.c), what a parsed patch changes
 * (patch-model.c), the catalogue of patches (patch.c) and applying a patch
 * to a tree (patch-apply.c): the line-based pass's model of a patch and its
 * re-emission in the git form.
 */
#ifndef ELP_PATCH_INTERNAL_H
#define ELP_PATCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <git2.h>

#include "git.h"
#include "patch.h"
#include "util.h"

struct phunk {
	int old_start, old_count, new_start, new_count;
	int adj_old, adj_new; /* starts found in the tree, for apply */
	bool adjusted;
	size_t header; /* line index of the @@ line */
	size_t first, n; /* body lines */
	const char *tail; /* after the second @@, may be "" */
};

struct psection {
	size_t first; /* line index of its first line */
	bool git;
	size_t hdr_n; /* git form: raw header lines from first */
	char *old_path, *new_path; /* NULL for /dev/null */
	char status; /* 'M', 'A', 'D', 'R', 'C' */
	unsigned int old_mode, new_mode;
	int similarity;
	bool binary, quoted;
	struct phunk *hunks;
	size_t nhunks, cap_hunks;
};

struct parser {
	struct elp_ctx *ctx;
	const char *origin;
	char *buf;
	char **lines;
	size_t nlines;
	struct psection *secs;
	size_t nsecs, cap_secs;
	char *subject;
	size_t preamble_end; /* line index of the first section */
};

struct emit {
	struct elp_buf buf;
	size_t *map; /* emitted line -> line number in the user's file */
	size_t nmap, cap;
};

/*
 * Validate content (from origin, for messages) and split it into file
 * sections; P is freed with elp_parser_free() whatever the result.
 */
int elp_parser_run(struct parser *P, struct elp_ctx *ctx, const char *origin,
		   const char *content, size_t len);
void elp_parser_free(struct parser *P);

/* Re-emit every section in the git form, forwards or reversed. */
int elp_emit_all(const struct parser *P, bool reverse, struct emit *e);
void elp_emit_free(struct emit *e);
/* libgit2's parse of what was emitted; its errors name the user's lines. */
int elp_emit_diff(struct elp_ctx *ctx, const char *origin, const struct emit *e,
		  git_diff **diff);

/* A relative path without empty, "." or ".." components. */
bool elp_patch_path_is_safe(const char *path);

/* p's entry for path, added with that status when it has none. */
struct elp_patch_file *elp_patch_file_for(struct elp_patch *p, const char *path,
					  const char *status);
/* patch-model.c: the CVE ids of P's mail part into p. */
int elp_patch_scan_cves(struct elp_patch *p, const struct parser *P);
/* Files, hunks, line counts and touched functions of diff into p. */
int elp_patch_collect_stats(struct elp_ctx *ctx, struct elp_patch *p,
			    git_diff *diff, const char *origin);
int elp_patch_kind_from_name(const char *s, enum elp_patch_kind *kind);

#endif
