/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sandboxed builds: the compile steps of a build of an untrusted patch run
 * under bubblewrap (bwrap), with no network, the whole system read-only,
 * only the build's own directories writable, as an unprivileged uid in a
 * user namespace of its own.  Never a silent fallback: a host where bwrap
 * is missing or cannot make a sandbox is an error.
 */
#ifndef ELP_SANDBOX_H
#define ELP_SANDBOX_H

#include <stddef.h>

#include "elp.h"

/* ELP_SET_BWRAP ($ELIVEPATCH_BWRAP), else "bwrap" (looked up in PATH). */
const char *elp_sandbox_program(const struct elp_ctx *ctx);

/*
 * Can a sandbox be made here?  Runs "true" in one, as the build would.
 * 0, or -ENOTSUP with why logged (bwrap not installed, or unusable: user
 * namespaces off, seccomp, a container without the right).
 */
int elp_sandbox_check(struct elp_ctx *ctx);

/*
 * argv wrapped: bwrap, its options, then argv.  writable (nr of them)
 * are bound read-write at the same paths, the first one also holding
 * TMPDIR (tmpdir, which must exist); cwd is entered inside.  The result
 * is one allocation (free() it); its strings are argv's, the writable
 * paths and static ones, except its own, which live in it.
 */
const char **elp_sandbox_argv(const struct elp_ctx *ctx,
			      const char *const *argv,
			      const char *const *writable, size_t nr,
			      const char *tmpdir, const char *cwd);

#endif
