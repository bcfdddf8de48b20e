// SPDX-License-Identifier: GPL-2.0-or-later
/* libgit2 set-up and error reporting: on-disk repositories, patches. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The -errno of libgit2's return code rc (e: its last error). */
static int git_errno(int rc, const git_error *e)
{
	switch (rc) {
	case GIT_ENOTFOUND:
		return -ENOENT;
	case GIT_EEXISTS:
		return -EEXIST;
	case GIT_ELOCKED:
		return -EAGAIN;
	case GIT_EAPPLYFAIL:
		return -EINVAL;
	default:
		return rc == -1 && e && e->klass == GIT_ERROR_NOMEMORY ? -ENOMEM
								       : -EIO;
	}
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
	return git_errno(rc, e);
}

void elp_git_init_memory(void)
{
	static int initialised;

	if (!__atomic_exchange_n(&initialised, 1, __ATOMIC_SEQ_CST))
		git_libgit2_init();
}

int elp_git_fail(struct elp_ctx *ctx, int rc, const size_t *map, size_t nmap,
		 const char *fmt, ...)
{
	const git_error *e = git_error_last();
	const char *msg =
		e && e->message ? e->message : "unknown libgit2 error";
	char *prefix = NULL;
	const char *at;
	va_list args;
	size_t n;

	va_start(args, fmt);
	if (vasprintf(&prefix, fmt, args) < 0)
		prefix = NULL;
	va_end(args);
	at = strstr(msg, " at line ");
	if (map && at && sscanf(at, " at line %zu", &n) == 1 && n >= 1 &&
	    n <= nmap) {
		elp_err(ctx, "%s:%zu: %.*s", prefix ? prefix : "patch",
			map[n - 1], (int)(at - msg), msg);
	} else {
		elp_err(ctx, "%s: %s", prefix ? prefix : "libgit2", msg);
	}
	free(prefix);
	return git_errno(rc, e);
}
