// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch status: the livepatches loaded in the running kernel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/lifecycle.h"
#include "lib/livepatch.h"

static void print_json(struct elp_json *j, const struct elp_livepatch *lp,
		       const struct elp_lp_build *b,
		       const struct elp_lp_blocker *bl, size_t nr_bl)
{
	size_t i, k;

	elp_json_object(j, NULL);
	elp_json_str(j, "name", lp->name);
	elp_json_bool(j, "enabled", lp->enabled == 1);
	elp_json_bool(j, "transition", lp->transition == 1);
	elp_json_bool(j, "known", b != NULL);
	elp_json_id(j, "build", b ? b->id : 0);
	elp_json_str(j, "kernel", b ? b->kernel_release : NULL);
	elp_json_csv(j, "patches", b ? b->patches : NULL);
	elp_json_csv(j, "cves", b ? b->cves : NULL);
	elp_json_str(j, "verified", b ? b->verified : NULL);
	elp_json_array(j, "objects");
	for (i = 0; i < lp->nr_objects; i++) {
		const struct elp_lp_object *o = &lp->objects[i];

		elp_json_object(j, NULL);
		elp_json_str(j, "name", o->name);
		if (o->patched >= 0)
			elp_json_bool(j, "patched", o->patched == 1);
		elp_json_array(j, "functions");
		for (k = 0; k < o->nr_funcs; k++) {
			elp_json_object(j, NULL);
			elp_json_str(j, "name", o->funcs[k].name);
			elp_json_int(j, "sympos", o->funcs[k].sympos);
			elp_json_end(j);
		}
		elp_json_end(j);
		elp_json_end(j);
	}
	elp_json_end(j);
	elp_json_array(j, "blocked_by");
	for (i = 0; i < nr_bl; i++) {
		elp_json_object(j, NULL);
		elp_json_int(j, "pid", bl[i].pid);
		elp_json_int(j, "tid", bl[i].tid);
		elp_json_str(j, "comm", bl[i].comm);
		elp_json_str(j, "function", bl[i].function);
		elp_json_end(j);
	}
	elp_json_end(j);
	elp_json_end(j);
}

static void print_text(const struct elp_livepatch *lp,
		       const struct elp_lp_build *b,
		       const struct elp_lp_blocker *bl, size_t nr_bl)
{
	size_t i, j;

	printf("%s: %s", lp->name,
	       lp->enabled == 1	  ? "enabled"
	       : lp->enabled == 0 ? "disabled"
				  : "state unknown");
	if (lp->transition == 1)
		printf(", in transition to %s",
		       lp->enabled == 1 ? "patched" : "unpatched");
	fputc('\n', stdout);
	if (b) {
		printf("  build:   %lld (kernel %s%s%s)\n", (long long)b->id,
		       b->kernel_release, b->verified ? ", verification " : "",
		       b->verified ? b->verified : ", never verified");
		printf("  patches: %s\n", b->patches ? b->patches : "-");
		printf("  cves:    %s\n", b->cves ? b->cves : "-");
	} else {
		printf("  build:   unknown (not applied by elivepatch)\n");
	}
	for (i = 0; i < lp->nr_objects; i++) {
		const struct elp_lp_object *o = &lp->objects[i];

		printf("  %s%s:", o->name,
		       o->patched == 0 ? " (not loaded)" : "");
		for (j = 0; j < o->nr_funcs; j++)
			printf("%s%s", j ? ", " : " ", o->funcs[j].name);
		fputc('\n', stdout);
	}
	for (i = 0; i < nr_bl; i++)
		printf("  blocked by %s (pid %d, tid %d)%s%s\n",
		       bl[i].comm ? bl[i].comm : "?", (int)bl[i].pid,
		       (int)bl[i].tid, bl[i].function ? ": sleeping in " : "",
		       bl[i].function ? bl[i].function : "");
}

static int run_status(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat = NULL;
	struct elp_livepatch **list = NULL;
	struct elp_json json = { 0 };
	unsigned int mismatches;
	const char *only;
	char *release = NULL;
	size_t nr = 0, i, shown = 0;
	poptContext pc;
	bool done;
	int rc;

	rc = cli_parse("[NAME]", NULL, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	only = poptGetArg(pc);
	if (poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	rc = 1;
	if (!elp_lp_supported(cli->ctx)) {
		cli_error(
			"the running kernel has no livepatch support (no /sys/kernel/livepatch)");
		goto out;
	}
	if (elp_lp_running_release(cli->ctx, &release) ||
	    elp_lp_list(cli->ctx, &list, &nr))
		goto out;
	/* the kernel's state is worth showing even without the catalogue */
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat)) {
		cli_warn("without the catalogue, builds are shown as unknown");
		cat = NULL;
	}
	/* what the catalogue says must be what the kernel shows */
	if (cat && elp_reconcile(cli->ctx, cat, &mismatches))
		goto out;
	if (cli->json)
		elp_json_array(&json, NULL);
	for (i = 0; i < nr; i++) {
		struct elp_lp_blocker *bl = NULL;
		struct elp_lp_build *b = NULL;
		size_t nr_bl = 0;

		if (only && strcmp(only, list[i]->name) != 0)
			continue;
		if (!cat ||
		    elp_lp_build_applied(cat, list[i]->name, release, &b) != 0)
			b = NULL;
		if (list[i]->transition == 1)
			elp_lp_blockers(cli->ctx, list[i], &bl, &nr_bl);
		if (cli->json) {
			print_json(&json, list[i], b, bl, nr_bl);
		} else {
			print_text(list[i], b, bl, nr_bl);
		}
		shown++;
		elp_lp_blockers_free(bl, nr_bl);
		elp_lp_build_free(b);
	}
	if (cli->json) {
		elp_json_end(&json);
		cli_json_print(&json);
	}
	if (only && !shown) {
		cli_error("livepatch '%s' is not loaded", only);
		goto out;
	}
	if (!cli->json && !shown)
		printf("no livepatches loaded (kernel %s)\n", release);
	rc = 0;
out:
	elp_json_release(&json);
	elp_catalogue_close(cat);
	elp_lp_list_free(list, nr);
	free(release);
	poptFreeContext(pc);
	return rc;
}

const struct command cmd_status = {
	"status",
	run_status,
	"show the livepatches loaded in the running kernel",
};
