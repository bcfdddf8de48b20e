/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libgit2 for repositories on disk (overlays): initialisation and the one
 * place its errors become log lines.
 */
#ifndef ELP_GIT_H
#define ELP_GIT_H

#include "elp.h"

/* git_libgit2_init() once per process; libgit2 is shut down at exit. */
void elp_git_init(void);

/*
 * Log "<what>: <libgit2's last message>" and return a -errno for rc, a
 * libgit2 error code: -ENOENT for GIT_ENOTFOUND, -EEXIST for GIT_EEXISTS,
 * -EAGAIN for GIT_ELOCKED, -EIO otherwise.
 */
int elp_git_error(struct elp_ctx *ctx, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
