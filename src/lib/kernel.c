// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "catalogue-internal.h"
#include "kernel.h"
#include "util.h"

void elp_kernel_free(struct elp_kernel *k)
{
	size_t i;

	if (!k)
		return;
	free(k->name);
	free(k->release);
	free(k->version_text);
	free(k->arch);
	free(k->source);
	free(k->source_kind);
	free(k->build_dir);
	free(k->config_path);
	free(k->config);
	free(k->config_sha256);
	free(k->cc_version_text);
	free(k->build_id);
	free(k->symbols_path);
	free(k->symbols_sha256);
	free(k->image_path);
	free(k->modules_dir);
	for (i = 0; i < ELP_KERNEL_NR_INPUTS; i++) {
		free(k->inputs[i].path);
		free(k->inputs[i].origin);
		free(k->inputs[i].sha256);
	}
	free(k->symbols_text);
	free(k);
}

static char *first_readable(struct elp_ctx *ctx, const char *const *candidates)
{
	for (; *candidates; candidates++) {
		char *p = elp_rooted(ctx, *candidates);

		if (p && elp_is_file(p))
			return p;
		free(p);
	}
	return NULL;
}

static char *resolve_dir(struct elp_ctx *ctx, const char *path)
{
	char *p = elp_rooted(ctx, path);
	char *real = p ? elp_abspath(p) : NULL;

	free(p);
	if (real && !elp_is_dir(real)) {
		free(real);
		return NULL;
	}
	return real;
}

int elp_kernel_for_build(struct elp_catalogue *cat, struct elp_ctx *ctx,
			 const char *spec, bool detected_ok,
			 struct elp_kernel **out)
{
	struct elp_kernel *detected = NULL;
	char *release = NULL;
	int err;

	*out = NULL;
	if (spec) {
		err = elp_kernel_find(cat, spec, out);
	} else if (detected_ok) {
		err = elp_kernel_detect(ctx, &detected);
		if (err)
			return err;
		err = elp_kernel_find(cat, detected->release, out);
		if (err == -ENOENT) {
			*out = detected;
			return 0;
		}
		elp_kernel_free(detected);
		return err;
	} else {
		err = elp_kernel_running_release(ctx, &release);
		if (!err)
			err = elp_kernel_find(cat, release, out);
		free(release);
	}
	if (err == -ENOENT)
		elp_err(ctx,
			"kernel '%s' is not in the catalogue; see 'elivepatch kernel list'",
			spec ? spec : "(running)");
	return err;
}

int elp_kernel_detect(struct elp_ctx *ctx, struct elp_kernel **out)
{
	char *config = NULL, *path;
	struct elp_kernel *k;
	int err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	err = elp_kernel_running_identity(ctx, k);
	if (err) {
		elp_err(ctx, "cannot determine the running kernel's release");
		goto fail;
	}
	k->version_text = elp_kernel_running_version(ctx);

	{
		char boot_config[512], build_config[512];
		const char *candidates[] = { "/proc/config.gz", boot_config,
					     build_config, NULL };

		snprintf(boot_config, sizeof(boot_config), "/boot/config-%s",
			 k->release);
		snprintf(build_config, sizeof(build_config),
			 "/lib/modules/%s/build/.config", k->release);
		k->config_path = first_readable(ctx, candidates);
	}
	if (!k->config_path) {
		elp_err(ctx,
			"cannot find the config of kernel '%s' (no /proc/config.gz, /boot/config-%s or build/.config)",
			k->release, k->release);
		err = -ENOENT;
		goto fail;
	}
	err = elp_config_read(ctx, k->config_path, &config);
	if (err)
		goto fail;
	err = elp_kernel_set_config(k, config);
	free(config);
	if (!err)
		err = elp_kernel_set_origin(
			k, ELP_KERNEL_CONFIG, k->config_path,
			"the running kernel's config", k->config_sha256);
	if (err)
		goto fail;

	k->build_id = elp_kernel_running_build_id(ctx);

	{
		char dir[512];

		snprintf(dir, sizeof(dir), "/lib/modules/%s/build", k->release);
		k->build_dir = resolve_dir(ctx, dir);
		if (k->build_dir)
			err = elp_kernel_set_origin(
				k, ELP_KERNEL_BUILD, k->build_dir,
				"/lib/modules/RELEASE/build", NULL);
		snprintf(dir, sizeof(dir), "/lib/modules/%s/source",
			 k->release);
		k->source = resolve_dir(ctx, dir);
		if (k->source) {
			k->source_kind = strdup("dir");
			if (!err)
				err = elp_kernel_set_origin(
					k, ELP_KERNEL_SOURCE, k->source,
					"/lib/modules/RELEASE/source", NULL);
		}
		if (err)
			goto fail;
	}
	{
		char image[512];
		const char *candidates[] = { image, NULL };

		snprintf(image, sizeof(image), "/boot/vmlinuz-%s", k->release);
		path = first_readable(ctx, candidates);
		/* Debian's images are root's alone: detect works without */
		if (path && access(path, R_OK) < 0)
			elp_warn(ctx, "not recording image '%s': %s", path,
				 strerror(errno));
		else if (path)
			err = elp_kernel_set_image(ctx, k, path,
						   "/boot/vmlinuz-RELEASE");
		free(path);
		if (err)
			goto fail;
	}
	k->name = k->release ? strdup(k->release) : NULL;
	if (!k->name) {
		err = -ENOMEM;
		goto fail;
	}
	*out = k;
	return 0;
fail:
	elp_kernel_free(k);
	return err;
}

static bool is_tarball_name(const char *path)
{
	static const char *const suffixes[] = { ".tar", ".tar.xz",  ".tar.gz",
						".tgz", ".tar.bz2", ".tar.zst",
						NULL };
	size_t len = strlen(path);
	const char *const *s;

	for (s = suffixes; *s; s++) {
		size_t sl = strlen(*s);

		if (len > sl && strcmp(path + len - sl, *s) == 0)
			return true;
	}
	return false;
}

/*
 * A kernel tarball has "<top>/Kbuild" or "<top>/Kconfig".  Tarballs list
 * entries sorted, after the whole of Documentation/: about 1 s of xz.
 */
static int check_tarball(struct elp_ctx *ctx, const char *path)
{
	struct archive_entry *entry;
	struct archive *a;
	int entries = 0, err = -EINVAL;

	a = archive_read_new();
	if (!a)
		return -ENOMEM;
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		elp_err(ctx, "cannot read kernel source '%s': %s", path,
			archive_error_string(a));
		archive_read_free(a);
		return -EIO;
	}
	while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(entry);
		const char *slash = name ? strchr(name, '/') : NULL;

		entries++;
		if (slash && (strcmp(slash, "/Kbuild") == 0 ||
			      strcmp(slash, "/Kconfig") == 0)) {
			err = 0;
			break;
		}
		archive_read_data_skip(a);
	}
	if (err && entries == 0)
		elp_err(ctx, "cannot read kernel source '%s': %s", path,
			archive_error_string(a) ? archive_error_string(a)
						: "not an archive");
	else if (err)
		elp_err(ctx,
			"'%s' is not a kernel source tarball (no top-level Kbuild or Kconfig)",
			path);
	archive_read_free(a);
	return err;
}

int elp_kernel_check_source(struct elp_ctx *ctx, const char *source,
			    const char **kind)
{
	static const char *const markers[] = { "Makefile", "Kconfig",
					       "kernel/livepatch",
					       "scripts/Makefile.build", NULL };
	const char *const *m;

	if (elp_is_dir(source)) {
		for (m = markers; *m; m++) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", source, *m);
			if (access(path, F_OK) < 0) {
				elp_err(ctx,
					"'%s' is not a kernel source tree (no %s)",
					source, *m);
				return -EINVAL;
			}
		}
		*kind = "dir";
		return 0;
	}
	if (!elp_is_file(source)) {
		elp_err(ctx, "cannot open kernel source '%s': %s", source,
			strerror(errno ? errno : ENOENT));
		return -ENOENT;
	}
	if (!is_tarball_name(source)) {
		elp_err(ctx,
			"'%s' is neither a kernel source directory nor a tarball (.tar, .tar.xz, .tar.gz, .tar.bz2, .tar.zst)",
			source);
		return -EINVAL;
	}
	*kind = "tarball";
	return check_tarball(ctx, source);
}

#define KERNEL_COLUMNS                                                     \
	"id, name, release, version_text, arch, source, source_kind, "     \
	"build_dir, config_path, config, config_sha256, cc_version_text, " \
	"build_id, symbols_path, livepatch, created_at, image_path, "      \
	"symbols_sha256, modules_dir"

static struct elp_kernel *kernel_from_row(sqlite3_stmt *stmt)
{
	struct elp_kernel *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->id = sqlite3_column_int64(stmt, 0);
	k->name = elp_column_strdup(stmt, 1);
	k->release = elp_column_strdup(stmt, 2);
	k->version_text = elp_column_strdup(stmt, 3);
	k->arch = elp_column_strdup(stmt, 4);
	k->source = elp_column_strdup(stmt, 5);
	k->source_kind = elp_column_strdup(stmt, 6);
	k->build_dir = elp_column_strdup(stmt, 7);
	k->config_path = elp_column_strdup(stmt, 8);
	k->config = elp_column_strdup(stmt, 9);
	k->config_sha256 = elp_column_strdup(stmt, 10);
	k->cc_version_text = elp_column_strdup(stmt, 11);
	k->build_id = elp_column_strdup(stmt, 12);
	k->symbols_path = elp_column_strdup(stmt, 13);
	k->livepatch = sqlite3_column_int(stmt, 14) != 0;
	k->created_at = sqlite3_column_int64(stmt, 15);
	k->image_path = elp_column_strdup(stmt, 16);
	k->symbols_sha256 = elp_column_strdup(stmt, 17);
	k->modules_dir = elp_column_strdup(stmt, 18);
	return k;
}

static int store_origins(struct elp_catalogue *cat, const struct elp_kernel *k)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < ELP_KERNEL_NR_INPUTS; i++) {
		const struct elp_kernel_origin *o = &k->inputs[i];
		sqlite3_stmt *stmt;

		if (!o->origin)
			continue;
		err = elp_catalogue_prepare(
			cat,
			"INSERT INTO kernel_inputs (kernel_id, input, path, origin, sha256) VALUES (?, ?, ?, ?, ?)",
			&stmt);
		if (err)
			break;
		sqlite3_bind_int64(stmt, 1, k->id);
		elp_bind_text_opt(stmt, 2, elp_kernel_input_names[i]);
		elp_bind_text_opt(stmt, 3, o->path);
		elp_bind_text_opt(stmt, 4, o->origin);
		elp_bind_text_opt(stmt, 5, o->sha256);
		err = elp_catalogue_step_done(
			cat, stmt, "cannot record the kernel's inputs");
	}
	return err;
}

static int origin_row(sqlite3_stmt *stmt, void *data)
{
	struct elp_kernel *k = data;
	const char *input = (const char *)sqlite3_column_text(stmt, 0);
	size_t i;

	for (i = 0; input && i < ELP_KERNEL_NR_INPUTS; i++)
		if (!strcmp(input, elp_kernel_input_names[i]))
			return elp_kernel_set_origin(
				k, i,
				(const char *)sqlite3_column_text(stmt, 1),
				(const char *)sqlite3_column_text(stmt, 2),
				(const char *)sqlite3_column_text(stmt, 3));
	return 0;
}

static int load_origins(struct elp_catalogue *cat, struct elp_kernel *k)
{
	return elp_catalogue_each_row(
		cat,
		"SELECT input, path, origin, sha256 FROM kernel_inputs WHERE kernel_id = ?",
		k->id, origin_row, k, "cannot read the kernel's inputs");
}

int elp_kernel_store(struct elp_catalogue *cat, struct elp_kernel *k)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_kernel *existing = NULL;
	sqlite3_stmt *stmt;
	int err;

	if (elp_kernel_find(cat, k->name, &existing) == 0 &&
	    strcmp(existing->name, k->name) == 0) {
		elp_err(ctx,
			"kernel '%s' is already in the catalogue (release %s); use --name to add another",
			k->name, existing->release);
		elp_kernel_free(existing);
		return -EEXIST;
	}
	elp_kernel_free(existing);
	if (k->symbols_text) {
		err = elp_kernel_snapshot_symbols(cat, k);
		if (err)
			return err;
	}
	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO kernels (name, release, version_text, arch, source, source_kind, build_dir, config_path, config, config_sha256, cc_version_text, build_id, symbols_path, livepatch, created_at, image_path, symbols_sha256, modules_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		&stmt);
	if (err)
		return err;
	if (!k->created_at)
		k->created_at = (int64_t)time(NULL);
	elp_bind_text_opt(stmt, 1, k->name);
	elp_bind_text_opt(stmt, 2, k->release);
	elp_bind_text_opt(stmt, 3, k->version_text);
	elp_bind_text_opt(stmt, 4, k->arch ? k->arch : "x86_64");
	elp_bind_text_opt(stmt, 5, k->source);
	elp_bind_text_opt(stmt, 6, k->source_kind);
	elp_bind_text_opt(stmt, 7, k->build_dir);
	elp_bind_text_opt(stmt, 8, k->config_path);
	elp_bind_text_opt(stmt, 9, k->config);
	elp_bind_text_opt(stmt, 10, k->config_sha256);
	elp_bind_text_opt(stmt, 11, k->cc_version_text);
	elp_bind_text_opt(stmt, 12, k->build_id);
	elp_bind_text_opt(stmt, 13, k->symbols_path);
	sqlite3_bind_int(stmt, 14, k->livepatch);
	sqlite3_bind_int64(stmt, 15, k->created_at);
	elp_bind_text_opt(stmt, 16, k->image_path);
	elp_bind_text_opt(stmt, 17, k->symbols_sha256);
	elp_bind_text_opt(stmt, 18, k->modules_dir);
	err = elp_catalogue_step_done(cat, stmt, "cannot add kernel");
	if (err)
		return err;
	k->id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
	return store_origins(cat, k);
}

static int find_one(struct elp_catalogue *cat, const char *where,
		    const char *arg, struct elp_kernel **out, int *count)
{
	sqlite3_stmt *stmt;
	char *sql;
	int err, rc;

	*count = 0;
	if (asprintf(&sql, "SELECT " KERNEL_COLUMNS " FROM kernels WHERE %s",
		     where) < 0)
		return -ENOMEM;
	err = elp_catalogue_prepare(cat, sql, &stmt);
	free(sql);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, arg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (++*count == 1)
			*out = kernel_from_row(stmt);
	}
	if (rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot look up kernel");
	sqlite3_finalize(stmt);
	if (err || *count != 1) {
		if (*count >= 1)
			elp_kernel_free(*out);
		*out = NULL;
	}
	return err;
}

int elp_kernel_find(struct elp_catalogue *cat, const char *spec,
		    struct elp_kernel **out)
{
	static const char *const wheres[] = {
		"name = ?1",
		"CAST(id AS TEXT) = ?1",
		"release = ?1",
	};
	size_t i;
	int err, count;

	*out = NULL;
	for (i = 0; i < ARRAY_SIZE(wheres); i++) {
		err = find_one(cat, wheres[i], spec, out, &count);
		if (err)
			return err;
		if (count == 1 && !*out)
			return -ENOMEM;
		if (count == 1) {
			err = load_origins(cat, *out);
			if (err) {
				elp_kernel_free(*out);
				*out = NULL;
			}
			return err;
		}
		if (count > 1) {
			elp_err(elp_catalogue_ctx(cat),
				"kernel '%s' is ambiguous: %d kernels have that release; give a name or id",
				spec, count);
			return -EINVAL;
		}
	}
	return -ENOENT;
}

int elp_kernel_foreach(struct elp_catalogue *cat, elp_kernel_cb cb, void *data)
{
	sqlite3_stmt *stmt;
	int err, rc;

	err = elp_catalogue_prepare(
		cat, "SELECT " KERNEL_COLUMNS " FROM kernels ORDER BY id",
		&stmt);
	if (err)
		return err;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct elp_kernel *k = kernel_from_row(stmt);

		if (!k) {
			err = -ENOMEM;
			break;
		}
		err = cb(k, data);
		elp_kernel_free(k);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot list kernels");
	sqlite3_finalize(stmt);
	return err;
}

int elp_kernel_remove(struct elp_catalogue *cat, const struct elp_kernel *k)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(cat, "DELETE FROM kernels WHERE id = ?",
				    &stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, k->id);
	return elp_catalogue_step_done(cat, stmt, "cannot remove kernel");
}

struct id_list {
	int64_t *ids;
	size_t nr, cap;
};

static int id_row(sqlite3_stmt *stmt, void *data)
{
	struct id_list *list = data;
	int64_t *p = elp_grow(list->ids, &list->cap, list->nr + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	list->ids = p;
	list->ids[list->nr++] = sqlite3_column_int64(stmt, 0);
	return 0;
}

int elp_kernel_patch_ids(struct elp_catalogue *cat, int64_t kernel_id,
			 int64_t **ids, size_t *nr)
{
	struct id_list list = { 0 };
	int err;

	err = elp_catalogue_each_row(
		cat,
		"SELECT patch_id FROM kernel_patches WHERE kernel_id = ? ORDER BY position",
		kernel_id, id_row, &list, "cannot list kernel patches");
	if (err) {
		free(list.ids);
		return err;
	}
	*ids = list.ids;
	*nr = list.nr;
	return 0;
}

int elp_kernel_has_patch(struct elp_catalogue *cat, int64_t kernel_id,
			 const char *name)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"SELECT 1 FROM kernel_patches kp JOIN patches p ON p.id = kp.patch_id WHERE kp.kernel_id = ?1 AND (p.name = ?2 OR substr(p.name, instr(p.name, ':') + 1) = ?2)",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, kernel_id);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	return elp_catalogue_step_exists(cat, stmt, "cannot read kernel");
}

int elp_kernel_append_patch(struct elp_catalogue *cat, int64_t kernel_id,
			    int64_t patch_id)
{
	sqlite3_stmt *stmt;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO kernel_patches (kernel_id, position, patch_id) VALUES (?1, (SELECT coalesce(max(position), 0) + 1 FROM kernel_patches WHERE kernel_id = ?1), ?2)",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_int64(stmt, 1, kernel_id);
	sqlite3_bind_int64(stmt, 2, patch_id);
	return elp_catalogue_step_done(cat, stmt,
				       "cannot record the kernel's patch");
}
