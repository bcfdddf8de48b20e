/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Bundles: the build inputs a client sends to a remote builder and the
 * result it gets back, as one tar + zstd stream (libarchive).
 *
 * Written reproducibly: entries sorted by name, owner 0:0, mode 0644,
 * mtime 0, ustar headers (no atime/ctime, no user names), after a MANIFEST
 * entry listing "sha256 size name" of every other entry.  The same inputs
 * always give the same bytes, and sha256(MANIFEST) names them.
 *
 * Read defensively: only regular files (and directories), names of
 * [A-Za-z0-9._+-/] without "..", absolute paths or empty components,
 * bounded entry count and total size, every entry in the manifest with its
 * sha256 and every manifest line present; extracted with libarchive's
 * ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS and
 * _SECURE_NOABSOLUTEPATHS.  Anything else is rejected (-EBADMSG, logged).
 */
#ifndef ELP_BUNDLE_H
#define ELP_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "elp.h"
#include "util.h"

struct elp_bundle_item {
	char *name; /* relative, e.g. "patches/001.patch" */
	char *path; /* a file to read, or NULL: data */
	char *data;
	size_t len;
};

/* Entries to write, in any order (written sorted). */
struct elp_bundle {
	struct elp_bundle_item *items;
	size_t nr, cap;
};

/* Add a copy of data under name. */
int elp_bundle_add_data(struct elp_bundle *b, const char *name,
			const void *data, size_t len);
/* Add the contents of the file at path under name (read when written). */
int elp_bundle_add_file(struct elp_bundle *b, const char *name,
			const char *path);
void elp_bundle_free(struct elp_bundle *b);

/*
 * Write the bundle to fd (not closed).  manifest_sha256, when non-NULL,
 * receives sha256(MANIFEST): the identity of the bundle's content.
 */
int elp_bundle_write(struct elp_ctx *ctx, const struct elp_bundle *b, int fd,
		     char manifest_sha256[ELP_SHA256_HEX_LEN + 1]);

struct elp_bundle_limits {
	size_t max_entries;
	uint64_t max_bytes; /* sum of the entries' sizes */
};

/*
 * Read a bundle from fd and extract it into dir (created; must not exist
 * or be empty).  what names the peer in messages ("the client's bundle").
 * On success manifest_sha256 (when non-NULL) names the content.  On any
 * violation the extracted files are removed and -EBADMSG returned.
 */
int elp_bundle_extract(struct elp_ctx *ctx, int fd, const char *dir,
		       const struct elp_bundle_limits *limits, const char *what,
		       char manifest_sha256[ELP_SHA256_HEX_LEN + 1]);

#endif
