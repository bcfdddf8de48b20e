/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between the files of the remote build client: remote.c (the driver and
 * the result), remote-request.c (the request) and remote-ssh.c (talking to
 * builders).  remote-internal.h is what the client and the builder share.
 */
#ifndef ELP_REMOTE_CLIENT_INTERNAL_H
#define ELP_REMOTE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "kernel.h"
#include "patch.h"
#include "remote-internal.h"
#include "remote.h"

/* One remote build, from its request to its record. */
struct client {
	struct elp_catalogue *cat;
	struct elp_ctx *ctx;
	const struct elp_build_options *opts;
	struct elp_build_result *res;
	struct elp_kernel *kernel;
	struct elp_patch **patches;
	char **patch_names; /* as sent: [A-Za-z0-9._+-] */
	size_t nr_patches; /* with a cumulative build's applied ones first */
	bool cumulative;
	char *cache, *work;
	int work_lock; /* owns work (workdir.c) */
	char *request; /* the request bundle file */
	char *source_request; /* the same with the kernel's source, once made */
	double source_size; /* the source's, in MiB */
	unsigned int flags; /* ELP_REMOTE_* */
	char manifest[ELP_SHA256_HEX_LEN + 1];
	long long t0;
};

/* One conversation with a builder (remote-ssh.c). */
struct talk {
	struct client *c;
	const struct elp_builder_url *url;
	char *last_line; /* of the builder's stderr: why it stopped */
	bool progress; /* tell opts->progress how much of the request went */
	unsigned int last_pct;
	struct elp_buf errbuf;
};

/* How busy a builder says it is; unanswered ones go last, in order. */
struct rank {
	size_t i;
	bool ok;
	long running;
	double load;
};

/* Has the caller asked the build to stop (opts->cancel)? */
static inline bool elp_remote_cancelled(const struct client *c)
{
	return c->opts->cancel && *c->opts->cancel;
}

/* remote-request.c: the kernel, patches and module name of the build;
 * the request bundle (with the kernel's source when src_path is set);
 * that request with the source, made once and said. */
int elp_remote_resolve(struct client *c);
int elp_remote_make_request(struct client *c, const char *src_name,
			    const char *src_path);
int elp_remote_source_request(struct client *c,
			      const struct elp_builder_url *u);

/* remote-ssh.c: one conversation (ssh's wait status, or -errno); the
 * order to try builders in (NULL: no memory). */
int elp_remote_converse(struct talk *t, const char *req_path,
			const char *res_path);
struct rank *elp_remote_order(struct client *c, const char *const *builders,
			      size_t nr, unsigned int flags);

#endif
