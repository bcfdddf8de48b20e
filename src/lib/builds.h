/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The owner of the builds, build_patches and build_stages tables: builds
 * as users query them (`build list`, `build show`), as the lifecycle sees
 * them (apply, verify, sign) and as the engine records them.
 */
#ifndef ELP_BUILDS_H
#define ELP_BUILDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

struct elp_build_result;

struct elp_builds_filter {
	const char *kernel; /* kernel name, id or release */
	const char *patch; /* patch name or id */
	const char *status; /* succeeded, failed, refused, running */
	int limit; /* 0: all; else the newest N */
};

/* One row of `build list`; strings live until the callback returns. */
struct elp_build_summary {
	int64_t id;
	int64_t created_at;
	const char *kernel; /* release */
	const char *patches; /* names in build order, comma-separated, or NULL */
	const char *status;
	const char *module;
	const char *sha256; /* of the module, or NULL */
	const char *verified; /* "passed", "failed" or NULL: never verified */
	/* hosts where it is applied now (apply not since reverted or replaced) */
	const char *applied;
};

typedef int (*elp_builds_cb)(const struct elp_build_summary *b, void *data);

/* Oldest first; a non-zero return from cb stops and is returned. */
int elp_builds_list(struct elp_catalogue *cat,
		    const struct elp_builds_filter *filter, elp_builds_cb cb,
		    void *data);

/* What a build was made from: each with its sha256 where one is stored. */
struct elp_build_input {
	char *kind; /* "patch", "config" or "toolchain" */
	char *name;
	char *sha256; /* NULL for the toolchain: its version text is in name */
};

struct elp_build_stage_time {
	char *stage;
	int64_t ms;
};

struct elp_build_info {
	int64_t id;
	int64_t created_at, started_at, finished_at; /* 0: not recorded */
	int64_t duration_ms; /* -1: not recorded */
	char *kernel; /* release */
	char *kernel_name; /* catalogue name, NULL once the kernel is removed */
	char *module;
	char *status;
	char *reason; /* why it failed or was refused */
	char *log_path;
	char *artefact_path;
	char *sha256;
	char *inputs_sha256;
	char *verified;
	char *verify_log;
	char *builder_host;
	char *backend; /* "local", or "ssh": built by builder_host */
	char *applied; /* as in elp_build_summary */
	bool cumulative;
	struct elp_build_input *inputs;
	size_t nr_inputs;
	struct elp_build_stage_time *stages; /* in pass order */
	size_t nr_stages;
};

/* A build by id; -ENOENT (logged, naming the id) when there is none. */
int elp_build_info_get(struct elp_catalogue *cat, int64_t id,
		       struct elp_build_info **out);
void elp_build_info_free(struct elp_build_info *info);

/* --- a build as apply, revert, status, verify and sign see it ---------- */

struct elp_lp_build {
	int64_t id;
	int64_t kernel_id; /* 0: none */
	char *kernel_release;
	char *module_name;
	char *status;
	char *artefact_path;
	char *artefact_sha256;
	char *verified; /* "passed", "failed" or NULL */
	char *verify_log;
	bool cumulative;
	char *patches; /* comma-separated patch names, or NULL */
	char *cves; /* comma-separated, or NULL */
};

/* A build by id; -ENOENT (not logged) when there is none. */
int elp_lp_build_get(struct elp_catalogue *cat, int64_t id,
		     struct elp_lp_build **out);
/* The build whose artefact has this sha256; -ENOENT when none. */
int elp_lp_build_by_sha(struct elp_catalogue *cat, const char *sha256,
			struct elp_lp_build **out);
/* A build whose artefact_path is path; -ENOENT when none. */
int elp_lp_build_by_path(struct elp_catalogue *cat, const char *path,
			 struct elp_lp_build **out);
/*
 * The build a loaded module came from: the last 'apply' of that module on
 * this host and kernel that was not since reverted or replaced (as
 * elp_events_applied() in history.h reads the events).  -ENOENT when
 * elivepatch did not apply it.
 */
int elp_lp_build_applied(struct elp_catalogue *cat, const char *module,
			 const char *release, struct elp_lp_build **out);
int elp_lp_build_set_verified(struct elp_catalogue *cat, int64_t id,
			      bool passed, const char *log_path);
/* The artefact changed on purpose (signed): its new sha256. */
int elp_lp_build_set_sha256(struct elp_catalogue *cat, int64_t id,
			    const char *sha256);
void elp_lp_build_free(struct elp_lp_build *b);

/* --- the engine's records (src/engine/build*.c) ------------------------ */

/* A build about to run: its row is 'running' until elp_builds_finish(). */
struct elp_build_record {
	int64_t kernel_id; /* 0: none */
	const char *kernel_release;
	int64_t toolchain_id; /* 0: none */
	const char *module_name;
	const char *inputs_sha256;
	bool cumulative;
	/* the patches in order; a 0 leaves its position out */
	const int64_t *patch_ids;
	size_t nr_patch_ids;
	/* NULL: built here ("local", this host); else e.g. "ssh" and the
	 * builder that built it (a remote build, recorded once it is done) */
	const char *backend, *builder_host;
};

/* Insert the builds row (this host or the builder, this pid) and its
 * build_patches. */
int elp_builds_start(struct elp_catalogue *cat,
		     const struct elp_build_record *r, int64_t *id);

struct elp_build_outcome {
	const char *status; /* succeeded, failed, refused */
	const char *reason, *log_path, *artefact_path, *artefact_sha256;
	int64_t duration_ms;
};

int elp_builds_finish(struct elp_catalogue *cat, int64_t id,
		      const struct elp_build_outcome *o);
/* One pass's time, at its position (replaced when recorded again). */
int elp_builds_stage(struct elp_catalogue *cat, int64_t id, size_t position,
		     const char *stage, int64_t ms);
/* r's outcome (status, reason, log, artefact, duration) and stages on its
 * builds row r->build_id. */
int elp_builds_finish_result(struct elp_catalogue *cat,
			     const struct elp_build_result *r);
/*
 * Builds of this host left 'running' by a process that is gone (SIGKILL,
 * a crash, a reboot) failed: mark them so, with a warning each.
 */
int elp_builds_reap_interrupted(struct elp_catalogue *cat);

/* A succeeded build whose artefact is intact (sha256 checked). */
struct elp_build_found {
	int64_t id;
	char *artefact_path, *artefact_sha256, *log_path;
};

/* The newest such build with these inputs: 1 found, 0 none, or -errno. */
int elp_builds_find_identical(struct elp_catalogue *cat,
			      const char *inputs_sha256,
			      struct elp_build_found *out);
void elp_build_found_release(struct elp_build_found *f);

/*
 * The builds of a module for a kernel release that have an artefact,
 * newest first: the builds a loaded module of that name may come from.
 */
int elp_builds_of_module(struct elp_catalogue *cat, const char *release,
			 const char *module, int64_t **ids, size_t *nr);
/* The patches of the builds elp_events_applied() finds on release, in the
 * order they were applied, each once: what a cumulative build carries;
 * *nr_applied (when not NULL) says how many builds that is. */
int elp_builds_applied_patch_ids(struct elp_catalogue *cat, const char *release,
				 int64_t **ids, size_t *nr, size_t *nr_applied);
/* The builds that use a patch, by id. */
int elp_builds_using_patch(struct elp_catalogue *cat, int64_t patch_id,
			   int64_t **ids, size_t *nr);
/* A build's patch ids, in build order. */
int elp_builds_patch_ids(struct elp_catalogue *cat, int64_t build_id,
			 int64_t **ids, size_t *nr);

#endif
