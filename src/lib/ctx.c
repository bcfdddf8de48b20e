// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elp.h"

struct elp_ctx {
	elp_log_fn log_fn;
	void *log_data;
	int log_priority;
	char *datadir; /* resolved on first use */
	bool faults; /* elp_set_fault_injection() */
	char *settings[ELP_SET_COUNT];
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
	size_t i;

	if (!ctx)
		return;
	free(ctx->datadir);
	for (i = 0; i < ELP_SET_COUNT; i++)
		free(ctx->settings[i]);
	free(ctx);
}

int elp_set(struct elp_ctx *ctx, enum elp_setting setting, const char *value)
{
	char *v = NULL;

	if ((unsigned int)setting >= ELP_SET_COUNT)
		return -EINVAL;
	if (value && *value) {
		v = strdup(value);
		if (!v)
			return -ENOMEM;
	}
	free(ctx->settings[setting]);
	ctx->settings[setting] = v;
	if (setting == ELP_SET_DATADIR) {
		free(ctx->datadir);
		ctx->datadir = NULL;
	}
	return 0;
}

const char *elp_get(const struct elp_ctx *ctx, enum elp_setting setting)
{
	if (!ctx || (unsigned int)setting >= ELP_SET_COUNT)
		return NULL;
	return ctx->settings[setting];
}

int elp_ctx_inherit(struct elp_ctx *ctx, const struct elp_ctx *from)
{
	int i, err = 0;

	for (i = 0; i < ELP_SET_COUNT && !err; i++)
		err = elp_set(ctx, (enum elp_setting)i, from->settings[i]);
	ctx->faults = from->faults;
	return err;
}

char *elp_rooted(const struct elp_ctx *ctx, const char *path)
{
	const char *root = elp_get(ctx, ELP_SET_ROOT);
	char *s;

	if (asprintf(&s, "%s%s", root ? root : "", path) < 0)
		return NULL;
	return s;
}

/*
 * stat(2) for path is of type (S_IFREG, S_IFDIR). Not util.c's elp_is_file():
 * util.c logs through this file, which stays below it.
 */
static bool is_type(const char *path, mode_t type)
{
	struct stat st;

	return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == type;
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
		is_type(marker, S_IFREG);
	free(marker);
	marker = NULL;
	found = found && asprintf(&marker, "%s/schema", dir) >= 0 &&
		is_type(marker, S_IFDIR);
	free(marker);
	real = found ? realpath(dir, NULL) : NULL;
	free(dir);
	return real;
}

const char *elp_get_datadir(struct elp_ctx *ctx)
{
	const char *set = elp_get(ctx, ELP_SET_DATADIR);

	if (ctx->datadir)
		return ctx->datadir;
	if (set)
		ctx->datadir = strdup(set);
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
	const char *want = elp_get(ctx, ELP_SET_FAULT);
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
