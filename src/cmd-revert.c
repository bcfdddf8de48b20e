// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch revert: disable and unload a loaded livepatch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/livepatch.h"
#include "lib/util.h"

static void report_blockers(const struct cli *cli, const char *name)
{
	struct elp_lp_blocker *b = NULL;
	struct elp_livepatch *lp;
	size_t nr = 0, i;

	if (elp_lp_read(cli->ctx, name, &lp))
		return;
	if (elp_lp_blockers(cli->ctx, lp, &b, &nr) == 0)
		for (i = 0; i < nr; i++)
			fprintf(stderr,
				"  blocked by %s (pid %d, tid %d)%s%s\n",
				b[i].comm ? b[i].comm : "?", (int)b[i].pid,
				(int)b[i].tid,
				b[i].function ? ": sleeping in " : "",
				b[i].function ? b[i].function : "");
	elp_lp_blockers_free(b, nr);
	elp_lp_free(lp);
}

/* NAME, or a build id naming its module. */
static int resolve_name(struct elp_catalogue *cat, const char *spec,
			char **name)
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
		cli_error("no build '%s' in the catalogue", spec);
		return -ENOENT;
	}
	*name = strdup(b->module_name);
	elp_lp_build_free(b);
	return *name ? 0 : -ENOMEM;
}

static int revert(struct cli *cli, struct elp_catalogue *cat, const char *spec,
		  int wait_s)
{
	struct elp_event ev = { .kind = "revert" };
	struct elp_lp_build *b = NULL;
	char *name = NULL, *release = NULL;
	struct elp_livepatch *lp;
	char detail[128];
	long long t0;
	int rc = 1, err;

	if (resolve_name(cat, spec, &name))
		return 1;
	err = elp_lp_read(cli->ctx, name, &lp);
	if (err == -ENOENT) {
		if (!elp_lp_supported())
			cli_error(
				"livepatch '%s' is not loaded: the running kernel has no livepatch support",
				name);
		else if (elp_module_loaded(name))
			cli_error(
				"module '%s' is loaded but is not an active livepatch (replaced or disabled?); unload it with 'rmmod %s'",
				name, name);
		else
			cli_error(
				"livepatch '%s' is not loaded; see 'elivepatch status'",
				name);
		goto out;
	}
	if (err)
		goto out;
	elp_lp_free(lp);
	if (sqlite3_db_readonly(elp_catalogue_db(cat), "main") == 1) {
		cli_error(
			"catalogue '%s' is read-only: the revert could not be recorded",
			elp_catalogue_path(cat));
		goto out;
	}
	if (elp_lp_running_release(cli->ctx, &release))
		goto out;
	elp_lp_build_applied(cat, name, release, &b);

	t0 = elp_now_ms();
	if (elp_lp_disable(cli->ctx, name))
		goto out;
	if (elp_lp_wait(cli->ctx, name, (long)wait_s * 1000) == -ETIMEDOUT) {
		cli_error(
			"livepatch '%s' did not finish its transition back in %d s; it stays in transition (see 'elivepatch status')",
			name, wait_s);
		report_blockers(cli, name);
		goto out;
	}
	snprintf(detail, sizeof(detail), "transition %lld ms",
		 elp_now_ms() - t0);
	if (elp_lp_unload(cli->ctx, name, 10000))
		cli_warn(
			"livepatch '%s' is disabled but its module stays loaded",
			name);

	ev.kernel_release = release;
	ev.module = name;
	ev.detail = detail;
	if (b) {
		ev.build_id = b->id;
		ev.kernel_id = b->kernel_id;
	}
	if (elp_catalogue_begin(cat) || elp_event_add(cat, &ev) ||
	    elp_catalogue_commit(cat)) {
		elp_catalogue_rollback(cat);
		cli_error(
			"livepatch '%s' is reverted but could not be recorded in the catalogue",
			name);
		goto out;
	}
	if (cli->json) {
		bool first = true;

		fputc('{', stdout);
		json_kv_str(stdout, &first, "module", name);
		json_key(stdout, &first, "build");
		if (b)
			printf("%lld", (long long)b->id);
		else
			fputs("null", stdout);
		json_kv_str(stdout, &first, "kernel", release);
		fputs("}\n", stdout);
	} else if (b) {
		printf("reverted livepatch '%s' (build %lld)\n", name,
		       (long long)b->id);
	} else {
		printf("reverted livepatch '%s'\n", name);
	}
	rc = 0;
out:
	elp_lp_build_free(b);
	free(name);
	free(release);
	return rc;
}

static int run_revert(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	const char *spec;
	int wait_s = 60, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "wait", 0, POPT_ARG_INT, &wait_s, 0,
		  "seconds to wait for the transition (default 60)",
		  "SECONDS" },
		POPT_TABLEEND
	};

	rc = cli_parse_one("[--wait SECONDS] NAME|BUILD", options, argc, argv,
			   &pc, &spec, &done);
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
			"reverting a livepatch needs root (it unloads a kernel module)");
		goto out;
	}
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	rc = revert(cli, cat, spec, wait_s);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

const struct command cmd_revert = {
	"revert",
	run_revert,
	"disable and unload a livepatch",
};
