// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The build driver: named passes over one build's state.
 *
 *   resolve           kernel, patches, toolchain, inputs hash; an identical
 *                     succeeded build answers at once
 *   tree              the prepared tree (cache, locked) and its
 *                     special-section entry sizes (probe, cached)
 *   compile-original  unpatched objects (cached by source sha)
 *   apply             livepatch patches onto the tree, journalled
 *   compile-patched   patched objects; the tree is restored right after
 *   diff              engine: changed functions per unit
 *   module            klp_patch source, kbuild link, klp finalize, store
 *   record            the builds row, stages, event
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
#include "../lib/toolchain.h"
#include "build-internal.h"

/* ---- small helpers shared by the build-*.c files ----------------------- */

int elp_bstate_refuse(struct elp_bstate *b, const char *fmt, ...)
{
	va_list args;
	char *msg = NULL;

	va_start(args, fmt);
	if (vasprintf(&msg, fmt, args) < 0)
		msg = NULL;
	va_end(args);
	if (!b->refusal) {
		b->refusal = msg;
		elp_err(b->ctx, "%s", msg ? msg : "refused");
	} else {
		free(msg);
	}
	return -ENOTSUP;
}

bool elp_bconfig_on(const struct elp_bstate *b, const char *option)
{
	const char *config = b->kernel->config;
	char *v = config ? elp_config_get(config, option) : NULL;
	bool on = v && strcmp(v, "y") == 0;

	free(v);
	return on;
}

bool elp_bstate_cancelled(const struct elp_bstate *b)
{
	return b->opts->cancel && *b->opts->cancel;
}

int elp_bcopy_file(struct elp_ctx *ctx, const char *from, const char *to)
{
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	int err;

	err = elp_read_file(ctx, from, &data, &len);
	if (err)
		return err;
	if (stat(from, &st) < 0)
		st.st_mode = 0644;
	err = elp_write_file_atomic(ctx, to, data, len,
				    (int)(st.st_mode & 0777));
	free(data);
	return err;
}

/* The first compiler/make error written to the log since offset off. */
static char *log_first_error(struct elp_bstate *b, off_t off)
{
	static const char *const marks[] = { ": error: ", ": fatal error: ",
					     "*** No rule", "ERROR: ", NULL };
	char *data = NULL, *found = NULL;
	size_t i;

	if (!b->res->log_path ||
	    elp_read_file(NULL, b->res->log_path, &data, NULL) < 0)
		return NULL;
	if ((size_t)off > strlen(data))
		off = 0;
	for (i = 0; marks[i] && !found; i++) {
		char *hit = strstr(data + off, marks[i]), *start, *end;

		if (!hit)
			continue;
		for (start = hit; start > data + off && start[-1] != '\n';
		     start--)
			;
		end = strchr(hit, '\n');
		found = end ? strndup(start, (size_t)(end - start))
			    : strdup(start);
	}
	free(data);
	return found;
}

static int bmake(struct elp_bstate *b, const char *dir,
		 const char *const *targets, size_t nr_targets, bool kcflags,
		 const char *what, bool quiet)
{
	char *first;
	off_t off;
	const char *argv[64];
	char jobs[32], cc[512];
	size_t n = 0, i;
	int rc;

	if (elp_bstate_cancelled(b))
		return -EINTR;
	if (nr_targets > 50)
		return -E2BIG;
	snprintf(jobs, sizeof(jobs), "-j%u", b->jobs);
	snprintf(cc, sizeof(cc), "CC=%s", b->cc);
	argv[n++] = "make";
	argv[n++] = "-C";
	argv[n++] = dir;
	argv[n++] = jobs;
	argv[n++] = cc;
	if (kcflags)
		argv[n++] = "KCFLAGS=" ELP_BUILD_KCFLAGS;
	for (i = 0; i < nr_targets; i++)
		argv[n++] = targets[i];
	argv[n] = NULL;
	if (b->log_fd >= 0) {
		struct elp_buf line = { 0 };

		elp_buf_puts(&line, "$");
		for (i = 0; i < n; i++)
			elp_buf_printf(&line, " %s", argv[i]);
		elp_buf_puts(&line, "\n");
		if (line.data && write(b->log_fd, line.data, line.len) < 0)
			elp_dbg(b->ctx, "cannot write the build log");
		elp_buf_free(&line);
	}
	off = b->log_fd >= 0 ? lseek(b->log_fd, 0, SEEK_CUR) : -1;
	rc = elp_run(b->ctx, argv, NULL, b->log_fd, NULL);
	if (rc == 0)
		return 0;
	if (elp_bstate_cancelled(b))
		return -EINTR;
	if (rc < 0) {
		elp_err(b->ctx, "cannot run make: %s", strerror(-rc));
		return rc;
	}
	if (quiet)
		return -EIO;
	first = off >= 0 ? log_first_error(b, off) : NULL;
	if (what)
		elp_err(b->ctx, "%s failed%s%s", what, first ? ": " : "",
			first ? first : "");
	else
		elp_err(b->ctx, "make %s failed%s%s",
			nr_targets ? targets[nr_targets - 1] : "",
			first ? ": " : "", first ? first : "");
	free(first);
	return -EIO;
}

int elp_bmake(struct elp_bstate *b, const char *dir, const char *const *targets,
	      size_t nr_targets, bool kcflags, const char *what)
{
	return bmake(b, dir, targets, nr_targets, kcflags, what, false);
}

int elp_bmake_try(struct elp_bstate *b, const char *dir,
		  const char *const *targets, size_t nr_targets, bool kcflags)
{
	return bmake(b, dir, targets, nr_targets, kcflags, NULL, true);
}

/* ---- results ------------------------------------------------------------ */

void elp_build_result_free(struct elp_build_result *r)
{
	size_t i;

	if (!r)
		return;
	free(r->reason);
	free(r->module_name);
	free(r->inputs_sha256);
	free(r->kernel_release);
	free(r->artefact_path);
	free(r->artefact_sha256);
	free(r->output_path);
	free(r->log_path);
	free(r->compiler);
	for (i = 0; i < r->nr_funcs; i++) {
		free(r->funcs[i].object);
		free(r->funcs[i].old_name);
		free(r->funcs[i].source_file);
	}
	free(r->funcs);
	free(r);
}

char *elp_build_module_name(const char *patch_name)
{
	char *name = malloc(56);
	const char *s = patch_name ? patch_name : "patch";
	size_t n, len = strlen(s);

	if (!name)
		return NULL;
	/* "fix.patch" and "fix.diff" name the same fix as "fix" */
	if (len > 6 && strcmp(s + len - 6, ".patch") == 0)
		len -= 6;
	else if (len > 5 && strcmp(s + len - 5, ".diff") == 0)
		len -= 5;
	strcpy(name, "elp_");
	n = 4;
	for (; len && n < 55; s++, len--) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '_';
		if (c == '_' && name[n - 1] == '_')
			continue;
		name[n++] = c;
	}
	while (n > 4 && name[n - 1] == '_')
		n--;
	name[n] = '\0';
	/* nothing usable left: "elp_patch" */
	if (n == 4)
		strcpy(name, "elp_patch");
	return name;
}

char *elp_build_default_cache(void)
{
	const char *env = getenv("ELIVEPATCH_CACHE");
	const char *xdg, *home;
	char *p;

	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/cache/elivepatch");
	xdg = getenv("XDG_CACHE_HOME");
	if (xdg && *xdg)
		return asprintf(&p, "%s/elivepatch", xdg) < 0 ? NULL : p;
	home = getenv("HOME");
	return asprintf(&p, "%s/.cache/elivepatch", home ? home : "/tmp") < 0
		       ? NULL
		       : p;
}

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

static int resolve_kernel(struct elp_bstate *b)
{
	const char *spec = b->opts->kernel;
	struct elp_kernel *detected = NULL;
	int err;

	if (spec) {
		err = elp_kernel_find(b->cat, spec, &b->kernel);
		if (err == -ENOENT)
			elp_err(b->ctx,
				"kernel '%s' is not in the catalogue; see 'elivepatch kernel list'",
				spec);
		return err;
	}
	err = elp_kernel_detect(b->ctx, &detected);
	if (err)
		return err;
	err = elp_kernel_find(b->cat, detected->release, &b->kernel);
	if (err == -ENOENT) {
		b->kernel = detected;
		return 0;
	}
	elp_kernel_free(detected);
	return err;
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
	/* the engine's version too: a fixed engine never reuses original
	 * objects an older one compiled or prepared; tree-2: a tree may be
	 * partly extracted (pending), which an older engine would not see */
	elp_buf_printf(&tree, "tree-2 %s\nsource %s\nconfig %s\n",
		       ELP_BUILD_ENGINE_VERSION, b->source_identity,
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

static bool have_patch(struct elp_patch **list, size_t n, int64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i]->id == id)
			return true;
	return false;
}

/*
 * --cumulative: the patches of the applied builds, in the order they were
 * applied, then the new ones; each patch once.
 */
static int resolve_cumulative(struct elp_bstate *b)
{
	struct elp_patch **all = NULL;
	int64_t *builds = NULL;
	size_t nr_builds = 0, n = 0, i;
	int err;

	if (b->opts->cumulative == 0 || !b->kernel->release)
		return 0;
	err = elp_builds_applied(b->cat, b->kernel->release, NULL, &builds,
				 &nr_builds);
	if (err) {
		free(builds);
		return err;
	}
	if (nr_builds == 0 && b->opts->cumulative < 0) {
		free(builds);
		return 0;
	}
	b->cumulative = true;
	b->res->cumulative = true;
	for (i = 0; i < nr_builds && !err; i++) {
		int64_t *ids = NULL;
		size_t nr_ids = 0, j;

		err = elp_builds_patch_ids(b->cat, builds[i], &ids, &nr_ids);
		for (j = 0; !err && j < nr_ids; j++) {
			struct elp_patch **na, *p = NULL;
			char spec[32];

			if (have_patch(all, n, ids[j]))
				continue;
			snprintf(spec, sizeof(spec), "%lld", (long long)ids[j]);
			err = elp_patch_find(b->cat, spec, &p);
			if (!err && !p)
				err = -ENOENT;
			if (err)
				break;
			na = realloc(all, (n + 1) * sizeof(*na));
			if (!na) {
				elp_patch_free(p);
				err = -ENOMEM;
				break;
			}
			all = na;
			all[n++] = p;
			elp_info(b->ctx,
				 "cumulative: patch '%s' of applied build %lld",
				 p->name, (long long)builds[i]);
		}
		free(ids);
	}
	free(builds);
	b->res->nr_applied_patches = n;
	for (i = 0; !err && i < b->nr_patches; i++) {
		struct elp_patch **na;

		/* resolve() stored nr_patches non-NULL patches */
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
		if (have_patch(all, n, b->patches[i]->id)) {
			elp_info(b->ctx,
				 "cumulative: patch '%s' is already applied",
				 b->patches[i]->name);
			continue;
		}
		na = realloc(all, (n + 1) * sizeof(*na));
		if (!na) {
			err = -ENOMEM;
			break;
		}
		all = na;
		all[n++] = b->patches[i];
		b->patches[i] = NULL;
	}
	if (err) {
		for (i = 0; i < n; i++)
			elp_patch_free(all[i]);
		free(all);
		return err;
	}
	for (i = 0; i < b->nr_patches; i++)
		elp_patch_free(b->patches[i]);
	free(b->patches);
	b->patches = all;
	b->nr_patches = n;
	return 0;
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
	nu = realloc(b->units, (b->nr_units + 1) * sizeof(*b->units));
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
	nh = realloc(b->headers, (b->nr_headers + 1) * sizeof(*nh));
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
static int plan_units(struct elp_bstate *b)
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

static int resolve(struct elp_bstate *b)
{
	const struct elp_build_options *o = b->opts;
	char *first_name = NULL;
	size_t i;
	int err;

	if (o->nr_patches == 0) {
		elp_err(b->ctx, "no patch given");
		return -EINVAL;
	}
	err = resolve_kernel(b);
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
	b->patches = calloc(o->nr_patches, sizeof(void *));
	if (!b->patches)
		return -ENOMEM;
	for (i = 0; i < o->nr_patches; i++) {
		char *file_name = NULL;

		err = elp_patch_resolve(b->cat, o->patches[i], &b->patches[i],
					&file_name);
		if (err || !b->patches[i]) {
			free(file_name);
			free(first_name);
			return err ? err : -ENOENT;
		}
		b->nr_patches++;
		if (i == 0)
			first_name = file_name;
		else
			free(file_name);
	}
	err = resolve_cumulative(b);
	if (!err)
		err = resolve_oot(b);
	if (!err)
		err = resolve_extra_files(b);
	if (!err)
		err = resolve_include_dir(b);
	if (err) {
		free(first_name);
		return err;
	}
	/* named after the first patch as the user knows it */
	b->res->module_name =
		o->name ? strdup(o->name)
			: elp_build_module_name(first_name
							? first_name
							: b->patches[0]->name);
	free(first_name);
	if (!b->res->module_name)
		return -ENOMEM;
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
			return -EINVAL;
		}
	}
	err = resolve_toolchain(b);
	if (err)
		return err;
	return compute_hashes(b);
}

/* ---- catalogue ---------------------------------------------------------- */

static int record_start(struct elp_bstate *b)
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

static int record_stage(struct elp_bstate *b, size_t i)
{
	const struct elp_build_result *r = b->res;

	return elp_builds_stage(b->cat, r->build_id, i, r->stages[i].name,
				r->stages[i].ms);
}

/* The outcome, its stages and its event: all or nothing. */
static int record_outcome(struct elp_bstate *b)
{
	struct elp_build_result *r = b->res;
	struct elp_build_outcome o = { 0 };
	struct elp_event ev = { 0 };
	char *detail = NULL;
	size_t i;
	int err;

	if (!r->build_id)
		return 0;
	o.status = r->status;
	o.reason = r->reason;
	o.log_path = r->log_path;
	o.artefact_path = r->artefact_path;
	o.artefact_sha256 = r->artefact_sha256;
	o.duration_ms = r->duration_ms;
	err = elp_builds_finish(b->cat, r->build_id, &o);
	if (err)
		return err;
	for (i = 0; i < r->nr_stages; i++) {
		err = record_stage(b, i);
		if (err)
			return err;
	}
	if (asprintf(&detail, "%s%s%s", r->status, r->reason ? ": " : "",
		     r->reason ? r->reason : "") < 0)
		detail = NULL;
	ev.kind = "build";
	ev.kernel_id = b->kernel ? b->kernel->id : 0;
	ev.kernel_release = r->kernel_release;
	ev.build_id = r->build_id;
	ev.patch_id = b->nr_patches ? b->patches[0]->id : 0;
	ev.module = r->module_name;
	ev.detail = detail;
	err = elp_event_add(b->cat, &ev);
	free(detail);
	return err;
}

static int record_finish(struct elp_bstate *b)
{
	int err;

	if (!b->res->build_id)
		return 0;
	err = elp_catalogue_begin(b->cat);
	if (!err)
		err = record_outcome(b);
	if (!err)
		err = elp_catalogue_commit(b->cat);
	if (err)
		elp_catalogue_rollback(b->cat);
	return err;
}

/* functions.tsv next to the artefact: what the module replaces */
static int write_functions(struct elp_bstate *b, const char *path)
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
		nf = realloc(r->funcs, (r->nr_funcs + 1) * sizeof(*nf));
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

static int copy_output(struct elp_bstate *b, const char *ko)
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
static int find_identical(struct elp_bstate *b)
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
	err = copy_output(b, r->artefact_path);
	if (err)
		return err;
	r->reused = true;
	r->status = "succeeded";
	elp_info(b->ctx, "identical to build %lld; reusing its module",
		 (long long)r->build_id);
	{
		struct elp_event ev = { 0 };
		char detail[64];

		snprintf(detail, sizeof(detail), "reused build %lld",
			 (long long)r->build_id);
		ev.kind = "build";
		ev.kernel_id = b->kernel->id;
		ev.kernel_release = r->kernel_release;
		ev.build_id = r->build_id;
		ev.patch_id = b->patches[0]->id;
		ev.module = r->module_name;
		ev.detail = detail;
		elp_event_add(b->cat, &ev);
	}
	return 1;
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

static int pass_module(struct elp_bstate *b)
{
	char *dir = NULL, *ko = NULL, *store = NULL, *art = NULL, *tsv = NULL;
	char sha[ELP_SHA256_HEX_LEN + 1];
	size_t i, f;
	int err;

	/* the functions, for the result and functions.tsv */
	for (i = 0; i < b->nr_units; i++) {
		const struct elp_bunit *u = &b->units[i];

		for (f = 0; u->diff && f < u->diff->nr_funcs; f++) {
			struct elp_build_func *nf =
				realloc(b->res->funcs,
					(b->res->nr_funcs + 1) * sizeof(*nf));

			if (!nf)
				return -ENOMEM;
			b->res->funcs = nf;
			nf += b->res->nr_funcs++;
			nf->object = strdup(u->target);
			nf->old_name = strdup(u->diff->funcs[f].old_name);
			nf->sympos = u->diff->funcs[f].sympos;
			nf->source_file = strdup(u->src);
		}
	}
	if (asprintf(&dir, "%s/module", b->workdir) < 0)
		return -ENOMEM;
	err = elp_bmodule_generate(b, dir);
	if (!err)
		err = elp_bmodule_link(b, dir, &ko);
	if (err)
		goto out;
	if (asprintf(&store, "%s/artefacts/%s", b->cache, b->build_key) < 0 ||
	    asprintf(&art, "%s/%s.ko", store, b->res->module_name) < 0 ||
	    asprintf(&tsv, "%s/functions.tsv", store) < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = elp_mkdir_p(b->ctx, store, 0755);
	if (!err)
		err = elp_bcopy_file(b->ctx, ko, art);
	if (!err)
		err = write_functions(b, tsv);
	if (!err)
		err = elp_sha256_file(b->ctx, art, sha);
	if (!err)
		err = copy_output(b, art);
	if (err)
		goto out;
	b->res->artefact_path = art;
	art = NULL;
	b->res->artefact_sha256 = strdup(sha);
out:
	free(dir);
	free(ko);
	free(store);
	free(art);
	free(tsv);
	return err;
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
	{ "module", pass_module },
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
				  : elp_build_default_cache();
	if (!b.res || !b.ctx || !b.cache) {
		free(b.res);
		bstate_free(&b);
		return -ENOMEM;
	}
	elp_set_log_fn(b.ctx, build_log, &b);
	elp_set_log_priority(b.ctx, ELP_LOG_DEBUG);
	b.res->status = "failed";

	/* builds of this host whose process died are not running */
	if (elp_builds_reap_interrupted(b.cat))
		elp_dbg(b.ctx, "cannot check for interrupted builds");

	/* resolve: no build row yet; errors here are the caller's input */
	t = elp_now_ms();
	err = resolve(&b);
	add_stage(b.res, "resolve", elp_now_ms() - t);
	if (err && !b.refusal)
		goto out_early;
	if (!err && !opts->rebuild) {
		err = find_identical(&b);
		if (err != 0) {
			b.res->duration_ms = elp_now_ms() - b.t0;
			err = err > 0 ? 0 : err;
			goto out_early;
		}
	}
	if (!err)
		err = plan_units(&b);
	if (b.res->inputs_sha256 == NULL) {
		/* refused before the inputs were known (toolchain) */
		goto out_early;
	}
	rerr = record_start(&b);
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
	rerr = record_finish(&b);
	add_stage(b.res, "record", elp_now_ms() - t);
	/* the record stage's own time, after the fact */
	if (!rerr && b.res->build_id)
		rerr = record_stage(&b, b.res->nr_stages - 1);
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
