/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libelivepatch: the library half of elivepatch.
 *
 * Like libkmod, nothing here prints or exits: every function returns 0 (or a
 * count) on success and a negative errno on failure, and explains failures
 * through the context's log callback.
 */
#ifndef ELP_H
#define ELP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum elp_log_priority {
	ELP_LOG_ERR = 3,
	ELP_LOG_WARNING = 4,
	ELP_LOG_NOTICE = 5,
	ELP_LOG_INFO = 6,
	ELP_LOG_DEBUG = 7,
};

typedef void (*elp_log_fn)(void *data, int priority, const char *file, int line,
			   const char *fn, const char *format, va_list args);

struct elp_ctx;

struct elp_ctx *elp_ctx_new(void);
void elp_ctx_free(struct elp_ctx *ctx);
void elp_set_log_fn(struct elp_ctx *ctx, elp_log_fn fn, void *data);
/* The current callback, e.g. to wrap it and restore it after. */
void elp_get_log_fn(const struct elp_ctx *ctx, elp_log_fn *fn, void **data);
void elp_set_log_priority(struct elp_ctx *ctx, int priority);
int elp_get_log_priority(const struct elp_ctx *ctx);
/*
 * Settings of the context.  The library never reads the environment for
 * them: the CLI reads it once (the ELIVEPATCH_* variable named below, else
 * elivepatch.conf) and sets them.
 */
enum elp_setting {
	ELP_SET_ROOT, /* ELIVEPATCH_ROOT: /proc, /sys, /boot, /lib/modules are
		     read under it (tests, containers) */
	ELP_SET_DATADIR, /* ELIVEPATCH_DATADIR, see elp_get_datadir() */
	ELP_SET_CACHE_DIR, /* ELIVEPATCH_CACHE, see elp_build_default_cache() */
	ELP_SET_SIGN_KEY, /* ELIVEPATCH_SIGN_KEY, see elp_sign_configured() */
	ELP_SET_SIGN_CERT, /* ELIVEPATCH_SIGN_CERT */
	ELP_SET_SSH, /* ELIVEPATCH_SSH: the ssh command of remote builds */
	ELP_SET_BWRAP, /* ELIVEPATCH_BWRAP: bubblewrap, see sandbox.h */
	ELP_SET_FAULT, /* ELIVEPATCH_FAULT, see elp_fault_point() */
	ELP_SET_COUNT
};
/* A copy of value; NULL or "" unsets.  -ENOMEM or 0. */
int elp_set(struct elp_ctx *ctx, enum elp_setting setting, const char *value);
/* The value, or NULL when unset (or ctx is NULL). */
const char *elp_get(const struct elp_ctx *ctx, enum elp_setting setting);
/* Every setting of from (a context made for one task, like a build's). */
int elp_ctx_inherit(struct elp_ctx *ctx, const struct elp_ctx *from);
/* ELP_SET_ROOT + path (malloc'd), or NULL when out of memory. */
char *elp_rooted(const struct elp_ctx *ctx, const char *path);

/*
 * Where elivepatch's data (include/elivepatch.h) is: ELP_SET_DATADIR, else
 * ../data beside the binary when it runs from its build tree (that data/
 * has include/elivepatch.h and schema/), else the compiled-in DATADIR.
 * Never NULL; owned by ctx.
 */
const char *elp_get_datadir(struct elp_ctx *ctx);

/*
 * Fault injection, for crash tests: at the point "AREA:POINT" (e.g.
 * "build:diff", "queue:finish") the process kills itself with SIGKILL, as
 * `kill -9` or a power loss would, when ELP_SET_FAULT names that point.  Honoured only in a test build (compiled with ELP_FAULT_INJECTION,
 * as `make san` is) or after elp_set_fault_injection(ctx, true) (the CLI's
 * hidden --fault-injection); otherwise, and for any other point, nothing.
 * Before dying it logs "fault injection: killed at AREA:POINT" (warning).
 */
void elp_set_fault_injection(struct elp_ctx *ctx, bool on);
void elp_fault_point(struct elp_ctx *ctx, const char *area, const char *point);

void elp_log(struct elp_ctx *ctx, int priority, const char *file, int line,
	     const char *fn, const char *format, ...)
	__attribute__((format(printf, 6, 7)));

#define elp_log_cond(ctx, prio, ...)                                     \
	do {                                                             \
		if (elp_get_log_priority(ctx) >= (prio))                 \
			elp_log(ctx, prio, __FILE__, __LINE__, __func__, \
				__VA_ARGS__);                            \
	} while (0)

#define elp_err(ctx, ...) elp_log_cond(ctx, ELP_LOG_ERR, __VA_ARGS__)
#define elp_warn(ctx, ...) elp_log_cond(ctx, ELP_LOG_WARNING, __VA_ARGS__)
#define elp_notice(ctx, ...) elp_log_cond(ctx, ELP_LOG_NOTICE, __VA_ARGS__)
#define elp_info(ctx, ...) elp_log_cond(ctx, ELP_LOG_INFO, __VA_ARGS__)
#define elp_dbg(ctx, ...) elp_log_cond(ctx, ELP_LOG_DEBUG, __VA_ARGS__)

#endif
