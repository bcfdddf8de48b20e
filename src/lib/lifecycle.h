/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Applying and reverting a livepatch on this host: the rules (release
 * match, verification, signature policy, already loaded, cumulative
 * replacement, backing out a stalled transition) and the catalogue events
 * that record them.  The CLI, the queue runner and the hooks call these;
 * nothing here prints: refusals and failures are logged on the context.
 */
#ifndef ELP_LIFECYCLE_H
#define ELP_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"
#include "elp.h"
#include "livepatch.h"

/*
 * Called when a transition did not finish in time, before anything is
 * backed out: the stalled livepatch and the tasks blocking it.
 */
typedef void (*elp_stall_fn)(void *data, const struct elp_livepatch *lp,
			     const struct elp_lp_blocker *b, size_t nr);

struct elp_apply_options {
	const char *spec; /* a build id, or a .ko file */
	long wait_ms; /* for the transition; > 0 */
	/* apply a module the catalogue does not know, or a failed build */
	bool force;
	elp_stall_fn on_stall; /* may be NULL */
	void *data;
};

struct elp_apply_replaced {
	char *name;
	int64_t build_id; /* 0: not a build elivepatch applied */
};

struct elp_apply_result {
	char *module;
	int64_t build_id; /* 0: a module the catalogue does not know */
	char *release; /* the running kernel */
	char sha256[65];
	long long transition_ms;
	/* enabled livepatches that a cumulative module replaced */
	struct elp_apply_replaced *replaced;
	size_t nr_replaced;
};

/*
 * Check a build (or, with force, a module file) against the running kernel
 * and its policy, load it, wait for the transition, record an 'apply' event
 * (and a 'replace' event for each livepatch it replaced) and unload the
 * replaced modules.  A transition that does not finish is backed out.
 *
 * Returns 0 with *out set, or a negative errno (logged):
 *   -ENOENT      no such build, or a file the catalogue lacks without force
 *   -ENOEXEC     built for another kernel than the running one
 *   -ENOTSUP     the running kernel has no livepatch support
 *   -EPERM       refused by policy: failed verification (without force), or
 *                unsigned while the kernel enforces signatures
 *   -EEXIST      a livepatch or module of that name is already loaded
 *   -EROFS       the catalogue is read-only (nothing loaded)
 *   -ETIMEDOUT   the transition stalled (opts->on_stall called)
 * and other errors of loading or recording.
 */
int elp_apply(struct elp_ctx *ctx, struct elp_catalogue *cat,
	      const struct elp_apply_options *opts,
	      struct elp_apply_result **out);
void elp_apply_result_free(struct elp_apply_result *r);

struct elp_revert_options {
	const char *spec; /* a livepatch name, or a build id naming its module */
	long wait_ms; /* for the transition back; > 0 */
	elp_stall_fn on_stall; /* may be NULL */
	void *data;
};

struct elp_revert_result {
	char *module;
	int64_t build_id; /* 0: not a build elivepatch applied */
	char *release;
	long long transition_ms;
};

/*
 * Disable a loaded livepatch, wait for the transition back, unload it and
 * record a 'revert' event.  Returns 0 with *out set, or a negative errno
 * (logged): -ENOENT not loaded (or no such build), -EROFS read-only
 * catalogue, -ETIMEDOUT the transition back stalled (it stays in
 * transition; opts->on_stall called).
 */
int elp_revert(struct elp_ctx *ctx, struct elp_catalogue *cat,
	       const struct elp_revert_options *opts,
	       struct elp_revert_result **out);
void elp_revert_result_free(struct elp_revert_result *r);

/*
 * Check the catalogue against /sys/kernel/livepatch, for this host and the
 * running kernel, and record what it finds (each logged as a warning):
 * a livepatch loaded without an apply record that is one of our builds
 * (same module name and build-id as the build's module) is recorded as
 * applied; a module recorded as applied that is not a loaded livepatch is
 * recorded as reverted (replaced, when a cumulative build applied after it
 * is loaded); a loaded livepatch recorded as one build whose module has
 * another build-id is recorded as the build it is, or reverted.  Each such event's detail begins "reconciled:".
 * On a read-only catalogue nothing is recorded, only reported.  Skipped
 * (0, a notice) while an apply or revert is in progress; apply and revert
 * reconcile first themselves.  *found: the mismatches found.
 */
int elp_reconcile(struct elp_ctx *ctx, struct elp_catalogue *cat,
		  unsigned int *found);

#endif
