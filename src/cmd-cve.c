// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * elivepatch cve: build the overlay fixes each kernel needs (all, or those
 * for the CVEs named) into one cumulative livepatch per kernel.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/codestream.h"
#include "lib/config.h"
#include "lib/kernel.h"
#include "lib/patch.h"

static volatile sig_atomic_t cve_cancel;

static void on_signal(int sig)
{
	(void)sig;
	cve_cancel = 1;
}

static void print_words(char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", v[i]);
}

struct cve_run {
	struct cli *cli;
	struct elp_catalogue *cat;
	bool json, dry_run, verbose;
	struct elp_json writer; /* with json: the array of results */
};

static void result_json(struct elp_json *j,
			const struct elp_codestream_result *r)
{
	const struct elp_build_result *b = r->build;

	elp_json_object(j, NULL);
	elp_json_str(j, "kernel", r->kernel);
	elp_json_str(j, "release", r->release);
	elp_json_str(j, "version", r->version);
	elp_json_strv(j, "selected", r->selected, r->nr_selected);
	elp_json_strv(j, "cves", r->cves, r->nr_cves);
	elp_json_strv(j, "live", r->live, r->nr_live);
	elp_json_strv(j, "skipped", r->skipped, r->nr_skipped);
	if (!b) {
		elp_json_null(j, "build");
	} else {
		elp_json_object(j, "build");
		elp_json_int(j, "id", b->build_id);
		elp_json_str(j, "status", b->status);
		elp_json_str(j, "reason", b->reason);
		elp_json_str(j, "module", b->module_name);
		elp_json_str(j, "artefact", b->artefact_path);
		elp_json_str(j, "sha256", b->artefact_sha256);
		elp_json_bool(j, "reused", b->reused);
		elp_json_end(j);
	}
	elp_json_str(j, "error", r->reason);
	elp_json_str(j, "applied", r->applied ? r->applied->module : NULL);
	elp_json_end(j);
}

static void result_text(const struct cve_run *run,
			const struct elp_codestream_result *r)
{
	const struct elp_build_result *b = r->build;
	size_t i;

	if (r->reason) {
		printf("%s: failed: %s\n", r->kernel, r->reason);
		return;
	}
	/* quiet when there is nothing to do */
	if (r->nr_selected == 0 && !run->dry_run && !run->verbose)
		return;
	printf("%s: ", r->kernel);
	if (r->nr_selected == 0) {
		fputs("nothing to build", stdout);
	} else if (!b) {
		fputs("would build ", stdout);
		print_words(r->selected, r->nr_selected);
	} else if (r->err && !b->build_id) {
		fputs("not built", stdout); /* refused or failed before */
	} else if (r->err) {
		printf("build %lld %s", (long long)b->build_id, b->status);
	} else {
		printf("build %lld %s%s, %s", (long long)b->build_id, b->status,
		       b->reused ? " (reused)" : "",
		       b->output_path ? b->output_path : b->artefact_path);
	}
	if (r->nr_cves) {
		fputs(" (", stdout);
		print_words(r->cves, r->nr_cves);
		fputc(')', stdout);
	}
	printf("; %zu live, %zu skipped", r->nr_live, r->nr_skipped);
	/* the reason last, once: the library's error of it is not printed */
	if (b && r->err)
		printf(": %s", b->reason ? b->reason : "see its log");
	putchar('\n');
	for (i = 0; i < r->nr_skipped; i++)
		printf("  skipped %s\n", r->skipped[i]);
}

static int on_result(const struct elp_codestream_result *r, void *data)
{
	struct cve_run *run = data;

	/* the errors logged for this kernel, but its reason: that is below */
	cli_release_errors(run->cli, r->reason	? r->reason
				     : r->build ? r->build->reason
						: NULL);
	if (run->json) {
		result_json(&run->writer, r);
	} else {
		result_text(run, r);
	}
	if (!run->json && r->applied)
		printf("%s: applied build %lld (livepatch '%s')%s\n", r->kernel,
		       (long long)r->applied->build_id, r->applied->module,
		       r->applied->nr_replaced ? ", replacing the live one"
					       : "");
	fflush(stdout);
	cli_hold_errors(run->cli);
	return 0;
}

#define CVE_USAGE                                                          \
	"[CVE-ID...] [--kernel KERNEL]... [--all-kernels] [--parallel N] " \
	"[--apply] [--dry-run] [--rebuild] [--json]"

static int run_cve(struct cli *cli, int argc, const char **argv)
{
	struct elp_codestream_options opts = { 0 };
	struct cve_run run = { .cli = cli };
	char **kernels = NULL, *cache = NULL;
	const char **cves = NULL;
	int all = 0, apply = 0, dry = 0, json = 0, jobs = 0, parallel = 0;
	int rebuild = 0;
	int rc, n;
	struct sigaction sa = { 0 }, old_int, old_term;
	const char *arg;
	size_t nr_cves = 0, nr_kernels = 0;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "kernel", 'k', POPT_ARG_ARGV, &kernels, 0,
		  "a catalogued kernel (repeatable; default: the running kernel)",
		  "KERNEL" },
		{ "all-kernels", 'a', POPT_ARG_NONE, &all, 0,
		  "every catalogued livepatch-capable kernel", NULL },
		{ "parallel", 0, POPT_ARG_INT, &parallel, 0,
		  "with several kernels: builds at once, each a process (default: CPUs/2, memory permitting)",
		  "N" },
		{ "apply", 0, POPT_ARG_NONE, &apply, 0,
		  "apply the build for the running kernel (as elivepatch apply)",
		  NULL },
		{ "dry-run", 'n', POPT_ARG_NONE, &dry, 0,
		  "say what would be built, build nothing", NULL },
		{ "rebuild", 0, POPT_ARG_NONE, &rebuild, 0,
		  "build even if an identical build exists", NULL },
		{ "jobs", 'j', POPT_ARG_INT, &jobs, 0,
		  "parallel make jobs (default: CPUs)", "N" },
		{ "cache", 0, POPT_ARG_STRING, &cache, 0,
		  "cache directory (default: $ELIVEPATCH_CACHE)", "DIR" },
		{ "json", 0, POPT_ARG_NONE, &json, 0,
		  "print a JSON array, one object per kernel", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse(CVE_USAGE, options, argc, argv, &pc, &done);
	if (rc || done)
		goto out_opts;
	while ((arg = poptGetArg(pc))) {
		const char **nc = realloc(cves, (nr_cves + 1) * sizeof(*nc));

		if (!nc) {
			rc = 1;
			goto out;
		}
		cves = nc;
		cves[nr_cves++] = arg;
		if (!elp_cve_is_valid(arg)) {
			rc = cli_usage_error(
				pc,
				"invalid CVE id '%s' (expected CVE-YYYY-NNNN)",
				arg);
			goto out;
		}
	}
	while (kernels && kernels[nr_kernels])
		nr_kernels++;
	if (all && nr_kernels) {
		rc = cli_usage_error(
			pc, "--kernel and --all-kernels exclude each other");
		goto out;
	}
	if (apply && dry) {
		rc = cli_usage_error(
			pc, "--apply and --dry-run exclude each other");
		goto out;
	}
	if (jobs < 0) {
		rc = cli_usage_error(pc, "--jobs must be positive");
		goto out;
	}
	if (parallel < 0) {
		rc = cli_usage_error(pc, "--parallel must be positive");
		goto out;
	}
	if (!cli->tty && elp_get_log_priority(cli->ctx) < ELP_LOG_INFO)
		elp_set_log_priority(cli->ctx, ELP_LOG_WARNING);
	run.json = json || cli->json;
	run.dry_run = dry;
	run.verbose = cli->verbose > 0;
	rc = 1;
	if (cli_open_catalogue(cli, 0, &run.cat))
		goto out;
	opts.kernels = (const char *const *)kernels;
	opts.nr_kernels = nr_kernels;
	opts.all_kernels = all;
	opts.cves = cves;
	opts.nr_cves = nr_cves;
	opts.dry_run = dry;
	opts.apply = apply;
	opts.parallel = (unsigned int)parallel;
	opts.build.cache_dir = cache;
	opts.build.sandbox = elp_conf_yes(cli->conf->sandbox);
	opts.build.jobs = (unsigned int)jobs;
	opts.build.rebuild = rebuild;
	opts.build.cancel = &cve_cancel;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (run.json)
		elp_json_array(&run.writer, NULL);
	/* each kernel's reason is printed once, on its line (on_result) */
	cli_hold_errors(cli);
	n = elp_cve_run(run.cat, &opts, on_result, &run);
	cli_release_errors(cli, NULL);
	if (run.json) {
		elp_json_end(&run.writer);
		cli_json_print(&run.writer);
	}
	elp_json_release(&run.writer);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	elp_catalogue_close(run.cat);
	rc = n == 0 ? 0 : 1;
out:
	poptFreeContext(pc);
out_opts:
	free(cves);
	if (kernels)
		for (n = 0; kernels[n]; n++)
			free(kernels[n]);
	free(kernels);
	free(cache);
	return rc;
}

const struct command cmd_cve = {
	"cve",
	run_cve,
	"build the overlay fixes each kernel needs (for CVE ids, or all) into one cumulative livepatch per kernel",
};
