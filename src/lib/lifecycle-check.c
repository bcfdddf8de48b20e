// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The rules a module must pass before it is loaded: built for the running
 * kernel (release, the kernel build's build-id, its symbol CRCs),
 * verified, signed when the kernel enforces signatures, not loaded yet,
 * and a catalogue that can record it.  Reconciliation uses the first of
 * them to tell builds apart.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "lifecycle-internal.h"
#include "util.h"

/* The catalogue's record of the running kernel, for an artefact. */
struct running_kernel {
	int64_t kernel_id; /* the build's kernel, or 0: by release */
	const char *release;
	const char *build_id; /* the running one, or NULL */
	struct elp_kernel *k;
};

static int find_running_kernel(const struct elp_kernel *k, void *data)
{
	struct running_kernel *r = data;

	if (r->kernel_id ? k->id != r->kernel_id
			 : strcmp(k->release, r->release) != 0)
		return 0;
	/* by release: only a record of this very build, or of any build */
	if (!r->kernel_id && k->build_id && r->build_id &&
	    strcmp(k->build_id, r->build_id) != 0)
		return 0;
	if (r->k && (r->kernel_id || r->k->build_id || !k->build_id))
		return 0; /* keep the first, or one naming the build-id */
	elp_kernel_free(r->k);
	r->k = calloc(1, sizeof(*r->k));
	if (!r->k)
		return -ENOMEM;
	r->k->id = k->id;
	r->k->name = k->name ? strdup(k->name) : NULL;
	r->k->build_id = k->build_id ? strdup(k->build_id) : NULL;
	r->k->build_dir = k->build_dir ? strdup(k->build_dir) : NULL;
	return 0;
}

/*
 * "0x12345678\tsymbol\tmodule\tEXPORT\tNS": the first of mi's expected
 * CRCs that Module.symvers contradicts, or -1.
 */
static long symvers_mismatch(const char *symvers,
			     const struct elp_module_info *mi,
			     unsigned long long *kernel_crc)
{
	const char *line = symvers;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');
		const char *tab = memchr(line, '\t', (size_t)(end - line));
		unsigned long long crc;
		size_t i, len;
		char *e;

		crc = strtoull(line, &e, 16);
		if (tab && e == tab) {
			tab++;
			len = strcspn(tab, "\t\n");
			for (i = 0; i < mi->nr_versions; i++) {
				const char *sym = mi->versions[i].symbol;

				if (strlen(sym) != len ||
				    strncmp(sym, tab, len) != 0)
					continue;
				if ((uint32_t)crc !=
				    (uint32_t)mi->versions[i].crc) {
					*kernel_crc = crc;
					return (long)i;
				}
			}
		}
		line = *end ? end + 1 : NULL;
	}
	return -1;
}

/*
 * A module whose vermagic names the running release may still be built for
 * another kernel: a build recorded for another build of that release
 * (vmlinux build-id), or a module expecting other symbol CRCs than the
 * running kernel's Module.symvers.
 */
int elp_lifecycle_check_built_for(struct elp_ctx *ctx,
				  struct elp_catalogue *cat,
				  const struct elp_lp_artefact *a,
				  const char *release)
{
	struct running_kernel r = { 0 };
	char *running = elp_kernel_running_build_id(ctx);
	char *path = NULL, *symvers = NULL;
	unsigned long long kcrc = 0;
	long bad;
	int err;

	r.kernel_id = a->build ? a->build->kernel_id : 0;
	r.release = release;
	r.build_id = running;
	err = elp_kernel_foreach(cat, find_running_kernel, &r);
	if (err || !r.k)
		goto out;
	if (a->build && r.k->build_id && running &&
	    strcmp(r.k->build_id, running) != 0) {
		elp_err(ctx,
			"build %lld is for another build of kernel %s (kernel '%s', build-id %.12s...): the running kernel's build-id is %.12s... (/sys/kernel/notes)",
			(long long)a->build->id, release, r.k->name,
			r.k->build_id, running);
		err = -ENOEXEC;
		goto out;
	}
	if (!a->info->nr_versions || !r.k->build_dir ||
	    asprintf(&path, "%s/Module.symvers", r.k->build_dir) < 0 ||
	    elp_read_file(NULL, path, &symvers, NULL) < 0)
		goto out;
	bad = symvers_mismatch(symvers, a->info, &kcrc);
	if (bad >= 0) {
		elp_err(ctx,
			"module '%s' claims kernel %s (vermagic) but was built for another kernel: it expects symbol '%s' with CRC 0x%08llx, the kernel's is 0x%08llx (%s)",
			a->info->name, release, a->info->versions[bad].symbol,
			(unsigned long long)(uint32_t)a->info->versions[bad].crc,
			kcrc, path);
		err = -ENOEXEC;
	}
out:
	free(symvers);
	free(path);
	free(running);
	elp_kernel_free(r.k);
	return err;
}

/* The rules an artefact must pass before it is loaded. */
int elp_lifecycle_check_apply(struct elp_ctx *ctx, struct elp_catalogue *cat,
			      const struct elp_lp_artefact *a,
			      const char *release, bool force)
{
	const struct elp_lp_build *b = a->build;
	struct elp_livepatch *lp;
	char *reason = NULL;
	int enforced, err;

	if (strcmp(a->info->release, release) != 0) {
		elp_err(ctx,
			"module '%s' is built for kernel %s, the running kernel is %s",
			a->info->name, a->info->release, release);
		return -ENOEXEC;
	}
	if (b && strcmp(b->kernel_release, release) != 0) {
		elp_err(ctx,
			"build %lld is for kernel %s, the running kernel is %s",
			(long long)b->id, b->kernel_release, release);
		return -ENOEXEC;
	}
	err = elp_lifecycle_check_built_for(ctx, cat, a, release);
	if (err)
		return err;
	if (!elp_lp_supported(ctx)) {
		elp_err(ctx,
			"the running kernel has no livepatch support (no /sys/kernel/livepatch)");
		return -ENOTSUP;
	}
	if (b && b->verified && strcmp(b->verified, "failed") == 0) {
		if (!force) {
			elp_err(ctx,
				"build %lld failed verification (log: %s); use --force to apply it anyway",
				(long long)b->id,
				b->verify_log ? b->verify_log : "none");
			return -EPERM;
		}
		elp_warn(ctx, "build %lld failed verification",
			 (long long)b->id);
	} else if (b && !b->verified) {
		elp_warn(
			ctx,
			"build %lld was never verified; see 'elivepatch verify %lld'",
			(long long)b->id, (long long)b->id);
	}
	enforced = elp_lp_sig_enforced(ctx, &reason);
	if (enforced == 1 && !a->info->is_signed) {
		elp_err(ctx,
			"refusing to load unsigned module '%s': the kernel enforces module signatures (%s); sign it with 'elivepatch sign'",
			a->info->name, reason);
		free(reason);
		return -EPERM;
	}
	free(reason);
	if (elp_lp_read(ctx, a->info->name, &lp) == 0) {
		elp_lp_free(lp);
		elp_err(ctx,
			"livepatch '%s' is already loaded; see 'elivepatch status'",
			a->info->name);
		return -EEXIST;
	}
	if (elp_module_loaded(ctx, a->info->name)) {
		elp_err(ctx, "a module named '%s' is already loaded",
			a->info->name);
		return -EEXIST;
	}
	if (elp_catalogue_readonly(cat)) {
		elp_err(ctx,
			"catalogue '%s' is read-only: the apply could not be recorded",
			elp_catalogue_path(cat));
		return -EROFS;
	}
	return 0;
}
