// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch apply: load a catalogued livepatch into the running kernel. */
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/lifecycle.h"

/* A stalled transition: the tasks that have not switched. */
static void print_blockers(void *data, const struct elp_livepatch *lp,
			   const struct elp_lp_blocker *b, size_t nr)
{
	const struct cli *cli = data;
	size_t i;

	(void)lp;
	if (nr == 0)
		fprintf(stderr,
			"  no blocking task found (/proc/PID/task/TID/patch_state unreadable?)\n");
	for (i = 0; i < nr; i++) {
		fprintf(stderr, "  blocked by %s (pid %d, tid %d)",
			b[i].comm ? b[i].comm : "?", (int)b[i].pid,
			(int)b[i].tid);
		if (b[i].function)
			fprintf(stderr, ": sleeping in %s", b[i].function);
		else if (!b[i].stack)
			fputs(": stack unreadable", stderr);
		fputc('\n', stderr);
		if (b[i].stack && cli->verbose) {
			const char *line = b[i].stack;

			while (*line) {
				const char *end = strchrnul(line, '\n');

				fprintf(stderr, "    %.*s\n", (int)(end - line),
					line);
				line = *end ? end + 1 : end;
			}
		}
	}
}

static void print_result(struct cli *cli, const struct elp_apply_result *r)
{
	size_t i;

	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_str(j, "module", r->module);
		elp_json_id(j, "build", r->build_id);
		elp_json_str(j, "kernel", r->release);
		elp_json_str(j, "sha256", r->sha256);
		elp_json_int(j, "transition_ms", r->transition_ms);
		elp_json_array(j, "replaced");
		for (i = 0; i < r->nr_replaced; i++) {
			elp_json_object(j, NULL);
			elp_json_str(j, "module", r->replaced[i].name);
			elp_json_id(j, "build", r->replaced[i].build_id);
			elp_json_end(j);
		}
		elp_json_end(j);
		elp_json_end(j);
		cli_json_done(j);
		return;
	}
	if (r->build_id)
		printf("applied build %lld (livepatch '%s') to kernel %s\n",
		       (long long)r->build_id, r->module, r->release);
	else
		printf("applied livepatch '%s' to kernel %s\n", r->module,
		       r->release);
	for (i = 0; i < r->nr_replaced; i++) {
		if (r->replaced[i].build_id)
			printf("replaced livepatch '%s' (build %lld)\n",
			       r->replaced[i].name,
			       (long long)r->replaced[i].build_id);
		else
			printf("replaced livepatch '%s'\n",
			       r->replaced[i].name);
	}
}

static int run_apply(struct cli *cli, int argc, const char **argv)
{
	struct elp_apply_options opts = { 0 };
	struct elp_apply_result *res = NULL;
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
	opts.spec = spec;
	opts.wait_ms = (long)wait_s * 1000;
	opts.force = force;
	opts.on_stall = print_blockers;
	opts.data = cli;
	if (elp_apply(cli->ctx, cat, &opts, &res) == 0) {
		print_result(cli, res);
		rc = 0;
	}
	elp_apply_result_free(res);
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
