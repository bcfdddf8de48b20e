// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch revert: disable and unload a loaded livepatch. */
#include <unistd.h>

#include "cli.h"
#include "lib/lifecycle.h"

/* A stalled transition back: the tasks that have not switched. */
static void print_blockers(void *data, const struct elp_livepatch *lp,
			   const struct elp_lp_blocker *b, size_t nr)
{
	size_t i;

	(void)data;
	(void)lp;
	for (i = 0; i < nr; i++)
		fprintf(stderr, "  blocked by %s (pid %d, tid %d)%s%s\n",
			b[i].comm ? b[i].comm : "?", (int)b[i].pid,
			(int)b[i].tid, b[i].function ? ": sleeping in " : "",
			b[i].function ? b[i].function : "");
}

static void print_result(const struct cli *cli,
			 const struct elp_revert_result *r)
{
	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_str(j, "module", r->module);
		elp_json_id(j, "build", r->build_id);
		elp_json_str(j, "kernel", r->release);
		elp_json_end(j);
		cli_json_done(j);
	} else if (r->build_id) {
		printf("reverted livepatch '%s' (build %lld)\n", r->module,
		       (long long)r->build_id);
	} else {
		printf("reverted livepatch '%s'\n", r->module);
	}
}

static int run_revert(struct cli *cli, int argc, const char **argv)
{
	struct elp_revert_options opts = { 0 };
	struct elp_revert_result *res = NULL;
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
	opts.spec = spec;
	opts.wait_ms = (long)wait_s * 1000;
	opts.on_stall = print_blockers;
	if (elp_revert(cli->ctx, cat, &opts, &res) == 0) {
		print_result(cli, res);
		rc = 0;
	}
	elp_revert_result_free(res);
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
