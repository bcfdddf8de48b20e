// SPDX-License-Identifier: GPL-2.0-or-later
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elp.h"
#include "util.h"

struct elp_ctx {
	elp_log_fn log_fn;
	void *log_data;
	int log_priority;
	char *datadir; /* resolved on first use */
	bool faults; /* elp_set_fault_injection() */
};

#ifdef ELP_FAULT_INJECTION
#define FAULTS_BUILT_IN true
#else
#define FAULTS_BUILT_IN false
#endif

static void log_to_stderr(void *data, int priority, const char *file, int line,
			  const char *fn, const char *format, va_list args)
{
	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	fputs("libelivepatch: ", stderr);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

struct elp_ctx *elp_ctx_new(void)
{
	struct elp_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->log_fn = log_to_stderr;
	ctx->log_priority = ELP_LOG_ERR;
	return ctx;
}

void elp_ctx_free(struct elp_ctx *ctx)
{
	if (ctx)
		free(ctx->datadir);
	free(ctx);
}

/*
 * <dir of the binary>/../data when it holds elivepatch's data: the binary
 * runs from its build tree (build/elivepatch, data/ in the checkout), as
 * git's RUNTIME_PREFIX finds its files relative to /proc/self/exe.
 */
static char *build_tree_datadir(void)
{
	char exe[PATH_MAX], *slash, *dir = NULL, *marker = NULL, *real;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	bool found;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if (asprintf(&dir, "%s/../data", exe) < 0)
		return NULL;
	found = asprintf(&marker, "%s/include/elivepatch.h", dir) >= 0 &&
		elp_is_file(marker);
	free(marker);
	marker = NULL;
	found = found && asprintf(&marker, "%s/schema", dir) >= 0 &&
		elp_is_dir(marker);
	free(marker);
	real = found ? realpath(dir, NULL) : NULL;
	free(dir);
	return real;
}

const char *elp_get_datadir(struct elp_ctx *ctx)
{
	const char *env = getenv("ELIVEPATCH_DATADIR");

	if (ctx->datadir)
		return ctx->datadir;
	if (env && *env)
		ctx->datadir = strdup(env);
	else
		ctx->datadir = build_tree_datadir();
	if (!ctx->datadir)
		ctx->datadir = strdup(ELP_DATADIR);
	/* out of memory: the compiled-in directory still names something */
	return ctx->datadir ? ctx->datadir : ELP_DATADIR;
}

void elp_set_log_fn(struct elp_ctx *ctx, elp_log_fn fn, void *data)
{
	ctx->log_fn = fn;
	ctx->log_data = data;
}

void elp_get_log_fn(const struct elp_ctx *ctx, elp_log_fn *fn, void **data)
{
	*fn = ctx->log_fn;
	*data = ctx->log_data;
}

void elp_set_log_priority(struct elp_ctx *ctx, int priority)
{
	ctx->log_priority = priority;
}

int elp_get_log_priority(const struct elp_ctx *ctx)
{
	/* a NULL context is silent: for best-effort reads */
	return ctx ? ctx->log_priority : -1;
}

void elp_log(struct elp_ctx *ctx, int priority, const char *file, int line,
	     const char *fn, const char *format, ...)
{
	va_list args;

	if (!ctx->log_fn)
		return;
	va_start(args, format);
	ctx->log_fn(ctx->log_data, priority, file, line, fn, format, args);
	va_end(args);
}

void elp_set_fault_injection(struct elp_ctx *ctx, bool on)
{
	ctx->faults = on;
}

void elp_fault_point(struct elp_ctx *ctx, const char *area, const char *point)
{
	const char *want = getenv("ELIVEPATCH_FAULT");
	size_t n = strlen(area);

	if (!(FAULTS_BUILT_IN || (ctx && ctx->faults)) || !want)
		return;
	if (strncmp(want, area, n) != 0 || want[n] != ':' ||
	    strcmp(want + n + 1, point) != 0)
		return;
	if (ctx)
		elp_log(ctx, ELP_LOG_WARNING, __FILE__, __LINE__, __func__,
			"fault injection: killed at %s:%s", area, point);
	raise(SIGKILL);
}
