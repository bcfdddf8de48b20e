// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The prepared-tree cache: one configured kernel source tree per (source,
 * config, out-of-tree patches, toolchain), made once and shared by builds.
 *
 *   <cache>/trees/<key>.lock   flock: one build uses a tree at a time
 *   <cache>/trees/<key>/linux  the tree (modules_prepare done)
 *   <cache>/trees/<key>/prepared   written last; without it the tree is
 *                                  rebuilt from scratch
 *   <cache>/trees/<key>/pending    the tarball's files not extracted yet,
 *                                  sorted, one a line; none: all are there
 *   <cache>/trees/<key>/journal    originals of the files a build's
 *                                  livepatch patches touch, so the tree can
 *                                  always be restored (also after a crash)
 *
 * From a tarball only what kbuild needs for olddefconfig and
 * modules_prepare (core_file()) and the files the build names are
 * extracted; the scope pass and the compiles ask for the others
 * (elp_btree_need, elp_btree_need_all), which are extracted then, each file
 * whole or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-internal.h"

static const char *const blank_options[] = {
	/* files of the distribution's build host */
	"CONFIG_SYSTEM_TRUSTED_KEYS",	     "CONFIG_SYSTEM_REVOCATION_KEYS",
	"CONFIG_SYSTEM_BLACKLIST_HASH_LIST", "CONFIG_MODULE_SIG_KEY",
	"CONFIG_EXTRA_FIRMWARE_DIR",	     NULL,
};

/* The kernel's config with options naming build-host files reset. */
static char *sanitise_config(const char *config)
{
	struct elp_buf out = { 0 };
	const char *line = config, *nl;

	while (*line) {
		const char *const *o;
		bool replaced = false;
		size_t len;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		for (o = blank_options; *o; o++) {
			size_t ol = strlen(*o);

			if (len > ol && strncmp(line, *o, ol) == 0 &&
			    line[ol] == '=') {
				if (strcmp(*o, "CONFIG_MODULE_SIG_KEY") == 0)
					elp_buf_printf(
						&out,
						"%s=\"certs/signing_key.pem\"\n",
						*o);
				else
					elp_buf_printf(&out, "%s=\"\"\n", *o);
				replaced = true;
				break;
			}
		}
		if (!replaced) {
			elp_buf_append(&out, line, len);
			elp_buf_puts(&out, "\n");
		}
		line += len + (nl ? 1 : 0);
	}
	if (elp_buf_error(&out)) {
		elp_buf_free(&out);
		return NULL;
	}
	return out.data;
}

/* ---- what is extracted from a tarball ----------------------------------- */

/* Kept whole: what olddefconfig and modules_prepare read, run and build
 * (kconfig, fixdep, modpost, objtool, resolve_btfids, the x86 headers,
 * relocs and asm-offsets). */
static const char *const core_dirs[] = {
	"include/",
	"scripts/",
	"certs/",
	"usr/",
	"arch/x86/",
	"tools/arch/x86/",
	"tools/build/",
	"tools/include/",
	"tools/lib/",
	"tools/objtool/",
	"tools/scripts/",
	"tools/bpf/resolve_btfids/",
	NULL,
};

/* The top Kbuild's inputs outside them. */
static const char *const core_files[] = {
	"kernel/bounds.c",
	"kernel/time/timeconst.bc",
	NULL,
};

/* Sources: a unit and what it includes are asked for when needed. */
static const char *const source_suffixes[] = {
	".c",	 ".S",	  ".rs",  ".dts", ".dtsi", ".rst", ".txt",
	".yaml", ".json", ".svg", ".py",  ".pl",   NULL,
};

static bool has_suffix(const char *s, const char *sfx)
{
	size_t n = strlen(s), m = strlen(sfx);

	return n >= m && strcmp(s + n - m, sfx) == 0;
}

/*
 * Is rel (below the tarball's top directory) in the core set: every
 * Makefile, Kbuild and Kconfig file, every header and small data file
 * outside the documentation, the other architectures and the tools, and
 * the core directories whole; not the .c files (nor the 390 MB of amdgpu
 * register headers).
 */
static bool core_file(const char *rel)
{
	const char *base = strrchr(rel, '/');
	const char *const *p;

	base = base ? base + 1 : rel;
	for (p = core_dirs; *p; p++)
		if (elp_starts_with(rel, *p))
			return true;
	for (p = core_files; *p; p++)
		if (strcmp(rel, *p) == 0)
			return true;
	if (base == rel)
		return true; /* the top directory's files */
	if (elp_starts_with(base, "Kconfig"))
		return true; /* Kconfig sources every architecture's */
	/* of these only the files at their top: arch/Makefile, tools/... */
	if ((elp_starts_with(rel, "Documentation/") ||
	     elp_starts_with(rel, "LICENSES/") ||
	     elp_starts_with(rel, "samples/") ||
	     elp_starts_with(rel, "arch/") || elp_starts_with(rel, "tools/")) &&
	    strchr(strchr(rel, '/') + 1, '/'))
		return false;
	if (elp_starts_with(base, "Makefile") ||
	    elp_starts_with(base, "Kbuild"))
		return true;
	if (elp_starts_with(rel, "drivers/gpu/drm/amd/include/asic_reg/"))
		return false;
	for (p = source_suffixes; *p; p++)
		if (has_suffix(base, *p))
			return false;
	return true;
}

/* A sorted set of relative paths. */
struct path_set {
	char **v;
	size_t n, cap;
	char *text; /* the lines v points into, when read from a file */
};

static int set_add(struct path_set *s, char *path)
{
	if (s->n == s->cap) {
		char **v = elp_grow(s->v, &s->cap, s->n + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
	}
	s->v[s->n++] = path;
	return 0;
}

/* Sorts and drops duplicates (the owned strings are freed by the caller's
 * text, or are in s->text). */
static void set_sort(struct path_set *s)
{
	size_t i, j = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), elp_cmp_str);
	for (i = 1; i < s->n; i++)
		if (strcmp(s->v[i], s->v[j]) != 0)
			s->v[++j] = s->v[i];
	s->n = j + 1;
}

static bool set_has(const struct path_set *s, const char *path)
{
	return s->n && bsearch(&path, s->v, s->n, sizeof(*s->v), elp_cmp_str);
}

static void set_free(struct path_set *s)
{
	free(s->v);
	free(s->text);
	memset(s, 0, sizeof(*s));
}

static char *tree_file(const struct elp_bstate *b, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", b->tree_root, name) < 0 ? NULL : p;
}

/* The pending list; an empty set when every file is there. */
static int pending_read(struct elp_bstate *b, struct path_set *s)
{
	char *path = tree_file(b, "pending"), *line, *save = NULL;
	int err = 0;

	memset(s, 0, sizeof(*s));
	if (!path)
		return -ENOMEM;
	if (elp_is_file(path))
		err = elp_read_file(b->ctx, path, &s->text, NULL);
	free(path);
	if (err || !s->text)
		return err;
	for (line = strtok_r(s->text, "\n", &save); line && !err;
	     line = strtok_r(NULL, "\n", &save))
		err = set_add(s, line);
	set_sort(s);
	return err;
}

/* The pending list without what is now in the tree. */
static int pending_write(struct elp_bstate *b, const struct path_set *s)
{
	struct elp_buf out = { 0 };
	char *path = tree_file(b, "pending");
	size_t i;
	int err = path ? 0 : -ENOMEM;

	for (i = 0; !err && i < s->n; i++) {
		char *f;

		if (asprintf(&f, "%s/%s", b->tree, s->v[i]) < 0) {
			err = -ENOMEM;
			break;
		}
		if (!elp_is_file(f))
			err = elp_buf_printf(&out, "%s\n", s->v[i]) < 0
				      ? -ENOMEM
				      : 0;
		free(f);
	}
	if (!err && out.len)
		err = elp_write_file_atomic(b->ctx, path, out.data, out.len,
					    0644);
	else if (!err && unlink(path) < 0 && errno != ENOENT)
		err = -errno;
	free(path);
	elp_buf_free(&out);
	return err;
}

struct want_core {
	const struct path_set *extra;
	size_t nr_wanted, nr_files;
};

static bool want_core(const char *rel, void *data)
{
	struct want_core *w = data;
	bool want = core_file(rel) || set_has(w->extra, rel);

	w->nr_files++;
	w->nr_wanted += want;
	return want;
}

struct want_set {
	const struct path_set *set;
	const char *tree;
};

/* In the set and not in the tree (a file an interrupted pass wrote). */
static bool want_missing(const char *rel, void *data)
{
	const struct want_set *w = data;
	char path[PATH_MAX];

	if (!set_has(w->set, rel))
		return false;
	snprintf(path, sizeof(path), "%s/%s", w->tree, rel);
	return !elp_is_file(path);
}

bool elp_btree_partial(const struct elp_bstate *b)
{
	char *path = tree_file(b, "pending");
	bool partial = path && elp_is_file(path);

	free(path);
	return partial;
}

/* Extracts the pending files of want (all when want is NULL). */
static int extract_pending(struct elp_bstate *b, const struct path_set *want)
{
	struct path_set pending;
	struct path_set todo = { 0 };
	size_t i;
	int err;

	err = pending_read(b, &pending);
	if (err || pending.n == 0)
		goto out;
	for (i = 0; !err && want && i < want->n; i++)
		if (set_has(&pending, want->v[i]))
			err = set_add(&todo, want->v[i]);
	if (err || (want && todo.n == 0))
		goto out;
	{
		struct want_set w = { want ? &todo : &pending, b->tree };
		long long t0 = elp_now_ms();

		if (want)
			elp_notice(
				b->ctx,
				"[tree] extracting %zu more file%s from '%s'",
				todo.n, todo.n == 1 ? "" : "s",
				b->kernel->source);
		else
			elp_notice(
				b->ctx,
				"[tree] extracting the rest of '%s' (%zu files)",
				b->kernel->source, pending.n);
		err = elp_unpack_tarball(b, b->kernel->source, b->tree,
					 want_missing, &w, NULL);
		if (!err)
			elp_info(b->ctx, "[tree] extracted in %lld ms",
				 elp_now_ms() - t0);
	}
	if (!err)
		err = pending_write(b, &pending);
out:
	free(todo.v);
	set_free(&pending);
	return err;
}

int elp_btree_need(struct elp_bstate *b, char *const *paths, size_t n)
{
	struct path_set want = { 0 };
	size_t i;
	int err = 0;

	if (!elp_btree_partial(b))
		return 0;
	for (i = 0; !err && i < n; i++)
		err = set_add(&want, paths[i]);
	set_sort(&want);
	if (!err)
		err = extract_pending(b, &want);
	free(want.v);
	return err;
}

int elp_btree_need_all(struct elp_bstate *b)
{
	return elp_btree_partial(b) ? extract_pending(b, NULL) : 0;
}

/* What the build names: the files its patches touch and its units. */
static int named_files(const struct elp_bstate *b, struct path_set *s)
{
	size_t i, j;
	int err = 0;

	for (i = 0; !err && i < b->nr_patches; i++)
		for (j = 0; !err && j < b->patches[i]->nr_files; j++)
			err = set_add(s, b->patches[i]->files[j].path);
	for (i = 0; !err && i < b->nr_oot; i++)
		for (j = 0; !err && j < b->oot[i]->nr_files; j++)
			err = set_add(s, b->oot[i]->files[j].path);
	for (i = 0; !err && i < b->nr_units; i++)
		err = set_add(s, b->units[i].src);
	set_sort(s);
	return err;
}

/* The core set and what the build names; the rest into pending. */
static int unpack_partial(struct elp_bstate *b)
{
	struct path_set named = { 0 }, pending = { 0 };
	struct want_core w = { &named, 0, 0 };
	struct elp_buf skipped = { 0 };
	char *line, *save = NULL;
	long long t0 = elp_now_ms();
	int err;

	err = named_files(b, &named);
	if (!err)
		err = elp_unpack_tarball(b, b->kernel->source, b->tree,
					 want_core, &w, &skipped);
	if (!err)
		elp_info(
			b->ctx,
			"[tree] extracted %zu of the %zu files of '%s' in %lld ms",
			w.nr_wanted, w.nr_files, b->kernel->source,
			elp_now_ms() - t0);
	for (line = skipped.data ? strtok_r(skipped.data, "\n", &save) : NULL;
	     !err && line; line = strtok_r(NULL, "\n", &save))
		err = set_add(&pending, line);
	set_sort(&pending);
	if (!err)
		err = pending_write(b, &pending);
	free(named.v);
	free(pending.v);
	elp_buf_free(&skipped);
	return err;
}

/* Each unit's "#include "file"" next to it (a .c file including a .c file,
 * a local header the core set left out). */
static int unit_includes(struct elp_bstate *b, struct path_set *s)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < b->nr_units; i++) {
		const char *src = b->units[i].src, *slash = strrchr(src, '/');
		char *path, *text = NULL, *p;

		if (asprintf(&path, "%s/%s", b->tree, src) < 0)
			return -ENOMEM;
		if (elp_read_file(NULL, path, &text, NULL) != 0) {
			free(path);
			continue;
		}
		free(path);
		for (p = text; !err && (p = strstr(p, "#include")); p++) {
			char *q = p + 8, *end, *f;

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q != '"' || !(end = strchr(q + 1, '"')) ||
			    memchr(q, '\n', (size_t)(end - q)))
				continue;
			if (asprintf(&f, "%.*s%s%.*s",
				     slash ? (int)(slash - src) : 0, src,
				     slash ? "/" : "", (int)(end - q - 1),
				     q + 1) < 0) {
				err = -ENOMEM;
				break;
			}
			if (strstr(f, "..") || set_add(s, f) < 0) {
				free(f);
				continue;
			}
		}
		free(text);
	}
	return err;
}

int elp_btree_need_inputs(struct elp_bstate *b)
{
	struct path_set named = { 0 }, inc = { 0 };
	size_t i;
	int err;

	if (!elp_btree_partial(b))
		return 0;
	err = named_files(b, &named);
	if (!err)
		err = elp_btree_need(b, named.v, named.n);
	if (!err)
		err = unit_includes(b, &inc);
	if (!err)
		err = elp_btree_need(b, inc.v, inc.n);
	for (i = 0; i < inc.n; i++)
		free(inc.v[i]);
	free(inc.v);
	free(named.v);
	return err;
}
static int copy_source_dir(struct elp_bstate *b, const char *src,
			   const char *dest)
{
	char *from;
	int rc;

	/* what is copied must be what root meant to build, every file */
	rc = elp_check_trusted_tree(b->ctx, src, "kernel source");
	if (rc)
		return rc;
	if (asprintf(&from, "%s/.", src) < 0)
		return -ENOMEM;
	{
		const char *argv[] = { "cp", "-a", "--reflink=auto",
				       from, dest, NULL };

		rc = elp_run(b->ctx, argv, NULL, b->log_fd, NULL);
	}
	free(from);
	if (rc != 0) {
		elp_err(b->ctx, "cannot copy kernel source '%s' to '%s'", src,
			dest);
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

/* Options whose value differs between want and got (what olddefconfig
 * dropped or changed), for a warning. */
static void report_config_drift(struct elp_bstate *b, const char *want,
				const char *got)
{
	static const char *const expected[] = {
		"CONFIG_BUILD_SALT",
		"CONFIG_MODULE_SIG_ALL",
		"CONFIG_MODULE_SIG_KEY",
		"CONFIG_SYSTEM_TRUSTED_KEYS",
		"CONFIG_SYSTEM_REVOCATION_KEYS",
		"CONFIG_SYSTEM_BLACKLIST_HASH_LIST",
		"CONFIG_EXTRA_FIRMWARE_DIR",
		NULL,
	};
	struct elp_buf list = { 0 };
	const char *line = want;
	int n = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n'), *eq;
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char name[256];
		const char *const *e;
		char *v1, *v2;
		bool skip = false;

		eq = memchr(line, '=', len);
		if (strncmp(line, "CONFIG_", 7) == 0 && eq &&
		    (size_t)(eq - line) < sizeof(name)) {
			memcpy(name, line, (size_t)(eq - line));
			name[eq - line] = '\0';
			for (e = expected; *e; e++)
				if (strcmp(*e, name) == 0)
					skip = true;
			if (!skip) {
				v1 = elp_config_get(want, name);
				v2 = elp_config_get(got, name);
				if (!v2 || !v1 || strcmp(v1, v2) != 0) {
					if (n < 8)
						elp_buf_printf(&list, "%s%s",
							       n ? ", " : "",
							       name);
					n++;
				}
				free(v1);
				free(v2);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (n)
		elp_warn(
			b->ctx,
			"the prepared config differs from the kernel's in %d option(s): %s%s (missing build tools such as pahole?)",
			n, list.data, n > 8 ? ", ..." : "");
	elp_buf_free(&list);
}

/* make TARGET in the tree. In a partial tree a failure extracts the rest
 * and tries again: a kernel whose kbuild needs more than the core set. */
static int tree_make(struct elp_bstate *b, const char *target)
{
	const char *t[] = { target };
	int err;

	if (!elp_btree_partial(b))
		return elp_bmake(b, b->tree, t, 1, true, NULL);
	err = elp_bmake_try(b, b->tree, t, 1, true);
	if (err != -EIO)
		return err;
	elp_notice(b->ctx,
		   "[tree] make %s needs more than the core of the source",
		   target);
	err = elp_btree_need_all(b);
	return err ? err : elp_bmake(b, b->tree, t, 1, true, NULL);
}

static int prepare_tree(struct elp_bstate *b)
{
	const struct elp_kernel *k = b->kernel;
	char *path = NULL, *config = NULL, *got = NULL;
	size_t i;
	int err;

	elp_notice(b->ctx, "[tree] preparing %s source in %s", k->release,
		   b->tree);
	err = elp_rm_rf(b->ctx, b->tree_root);
	if (!err)
		err = elp_mkdir_p(b->ctx, b->tree, 0755);
	if (err)
		return err;
	if (strcmp(k->source_kind ? k->source_kind : "", "tarball") == 0)
		err = unpack_partial(b);
	else
		err = copy_source_dir(b, k->source, b->tree);
	if (err)
		return err;
	if (asprintf(&path, "%s/Makefile", b->tree) < 0)
		return -ENOMEM;
	if (!elp_is_file(path)) {
		elp_err(b->ctx, "'%s' is not a kernel source (no Makefile)",
			k->source);
		free(path);
		return -EINVAL;
	}
	free(path);
	path = NULL;

	for (i = 0; i < b->nr_oot; i++) {
		elp_info(b->ctx, "[tree] applying out-of-tree patch '%s'",
			 b->oot[i]->name);
		err = elp_patch_apply(b->ctx, b->tree, b->oot[i], false);
		if (err)
			return err;
	}

	/* Debian: KERNELRELEASE and CC as the distribution built it */
	if (k->build_dir) {
		char *from, *to;

		if (asprintf(&from, "%s/.kernelvariables", k->build_dir) < 0)
			return -ENOMEM;
		if (asprintf(&to, "%s/.kernelvariables", b->tree) < 0) {
			free(from);
			return -ENOMEM;
		}
		if (elp_is_file(from))
			err = elp_bcopy_file(b->ctx, from, to);
		free(from);
		free(to);
		if (err)
			return err;
	}

	config = sanitise_config(k->config);
	if (!config)
		return -ENOMEM;
	if (asprintf(&path, "%s/.config", b->tree) < 0) {
		free(config);
		return -ENOMEM;
	}
	err = elp_write_file_atomic(b->ctx, path, config, strlen(config), 0644);
	if (err)
		goto out;

	err = tree_make(b, "olddefconfig");
	if (err)
		goto out;
	if (elp_read_file(b->ctx, path, &got, NULL) == 0)
		report_config_drift(b, config, got);
	elp_notice(b->ctx, "[tree] make modules_prepare");
	err = tree_make(b, "modules_prepare");
out:
	free(path);
	free(config);
	free(got);
	return err;
}

/* The journal: manifest lines "<present 0|1>\t<sha256 or ->\t<path>". */
static int journal_restore(struct elp_bstate *b)
{
	char *dir = tree_file(b, "journal"), *manifest = NULL, *data = NULL;
	char *line, *save = NULL;
	int err = 0, i = 0;

	if (!dir || asprintf(&manifest, "%s/manifest", dir) < 0) {
		free(dir);
		return -ENOMEM;
	}
	if (!elp_is_file(manifest)) {
		/* no patch was applied: nothing to undo */
		err = elp_rm_rf(b->ctx, dir);
		goto out;
	}
	err = elp_read_file(b->ctx, manifest, &data, NULL);
	if (err)
		goto out;
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		char *sha = strchr(line, '\t'), *rel, *copy = NULL, *dst = NULL;
		char got[ELP_SHA256_HEX_LEN + 1];

		if (!sha || !(rel = strchr(sha + 1, '\t'))) {
			err = -EINVAL;
			break;
		}
		*sha++ = '\0';
		*rel++ = '\0';
		if (asprintf(&dst, "%s/%s", b->tree, rel) < 0 ||
		    asprintf(&copy, "%s/%d", dir, i) < 0) {
			free(dst);
			err = -ENOMEM;
			break;
		}
		if (strcmp(line, "1") == 0) {
			if (elp_bcopy_file(b->ctx, copy, dst) != 0 ||
			    elp_sha256_file(b->ctx, dst, got) != 0 ||
			    strcmp(got, sha) != 0) {
				elp_err(b->ctx,
					"cannot restore '%s' in the prepared tree",
					dst);
				err = -EIO;
			}
		} else if (unlink(dst) < 0 && errno != ENOENT) {
			elp_err(b->ctx, "cannot remove '%s': %m", dst);
			err = -errno;
		}
		free(dst);
		free(copy);
	}
	if (!err)
		err = elp_rm_rf(b->ctx, dir);
out:
	if (err) {
		/* never build on a tree that may still be patched */
		char *prepared = tree_file(b, "prepared");

		if (prepared)
			unlink(prepared);
		free(prepared);
		elp_err(b->ctx,
			"the prepared tree '%s' could not be restored; it will be prepared again",
			b->tree);
	}
	free(data);
	free(manifest);
	free(dir);
	return err;
}

int elp_btree_prepare(struct elp_bstate *b)
{
	char *lock = NULL, *prepared = NULL, *trees = NULL;
	int err;

	if (asprintf(&trees, "%s/trees", b->cache) < 0)
		return -ENOMEM;
	err = elp_mkdir_p(b->ctx, trees, 0755);
	if (err)
		goto out;
	if (asprintf(&b->tree_root, "%s/%s", trees, b->tree_key) < 0 ||
	    asprintf(&b->tree, "%s/linux", b->tree_root) < 0 ||
	    asprintf(&lock, "%s/%s.lock", trees, b->tree_key) < 0) {
		err = -ENOMEM;
		goto out;
	}
	/* as root, nothing another user could change is built in or from */
	err = elp_check_trusted(b->ctx, b->tree, "prepared tree");
	if (!err && b->kernel->source_kind &&
	    strcmp(b->kernel->source_kind, "dir") == 0)
		err = elp_check_trusted(b->ctx, b->kernel->source,
					"kernel source");
	if (!err && b->kernel->build_dir)
		err = elp_check_trusted(b->ctx, b->kernel->build_dir,
					"kernel build directory");
	if (err)
		goto out;
	/* not close-on-exec: make and the compilers inherit the lock, so a
	 * tree is not taken from them while they run, also when elivepatch
	 * was killed (kill -9) and they were left behind */
	b->lock_fd = open(lock, O_RDWR | O_CREAT, 0644);
	if (b->lock_fd < 0) {
		err = -errno;
		elp_err(b->ctx, "cannot open '%s': %m", lock);
		goto out;
	}
	if (flock(b->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		elp_notice(b->ctx, "[tree] waiting for another build using %s",
			   b->tree_root);
		while (flock(b->lock_fd, LOCK_EX) < 0) {
			if (errno != EINTR || elp_bstate_cancelled(b)) {
				err = -errno;
				elp_err(b->ctx, "cannot lock '%s': %m", lock);
				goto out;
			}
		}
	}
	prepared = tree_file(b, "prepared");
	if (!prepared) {
		err = -ENOMEM;
		goto out;
	}
	if (elp_is_file(prepared)) {
		char *manifest = tree_file(b, "journal/manifest");

		/* a build that died with its patches applied */
		if (manifest && elp_is_file(manifest))
			elp_warn(
				b->ctx,
				"restoring the prepared tree after an interrupted build");
		free(manifest);
		err = journal_restore(b);
		if (!err) {
			elp_info(b->ctx, "[tree] reusing %s", b->tree);
			goto out;
		}
	}
	err = prepare_tree(b);
	if (!err) {
		struct elp_buf info = { 0 };
		size_t i;

		/* what the tree is, for whoever looks into the cache */
		err = elp_buf_printf(&info, "release %s\nsource %s\ncc %s\n",
				     b->kernel->release, b->source_identity,
				     b->cc_version);
		for (i = 0; !err && i < b->nr_oot; i++)
			err = elp_buf_printf(&info, "out-of-tree %s %s\n",
					     b->oot[i]->name,
					     b->oot[i]->sha256);
		if (!err)
			err = elp_write_file_atomic(b->ctx, prepared, info.data,
						    info.len, 0644);
		elp_buf_free(&info);
	}
	if (err && b->tree_root) {
		/* no half-prepared tree is left (nor its disk space taken) */
		elp_info(b->ctx, "[tree] removing the unfinished tree %s",
			 b->tree_root);
		if (elp_rm_rf(b->ctx, b->tree_root) != 0)
			elp_warn(b->ctx, "cannot remove '%s'", b->tree_root);
	}
out:
	free(trees);
	free(lock);
	free(prepared);
	return err;
}

void elp_btree_unlock(struct elp_bstate *b)
{
	if (b->lock_fd >= 0) {
		close(b->lock_fd); /* releases the flock */
		b->lock_fd = -1;
	}
}

static bool in_list(char **list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

int elp_btree_apply(struct elp_bstate *b)
{
	struct elp_buf manifest = { 0 };
	char **paths = NULL, *dir = NULL, *mpath = NULL;
	size_t nr = 0, cap = 0, i, j;
	int err = 0;

	/* every file any patch touches, once */
	for (i = 0; i < b->nr_patches; i++) {
		for (j = 0; j < b->patches[i]->nr_files; j++) {
			const char *p = b->patches[i]->files[j].path;
			char **np;

			if (in_list(paths, nr, p))
				continue;
			np = elp_grow(paths, &cap, nr + 1, sizeof(*paths));
			if (!np) {
				err = -ENOMEM;
				goto out;
			}
			paths = np;
			paths[nr++] = strdup(p);
		}
	}
	dir = tree_file(b, "journal");
	if (!dir || asprintf(&mpath, "%s/manifest", dir) < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = elp_rm_rf(b->ctx, dir);
	if (!err)
		err = elp_mkdir_p(b->ctx, dir, 0755);
	if (err)
		goto out;
	for (i = 0; i < nr; i++) {
		char *src = NULL, *copy = NULL;
		char sha[ELP_SHA256_HEX_LEN + 1] = "-";
		bool present;

		if (strstr(paths[i], "..") || paths[i][0] == '/') {
			elp_err(b->ctx,
				"refusing to patch '%s' outside the tree",
				paths[i]);
			err = -EINVAL;
			goto out;
		}
		if (asprintf(&src, "%s/%s", b->tree, paths[i]) < 0 ||
		    asprintf(&copy, "%s/%zu", dir, i) < 0) {
			free(src);
			err = -ENOMEM;
			goto out;
		}
		present = elp_is_file(src);
		if (present) {
			err = elp_bcopy_file(b->ctx, src, copy);
			if (!err)
				err = elp_sha256_file(b->ctx, src, sha);
		}
		free(src);
		free(copy);
		if (err)
			goto out;
		elp_buf_printf(&manifest, "%d\t%s\t%s\n", present ? 1 : 0, sha,
			       paths[i]);
	}
	/* the manifest makes the journal valid: written after the copies */
	err = elp_buf_error(&manifest);
	if (err)
		goto out;
	err = elp_write_file_atomic(b->ctx, mpath,
				    manifest.data ? manifest.data : "",
				    manifest.len, 0644);
	if (err)
		goto out;
	b->journal_active = true;

	for (i = 0; i < b->nr_patches; i++) {
		elp_info(b->ctx, "[apply] %s", b->patches[i]->name);
		err = elp_patch_apply(b->ctx, b->tree, b->patches[i], false);
		if (err) {
			/* the patch library said which hunk; no second line */
			if (!b->refusal &&
			    asprintf(
				    &b->refusal,
				    "%s (kernel '%s'; is the patch for another version?)",
				    b->first_error ? b->first_error
						   : "the patch does not apply",
				    b->kernel->name) < 0)
				b->refusal = NULL;
			if (!b->refusal)
				elp_bstate_refuse(b,
						  "patch '%s' does not apply",
						  b->patches[i]->name);
			err = -ENOTSUP;
			goto out;
		}
	}
out:
	for (i = 0; i < nr; i++)
		free(paths[i]);
	free(paths);
	free(dir);
	free(mpath);
	elp_buf_free(&manifest);
	return err;
}

int elp_btree_restore(struct elp_bstate *b)
{
	int err;

	if (!b->tree_root)
		return 0;
	err = journal_restore(b);
	if (!err)
		b->journal_active = false;
	return err;
}
