// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The prepared-tree cache: one configured kernel source tree per (source,
 * config, out-of-tree patches, toolchain), made once and shared by builds.
 *
 *   <cache>/trees/<key>.lock   flock: one build uses a tree at a time
 *   <cache>/trees/<key>/linux  the tree (modules_prepare done)
 *   <cache>/trees/<key>/complete   written last; without it the tree is
 *                                  rebuilt from scratch
 *   <cache>/trees/<key>/journal    originals of the files a build's
 *                                  livepatch patches touch, so the tree can
 *                                  always be restored (also after a crash)
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
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

static const char *strip_top(const char *path)
{
	const char *slash;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	slash = strchr(path, '/');
	if (!slash)
		return NULL; /* the top directory itself */
	return slash + 1;
}

static int unpack_tarball(struct elp_bstate *b, const char *tarball,
			  const char *dest)
{
	struct archive *in, *out;
	struct archive_entry *entry;
	int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
		    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_NO_OVERWRITE;
	int r, err = 0;
	size_t n = 0;

	in = archive_read_new();
	out = archive_write_disk_new();
	if (!in || !out) {
		err = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	archive_write_disk_set_options(out, flags);
	if (archive_read_open_filename(in, tarball, 1 << 20) != ARCHIVE_OK) {
		elp_err(b->ctx, "cannot read '%s': %s", tarball,
			archive_error_string(in));
		err = -EIO;
		goto out;
	}
	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		const char *rel = strip_top(archive_entry_pathname(entry));
		const char *link = archive_entry_hardlink(entry);
		char *path = NULL, *lpath = NULL;
		const void *buf;
		size_t size;
		int64_t off;

		if (!rel || !*rel)
			continue;
		if (asprintf(&path, "%s/%s", dest, rel) < 0) {
			err = -ENOMEM;
			break;
		}
		archive_entry_set_pathname(entry, path);
		if (link) {
			const char *lrel = strip_top(link);

			if (lrel && asprintf(&lpath, "%s/%s", dest, lrel) > 0)
				archive_entry_set_hardlink(entry, lpath);
		}
		r = archive_write_header(out, entry);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			elp_err(b->ctx, "cannot extract '%s': %s", path,
				archive_error_string(out));
			free(path);
			free(lpath);
			err = -EIO;
			break;
		}
		free(path);
		free(lpath);
		while (archive_entry_size(entry) > 0 &&
		       (r = archive_read_data_block(in, &buf, &size, &off)) ==
			       ARCHIVE_OK) {
			if (archive_write_data_block(out, buf, size, off) !=
			    ARCHIVE_OK) {
				r = ARCHIVE_FATAL;
				break;
			}
		}
		if (r == ARCHIVE_FATAL || r == ARCHIVE_FAILED) {
			elp_err(b->ctx, "cannot extract '%s': %s", tarball,
				archive_error_string(in));
			err = -EIO;
			break;
		}
		archive_write_finish_entry(out);
		n++;
		if (elp_bstate_cancelled(b)) {
			err = -EINTR;
			break;
		}
	}
	if (!err && r != ARCHIVE_EOF) {
		elp_err(b->ctx, "cannot read '%s': %s", tarball,
			archive_error_string(in));
		err = -EIO;
	}
	if (!err && n == 0) {
		elp_err(b->ctx, "'%s' is empty", tarball);
		err = -EINVAL;
	}
out:
	if (out) {
		archive_write_close(out);
		archive_write_free(out);
	}
	if (in)
		archive_read_free(in);
	return err;
}

static int copy_source_dir(struct elp_bstate *b, const char *src,
			   const char *dest)
{
	char *from;
	int rc;

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
		err = unpack_tarball(b, k->source, b->tree);
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

	{
		const char *t[] = { "olddefconfig" };

		err = elp_bmake(b, b->tree, t, 1, true, NULL);
		if (err)
			goto out;
	}
	if (elp_read_file(b->ctx, path, &got, NULL) == 0)
		report_config_drift(b, config, got);
	{
		const char *t[] = { "modules_prepare" };

		elp_notice(b->ctx, "[tree] make modules_prepare");
		err = elp_bmake(b, b->tree, t, 1, true, NULL);
		if (err)
			goto out;
	}
out:
	free(path);
	free(config);
	free(got);
	return err;
}

static char *tree_file(const struct elp_bstate *b, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", b->tree_root, name) < 0 ? NULL : p;
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
		char *complete = tree_file(b, "complete");

		if (complete)
			unlink(complete);
		free(complete);
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
	char *lock = NULL, *complete = NULL, *trees = NULL;
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
	b->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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
	complete = tree_file(b, "complete");
	if (!complete) {
		err = -ENOMEM;
		goto out;
	}
	if (elp_is_file(complete)) {
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
			err = elp_write_file_atomic(b->ctx, complete, info.data,
						    info.len, 0644);
		elp_buf_free(&info);
	}
out:
	free(trees);
	free(lock);
	free(complete);
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
	size_t nr = 0, i, j;
	int err = 0;

	/* every file any patch touches, once */
	for (i = 0; i < b->nr_patches; i++) {
		for (j = 0; j < b->patches[i]->nr_files; j++) {
			const char *p = b->patches[i]->files[j].path;
			char **np;

			if (in_list(paths, nr, p))
				continue;
			np = realloc(paths, (nr + 1) * sizeof(*paths));
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
