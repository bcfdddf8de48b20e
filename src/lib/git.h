/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libgit2: initialisation and the places its errors become log lines, for
 * repositories on disk (overlays) and for patches.
 */
#ifndef ELP_GIT_H
#define ELP_GIT_H

#include "elp.h"

/* git_libgit2_init() once per process; libgit2 is shut down at exit. */
void elp_git_init(void);

/*
 * Log "<what>: <libgit2's last message>" and return a -errno for rc, a
 * libgit2 error code: -ENOENT for GIT_ENOTFOUND, -EEXIST for GIT_EEXISTS,
 * -EAGAIN for GIT_ELOCKED, -ENOMEM when libgit2 ran out of memory, -EIO
 * otherwise.
 */
int elp_git_error(struct elp_ctx *ctx, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * libgit2 for in-memory work (parsing and applying patches): initialised
 * once, never shut down (a build may still hold libgit2 objects at exit).
 */
void elp_git_init_memory(void);

/*
 * The one place libgit2's errors about a patch become log lines:
 * "<prefix>: <message>".  When map is given and the message ends in " at
 * line N" (libgit2's parse errors, counted in the text it was given), N is
 * translated back to the user's file and the line is logged as
 * "<prefix>:<line>: <message>".  -ENOENT, -EINVAL (does not apply),
 * -EEXIST, -ENOMEM or -EIO.
 */
int elp_git_fail(struct elp_ctx *ctx, int rc, const size_t *map, size_t nmap,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
