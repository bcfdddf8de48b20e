// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Catalogue operations on kernels, one for each thing done to a kernel
 * (describe, add, remove, record its out-of-tree patches), so that the
 * commands, the queue runner and a builder do it the same way.  Separate from
 * kernel.c, which owns the tables: these are composed of kernel.c,
 * kernel-inputs.c, patch.c and history.c calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "../engine/build.h"
#include "kernel-add.h"
#include "patch.h"
#include "util.h"

static int use_config(struct elp_ctx *ctx, struct elp_kernel *k,
		      const char *path)
{
	char *config = NULL;
	int err;

	err = elp_config_read(ctx, path, &config);
	if (err)
		return err;
	err = elp_kernel_set_config(k, config);
	free(config);
	free(k->config_path);
	k->config_path = elp_abspath(path);
	if (!err && !k->config_path)
		err = -ENOMEM;
	if (!err)
		err = elp_kernel_set_origin(k, ELP_KERNEL_CONFIG,
					    k->config_path, "--config",
					    k->config_sha256);
	return err;
}

static int use_build(struct elp_ctx *ctx, struct elp_kernel *k,
		     const char *build)
{
	free(k->build_dir);
	k->build_dir = elp_abspath(build);
	if (!k->build_dir)
		return -ENOMEM;
	if (!elp_is_dir(k->build_dir)) {
		elp_err(ctx, "cannot use build dir '%s': not a directory",
			build);
		return -ENOTDIR;
	}
	return elp_kernel_set_origin(k, ELP_KERNEL_BUILD, k->build_dir,
				     "--build", NULL);
}

/* The source, checked, as the kernel's (absolute) source and kind. */
static int take_source(struct elp_ctx *ctx, struct elp_kernel *k,
		       const char *source, const char **kind)
{
	int err = elp_kernel_check_source(ctx, source, kind);

	if (err)
		return err;
	free(k->source);
	free(k->source_kind);
	k->source = elp_abspath(source);
	k->source_kind = strdup(*kind);
	return k->source && k->source_kind ? 0 : -ENOMEM;
}

/* Checked; a tree built in place gives release, config, build. */
static int use_source(struct elp_ctx *ctx, struct elp_kernel *k,
		      const char *source, const char **release_origin)
{
	bool had_release = k->release != NULL;
	char sha[ELP_SHA256_HEX_LEN + 1];
	const char *kind;
	int err, built = 0;

	err = take_source(ctx, k, source, &kind);
	if (err)
		return err;
	if (!strcmp(kind, "dir")) {
		built = elp_kernel_use_built_source(ctx, k, k->source);
		if (built < 0)
			return built;
		if (built && !had_release)
			*release_origin =
				"the source dir's include/config/kernel.release";
	}
	if (!strcmp(kind, "tarball")) {
		err = elp_sha256_file(ctx, k->source, sha);
		if (err)
			return err;
	}
	return elp_kernel_set_origin(k, ELP_KERNEL_SOURCE, k->source,
				     built ? "--source (built in place)"
					   : "--source",
				     strcmp(kind, "tarball") ? NULL : sha);
}

/* Derived by booting the image; the build cache keeps what a boot printed,
 * for any catalogue. */
static int derive_symbols(struct elp_ctx *ctx, struct elp_kernel *k,
			  const struct elp_kernel_given *g)
{
	char *cache = elp_build_default_cache(ctx), *dir = NULL;
	int err;

	if (!cache || asprintf(&dir, "%s/symbols", cache) < 0) {
		free(cache);
		return -ENOMEM;
	}
	if (g->long_step)
		g->long_step(g->data, "booting the image", true);
	err = elp_kernel_derive_symbols(ctx, k, dir);
	if (g->long_step)
		g->long_step(g->data, "booting the image", false);
	free(dir);
	free(cache);
	return err;
}

/*
 * The symbol table: given, else found where users have it, else derived by
 * booting the image; then checked against the image.  None is not an error
 * here (a build says what it needs); a bad one is.  Then the modules tree.
 */
static int find_symbols_modules(struct elp_ctx *ctx, struct elp_kernel *k,
				const struct elp_kernel_given *g)
{
	int err;

	if (g->symbols) {
		err = elp_kernel_read_symbols(ctx, k, g->symbols, NULL,
					      "--symbols");
	} else {
		err = elp_kernel_find_symbols(ctx, k);
		if (err == -ENOENT && k->image_path)
			err = derive_symbols(ctx, k, g);
		if (err == -ENOENT)
			err = 0;
	}
	if (!err)
		err = elp_kernel_check_image(ctx, k);
	if (err)
		return err;
	if (g->modules)
		return elp_kernel_set_modules(ctx, k, g->modules, "--modules");
	err = elp_kernel_find_modules(ctx, k);
	return err == -ENOENT ? 0 : err;
}

int elp_kernel_describe(struct elp_ctx *ctx, const struct elp_kernel_given *g,
			struct elp_kernel **out, const char **release_origin,
			enum elp_kernel_missing *missing)
{
	struct elp_kernel *k = calloc(1, sizeof(*k));
	int err = 0;

	*out = NULL;
	*release_origin = NULL;
	*missing = ELP_KERNEL_MISSING_NOTHING;
	if (!k || (g->release && !(k->release = strdup(g->release)))) {
		err = -ENOMEM;
		goto fail;
	}
	/* an explicit config or build dir wins over the source dir's */
	if (g->config)
		err = use_config(ctx, k, g->config);
	if (!err && g->build)
		err = use_build(ctx, k, g->build);
	if (!err)
		err = use_source(ctx, k, g->source, release_origin);
	if (!err && g->image) {
		bool had_release = k->release != NULL;

		err = elp_kernel_set_image(ctx, k, g->image, "--image");
		if (!err && !had_release)
			*release_origin = "the image's version string";
	}
	if (err)
		goto fail;
	if (!k->release) {
		*missing = ELP_KERNEL_MISSING_RELEASE;
		goto incomplete;
	}
	if (!k->config) {
		err = elp_kernel_find_config(ctx, k);
		if (err == -ENOENT) {
			*missing = ELP_KERNEL_MISSING_CONFIG;
			goto incomplete;
		}
		if (!err && !k->config)
			err = -ENOENT;
		if (err)
			goto fail;
	}
	if (!k->build_dir && elp_kernel_find_build(ctx, k) == -ENOMEM) {
		err = -ENOMEM;
		goto fail;
	}
	k->name = strdup(g->name ? g->name : k->release);
	if (!k->name) {
		err = -ENOMEM;
		goto fail;
	}
	err = find_symbols_modules(ctx, k, g);
	if (err)
		goto fail;
incomplete:
	*out = k;
	return 0;
fail:
	elp_kernel_free(k);
	*release_origin = NULL;
	return err;
}

int elp_kernel_describe_running(struct elp_ctx *ctx,
				const struct elp_kernel_given *g,
				struct elp_kernel **out)
{
	struct elp_kernel *k;
	int err;

	*out = NULL;
	err = elp_kernel_detect(ctx, &k);
	if (err)
		return err;
	if (g->name) {
		free(k->name);
		k->name = strdup(g->name);
		if (!k->name)
			err = -ENOMEM;
	}
	if (!err && g->source) {
		const char *kind;

		err = take_source(ctx, k, g->source, &kind);
		if (!err)
			err = elp_kernel_set_origin(k, ELP_KERNEL_SOURCE,
						    k->source, "--source",
						    NULL);
	}
	if (!err && g->build)
		err = use_build(ctx, k, g->build);
	if (!err)
		err = find_symbols_modules(ctx, k, g);
	if (err) {
		elp_kernel_free(k);
		return err;
	}
	*out = k;
	return 0;
}

int elp_kernel_insert(struct elp_catalogue *cat, struct elp_kernel *k,
		      const char *detail)
{
	struct elp_event ev = { .kind = "kernel-add" };
	int err = elp_kernel_store(cat, k);

	if (err)
		return err;
	ev.kernel_id = k->id;
	ev.kernel_release = k->release;
	ev.detail = detail ? detail : k->name;
	return elp_event_add(cat, &ev);
}

int elp_kernel_add(struct elp_catalogue *cat, struct elp_kernel *k,
		   const char *detail, bool force)
{
	int err;

	if (!k->livepatch && !force)
		return -ENOTSUP;
	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	err = elp_kernel_insert(cat, k, detail);
	return elp_catalogue_end(cat, err);
}

int elp_kernel_delete(struct elp_catalogue *cat, const struct elp_kernel *k,
		      bool force, int *nr_builds)
{
	struct elp_event ev = { .kind = "kernel-remove" };
	int err, builds;

	*nr_builds = 0;
	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	builds = elp_kernel_count_builds(cat, k->id);
	if (builds < 0) {
		err = builds;
	} else if (builds > 0 && !force) {
		*nr_builds = builds;
		err = -EBUSY;
	} else {
		*nr_builds = builds;
		ev.kernel_release = k->release;
		ev.detail = k->name;
		err = elp_kernel_remove(cat, k);
		if (!err)
			err = elp_event_add(cat, &ev);
	}
	return elp_catalogue_end(cat, err);
}

/* Record one file as a 'kernel' patch (or reuse identical content). */
static int import_kernel_patch(struct elp_ctx *ctx, struct elp_catalogue *cat,
			       const struct elp_kernel *k, const char *file)
{
	struct elp_patch *p = NULL, *existing = NULL;
	int err;

	err = elp_patch_load(ctx, file, &p);
	if (err)
		return err;
	p->kind = ELP_PATCH_KERNEL;
	err = elp_patch_find_by_sha(cat, ELP_PATCH_KERNEL, p->sha256,
				    &existing);
	if (err < 0)
		goto out;
	if (err == 1) {
		p->id = existing->id;
		err = 0;
	} else {
		/* names are unique across kinds: qualify with the kernel */
		char *name;

		if (asprintf(&name, "%s:%s", k->name, p->name) < 0) {
			err = -ENOMEM;
			goto out;
		}
		free(p->name);
		p->name = name;
		err = elp_patch_store(cat, p);
	}
	if (!err)
		err = elp_kernel_append_patch(cat, k->id, p->id);
	if (err == -EEXIST)
		elp_err(ctx, "patch '%s' is already recorded for kernel '%s'",
			file, k->name);
out:
	elp_patch_free(existing);
	elp_patch_free(p);
	return err;
}

int elp_kernel_patch_add(struct elp_ctx *ctx, struct elp_catalogue *cat,
			 const struct elp_kernel *k, const char *const *files,
			 size_t nr_files)
{
	struct elp_event ev = { .kind = "kernel-patch-add" };
	char detail[64];
	size_t i;
	int err;

	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	for (i = 0; !err && i < nr_files; i++)
		err = import_kernel_patch(ctx, cat, k, files[i]);
	if (!err) {
		snprintf(detail, sizeof(detail), "%zu out-of-tree patch%s",
			 nr_files, nr_files == 1 ? "" : "es");
		ev.kernel_id = k->id;
		ev.kernel_release = k->release;
		ev.detail = detail;
		err = elp_event_add(cat, &ev);
	}
	return elp_catalogue_end(cat, err);
}

static void free_names(char **names, size_t n)
{
	while (names && n)
		free(names[--n]);
	free(names);
}

int elp_kernel_patch_names(struct elp_catalogue *cat, int64_t kernel_id,
			   char ***names, size_t *nr)
{
	int64_t *ids = NULL;
	size_t n = 0, i;
	char **list;
	int err;

	err = elp_kernel_patch_ids(cat, kernel_id, &ids, &n);
	if (err)
		return err;
	list = calloc(n + 1, sizeof(*list));
	for (i = 0; list && i < n; i++) {
		struct elp_patch *p;
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long)ids[i]);
		if (elp_patch_find(cat, id, &p) == 0) {
			list[i] = strdup(p->name);
			elp_patch_free(p);
		} else {
			list[i] = strdup(id);
		}
		if (!list[i]) {
			free_names(list, i);
			list = NULL;
		}
	}
	free(ids);
	if (!list)
		return -ENOMEM;
	*names = list;
	*nr = n;
	return 0;
}
