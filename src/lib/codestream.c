// SPDX-License-Identifier: GPL-2.0-or-later
/* One fix for several kernels (codestreams) and CVE mode; see codestream.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codestream.h"
#include "kernel.h"
#include "overlay.h"
#include "patch.h"
#include "util.h"

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void strv_free(char **v, size_t n)
{
	while (n)
		free(v[--n]);
	free(v);
}

static void result_release(struct elp_codestream_result *r)
{
	free(r->kernel);
	free(r->release);
	free(r->version);
	strv_free(r->selected, r->nr_selected);
	strv_free(r->live, r->nr_live);
	strv_free(r->skipped, r->nr_skipped);
	strv_free(r->cves, r->nr_cves);
	free(r->reason);
	elp_build_result_free(r->build);
	memset(r, 0, sizeof(*r));
}

/* ---- the kernels ---- */

struct kernels {
	struct elp_kernel **v;
	size_t n;
};

static void kernels_free(struct kernels *ks)
{
	while (ks->n)
		elp_kernel_free(ks->v[--ks->n]);
	free(ks->v);
}

static int kernels_push(struct kernels *ks, struct elp_kernel *k)
{
	struct elp_kernel **nv = realloc(ks->v, (ks->n + 1) * sizeof(*nv));

	if (!nv) {
		elp_kernel_free(k);
		return -ENOMEM;
	}
	ks->v = nv;
	nv[ks->n++] = k;
	return 0;
}

static int collect_livepatch(const struct elp_kernel *k, void *data)
{
	struct elp_kernel *copy = NULL;
	struct elp_catalogue *cat = ((void **)data)[1];
	char id[24];
	int err;

	if (!k->livepatch)
		return 0;
	snprintf(id, sizeof(id), "%lld", (long long)k->id);
	err = elp_kernel_find(cat, id, &copy);
	return err ? err : kernels_push(((void **)data)[0], copy);
}

/* The kernels opts names, every livepatch kernel, or the running one. */
static int kernels_get(struct elp_catalogue *cat,
		       const struct elp_codestream_options *opts,
		       struct kernels *ks)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_kernel *k;
	char *release = NULL;
	size_t i;
	int err = 0;

	memset(ks, 0, sizeof(*ks));
	if (opts->all_kernels) {
		void *data[2] = { ks, cat };

		err = elp_kernel_foreach(cat, collect_livepatch, data);
		if (!err && ks->n == 0) {
			elp_err(ctx,
				"no livepatch-capable kernel is catalogued (see: elivepatch kernel list)");
			err = -ENOENT;
		}
		return err;
	}
	for (i = 0; !err && i < opts->nr_kernels; i++) {
		err = elp_kernel_find(cat, opts->kernels[i], &k);
		if (!err)
			err = kernels_push(ks, k);
	}
	if (!err && opts->nr_kernels == 0) {
		err = elp_kernel_running_release(&release);
		if (err)
			elp_err(ctx, "cannot tell the running kernel: %s",
				strerror(-err));
		if (!err)
			err = elp_kernel_find(cat, release, &k);
		if (!err)
			err = kernels_push(ks, k);
		free(release);
	}
	return err;
}

/* ---- building for several kernels ---- */

/* A patch file, catalogued once (or found by its content). */
static int catalogue_file(struct elp_catalogue *cat, const char *path,
			  char **name)
{
	struct elp_event ev = { .kind = "patch-add" };
	struct elp_patch *p = NULL, *known = NULL;
	int err;

	err = elp_patch_load(elp_catalogue_ctx(cat), path, &p);
	if (err)
		return err;
	p->kind = ELP_PATCH_LIVEPATCH;
	err = elp_patch_find_by_sha(cat, ELP_PATCH_LIVEPATCH, p->sha256,
				    &known);
	if (err == 1 && known) {
		*name = strdup(known->name);
		err = *name ? 0 : -ENOMEM;
		goto out;
	}
	if (err < 0)
		goto out;
	err = elp_catalogue_begin(cat);
	if (!err)
		err = elp_patch_store(cat, p);
	if (!err) {
		ev.patch_id = p->id;
		ev.detail = p->name;
		err = elp_event_add(cat, &ev);
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err)
		elp_catalogue_rollback(cat);
	else if (!(*name = strdup(p->name)))
		err = -ENOMEM;
out:
	elp_patch_free(known);
	elp_patch_free(p);
	return err;
}

static int build_one(struct elp_catalogue *cat,
		     const struct elp_build_options *tmpl,
		     const struct elp_kernel *k,
		     struct elp_codestream_result *r)
{
	struct elp_build_options o = *tmpl;

	r->kernel = strdup(k->name);
	r->release = strdup(k->release);
	if (!r->kernel || !r->release)
		return -ENOMEM;
	o.kernel = k->name;
	r->err = elp_build(cat, &o, &r->build);
	return 0;
}

int elp_build_kernels(struct elp_catalogue *cat,
		      const struct elp_codestream_options *opts,
		      elp_codestream_cb cb, void *data)
{
	struct elp_build_options tmpl = opts->build;
	struct kernels ks;
	char **names = NULL;
	size_t nr_names = 0, i;
	int err, failed = 0;

	err = kernels_get(cat, opts, &ks);
	/* a file is parsed and catalogued once, then named */
	for (i = 0; !err && i < tmpl.nr_patches; i++) {
		char *name = NULL;

		if (elp_is_file(tmpl.patches[i]))
			err = catalogue_file(cat, tmpl.patches[i], &name);
		if (!err)
			err = strv_push(&names, &nr_names,
					name ? name : tmpl.patches[i]);
		free(name);
	}
	tmpl.patches = (const char *const *)names;
	for (i = 0; !err && i < ks.n; i++) {
		struct elp_codestream_result r = { 0 };

		if (tmpl.cancel && *tmpl.cancel) {
			err = -EINTR;
			break;
		}
		err = build_one(cat, &tmpl, ks.v[i], &r);
		if (!err && r.err)
			failed++;
		if (!err && cb)
			err = cb(&r, data);
		result_release(&r);
	}
	strv_free(names, nr_names);
	kernels_free(&ks);
	return err ? err : failed;
}

/* ---- CVE mode ---- */

int elp_live_patch_ids(struct elp_catalogue *cat, const char *release,
		       int64_t **ids, size_t *nr)
{
	char host[256] = "";
	sqlite3_stmt *stmt;
	int err, rc;

	*ids = NULL;
	*nr = 0;
	gethostname(host, sizeof(host) - 1);
	err = elp_catalogue_prepare(
		cat,
		"SELECT DISTINCT bp.patch_id FROM events e JOIN build_patches bp ON bp.build_id = e.build_id"
		" WHERE e.kind = 'apply' AND e.kernel_release = ?1 AND e.host IS ?2"
		" AND e.module IS NOT NULL"
		" AND NOT EXISTS (SELECT 1 FROM events l WHERE l.module = e.module"
		"  AND l.kernel_release = e.kernel_release AND l.host IS e.host"
		"  AND l.kind IN ('apply', 'revert', 'replace')"
		"  AND (l.time > e.time OR (l.time = e.time AND l.id > e.id)))",
		&stmt);
	if (err)
		return err;
	sqlite3_bind_text(stmt, 1, release, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, host, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t *n = realloc(*ids, (*nr + 1) * sizeof(*n));

		if (!n) {
			err = -ENOMEM;
			break;
		}
		*ids = n;
		n[(*nr)++] = sqlite3_column_int64(stmt, 0);
	}
	if (!err && rc != SQLITE_DONE)
		err = elp_catalogue_error(cat, "cannot read events");
	sqlite3_finalize(stmt);
	return err;
}

/* Copies of the present fixes of every overlay. */
struct fixes {
	struct elp_fix *v;
	size_t n;
};

static int collect_fix(struct elp_fix *fix, void *data)
{
	struct fixes *fs = data;
	struct elp_fix *nv = realloc(fs->v, (fs->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	fs->v = nv;
	/* take the strings over: the caller frees only what is left */
	nv[fs->n++] = *fix;
	memset(fix, 0, sizeof(*fix));
	return 0;
}

static bool fix_wanted(const struct elp_fix *fix,
		       const struct elp_codestream_options *opts)
{
	size_t i;

	if (opts->nr_cves == 0)
		return true;
	for (i = 0; i < opts->nr_cves; i++)
		if (strv_has(fix->cves, fix->nr_cves, opts->cves[i]))
			return true;
	return false;
}

static bool id_in(const int64_t *ids, size_t n, int64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* What one fix means for one kernel: skipped, live, or its patches. */
static int select_fix(struct elp_catalogue *cat, const struct elp_fix *fix,
		      const struct elp_kernel *k, const struct elp_version *v,
		      const int64_t *live, size_t nr_live,
		      struct elp_codestream_result *r)
{
	char *reason = NULL, *label = NULL;
	size_t i, nr_new = 0;
	int err;

	if (asprintf(&label, "%s:%s", fix->overlay, fix->name) < 0)
		return -ENOMEM;
	err = elp_fix_applies(cat, fix, k, v, &reason);
	if (err == 0) {
		char *s = NULL;

		err = asprintf(&s, "%s: %s", label, reason) < 0
			      ? -ENOMEM
			      : strv_push(&r->skipped, &r->nr_skipped, s);
		free(s);
		goto out;
	}
	if (err < 0)
		goto out;
	err = 0;
	for (i = 0; !err && i < fix->nr_patches; i++) {
		if (id_in(live, nr_live, fix->patches[i].patch_id))
			continue;
		nr_new++;
		err = strv_push(&r->selected, &r->nr_selected,
				fix->patches[i].name);
	}
	if (!err && nr_new == 0)
		err = strv_push(&r->live, &r->nr_live, label);
	for (i = 0; !err && nr_new && i < fix->nr_cves; i++)
		if (!strv_has(r->cves, r->nr_cves, fix->cves[i]))
			err = strv_push(&r->cves, &r->nr_cves, fix->cves[i]);
out:
	free(reason);
	free(label);
	return err;
}

/* elp_cve_<8 hex>: one name per set of patches, so a new set loads
 * beside (and replaces) the module it supersedes. */
static char *cve_module_name(const struct elp_kernel *k,
			     const struct elp_codestream_result *r,
			     const int64_t *live, size_t nr_live)
{
	char hex[ELP_SHA256_HEX_LEN + 1], *name = NULL;
	struct elp_buf b = { 0 };
	size_t i;
	int err;

	err = elp_buf_printf(&b, "%s\n", k->release);
	for (i = 0; !err && i < nr_live; i++)
		err = elp_buf_printf(&b, "live %lld\n", (long long)live[i]);
	for (i = 0; !err && i < r->nr_selected; i++)
		err = elp_buf_printf(&b, "new %s\n", r->selected[i]);
	if (!err && elp_sha256_hex(b.data, b.len, hex) == 0 &&
	    asprintf(&name, "elp_cve_%.8s", hex) < 0)
		name = NULL;
	elp_buf_free(&b);
	return name;
}

static int cve_kernel(struct elp_catalogue *cat,
		      const struct elp_codestream_options *opts,
		      const struct fixes *fs, const struct elp_kernel *k,
		      struct elp_codestream_result *r)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_build_options o = opts->build;
	struct elp_version v;
	const char *from;
	int64_t *live = NULL;
	size_t nr_live = 0, i;
	char *name = NULL;
	int err;

	r->kernel = strdup(k->name);
	r->release = strdup(k->release);
	if (!r->kernel || !r->release)
		return -ENOMEM;
	err = elp_kernel_version(ctx, k, &v, &from);
	if (err) {
		r->err = err;
		return asprintf(&r->reason, "no version for kernel '%s'",
				k->name) < 0
			       ? -ENOMEM
			       : 0;
	}
	if (asprintf(&r->version, "%lu.%lu.%lu", v.v[0], v.v[1], v.v[2]) < 0)
		return -ENOMEM;
	elp_info(ctx, "kernel '%s': version %s (from %s)", k->name, r->version,
		 from);
	err = elp_live_patch_ids(cat, k->release, &live, &nr_live);
	for (i = 0; !err && i < fs->n; i++)
		if (fix_wanted(&fs->v[i], opts))
			err = select_fix(cat, &fs->v[i], k, &v, live, nr_live,
					 r);
	if (err || r->nr_selected == 0 || opts->dry_run)
		goto out;
	name = cve_module_name(k, r, live, nr_live);
	if (!name) {
		err = -ENOMEM;
		goto out;
	}
	o.kernel = k->name;
	o.patches = (const char *const *)r->selected;
	o.nr_patches = r->nr_selected;
	o.cumulative = 1;
	o.name = name;
	r->err = elp_build(cat, &o, &r->build);
out:
	free(name);
	free(live);
	return err;
}

int elp_cve_run(struct elp_catalogue *cat,
		const struct elp_codestream_options *opts, elp_codestream_cb cb,
		void *data)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct fixes fs = { 0 };
	struct kernels ks = { 0 };
	size_t i, j;
	int err, failed = 0;

	for (i = 0; i < opts->nr_cves; i++)
		if (!elp_cve_is_valid(opts->cves[i])) {
			elp_err(ctx,
				"invalid CVE id '%s' (expected CVE-YYYY-NNNN)",
				opts->cves[i]);
			return -EINVAL;
		}
	err = elp_overlay_fixes(cat, NULL, false, collect_fix, &fs);
	for (i = 0; !err && i < opts->nr_cves; i++) {
		for (j = 0; j < fs.n; j++)
			if (strv_has(fs.v[j].cves, fs.v[j].nr_cves,
				     opts->cves[i]))
				break;
		if (j == fs.n) {
			elp_err(ctx,
				"no fix for %s in the overlays (see: elivepatch overlay show NAME)",
				opts->cves[i]);
			err = -ENOENT;
		}
	}
	if (!err)
		err = kernels_get(cat, opts, &ks);
	for (i = 0; !err && i < ks.n; i++) {
		struct elp_codestream_result r = { 0 };

		if (opts->build.cancel && *opts->build.cancel) {
			err = -EINTR;
			break;
		}
		err = cve_kernel(cat, opts, &fs, ks.v[i], &r);
		if (!err && r.err)
			failed++;
		if (!err && cb)
			err = cb(&r, data);
		result_release(&r);
	}
	kernels_free(&ks);
	for (i = 0; i < fs.n; i++)
		elp_fix_free(&fs.v[i]);
	free(fs.v);
	return err ? err : failed;
}
