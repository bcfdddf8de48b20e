// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch build: turn source patches into a livepatch module. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine/build.h"
#include "lib/builds.h"
#include "lib/config.h"
#include "lib/remote.h"
#include "lib/codestream.h"

static volatile sig_atomic_t build_cancel;

static void on_signal(int sig)
{
	(void)sig;
	build_cancel = 1;
}

static void print_json(struct elp_json *j, const struct elp_build_result *r)
{
	size_t i;

	elp_json_object(j, NULL);
	elp_json_int(j, "build_id", r->build_id);
	elp_json_str(j, "status", r->status);
	elp_json_str(j, "reason", r->reason);
	elp_json_bool(j, "reused", r->reused);
	elp_json_bool(j, "cumulative", r->cumulative);
	elp_json_str(j, "kernel", r->kernel_release);
	elp_json_str(j, "module", r->module_name);
	elp_json_str(j, "artefact", r->artefact_path);
	elp_json_str(j, "output", r->output_path);
	elp_json_str(j, "sha256", r->artefact_sha256);
	elp_json_str(j, "inputs_sha256", r->inputs_sha256);
	elp_json_str(j, "log", r->log_path);
	elp_json_array(j, "functions");
	for (i = 0; i < r->nr_funcs; i++) {
		elp_json_object(j, NULL);
		elp_json_str(j, "object", r->funcs[i].object);
		elp_json_str(j, "function", r->funcs[i].old_name);
		elp_json_int(j, "sympos", (int64_t)r->funcs[i].sympos);
		elp_json_str(j, "source", r->funcs[i].source_file);
		elp_json_end(j);
	}
	elp_json_end(j);
	elp_json_object(j, "timings_ms");
	for (i = 0; i < r->nr_stages; i++)
		elp_json_int(j, r->stages[i].name, r->stages[i].ms);
	elp_json_end(j);
	elp_json_int(j, "duration_ms", r->duration_ms);
	elp_json_end(j);
}

/*
 * The last line a user sees of a failed build says why and what to do (the
 * engine's reasons end with it); `build show` keeps it.
 */
static void report_failure(struct cli *cli, const struct elp_build_result *r)
{
	long long id = (long long)r->build_id;

	if (r->log_path)
		fprintf(stderr,
			"log: %s; details: elivepatch build show %lld\n",
			r->log_path, id);
	if (!r->reason)
		cli_error("build %lld %s; see its log", id, r->status);
	else if (strstr(r->reason, "elivepatch.h: No such file"))
		/* the compiler cannot say where elivepatch.h was looked for */
		cli_error(
			"build %lld %s: %s; elivepatch.h is not in '%s/include': set ELIVEPATCH_DATADIR to the directory holding include/elivepatch.h",
			id, r->status, r->reason, elp_get_datadir(cli->ctx));
	else
		cli_error("build %lld %s: %s", id, r->status, r->reason);
}

/*
 * The builders: --builder, each one URL, else the configuration's
 * 'builders'; none: build here.
 */
static int collect_builders(struct cli *cli, poptContext pc, char **args,
			    char **conf_copy, char ***out, size_t *nr)
{
	char *save = NULL, *w, **n;
	size_t i;

	for (i = 0; args && args[i]; i++) {
		if (strncmp(args[i], "ssh://", 6) != 0)
			return cli_usage_error(
				pc,
				"invalid --builder '%s': expected ssh://[user@]host[:port][/path/to/elivepatch]",
				args[i]);
		n = realloc(*out, (*nr + 1) * sizeof(*n));
		if (!n)
			return 1;
		*out = n;
		n[(*nr)++] = args[i];
	}
	if (*nr || !cli->conf->builders || !*cli->conf->builders)
		return 0;
	*conf_copy = strdup(cli->conf->builders);
	for (w = *conf_copy ? strtok_r(*conf_copy, " ", &save) : NULL; w;
	     w = strtok_r(NULL, " ", &save)) {
		n = realloc(*out, (*nr + 1) * sizeof(*n));
		if (!n)
			return 1;
		*out = n;
		n[(*nr)++] = w;
	}
	return *conf_copy ? 0 : 1;
}

#define BUILD_USAGE                                                           \
	"[--kernel KERNEL]... [--all-kernels] --patch PATCH... [<options>]\n" \
	"   or: elivepatch build list [--kernel KERNEL] [--patch PATCH] "     \
	"[--status STATUS] [--limit N] [--json]\n"                            \
	"   or: elivepatch build show [--json] ID"

struct kernels_out {
	struct cli *cli;
	bool json;
	struct elp_json writer; /* with json: the array of results */
};

/* One line per kernel: what became of its build, its reason once. */
static int print_kernel(const struct elp_codestream_result *r, void *data)
{
	const struct elp_build_result *b = r->build;
	struct kernels_out *out = data;

	/* the errors logged for this kernel, but the reason on its line */
	cli_release_errors(out->cli, r->reason ? r->reason
				     : b       ? b->reason
					       : NULL);
	cli_hold_errors(out->cli);
	if (out->json) {
		if (b) {
			/* a newline after each, as this output always had */
			print_json(&out->writer, b);
			elp_json_newline(&out->writer);
		}
		return 0;
	}
	if (!b)
		printf("%s: failed before building%s%s\n", r->kernel,
		       r->reason ? ": " : "", r->reason ? r->reason : "");
	else if (r->err && !b->build_id)
		printf("%s: not built: %s\n", r->kernel,
		       b->reason ? b->reason : b->status);
	else if (r->err)
		printf("%s: build %lld %s: %s\n", r->kernel,
		       (long long)b->build_id, b->status,
		       b->reason ? b->reason : "see its log");
	else
		printf("%s: build %lld %s%s, %s\n", r->kernel,
		       (long long)b->build_id, b->status,
		       b->reused ? " (reused)" : "", b->artefact_path);
	fflush(stdout);
	return 0;
}

/* How much of the kernel's source went to a builder, on one line. */
static void print_progress(void *data, const char *builder,
			   unsigned long long sent, unsigned long long total,
			   bool done)
{
	(void)data;
	fprintf(stderr, "\rsending to %s: %3llu%% (%.1f of %.1f MiB)%s",
		builder, total ? sent * 100 / total : 100,
		(double)sent / 1048576.0, (double)total / 1048576.0,
		done ? "\n" : "");
}

static int build_run(struct cli *cli, int argc, const char **argv)
{
	/* popt strdups string arguments */
	char *name = NULL, *output = NULL, *cc = NULL, **kernels = NULL;
	const char *kernel = NULL;
	int all_kernels = 0, parallel = 0;
	size_t nr_kernels = 0;
	char *cache = NULL;
	int force_toolchain = 0, rebuild = 0, quiet = 0, json = 0, jobs = 0;
	int cumulative = 0, no_cumulative = 0, least_busy = 0, sandbox = 0;
	int send_source = 0;
	char **patches = NULL, **patch_args = NULL, **extra_args = NULL;
	char **extra = NULL, **builder_args = NULL, **builders = NULL;
	char *conf_builders = NULL;
	size_t nr_extra = 0, nr_builders = 0;
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
		{ "kernel", 'k', POPT_ARG_ARGV, &kernels, 0,
		  "catalogued kernel (default: the running kernel); repeat to build for several",
		  "KERNEL" },
		{ "all-kernels", 'a', POPT_ARG_NONE, &all_kernels, 0,
		  "build for every catalogued livepatch-capable kernel", NULL },
		{ "parallel", 0, POPT_ARG_INT, &parallel, 0,
		  "with several kernels: builds at once, each a process (default: CPUs/2, memory permitting)",
		  "N" },
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
		{ "builder", 'B', POPT_ARG_ARGV, &builder_args, 0,
		  "build over ssh on this builder; repeat for more, tried in order (default: 'builders' of elivepatch.conf)",
		  "ssh://[USER@]HOST[:PORT][/PATH]" },
		{ "send-source", 0, POPT_ARG_NONE, &send_source, 0,
		  "send the kernel's source to a builder that has no kernel for the build (it keeps it for the next)",
		  NULL },
		{ "least-busy", 0, POPT_ARG_NONE, &least_busy, 0,
		  "ask every builder how busy it is (builder serve --status) and try the least busy first",
		  NULL },
		{ "sandbox", 0, POPT_ARG_NONE, &sandbox, 0,
		  "compile in a bubblewrap sandbox: no network, only the build's own dirs writable (default: 'sandbox' of elivepatch.conf)",
		  NULL },
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

	rc = cli_parse(BUILD_USAGE, options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	/* the --patch values, in order */
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
	/* a word after the options is neither a patch nor a subcommand */
	arg = poptPeekArg(pc);
	if (arg) {
		rc = cli_usage_error(
			pc,
			"unexpected argument '%s': patches are given with --patch, and 'list' and 'show' come right after 'build'",
			arg);
		goto out_free;
	}
	if (nr_patches == 0) {
		rc = cli_usage_error(pc, "no patch given; use --patch PATCH");
		goto out_free;
	}
	if (jobs < 0) {
		rc = cli_usage_error(pc, "--jobs must be positive");
		goto out_free;
	}
	while (kernels && kernels[nr_kernels])
		nr_kernels++;
	kernel = nr_kernels ? kernels[0] : NULL;
	if (all_kernels && nr_kernels) {
		rc = cli_usage_error(
			pc, "--kernel and --all-kernels exclude each other");
		goto out_free;
	}
	if (output && (all_kernels || nr_kernels > 1)) {
		rc = cli_usage_error(
			pc,
			"--output is for one kernel; the modules of several are in the artefact store");
		goto out_free;
	}
	if (parallel < 0) {
		rc = cli_usage_error(pc, "--parallel must be positive");
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
	rc = collect_builders(cli, pc, builder_args, &conf_builders, &builders,
			      &nr_builders);
	if (!rc && least_busy && !nr_builders)
		rc = cli_usage_error(pc, "--least-busy needs builders");
	if (!rc && send_source && !nr_builders)
		rc = cli_usage_error(pc, "--send-source needs builders");
	if (!rc && nr_builders && (cc || force_toolchain || jobs))
		rc = cli_usage_error(
			pc,
			"--cc, --force-toolchain and --jobs are the builder's to choose: not with a builder");
	if (!rc && builder_args && (all_kernels || nr_kernels > 1))
		rc = cli_usage_error(
			pc,
			"--builder is for one kernel: several kernels are built on this host");
	if (!rc && nr_builders && (all_kernels || nr_kernels > 1)) {
		/* the configuration's builders: said, not silently skipped */
		fprintf(stderr,
			"note: several kernels are built on this host, not on the configured builders\n");
		nr_builders = 0;
	}
	if (rc)
		goto out_free;
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
	opts.sandbox = sandbox || elp_conf_yes(cli->conf->sandbox);
	opts.cumulative = cumulative ? 1 : no_cumulative ? 0 : -1;
	opts.extra_files = (const char *const *)extra;
	opts.nr_extra_files = nr_extra;
	opts.jobs = (unsigned int)jobs;
	opts.cancel = &build_cancel;
	if (send_source && !quiet && !cli->quiet && !json &&
	    isatty(STDERR_FILENO))
		opts.progress = print_progress;

	/* let make die of ^C and the library restore the tree */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (all_kernels || nr_kernels > 1) {
		struct elp_codestream_options many = {
			.kernels = (const char *const *)kernels,
			.nr_kernels = nr_kernels,
			.all_kernels = all_kernels,
			.parallel = (unsigned int)parallel,
			.build = opts,
		};
		struct kernels_out kout = { .cli = cli, .json = json };
		int failed;

		if (json)
			elp_json_array(&kout.writer, NULL);
		/* each kernel's reason once, on its line (print_kernel) */
		cli_hold_errors(cli);
		failed = elp_build_kernels(cat, &many, print_kernel, &kout);
		cli_release_errors(cli, NULL);
		if (json) {
			elp_json_end(&kout.writer);
			cli_json_print(&kout.writer);
		}
		elp_json_release(&kout.writer);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		elp_catalogue_close(cat);
		if (failed > 0)
			cli_error("%d of the builds failed", failed);
		rc = failed == 0 ? 0 : 1;
		goto out_free;
	}
	/* the reason is printed once, on the last line (report_failure) */
	cli_hold_errors(cli);
	err = nr_builders
		      ? elp_remote_build(
				cat, &opts, (const char *const *)builders,
				nr_builders,
				(least_busy ? ELP_REMOTE_LEAST_BUSY : 0) |
					(send_source ? ELP_REMOTE_SEND_SOURCE
						     : 0),
				&res)
		      : elp_build(cat, &opts, &res);
	cli_release_errors(cli,
			   err && res && res->build_id ? res->reason : NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	elp_catalogue_close(cat);

	if (json && res) {
		struct elp_json j = { 0 };

		print_json(&j, res);
		cli_json_done(&j);
	}
	if (!err) {
		if (!json)
			printf("%s\n", res->output_path ? res->output_path
							: res->artefact_path);
		rc = 0;
	} else {
		if (res && res->build_id)
			report_failure(cli, res);
		rc = res && res->build_id && strcmp(res->status, "refused") == 0
			     ? EXIT_REFUSED
			     : 1;
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
	free(builders); /* pointers into builder_args or conf_builders */
	for (i = 0; builder_args && builder_args[i]; i++)
		free(builder_args[i]);
	free(builder_args);
	free(conf_builders);
	free(extra); /* pointers into extra_args */
	for (i = 0; extra_args && extra_args[i]; i++)
		free(extra_args[i]);
	free(extra_args);
	for (i = 0; kernels && kernels[i]; i++)
		free(kernels[i]);
	free(kernels);
	free(name);
	free(output);
	free(cc);
	free(cache);
	return rc;
}

static int print_summary(const struct elp_build_summary *b, void *data)
{
	struct cli_list *list = data;
	char id[24], sha[13] = "-";

	if (cli_list_json(list)) {
		struct elp_json *j = cli_list_json(list);

		elp_json_object(j, NULL);
		elp_json_int(j, "id", b->id);
		elp_json_int(j, "created_at", b->created_at);
		elp_json_str(j, "kernel", b->kernel);
		elp_json_csv(j, "patches", b->patches);
		elp_json_str(j, "status", b->status);
		elp_json_str(j, "module", b->module);
		elp_json_str(j, "sha256", b->sha256);
		elp_json_str(j, "verified", b->verified);
		elp_json_csv(j, "applied", b->applied);
		elp_json_end(j);
		return 0;
	}
	snprintf(id, sizeof(id), "%lld", (long long)b->id);
	if (b->sha256)
		snprintf(sha, sizeof(sha), "%.12s", b->sha256);
	{
		const char *cells[] = {
			id,
			b->kernel,
			b->patches ? b->patches : "-",
			b->status,
			b->module,
			sha,
			b->verified ? b->verified : "-",
			b->applied ? b->applied : "-",
		};

		cli_list_row(list, cells);
	}
	return 0;
}

static int build_list(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "ID",	   "KERNEL", "PATCHES",
					       "STATUS",   "MODULE", "SHA256",
					       "VERIFIED", "APPLIED" };
	static const char *const statuses[] = { "succeeded", "failed",
						"refused", "running", NULL };
	struct elp_builds_filter filter = { 0 };
	char *kernel = NULL, *patch = NULL, *status = NULL;
	struct elp_catalogue *cat;
	struct cli_list list;
	int limit = 0, json = 0, rc;
	poptContext pc;
	bool done;
	size_t i;
	struct poptOption options[] = {
		{ "kernel", 'k', POPT_ARG_STRING, &kernel, 0,
		  "only builds for this kernel (name, id or release)",
		  "KERNEL" },
		{ "patch", 'p', POPT_ARG_STRING, &patch, 0,
		  "only builds carrying this patch (name or id)", "PATCH" },
		{ "status", 0, POPT_ARG_STRING, &status, 0,
		  "only builds that succeeded, failed, were refused or are running",
		  "STATUS" },
		{ "limit", 0, POPT_ARG_INT, &limit, 0, "only the newest N",
		  "N" },
		{ "json", 0, POPT_ARG_NONE, &json, 0, "print a JSON array",
		  NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_none(
		"[--kernel KERNEL] [--patch PATCH] [--status STATUS] [--limit N] [--json]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		goto out_args;
	for (i = 0; status && statuses[i]; i++)
		if (strcmp(status, statuses[i]) == 0)
			break;
	if (status && !statuses[i])
		rc = cli_usage_error(
			pc,
			"invalid --status '%s': expected succeeded, failed, refused or running",
			status);
	else if (limit < 0)
		rc = cli_usage_error(pc, "invalid --limit %d", limit);
	if (rc)
		goto out;
	cli->json = cli->json || json;
	filter.kernel = kernel;
	filter.patch = patch;
	filter.status = status;
	filter.limit = limit;
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	cli_list_begin(&list, cli, headers, 8);
	if (elp_builds_list(cat, &filter, print_summary, &list) == 0)
		rc = 0;
	cli_list_end(&list);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
out_args:
	free(kernel);
	free(patch);
	free(status);
	return rc;
}

static void print_info_json(const struct elp_build_info *b)
{
	struct elp_json js = { 0 }, *j = &js;
	size_t i;

	elp_json_object(j, NULL);
	elp_json_int(j, "id", b->id);
	elp_json_str(j, "kernel", b->kernel);
	elp_json_str(j, "kernel_name", b->kernel_name);
	elp_json_str(j, "module", b->module);
	elp_json_str(j, "status", b->status);
	elp_json_str(j, "reason", b->reason);
	elp_json_bool(j, "cumulative", b->cumulative);
	elp_json_str(j, "artefact", b->artefact_path);
	elp_json_str(j, "sha256", b->sha256);
	elp_json_str(j, "inputs_sha256", b->inputs_sha256);
	elp_json_str(j, "log", b->log_path);
	elp_json_str(j, "verified", b->verified);
	elp_json_str(j, "verify_log", b->verify_log);
	elp_json_csv(j, "applied", b->applied);
	elp_json_str(j, "host", b->builder_host);
	elp_json_str(j, "backend", b->backend);
	elp_json_int(j, "created_at", b->created_at);
	if (b->duration_ms >= 0)
		elp_json_int(j, "duration_ms", b->duration_ms);
	else
		elp_json_null(j, "duration_ms");
	elp_json_array(j, "inputs");
	for (i = 0; i < b->nr_inputs; i++) {
		elp_json_object(j, NULL);
		elp_json_str(j, "kind", b->inputs[i].kind);
		elp_json_str(j, "name", b->inputs[i].name);
		elp_json_str(j, "sha256", b->inputs[i].sha256);
		elp_json_end(j);
	}
	elp_json_end(j);
	elp_json_array(j, "passes");
	for (i = 0; i < b->nr_stages; i++) {
		elp_json_object(j, NULL);
		elp_json_str(j, "name", b->stages[i].stage);
		elp_json_int(j, "ms", b->stages[i].ms);
		elp_json_end(j);
	}
	elp_json_end(j);
	elp_json_end(j);
	cli_json_done(j);
}

static void print_field(const char *name, const char *value)
{
	printf("%-14s %s\n", name, value && *value ? value : "-");
}

static void print_info(const struct elp_build_info *b)
{
	char when[32], num[48];
	size_t i;

	format_time(b->created_at, when, sizeof(when));
	snprintf(num, sizeof(num), "%lld", (long long)b->id);
	print_field("build", num);
	print_field("status", b->status);
	if (b->reason)
		print_field("reason", b->reason);
	print_field("kernel", b->kernel);
	print_field("module", b->module);
	print_field("cumulative", b->cumulative ? "yes" : "no");
	print_field("created", when);
	if (b->duration_ms >= 0) {
		snprintf(num, sizeof(num), "%lld ms",
			 (long long)b->duration_ms);
		print_field("duration", num);
	}
	print_field("host", b->builder_host);
	print_field("backend", b->backend);
	print_field("module file", b->artefact_path);
	print_field("sha256", b->sha256);
	print_field("verified", b->verified);
	if (b->verify_log)
		print_field("verify log", b->verify_log);
	print_field("applied on", b->applied);
	print_field("log", b->log_path);
	print_field("inputs sha256", b->inputs_sha256);
	puts("inputs:");
	for (i = 0; i < b->nr_inputs; i++)
		printf("  %-10s %s%s%s\n", b->inputs[i].kind, b->inputs[i].name,
		       b->inputs[i].sha256 ? "  sha256 " : "",
		       b->inputs[i].sha256 ? b->inputs[i].sha256 : "");
	puts("passes:");
	for (i = 0; i < b->nr_stages; i++)
		printf("  %-18s %6lld ms\n", b->stages[i].stage,
		       (long long)b->stages[i].ms);
}

static int build_show(struct cli *cli, int argc, const char **argv)
{
	struct elp_build_info *info;
	struct elp_catalogue *cat;
	const char *spec;
	int json = 0, rc;
	long long id;
	char *end;
	poptContext pc;
	bool done;
	struct poptOption options[] = { { "json", 0, POPT_ARG_NONE, &json, 0,
					  "print a JSON object", NULL },
					POPT_TABLEEND };

	rc = cli_parse_one("[--json] ID", options, argc, argv, &pc, &spec,
			   &done);
	if (rc || done)
		return rc;
	errno = 0;
	id = strtoll(spec, &end, 10);
	if (errno || end == spec || *end || id <= 0) {
		rc = cli_usage_error(pc, "invalid build id '%s'", spec);
		goto out;
	}
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	if (elp_build_info_get(cat, (int64_t)id, &info) == 0) {
		if (json || cli->json)
			print_info_json(info);
		else
			print_info(info);
		elp_build_info_free(info);
		rc = 0;
	}
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static const struct command build_subcommands[] = {
	{ "list", build_list, "the catalogued builds, oldest first" },
	{ "show", build_show,
	  "one build: inputs and their sha256, passes, log, reason" },
	{ NULL, NULL, NULL },
};

/*
 * "build list", "build show ID": a word right after "build" is a
 * subcommand; building takes options only (patches come with --patch), so
 * neither form can be read as the other.
 */
static int run_build(struct cli *cli, int argc, const char **argv)
{
	const struct command *c;

	if (argc >= 2 && argv[1][0] != '-') {
		for (c = build_subcommands; c->name; c++)
			if (strcmp(c->name, argv[1]) == 0)
				return cli_dispatch(cli, "build",
						    build_subcommands, argc,
						    argv);
		cli_error(
			"'%s' is not an 'elivepatch build' subcommand (list, show); to build a patch: elivepatch build --patch %s",
			argv[1], argv[1]);
		return EXIT_USAGE;
	}
	return build_run(cli, argc, argv);
}

const struct command cmd_build = {
	"build",
	run_build,
	"build a livepatch module from source patches; list, show builds",
};
