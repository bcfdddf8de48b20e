// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch history: what was built, applied and reverted, where and when. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "lib/history.h"
#include "lib/lifecycle.h"

static int print_entry(const struct elp_history_entry *e, void *data)
{
	struct cli_list *list = data;
	char when[32], build[24];

	if (cli_list_json(list)) {
		struct elp_json *j = cli_list_json(list);
		char iso[32];
		time_t t = (time_t)e->time;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
		elp_json_object(j, NULL);
		elp_json_int(j, "id", e->id);
		elp_json_str(j, "time", iso);
		elp_json_int(j, "timestamp", e->time);
		elp_json_str(j, "event", e->kind);
		elp_json_str(j, "kernel", e->kernel);
		elp_json_id(j, "build", e->build_id);
		elp_json_str(j, "module", e->module);
		elp_json_csv(j, "patches", e->patches);
		elp_json_csv(j, "cves", e->cves);
		elp_json_str(j, "host", e->host);
		elp_json_str(j, "detail", e->detail);
		elp_json_end(j);
		return 0;
	}
	format_time(e->time, when, sizeof(when));
	snprintf(build, sizeof(build), "%lld", (long long)e->build_id);
	{
		const char *cells[] = {
			when,
			e->kind,
			e->kernel ? e->kernel : "-",
			e->build_id ? build : "-",
			e->module ? e->module : "-",
			e->patches ? e->patches : "-",
			e->cves ? e->cves : "-",
			e->detail ? e->detail : "",
		};

		cli_list_row(list, cells);
	}
	return 0;
}

static int parse_time_option(poptContext pc, const char *option,
			     const char *text, int64_t *out)
{
	if (!text)
		return 0;
	if (elp_parse_time(text, (int64_t)time(NULL), out) < 0)
		return cli_usage_error(
			pc,
			"invalid %s '%s': expected YYYY-MM-DD[ HH:MM[:SS]], @EPOCH or 'N days ago'",
			option, text);
	return 0;
}

static int run_history(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "TIME",	"EVENT",  "KERNEL",
					       "BUILD", "MODULE", "PATCHES",
					       "CVES",	"DETAIL" };
	struct elp_history_filter filter = { 0 };
	struct cli_list list;
	char *kernel = NULL, *patch = NULL, *cve = NULL, *kind = NULL;
	char *since = NULL, *until = NULL;
	struct elp_catalogue *cat;
	unsigned int mismatches;
	int limit = 0, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "kernel", 0, POPT_ARG_STRING, &kernel, 0,
		  "only events of this kernel (name, id or release)",
		  "KERNEL" },
		{ "patch", 0, POPT_ARG_STRING, &patch, 0,
		  "only events involving this patch (name or id)", "PATCH" },
		{ "cve", 0, POPT_ARG_STRING, &cve, 0,
		  "only events involving a patch fixing this CVE", "CVE-ID" },
		{ "event", 0, POPT_ARG_STRING, &kind, 0,
		  "only this kind of event (e.g. build, apply, revert)",
		  "KIND" },
		{ "since", 0, POPT_ARG_STRING, &since, 0,
		  "events at or after this time (UTC)", "TIME" },
		{ "until", 0, POPT_ARG_STRING, &until, 0,
		  "events at or before this time (UTC)", "TIME" },
		{ "limit", 0, POPT_ARG_INT, &limit, 0, "at most N events",
		  "N" },
		POPT_TABLEEND
	};

	rc = cli_parse("[<options>]", options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	if (poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	rc = parse_time_option(pc, "--since", since, &filter.since);
	if (!rc)
		rc = parse_time_option(pc, "--until", until, &filter.until);
	if (!rc && limit < 0)
		rc = cli_usage_error(pc, "invalid --limit %d", limit);
	if (rc)
		goto out;
	filter.kernel = kernel;
	filter.patch = patch;
	filter.cve = cve;
	filter.kind = kind;
	filter.limit = limit;
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	/* the running kernel's livepatches first, as they are */
	if (elp_reconcile(cli->ctx, cat, &mismatches)) {
		elp_catalogue_close(cat);
		goto out;
	}
	cli_list_begin(&list, cli, headers, 8);
	if (elp_history_query(cat, &filter, print_entry, &list) == 0)
		rc = 0;
	cli_list_end(&list);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	free(kernel);
	free(patch);
	free(cve);
	free(kind);
	free(since);
	free(until);
	return rc;
}

const struct command cmd_history = {
	"history",
	run_history,
	"show what was built, applied and reverted, where and when",
};
