// SPDX-License-Identifier: GPL-2.0-or-later
/* libgit2 set-up and error reporting for on-disk repositories. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <git2.h>

#include "git.h"

/*
 * libgit2 keeps per-thread state (its regex and error buffers) until its
 * last shutdown; at exit every reference is dropped so that the process
 * ends with nothing allocated (the sanitizer builds check it).
 */
static void shutdown_all(void)
{
	while (git_libgit2_shutdown() > 0)
		;
}

void elp_git_init(void)
{
	static int initialised;

	if (!__atomic_exchange_n(&initialised, 1, __ATOMIC_SEQ_CST)) {
		git_libgit2_init();
		atexit(shutdown_all);
	}
}

int elp_git_error(struct elp_ctx *ctx, int rc, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char *what = NULL;
	va_list args;

	va_start(args, fmt);
	if (vasprintf(&what, fmt, args) < 0)
		what = NULL;
	va_end(args);
	elp_err(ctx, "%s: %s", what ? what : "git",
		e && e->message ? e->message : "unknown libgit2 error");
	free(what);
	switch (rc) {
	case GIT_ENOTFOUND:
		return -ENOENT;
	case GIT_EEXISTS:
		return -EEXIST;
	case GIT_ELOCKED:
		return -EAGAIN;
	default:
		return -EIO;
	}
}
