/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Catalogue operations on kernels as 'kernel add/detect/remove/patch add',
 * the queue runner and a builder do them: a kernel described from what it was
 * given, stored with its history event in one transaction.
 */
#ifndef ELP_KERNEL_ADD_H
#define ELP_KERNEL_ADD_H

#include <stdbool.h>
#include <stddef.h>

#include "kernel.h"

/* What a kernel is described from; NULL: found or derived. */
struct elp_kernel_given {
	const char *release;
	const char *source; /* directory or tarball */
	const char *config;
	const char *build; /* kbuild directory */
	const char *symbols;
	const char *image;
	const char *modules;
	const char *name; /* default: the release */
	/* around a long step (booting the image for its symbols) */
	void (*long_step)(void *data, const char *what, bool begin);
	void *data;
};

enum elp_kernel_missing {
	ELP_KERNEL_MISSING_NOTHING,
	/* not a built tree and no image: the release cannot be found */
	ELP_KERNEL_MISSING_RELEASE,
	/* no .config in the source nor beside the image */
	ELP_KERNEL_MISSING_CONFIG,
};

/*
 * The kernel given->source (required) describes, with the inputs given (an
 * explicit config or build dir wins over the source dir's) and the rest
 * found: symbol table (found, else derived by booting the image), modules
 * tree.  When the release or config can be neither given nor found, returns
 * 0 with *missing saying which and *out the kernel described so far.
 * *release_origin: where the release came from when it was not given.
 */
int elp_kernel_describe(struct elp_ctx *ctx, const struct elp_kernel_given *g,
			struct elp_kernel **out, const char **release_origin,
			enum elp_kernel_missing *missing);
/* The running kernel, with the source, build dir, symbols, modules given. */
int elp_kernel_describe_running(struct elp_ctx *ctx,
				const struct elp_kernel_given *g,
				struct elp_kernel **out);

/*
 * Store k and its 'kernel-add' event (detail NULL: the kernel's name) within
 * the caller's transaction; elp_kernel_add in one of its own.  A kernel
 * without CONFIG_LIVEPATCH is refused (-ENOTSUP, not logged: the caller says
 * how to force it) unless force.
 */
int elp_kernel_insert(struct elp_catalogue *cat, struct elp_kernel *k,
		      const char *detail);
int elp_kernel_add(struct elp_catalogue *cat, struct elp_kernel *k,
		   const char *detail, bool force);

/*
 * Remove the kernel, with its 'kernel-remove' event.  Builds referencing it:
 * -EBUSY (not logged) and *nr_builds, unless force (they are kept, detached).
 */
int elp_kernel_delete(struct elp_catalogue *cat, const struct elp_kernel *k,
		      bool force, int *nr_builds);

/*
 * Record the out-of-tree patch files the kernel was built with, in order
 * after those recorded, with one 'kernel-patch-add' event; a file whose
 * content is already a kernel patch reuses it.  All or none.
 */
int elp_kernel_patch_add(struct elp_ctx *ctx, struct elp_catalogue *cat,
			 const struct elp_kernel *k, const char *const *files,
			 size_t nr_files);
/* The names of the kernel's out-of-tree patches, in order (NULL-ended). */
int elp_kernel_patch_names(struct elp_catalogue *cat, int64_t kernel_id,
			   char ***names, size_t *nr);

#endif
