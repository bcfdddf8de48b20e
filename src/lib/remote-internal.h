/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the client and the builder agree on: the request and result records
 * (a "key value" line each, keys may repeat) and the bundles' limits.
 *
 * request: format 1, engine, release, module, cc-version, then in order
 *   "patch NAME" (entry patches/NNN/NAME.patch), "oot N" (oot/NNN.patch),
 *   "extra FILE.c", "cumulative 1" (replace, with exactly these patches), "sandbox 1", "rebuild 1", "source NAME" (entry source/NAME, a tarball of the kernel's
 *   source, sent when the builder has no kernel for the rest); entries config, symbols and, when the kernel has one,
 *   Module.symvers.
 * result: format 1, status, reason, module, sha256, host, compiler,
 *   builder-build, inputs-sha256, duration-ms, reused, "stage NAME MS",
 *   "function OBJECT<TAB>NAME<TAB>SYMPOS<TAB>SOURCE"; entries module.ko
 *   (when succeeded) and build.log.
 */
#ifndef ELP_REMOTE_INTERNAL_H
#define ELP_REMOTE_INTERNAL_H

#include "bundle.h"
#include "util.h"

#define ELP_REMOTE_FORMAT "1"

/* a request carries the kernel's inputs (tens of MB) and, when the
 * client sends it, the kernel's source: a tarball, or a directory as a tar */
#define ELP_REQUEST_MAX_ENTRIES 256
#define ELP_REQUEST_MAX_BYTES (4ull << 30)
/* a result: one module and its log */
#define ELP_RESULT_MAX_ENTRIES 16
#define ELP_RESULT_MAX_BYTES (128ull << 20)

/* A record's lines, parsed: values point into text (modified). */
struct elp_record {
	char *text;
	char **keys, **values;
	size_t nr;
};

int elp_record_parse(struct elp_ctx *ctx, const char *path, const char *what,
		     struct elp_record *rec);
/* The first value of key, or NULL. */
const char *elp_record_get(const struct elp_record *rec, const char *key);
void elp_record_free(struct elp_record *rec);

/* "key value\n", the value's newlines turned into blanks. */
int elp_record_add(struct elp_buf *buf, const char *key, const char *value);

/*
 * A name as a file name on the builder: [A-Za-z0-9._+-], others turned
 * into '_', not starting with '.' or '-' ("p" put before); NULL: no memory.
 */
char *elp_remote_wire_name(const char *name);

/*
 * workdir.c: PARENT/PREFIX-XXXXXX, owned while *lock_fd is open (an flock
 * on PREFIX-XXXXXX.lock); elp_workdir_remove() removes both and closes
 * it.  elp_workdir_reap() removes those whose owner is gone (killed), and
 * returns how many.
 */
int elp_workdir_create(struct elp_ctx *ctx, const char *parent,
		       const char *prefix, char **dir, int *lock_fd);
void elp_workdir_remove(struct elp_ctx *ctx, char *dir, int lock_fd);
int elp_workdir_reap(struct elp_ctx *ctx, const char *parent,
		     const char *prefix);
/*
 * An flock on the file lock (created when missing): shared, waiting for it,
 * or (try_excl) exclusive, -EBUSY (not logged) when someone holds it.  A
 * lock file its previous holder unlinked is not taken: the one at that
 * path is.  Held while *lock_fd is open.
 */
int elp_lockfile_take(struct elp_ctx *ctx, const char *lock, bool try_excl,
		      int *lock_fd);

/*
 * builder-prune.c: a source kept in cache/remote/sources/SHA (dir) is in
 * use while *lock_fd is open (a shared flock on SHA.lock, which
 * elp_builder_prune() takes exclusively before removing it); taking it
 * marks it used now (its mtime), when it exists: the caller checks that
 * what it uses is there once it holds it.
 */
int elp_source_hold(struct elp_ctx *ctx, const char *dir, int *lock_fd);

#endif
