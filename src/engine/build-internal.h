/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to src/engine/build*.c: the state one build carries between passes. */
#ifndef ELP_BUILD_INTERNAL_H
#define ELP_BUILD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/catalogue.h"
#include "../lib/elp.h"
#include "../lib/kernel.h"
#include "../lib/patch.h"
#include "../lib/util.h"
#include "build.h"
#include "engine.h"

#define ELP_BUILD_KCFLAGS "-ffunction-sections -fdata-sections"

/* One changed translation unit. */
struct elp_bunit {
	char *src; /* "fs/proc/cmdline.c", relative to the tree */
	char *obj; /* "fs/proc/cmdline.o" */
	char *pristine_sha; /* sha256 of the unpatched .c */
	char *orig_o; /* <work>/orig/unitN.o */
	char *patched_o; /* <work>/patched/unitN.o */
	char *diff_o; /* <work>/module/unitN.o when something changed */
	char *target; /* "vmlinux" or the module the object is part of */
	bool extra; /* from --extra-files: no patch changes it */
	struct elp_diff_result *diff;
};

struct elp_bstate {
	struct elp_ctx *ctx; /* the build's own context: logs and captures */
	struct elp_ctx *outer; /* the caller's (catalogue's) context */
	struct elp_catalogue *cat;
	const struct elp_build_options *opts;
	struct elp_build_result *res;

	struct elp_kernel *kernel;
	struct elp_patch **patches; /* livepatch patches, in order */
	size_t nr_patches;
	struct elp_patch **oot; /* the kernel's out-of-tree patches */
	size_t nr_oot;

	char *cc; /* compiler program */
	char *cc_version; /* its --version first line */
	int64_t toolchain_id; /* catalogued toolchain, 0: none */
	char *source_identity;
	char *cache; /* cache root */
	char *tree_key; /* hash of what the prepared tree depends on */
	char *tree_root; /* <cache>/trees/<key> */
	char *tree; /* <tree_root>/linux */
	int lock_fd;
	bool journal_active; /* livepatch patches applied, not yet restored */
	char *build_key; /* <catalogue hash>-<build id> */
	char *workdir; /* <cache>/builds/<build_key> */
	int log_fd;
	char *first_error;
	char *refusal; /* set by a pass that refuses */
	unsigned int jobs;

	bool cumulative; /* klp_patch.replace: the module replaces all */
	char *include_dir; /* <datadir>/include, for the patched compile */
	char *include_sha; /* sha256 of its elivepatch.h, or "none" */
	char **headers; /* headers the patches change */
	size_t nr_headers, cap_headers;
	char *config; /* the prepared tree's .config (scope pass) */
	struct elp_mkfile *mkfiles; /* kbuild Makefiles read (scope) */
	size_t nr_mkfiles, cap_mkfiles;

	struct elp_bunit *units;
	size_t nr_units, cap_units;
	long long t0;
	/* special-section entry layouts of the tree (build-probe.c) */
	struct elp_special_layout layout;
};

/* Records why the build is refused (first call wins); returns -ENOTSUP. */
int elp_bstate_refuse(struct elp_bstate *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool elp_bstate_cancelled(const struct elp_bstate *b);
/* Is option ("CONFIG_X") "y" in the kernel's config? */
bool elp_bconfig_on(const struct elp_bstate *b, const char *option);

/*
 * "make -C <dir> -jN CC=<cc> [KCFLAGS=...] <targets...>", output into the
 * build log.  On failure logs "<what> failed: <first error in the log>".
 */
int elp_bmake(struct elp_bstate *b, const char *dir, const char *const *targets,
	      size_t nr_targets, bool kcflags, const char *what);
/* The same without the error message, for a first try whose failure the
 * caller handles: -EIO when make failed. */
int elp_bmake_try(struct elp_bstate *b, const char *dir,
		  const char *const *targets, size_t nr_targets, bool kcflags);
/* argv in cwd (NULL: here), output into the build log; in a sandbox when
 * the build asked for one (the tree and the work dir writable). */
int elp_brun(struct elp_bstate *b, const char *const *argv, const char *cwd);
/* "$ argv..." into the build log (argv ends with NULL), before running it. */
void elp_blog_argv(struct elp_bstate *b, const char *const *argv);
int elp_bcopy_file(struct elp_ctx *ctx, const char *from, const char *to);

/* build-resolve.c: the inputs of the build, then its units and headers */
int elp_bresolve(struct elp_bstate *b);
int elp_bplan_units(struct elp_bstate *b);

/* build-record.c */
int elp_brecord_start(struct elp_bstate *b); /* the 'running' builds row */
int elp_brecord_stage(struct elp_bstate *b, size_t i);
/* The outcome, its stages and its event, in one transaction. */
int elp_brecord_finish(struct elp_bstate *b);
/* 1 when an identical succeeded build answers (its result in b->res), 0
 * when there is none, or -errno. */
int elp_bfind_identical(struct elp_bstate *b);
/* functions.tsv next to the artefact: what the module replaces. */
int elp_brecord_functions(struct elp_bstate *b, const char *path);
/* The module to --output, when given. */
int elp_bcopy_output(struct elp_bstate *b, const char *ko);

/* build-tree.c */
int elp_btree_prepare(struct elp_bstate *b); /* takes the lock */
void elp_btree_unlock(struct elp_bstate *b);
int elp_btree_apply(struct elp_bstate *b);
int elp_btree_restore(struct elp_bstate *b);
/* A tree from a tarball may hold only part of it: is some file still in
 * the tarball alone? */
bool elp_btree_partial(const struct elp_bstate *b);
/* Extracts those of paths (relative to the tree) that are in the tarball
 * and not in the tree yet; 0 when there is nothing to extract. */
int elp_btree_need(struct elp_bstate *b, char *const *paths, size_t n);
/* The files the build names and what its units #include "next to them". */
int elp_btree_need_inputs(struct elp_bstate *b);
/* Every file not extracted yet. */
int elp_btree_need_all(struct elp_bstate *b);

/* build-unpack.c: a kernel source tarball into dest. Every regular file
 * want accepts (all when want is NULL), every directory and symlink; the
 * paths of the files left out, one a line, appended to skipped when it is
 * not NULL. With want and without skipped (on demand, into a tree in use)
 * each file is written whole or not at all. */
typedef bool elp_unpack_want(const char *rel, void *data);
int elp_unpack_tarball(struct elp_bstate *b, const char *tarball,
		       const char *dest, elp_unpack_want *want, void *data,
		       struct elp_buf *skipped);

/* build-compile.c */
int elp_bcompile_original(struct elp_bstate *b);
int elp_bcompile_patched(struct elp_bstate *b);
int elp_bdiff(struct elp_bstate *b);

/* build-scope.c: is each unit built with this config; which files use
 * the inline code of a changed header (build-scope-*.c answer it) */
struct elp_mkfile {
	char *dir;
	char *text; /* logical lines: continuations joined, comments cut */
};
int elp_bscope(struct elp_bstate *b);
void elp_bscope_free(struct elp_bstate *b);
/*
 * build-scope-idents.c (the rest of the scope files' own functions are in
 * build-scope-internal.h):
 * idents (one a line) grown to a fixed point with the macros and inline
 * functions the header texts define whose body uses one of them; one a
 * line, in no order, or NULL without memory.
 */
char *elp_scope_derive(const char *const *headers, size_t n,
		       const char *idents);
/* build-scope-includes.c: does a kbuild dependency list (a .cmd file) name
 * one of the headers? */
bool elp_scope_deps_name(const char *cmd, char *const *headers, size_t n);

/* build-probe.c: the tree's special-section layouts into b->layout */
int elp_bprobe_layout(struct elp_bstate *b);

/* build-module.c */
int elp_bmodule_generate(struct elp_bstate *b, const char *dir);
int elp_bmodule_link(struct elp_bstate *b, const char *dir, char **ko_path);
/* The module pass: both of the above, then the artefact into the cache. */
int elp_bmodule(struct elp_bstate *b);

#endif
