// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The resolve pass: the kernel, the patches (cumulative ones included), the
 * kernel's own out-of-tree patches, the toolchain and the inputs hash; then
 * the plan: the units (changed .c files and --extra-files) and the headers
 * the patches change.
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
#include "../lib/overlay.h"
#include "../lib/toolchain.h"
#include "build-internal.h"

/* ---- resolve ------------------------------------------------------------ */

static void take_toolchain(struct elp_bstate *b, struct elp_toolchain *tc)
{
	b->cc = tc->cc_path;
	b->cc_version = tc->version_text;
	b->toolchain_id = tc->id;
	tc->cc_path = NULL;
	tc->version_text = NULL;
}

/*
 * The compiler elp_toolchain_choose() picks for the kernel (the rule
 * `toolchain check` shows); --force-toolchain takes it when nothing
 * matches.
 */
static int resolve_toolchain(struct elp_bstate *b)
{
	const char *want = b->kernel->cc_version_text;
	struct elp_toolchain_choice c;
	int err;

	err = elp_toolchain_choose(b->cat, want, b->opts->cc, &c);
	if (err)
		return err;
	if (c.tc && c.match == ELP_CC_MISMATCH && b->opts->force_toolchain)
		elp_warn(
			b->ctx,
			"kernel '%s' was built with '%s'; using '%s' (%s) as --force-toolchain asks",
			b->kernel->name, want ? want : "an unknown compiler",
			c.tc->cc_path, c.tc->version_text);
	if (c.tc && (c.match != ELP_CC_MISMATCH || b->opts->force_toolchain)) {
		take_toolchain(b, c.tc);
		elp_info(b->ctx, "compiler: %s (%s)", b->cc, b->cc_version);
		if (asprintf(&b->res->compiler, "%s (%s)", b->cc,
			     b->cc_version) < 0)
			b->res->compiler = NULL;
	}
	elp_toolchain_choice_release(&c);
	if (b->cc)
		return 0;
	if (b->opts->cc)
		return elp_bstate_refuse(
			b,
			"compiler '%s' does not match kernel '%s' (built with '%s'); use --force-toolchain to build anyway",
			b->opts->cc, b->kernel->name, want ? want : "?");
	return elp_bstate_refuse(
		b,
		"no installed compiler matches kernel '%s' (built with '%s'); install it or use --force-toolchain",
		b->kernel->name, want ? want : "?");
}

static int resolve_oot(struct elp_bstate *b)
{
	int64_t *ids = NULL;
	size_t nr = 0, i;
	int err;

	if (!b->kernel->id)
		return 0;
	err = elp_kernel_patch_ids(b->cat, b->kernel->id, &ids, &nr);
	if (err)
		return err;
	b->oot = calloc(nr ? nr : 1, sizeof(void *));
	if (!b->oot) {
		free(ids);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		char spec[32];

		snprintf(spec, sizeof(spec), "%lld", (long long)ids[i]);
		err = elp_patch_find(b->cat, spec, &b->oot[i]);
		if (!err && !b->oot[i])
			err = -ENOENT;
		if (err)
			break;
		b->nr_oot++;
	}
	free(ids);
	return err;
}

static char *file_identity(const char *kind, const char *path)
{
	struct stat st;
	char *p;

	if (!path)
		return strdup("none");
	if (stat(path, &st) < 0)
		return asprintf(&p, "%s %s missing", kind, path) < 0 ? NULL : p;
	return asprintf(&p, "%s %s %lld %lld.%09ld", kind, path,
			(long long)st.st_size, (long long)st.st_mtim.tv_sec,
			st.st_mtim.tv_nsec) < 0
		       ? NULL
		       : p;
}

static char *source_identity(const struct elp_kernel *k)
{
	char *mk, *id;

	if (!k->source)
		return NULL;
	if (k->source_kind && strcmp(k->source_kind, "tarball") == 0)
		return file_identity("tarball", k->source);
	if (asprintf(&mk, "%s/Makefile", k->source) < 0)
		return NULL;
	id = file_identity("dir", mk);
	free(mk);
	return id;
}

static int compute_hashes(struct elp_bstate *b)
{
	struct elp_buf tree = { 0 }, in = { 0 };
	char hex[ELP_SHA256_HEX_LEN + 1];
	char *symbols = file_identity("symbols", b->kernel->symbols_path);
	char *build = NULL;
	size_t i;
	int err = 0;

	if (b->kernel->build_dir) {
		char *symvers;

		if (asprintf(&symvers, "%s/Module.symvers",
			     b->kernel->build_dir) > 0) {
			build = file_identity("build", symvers);
			free(symvers);
		}
	}
	/* the tree's version too: a fixed engine never reuses original
	 * objects an older one compiled or prepared; tree-2: a tree may be
	 * partly extracted (pending), which an older engine would not see */
	elp_buf_printf(&tree, "tree-2 %s\nsource %s\nconfig %s\n",
		       ELP_BUILD_TREE_VERSION, b->source_identity,
		       b->kernel->config_sha256);
	for (i = 0; i < b->nr_oot; i++)
		if (b->oot[i])
			elp_buf_printf(&tree, "oot %s\n", b->oot[i]->sha256);
	elp_buf_printf(&tree, "cc %s\nkcflags %s\n", b->cc_version,
		       ELP_BUILD_KCFLAGS);
	if (elp_buf_error(&tree) || !tree.data ||
	    elp_sha256_hex(tree.data, tree.len, hex) < 0) {
		err = -ENOMEM;
		goto out;
	}
	b->tree_key = strndup(hex, 24);

	elp_buf_printf(&in, "%s\nengine %s\nrelease %s\n%s\n%s\n", tree.data,
		       ELP_BUILD_ENGINE_VERSION, b->kernel->release,
		       symbols ? symbols : "", build ? build : "");
	for (i = 0; i < b->nr_patches; i++)
		elp_buf_printf(&in, "patch %s\n", b->patches[i]->sha256);
	for (i = 0; i < b->opts->nr_extra_files; i++)
		elp_buf_printf(&in, "extra %s\n", b->opts->extra_files[i]);
	if (b->cumulative)
		elp_buf_puts(&in, "cumulative\n");
	elp_buf_printf(&in, "elivepatch.h %s\n", b->include_sha);
	elp_buf_printf(&in, "name %s\n", b->res->module_name);
	if (elp_buf_error(&in) || !in.data ||
	    elp_sha256_hex(in.data, in.len, hex) < 0 || !b->tree_key) {
		err = -ENOMEM;
		goto out;
	}
	b->res->inputs_sha256 = strdup(hex);
	if (!b->res->inputs_sha256)
		err = -ENOMEM;
out:
	free(symbols);
	free(build);
	elp_buf_free(&tree);
	elp_buf_free(&in);
	return err;
}

static bool is_c_file(const char *path)
{
	size_t n = strlen(path);

	return n > 2 && strcmp(path + n - 2, ".c") == 0;
}

/*
 * --cumulative: the patches of the applied builds, in the order they were
 * applied, then the new ones; each patch once.
 */
static int resolve_cumulative(struct elp_bstate *b, const char *only)
{
	int64_t *applied = NULL;
	size_t nr = 0, nr_builds = 0;
	int err;

	if (b->opts->cumulative == 0 || !b->kernel->release)
		return 0;
	if (b->opts->cumulative == ELP_BUILD_CUMULATIVE_GIVEN) {
		b->cumulative = true;
		b->res->cumulative = true;
		return 0;
	}
	err = elp_builds_applied_patch_ids(b->cat, b->kernel->release, &applied,
					   &nr, &nr_builds);
	if (err)
		return err;
	if (only && b->opts->cumulative < 0)
		elp_info(b->ctx, "cumulative: %s", only);
	else if (nr_builds == 0 && b->opts->cumulative < 0) {
		free(applied);
		return 0;
	}
	b->cumulative = true;
	b->res->cumulative = true;
	b->res->nr_applied_patches = nr;
	err = elp_patch_cumulative_merge(b->cat, b->ctx, applied, nr,
					 &b->patches, &b->nr_patches);
	free(applied);
	return err;
}

static int resolve_extra_files(struct elp_bstate *b)
{
	size_t i;

	for (i = 0; i < b->opts->nr_extra_files; i++) {
		const char *x = b->opts->extra_files[i];
		size_t n = strlen(x);

		if (n < 3 || strcmp(x + n - 2, ".c") != 0 || x[0] == '/' ||
		    strstr(x, "..")) {
			elp_err(b->ctx,
				"--extra-files takes .c files of the kernel source, relative to its top (e.g. fs/proc/base.c), not '%s'",
				x);
			return -EINVAL;
		}
	}
	return 0;
}

/* <datadir>/include, where elivepatch.h is: the patched compile's. */
static int resolve_include_dir(struct elp_bstate *b)
{
	char sha[ELP_SHA256_HEX_LEN + 1], *h = NULL;

	if (asprintf(&b->include_dir, "%s/include", elp_get_datadir(b->ctx)) <
		    0 ||
	    asprintf(&h, "%s/elivepatch.h", b->include_dir) < 0)
		return -ENOMEM;
	if (elp_is_file(h) && elp_sha256_file(b->ctx, h, sha) == 0) {
		b->include_sha = strdup(sha);
	} else {
		/* a patch including it fails to compile: say where we looked */
		elp_warn(
			b->ctx,
			"no elivepatch.h in '%s' (set ELIVEPATCH_DATADIR to the directory holding include/elivepatch.h); patches that include <elivepatch.h> will not compile",
			b->include_dir);
		b->include_sha = strdup("none");
	}
	free(h);
	return b->include_sha ? 0 : -ENOMEM;
}

static bool is_header(const char *path)
{
	size_t n = strlen(path);

	return n > 2 && strcmp(path + n - 2, ".h") == 0;
}

static int add_unit(struct elp_bstate *b, const char *src, bool extra)
{
	struct elp_bunit *nu;
	size_t k;

	for (k = 0; k < b->nr_units; k++)
		if (strcmp(b->units[k].src, src) == 0)
			return 0;
	nu = elp_grow(b->units, &b->cap_units, b->nr_units + 1, sizeof(*nu));
	if (!nu)
		return -ENOMEM;
	b->units = nu;
	nu += b->nr_units;
	memset(nu, 0, sizeof(*nu));
	nu->extra = extra;
	nu->src = strdup(src);
	nu->obj = strdup(src);
	b->nr_units++;
	if (!nu->src || !nu->obj)
		return -ENOMEM;
	nu->obj[strlen(src) - 1] = 'o';
	return 0;
}

static int add_header(struct elp_bstate *b, const char *path)
{
	char **nh;
	size_t k;

	for (k = 0; k < b->nr_headers; k++)
		if (strcmp(b->headers[k], path) == 0)
			return 0;
	nh = elp_grow(b->headers, &b->cap_headers, b->nr_headers + 1,
		      sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	b->headers = nh;
	nh[b->nr_headers] = strdup(path);
	if (!nh[b->nr_headers])
		return -ENOMEM;
	b->nr_headers++;
	return 0;
}

/*
 * The units: every .c file the patches change, once, then the
 * --extra-files; the headers the patches change (the scope pass finds
 * their users).
 */
int elp_bplan_units(struct elp_bstate *b)
{
	struct elp_buf others = { 0 };
	size_t i, j, nothers = 0;
	int err = 0;

	for (i = 0; i < b->nr_patches; i++) {
		const struct elp_patch *p = b->patches[i];

		for (j = 0; j < p->nr_files; j++) {
			const struct elp_patch_file *f = &p->files[j];
			bool c = is_c_file(f->path), h = is_header(f->path);

			if (!c && !h) {
				elp_buf_printf(&others, "%s%s",
					       nothers++ ? ", " : "", f->path);
				continue;
			}
			if (f->status && strcmp(f->status, "modified") != 0) {
				elp_buf_free(&others);
				return elp_bstate_refuse(
					b,
					"patch '%s' %s '%s'; only changes to existing files can be livepatched",
					p->name,
					strcmp(f->status, "added") == 0 ? "adds"
					: strcmp(f->status, "deleted") == 0
						? "deletes"
						: "renames",
					f->path);
			}
			err = c ? add_unit(b, f->path, false)
				: add_header(b, f->path);
			if (err)
				goto out;
		}
	}
	for (i = 0; i < b->opts->nr_extra_files; i++) {
		const char *x = b->opts->extra_files[i];

		while (x[0] == '.' && x[1] == '/')
			x += 2;
		err = add_unit(b, x, true);
		if (err)
			goto out;
	}
	if (b->nr_units == 0 && b->nr_headers == 0) {
		err = elp_bstate_refuse(
			b,
			"the patch touches no .c file or header, only %s; nothing to livepatch",
			others.data ? others.data : "no files");
		goto out;
	}
	if (nothers)
		elp_warn(
			b->ctx,
			"the patch also changes %s; only .c files and headers are considered",
			others.data);
out:
	elp_buf_free(&others);
	return err;
}

int elp_bresolve(struct elp_bstate *b)
{
	const struct elp_build_options *o = b->opts;
	char *first_name = NULL, *only = NULL;
	size_t i;
	int err;

	if (o->nr_patches == 0) {
		elp_err(b->ctx, "no patch given");
		return -EINVAL;
	}
	err = elp_kernel_for_build(b->cat, b->ctx, o->kernel, true, &b->kernel);
	if (err)
		return err;
	b->res->kernel_release = strdup(b->kernel->release);
	if (!b->kernel->source) {
		elp_err(b->ctx,
			"kernel '%s' has no source; add it with 'elivepatch kernel add --source'",
			b->kernel->name);
		return -ENOENT;
	}
	if (!b->kernel->config || !b->kernel->config_sha256) {
		elp_err(b->ctx, "kernel '%s' has no config", b->kernel->name);
		return -ENOENT;
	}
	b->source_identity = source_identity(b->kernel);
	if (!b->source_identity)
		return -ENOMEM;
	err = elp_patch_resolve_all(b->cat, o->patches, o->nr_patches,
				    &b->patches, &first_name);
	if (err)
		return err;
	b->nr_patches = o->nr_patches;
	/* a patch of a cumulative-only overlay fix makes the build cumulative */
	for (i = 0; !err && !only && i < b->nr_patches; i++)
		err = elp_overlay_patch_cumulative_only(
			b->cat, b->patches[i]->id, &only);
	if (err >= 0)
		err = resolve_cumulative(b, only);
	if (!err)
		err = resolve_oot(b);
	if (!err)
		err = resolve_extra_files(b);
	if (!err)
		err = resolve_include_dir(b);
	if (err)
		goto out;
	/* named after the first patch as the user knows it */
	b->res->module_name =
		o->name ? strdup(o->name)
			: elp_build_module_name(first_name
							? first_name
							: b->patches[0]->name);
	if (!b->res->module_name) {
		err = -ENOMEM;
		goto out;
	}
	if (o->name) {
		const char *s;

		for (s = o->name; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') ||
			      (*s >= '0' && *s <= '9') || *s == '_'))
				break;
		if (*s || !*o->name || strlen(o->name) > 55) {
			elp_err(b->ctx,
				"invalid module name '%s': use [a-z0-9_], at most 55 characters",
				o->name);
			err = -EINVAL;
			goto out;
		}
	}
	err = resolve_toolchain(b);
	if (!err)
		err = compute_hashes(b);
	/* recorded as refused, with the inputs that were asked for */
	if (!err && only && !b->cumulative)
		err = elp_bstate_refuse(
			b,
			"%s: it is only delivered in a cumulative build (klp replace); build it without --no-cumulative",
			only);
out:
	free(first_name);
	free(only);
	return err;
}
