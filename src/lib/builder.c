// SPDX-License-Identifier: GPL-2.0-or-later
/* The builder's side of a remote build: one request bundle in, a result out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builds.h"
#include "kernel-add.h"
#include "kernel.h"
#include "patch.h"
#include "remote-internal.h"
#include "remote.h"

struct serve {
	struct elp_catalogue *cat;
	struct elp_ctx *ctx;
	char *cache, *work, *req; /* req: the extracted bundle */
	int work_lock; /* owns work (workdir.c) */
	int source_lock; /* holds a source sent (builder-prune.c) */
	bool sandbox; /* ELP_BUILDER_SANDBOX */
	struct elp_record rq;
	char manifest[ELP_SHA256_HEX_LEN + 1];
	char config_sha[ELP_SHA256_HEX_LEN + 1];
	char symbols_sha[ELP_SHA256_HEX_LEN + 1];
	char symvers_sha[ELP_SHA256_HEX_LEN + 1]; /* "" when not sent */
	char **oot; /* sha256 of each out-of-tree patch, in order */
	size_t nr_oot, cap_oot;
	int64_t kernel_id;
	char *kernel_name, *kernel_source;
};

/* dir/name, or NULL */
static char *path_join(const char *dir, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* Write all of len bytes, across short writes. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_file(struct elp_ctx *ctx, const char *path, int out_fd)
{
	char buf[65536];
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		elp_err(ctx, "cannot open '%s': %m", path);
		return err;
	}
	while (!err && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0)
			err = errno == EINTR ? 0 : -errno;
		else
			err = write_all(out_fd, buf, (size_t)n);
	}
	close(fd);
	if (err)
		elp_err(ctx, "cannot send the result: %s", strerror(-err));
	return err;
}

static int entry_sha(struct serve *s, const char *name,
		     char out[ELP_SHA256_HEX_LEN + 1], bool optional)
{
	char *path;
	int err;

	out[0] = '\0';
	if (asprintf(&path, "%s/%s", s->req, name) < 0)
		return -ENOMEM;
	if (optional && !elp_is_file(path)) {
		free(path);
		return 0;
	}
	err = elp_sha256_file(s->ctx, path, out);
	free(path);
	return err;
}

/* The request's own inputs, named by their sha256. */
static int read_request(struct serve *s)
{
	char *path;
	size_t i;
	int err;

	if (asprintf(&path, "%s/request", s->req) < 0)
		return -ENOMEM;
	err = elp_record_parse(s->ctx, path, "the client's request", &s->rq);
	free(path);
	if (err)
		return err;
	if (!elp_record_get(&s->rq, "format") ||
	    strcmp(elp_record_get(&s->rq, "format"), ELP_REMOTE_FORMAT) != 0 ||
	    !elp_record_get(&s->rq, "release") ||
	    !elp_record_get(&s->rq, "module") ||
	    !elp_record_get(&s->rq, "patch")) {
		elp_err(s->ctx,
			"the client's request lacks its format (%s), release, module or patches",
			ELP_REMOTE_FORMAT);
		return -EBADMSG;
	}
	for (i = 0; i < s->rq.nr; i++) {
		const char *v = s->rq.values[i];

		/* a patch's or source's name is part of a path under the
		 * request, and of one in the cache */
		if ((strcmp(s->rq.keys[i], "patch") == 0 ||
		     strcmp(s->rq.keys[i], "source") == 0) &&
		    (!*v || v[0] == '.' || v[0] == '-' ||
		     strspn(v,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") !=
			     strlen(v))) {
			elp_err(s->ctx,
				"the client's request names a %s '%s'; expected [A-Za-z0-9._+-]",
				s->rq.keys[i], v);
			return -EBADMSG;
		}
	}
	err = entry_sha(s, "config", s->config_sha, false);
	if (!err)
		err = entry_sha(s, "symbols", s->symbols_sha, false);
	if (!err)
		err = entry_sha(s, "Module.symvers", s->symvers_sha, true);
	for (i = 0; !err && i < s->rq.nr; i++) {
		char **no, name[32];

		if (strcmp(s->rq.keys[i], "oot") != 0)
			continue;
		no = elp_grow(s->oot, &s->cap_oot, s->nr_oot + 1, sizeof(*no));
		if (!no)
			return -ENOMEM;
		s->oot = no;
		no[s->nr_oot] = calloc(1, ELP_SHA256_HEX_LEN + 1);
		if (!no[s->nr_oot])
			return -ENOMEM;
		snprintf(name, sizeof(name), "oot/%03zu.patch", s->nr_oot);
		s->nr_oot++;
		err = entry_sha(s, name, no[s->nr_oot - 1], false);
	}
	return err;
}

static bool oot_match(struct serve *s, int64_t kernel_id)
{
	int64_t *ids = NULL;
	size_t nr = 0, i;
	bool ok;

	if (elp_kernel_patch_ids(s->cat, kernel_id, &ids, &nr))
		return false;
	ok = nr == s->nr_oot;
	for (i = 0; ok && i < nr; i++) {
		struct elp_patch *p = NULL;
		char spec[32];

		snprintf(spec, sizeof(spec), "%lld", (long long)ids[i]);
		ok = elp_patch_find(s->cat, spec, &p) == 0 && p &&
		     strcmp(p->sha256, s->oot[i]) == 0;
		elp_patch_free(p);
	}
	free(ids);
	return ok;
}

/* A kernel of this catalogue built from exactly the client's inputs. */
static int match_kernel(const struct elp_kernel *k, void *data)
{
	struct serve *s = data;
	char sha[ELP_SHA256_HEX_LEN + 1] = "";
	char *symvers = NULL;

	if (s->kernel_id ||
	    strcmp(k->release, elp_record_get(&s->rq, "release")) != 0 ||
	    !k->config_sha256 || strcmp(k->config_sha256, s->config_sha) != 0 ||
	    !k->symbols_sha256 ||
	    strcmp(k->symbols_sha256, s->symbols_sha) != 0 || !k->source)
		return 0;
	if (k->build_dir &&
	    asprintf(&symvers, "%s/Module.symvers", k->build_dir) > 0 &&
	    elp_is_file(symvers) && elp_sha256_file(NULL, symvers, sha) < 0)
		sha[0] = '\0';
	free(symvers);
	if (strcmp(sha, s->symvers_sha) != 0 || !oot_match(s, k->id))
		return 0;
	s->kernel_id = k->id;
	s->kernel_name = strdup(k->name);
	s->kernel_source = strdup(k->source);
	return s->kernel_name && s->kernel_source ? 0 : -ENOMEM;
}

/*
 * A kernel of this catalogue built from the client's inputs; without one,
 * -ENODATA: the client may send the source (--send-source).
 */
static int find_kernel(struct serve *s)
{
	int err = elp_kernel_foreach(s->cat, match_kernel, s);

	if (err)
		return err;
	if (s->kernel_id)
		return 0;
	elp_err(s->ctx,
		"no kernel here has release %s with the client's config (sha256 %.12s), symbol table (%.12s), Module.symvers (%.12s) and %zu out-of-tree patches; add it on the builder with 'elivepatch kernel add', or build with --send-source to send it the kernel's source",
		elp_record_get(&s->rq, "release"), s->config_sha,
		s->symbols_sha, s->symvers_sha[0] ? s->symvers_sha : "none",
		s->nr_oot);
	return -ENODATA;
}

/* ---- a source sent by the client ------------------------------------------ */

/* cache/remote/sources, or NULL */
static char *sources_dir(struct serve *s)
{
	return path_join(s->cache, "remote/sources");
}

/*
 * The kernel found is from a source a client sent: hold it while it
 * builds, marked used.  A prune removed it since it was found: -ENODATA,
 * as when there was none.
 */
static int hold_kernel_source(struct serve *s)
{
	char *sources = sources_dir(s), *dir;
	size_t n;
	int err;

	if (!sources)
		return -ENOMEM;
	n = strlen(sources);
	if (s->source_lock >= 0 || strncmp(s->kernel_source, sources, n) != 0 ||
	    s->kernel_source[n] != '/') {
		free(sources);
		return 0;
	}
	free(sources);
	dir = strdup(s->kernel_source);
	if (!dir)
		return -ENOMEM;
	*strrchr(dir, '/') = '\0';
	err = elp_source_hold(s->ctx, dir, &s->source_lock);
	free(dir);
	if (err || elp_is_file(s->kernel_source))
		return err;
	close(s->source_lock);
	s->source_lock = -1;
	s->kernel_id = 0;
	free(s->kernel_name);
	free(s->kernel_source);
	s->kernel_name = s->kernel_source = NULL;
	return find_kernel(s);
}

/* The request's file name, under dir/name, moved to dest (same cache). */
static int keep_file(struct serve *s, const char *name, const char *dest)
{
	char *from = path_join(s->req, name);
	int err = 0;

	if (!from)
		return -ENOMEM;
	if (rename(from, dest) < 0) {
		err = -errno;
		elp_err(s->ctx, "cannot store '%s': %m", dest);
	}
	free(from);
	return err;
}

/*
 * The source in its content-addressed place, remote/sources/SHA/NAME:
 * kept once, whoever sends it again.
 */
static int store_source(struct serve *s, const char *name, char **path)
{
	char sha[ELP_SHA256_HEX_LEN + 1], *sent = path_join(s->req, "source");
	char *dir = NULL, *tmp = NULL, *file = NULL, *sub = NULL;
	int err;

	*path = NULL;
	if (!sent || asprintf(&sub, "source/%s", name) < 0) {
		free(sent);
		return -ENOMEM;
	}
	free(sent);
	sent = path_join(s->req, sub);
	err = sent ? elp_sha256_file(s->ctx, sent, sha) : -ENOMEM;
	if (!err &&
	    (asprintf(&dir, "%s/remote/sources/%s", s->cache, sha) < 0 ||
	     asprintf(&file, "%s/%s", dir, name) < 0 ||
	     asprintf(&tmp, "%s/remote/sources/.new-%s", s->cache, sha) < 0))
		err = -ENOMEM;
	/* held before it is looked at: a prune removes none held */
	if (!err) {
		char *sources = sources_dir(s);

		err = sources ? elp_mkdir_p(s->ctx, sources, 0755) : -ENOMEM;
		free(sources);
	}
	if (!err && s->source_lock < 0)
		err = elp_source_hold(s->ctx, dir, &s->source_lock);
	if (!err && !elp_is_file(file)) {
		/* a directory of its own, renamed into place whole */
		elp_rm_rf(s->ctx, tmp);
		err = elp_mkdir_p(s->ctx, tmp, 0755);
		if (!err) {
			char *t = path_join(tmp, name);

			err = t ? keep_file(s, sub, t) : -ENOMEM;
			free(t);
		}
		if (!err && rename(tmp, dir) < 0 && !elp_is_file(file)) {
			err = -errno;
			elp_err(s->ctx, "cannot store '%s': %m", dir);
		}
		elp_rm_rf(s->ctx, tmp);
		if (!err)
			elp_info(s->ctx, "kept the kernel source sent, %.12s",
				 sha);
	}
	if (!err) {
		*path = file;
		file = NULL;
	}
	free(sent);
	free(sub);
	free(dir);
	free(tmp);
	free(file);
	return err;
}

/* The kernel's out-of-tree patches, catalogued (or found) and linked. */
static int add_oot_patches(struct serve *s, struct elp_kernel *k,
			   const char *key)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < s->nr_oot; i++) {
		struct elp_patch *p = NULL;
		char *path;

		err = elp_patch_find_by_sha(s->cat, ELP_PATCH_KERNEL, s->oot[i],
					    &p);
		if (!err && !p) {
			if (asprintf(&path, "%s/oot/%03zu.patch", s->req, i) <
			    0)
				return -ENOMEM;
			err = elp_patch_load(s->ctx, path, &p);
			free(path);
			if (!err) {
				free(p->name);
				p->kind = ELP_PATCH_KERNEL;
				if (asprintf(&p->name, "sent-%.12s-oot-%03zu",
					     key, i) < 0)
					p->name = NULL;
				err = p->name ? elp_patch_store(s->cat, p)
					      : -ENOMEM;
			}
		}
		if (!err)
			err = elp_kernel_append_patch(s->cat, k->id, p->id);
		elp_patch_free(p);
	}
	return err;
}

/*
 * The client sent the kernel's source: keep it, and register the kernel
 * here as the client describes it (release, config, symbol table,
 * Module.symvers, out-of-tree patches), so the next request for it finds
 * it without a source.
 */
static int adopt_source(struct serve *s, const char *name)
{
	struct elp_kernel *k = calloc(1, sizeof(*k));
	struct elp_buf id = { 0 };
	char key[ELP_SHA256_HEX_LEN + 1], *config = NULL, *path = NULL;
	size_t i;
	int err;

	if (!k)
		return -ENOMEM;
	err = store_source(s, name, &k->source);
	if (!err) {
		const char *kind = NULL;

		/* a tarball libarchive reads, with a kernel's Makefile */
		err = elp_kernel_check_source(s->ctx, k->source, &kind);
		if (!err && strcmp(kind, "tarball") != 0) {
			elp_err(s->ctx,
				"the client's source '%s' is not a tarball",
				name);
			err = -EBADMSG;
		}
	}
	/* what the kernel is: its inputs, and the source */
	elp_buf_printf(&id, "release %s\nconfig %s\nsymbols %s\nsymvers %s\n",
		       elp_record_get(&s->rq, "release"), s->config_sha,
		       s->symbols_sha, s->symvers_sha);
	for (i = 0; i < s->nr_oot; i++)
		elp_buf_printf(&id, "oot %s\n", s->oot[i]);
	elp_buf_printf(&id, "source %s\n", k->source ? k->source : "");
	if (!err && (elp_buf_error(&id) || !id.data ||
		     elp_sha256_hex(id.data, id.len, key) < 0))
		err = -ENOMEM;
	if (!err &&
	    (asprintf(&k->name, "sent-%.12s", key) < 0 ||
	     asprintf(&k->build_dir, "%s/remote/kernels/%.24s", s->cache, key) <
		     0 ||
	     !(k->release = strdup(elp_record_get(&s->rq, "release"))) ||
	     !(k->source_kind = strdup("tarball")) ||
	     !(config = path_join(s->req, "config"))))
		err = -ENOMEM;
	/* the kbuild dir holds only what the client sent of its own:
	 * modules link in the prepared tree against its Module.symvers */
	if (!err)
		err = elp_mkdir_p(s->ctx, k->build_dir, 0755);
	if (!err && s->symvers_sha[0]) {
		path = path_join(k->build_dir, "Module.symvers");
		err = path ? keep_file(s, "Module.symvers", path) : -ENOMEM;
		free(path);
		path = NULL;
	}
	if (!err) {
		char *text = NULL;

		err = elp_read_file(s->ctx, config, &text, NULL);
		if (!err)
			err = elp_kernel_set_config(k, text);
		free(text);
	}
	if (!err)
		err = elp_kernel_set_origin(k, ELP_KERNEL_SOURCE, k->source,
					    "sent by a client", NULL);
	if (!err && !(path = path_join(s->req, "symbols")))
		err = -ENOMEM;
	if (!err)
		err = elp_kernel_read_symbols(s->ctx, k, path, NULL,
					      "sent by a client");
	free(path);
	if (!err)
		err = elp_catalogue_begin(s->cat);
	if (err)
		goto out;
	err = elp_kernel_insert(s->cat, k, "sent by a client with its source");
	if (!err)
		err = add_oot_patches(s, k, key);
	err = elp_catalogue_end(s->cat, err);
	if (!err)
		elp_info(
			s->ctx,
			"registered kernel '%s' (release %s) with the source sent",
			k->name, k->release);
out:
	free(config);
	elp_buf_free(&id);
	elp_kernel_free(k);
	return err;
}

static int collect(struct serve *s, const char *key, const char *fmt,
		   char ***out, size_t *nr)
{
	size_t i, cap = 0;

	for (i = 0; i < s->rq.nr; i++) {
		char **n;

		if (strcmp(s->rq.keys[i], key) != 0)
			continue;
		n = elp_grow(*out, &cap, *nr + 1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		*out = n;
		if (!fmt)
			n[*nr] = strdup(s->rq.values[i]);
		else if (asprintf(&n[*nr], fmt, s->req, *nr, s->rq.values[i]) <
			 0)
			n[*nr] = NULL;
		if (!n[(*nr)++])
			return -ENOMEM;
	}
	return 0;
}

static void free_list(char **l, size_t n)
{
	while (n)
		free(l[--n]);
	free(l);
}

/* The compiler the builder used, from the build's recorded inputs. */
static char *compiler_of(struct serve *s, int64_t build_id)
{
	struct elp_build_info *info = NULL;
	char *cc = NULL;
	size_t i;

	if (elp_build_info_get(s->cat, build_id, &info))
		return NULL;
	for (i = 0; !cc && i < info->nr_inputs; i++)
		if (strcmp(info->inputs[i].kind, "toolchain") == 0)
			cc = strdup(info->inputs[i].name);
	elp_build_info_free(info);
	return cc;
}

static int make_result(struct serve *s, const struct elp_build_result *r,
		       struct elp_bundle *out)
{
	struct elp_buf rec = { 0 };
	char host[256] = "", num[32];
	char *cc =
		r->compiler ? strdup(r->compiler) : compiler_of(s, r->build_id);
	size_t i;
	int err = 0;

	gethostname(host, sizeof(host) - 1);
	elp_record_add(&rec, "format", ELP_REMOTE_FORMAT);
	elp_record_add(&rec, "status", r->status);
	elp_record_add(&rec, "reason", r->reason);
	elp_record_add(&rec, "module", r->module_name);
	elp_record_add(&rec, "sha256", r->artefact_sha256);
	elp_record_add(&rec, "host", host);
	elp_record_add(&rec, "engine", ELP_BUILD_ENGINE_VERSION);
	elp_record_add(&rec, "compiler", cc);
	elp_record_add(&rec, "kernel", s->kernel_name);
	snprintf(num, sizeof(num), "%lld", (long long)r->build_id);
	elp_record_add(&rec, "builder-build", num);
	elp_record_add(&rec, "inputs-sha256", r->inputs_sha256);
	snprintf(num, sizeof(num), "%lld", r->duration_ms);
	elp_record_add(&rec, "duration-ms", num);
	elp_record_add(&rec, "reused", r->reused ? "1" : "0");
	for (i = 0; i < r->nr_stages; i++) {
		char *v;

		if (asprintf(&v, "%s %lld", r->stages[i].name,
			     r->stages[i].ms) < 0) {
			free(cc);
			return -ENOMEM;
		}
		elp_record_add(&rec, "stage", v);
		free(v);
	}
	for (i = 0; i < r->nr_funcs; i++) {
		const struct elp_build_func *f = &r->funcs[i];
		char *v;

		if (asprintf(&v, "%s\t%s\t%lu\t%s", f->object, f->old_name,
			     f->sympos, f->source_file) < 0) {
			free(cc);
			return -ENOMEM;
		}
		elp_record_add(&rec, "function", v);
		free(v);
	}
	free(cc);
	if (!rec.data)
		return -ENOMEM;
	err = elp_bundle_add_data(out, "result", rec.data, rec.len);
	elp_buf_free(&rec);
	if (!err && r->artefact_path && strcmp(r->status, "succeeded") == 0)
		err = elp_bundle_add_file(out, "module.ko", r->artefact_path);
	if (!err && r->log_path && elp_is_file(r->log_path))
		err = elp_bundle_add_file(out, "build.log", r->log_path);
	return err;
}

static int build(struct serve *s, const char *cached, int out_fd)
{
	struct elp_build_options opts = { 0 };
	struct elp_build_result *r = NULL;
	struct elp_bundle out = { 0 };
	char **patches = NULL, **extra = NULL, *tmp = NULL, spec[32];
	size_t nr_patches = 0, nr_extra = 0;
	int fd = -1, err;

	err = collect(s, "patch", "%s/patches/%03zu/%s.patch", &patches,
		      &nr_patches);
	if (!err)
		err = collect(s, "extra", NULL, &extra, &nr_extra);
	if (err)
		goto out;
	snprintf(spec, sizeof(spec), "%lld", (long long)s->kernel_id);
	opts.kernel = spec;
	opts.patches = (const char *const *)patches;
	opts.nr_patches = nr_patches;
	opts.name = elp_record_get(&s->rq, "module");
	opts.extra_files = (const char *const *)extra;
	opts.nr_extra_files = nr_extra;
	opts.cache_dir = s->cache;
	opts.rebuild = elp_record_get(&s->rq, "rebuild") != NULL;
	/* this builder's rule, or the client's wish */
	opts.sandbox = s->sandbox || elp_record_get(&s->rq, "sandbox");
	/* the client sent every patch the module carries */
	opts.cumulative = elp_record_get(&s->rq, "cumulative")
				  ? ELP_BUILD_CUMULATIVE_GIVEN
				  : 0;
	elp_info(s->ctx, "building %s for kernel '%s' (%zu patches)", opts.name,
		 s->kernel_name, nr_patches);
	err = elp_build(s->cat, &opts, &r);
	if (!r)
		goto out;
	if (!r->build_id && err) {
		/* stopped before the engine ran: this builder cannot build it */
		elp_err(s->ctx, "cannot build here: %s",
			r->reason ? r->reason : strerror(-err));
		err = -ENOENT;
		goto out;
	}
	err = make_result(s, r, &out);
	if (err)
		goto out;
	if (asprintf(&tmp, "%s/result.tar.zst", s->work) < 0) {
		err = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		elp_err(s->ctx, "cannot create '%s': %m", tmp);
		goto out;
	}
	err = elp_bundle_write(s->ctx, &out, fd, NULL);
	if (!err && close(fd) < 0)
		err = -errno;
	fd = -1;
	/* only what succeeded is kept: a failure may be this host's */
	if (!err && strcmp(r->status, "succeeded") == 0 &&
	    rename(tmp, cached) < 0) {
		err = -errno;
		elp_err(s->ctx, "cannot store '%s': %m", cached);
	} else if (!err && strcmp(r->status, "succeeded") != 0) {
		cached = tmp;
	}
	if (!err)
		err = send_file(s->ctx, cached, out_fd);
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	elp_bundle_free(&out);
	elp_build_result_free(r);
	free_list(patches, nr_patches);
	free_list(extra, nr_extra);
	return err;
}

static void serve_free(struct serve *s)
{
	elp_workdir_remove(s->ctx, s->work, s->work_lock);
	if (s->source_lock >= 0)
		close(s->source_lock);
	free(s->kernel_source);
	free(s->work);
	free(s->req);
	free(s->cache);
	free(s->kernel_name);
	free_list(s->oot, s->nr_oot);
	elp_record_free(&s->rq);
}

int elp_builder_serve(struct elp_catalogue *cat, int in_fd, int out_fd,
		      const char *cache_dir, unsigned int flags,
		      unsigned int keep_days)
{
	struct elp_bundle_limits lim = { ELP_REQUEST_MAX_ENTRIES,
					 ELP_REQUEST_MAX_BYTES };
	struct serve s = { .cat = cat,
			   .ctx = elp_catalogue_ctx(cat),
			   .work_lock = -1,
			   .source_lock = -1,
			   .sandbox = flags & ELP_BUILDER_SANDBOX };
	char key[ELP_SHA256_HEX_LEN + 1], *dir = NULL, *cached = NULL;
	char *parent = NULL;
	char *keytext = NULL;
	int err;

	s.cache =
		cache_dir ? strdup(cache_dir) : elp_build_default_cache(s.ctx);
	if (!s.cache)
		return -ENOMEM;
	dir = path_join(s.cache, "remote/results");
	parent = path_join(s.cache, "remote");
	if (!dir || !parent) {
		err = -ENOMEM;
		goto out;
	}
	err = elp_private_dir(s.ctx, s.cache, "cache");
	if (!err)
		err = elp_mkdir_p(s.ctx, dir, 0755);
	if (err)
		goto out;
	/* what a serve killed before it could clean up left behind */
	elp_workdir_reap(s.ctx, parent, "work");
	err = elp_workdir_create(s.ctx, parent, "work", &s.work, &s.work_lock);
	if (err)
		goto out;
	if (asprintf(&s.req, "%s/request", s.work) < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = elp_bundle_extract(s.ctx, in_fd, s.req, &lim,
				 "the client's bundle", s.manifest);
	if (!err)
		err = read_request(&s);
	if (err)
		goto out;
	/* the cache: same request, same engine here, same module */
	if (asprintf(&keytext, "elp-remote-%s %s %s", ELP_REMOTE_FORMAT,
		     ELP_BUILD_ENGINE_VERSION, s.manifest) < 0 ||
	    elp_sha256_hex(keytext, strlen(keytext), key) < 0 ||
	    asprintf(&cached, "%s/%s.tar.zst", dir, key) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (elp_is_file(cached) && !elp_record_get(&s.rq, "rebuild")) {
		elp_info(s.ctx, "cached result %.12s", key);
		err = send_file(s.ctx, cached, out_fd);
		goto out;
	}
	err = find_kernel(&s);
	if (!err)
		err = hold_kernel_source(&s);
	if (err == -ENODATA && elp_record_get(&s.rq, "source")) {
		/* sent because no kernel here matched: keep it, register it */
		err = adopt_source(&s, elp_record_get(&s.rq, "source"));
		if (!err)
			err = find_kernel(&s);
		if (!err)
			err = hold_kernel_source(&s);
		if (err == -ENODATA)
			err = -ENOENT; /* it came, and still nothing matches */
	}
	if (!err)
		err = build(&s, cached, out_fd);
out:
	/* the request is answered: the sources no request used lately go */
	if (keep_days && s.cache) {
		unsigned int removed;

		/* not the one this request holds, if any */
		if (elp_builder_prune(cat, s.cache, keep_days, &removed) < 0)
			elp_warn(s.ctx,
				 "cannot remove the unused kernel sources");
	}
	free(keytext);
	free(cached);
	free(dir);
	free(parent);
	serve_free(&s);
	return err;
}

static int count_build(const struct elp_build_summary *b, void *data)
{
	(void)b;
	(*(long long *)data)++;
	return 0;
}

int elp_builder_status(struct elp_catalogue *cat, char **text)
{
	struct elp_builds_filter running = { .status = "running" };
	char *load = NULL;
	long long n = 0;
	int err;

	*text = NULL;
	err = elp_builds_list(cat, &running, count_build, &n);
	if (err)
		return err;
	if (elp_read_file(NULL, "/proc/loadavg", &load, NULL) < 0)
		load = NULL;
	else
		load[strcspn(load, " ")] = '\0';
	err = asprintf(text, "builds-running %lld\nload %s\n", n,
		       load ? load : "unknown") < 0
		      ? -ENOMEM
		      : 0;
	free(load);
	return err;
}
