/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to src/engine/build-scope*.c: what the scope pass (build-scope.c)
 * asks of the three files that answer it.
 */
#ifndef ELP_BUILD_SCOPE_INTERNAL_H
#define ELP_BUILD_SCOPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "build-internal.h"

/* build-scope-kbuild.c: kbuild Makefiles, read into b->mkfiles */
enum elp_scope_built {
	ELP_SCOPE_NOT_BUILT = 0,
	ELP_SCOPE_BUILT = 1,
	ELP_SCOPE_UNKNOWN = 2, /* the Makefile cannot be evaluated */
};
/*
 * Is the object "fs/proc/x.o" built with the kernel's config (b->config)?
 * When not, *why says why ("fs/Makefile builds x.o only with CONFIG_X,
 * which is not set"); free it in any case.
 */
enum elp_scope_built elp_scope_obj_built(struct elp_bstate *b, const char *obj,
					 char **why);

/* build-scope-idents.c */
/*
 * Adds to idents the identifiers the patch's hunks in header path change;
 * sets *unknown when a changed line belongs to no definition it can name.
 */
int elp_scope_header_idents(const struct elp_patch *p, const char *path,
			    struct elp_strset *idents, bool *unknown);
/*
 * idents grown to a fixed point with what the headers in closure (those
 * including a changed header, and the changed headers) define on top of
 * them.
 */
int elp_scope_derive_idents(struct elp_bstate *b,
			    const struct elp_strset *closure,
			    struct elp_strset *idents);
/* Does the file's text use one of the identifiers (as a word)? */
bool elp_scope_uses(const char *text, const struct elp_strset *idents);

/* build-scope-includes.c */
/* <tree_root>/include-index: "./path:#include <name>" lines, made once. */
int elp_scope_include_index(struct elp_bstate *b, char **data);
/* Adds to closure every file including one of its files, directly or not. */
int elp_scope_includers(const char *index, struct elp_strset *closure);
/* "from\tincluded" lines for every #include "x.c" of the index. */
int elp_scope_included_c_files(const char *index, struct elp_buf *out);
/*
 * Keeps of files (.c, built with this config) those that include one of
 * b->headers as the compiler sees them (kbuild's dependency lists); *n is
 * updated, the files dropped are freed.
 */
int elp_scope_compiler_includers(struct elp_bstate *b, char **files, size_t *n);

#endif
