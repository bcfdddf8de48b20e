// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The catalogue of patches: the patches, patch_files, patch_functions and
 * patch_cves tables (parsing is patch-parse.c, applying patch-apply.c).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include "builds.h"
#include "catalogue-internal.h"
#include "history.h"
#include "patch-internal.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* Catalogue                                                           */

static bool name_is_valid(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;

	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static int insert_children(struct elp_catalogue *cat, const struct elp_patch *p)
{
	sqlite3_stmt *st;
	size_t i, j;
	int err;

	for (i = 0; i < p->nr_files; i++) {
		const struct elp_patch_file *f = &p->files[i];

		err = elp_catalogue_prepare(
			cat,
			"INSERT INTO patch_files (patch_id, path, status, hunks, additions, deletions) VALUES (?, ?, ?, ?, ?, ?)",
			&st);
		if (err)
			return err;
		sqlite3_bind_int64(st, 1, p->id);
		sqlite3_bind_text(st, 2, f->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, f->status, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, f->hunks);
		sqlite3_bind_int(st, 5, f->additions);
		sqlite3_bind_int(st, 6, f->deletions);
		err = elp_catalogue_step_done(cat, st,
					      "cannot record patch file");
		if (err)
			return err;
		for (j = 0; j < f->nr_functions; j++) {
			err = elp_catalogue_prepare(
				cat,
				"INSERT INTO patch_functions (patch_id, path, function) VALUES (?, ?, ?)",
				&st);
			if (err)
				return err;
			sqlite3_bind_int64(st, 1, p->id);
			sqlite3_bind_text(st, 2, f->path, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, f->functions[j], -1,
					  SQLITE_STATIC);
			err = elp_catalogue_step_done(
				cat, st, "cannot record patch function");
			if (err)
				return err;
		}
	}
	for (i = 0; i < p->nr_cves; i++) {
		err = elp_catalogue_prepare(
			cat,
			"INSERT INTO patch_cves (patch_id, cve) VALUES (?, ?)",
			&st);
		if (err)
			return err;
		sqlite3_bind_int64(st, 1, p->id);
		sqlite3_bind_text(st, 2, p->cves[i], -1, SQLITE_STATIC);
		err = elp_catalogue_step_done(cat, st, "cannot record CVE");
		if (err)
			return err;
	}
	return 0;
}

/* One row of "SELECT id, name FROM patches WHERE <col> = ?..." */
static int lookup_one(struct elp_catalogue *cat, const char *sql, const char *a,
		      const char *b, int64_t *id, char **name)
{
	sqlite3_stmt *st;
	int rc, err;

	err = elp_catalogue_prepare(cat, sql, &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (name)
			*name = elp_column_strdup(st, 1);
		err = 1;
	} else if (rc != SQLITE_DONE) {
		err = elp_catalogue_error(cat, "cannot look up patch");
	}
	sqlite3_finalize(st);
	return err;
}

int elp_patch_store(struct elp_catalogue *cat, struct elp_patch *p)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	const char *what = p->origin ? p->origin : p->name;
	char *other = NULL;
	sqlite3_stmt *st;
	int64_t id = 0;
	int err;

	if (!name_is_valid(p->name)) {
		elp_err(ctx, "invalid patch name '%s'", p->name ? p->name : "");
		return -EINVAL;
	}
	if (!p->sha256 || !p->content) {
		elp_err(ctx, "patch '%s' has no content", p->name);
		return -EINVAL;
	}
	err = lookup_one(cat, "SELECT id, origin FROM patches WHERE name = ?",
			 p->name, NULL, &id, &other);
	if (err == 1) {
		elp_err(ctx,
			"cannot add '%s': a patch named '%s' is already catalogued (id %lld%s%s%s)",
			what, p->name, (long long)id, other ? ", from '" : "",
			other ? other : "", other ? "'" : "");
		free(other);
		return -EEXIST;
	}
	if (err < 0)
		return err;
	err = lookup_one(
		cat,
		"SELECT id, name FROM patches WHERE kind = ? AND sha256 = ?",
		elp_patch_kind_name(p->kind), p->sha256, &id, &other);
	if (err == 1) {
		elp_err(ctx,
			"cannot add '%s' as '%s': same content as catalogued patch '%s' (id %lld)",
			what, p->name, other ? other : "?", (long long)id);
		free(other);
		return -EEXIST;
	}
	if (err < 0)
		return err;

	if (!p->created_at)
		p->created_at = (int64_t)time(NULL);
	err = elp_catalogue_prepare(
		cat,
		"INSERT INTO patches (name, kind, sha256, content, origin, subject, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		&st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, elp_patch_kind_name(p->kind), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->content, -1, SQLITE_STATIC);
	if (p->origin)
		sqlite3_bind_text(st, 5, p->origin, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (p->subject)
		sqlite3_bind_text(st, 6, p->subject, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, p->created_at);
	err = elp_catalogue_step_done(cat, st, "cannot record patch");
	if (err)
		return err;
	p->id = sqlite3_last_insert_rowid(elp_catalogue_db(cat));
	err = insert_children(cat, p);
	if (err)
		p->id = 0;
	return err;
}

int elp_patch_update(struct elp_catalogue *cat, const struct elp_patch *p)
{
	static const char *const clear[] = {
		"DELETE FROM patch_files WHERE patch_id = ?",
		"DELETE FROM patch_functions WHERE patch_id = ?",
		"DELETE FROM patch_cves WHERE patch_id = ?",
	};
	sqlite3_stmt *st;
	size_t i;
	int err;

	err = elp_catalogue_prepare(
		cat,
		"UPDATE patches SET sha256 = ?, content = ?, origin = ?, subject = ? WHERE id = ?",
		&st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, p->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->content, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, p->id);
	err = elp_catalogue_step_done(cat, st, "cannot update patch");
	for (i = 0; !err && i < sizeof(clear) / sizeof(clear[0]); i++) {
		err = elp_catalogue_prepare(cat, clear[i], &st);
		if (err)
			return err;
		sqlite3_bind_int64(st, 1, p->id);
		err = elp_catalogue_step_done(cat, st, "cannot update patch");
	}
	return err ? err : insert_children(cat, p);
}

static int file_row(sqlite3_stmt *st, void *data)
{
	struct elp_patch_file *f = elp_patch_file_for(
		data, (const char *)sqlite3_column_text(st, 0),
		(const char *)sqlite3_column_text(st, 1));

	if (!f)
		return -ENOMEM;
	f->hunks = sqlite3_column_int(st, 2);
	f->additions = sqlite3_column_int(st, 3);
	f->deletions = sqlite3_column_int(st, 4);
	return 0;
}

static int function_row(sqlite3_stmt *st, void *data)
{
	struct elp_patch_file *f = elp_patch_file_for(
		data, (const char *)sqlite3_column_text(st, 0), "modified");

	if (!f || elp_strv_add_unique(&f->functions, &f->nr_functions,
				      (const char *)sqlite3_column_text(st, 1)))
		return -ENOMEM;
	return 0;
}

static int cve_row(sqlite3_stmt *st, void *data)
{
	struct elp_patch *p = data;

	return elp_strv_add_unique(&p->cves, &p->nr_cves,
				   (const char *)sqlite3_column_text(st, 0))
		       ? -ENOMEM
		       : 0;
}

static int load_children(struct elp_catalogue *cat, struct elp_patch *p)
{
	int err;

	err = elp_catalogue_each_row(
		cat,
		"SELECT path, status, hunks, additions, deletions FROM patch_files WHERE patch_id = ? ORDER BY rowid",
		p->id, file_row, p, "cannot read patch files");
	if (!err)
		err = elp_catalogue_each_row(
			cat,
			"SELECT path, function FROM patch_functions WHERE patch_id = ? ORDER BY rowid",
			p->id, function_row, p, "cannot read patch functions");
	if (!err)
		err = elp_catalogue_each_row(
			cat,
			"SELECT cve FROM patch_cves WHERE patch_id = ? ORDER BY cve",
			p->id, cve_row, p, "cannot read patch CVEs");
	return err;
}

static int load_patch(struct elp_catalogue *cat, int64_t id,
		      struct elp_patch **out)
{
	struct elp_patch *p;
	sqlite3_stmt *st;
	int rc, err;

	err = elp_catalogue_prepare(
		cat,
		"SELECT id, name, kind, sha256, content, origin, subject, created_at FROM patches WHERE id = ?",
		&st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		err = rc == SQLITE_DONE
			      ? -ENOENT
			      : elp_catalogue_error(cat, "cannot read patch");
		sqlite3_finalize(st);
		return err;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		sqlite3_finalize(st);
		return -ENOMEM;
	}
	p->id = sqlite3_column_int64(st, 0);
	p->name = elp_column_strdup(st, 1);
	if (elp_patch_kind_from_name((const char *)sqlite3_column_text(st, 2),
				     &p->kind))
		p->kind = ELP_PATCH_LIVEPATCH;
	p->sha256 = elp_column_strdup(st, 3);
	p->content = elp_column_strdup(st, 4);
	p->origin = elp_column_strdup(st, 5);
	p->subject = elp_column_strdup(st, 6);
	p->created_at = sqlite3_column_int64(st, 7);
	sqlite3_finalize(st);
	err = load_children(cat, p);
	if (err) {
		elp_patch_free(p);
		return err;
	}
	*out = p;
	return 0;
}

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

int elp_patch_find(struct elp_catalogue *cat, const char *spec,
		   struct elp_patch **out)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	sqlite3_stmt *st;
	int64_t id = 0;
	int err, rc, n = 0;

	*out = NULL;
	err = lookup_one(cat, "SELECT id, name FROM patches WHERE name = ?",
			 spec, NULL, &id, NULL);
	if (err < 0)
		return err;
	if (err == 0 && elp_all_digits(spec, strlen(spec)) &&
	    strlen(spec) < 19) {
		err = lookup_one(
			cat,
			"SELECT id, name FROM patches WHERE id = CAST(? AS INTEGER)",
			spec, NULL, &id, NULL);
		if (err < 0)
			return err;
	}
	if (err == 0 && strlen(spec) >= 4 && strlen(spec) <= 64 &&
	    all_hex(spec)) {
		char lower[65];
		size_t i;

		for (i = 0; spec[i]; i++)
			lower[i] = (char)tolower((unsigned char)spec[i]);
		lower[i] = '\0';
		err = elp_catalogue_prepare(
			cat,
			"SELECT id FROM patches WHERE substr(sha256, 1, length(?1)) = ?1 ORDER BY id",
			&st);
		if (err)
			return err;
		sqlite3_bind_text(st, 1, lower, -1, SQLITE_TRANSIENT);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			n++;
		}
		if (rc != SQLITE_DONE) {
			err = elp_catalogue_error(cat, "cannot look up patch");
			sqlite3_finalize(st);
			return err;
		}
		sqlite3_finalize(st);
		if (n > 1) {
			elp_err(ctx,
				"patch '%s' is ambiguous: %d patches have a sha256 starting with it",
				spec, n);
			return -EINVAL;
		}
		err = n;
	}
	if (err == 0) {
		elp_err(ctx, "no patch '%s' in the catalogue", spec);
		return -ENOENT;
	}
	return load_patch(cat, id, out);
}

int elp_patch_cumulative_merge(struct elp_catalogue *cat, struct elp_ctx *ctx,
			       const int64_t *applied, size_t nr_applied,
			       struct elp_patch ***patches, size_t *nr_patches)
{
	struct elp_patch **all = NULL, **na;
	size_t n = 0, i, k;
	int err = 0;

	all = calloc(nr_applied + *nr_patches + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (i = 0; !err && i < nr_applied; i++) {
		char spec[32];

		snprintf(spec, sizeof(spec), "%lld", (long long)applied[i]);
		err = elp_patch_find(cat, spec, &all[n]);
		if (!err && !all[n])
			err = -ENOENT;
		if (err)
			break;
		elp_info(ctx, "cumulative: patch '%s' of an applied livepatch",
			 all[n]->name);
		n++;
	}
	if (err) {
		while (n)
			elp_patch_free(all[--n]);
		free(all);
		return err;
	}
	for (i = 0; i < *nr_patches; i++) {
		struct elp_patch *p = (*patches)[i];

		for (k = 0; k < nr_applied && applied[k] != p->id; k++)
			;
		if (k < nr_applied) {
			elp_info(ctx,
				 "cumulative: patch '%s' is already applied",
				 p->name);
			elp_patch_free(p);
		} else {
			all[n++] = p;
		}
	}
	na = realloc(all, (n ? n : 1) * sizeof(*na));
	free(*patches);
	*patches = na ? na : all;
	*nr_patches = n;
	return 0;
}

int elp_patch_find_by_sha(struct elp_catalogue *cat, enum elp_patch_kind kind,
			  const char *sha256, struct elp_patch **out)
{
	int64_t id = 0;
	int err;

	if (out)
		*out = NULL;
	err = lookup_one(
		cat,
		"SELECT id, name FROM patches WHERE kind = ? AND sha256 = ?",
		elp_patch_kind_name(kind), sha256, &id, NULL);
	if (err <= 0 || !out)
		return err;
	err = load_patch(cat, id, out);
	return err ? err : 1;
}

int elp_patch_foreach(struct elp_catalogue *cat, elp_patch_cb cb, void *data)
{
	int64_t *ids = NULL;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *st;
	int rc, err;

	err = elp_catalogue_prepare(cat, "SELECT id FROM patches ORDER BY id",
				    &st);
	if (err)
		return err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t *v = elp_grow(ids, &cap, n + 1, sizeof(*v));

		if (!v) {
			err = -ENOMEM;
			break;
		}
		ids = v;
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot list patches");
	sqlite3_finalize(st);
	for (i = 0; i < n && !err; i++) {
		struct elp_patch *p = NULL;

		err = load_patch(cat, ids[i], &p);
		if (err)
			break;
		err = cb(p, data);
		elp_patch_free(p);
	}
	free(ids);
	return err;
}

static int append_refs(struct elp_catalogue *cat, const char *sql, int64_t id,
		       struct elp_buf *out, const char *one, const char *many,
		       bool quote)
{
	struct elp_buf list = { 0 };
	sqlite3_stmt *st;
	int rc, err, n = 0;

	err = elp_catalogue_prepare(cat, sql, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		if (elp_buf_printf(&list, "%s%s%s%s", n ? ", " : "",
				   quote ? "'" : "", v ? v : "?",
				   quote ? "'" : "")) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot look up references");
	sqlite3_finalize(st);
	if (!err && n)
		err = elp_buf_printf(out, "%s%s %s", out->len ? " and " : "",
				     n == 1 ? one : many, list.data);
	elp_buf_free(&list);
	return err ? err : n;
}

/* "build 3" or "builds 3, 4" into out: the builds that use patch id. */
static int append_builds(struct elp_catalogue *cat, int64_t id,
			 struct elp_buf *out)
{
	int64_t *ids = NULL;
	size_t nr = 0, i;
	int err;

	err = elp_builds_using_patch(cat, id, &ids, &nr);
	for (i = 0; !err && i < nr; i++)
		err = elp_buf_printf(out, "%s%lld",
				     i	       ? ", "
				     : nr == 1 ? "build "
					       : "builds ",
				     (long long)ids[i]);
	free(ids);
	return err ? err : (int)nr;
}

/* Delete p's rows; -EBUSY (logged) while a build or a kernel uses it. */
static int remove_row(struct elp_catalogue *cat, const struct elp_patch *p)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_buf why = { 0 };
	sqlite3_stmt *st;
	int err, nb, nk;

	nb = append_builds(cat, p->id, &why);
	if (nb < 0)
		goto out_err;
	nk = append_refs(
		cat,
		"SELECT k.name FROM kernel_patches kp JOIN kernels k ON k.id = kp.kernel_id WHERE kp.patch_id = ? ORDER BY k.id",
		p->id, &why, "kernel", "kernels", true);
	if (nk < 0) {
		nb = nk;
		goto out_err;
	}
	if (nb || nk) {
		elp_err(ctx, "cannot remove patch '%s': used by %s", p->name,
			why.data);
		elp_buf_free(&why);
		return -EBUSY;
	}
	elp_buf_free(&why);
	err = elp_catalogue_prepare(cat, "DELETE FROM patches WHERE id = ?",
				    &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, p->id);
	return elp_catalogue_step_done(cat, st, "cannot remove patch");
out_err:
	elp_buf_free(&why);
	return nb;
}

int elp_patch_remove(struct elp_catalogue *cat, const char *spec,
		     struct elp_patch **out)
{
	struct elp_event ev = { .kind = "patch-remove" };
	struct elp_patch *p = NULL;
	int err;

	*out = NULL;
	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	err = elp_patch_find(cat, spec, &p);
	if (!err)
		err = remove_row(cat, p);
	if (!err) {
		ev.detail = p->name;
		err = elp_event_add(cat, &ev);
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err) {
		elp_catalogue_rollback(cat);
		elp_patch_free(p);
		return err;
	}
	*out = p;
	return 0;
}

int elp_patch_add(struct elp_catalogue *cat, struct elp_patch *p)
{
	struct elp_event ev = { .kind = "patch-add" };
	int err;

	err = elp_catalogue_begin(cat);
	if (!err)
		err = elp_patch_store(cat, p);
	if (!err) {
		ev.patch_id = p->id;
		ev.detail = p->name;
		err = elp_event_add(cat, &ev);
	}
	return elp_catalogue_end(cat, err);
}

int elp_patch_resolve(struct elp_catalogue *cat, const char *spec,
		      struct elp_patch **out, char **file_name)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_patch *p = NULL, *known = NULL;
	int err;

	if (!elp_is_file(spec))
		return elp_patch_find(cat, spec, out);
	err = elp_patch_load(ctx, spec, &p);
	if (err)
		return err;
	*file_name = strdup(p->name);
	err = *file_name ? elp_patch_find_by_sha(cat, ELP_PATCH_LIVEPATCH,
						 p->sha256, &known)
			 : -ENOMEM;
	if (err < 0 || (err == 1 && known)) {
		elp_patch_free(p);
		*out = known;
		return err < 0 ? err : 0;
	}
	p->kind = ELP_PATCH_LIVEPATCH;
	if (elp_patch_name_taken(cat, p->name)) {
		/* another patch has that name: name this one by content */
		char *name;

		if (asprintf(&name, "%s-%.8s", p->name, p->sha256) < 0) {
			elp_patch_free(p);
			return -ENOMEM;
		}
		free(p->name);
		p->name = name;
	}
	err = elp_patch_store(cat, p);
	if (err) {
		elp_patch_free(p);
		return err;
	}
	elp_info(ctx, "catalogued patch '%s' from %s", p->name, spec);
	*out = p;
	return 0;
}

int elp_patch_resolve_all(struct elp_catalogue *cat, const char *const *specs,
			  size_t n, struct elp_patch ***out, char **first_file)
{
	struct elp_patch **v = calloc(n ? n : 1, sizeof(*v));
	size_t i;
	int err = v ? 0 : -ENOMEM;

	*out = NULL;
	*first_file = NULL;
	for (i = 0; i < n && !err; i++) {
		char *file_name = NULL;

		err = elp_patch_resolve(cat, specs[i], &v[i], &file_name);
		if (!err && !v[i])
			err = -ENOENT;
		if (!err && i == 0)
			*first_file = file_name;
		else
			free(file_name);
	}
	if (err) {
		for (i = 0; v && i < n; i++)
			elp_patch_free(v[i]);
		free(v);
		free(*first_file);
		*first_file = NULL;
		return err;
	}
	*out = v;
	return 0;
}

bool elp_patch_name_taken(struct elp_catalogue *cat, const char *name)
{
	sqlite3_stmt *stmt;
	bool taken;

	if (elp_catalogue_prepare(cat, "SELECT 1 FROM patches WHERE name = ?",
				  &stmt))
		return false;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	taken = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_finalize(stmt);
	return taken;
}
