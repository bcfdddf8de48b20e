// SPDX-License-Identifier: GPL-2.0-or-later
/* Sandboxed builds with bubblewrap: see sandbox.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

/* the uid and gid the build runs as inside: nobody's */
#define SANDBOX_ID "65534"

const char *elp_sandbox_program(const struct elp_ctx *ctx)
{
	const char *p = elp_get(ctx, ELP_SET_BWRAP);

	return p && *p ? p : "bwrap";
}

/* Everything before the writable binds and the command. */
static const char *const head[] = {
	"--die-with-parent",
	/* a user namespace of its own, without root in it */
	"--unshare-user",
	"--uid",
	SANDBOX_ID,
	"--gid",
	SANDBOX_ID,
	"--cap-drop",
	"ALL",
	/* no network (only a loopback of its own), nor anything to talk to */
	"--unshare-net",
	"--unshare-ipc",
	"--unshare-pid",
	"--unshare-uts",
	"--unshare-cgroup-try",
	"--new-session",
	/* the system, read-only; /dev and /proc of its own */
	"--ro-bind",
	"/",
	"/",
	"--dev",
	"/dev",
	"--proc",
	"/proc",
};

#define NR_HEAD (sizeof(head) / sizeof(head[0]))

const char **elp_sandbox_argv(const struct elp_ctx *ctx,
			      const char *const *argv,
			      const char *const *writable, size_t nr,
			      const char *tmpdir, const char *cwd)
{
	size_t n = 0, i, nargs = 0;
	const char **out;

	while (argv[nargs])
		nargs++;
	out = calloc(1 + NR_HEAD + 3 * nr + 6 + nargs + 2, sizeof(*out));
	if (!out)
		return NULL;
	out[n++] = elp_sandbox_program(ctx);
	for (i = 0; i < NR_HEAD; i++)
		out[n++] = head[i];
	for (i = 0; i < nr; i++) {
		out[n++] = "--bind";
		out[n++] = writable[i];
		out[n++] = writable[i];
	}
	if (tmpdir) {
		out[n++] = "--setenv";
		out[n++] = "TMPDIR";
		out[n++] = tmpdir;
	}
	if (cwd) {
		out[n++] = "--chdir";
		out[n++] = cwd;
	}
	out[n++] = "--";
	for (i = 0; i < nargs; i++)
		out[n++] = argv[i];
	out[n] = NULL;
	return out;
}

int elp_sandbox_check(struct elp_ctx *ctx)
{
	const char *const t[] = { "true", NULL };
	const char **argv = elp_sandbox_argv(ctx, t, NULL, 0, NULL, NULL);
	char why[512] = "";
	int fd, rc;

	if (!argv)
		return -ENOMEM;
	/* bwrap says why on stderr: into a file of its own */
	fd = memfd_create("bwrap", MFD_CLOEXEC);
	rc = elp_run(ctx, argv, NULL, fd, NULL);
	free(argv);
	if (fd >= 0) {
		ssize_t n = pread(fd, why, sizeof(why) - 1, 0);

		why[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	elp_rstrip(why);
	if (rc == -ENOENT) {
		elp_err(ctx,
			"a sandboxed build needs bubblewrap, and '%s' is not installed (Debian: bubblewrap, Gentoo: sys-apps/bubblewrap)",
			elp_sandbox_program(ctx));
		return -ENOTSUP;
	}
	if (rc != 0) {
		elp_err(ctx,
			"a sandboxed build is not possible here: '%s' cannot make a sandbox (%s)%s",
			elp_sandbox_program(ctx),
			*why	 ? why
			: rc < 0 ? strerror(-rc)
				 : "no message",
			strstr(why, "amespace")
				? "; are unprivileged user namespaces turned off (sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces)?"
				: "");
		return -ENOTSUP;
	}
	return 0;
}
