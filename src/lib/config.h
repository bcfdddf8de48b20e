/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * /etc/elivepatch.conf: "key = value" lines, '#' comments.  Parsed here,
 * never printed: errors are logged as "<file>:<line>: <what>" and returned.
 * (elp_config_* in kernel.h is about a kernel's .config, not this file.)
 */
#ifndef ELP_CONFIG_H
#define ELP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "elp.h"

#define ELP_CONF_DEFAULT_PATH "/etc/elivepatch.conf"

struct elp_conf {
	char *path; /* the file read; NULL when there was none */
	/* NULL when not set: paths are absolute */
	char *catalogue;
	char *cache_dir;
	char *datadir;
	char *signing_key;
	char *signing_cert;
	/* the Portage repository whose sync queues a patch import */
	char *patch_overlay;
	/* ssh://[user@]host[:port][/path] URLs, one blank between them:
	 * `elivepatch build` builds there, in order, unless --builder is given */
	char *builders;
	/* "yes": `queue run` applies what it builds for the running kernel */
	char *auto_apply; /* "yes" or "no" */
	/* "yes": every build (build, cve, queue run, builder serve) runs its
	 * compile steps in a bubblewrap sandbox, or fails (sandbox.h) */
	char *sandbox; /* "yes" or "no" */
	/* days `builder serve` keeps a kernel source sent and unused; "0":
	 * forever (elp_builder_prune) */
	char *builder_keep_sources; /* digits */
};

/*
 * Parse a configuration text; origin names it in messages.  Every bad line
 * is logged ("<origin>:<line>: ..."), then -EINVAL is returned.
 */
int elp_conf_parse(struct elp_ctx *ctx, const char *origin, const char *text,
		   struct elp_conf **out);

/*
 * Read and parse a file.  A missing file gives an empty configuration
 * (path NULL) when optional, else -ENOENT (logged).
 */
int elp_conf_load(struct elp_ctx *ctx, const char *path, bool optional,
		  struct elp_conf **out);

void elp_conf_free(struct elp_conf *conf);

/* Is a yes/no setting (NULL: not set) "yes"? */
bool elp_conf_yes(const char *value);
/* A DAYS value (digits, checked when parsed), or def when NULL. */
unsigned int elp_conf_days(const char *value, unsigned int def);

#endif
