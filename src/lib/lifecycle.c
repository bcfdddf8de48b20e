// SPDX-License-Identifier: GPL-2.0-or-later
/* Applying and reverting a livepatch: the rules and their catalogue events. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "history.h"
#include "kernel.h"
#include "lifecycle.h"
#include "util.h"

/*
 * Apply and revert hold CATALOGUE.lifecycle-lock from their checks to their
 * record, so that reconciliation never takes a module being loaded (or an
 * apply being recorded) for one loaded without a record.  The kernel drops
 * the lock of a killed process.
 */
static int lifecycle_lock(struct elp_catalogue *cat, bool exclusive, int *fd)
{
	struct elp_ctx *ctx = elp_catalogue_ctx(cat);
	char *path;
	int err = 0;

	*fd = -1;
	if (asprintf(&path, "%s.lifecycle-lock", elp_catalogue_path(cat)) < 0)
		return -ENOMEM;
	if (exclusive)
		*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	else
		*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		err = -errno;
		/* never applied here: nothing can be in progress; root's
		 * lock (0600) unreadable: a reader only reports anyway */
		if (!exclusive && (err == -ENOENT || err == -EACCES))
			err = 0;
		else
			elp_err(ctx, "cannot open lock '%s': %s", path,
				strerror(-err));
		free(path);
		return err;
	}
	if (exclusive && flock(*fd, LOCK_EX | LOCK_NB) < 0 &&
	    errno == EWOULDBLOCK)
		elp_notice(ctx,
			   "waiting for another apply or revert to finish");
	if (flock(*fd, exclusive ? LOCK_EX : LOCK_SH | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (err != -EAGAIN)
			elp_err(ctx, "cannot lock '%s': %s", path,
				strerror(-err));
		close(*fd);
		*fd = -1;
	}
	free(path);
	return err;
}

static void lifecycle_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* --- reconciliation: the catalogue against /sys/kernel/livepatch --------- */

static int check_built_for(struct elp_ctx *ctx, struct elp_catalogue *cat,
			   const struct elp_lp_artefact *a,
			   const char *release);

/*
 * Could build b have been applied here: its module intact and built for
 * the running kernel?  Quiet: only telling builds apart.
 */
static bool applicable(struct elp_catalogue *cat, struct elp_lp_build *b,
		       const char *release)
{
	struct elp_lp_artefact a = { .build = b, .path = b->artefact_path };
	bool ok;

	if (elp_sha256_file(NULL, a.path, a.sha256) ||
	    strcmp(a.sha256, b->artefact_sha256) != 0 ||
	    elp_module_info_read(NULL, a.path, &a.info))
		return false;
	ok = strcmp(a.info->release, release) == 0 &&
	     check_built_for(NULL, cat, &a, release) == 0;
	elp_module_info_free(a.info);
	return ok;
}

static const struct elp_applied_module *
find_applied(const struct elp_applied_module *app, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (strcmp(app[i].module, name) == 0)
			return &app[i];
	return NULL;
}

/* The build a loaded module is: the same build-id as its artefact. */
static int loaded_build(struct elp_ctx *ctx, struct elp_catalogue *cat,
			const char *release, const char *name,
			struct elp_lp_build **out)
{
	int64_t *ids = NULL;
	char *loaded;
	size_t nr = 0, i;
	int err;

	*out = NULL;
	err = elp_builds_of_module(cat, release, name, &ids, &nr);
	if (err || !nr) {
		free(ids);
		return err ? err : -ENOENT;
	}
	loaded = elp_module_loaded_build_id(ctx, name);
	if (!loaded) {
		elp_warn(
			ctx,
			"livepatch '%s' is loaded without an apply record and is named like build %lld, but its build-id cannot be read (/sys/module/%s/notes needs root): not reconciled",
			name, (long long)ids[0], name);
		free(ids);
		return -EACCES;
	}
	/* the newest build with that build-id that apply would load here,
	 * else the newest with that build-id */
	for (i = 0; i < nr; i++) {
		struct elp_lp_build *b = NULL;
		char *id;

		if (elp_lp_build_get(cat, ids[i], &b))
			continue;
		id = elp_module_file_build_id(b->artefact_path);
		if (!id || strcmp(id, loaded) != 0) {
			elp_lp_build_free(b);
		} else if (applicable(cat, b, release)) {
			elp_lp_build_free(*out);
			*out = b;
			free(id);
			break;
		} else if (!*out) {
			*out = b;
		} else {
			elp_lp_build_free(b);
		}
		free(id);
	}
	if (!*out)
		elp_notice(
			ctx,
			"livepatch '%s' has the module name of build %lld but is none of its builds (build-id %.12s...): not applied by elivepatch",
			name, (long long)ids[0], loaded);
	free(loaded);
	free(ids);
	return *out ? 0 : -ENOENT;
}

static int record_reconciled(struct elp_catalogue *cat, const char *kind,
			     const char *release, const char *module,
			     int64_t build_id, int64_t kernel_id,
			     const char *detail)
{
	struct elp_event ev = { .kind = kind };

	ev.kernel_release = release;
	ev.module = module;
	ev.build_id = build_id;
	ev.kernel_id = kernel_id;
	ev.detail = detail;
	if (elp_catalogue_begin(cat) || elp_event_add(cat, &ev) ||
	    elp_catalogue_commit(cat)) {
		elp_catalogue_rollback(cat);
		return -EIO;
	}
	return 0;
}

/* A livepatch of ours is loaded but no apply was recorded. */
static int reconcile_loaded(struct elp_ctx *ctx, struct elp_catalogue *cat,
			    const char *release, const struct elp_livepatch *lp,
			    bool ro, unsigned int *found)
{
	struct elp_lp_build *b = NULL;
	char detail[256];
	int err;

	if (loaded_build(ctx, cat, release, lp->name, &b))
		return 0; /* not ours, or cannot tell (said so) */
	(*found)++;
	if (ro) {
		elp_warn(
			ctx,
			"livepatch '%s' (build %lld) is loaded but no apply was recorded; not recorded now: catalogue '%s' is read-only",
			lp->name, (long long)b->id, elp_catalogue_path(cat));
		elp_lp_build_free(b);
		return 0;
	}
	snprintf(
		detail, sizeof(detail),
		"reconciled: found loaded without an apply record (an interrupted apply, or loaded outside elivepatch)%s",
		lp->transition == 1 ? ", in transition" : "");
	err = record_reconciled(cat, "apply", release, lp->name, b->id,
				b->kernel_id, detail);
	if (!err)
		elp_warn(
			ctx,
			"livepatch '%s' (build %lld) is loaded but no apply was recorded (an interrupted apply, or loaded outside elivepatch): recorded as applied now",
			lp->name, (long long)b->id);
	elp_lp_build_free(b);
	return err;
}

/* Loaded with an apply record, but not the module of the recorded build. */
static int reconcile_other(struct elp_ctx *ctx, struct elp_catalogue *cat,
			   const char *release, const struct elp_livepatch *lp,
			   const struct elp_applied_module *rec, bool ro,
			   unsigned int *found)
{
	struct elp_lp_build *rb = NULL, *b = NULL;
	char *loaded, *recorded = NULL, detail[320];
	long long was = (long long)rec->build_id;
	int err = 0;

	if (!rec->build_id)
		return 0;
	loaded = elp_module_loaded_build_id(ctx, lp->name);
	if (loaded && elp_lp_build_get(cat, rec->build_id, &rb) == 0)
		recorded = elp_module_file_build_id(rb->artefact_path);
	elp_lp_build_free(rb);
	/* cannot tell (not root, module gone), or the recorded one */
	if (!recorded || strcmp(recorded, loaded) == 0)
		goto out;
	(*found)++;
	if (loaded_build(ctx, cat, release, lp->name, &b) == 0 &&
	    b->id != rec->build_id) {
		if (ro) {
			elp_warn(
				ctx,
				"livepatch '%s' is recorded as build %lld but the loaded module is build %lld; not recorded now: catalogue '%s' is read-only",
				lp->name, was, (long long)b->id,
				elp_catalogue_path(cat));
			goto out;
		}
		snprintf(
			detail, sizeof(detail),
			"reconciled: the loaded module is build %lld, not build %lld as recorded (loaded outside elivepatch)",
			(long long)b->id, was);
		err = record_reconciled(cat, "apply", release, lp->name, b->id,
					b->kernel_id, detail);
		if (!err)
			elp_warn(
				ctx,
				"livepatch '%s' is recorded as build %lld but the loaded module is build %lld: recorded as applied now",
				lp->name, was, (long long)b->id);
		goto out;
	}
	if (ro) {
		elp_warn(
			ctx,
			"livepatch '%s' is recorded as build %lld but the loaded module is not that build; not recorded now: catalogue '%s' is read-only",
			lp->name, was, elp_catalogue_path(cat));
		goto out;
	}
	snprintf(
		detail, sizeof(detail),
		"reconciled: the loaded module '%s' is not build %lld's (another build-id, loaded outside elivepatch)",
		lp->name, was);
	err = record_reconciled(cat, "revert", release, lp->name, rec->build_id,
				0, detail);
	if (!err)
		elp_warn(
			ctx,
			"livepatch '%s' is recorded as build %lld but the loaded module is not that build (another build-id): recorded as reverted now",
			lp->name, was);
out:
	elp_lp_build_free(b);
	free(recorded);
	free(loaded);
	return err;
}

/* An apply was recorded but the livepatch is not loaded: reverted, or
 * replaced by a cumulative one applied after it (by). */
static int reconcile_gone(struct elp_ctx *ctx, struct elp_catalogue *cat,
			  const char *release,
			  const struct elp_applied_module *m,
			  const struct elp_applied_module *by, bool ro,
			  unsigned int *found)
{
	bool left = elp_module_loaded(ctx, m->module);
	struct elp_lp_build *b = NULL;
	char what[64] = "", detail[320];
	int64_t kernel_id = 0;
	int err;

	(*found)++;
	if (m->build_id) {
		snprintf(what, sizeof(what), " (build %lld)",
			 (long long)m->build_id);
		if (elp_lp_build_get(cat, m->build_id, &b) == 0) {
			kernel_id = b->kernel_id;
			elp_lp_build_free(b);
		}
	}
	if (left)
		elp_warn(
			ctx,
			"module '%s' is loaded but is no active livepatch any more (disabled); unload it with 'rmmod %s'",
			m->module, m->module);
	if (ro) {
		elp_warn(
			ctx,
			"livepatch '%s'%s is recorded as applied but is not loaded; not recorded now: catalogue '%s' is read-only",
			m->module, what, elp_catalogue_path(cat));
		return 0;
	}
	if (by)
		snprintf(
			detail, sizeof(detail),
			"reconciled: replaced by cumulative livepatch %s (build %lld) with no record of it (an interrupted apply)%s",
			by->module, (long long)by->build_id,
			left ? "; its module is still loaded" : "");
	else
		snprintf(
			detail, sizeof(detail),
			"reconciled: recorded as applied but not in /sys/kernel/livepatch (an interrupted revert, or removed outside elivepatch)%s",
			left ? "; its module is still loaded" : "");
	err = record_reconciled(cat, by ? "replace" : "revert", release,
				m->module, m->build_id, kernel_id, detail);
	if (err)
		return err;
	if (by)
		elp_warn(
			ctx,
			"livepatch '%s'%s was replaced by cumulative livepatch '%s' (build %lld) but no replace was recorded: recorded now",
			m->module, what, by->module, (long long)by->build_id);
	else
		elp_warn(
			ctx,
			"livepatch '%s'%s is recorded as applied but is not loaded (an interrupted revert, or removed outside elivepatch): recorded as reverted now",
			m->module, what);
	return 0;
}

static bool is_loaded(struct elp_livepatch **lps, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (strcmp(lps[i]->name, name) == 0)
			return true;
	return false;
}

/* A loaded cumulative build applied after app[i], which it replaced. */
static const struct elp_applied_module *
replaced_by(struct elp_catalogue *cat, const struct elp_applied_module *app,
	    size_t nr, size_t i, struct elp_livepatch **lps, size_t nr_lp)
{
	size_t j;

	for (j = nr; j-- > i + 1;) {
		struct elp_lp_build *b = NULL;
		bool cumulative;

		if (!app[j].build_id || !is_loaded(lps, nr_lp, app[j].module) ||
		    elp_lp_build_get(cat, app[j].build_id, &b))
			continue;
		cumulative = b->cumulative;
		elp_lp_build_free(b);
		if (cumulative)
			return &app[j];
	}
	return NULL;
}

static int reconcile_locked(struct elp_ctx *ctx, struct elp_catalogue *cat,
			    unsigned int *found)
{
	struct elp_applied_module *app = NULL;
	struct elp_livepatch **lps = NULL;
	size_t nr_app = 0, nr_lp = 0, i;
	bool ro = elp_catalogue_readonly(cat);
	char *release = NULL;
	int err;

	*found = 0;
	if (!elp_lp_supported(ctx))
		return 0;
	err = elp_lp_running_release(ctx, &release);
	if (!err)
		err = elp_lp_list(ctx, &lps, &nr_lp);
	if (!err)
		err = elp_events_applied(cat, release, &app, &nr_app);
	for (i = 0; !err && i < nr_lp; i++) {
		const struct elp_applied_module *rec =
			find_applied(app, nr_app, lps[i]->name);

		if (rec)
			err = reconcile_other(ctx, cat, release, lps[i], rec,
					      ro, found);
		else
			err = reconcile_loaded(ctx, cat, release, lps[i], ro,
					       found);
	}
	/* with what was just recorded: a cumulative one replaced others */
	if (!err && *found && !ro) {
		elp_applied_modules_free(app, nr_app);
		app = NULL;
		nr_app = 0;
		err = elp_events_applied(cat, release, &app, &nr_app);
	}
	for (i = 0; !err && i < nr_app; i++)
		if (!is_loaded(lps, nr_lp, app[i].module))
			err = reconcile_gone(
				ctx, cat, release, &app[i],
				replaced_by(cat, app, nr_app, i, lps, nr_lp),
				ro, found);
	elp_applied_modules_free(app, nr_app);
	elp_lp_list_free(lps, nr_lp);
	free(release);
	return err;
}

int elp_reconcile(struct elp_ctx *ctx, struct elp_catalogue *cat,
		  unsigned int *found)
{
	int fd, err;

	*found = 0;
	err = lifecycle_lock(cat, false, &fd);
	if (err == -EAGAIN) {
		elp_notice(
			ctx,
			"an apply or revert is in progress: the catalogue is not checked against the running kernel now");
		return 0;
	}
	if (err)
		return err;
	err = reconcile_locked(ctx, cat, found);
	lifecycle_unlock(fd);
	return err;
}

/* Enabled livepatches: candidates for replacement by a cumulative one. */
static int snapshot(struct elp_ctx *ctx, char ***names, size_t *nr)
{
	struct elp_livepatch **list;
	size_t n, i, k = 0;
	int err = elp_lp_list(ctx, &list, &n);

	*names = NULL;
	*nr = 0;
	if (err)
		return err;
	*names = calloc(n ? n : 1, sizeof(**names));
	for (i = 0; *names && i < n; i++) {
		if (list[i]->enabled != 1)
			continue;
		(*names)[k] = strdup(list[i]->name);
		if (!(*names)[k])
			break;
		k++;
	}
	*nr = k;
	err = *names && i == n ? 0 : -ENOMEM;
	elp_lp_list_free(list, n);
	return err;
}

/* Was a previously enabled patch replaced (disabled and freed)? */
static bool was_replaced(struct elp_ctx *ctx, const char *name)
{
	long long deadline = elp_now_ms() + 5000;

	for (;;) {
		struct elp_livepatch *lp;

		if (elp_lp_read(ctx, name, &lp))
			return true;
		if (lp->enabled == 0 && lp->transition == 0) {
			elp_lp_free(lp);
			return true;
		}
		elp_lp_free(lp);
		/* replaced patches are freed when the transition completes */
		if (elp_now_ms() >= deadline)
			return false;
		usleep(50000);
	}
}

/* Tell the caller who blocks a stalled transition. */
static void report_stall(struct elp_ctx *ctx, const char *name,
			 elp_stall_fn on_stall, void *data)
{
	struct elp_lp_blocker *b = NULL;
	struct elp_livepatch *lp;
	size_t nr = 0;

	if (!on_stall || elp_lp_read(ctx, name, &lp))
		return;
	if (elp_lp_blockers(ctx, lp, &b, &nr) == 0)
		on_stall(data, lp, b, nr);
	elp_lp_blockers_free(b, nr);
	elp_lp_free(lp);
}

/* Back out a patch whose transition stalled: disable, wait, unload. */
static void cancel(struct elp_ctx *ctx, const char *name, long wait_ms)
{
	if (elp_lp_disable(ctx, name))
		return;
	if (elp_lp_wait(ctx, name, wait_ms) == -ETIMEDOUT) {
		elp_err(ctx,
			"livepatch '%s' is still in transition back; see 'elivepatch status'",
			name);
		return;
	}
	if (elp_lp_unload(ctx, name, 5000) == 0)
		elp_notice(ctx,
			   "livepatch '%s' was disabled and unloaded again",
			   name);
}

static int record_apply(struct elp_catalogue *cat,
			const struct elp_lp_artefact *a,
			const struct elp_apply_result *r)
{
	struct elp_event ev = { .kind = "apply" };
	char detail[256];
	size_t i;
	int err;

	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	ev.kernel_release = r->release;
	ev.module = r->module;
	if (a->build) {
		ev.build_id = a->build->id;
		ev.kernel_id = a->build->kernel_id;
	}
	snprintf(detail, sizeof(detail), "sha256 %.16s, transition %lld ms%s",
		 a->sha256, r->transition_ms,
		 a->build ? "" : ", not in the catalogue");
	ev.detail = detail;
	err = elp_event_add(cat, &ev);
	for (i = 0; !err && i < r->nr_replaced; i++) {
		struct elp_event rep = { .kind = "replace" };
		char d[256];

		rep.kernel_release = r->release;
		rep.module = r->replaced[i].name;
		rep.build_id = r->replaced[i].build_id;
		if (a->build)
			snprintf(d, sizeof(d), "replaced by %s (build %lld)",
				 r->module, (long long)a->build->id);
		else
			snprintf(d, sizeof(d), "replaced by %s", r->module);
		rep.detail = d;
		err = elp_event_add(cat, &rep);
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err)
		elp_catalogue_rollback(cat);
	return err;
}

/* Open the build or file; a file the catalogue lacks only with force. */
static int open_artefact(struct elp_ctx *ctx, struct elp_catalogue *cat,
			 const struct elp_apply_options *opts,
			 struct elp_lp_artefact **a)
{
	int err = elp_lp_artefact_open(cat, opts->spec, opts->force, a);

	if (err == -ENOENT && *a) {
		elp_warn(
			ctx,
			"'%s' is not a build in the catalogue (sha256 %.16s...); applying it anyway",
			opts->spec, (*a)->sha256);
		return 0;
	}
	if (err == -ENOENT && elp_is_file(opts->spec))
		elp_err(ctx,
			"'%s' is not a build in the catalogue; use 'elivepatch apply BUILD', or --force to apply an unknown module",
			opts->spec);
	return err;
}

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
static int check_built_for(struct elp_ctx *ctx, struct elp_catalogue *cat,
			   const struct elp_lp_artefact *a, const char *release)
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
static int check_apply(struct elp_ctx *ctx, struct elp_catalogue *cat,
		       const struct elp_lp_artefact *a, const char *release,
		       bool force)
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
	err = check_built_for(ctx, cat, a, release);
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

/* Load, wait for the transition (backing out a stalled one). */
static int load(struct elp_ctx *ctx, const struct elp_lp_artefact *a,
		const struct elp_apply_options *opts, long long *ms)
{
	struct elp_livepatch *lp;
	long long t0 = elp_now_ms();
	int err;

	elp_fault_point(ctx, "apply", "load");
	err = elp_lp_load(ctx, a->path, a->info);
	if (err)
		return err;
	elp_fault_point(ctx, "apply", "transition");
	if (elp_lp_wait(ctx, a->info->name, opts->wait_ms) == -ETIMEDOUT) {
		elp_err(ctx,
			"livepatch '%s' did not finish its transition in %ld s",
			a->info->name, opts->wait_ms / 1000);
		report_stall(ctx, a->info->name, opts->on_stall, opts->data);
		cancel(ctx, a->info->name, 10000);
		return -ETIMEDOUT;
	}
	*ms = elp_now_ms() - t0;
	if (elp_lp_read(ctx, a->info->name, &lp)) {
		elp_err(ctx, "livepatch '%s' is gone after loading (see dmesg)",
			a->info->name);
		return -EIO;
	}
	elp_lp_free(lp);
	return 0;
}

/* The patches of before that a cumulative module disabled. */
static int collect_replaced(struct elp_ctx *ctx, struct elp_catalogue *cat,
			    char **before, size_t nr_before,
			    struct elp_apply_result *r)
{
	size_t i;

	r->replaced = calloc(nr_before ? nr_before : 1, sizeof(*r->replaced));
	if (!r->replaced)
		return -ENOMEM;
	for (i = 0; i < nr_before; i++) {
		struct elp_apply_replaced *rep = &r->replaced[r->nr_replaced];
		struct elp_lp_build *b = NULL;

		if (!was_replaced(ctx, before[i]))
			continue;
		rep->name = strdup(before[i]);
		if (!rep->name)
			return -ENOMEM;
		if (elp_lp_build_applied(cat, before[i], r->release, &b) == 0) {
			rep->build_id = b->id;
			elp_lp_build_free(b);
		}
		r->nr_replaced++;
	}
	return 0;
}

static void free_names(char **names, size_t nr)
{
	while (nr)
		free(names[--nr]);
	free(names);
}

int elp_apply(struct elp_ctx *ctx, struct elp_catalogue *cat,
	      const struct elp_apply_options *opts,
	      struct elp_apply_result **out)
{
	struct elp_lp_artefact *a = NULL;
	struct elp_apply_result *r;
	char **before = NULL;
	size_t nr_before = 0, i;
	unsigned int found;
	int err, lock = -1;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = open_artefact(ctx, cat, opts, &a);
	if (!err && !elp_catalogue_readonly(cat)) {
		err = lifecycle_lock(cat, true, &lock);
		if (!err)
			err = reconcile_locked(ctx, cat, &found);
	}
	if (!err)
		err = elp_lp_running_release(ctx, &r->release);
	if (!err)
		err = check_apply(ctx, cat, a, r->release, opts->force);
	if (!err)
		err = snapshot(ctx, &before, &nr_before);
	if (err)
		goto out;
	r->module = strdup(a->info->name);
	if (!r->module) {
		err = -ENOMEM;
		goto out;
	}
	r->build_id = a->build ? a->build->id : 0;
	memcpy(r->sha256, a->sha256, sizeof(r->sha256));
	err = load(ctx, a, opts, &r->transition_ms);
	if (err)
		goto out;
	err = collect_replaced(ctx, cat, before, nr_before, r);
	elp_fault_point(ctx, "apply", "record");
	if (!err)
		err = record_apply(cat, a, r);
	if (err) {
		elp_err(ctx,
			"livepatch '%s' is applied but could not be recorded in the catalogue",
			r->module);
		goto out;
	}
	for (i = 0; i < r->nr_replaced; i++)
		if (elp_module_loaded(ctx, r->replaced[i].name))
			elp_lp_unload(ctx, r->replaced[i].name, 5000);
	*out = r;
	r = NULL;
out:
	lifecycle_unlock(lock);
	free_names(before, nr_before);
	elp_lp_artefact_free(a);
	elp_apply_result_free(r);
	return err;
}

void elp_apply_result_free(struct elp_apply_result *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nr_replaced; i++)
		free(r->replaced[i].name);
	free(r->replaced);
	free(r->module);
	free(r->release);
	free(r);
}

/* NAME, or a build id naming its module. */
static int resolve_name(struct elp_ctx *ctx, struct elp_catalogue *cat,
			const char *spec, char **name)
{
	struct elp_lp_build *b = NULL;
	char *end;
	long long id;

	id = strtoll(spec, &end, 10);
	if (*spec < '0' || *spec > '9' || *end || id <= 0) {
		*name = strdup(spec);
		return *name ? 0 : -ENOMEM;
	}
	if (elp_lp_build_get(cat, id, &b)) {
		elp_err(ctx, "no build '%s' in the catalogue", spec);
		return -ENOENT;
	}
	*name = strdup(b->module_name);
	elp_lp_build_free(b);
	return *name ? 0 : -ENOMEM;
}

/* Is NAME a loaded livepatch?  Explains why not. */
static int check_loaded(struct elp_ctx *ctx, const char *name)
{
	struct elp_livepatch *lp;
	int err = elp_lp_read(ctx, name, &lp);

	if (err == -ENOENT) {
		if (!elp_lp_supported(ctx))
			elp_err(ctx,
				"livepatch '%s' is not loaded: the running kernel has no livepatch support",
				name);
		else if (elp_module_loaded(ctx, name))
			elp_err(ctx,
				"module '%s' is loaded but is not an active livepatch (replaced or disabled?); unload it with 'rmmod %s'",
				name, name);
		else
			elp_err(ctx,
				"livepatch '%s' is not loaded; see 'elivepatch status'",
				name);
		return err;
	}
	if (!err)
		elp_lp_free(lp);
	return err;
}

static int record_revert(struct elp_catalogue *cat,
			 const struct elp_revert_result *r, int64_t kernel_id)
{
	struct elp_event ev = { .kind = "revert" };
	char detail[128];

	snprintf(detail, sizeof(detail), "transition %lld ms",
		 r->transition_ms);
	ev.kernel_release = r->release;
	ev.module = r->module;
	ev.detail = detail;
	ev.build_id = r->build_id;
	ev.kernel_id = kernel_id;
	if (elp_catalogue_begin(cat) || elp_event_add(cat, &ev) ||
	    elp_catalogue_commit(cat)) {
		elp_catalogue_rollback(cat);
		return -EIO;
	}
	return 0;
}

int elp_revert(struct elp_ctx *ctx, struct elp_catalogue *cat,
	       const struct elp_revert_options *opts,
	       struct elp_revert_result **out)
{
	struct elp_revert_result *r;
	struct elp_lp_build *b = NULL;
	int64_t kernel_id = 0;
	unsigned int found;
	int err, lock = -1;
	long long t0;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = resolve_name(ctx, cat, opts->spec, &r->module);
	if (!err && !elp_catalogue_readonly(cat)) {
		err = lifecycle_lock(cat, true, &lock);
		if (!err)
			err = reconcile_locked(ctx, cat, &found);
	}
	if (!err)
		err = check_loaded(ctx, r->module);
	if (err)
		goto out;
	if (elp_catalogue_readonly(cat)) {
		elp_err(ctx,
			"catalogue '%s' is read-only: the revert could not be recorded",
			elp_catalogue_path(cat));
		err = -EROFS;
		goto out;
	}
	err = elp_lp_running_release(ctx, &r->release);
	if (err)
		goto out;
	if (elp_lp_build_applied(cat, r->module, r->release, &b) == 0) {
		r->build_id = b->id;
		kernel_id = b->kernel_id;
		elp_lp_build_free(b);
	}

	t0 = elp_now_ms();
	elp_fault_point(ctx, "revert", "disable");
	err = elp_lp_disable(ctx, r->module);
	if (err)
		goto out;
	elp_fault_point(ctx, "revert", "transition");
	if (elp_lp_wait(ctx, r->module, opts->wait_ms) == -ETIMEDOUT) {
		elp_err(ctx,
			"livepatch '%s' did not finish its transition back in %ld s; it stays in transition (see 'elivepatch status')",
			r->module, opts->wait_ms / 1000);
		report_stall(ctx, r->module, opts->on_stall, opts->data);
		err = -ETIMEDOUT;
		goto out;
	}
	r->transition_ms = elp_now_ms() - t0;
	if (elp_lp_unload(ctx, r->module, 10000))
		elp_warn(
			ctx,
			"livepatch '%s' is disabled but its module stays loaded",
			r->module);
	elp_fault_point(ctx, "revert", "record");
	err = record_revert(cat, r, kernel_id);
	if (err) {
		elp_err(ctx,
			"livepatch '%s' is reverted but could not be recorded in the catalogue",
			r->module);
		goto out;
	}
	*out = r;
	r = NULL;
out:
	lifecycle_unlock(lock);
	elp_revert_result_free(r);
	return err;
}

void elp_revert_result_free(struct elp_revert_result *r)
{
	if (!r)
		return;
	free(r->module);
	free(r->release);
	free(r);
}
