// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch apply: load a catalogued livepatch into the running kernel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/livepatch.h"
#include "lib/util.h"

struct replaced {
	char *name;
	int64_t build_id;
};

/* Explain a stalled transition: the tasks that have not switched. */
static void report_blockers(struct cli *cli, const char *name)
{
	struct elp_lp_blocker *b = NULL;
	struct elp_livepatch *lp;
	size_t nr = 0, i;

	if (elp_lp_read(cli->ctx, name, &lp))
		return;
	if (elp_lp_blockers(cli->ctx, lp, &b, &nr) == 0) {
		if (nr == 0)
			fprintf(stderr,
				"  no blocking task found (/proc/PID/task/TID/patch_state unreadable?)\n");
		for (i = 0; i < nr; i++) {
			fprintf(stderr, "  blocked by %s (pid %d, tid %d)",
				b[i].comm ? b[i].comm : "?", (int)b[i].pid,
				(int)b[i].tid);
			if (b[i].function)
				fprintf(stderr, ": sleeping in %s",
					b[i].function);
			else if (!b[i].stack)
				fputs(": stack unreadable", stderr);
			fputc('\n', stderr);
			if (b[i].stack && cli->verbose) {
				const char *line = b[i].stack;

				while (*line) {
					const char *end = strchrnul(line, '\n');

					fprintf(stderr, "    %.*s\n",
						(int)(end - line), line);
					line = *end ? end + 1 : end;
				}
			}
		}
	}
	elp_lp_blockers_free(b, nr);
	elp_lp_free(lp);
}

/* Enabled livepatches other than name: candidates for replacement. */
static int snapshot(struct cli *cli, char ***names, size_t *nr)
{
	struct elp_livepatch **list;
	size_t n, i, k = 0;
	int err = elp_lp_list(cli->ctx, &list, &n);

	*names = NULL;
	*nr = 0;
	if (err)
		return err;
	*names = calloc(n ? n : 1, sizeof(**names));
	for (i = 0; *names && i < n; i++)
		if (list[i]->enabled == 1)
			(*names)[k++] = strdup(list[i]->name);
	*nr = k;
	elp_lp_list_free(list, n);
	return *names ? 0 : -ENOMEM;
}

/* Was a previously enabled patch replaced (disabled and freed)? */
static bool was_replaced(struct cli *cli, const char *name)
{
	long long deadline = elp_now_ms() + 5000;

	for (;;) {
		struct elp_livepatch *lp;

		if (elp_lp_read(cli->ctx, name, &lp))
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

/* Back out a patch whose transition stalled: disable, wait, unload. */
static void cancel(struct cli *cli, const char *name, long wait_ms)
{
	if (elp_lp_disable(cli->ctx, name))
		return;
	if (elp_lp_wait(cli->ctx, name, wait_ms) == -ETIMEDOUT) {
		cli_error(
			"livepatch '%s' is still in transition back; see 'elivepatch status'",
			name);
		return;
	}
	if (elp_lp_unload(cli->ctx, name, 5000) == 0)
		fprintf(stderr,
			"livepatch '%s' was disabled and unloaded again\n",
			name);
}

static int record(struct cli *cli, struct elp_catalogue *cat,
		  const struct elp_lp_artefact *a, const char *release,
		  long long ms, struct replaced *rep, size_t nr_rep)
{
	const char *module = a->info->name;
	struct elp_event ev = { .kind = "apply" };
	char detail[256];
	size_t i;
	int err;

	err = elp_catalogue_begin(cat);
	if (err)
		return err;
	ev.kernel_release = release;
	ev.module = module;
	if (a->build) {
		ev.build_id = a->build->id;
		ev.kernel_id = a->build->kernel_id;
	}
	snprintf(detail, sizeof(detail), "sha256 %.16s, transition %lld ms%s",
		 a->sha256, ms, a->build ? "" : ", not in the catalogue");
	ev.detail = detail;
	err = elp_event_add(cat, &ev);
	for (i = 0; !err && i < nr_rep; i++) {
		struct elp_event r = { .kind = "replace" };
		char d[256];

		r.kernel_release = release;
		r.module = rep[i].name;
		r.build_id = rep[i].build_id;
		if (a->build)
			snprintf(d, sizeof(d), "replaced by %s (build %lld)",
				 module, (long long)a->build->id);
		else
			snprintf(d, sizeof(d), "replaced by %s", module);
		r.detail = d;
		err = elp_event_add(cat, &r);
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err)
		elp_catalogue_rollback(cat);
	(void)cli;
	return err;
}

static void print_result(struct cli *cli, const struct elp_lp_artefact *a,
			 const char *release, long long ms,
			 const struct replaced *rep, size_t nr_rep)
{
	size_t i;

	if (cli->json) {
		bool first = true;

		fputc('{', stdout);
		json_kv_str(stdout, &first, "module", a->info->name);
		json_key(stdout, &first, "build");
		if (a->build)
			printf("%lld", (long long)a->build->id);
		else
			fputs("null", stdout);
		json_kv_str(stdout, &first, "kernel", release);
		json_kv_str(stdout, &first, "sha256", a->sha256);
		json_kv_int(stdout, &first, "transition_ms", ms);
		json_key(stdout, &first, "replaced");
		fputc('[', stdout);
		for (i = 0; i < nr_rep; i++) {
			bool f = true;

			fputs(i ? ",{" : "{", stdout);
			json_kv_str(stdout, &f, "module", rep[i].name);
			json_key(stdout, &f, "build");
			if (rep[i].build_id)
				printf("%lld", (long long)rep[i].build_id);
			else
				fputs("null", stdout);
			fputc('}', stdout);
		}
		fputs("]}\n", stdout);
		return;
	}
	if (a->build)
		printf("applied build %lld (livepatch '%s') to kernel %s\n",
		       (long long)a->build->id, a->info->name, release);
	else
		printf("applied livepatch '%s' to kernel %s\n", a->info->name,
		       release);
	for (i = 0; i < nr_rep; i++) {
		if (rep[i].build_id)
			printf("replaced livepatch '%s' (build %lld)\n",
			       rep[i].name, (long long)rep[i].build_id);
		else
			printf("replaced livepatch '%s'\n", rep[i].name);
	}
}

static int apply(struct cli *cli, struct elp_catalogue *cat, const char *spec,
		 int wait_s, bool force)
{
	struct elp_lp_artefact *a = NULL;
	struct replaced *rep = NULL;
	char **before = NULL, *release = NULL, *reason = NULL;
	size_t nr_before = 0, nr_rep = 0, i;
	struct elp_livepatch *lp;
	long long t0, ms;
	int err, rc = 1;

	err = elp_lp_artefact_open(cat, spec, force, &a);
	if (err == -ENOENT && a) {
		cli_warn(
			"'%s' is not a build in the catalogue (sha256 %.16s...); applying it anyway",
			spec, a->sha256);
	} else if (err == -ENOENT && elp_is_file(spec)) {
		cli_error(
			"'%s' is not a build in the catalogue; use 'elivepatch apply BUILD', or --force to apply an unknown module",
			spec);
		return 1;
	} else if (err) {
		return 1;
	}
	if (elp_lp_running_release(cli->ctx, &release))
		goto out;
	if (strcmp(a->info->release, release) != 0) {
		cli_error(
			"module '%s' is built for kernel %s, the running kernel is %s",
			a->info->name, a->info->release, release);
		goto out;
	}
	if (a->build && strcmp(a->build->kernel_release, release) != 0) {
		cli_error(
			"build %lld is for kernel %s, the running kernel is %s",
			(long long)a->build->id, a->build->kernel_release,
			release);
		goto out;
	}
	if (!elp_lp_supported()) {
		cli_error(
			"the running kernel has no livepatch support (no /sys/kernel/livepatch)");
		goto out;
	}
	if (a->build && a->build->verified &&
	    strcmp(a->build->verified, "failed") == 0) {
		if (!force) {
			cli_error(
				"build %lld failed verification (log: %s); use --force to apply it anyway",
				(long long)a->build->id,
				a->build->verify_log ? a->build->verify_log
						     : "none");
			goto out;
		}
		cli_warn("build %lld failed verification",
			 (long long)a->build->id);
	} else if (a->build && !a->build->verified) {
		cli_warn(
			"build %lld was never verified; see 'elivepatch verify %lld'",
			(long long)a->build->id, (long long)a->build->id);
	}
	if (elp_lp_sig_enforced(cli->ctx, &reason) == 1 &&
	    !a->info->is_signed) {
		cli_error(
			"refusing to load unsigned module '%s': the kernel enforces module signatures (%s); sign it with 'elivepatch sign'",
			a->info->name, reason);
		goto out;
	}
	if (elp_lp_read(cli->ctx, a->info->name, &lp) == 0) {
		elp_lp_free(lp);
		cli_error(
			"livepatch '%s' is already loaded; see 'elivepatch status'",
			a->info->name);
		goto out;
	}
	if (elp_module_loaded(a->info->name)) {
		cli_error("a module named '%s' is already loaded",
			  a->info->name);
		goto out;
	}
	if (sqlite3_db_readonly(elp_catalogue_db(cat), "main") == 1) {
		cli_error(
			"catalogue '%s' is read-only: the apply could not be recorded",
			elp_catalogue_path(cat));
		goto out;
	}
	if (snapshot(cli, &before, &nr_before))
		goto out;

	t0 = elp_now_ms();
	if (elp_lp_load(cli->ctx, a->path, a->info))
		goto out;
	if (elp_lp_wait(cli->ctx, a->info->name, (long)wait_s * 1000) ==
	    -ETIMEDOUT) {
		cli_error(
			"livepatch '%s' did not finish its transition in %d s",
			a->info->name, wait_s);
		report_blockers(cli, a->info->name);
		cancel(cli, a->info->name, 10000);
		goto out;
	}
	ms = elp_now_ms() - t0;
	if (elp_lp_read(cli->ctx, a->info->name, &lp)) {
		cli_error("livepatch '%s' is gone after loading (see dmesg)",
			  a->info->name);
		goto out;
	}
	elp_lp_free(lp);

	/* a cumulative patch disables the ones it replaces */
	rep = calloc(nr_before ? nr_before : 1, sizeof(*rep));
	for (i = 0; rep && i < nr_before; i++) {
		struct elp_lp_build *b = NULL;

		if (!was_replaced(cli, before[i]))
			continue;
		rep[nr_rep].name = strdup(before[i]);
		if (elp_lp_build_applied(cat, before[i], release, &b) == 0) {
			rep[nr_rep].build_id = b->id;
			elp_lp_build_free(b);
		}
		nr_rep++;
	}
	if (record(cli, cat, a, release, ms, rep, nr_rep)) {
		cli_error(
			"livepatch '%s' is applied but could not be recorded in the catalogue",
			a->info->name);
		goto out;
	}
	for (i = 0; i < nr_rep; i++)
		if (elp_module_loaded(rep[i].name))
			elp_lp_unload(cli->ctx, rep[i].name, 5000);
	print_result(cli, a, release, ms, rep, nr_rep);
	rc = 0;
out:
	for (i = 0; rep && i < nr_rep; i++)
		free(rep[i].name);
	free(rep);
	for (i = 0; i < nr_before; i++)
		free(before[i]);
	free(before);
	free(reason);
	free(release);
	elp_lp_artefact_free(a);
	return rc;
}

int cli_apply(struct cli *cli, struct elp_catalogue *cat, const char *spec,
	      int wait_s)
{
	return apply(cli, cat, spec, wait_s, false);
}

static int run_apply(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	int wait_s = 60, force = 0, rc;
	const char *spec;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "wait", 0, POPT_ARG_INT, &wait_s, 0,
		  "seconds to wait for the transition (default 60)",
		  "SECONDS" },
		{ "force", 0, POPT_ARG_NONE, &force, 0,
		  "apply a module the catalogue does not know, or one that failed verification",
		  NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_one("[--wait SECONDS] [--force] BUILD|FILE.ko", options,
			   argc, argv, &pc, &spec, &done);
	if (rc || done)
		return rc;
	if (wait_s <= 0) {
		rc = cli_usage_error(
			pc, "invalid --wait %d: expected seconds > 0", wait_s);
		goto out;
	}
	rc = 1;
	if (geteuid() != 0) {
		cli_error(
			"applying a livepatch needs root (it loads a kernel module)");
		goto out;
	}
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	rc = apply(cli, cat, spec, wait_s, force);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

const struct command cmd_apply = {
	"apply",
	run_apply,
	"load a livepatch build into the running kernel",
};
