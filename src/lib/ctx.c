// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>

#include "elp.h"

struct elp_ctx {
	elp_log_fn log_fn;
	void *log_data;
	int log_priority;
};

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
	free(ctx);
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
