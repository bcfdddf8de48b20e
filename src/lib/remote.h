/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Builds on another machine over ssh.
 *
 * The client packs a build's inputs — the kernel's release, config, symbol
 * table, Module.symvers, compiler identity and out-of-tree patches, the
 * livepatch patches and the options — into a bundle (bundle.h), runs
 * `ssh HOST elivepatch builder serve` with the system's OpenSSH client
 * (keys, agents, ProxyJump, ControlMaster: whatever ssh_config says),
 * streams the bundle on its stdin and reads a result bundle (module, build
 * log, build record) from its stdout.  The module is recorded in the local
 * catalogue as a local build is, with backend "ssh" and the builder's host.
 *
 * The builder (elp_builder_serve) finds a kernel of its own catalogue with
 * the same release, config, symbol table, Module.symvers and out-of-tree
 * patches, builds with elp_build() and keeps every succeeded result in a
 * content-addressed cache keyed by the request's manifest.
 */
#ifndef ELP_REMOTE_H
#define ELP_REMOTE_H

#include <stddef.h>

#include "../engine/build.h"
#include "catalogue.h"

/* ssh://[user@]host[:port][/path/to/elivepatch] */
struct elp_builder_url {
	char *user; /* NULL: ssh's default */
	char *host;
	char *port; /* NULL: ssh's default */
	char *path; /* the remote elivepatch; NULL: "elivepatch" */
	char *name; /* host[:port], as recorded in the catalogue */
};

/* -EINVAL (logged, quoting url) when it is not such a URL. */
int elp_builder_url_parse(struct elp_ctx *ctx, const char *url,
			  struct elp_builder_url **out);
void elp_builder_url_free(struct elp_builder_url *u);

/*
 * Build opts on the builders, in order (see flags): one that cannot be reached, has no
 * matching kernel, refuses the bundle or dies mid-build is reported and the
 * next is tried.  A build the engine failed or refused there is an answer
 * (recorded, not retried elsewhere).  The ssh command is $ELIVEPATCH_SSH
 * (words split on blanks) or "ssh".  Returns as elp_build() does, with a
 * result whose build_id is the local catalogue's record; -EHOSTUNREACH when
 * no builder answered (nothing is recorded).  opts->cumulative must be 0.
 */
int elp_remote_build(struct elp_catalogue *cat,
		     const struct elp_build_options *opts,
		     const char *const *builders, size_t nr_builders,
		     unsigned int flags, struct elp_build_result **out);

/*
 * elp_remote_build() flags.  LEAST_BUSY: first ask every builder for its
 * `builder serve --status` and try the one with the fewest running builds,
 * then the lowest load, first; those that do not answer go last.
 */
#define ELP_REMOTE_LEAST_BUSY 1u
/*
 * SEND_SOURCE: a builder without a kernel for the request (exit
 * ELP_BUILDER_NEEDS_SOURCE) is sent the kernel's source (its tarball, or
 * its directory as a tar) in a second request, with opts->progress told
 * how far it is; the builder keeps it (remote/sources/SHA256/) and
 * registers the kernel, so the next request needs none.  Without it such
 * a builder is skipped, its message saying to pass --send-source.
 */
#define ELP_REMOTE_SEND_SOURCE 2u

/* Exit status of `builder serve` when it cannot build here (no kernel, no
 * compiler, no sandbox when one is asked for). */
#define ELP_BUILDER_UNAVAILABLE 3
/* ... when it has no kernel for the request, and the request has no source:
 * sending it (elp_remote_build's ELP_REMOTE_SEND_SOURCE) would help. */
#define ELP_BUILDER_NEEDS_SOURCE 4

/*
 * Serve one request: a bundle read from in_fd, the result bundle written to
 * out_fd.  Returns 0 when a result was written (also for a failed or
 * refused build), -ENOENT when no kernel here matches (logged), -EBADMSG
 * for a bundle that is rejected, or another -errno.
 */
/* -ENODATA: no kernel here, and no source in the request (see
 * ELP_BUILDER_NEEDS_SOURCE). */
/*
 * keep_days: at the end, elp_builder_prune(cat, cache_dir, keep_days)
 * (0: never).  The source a request builds with is marked used, and kept
 * while it builds.
 */
int elp_builder_serve(struct elp_catalogue *cat, int in_fd, int out_fd,
		      const char *cache_dir, unsigned int flags,
		      unsigned int keep_days);

/* elp_builder_serve() flags.  SANDBOX: build every request in a sandbox
 * (sandbox.h), whether or not its client asked for one. */
#define ELP_BUILDER_SANDBOX 1u

/* How long a builder keeps an unused source sent (elivepatch.conf
 * builder-keep-sources). */
#define ELP_BUILDER_KEEP_SOURCES_DAYS 30

/*
 * Remove the kernel sources clients sent (cache/remote/sources/SHA256,
 * cache_dir NULL: the default cache) that no request has built with for
 * days days (0: each one not in use now), with the "sent-" kernels
 * registered for them (their builds are kept, detached) and those kernels'
 * cache/remote/kernels/KEY.  A source a serve is building with is kept.
 * Each removal is logged (info); *removed: how many sources.
 */
int elp_builder_prune(struct elp_catalogue *cat, const char *cache_dir,
		      unsigned int days, unsigned int *removed);

/* What `builder serve --status` prints: "builds-running N\nload X\n". */
int elp_builder_status(struct elp_catalogue *cat, char **text);

#endif
