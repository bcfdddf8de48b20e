// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Verifying and signing a build's module, as operations on the catalogue: the
 * commands only print their result.  Separate from qemu.c and sign.c, which
 * boot and sign any module and know nothing of builds.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "artefact.h"
#include "builds.h"
#include "catalogue.h"
#include "kernel.h"
#include "util.h"

/* The catalogued kernel build b was made for, or NULL. */
static struct elp_kernel *kernel_of_build(struct elp_catalogue *cat,
					  const struct elp_lp_build *b)
{
	struct elp_kernel *k = NULL;
	char spec[32];

	snprintf(spec, sizeof(spec), "%lld", (long long)b->kernel_id);
	if (elp_kernel_find(cat, b->kernel_id ? spec : b->kernel_release, &k)) {
		elp_kernel_free(k);
		return NULL;
	}
	return k;
}

/* The kernel image the build targets: given, else the catalogue's. */
static char *find_image(struct elp_catalogue *cat, const struct elp_lp_build *b,
			const char *image)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_kernel *k;
	char *path = NULL;

	if (image) {
		if (!elp_is_file(image)) {
			elp_err(ctx,
				"cannot use kernel image '%s': no such file",
				image);
			return NULL;
		}
		return elp_abspath(image);
	}
	k = kernel_of_build(cat, b);
	if (k && k->image_path)
		path = strdup(k->image_path);
	if (!path)
		elp_err(ctx,
			"no kernel image for build %lld (kernel %s): add the kernel with 'elivepatch kernel add --image VMLINUZ' or pass --image",
			(long long)b->id, b->kernel_release);
	else if (!elp_is_file(path)) {
		elp_err(ctx, "kernel image '%s' of kernel '%s' is missing",
			path, k->name);
		free(path);
		path = NULL;
	}
	elp_kernel_free(k);
	return path;
}

/* <catalogue dir>/verify/build-N-TIME.log */
static char *log_path(struct elp_catalogue *cat, const struct elp_lp_build *b)
{
	char *db = strdup(elp_catalogue_path(cat)), *dir = NULL, *path = NULL;

	if (!db)
		return NULL;
	if (asprintf(&dir, "%s/verify", dirname(db)) < 0)
		dir = NULL;
	if (dir && elp_mkdir_p(elp_catalogue_ctx(cat), dir, 0755) == 0 &&
	    asprintf(&path, "%s/build-%lld-%lld.log", dir, (long long)b->id,
		     (long long)time(NULL)) < 0)
		path = NULL;
	if (!path)
		elp_err(elp_catalogue_ctx(cat),
			"cannot create the verify log directory next to '%s'",
			elp_catalogue_path(cat));
	free(dir);
	free(db);
	return path;
}

char *elp_verify_summary(const struct elp_verify_result *res)
{
	struct elp_buf b = { 0 };

	elp_buf_printf(&b, "%d function%s redirected", res->nr_redirected,
		       res->nr_redirected == 1 ? "" : "s");
	if (res->check_status == 0)
		elp_buf_puts(&b, ", check script passed");
	if (res->transition_ms >= 0)
		elp_buf_printf(&b, ", transition %ld ms", res->transition_ms);
	if (elp_buf_error(&b)) {
		free(b.data);
		return NULL;
	}
	return b.data;
}

static int record_verdict(struct elp_catalogue *cat,
			  const struct elp_lp_build *b,
			  const struct elp_verify_result *res, const char *log)
{
	struct elp_event ev = { .kind = "verify" };
	char *detail = NULL, *what = NULL;
	int err;

	if (res->passed) {
		what = elp_verify_summary(res);
		err = what ? asprintf(&detail, "passed (%s)", what) : -1;
		free(what);
	} else {
		err = asprintf(&detail, "failed: %s", res->reason);
	}
	if (err < 0)
		return -ENOMEM;
	ev.build_id = b->id;
	ev.kernel_id = b->kernel_id;
	ev.kernel_release = b->kernel_release;
	ev.module = b->module_name;
	ev.detail = detail;
	err = elp_catalogue_begin(cat);
	if (!err)
		err = elp_lp_build_set_verified(cat, b->id, res->passed, log);
	if (!err)
		err = elp_event_add(cat, &ev);
	err = elp_catalogue_end(cat, err);
	free(detail);
	return err;
}

int elp_build_verify(struct elp_catalogue *cat, const char *spec,
		     struct elp_verify *v, struct elp_build_verify *bv,
		     struct elp_verify_result *res)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_lp_artefact *a = NULL;
	char *kernel = NULL;
	int err;

	bv->artefact = NULL;
	bv->log_path = NULL;
	err = elp_lp_artefact_open(cat, spec, false, &a);
	if (err == -ENOENT && elp_is_file(spec)) {
		elp_err(ctx,
			"'%s' is not a build in the catalogue; verify takes a build id",
			spec);
		return err;
	}
	if (err)
		return err;
	bv->artefact = a;
	if (strcmp(a->info->release, a->build->kernel_release) != 0) {
		elp_err(ctx,
			"module '%s' is built for kernel %s, but build %lld targets %s",
			a->info->name, a->info->release,
			(long long)a->build->id, a->build->kernel_release);
		return -EINVAL;
	}
	kernel = find_image(cat, a->build, bv->image);
	if (!kernel)
		return -ENOENT;
	bv->log_path = log_path(cat, a->build);
	if (!bv->log_path) {
		free(kernel);
		return -EIO;
	}
	v->kernel = kernel;
	v->module = a->path;
	v->name = a->info->name;
	v->log_path = bv->log_path;
	if (bv->booting)
		bv->booting(bv->data, a->build);
	err = elp_verify_run(ctx, v, res);
	v->kernel = NULL;
	free(kernel);
	if (err)
		return err;
	err = record_verdict(cat, a->build, res, bv->log_path);
	if (err)
		elp_err(ctx, "could not record the verdict for build %lld",
			(long long)a->build->id);
	return err;
}

void elp_build_verify_release(struct elp_build_verify *bv)
{
	elp_lp_artefact_free(bv->artefact);
	bv->artefact = NULL;
	free(bv->log_path);
	bv->log_path = NULL;
}

/* CONFIG_MODULE_SIG (-1: unknown) and CONFIG_MODULE_SIG_HASH of b's kernel. */
static void kernel_policy(struct elp_catalogue *cat,
			  const struct elp_lp_build *b, int *sig, char **hash)
{
	struct elp_kernel *k = kernel_of_build(cat, b);
	char *v;

	*sig = -1;
	*hash = NULL;
	if (!k || !k->config) {
		elp_kernel_free(k);
		return;
	}
	v = elp_config_get(k->config, "CONFIG_MODULE_SIG");
	*sig = v && strcmp(v, "y") == 0;
	free(v);
	*hash = elp_config_get(k->config, "CONFIG_MODULE_SIG_HASH");
	elp_kernel_free(k);
}

static int record_signature(struct elp_catalogue *cat,
			    const struct elp_build_signed *s)
{
	const struct elp_lp_build *b = s->artefact->build;
	struct elp_event ev = { .kind = "sign" };
	char detail[512];
	int err;

	snprintf(detail, sizeof(detail), "signed by '%s' (%s), sha256 %.16s",
		 s->signer, s->hash, s->sha256);
	ev.build_id = b->id;
	ev.kernel_id = b->kernel_id;
	ev.kernel_release = b->kernel_release;
	ev.module = s->artefact->info->name;
	ev.detail = detail;
	err = elp_catalogue_begin(cat);
	if (!err)
		err = elp_lp_build_set_sha256(cat, b->id, s->sha256);
	if (!err)
		err = elp_event_add(cat, &ev);
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err) {
		elp_catalogue_rollback(cat);
		elp_err(elp_catalogue_ctx(cat),
			"'%s' is signed but the catalogue still has its old sha256",
			s->artefact->path);
	}
	return err;
}

int elp_build_sign(struct elp_catalogue *cat, const char *spec,
		   const struct elp_sign_opts *opts,
		   struct elp_build_signed *out)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	struct elp_sign_opts use = *opts;
	char *kernel_hash = NULL;
	int err, sig = -1;

	memset(out, 0, sizeof(*out));
	err = elp_lp_artefact_open(cat, spec, true, &out->artefact);
	if (err && err != -ENOENT)
		return err;
	if (!out->artefact) /* -ENOENT without a module: already explained */
		return err ? err : -ENOENT;
	if (out->artefact->build) {
		kernel_policy(cat, out->artefact->build, &sig, &kernel_hash);
		if (sig == 0)
			elp_warn(
				ctx,
				"kernel %s does not check module signatures (no CONFIG_MODULE_SIG); signing anyway",
				out->artefact->build->kernel_release);
		if (!use.hash)
			use.hash = kernel_hash;
	}
	err = elp_module_sign(ctx, out->artefact->path, &use, &out->signer);
	if (!err)
		err = elp_sha256_file(ctx, out->artefact->path, out->sha256);
	if (!err) {
		out->hash = strdup(use.hash ? use.hash : "sha256");
		if (!out->hash)
			err = -ENOMEM;
	}
	free(kernel_hash);
	if (!err && out->artefact->build)
		err = record_signature(cat, out);
	return err;
}

void elp_build_signed_release(struct elp_build_signed *s)
{
	elp_lp_artefact_free(s->artefact);
	free(s->signer);
	free(s->hash);
	memset(s, 0, sizeof(*s));
}
