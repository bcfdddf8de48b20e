// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch build: turn source patches into a livepatch module. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/build.h"

static volatile sig_atomic_t build_cancel;

static void on_signal(int sig)
{
	(void)sig;
	build_cancel = 1;
}

static void print_json(const struct elp_build_result *r)
{
	bool first = true, ffirst;
	size_t i;

	fputc('{', stdout);
	json_kv_int(stdout, &first, "build_id", r->build_id);
	json_kv_str(stdout, &first, "status", r->status);
	json_kv_str(stdout, &first, "reason", r->reason);
	json_kv_bool(stdout, &first, "reused", r->reused);
	json_kv_bool(stdout, &first, "cumulative", r->cumulative);
	json_kv_str(stdout, &first, "kernel", r->kernel_release);
	json_kv_str(stdout, &first, "module", r->module_name);
	json_kv_str(stdout, &first, "artefact", r->artefact_path);
	json_kv_str(stdout, &first, "output", r->output_path);
	json_kv_str(stdout, &first, "sha256", r->artefact_sha256);
	json_kv_str(stdout, &first, "inputs_sha256", r->inputs_sha256);
	json_kv_str(stdout, &first, "log", r->log_path);
	json_key(stdout, &first, "functions");
	fputc('[', stdout);
	for (i = 0; i < r->nr_funcs; i++) {
		ffirst = true;
		fputs(i ? ",{" : "{", stdout);
		json_kv_str(stdout, &ffirst, "object", r->funcs[i].object);
		json_kv_str(stdout, &ffirst, "function", r->funcs[i].old_name);
		json_kv_int(stdout, &ffirst, "sympos",
			    (int64_t)r->funcs[i].sympos);
		json_kv_str(stdout, &ffirst, "source", r->funcs[i].source_file);
		fputc('}', stdout);
	}
	fputc(']', stdout);
	json_key(stdout, &first, "timings_ms");
	ffirst = true;
	fputc('{', stdout);
	for (i = 0; i < r->nr_stages; i++)
		json_kv_int(stdout, &ffirst, r->stages[i].name,
			    r->stages[i].ms);
	fputc('}', stdout);
	json_kv_int(stdout, &first, "duration_ms", r->duration_ms);
	fputs("}\n", stdout);
}

static int run_build(struct cli *cli, int argc, const char **argv)
{
	/* popt strdups string arguments */
	char *kernel = NULL, *name = NULL, *output = NULL, *cc = NULL;
	char *cache = NULL;
	int force_toolchain = 0, rebuild = 0, quiet = 0, json = 0, jobs = 0;
	int cumulative = 0, no_cumulative = 0;
	char **patches = NULL, **patch_args = NULL, **extra_args = NULL;
	char **extra = NULL;
	size_t nr_extra = 0;
	size_t i;
	size_t nr_patches = 0;
	struct elp_build_options opts = { 0 };
	struct elp_build_result *res = NULL;
	struct elp_catalogue *cat;
	struct sigaction sa = { 0 }, old_int, old_term;
	const char *arg;
	poptContext pc;
	bool done;
	int rc, err;
	struct poptOption options[] = {
		{ "kernel", 'k', POPT_ARG_STRING, &kernel, 0,
		  "catalogued kernel (default: the running kernel)", "KERNEL" },
		{ "patch", 'p', POPT_ARG_ARGV, &patch_args, 0,
		  "patch name or file; repeat for more, applied in order",
		  "PATCH" },
		{ "name", 'n', POPT_ARG_STRING, &name, 0,
		  "module name (default: elp_<first patch>)", "NAME" },
		{ "output", 'o', POPT_ARG_STRING, &output, 0,
		  "also write the module here", "FILE.ko" },
		{ "jobs", 'j', POPT_ARG_INT, &jobs, 0,
		  "parallel make jobs (default: CPUs)", "N" },
		{ "force-toolchain", 0, POPT_ARG_NONE, &force_toolchain, 0,
		  "build even if no compiler matches the kernel's", NULL },
		{ "cc", 0, POPT_ARG_STRING, &cc, 0,
		  "compiler to use (default: the one matching the kernel)",
		  "CC" },
		{ "cumulative", 0, POPT_ARG_NONE, &cumulative, 0,
		  "also include the patches of the livepatches applied on the kernel and replace them (default when one is applied)",
		  NULL },
		{ "no-cumulative", 0, POPT_ARG_NONE, &no_cumulative, 0,
		  "only the given patches, next to the applied livepatches",
		  NULL },
		{ "extra-files", 'x', POPT_ARG_ARGV, &extra_args, 0,
		  "also compile and diff these .c files (users of a changed header); repeat or separate with commas",
		  "FILE.c" },
		{ "rebuild", 0, POPT_ARG_NONE, &rebuild, 0,
		  "build even if an identical build exists", NULL },
		{ "cache", 0, POPT_ARG_STRING, &cache, 0,
		  "cache directory (default: $ELIVEPATCH_CACHE)", "DIR" },
		{ "quiet", 'q', POPT_ARG_NONE, &quiet, 0,
		  "no progress messages", NULL },
		{ "json", 0, POPT_ARG_NONE, &json, 0,
		  "print the result as JSON", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse(
		"[--kernel KERNEL] --patch PATCH... [--extra-files FILE.c...] [--[no-]cumulative] [-o FILE.ko]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	/* --patch values, then positional patches */
	for (i = 0; patch_args && patch_args[i]; i++) {
		char **np = realloc(patches, (nr_patches + 1) * sizeof(*np));

		if (!np) {
			cli_error("out of memory");
			rc = 1;
			goto out_free;
		}
		patches = np;
		patches[nr_patches++] = patch_args[i];
		patch_args[i] = NULL; /* ours now */
	}
	while ((arg = poptGetArg(pc)) != NULL) {
		char **np = realloc(patches, (nr_patches + 1) * sizeof(*np));

		if (!np) {
			cli_error("out of memory");
			rc = 1;
			goto out_free;
		}
		patches = np;
		patches[nr_patches++] = strdup(arg);
	}
	if (nr_patches == 0) {
		rc = cli_usage_error(pc, "no patch given; use --patch PATCH");
		goto out_free;
	}
	if (jobs < 0) {
		rc = cli_usage_error(pc, "--jobs must be positive");
		goto out_free;
	}
	if (cumulative && no_cumulative) {
		rc = cli_usage_error(
			pc,
			"--cumulative and --no-cumulative exclude each other");
		goto out_free;
	}
	for (i = 0; extra_args && extra_args[i]; i++) {
		char *save = NULL, *tok;

		for (tok = strtok_r(extra_args[i], ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			char **nx =
				realloc(extra, (nr_extra + 1) * sizeof(*nx));

			if (!nx) {
				cli_error("out of memory");
				rc = 1;
				goto out_free;
			}
			extra = nx;
			extra[nr_extra++] = tok;
		}
	}
	if (quiet || cli->quiet)
		elp_set_log_priority(cli->ctx, ELP_LOG_WARNING);
	else if (!cli->tty && elp_get_log_priority(cli->ctx) < ELP_LOG_INFO)
		/* progress lines are for terminals; -v shows them anyway */
		elp_set_log_priority(cli->ctx, ELP_LOG_WARNING);
	json = json || cli->json;

	if (cli_open_catalogue(cli, 0, &cat)) {
		rc = 1;
		goto out_free;
	}
	opts.kernel = kernel;
	opts.patches = (const char *const *)patches;
	opts.nr_patches = nr_patches;
	opts.name = name;
	opts.output = output;
	opts.cache_dir = cache;
	opts.cc = cc;
	opts.force_toolchain = force_toolchain;
	opts.rebuild = rebuild;
	opts.cumulative = cumulative ? 1 : no_cumulative ? 0 : -1;
	opts.extra_files = (const char *const *)extra;
	opts.nr_extra_files = nr_extra;
	opts.jobs = (unsigned int)jobs;
	opts.cancel = &build_cancel;

	/* let make die of ^C and the library restore the tree */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	err = elp_build(cat, &opts, &res);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	elp_catalogue_close(cat);

	if (json && res)
		print_json(res);
	if (!err) {
		if (!json)
			printf("%s\n", res->output_path ? res->output_path
							: res->artefact_path);
		rc = 0;
	} else {
		if (res && res->build_id)
			cli_error("build %lld %s%s%s", (long long)res->build_id,
				  res->status, res->log_path ? "; log: " : "",
				  res->log_path ? res->log_path : "");
		rc = 1;
	}
	elp_build_result_free(res);
out_free:
	poptFreeContext(pc);
	while (nr_patches)
		free(patches[--nr_patches]);
	free(patches);
	for (i = 0; patch_args && patch_args[i]; i++)
		free(patch_args[i]);
	free(patch_args);
	free(extra); /* pointers into extra_args */
	for (i = 0; extra_args && extra_args[i]; i++)
		free(extra_args[i]);
	free(extra_args);
	free(kernel);
	free(name);
	free(output);
	free(cc);
	free(cache);
	return rc;
}

const struct command cmd_build = {
	"build",
	run_build,
	"build a livepatch module from source patches",
};
