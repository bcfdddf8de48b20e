// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client's side of a remote build: elp_remote_build() tries the
 * builders in order, each with the request (remote-request.c) over ssh
 * (remote-ssh.c), and takes the first answer: the result checked, put in
 * the artefact store and recorded in the catalogue as a build.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builds.h"
#include "history.h"
#include "kernel.h"
#include "patch.h"
#include "remote-client-internal.h"
#include "remote-internal.h"
#include "remote.h"

/* ---- the result ----------------------------------------------------------- */

/* Stage names are static strings in a result: the engine's, by name. */
static const char *const stage_names[] = {
	"resolve",	   "tree", "scope",  "compile-original", "apply",
	"compile-patched", "diff", "module", "record",
};

static const char *static_status(const char *s)
{
	if (!s)
		return NULL;
	if (strcmp(s, "succeeded") == 0)
		return "succeeded";
	if (strcmp(s, "failed") == 0)
		return "failed";
	if (strcmp(s, "refused") == 0)
		return "refused";
	return NULL;
}

/*
 * The builder's answer, checked: a known status, the module we asked for,
 * and for a success its module.ko with the sha256 the record claims.
 */
static int check_result(struct talk *t, const char *dir, struct elp_record *rec)
{
	char *path = NULL, sha[ELP_SHA256_HEX_LEN + 1];
	const char *status, *module, *claimed;
	int err;

	if (asprintf(&path, "%s/result", dir) < 0)
		return -ENOMEM;
	err = elp_record_parse(t->c->ctx, path, "the builder's result", rec);
	free(path);
	if (err)
		return err;
	status = static_status(elp_record_get(rec, "status"));
	module = elp_record_get(rec, "module");
	claimed = elp_record_get(rec, "sha256");
	if (!status || !module || strcmp(module, t->c->res->module_name) != 0) {
		elp_err(t->c->ctx,
			"the builder's result has no known status or is for another module");
		return -EBADMSG;
	}
	if (strcmp(status, "succeeded") != 0)
		return 0;
	if (asprintf(&path, "%s/module.ko", dir) < 0)
		return -ENOMEM;
	err = elp_is_file(path) ? elp_sha256_file(t->c->ctx, path, sha)
				: -ENOENT;
	free(path);
	if (err || !claimed || strcmp(sha, claimed) != 0) {
		elp_err(t->c->ctx,
			"the builder's result has no module, or not the one its record names");
		return -EBADMSG;
	}
	return 0;
}

static int copy_file(struct elp_ctx *ctx, const char *from, const char *to)
{
	char *data = NULL;
	size_t len = 0;
	int err = elp_read_file(ctx, from, &data, &len);

	if (!err)
		err = elp_write_file_atomic(ctx, to, data, len, 0644);
	free(data);
	return err;
}

/* The result into the artefact store and the result struct. */
static int store_result(struct client *c, const char *dir,
			const struct elp_record *rec)
{
	struct elp_build_result *r = c->res;
	struct elp_buf tsv = { 0 };
	char *store = NULL, *from = NULL, *to = NULL;
	size_t i, k;
	int err = 0;

	r->status = static_status(elp_record_get(rec, "status"));
	if (elp_record_get(rec, "reason"))
		r->reason = strdup(elp_record_get(rec, "reason"));
	if (asprintf(&store, "%s/artefacts/ssh-XXXXXX", c->cache) < 0)
		return -ENOMEM;
	err = elp_mkdir_p(c->ctx, store, 0755); /* its parent, then */
	if (!err && (rmdir(store) < 0 || !mkdtemp(store))) {
		err = -errno;
		elp_err(c->ctx, "cannot create '%s': %m", store);
	}
	for (i = 0; !err && i < rec->nr; i++) {
		const char *v = rec->values[i];
		struct elp_build_func *nf;
		char obj[256], name[512], src[1024];
		unsigned long pos;
		long long ms;

		if (strcmp(rec->keys[i], "stage") == 0 &&
		    sscanf(v, "%255s %lld", obj, &ms) == 2) {
			for (k = 0;
			     k < sizeof(stage_names) / sizeof(stage_names[0]);
			     k++)
				if (strcmp(obj, stage_names[k]) == 0 &&
				    r->nr_stages < 15) {
					r->stages[r->nr_stages].name =
						stage_names[k];
					r->stages[r->nr_stages++].ms = ms;
				}
		}
		if (strcmp(rec->keys[i], "function") != 0 ||
		    sscanf(v, "%255[^\t]\t%511[^\t]\t%lu\t%1023[^\n]", obj,
			   name, &pos, src) != 4)
			continue;
		nf = elp_grow(r->funcs, &r->cap_funcs, r->nr_funcs + 1,
			      sizeof(*nf));
		if (!nf) {
			err = -ENOMEM;
			break;
		}
		r->funcs = nf;
		nf += r->nr_funcs++;
		nf->object = strdup(obj);
		nf->old_name = strdup(name);
		nf->sympos = pos;
		nf->source_file = strdup(src);
		elp_buf_printf(&tsv, "%s\t%s\t%lu\t%s\n", obj, name, pos, src);
	}
	if (err)
		goto out;
	if (asprintf(&from, "%s/build.log", dir) < 0 ||
	    asprintf(&to, "%s/build.log", store) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (elp_is_file(from)) {
		err = copy_file(c->ctx, from, to);
		r->log_path = to;
		to = NULL;
	}
	if (!err && strcmp(r->status, "succeeded") == 0) {
		free(from);
		free(to);
		from = to = NULL;
		if (asprintf(&from, "%s/module.ko", dir) < 0 ||
		    asprintf(&to, "%s/%s.ko", store, r->module_name) < 0) {
			err = -ENOMEM;
			goto out;
		}
		err = copy_file(c->ctx, from, to);
		r->artefact_path = to;
		to = NULL;
		r->artefact_sha256 = strdup(elp_record_get(rec, "sha256"));
		free(from);
		from = NULL;
		if (!err && asprintf(&from, "%s/functions.tsv", store) > 0)
			err = elp_write_file_atomic(c->ctx, from,
						    tsv.data ? tsv.data : "",
						    tsv.len, 0644);
	}
out:
	if (err)
		elp_rm_rf(c->ctx, store);
	free(store);
	free(from);
	free(to);
	elp_buf_free(&tsv);
	return err;
}

/* The build row, its patches and stages, and a history event, at once. */
static int record(struct client *c, const struct elp_builder_url *u,
		  const struct elp_record *rec)
{
	struct elp_build_result *r = c->res;
	struct elp_build_record br = { 0 };
	int64_t *ids = calloc(c->nr_patches, sizeof(*ids));
	char *detail = NULL;
	size_t i;
	int err;

	if (!ids)
		return -ENOMEM;
	for (i = 0; i < c->nr_patches; i++)
		ids[i] = c->patches[i]->id;
	br.kernel_id = c->kernel->id;
	br.kernel_release = r->kernel_release;
	br.module_name = r->module_name;
	br.inputs_sha256 = r->inputs_sha256;
	br.patch_ids = ids;
	br.nr_patch_ids = c->nr_patches;
	br.cumulative = c->cumulative;
	br.backend = "ssh";
	br.builder_host = u->name;
	err = elp_catalogue_begin(c->cat);
	if (err) {
		free(ids);
		return err;
	}
	err = elp_builds_start(c->cat, &br, &r->build_id);
	free(ids);
	if (err)
		goto fail;
	if (asprintf(&detail, "%s on builder %s (%s, %s)%s%s", r->status,
		     u->name,
		     elp_record_get(rec, "host") ? elp_record_get(rec, "host")
						 : "?",
		     elp_record_get(rec, "compiler")
			     ? elp_record_get(rec, "compiler")
			     : "compiler unknown",
		     r->reason ? ": " : "", r->reason ? r->reason : "") < 0) {
		err = -ENOMEM;
		goto fail;
	}
	err = elp_builds_finish_result(c->cat, r);
	if (!err)
		err = elp_event_add_build(c->cat, r, c->kernel->id,
					  c->patches[0]->id, detail);
	free(detail);
	if (err)
		goto fail;
	return elp_catalogue_commit(c->cat);
fail:
	elp_catalogue_rollback(c->cat);
	r->build_id = 0;
	return err;
}

/*
 * One builder: 0 when it answered (the result is recorded), else why it
 * did not (logged as a warning by the caller), -EINTR when cancelled.
 */
static int try_builder(struct client *c, const struct elp_builder_url *u,
		       unsigned int n)
{
	struct elp_bundle_limits lim = { ELP_RESULT_MAX_ENTRIES,
					 ELP_RESULT_MAX_BYTES };
	struct talk t = { .c = c, .url = u };
	struct elp_record rec = { 0 };
	char *res_path = NULL, *dir = NULL;
	int status, fd, err;

	if (asprintf(&res_path, "%s/result-%u.tar.zst", c->work, n) < 0 ||
	    asprintf(&dir, "%s/result-%u", c->work, n) < 0) {
		err = -ENOMEM;
		goto out;
	}
	elp_info(c->ctx, "building on %s", u->name);
	status = elp_remote_converse(&t, c->request, res_path);
	if (status >= 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == ELP_BUILDER_NEEDS_SOURCE &&
	    c->flags & ELP_REMOTE_SEND_SOURCE) {
		/* it has no kernel for it: the source, as asked */
		err = elp_remote_source_request(c, u);
		if (err)
			goto out;
		free(t.last_line);
		t.last_line = NULL;
		t.progress = true;
		status = elp_remote_converse(&t, c->source_request, res_path);
	}
	if (status < 0) {
		err = status;
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *why = t.last_line ? t.last_line : "no message";

		if (WIFEXITED(status) && WEXITSTATUS(status) == 255)
			elp_warn(
				c->ctx,
				"builder %s: cannot connect, or the connection dropped without a result: %s",
				u->name, why);
		else if (WIFEXITED(status) &&
			 (WEXITSTATUS(status) == ELP_BUILDER_UNAVAILABLE ||
			  WEXITSTATUS(status) == ELP_BUILDER_NEEDS_SOURCE))
			elp_warn(c->ctx, "builder %s cannot build it: %s",
				 u->name, why);
		else
			elp_warn(
				c->ctx,
				"builder %s stopped (%s %d) without a result: %s",
				u->name,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status)
						  : WTERMSIG(status),
				why);
		err = -EHOSTUNREACH;
		goto out;
	}
	fd = open(res_path, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -errno
		     : elp_bundle_extract(c->ctx, fd, dir, &lim,
					  "the builder's result", NULL);
	if (fd >= 0)
		close(fd);
	if (!err)
		err = check_result(&t, dir, &rec);
	if (err) {
		elp_warn(c->ctx, "builder %s sent no valid result", u->name);
		err = -EHOSTUNREACH;
		goto out;
	}
	c->res->duration_ms = elp_now_ms() - c->t0;
	err = store_result(c, dir, &rec);
	if (!err)
		err = record(c, u, &rec);
	if (!err)
		elp_info(c->ctx, "built on %s (%s) with %s", u->name,
			 elp_record_get(&rec, "host"),
			 elp_record_get(&rec, "compiler")
				 ? elp_record_get(&rec, "compiler")
				 : "an unknown compiler");
out:
	if (dir)
		elp_rm_rf(c->ctx, dir);
	if (res_path)
		unlink(res_path);
	elp_record_free(&rec);
	free(t.last_line);
	elp_buf_free(&t.errbuf);
	free(res_path);
	free(dir);
	return err;
}

static void client_free(struct client *c)
{
	size_t i;

	elp_workdir_remove(c->ctx, c->work, c->work_lock);
	free(c->work);
	free(c->cache);
	free(c->request);
	free(c->source_request);
	for (i = 0; i < c->nr_patches; i++)
		elp_patch_free(c->patches[i]);
	free(c->patches);
	for (i = 0; c->patch_names && i < c->nr_patches; i++)
		free(c->patch_names[i]);
	free(c->patch_names);
	elp_kernel_free(c->kernel);
}

static int set_up(struct client *c)
{
	char *parent = NULL;
	int err;

	c->cache = c->opts->cache_dir ? strdup(c->opts->cache_dir)
				      : elp_build_default_cache(c->ctx);
	if (!c->cache || asprintf(&parent, "%s/remote", c->cache) < 0) {
		free(parent);
		return -ENOMEM;
	}
	err = elp_private_dir(c->ctx, c->cache, "cache");
	if (!err)
		err = elp_mkdir_p(c->ctx, parent, 0755);
	if (!err) {
		elp_workdir_reap(c->ctx, parent, "client");
		err = elp_workdir_create(c->ctx, parent, "client", &c->work,
					 &c->work_lock);
	}
	free(parent);
	return err;
}

int elp_remote_build(struct elp_catalogue *cat,
		     const struct elp_build_options *opts,
		     const char *const *builders, size_t nr_builders,
		     unsigned int flags, struct elp_build_result **out)
{
	struct client c = { .cat = cat,
			    .ctx = elp_catalogue_ctx(cat),
			    .opts = opts,
			    .work_lock = -1 };
	struct rank *rank = NULL;
	size_t i;
	int err = 0;

	*out = NULL;
	c.t0 = elp_now_ms();
	c.flags = flags;
	if (nr_builders == 0 || !opts->nr_patches) {
		elp_err(c.ctx, "no builder or no patch given");
		return -EINVAL;
	}
	c.res = calloc(1, sizeof(*c.res));
	if (!c.res)
		return -ENOMEM;
	c.res->status = "failed";
	/* every URL checked before anything is sent */
	for (i = 0; !err && i < nr_builders; i++) {
		struct elp_builder_url *u;

		err = elp_builder_url_parse(c.ctx, builders[i], &u);
		elp_builder_url_free(u);
	}
	if (!err)
		err = set_up(&c);
	if (!err)
		err = elp_remote_resolve(&c);
	if (!err)
		err = elp_remote_make_request(&c, NULL, NULL);
	if (!err) {
		rank = elp_remote_order(&c, builders, nr_builders, flags);
		if (!rank)
			err = -ENOMEM;
	}
	for (i = 0; !err && i < nr_builders; i++) {
		struct elp_builder_url *u = NULL;

		if (elp_remote_cancelled(&c)) {
			err = -EINTR;
			break;
		}
		err = elp_builder_url_parse(c.ctx, builders[rank[i].i], &u);
		if (!err)
			err = try_builder(&c, u, (unsigned int)i);
		elp_builder_url_free(u);
		if (err == -EHOSTUNREACH) {
			if (i + 1 < nr_builders)
				elp_warn(c.ctx, "trying the next builder, %s",
					 builders[rank[i + 1].i]);
			else
				elp_err(c.ctx,
					"no builder could build it (%zu tried)",
					nr_builders);
			err = i + 1 < nr_builders ? 0 : -EHOSTUNREACH;
			continue;
		}
		break;
	}
	if (!err && c.res->build_id && opts->output &&
	    strcmp(c.res->status, "succeeded") == 0) {
		err = copy_file(c.ctx, c.res->artefact_path, opts->output);
		if (!err)
			c.res->output_path = elp_abspath(opts->output);
	}
	if (!err && c.res->build_id && strcmp(c.res->status, "succeeded") != 0)
		err = strcmp(c.res->status, "refused") == 0 ? -ENOTSUP : -EIO;
	if (err && !c.res->reason && !c.res->build_id)
		c.res->reason = strdup(err == -EHOSTUNREACH
					       ? "no builder could build it"
					       : strerror(-err));
	c.res->duration_ms = elp_now_ms() - c.t0;
	free(rank);
	client_free(&c);
	*out = c.res;
	return err;
}
