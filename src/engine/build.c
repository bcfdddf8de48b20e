// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The build driver: named passes over one build's state.
 *
 *   resolve           kernel, patches, toolchain, inputs hash; an identical
 *                     succeeded build answers at once (build-resolve.c)
 *   tree              the prepared tree (cache, locked) and its special-
 *                     section entry sizes (build-tree.c, build-probe.c)
 *   scope             which units this config builds (build-scope.c)
 *   compile-original  unpatched objects, cached by source sha
 *                     (build-compile.c)
 *   apply             livepatch patches onto the tree, journalled
 *                     (build-tree.c)
 *   compile-patched   patched objects; the tree is restored right after
 *                     (build-compile.c)
 *   diff              engine: changed functions per unit (build-compile.c)
 *   module            klp_patch source, kbuild link, klp finalize, store
 *                     (build-module.c)
 *   record            the builds row, stages, event (build-record.c)
 *
 * The helpers the passes share are in build-util.c.
 *
 * The builds row is inserted as 'running' before the tree pass so that a
 * crash leaves a visible record.
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
#include "../lib/sandbox.h"
#include "../lib/toolchain.h"
#include "build-internal.h"

/* ---- the build's own log context --------------------------------------- */

static void build_log(void *data, int priority, const char *file, int line,
		      const char *fn, const char *format, va_list args)
{
	struct elp_bstate *b = data;
	char *msg = NULL;

	if (vasprintf(&msg, format, args) < 0)
		return;
	if (priority <= ELP_LOG_ERR && !b->first_error)
		b->first_error = strdup(msg);
	if (b->log_fd >= 0) {
		dprintf(b->log_fd, "elivepatch: %s%s\n",
			priority <= ELP_LOG_ERR	      ? "error: "
			: priority == ELP_LOG_WARNING ? "warning: "
						      : "",
			msg);
	}
	if (elp_get_log_priority(b->outer) >= priority)
		elp_log(b->outer, priority, file, line, fn, "%s", msg);
	free(msg);
}

/* ---- the passes ---------------------------------------------------------- */

static int pass_workdir(struct elp_bstate *b)
{
	char *log = NULL;
	size_t i;
	int err;

	/* catalogues may share a cache: their build ids do not name a build */
	{
		const char *cp = elp_catalogue_path(b->cat);
		char hex[ELP_SHA256_HEX_LEN + 1];

		if (elp_sha256_hex(cp ? cp : "", cp ? strlen(cp) : 0, hex) <
			    0 ||
		    asprintf(&b->build_key, "%.8s-%lld", hex,
			     (long long)b->res->build_id) < 0)
			return -ENOMEM;
	}
	if (asprintf(&b->workdir, "%s/builds/%s", b->cache, b->build_key) < 0)
		return -ENOMEM;
	err = elp_rm_rf(b->ctx, b->workdir);
	if (err)
		return err;
	{
		static const char *const sub[] = { "orig", "patched",
						   "module" };

		for (i = 0; i < 3; i++) {
			char *d;

			if (asprintf(&d, "%s/%s", b->workdir, sub[i]) < 0)
				return -ENOMEM;
			err = elp_mkdir_p(b->ctx, d, 0755);
			free(d);
			if (err)
				return err;
		}
	}
	if (asprintf(&log, "%s/build.log", b->workdir) < 0)
		return -ENOMEM;
	b->log_fd = open(
		log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (b->log_fd < 0) {
		err = -errno;
		elp_err(b->ctx, "cannot create '%s': %m", log);
		free(log);
		return err;
	}
	b->res->log_path = log;
	for (i = 0; i < b->nr_units; i++) {
		struct elp_bunit *u = &b->units[i];

		if (asprintf(&u->orig_o, "%s/orig/unit%zu.o", b->workdir, i) <
			    0 ||
		    asprintf(&u->patched_o, "%s/patched/unit%zu.o", b->workdir,
			     i) < 0 ||
		    asprintf(&u->diff_o, "%s/module/unit%zu.o", b->workdir, i) <
			    0)
			return -ENOMEM;
	}
	dprintf(b->log_fd,
		"elivepatch build %lld: kernel %s, module %s, compiler %s (%s)\n",
		(long long)b->res->build_id, b->kernel->release,
		b->res->module_name, b->cc, b->cc_version);
	for (i = 0; i < b->nr_patches; i++)
		dprintf(b->log_fd, "patch %zu: %s (%s)\n", i,
			b->patches[i]->name, b->patches[i]->sha256);
	return 0;
}

static int pass_tree(struct elp_bstate *b)
{
	int err = elp_btree_prepare(b);

	/* the special-section layouts, from the pristine headers */
	return err ? err : elp_bprobe_layout(b);
}

static int pass_apply(struct elp_bstate *b)
{
	return elp_btree_apply(b);
}

static int pass_compile_patched(struct elp_bstate *b)
{
	int err = elp_bcompile_patched(b);
	int rerr = elp_btree_restore(b);

	return err ? err : rerr;
}

struct pass {
	const char *name;
	int (*fn)(struct elp_bstate *b);
};

static const struct pass passes[] = {
	{ "tree", pass_tree },
	{ "scope", elp_bscope },
	{ "compile-original", elp_bcompile_original },
	{ "apply", pass_apply },
	{ "compile-patched", pass_compile_patched },
	{ "diff", elp_bdiff },
	{ "module", elp_bmodule },
};

static void add_stage(struct elp_build_result *r, const char *name,
		      long long ms)
{
	if (r->nr_stages < sizeof(r->stages) / sizeof(r->stages[0])) {
		r->stages[r->nr_stages].name = name;
		r->stages[r->nr_stages].ms = ms;
		r->nr_stages++;
	}
}

static void bstate_free(struct elp_bstate *b)
{
	size_t i;

	if (b->journal_active)
		elp_btree_restore(b);
	elp_btree_unlock(b);
	if (b->log_fd >= 0)
		close(b->log_fd);
	elp_kernel_free(b->kernel);
	for (i = 0; i < b->nr_patches; i++)
		elp_patch_free(b->patches[i]);
	free(b->patches);
	for (i = 0; i < b->nr_oot; i++)
		elp_patch_free(b->oot[i]);
	free(b->oot);
	for (i = 0; i < b->nr_units; i++) {
		struct elp_bunit *u = &b->units[i];

		free(u->src);
		free(u->obj);
		free(u->pristine_sha);
		free(u->orig_o);
		free(u->patched_o);
		free(u->diff_o);
		free(u->target);
		elp_diff_result_free(u->diff);
	}
	free(b->units);
	for (i = 0; i < b->nr_headers; i++)
		free(b->headers[i]);
	free(b->headers);
	free(b->include_dir);
	free(b->include_sha);
	elp_bscope_free(b);
	free(b->cc);
	free(b->cc_version);
	free(b->source_identity);
	free(b->cache);
	free(b->tree_key);
	free(b->tree_root);
	free(b->tree);
	free(b->workdir);
	free(b->build_key);
	free(b->first_error);
	free(b->refusal);
	if (b->ctx)
		elp_ctx_free(b->ctx);
}

int elp_build(struct elp_catalogue *cat, const struct elp_build_options *opts,
	      struct elp_build_result **out)
{
	struct elp_bstate b = { 0 };
	long long t;
	size_t i;
	int err, rerr;

	*out = NULL;
	b.cat = cat;
	b.opts = opts;
	b.outer = elp_catalogue_ctx(cat);
	b.lock_fd = -1;
	b.log_fd = -1;
	b.t0 = elp_now_ms();
	b.jobs = opts->jobs;
	if (!b.jobs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		b.jobs = n > 0 ? (unsigned int)n : 1;
	}
	b.res = calloc(1, sizeof(*b.res));
	b.ctx = elp_ctx_new();
	b.cache = opts->cache_dir ? strdup(opts->cache_dir)
				  : elp_build_default_cache(b.outer);
	if (!b.res || !b.ctx || !b.cache || elp_ctx_inherit(b.ctx, b.outer)) {
		free(b.res);
		bstate_free(&b);
		return -ENOMEM;
	}
	elp_set_log_fn(b.ctx, build_log, &b);
	elp_set_log_priority(b.ctx, ELP_LOG_DEBUG);
	b.res->status = "failed";
	/* the cache is root's only: trees, objects and modules to load */
	err = elp_private_dir(b.outer, b.cache, "cache");
	if (err)
		goto out_early;

	/* builds of this host whose process died are not running */
	if (elp_builds_reap_interrupted(b.cat))
		elp_dbg(b.ctx, "cannot check for interrupted builds");

	/* never unsandboxed when a sandbox was asked for */
	if (opts->sandbox) {
		err = elp_sandbox_check(b.ctx);
		if (err)
			goto out_early;
	}

	/* resolve: no build row yet; errors here are the caller's input */
	t = elp_now_ms();
	err = elp_bresolve(&b);
	add_stage(b.res, "resolve", elp_now_ms() - t);
	if (err && !b.refusal)
		goto out_early;
	if (!err && !opts->rebuild) {
		err = elp_bfind_identical(&b);
		if (err != 0) {
			b.res->duration_ms = elp_now_ms() - b.t0;
			err = err > 0 ? 0 : err;
			goto out_early;
		}
	}
	if (!err)
		err = elp_bplan_units(&b);
	if (b.res->inputs_sha256 == NULL) {
		/* refused before the inputs were known (toolchain) */
		goto out_early;
	}
	rerr = elp_brecord_start(&b);
	if (rerr) {
		err = rerr;
		goto out_early;
	}
	/* the work dir and log, also for a build refused by plan_units */
	rerr = pass_workdir(&b);
	if (!err)
		err = rerr;
	for (i = 0; !err && i < ARRAY_SIZE(passes); i++) {
		if (elp_bstate_cancelled(&b)) {
			err = -EINTR;
			break;
		}
		elp_fault_point(b.outer, "build", passes[i].name);
		t = elp_now_ms();
		err = passes[i].fn(&b);
		add_stage(b.res, passes[i].name, elp_now_ms() - t);
	}
	if (b.journal_active) {
		rerr = elp_btree_restore(&b);
		if (!err)
			err = rerr;
	}
	elp_btree_unlock(&b);

	if (!err) {
		b.res->status = "succeeded";
	} else if (b.refusal) {
		b.res->status = "refused";
		b.res->reason = strdup(b.refusal);
		err = -ENOTSUP;
	} else {
		b.res->status = "failed";
		if (err == -EINTR)
			b.res->reason = strdup("interrupted");
		else
			b.res->reason = strdup(b.first_error ? b.first_error
							     : strerror(-err));
	}
	if (err) {
		/* a failed or refused build never has an artefact */
		if (b.res->artefact_path)
			unlink(b.res->artefact_path);
		free(b.res->artefact_path);
		free(b.res->artefact_sha256);
		b.res->artefact_path = NULL;
		b.res->artefact_sha256 = NULL;
	}
	b.res->duration_ms = elp_now_ms() - b.t0;
	elp_fault_point(b.outer, "build", "record");
	t = elp_now_ms();
	rerr = elp_brecord_finish(&b);
	add_stage(b.res, "record", elp_now_ms() - t);
	/* the record stage's own time, after the fact */
	if (!rerr && b.res->build_id)
		rerr = elp_brecord_stage(&b, b.res->nr_stages - 1);
	if (rerr && !err)
		err = rerr;
	if (b.log_fd >= 0)
		dprintf(b.log_fd, "elivepatch: build %lld %s%s%s (%lld ms)\n",
			(long long)b.res->build_id, b.res->status,
			b.res->reason ? ": " : "",
			b.res->reason ? b.res->reason : "", b.res->duration_ms);
	*out = b.res;
	bstate_free(&b);
	return err;

out_early:
	if (err) {
		b.res->status = b.refusal ? "refused" : "failed";
		b.res->reason = strdup(b.refusal       ? b.refusal
				       : b.first_error ? b.first_error
						       : strerror(-err));
		if (b.refusal)
			err = -ENOTSUP;
	}
	b.res->duration_ms = elp_now_ms() - b.t0;
	*out = b.res;
	bstate_free(&b);
	return err;
}
