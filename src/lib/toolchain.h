/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Compilers: probing, finding the installed ones, cataloguing, and matching
 * a kernel's CONFIG_CC_VERSION_TEXT.
 */
#ifndef ELP_TOOLCHAIN_H
#define ELP_TOOLCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "elp.h"

struct elp_toolchain {
	int64_t id; /* 0 until stored */
	char *cc_path; /* absolute, as found (symlinks not resolved) */
	char *version_text; /* first line of `CC --version` */
	char *target; /* `CC -dumpmachine` */
	int64_t created_at;
};

/*
 * Probe a compiler: a path, or a name looked up in PATH.  Logs
 * "cannot find compiler '%s' in PATH", "'%s' is not executable" or
 * "'%s' is not a compiler: ..." and returns -ENOENT/-EACCES/-ENOEXEC.
 */
int elp_toolchain_probe(struct elp_ctx *ctx, const char *cc,
			struct elp_toolchain **out);
void elp_toolchain_free(struct elp_toolchain *tc);
void elp_toolchain_list_free(struct elp_toolchain **list, size_t n);

/*
 * Compilers installed in PATH: gcc, gcc-N, clang, clang-N,
 * x86_64-linux-gnu-gcc-N (first of a name in PATH wins).  With dedup, one
 * per realpath, preferring versioned names (gcc-12 over gcc), as those are
 * the names distribution kernels record.  Programs that do not answer as a
 * compiler are skipped.
 */
int elp_toolchain_installed(struct elp_ctx *ctx, bool dedup,
			    struct elp_toolchain ***out, size_t *n);

enum elp_cc_match {
	ELP_CC_MISMATCH = 0,
	ELP_CC_COMPATIBLE, /* same version line but for the program name */
	ELP_CC_MATCH, /* identical version line */
};

/* Compare a `--version` first line with CONFIG_CC_VERSION_TEXT. */
enum elp_cc_match elp_cc_match(const char *version_text, const char *want);
const char *elp_cc_match_name(enum elp_cc_match m);

/* Insert; -EEXIST (logged) when the cc_path is already catalogued. */
int elp_toolchain_store(struct elp_catalogue *cat, struct elp_toolchain *tc);
/* Insert with its 'toolchain-add' event, in one transaction. */
int elp_toolchain_add(struct elp_catalogue *cat, struct elp_toolchain *tc);
/*
 * The catalogue ids of the compilers tcs (0: not catalogued); with add, the
 * ones not catalogued are added (added[i]), all in one transaction.
 */
int elp_toolchain_catalogue(struct elp_catalogue *cat,
			    struct elp_toolchain *const *tcs, size_t n,
			    bool add, int64_t *ids, bool *added);
/* By numeric id, then cc_path (as given, then made absolute). */
int elp_toolchain_find(struct elp_catalogue *cat, const char *spec,
		       struct elp_toolchain **out);
typedef int (*elp_toolchain_cb)(const struct elp_toolchain *tc, void *data);
int elp_toolchain_foreach(struct elp_catalogue *cat, elp_toolchain_cb cb,
			  void *data);

/* The compiler chosen for a kernel, and the best installed one. */
struct elp_toolchain_choice {
	struct elp_toolchain *tc; /* NULL: no candidate at all */
	enum elp_cc_match match;
	struct elp_toolchain *installed; /* best in PATH, NULL: none */
	enum elp_cc_match installed_match;
};

/*
 * The one rule `toolchain check` and `build` use to pick a compiler for a
 * kernel built with want (its CONFIG_CC_VERSION_TEXT; NULL: unknown, so
 * nothing matches): cc when given (probed, as --cc), else the catalogued
 * compilers and then the installed ones (elp_toolchain_installed, dedup),
 * the best match winning and the first of equals (a catalogued one) kept.
 * An identical version line beats the same line under another program
 * name.  The choice's tc->id is its catalogue id (0: not catalogued).  A
 * mismatch is returned too (match ELP_CC_MISMATCH): the caller decides.
 */
int elp_toolchain_choose(struct elp_catalogue *cat, const char *want,
			 const char *cc, struct elp_toolchain_choice *out);
void elp_toolchain_choice_release(struct elp_toolchain_choice *c);

#endif
