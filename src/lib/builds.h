/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The catalogue's builds as users query them: `build list`, `build show`. */
#ifndef ELP_BUILDS_H
#define ELP_BUILDS_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"

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

#endif
