/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The catalogue: one SQLite file, its schema migrations and transactions.
 * Each table has one owner in src/lib (see README, "Architecture"); the
 * sqlite3 helpers those owners share are in catalogue-internal.h, which
 * nothing outside src/lib includes.
 */
#ifndef ELP_CATALOGUE_H
#define ELP_CATALOGUE_H

#include <stdbool.h>
#include <stdint.h>

#include "elp.h"

struct elp_catalogue;

enum elp_catalogue_flags {
	/* fall back to a read-only open when the file is not writable */
	ELP_CATALOGUE_READ = 1 << 0,
};

/* Opens (creating it and its directory when needed) and migrates. */
int elp_catalogue_open(struct elp_ctx *ctx, const char *path,
		       unsigned int flags, struct elp_catalogue **out);
void elp_catalogue_close(struct elp_catalogue *cat);

struct elp_ctx *elp_catalogue_ctx(const struct elp_catalogue *cat);
const char *elp_catalogue_path(const struct elp_catalogue *cat);
/* Opened read-only (ELP_CATALOGUE_READ on a file the user cannot write)? */
bool elp_catalogue_readonly(const struct elp_catalogue *cat);
int elp_catalogue_schema_version(void);

int elp_catalogue_begin(struct elp_catalogue *cat);
int elp_catalogue_commit(struct elp_catalogue *cat);
void elp_catalogue_rollback(struct elp_catalogue *cat);
/* End the transaction: committed when err is 0, else (or when the commit
 * fails) rolled back; the outcome. */
int elp_catalogue_end(struct elp_catalogue *cat, int err);

struct elp_event {
	int64_t time; /* 0: now */
	const char *kind;
	int64_t kernel_id; /* 0: none */
	const char *kernel_release;
	int64_t build_id;
	int64_t patch_id;
	const char *module;
	const char *host; /* NULL: this host */
	const char *detail;
};

int elp_event_add(struct elp_catalogue *cat, const struct elp_event *ev);

#endif
