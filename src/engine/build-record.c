// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A build in the catalogue: its builds row (through lib/builds.c), stages
 * and event; the module's functions.tsv; an identical earlier build.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/builds.h"
#include "../lib/history.h"
#include "../lib/toolchain.h"
#include "build-internal.h"

/* ---- catalogue ---------------------------------------------------------- */

int elp_brecord_start(struct elp_bstate *b)
{
	struct elp_build_record r = { 0 };
	int64_t *ids;
	size_t i;
	int err;

	ids = calloc(b->nr_patches ? b->nr_patches : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < b->nr_patches; i++)
		ids[i] = b->patches[i] ? b->patches[i]->id : 0;
	r.kernel_id = b->kernel->id;
	r.kernel_release = b->kernel->release;
	r.toolchain_id = b->toolchain_id;
	r.module_name = b->res->module_name;
	r.inputs_sha256 = b->res->inputs_sha256;
	r.cumulative = b->cumulative;
	r.patch_ids = ids;
	r.nr_patch_ids = b->nr_patches;
	err = elp_builds_start(b->cat, &r, &b->res->build_id);
	free(ids);
	return err;
}

int elp_brecord_stage(struct elp_bstate *b, size_t i)
{
	const struct elp_build_result *r = b->res;

	return elp_builds_stage(b->cat, r->build_id, i, r->stages[i].name,
				r->stages[i].ms);
}

/* The outcome, its stages and its event: all or nothing. */
static int record_outcome(struct elp_bstate *b)
{
	struct elp_build_result *r = b->res;
	char *detail = NULL;
	int err;

	if (!r->build_id)
		return 0;
	if (asprintf(&detail, "%s%s%s", r->status, r->reason ? ": " : "",
		     r->reason ? r->reason : "") < 0)
		detail = NULL;
	err = elp_builds_finish_result(b->cat, r);
	if (!err)
		err = elp_event_add_build(
			b->cat, r, b->kernel ? b->kernel->id : 0,
			b->nr_patches ? b->patches[0]->id : 0, detail);
	free(detail);
	return err;
}

int elp_brecord_finish(struct elp_bstate *b)
{
	int err;

	if (!b->res->build_id)
		return 0;
	err = elp_catalogue_begin(b->cat);
	if (!err)
		err = record_outcome(b);
	return elp_catalogue_end(b->cat, err);
}

/* functions.tsv next to the artefact: what the module replaces */
int elp_brecord_functions(struct elp_bstate *b, const char *path)
{
	struct elp_buf out = { 0 };
	size_t i;
	int err;

	for (i = 0; i < b->res->nr_funcs; i++) {
		const struct elp_build_func *f = &b->res->funcs[i];

		elp_buf_printf(&out, "%s\t%s\t%lu\t%s\n", f->object,
			       f->old_name, f->sympos, f->source_file);
	}
	err = elp_buf_error(&out);
	if (!err)
		err = elp_write_file_atomic(
			b->ctx, path, out.data ? out.data : "", out.len, 0644);
	elp_buf_free(&out);
	return err;
}

static void read_functions(struct elp_build_result *r, const char *path)
{
	char *data = NULL, *line, *save = NULL;

	if (elp_read_file(NULL, path, &data, NULL) < 0)
		return;
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char obj[256], name[512], src[1024];
		unsigned long pos;
		struct elp_build_func *nf;

		if (sscanf(line, "%255[^\t]\t%511[^\t]\t%lu\t%1023[^\n]", obj,
			   name, &pos, src) != 4)
			continue;
		nf = elp_grow(r->funcs, &r->cap_funcs, r->nr_funcs + 1,
			      sizeof(*nf));
		if (!nf)
			break;
		r->funcs = nf;
		nf[r->nr_funcs].object = strdup(obj);
		nf[r->nr_funcs].old_name = strdup(name);
		nf[r->nr_funcs].sympos = pos;
		nf[r->nr_funcs].source_file = strdup(src);
		r->nr_funcs++;
	}
	free(data);
}

int elp_bcopy_output(struct elp_bstate *b, const char *ko)
{
	int err;

	if (!b->opts->output)
		return 0;
	err = elp_bcopy_file(b->ctx, ko, b->opts->output);
	if (err)
		return err;
	b->res->output_path = elp_abspath(b->opts->output);
	return b->res->output_path ? 0 : -errno;
}

/* An identical succeeded build whose artefact is intact answers at once. */
int elp_bfind_identical(struct elp_bstate *b)
{
	struct elp_build_result *r = b->res;
	struct elp_build_found f;
	int err;

	err = elp_builds_find_identical(b->cat, r->inputs_sha256, &f);
	if (err <= 0)
		return err;
	r->build_id = f.id;
	r->artefact_path = f.artefact_path;
	r->artefact_sha256 = f.artefact_sha256;
	r->log_path = f.log_path;
	{
		char *dir = strdup(r->artefact_path), *slash, *tsv = NULL;

		if (dir && (slash = strrchr(dir, '/'))) {
			*slash = '\0';
			if (asprintf(&tsv, "%s/functions.tsv", dir) > 0)
				read_functions(r, tsv);
			free(tsv);
		}
		free(dir);
	}
	err = elp_bcopy_output(b, r->artefact_path);
	if (err)
		return err;
	r->reused = true;
	r->status = "succeeded";
	elp_info(b->ctx, "identical to build %lld; reusing its module",
		 (long long)r->build_id);
	{
		char detail[64];

		snprintf(detail, sizeof(detail), "reused build %lld",
			 (long long)r->build_id);
		elp_event_add_build(b->cat, r, b->kernel->id, b->patches[0]->id,
				    detail);
	}
	return 1;
}
