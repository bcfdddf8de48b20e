/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Patch overlays (elivepatch-overlay(5)): git repositories of fixes, one
 * directory per fix under livepatches/ with its patches and a fix.conf.
 * An overlay is cloned and synced with libgit2 (managed) or, for a
 * repository Portage syncs, read in place.  Each patch of a fix is
 * catalogued as a livepatch patch named OVERLAY:FIX (OVERLAY:FIX:STEM when
 * the fix has several), with its origin (overlay, commit, path) and CVEs,
 * and updated in place when the overlay changes it; the earlier content is
 * kept in patch_versions.
 */
#ifndef ELP_OVERLAY_H
#define ELP_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "elp.h"
#include "kernel.h"

/* --- the format ----------------------------------------------------------- */

/* A kernel version: major, minor, sublevel (missing parts are 0). */
struct elp_version {
	unsigned long v[3];
};

/* "6.1.150 <= v < 6.1.200": each bound optional, < or <=. */
struct elp_version_range {
	bool has_lo, lo_incl, has_hi, hi_incl;
	struct elp_version lo, hi;
};

/* "6", "6.1", "6.1.150" (then anything not a digit or dot ends it). */
int elp_version_parse(const char *s, struct elp_version *v);
int elp_version_cmp(const struct elp_version *a, const struct elp_version *b);
/* -EINVAL (not logged) when malformed; an empty text is every version. */
int elp_version_range_parse(const char *text, struct elp_version_range *r);
bool elp_version_in_range(const struct elp_version_range *r,
			  const struct elp_version *v);

struct elp_fix_patch {
	int64_t patch_id;
	char *name; /* catalogue name */
	char *path; /* relative to the overlay's root */
	char *commit_id;
	char *sha256;
};

struct elp_fix {
	int64_t id;
	char *overlay;
	char *name; /* the directory under livepatches/ */
	char *summary;
	char *upstream; /* upstream commit id, or NULL */
	char *versions; /* the range as written, or NULL: every version */
	char **cves;
	size_t nr_cves;
	char **requires; /* out-of-tree patches the kernel must carry */
	size_t nr_requires;
	bool cumulative_only;
	char *commit_id;
	char *state; /* "present" or "removed" */
	int64_t updated_at;
	struct elp_fix_patch *patches;
	size_t nr_patches, cap_patches;
};

/* Parse a fix.conf (origin names it in "<origin>:<line>: ..." errors). */
int elp_fix_conf_parse(struct elp_ctx *ctx, const char *origin,
		       const char *text, struct elp_fix *fix);
void elp_fix_free(struct elp_fix *fix);

/* --- overlays in the catalogue --------------------------------------------- */

struct elp_overlay {
	int64_t id;
	char *name;
	char *url; /* what it is cloned and fetched from */
	char *path; /* the checkout */
	bool managed; /* cloned and synced by elivepatch, else by Portage */
	char *signing_key; /* trusted OpenPGP keyring (a copy), or NULL */
	char *commit_id; /* the commit last imported */
	int64_t synced_at, created_at;
	int64_t removed_at; /* 0, or when elp_overlay_remove() removed it */
	size_t nr_fixes; /* present fixes */
};

/* What an add, sync or import did. */
struct elp_overlay_report {
	char *old_commit, *new_commit; /* NULL when none */
	size_t added, updated, removed, unchanged;
	/* the catalogue names of the patches added or updated */
	char **changed;
	size_t nr_changed;
	/* fixes that could not be read, each "FIX: reason" */
	char **skipped;
	size_t nr_skipped;
};
void elp_overlay_report_release(struct elp_overlay_report *rep);

/* [a-z0-9][a-z0-9._-]*, at most 64: overlay and fix names. */
bool elp_overlay_name_is_valid(const char *name);

/*
 * Clone url (a path, file:// or any URL libgit2 fetches) into the
 * catalogue's store (<catalogue dir>/overlays/NAME), check its HEAD commit
 * against signing_key when given (a binary OpenPGP keyring, copied beside
 * the clone), record the overlay and catalogue its fixes.  An overlay of
 * that name removed earlier takes up its record again: its fixes and
 * patches are found by their paths and updated in place.
 */
int elp_overlay_add(struct elp_catalogue *cat, const char *name,
		    const char *url, const char *signing_key,
		    struct elp_overlay_report *rep);

/*
 * Fetch and fast-forward a managed overlay, then catalogue what changed.
 * A non-fast-forward update (a rewritten history) is refused with
 * -ENOTSUP, logged, unless force.  With a signing key every new commit
 * must carry a good signature by it (-EPERM, logged with the reason).
 */
int elp_overlay_sync(struct elp_catalogue *cat, const char *name, bool force,
		     struct elp_overlay_report *rep);

/*
 * A repository someone else syncs (Portage), read in place: recorded as an
 * unmanaged overlay on first use (or after elp_overlay_remove(), taken up
 * again), then its fixes catalogued.  The commit is the checkout's HEAD
 * when dir is a git repository.
 */
int elp_overlay_import(struct elp_catalogue *cat, const char *name,
		       const char *dir, struct elp_overlay_report *rep);

/* What elp_overlay_remove() did. */
struct elp_overlay_removal {
	size_t fixes; /* fixes marked removed now */
	size_t patches; /* the overlay's patches, all kept in the catalogue */
	char *deleted; /* the clone (managed) deleted, or NULL */
	char *kept; /* the checkout Portage syncs, left in place, or NULL */
	/* the queued jobs that needed it, cancelled (with force) */
	int64_t *jobs;
	char **job_subjects;
	size_t nr_jobs;
};
void elp_overlay_removal_release(struct elp_overlay_removal *rm);

/*
 * Remove an overlay: its fixes are marked removed (cve no longer selects
 * them) and the overlay is marked removed at this time; its patches stay
 * catalogued with their origin, versions, builds and events.  The clone of
 * a managed overlay and its keyring are deleted; a checkout Portage syncs
 * is left alone.  A queued job that needs it (the import of this overlay,
 * a build of one of its patches) makes it -EBUSY (logged, naming the jobs)
 * unless force, which cancels those jobs (failed, saying why); a running
 * one makes it -EBUSY even with force.  One transaction: nothing changes
 * on failure.  -ENOENT (logged) for an unknown or already removed overlay.
 */
int elp_overlay_remove(struct elp_catalogue *cat, const char *name, bool force,
		       struct elp_overlay_removal *rm);

/* -ENOENT (logged) when there is none; a removed overlay is found too. */
int elp_overlay_find(struct elp_catalogue *cat, const char *name,
		     struct elp_overlay **out);
void elp_overlay_free(struct elp_overlay *o);
/* The overlays by name; removed ones too when all. */
typedef int (*elp_overlay_cb)(const struct elp_overlay *o, void *data);
int elp_overlay_foreach(struct elp_catalogue *cat, bool all, elp_overlay_cb cb,
			void *data);

/*
 * The catalogued fixes of one overlay (NULL: all), present ones only unless
 * all, by overlay then name, with their patches and CVEs.  The callback may
 * keep the fix by copying the struct and zeroing the original.
 */
typedef int (*elp_fix_cb)(struct elp_fix *fix, void *data);
int elp_overlay_fixes(struct elp_catalogue *cat, const char *overlay, bool all,
		      elp_fix_cb cb, void *data);

/*
 * Does patch_id come from an overlay fix marked cumulative-only (present
 * or removed: the rule stays with the patch)?  1 with *what set
 * (allocated: "patch 'P' is of fix 'OVERLAY:FIX', which is
 * cumulative-only"), 0 when not, -errno.  Such a patch is only delivered
 * in a cumulative (klp replace) build: elp_build() makes a build of it
 * cumulative by default and refuses one asked not to be, and so does
 * elp_remote_build() (before any builder is asked).
 */
int elp_overlay_patch_cumulative_only(struct elp_catalogue *cat,
				      int64_t patch_id, char **what);

/* --- which kernels a fix is for -------------------------------------------- */

/*
 * The upstream version of a kernel: the VERSION/PATCHLEVEL/SUBLEVEL of its
 * source directory's or build directory's Makefile (following the
 * include of a distribution's headers package), else the release's leading
 * numbers.  *from (static) says which.  -EINVAL when there is none: logged,
 * or with why given, said there (allocated) instead.
 */
int elp_kernel_version(struct elp_ctx *ctx, const struct elp_kernel *k,
		       struct elp_version *v, const char **from, char **why);

/*
 * Does fix apply to kernel k (version range, out-of-tree prerequisites)?
 * 1 yes, 0 no with *reason set (allocated), -errno on error.
 */
int elp_fix_applies(struct elp_catalogue *cat, const struct elp_fix *fix,
		    const struct elp_kernel *k, const struct elp_version *v,
		    char **reason);

#endif
