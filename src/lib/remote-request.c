// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client's request: the kernel and patches a remote build is for
 * (cumulative ones included), packed with the kernel's inputs into the
 * request bundle, and the second request with the kernel's source for a
 * builder that has no kernel for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builds.h"
#include "kernel.h"
#include "overlay.h"
#include "patch.h"
#include "remote-client-internal.h"
#include "remote-internal.h"

/* ---- the request --------------------------------------------------------- */

/*
 * A cumulative build, as a local one: the patches of the livepatches
 * applied here on the kernel first, then the given ones, each once
 * (elp_patch_cumulative_merge); the builder builds a module that
 * replaces them all.
 */
static int resolve_cumulative(struct client *c, const char *only)
{
	int64_t *applied = NULL;
	size_t nr = 0, nr_builds = 0;
	int err;

	if (c->opts->cumulative == 0)
		return 0;
	err = elp_builds_applied_patch_ids(c->cat, c->kernel->release, &applied,
					   &nr, &nr_builds);
	if (err)
		return err;
	/* a cumulative-only fix is cumulative even with nothing live */
	if (only && c->opts->cumulative < 0)
		elp_info(c->ctx, "cumulative: %s", only);
	else if (nr_builds == 0 && c->opts->cumulative < 0) {
		free(applied);
		return 0;
	}
	c->cumulative = c->res->cumulative = true;
	c->res->nr_applied_patches = nr;
	err = elp_patch_cumulative_merge(c->cat, c->ctx, applied, nr,
					 &c->patches, &c->nr_patches);
	free(applied);
	return err;
}

int elp_remote_resolve(struct client *c)
{
	const struct elp_build_options *o = c->opts;
	char *first = NULL, *only = NULL;
	size_t i;
	int err;

	err = elp_kernel_for_build(c->cat, c->ctx, o->kernel, false,
				   &c->kernel);
	if (err)
		return err;
	c->res->kernel_release = strdup(c->kernel->release);
	if (!c->kernel->config || !c->kernel->symbols_path) {
		elp_err(c->ctx,
			"kernel '%s' has no %s; a builder needs it to build for it",
			c->kernel->name,
			c->kernel->config ? "symbol table" : "config");
		return -ENOENT;
	}
	if (!c->res->kernel_release)
		return -ENOMEM;
	err = elp_patch_resolve_all(c->cat, o->patches, o->nr_patches,
				    &c->patches, &first);
	if (err)
		return err;
	c->nr_patches = o->nr_patches;
	/* the module's name: the first given patch's */
	if (!first && !(first = strdup(c->patches[0]->name)))
		return -ENOMEM;
	/* a patch of a cumulative-only overlay fix makes the build
	 * cumulative, as here; --no-cumulative is refused before any
	 * builder is asked */
	for (i = 0; !err && !only && i < c->nr_patches; i++)
		err = elp_overlay_patch_cumulative_only(
			c->cat, c->patches[i]->id, &only);
	if (err > 0)
		err = 0;
	if (!err && only && o->cumulative == 0) {
		err = -ENOTSUP;
		c->res->status = "refused";
		if (asprintf(
			    &c->res->reason,
			    "%s: it is only delivered in a cumulative build (klp replace); build it without --no-cumulative",
			    only) < 0)
			c->res->reason = NULL;
		elp_err(c->ctx, "%s", c->res->reason ? c->res->reason : only);
	}
	if (!err)
		err = resolve_cumulative(c, only);
	if (!err &&
	    !(c->patch_names = calloc(c->nr_patches + 1, sizeof(char *))))
		err = -ENOMEM;
	for (i = 0; !err && i < c->nr_patches; i++)
		if (!(c->patch_names[i] =
			      elp_remote_wire_name(c->patches[i]->name)))
			err = -ENOMEM;
	if (!err) {
		c->res->module_name = o->name ? strdup(o->name)
					      : elp_build_module_name(first);
		if (!c->res->module_name)
			err = -ENOMEM;
	}
	free(first);
	free(only);
	return err;
}

static int add_oot(struct client *c, struct elp_bundle *b, struct elp_buf *req)
{
	int64_t *ids = NULL;
	size_t nr = 0, i;
	int err;

	err = elp_kernel_patch_ids(c->cat, c->kernel->id, &ids, &nr);
	for (i = 0; !err && i < nr; i++) {
		struct elp_patch *p = NULL;
		char spec[32], name[32];

		snprintf(spec, sizeof(spec), "%lld", (long long)ids[i]);
		snprintf(name, sizeof(name), "oot/%03zu.patch", i);
		err = elp_patch_find(c->cat, spec, &p);
		if (!err && !p)
			err = -ENOENT;
		if (!err)
			err = elp_bundle_add_data(b, name, p->content,
						  strlen(p->content));
		if (!err)
			err = elp_record_add(req, "oot", p->name);
		elp_patch_free(p);
	}
	free(ids);
	return err;
}

/* The request bundle, written to work/request.tar.zst. */
int elp_remote_make_request(struct client *c, const char *src_name,
			    const char *src_path)
{
	char manifest[ELP_SHA256_HEX_LEN + 1], **out;
	struct elp_bundle b = { 0 };
	struct elp_buf req = { 0 };
	char *symbols = NULL, *symvers = NULL;
	struct stat st;
	size_t i;
	int fd = -1, err;

	out = src_path ? &c->source_request : &c->request;
	elp_record_add(&req, "format", ELP_REMOTE_FORMAT);
	elp_record_add(&req, "engine", ELP_BUILD_ENGINE_VERSION);
	elp_record_add(&req, "release", c->kernel->release);
	elp_record_add(&req, "kernel", c->kernel->name);
	elp_record_add(&req, "module", c->res->module_name);
	elp_record_add(&req, "cc-version", c->kernel->cc_version_text);
	err = elp_bundle_add_data(&b, "config", c->kernel->config,
				  strlen(c->kernel->config));
	if (asprintf(&symbols, "%s/symbols", c->work) < 0 ||
	    asprintf(out, "%s/request%s.tar.zst", c->work,
		     src_path ? "-source" : "") < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (!err)
		err = elp_kernel_symbols_extract(c->ctx, c->kernel, symbols);
	if (!err)
		err = elp_bundle_add_file(&b, "symbols", symbols);
	if (!err && c->kernel->build_dir &&
	    asprintf(&symvers, "%s/Module.symvers", c->kernel->build_dir) > 0 &&
	    elp_is_file(symvers))
		err = elp_bundle_add_file(&b, "Module.symvers", symvers);
	for (i = 0; !err && i < c->nr_patches; i++) {
		char *name;

		if (asprintf(&name, "patches/%03zu/%s.patch", i,
			     c->patch_names[i]) < 0) {
			err = -ENOMEM;
			break;
		}
		err = elp_bundle_add_data(&b, name, c->patches[i]->content,
					  strlen(c->patches[i]->content));
		free(name);
		if (!err)
			err = elp_record_add(&req, "patch", c->patch_names[i]);
	}
	if (!err && c->kernel->id)
		err = add_oot(c, &b, &req);
	for (i = 0; !err && i < c->opts->nr_extra_files; i++)
		err = elp_record_add(&req, "extra", c->opts->extra_files[i]);
	/* the patches sent are all the module carries: it replaces every
	 * livepatch on the kernel (klp_patch.replace) */
	if (!err && c->cumulative)
		err = elp_record_add(&req, "cumulative", "1");
	/* the builder builds in a sandbox (or refuses) */
	if (!err && c->opts->sandbox)
		err = elp_record_add(&req, "sandbox", "1");
	/* part of the request, so a rebuild is not the cached result */
	if (!err && c->opts->rebuild)
		err = elp_record_add(&req, "rebuild", "1");
	if (!err && src_path) {
		char *name = NULL;

		err = elp_record_add(&req, "source", src_name);
		if (!err && asprintf(&name, "source/%s", src_name) < 0)
			err = -ENOMEM;
		if (!err)
			err = elp_bundle_add_file(&b, name, src_path);
		free(name);
	}
	if (!err && !req.data)
		err = -ENOMEM;
	if (!err)
		err = elp_bundle_add_data(&b, "request", req.data, req.len);
	if (err)
		goto out;
	fd = open(*out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		elp_err(c->ctx, "cannot create '%s': %m", *out);
		goto out;
	}
	err = elp_bundle_write(c->ctx, &b, fd,
			       src_path ? manifest : c->manifest);
	if (!err && fstat(fd, &st) == 0 && !src_path)
		elp_info(
			c->ctx,
			"request %.12s: kernel %s inputs and %zu patches, %lld bytes",
			c->manifest, c->kernel->release, c->nr_patches,
			(long long)st.st_size);
	if (!err && !src_path) {
		c->res->inputs_sha256 = strdup(c->manifest);
		if (!c->res->inputs_sha256)
			err = -ENOMEM;
	}
out:
	if (fd >= 0)
		close(fd);
	free(symbols);
	free(symvers);
	elp_buf_free(&req);
	elp_bundle_free(&b);
	return err;
}

/*
 * The request with the kernel's source, made once: its tarball, or its
 * directory as a tar (sorted, owners 0), named [A-Za-z0-9._+-].
 */
int elp_remote_source_request(struct client *c, const struct elp_builder_url *u)
{
	const struct elp_kernel *k = c->kernel;
	bool tarball = k->source_kind && strcmp(k->source_kind, "tarball") == 0;
	char *base = NULL, *name = NULL, *tar = NULL, *parent = NULL;
	struct stat st;
	int err = 0;

	if (c->source_request)
		goto said;
	if (!k->source) {
		elp_err(c->ctx, "kernel '%s' has no source to send", k->name);
		return -ENOENT;
	}
	base = elp_remote_wire_name(strrchr(k->source, '/')
					    ? strrchr(k->source, '/') + 1
					    : k->source);
	if (!base || asprintf(&name, "%s%s", base, tarball ? "" : ".tar") < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (!tarball) {
		const char *slash = strrchr(k->source, '/');

		parent = slash && slash != k->source
				 ? strndup(k->source,
					   (size_t)(slash - k->source))
				 : strdup(slash ? "/" : ".");
		if (!parent || asprintf(&tar, "%s/%s", c->work, name) < 0) {
			err = -ENOMEM;
			goto out;
		}
		elp_info(c->ctx, "packing the source directory '%s'",
			 k->source);
		{
			const char *argv[] = { "tar",
					       "--sort=name",
					       "--owner=0",
					       "--group=0",
					       "--numeric-owner",
					       "--exclude-vcs",
					       "-cf",
					       tar,
					       "-C",
					       parent,
					       slash ? slash + 1 : k->source,
					       NULL };

			err = elp_run(c->ctx, argv, NULL, -1, NULL);
		}
		if (err) {
			elp_err(c->ctx, "cannot pack '%s' into '%s'", k->source,
				tar);
			err = err < 0 ? err : -EIO;
			goto out;
		}
	}
	c->source_size = stat(tarball ? k->source : tar, &st) == 0
				 ? (double)st.st_size / (1024.0 * 1024.0)
				 : 0;
	err = elp_remote_make_request(c, name, tarball ? k->source : tar);
	if (tar)
		unlink(tar); /* in the request now */
	if (err)
		goto out;
said:
	if (stat(c->source_request, &st) == 0)
		elp_notice(
			c->ctx,
			"builder %s has no kernel for it: sending the source of kernel '%s' (%s, %.1f MiB), %.1f MiB with the request",
			u->name, k->name, k->source, c->source_size,
			(double)st.st_size / (1024.0 * 1024.0));
out:
	free(base);
	free(name);
	free(tar);
	free(parent);
	return err;
}
