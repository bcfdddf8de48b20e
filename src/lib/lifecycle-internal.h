/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Between apply and revert (lifecycle.c), reconciliation and the
 * lifecycle lock (lifecycle-reconcile.c) and the rules a module must pass
 * (lifecycle-check.c).
 */
#ifndef ELP_LIFECYCLE_INTERNAL_H
#define ELP_LIFECYCLE_INTERNAL_H

#include <stdbool.h>

#include "catalogue.h"
#include "elp.h"
#include "livepatch.h"

/* CATALOGUE.lifecycle-lock, exclusive or shared (-EAGAIN when a shared
 * lock is not free now); *fd -1 when there was nothing to lock. */
int elp_lifecycle_lock(struct elp_catalogue *cat, bool exclusive, int *fd);
void elp_lifecycle_unlock(int fd);
/* elp_reconcile() for a caller that holds the lock. */
int elp_lifecycle_reconcile_locked(struct elp_ctx *ctx,
				   struct elp_catalogue *cat,
				   unsigned int *found);

/* Is artefact a built for the running kernel (release) as recorded: its
 * kernel build's build-id and Module.symvers?  -ENOEXEC (logged on ctx,
 * which may be NULL) when not. */
int elp_lifecycle_check_built_for(struct elp_ctx *ctx,
				  struct elp_catalogue *cat,
				  const struct elp_lp_artefact *a,
				  const char *release);
/* Every rule of elp_apply() before loading a (see lifecycle.h). */
int elp_lifecycle_check_apply(struct elp_ctx *ctx, struct elp_catalogue *cat,
			      const struct elp_lp_artefact *a,
			      const char *release, bool force);

#endif
