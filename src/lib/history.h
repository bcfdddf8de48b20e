/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ELP_HISTORY_H
#define ELP_HISTORY_H

#include <stdint.h>

#include "catalogue.h"

struct elp_build_result;

struct elp_history_filter {
	const char *kernel; /* kernel name, id or release */
	const char *patch; /* patch name or id */
	const char *cve;
	const char *kind;
	int64_t since, until; /* unix seconds, 0: unbounded */
	int64_t build_id;
	int limit; /* 0: all */
};

struct elp_history_entry {
	int64_t id;
	int64_t time;
	const char *kind;
	const char *kernel; /* release */
	int64_t build_id; /* 0: none */
	const char *module;
	const char *patches; /* comma-separated names, or NULL */
	const char *cves; /* comma-separated, or NULL */
	const char *host;
	const char *detail;
};

typedef int (*elp_history_cb)(const struct elp_history_entry *e, void *data);

/* Oldest first. */
int elp_history_query(struct elp_catalogue *cat,
		      const struct elp_history_filter *filter,
		      elp_history_cb cb, void *data);

/*
 * A build's 'build' event: r's kernel release, build id and module, the
 * kernel and (first) patch by id (0: none), detail as given.
 */
int elp_event_add_build(struct elp_catalogue *cat,
			const struct elp_build_result *r, int64_t kernel_id,
			int64_t patch_id, const char *detail);

/* A module recorded as applied on this host (see elp_events_applied). */
struct elp_applied_module {
	char *module;
	int64_t build_id; /* 0: a module the catalogue does not know */
};

/*
 * The modules this host's events record as applied to kernel release: an
 * 'apply' not followed by an 'apply', 'revert' or 'replace' of the same
 * module, including modules applied with --force (build 0); oldest first.
 * The one reading of "applied" (the builds applied: those with a build id).
 */
int elp_events_applied(struct elp_catalogue *cat, const char *release,
		       struct elp_applied_module **out, size_t *nr);
void elp_applied_modules_free(struct elp_applied_module *m, size_t nr);

/*
 * "2026-11-30", "2026-11-30 12:00[:00]", ISO 8601 with T/Z, "@1700000000",
 * or "N {minutes,hours,days,weeks} ago"; UTC.  -EINVAL if none fits.
 */
int elp_parse_time(const char *text, int64_t now, int64_t *out);

#endif
