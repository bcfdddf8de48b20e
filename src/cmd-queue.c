// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch queue: work queued by hooks and timers, run one job at a time. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/config.h"
#include "lib/jobs.h"
#include "lib/util.h"

static volatile sig_atomic_t queue_cancel;

static void on_signal(int sig)
{
	(void)sig;
	queue_cancel = 1;
}

/* A directory argument, absolute; NULL (reported) when it is none. */
static char *directory(const char *what, const char *path)
{
	char *abs = elp_abspath(path);

	if (!abs || !elp_is_dir(abs)) {
		cli_error("%s '%s': %s", what, path,
			  abs ? strerror(ENOTDIR) : strerror(errno));
		free(abs);
		return NULL;
	}
	return abs;
}

/* --overlay NAME --if-configured: is NAME the configured patch-overlay? */
static bool overlay_configured(struct cli *cli, const char *name)
{
	const char *want = cli->conf ? cli->conf->patch_overlay : NULL;

	return want && strcmp(want, name) == 0;
}

static int queue_add(struct cli *cli, int argc, const char **argv)
{
	char *source = NULL, *release = NULL, *image = NULL, *overlay = NULL;
	char *location = NULL, *kernel = NULL, *patch = NULL, *origin = NULL;
	char *abs_source = NULL, *abs_location = NULL, *abs_image = NULL;
	struct elp_job_request req = { 0 };
	struct elp_catalogue *cat;
	int if_configured = 0, rc, err;
	int64_t id = 0;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "kernel-source", 0, POPT_ARG_STRING, &source, 0,
		  "kernel: a kernel source directory", "DIR" },
		{ "kernel-release", 0, POPT_ARG_STRING, &release, 0,
		  "kernel: an installed kernel (/lib/modules/RELEASE)",
		  "RELEASE" },
		{ "image", 0, POPT_ARG_STRING, &image, 0,
		  "kernel: its image, with --kernel-release", "FILE" },
		{ "overlay", 0, POPT_ARG_STRING, &overlay, 0,
		  "overlay: the Portage repository's name", "NAME" },
		{ "location", 0, POPT_ARG_STRING, &location, 0,
		  "overlay: its directory", "DIR" },
		{ "if-configured", 0, POPT_ARG_NONE, &if_configured, 0,
		  "overlay: queue nothing unless NAME is the configured patch-overlay",
		  NULL },
		{ "kernel", 0, POPT_ARG_STRING, &kernel, 0,
		  "build: the catalogued kernel", "KERNEL" },
		{ "patch", 0, POPT_ARG_STRING, &patch, 0,
		  "build: the catalogued patch", "PATCH" },
		{ "origin", 0, POPT_ARG_STRING, &origin, 0,
		  "who queues it (shown by 'queue list')", "TEXT" },
		POPT_TABLEEND
	};

	rc = cli_parse_one("kernel|overlay|build [OPTION...] --origin TEXT",
			   options, argc, argv, &pc, &req.kind, &done);
	if (rc || done)
		goto out_opts;
	if (strcmp(req.kind, "kernel") != 0 &&
	    strcmp(req.kind, "overlay") != 0 &&
	    strcmp(req.kind, "build") != 0) {
		rc = cli_usage_error(
			pc, "unknown job kind '%s' (kernel, overlay or build)",
			req.kind);
		goto out;
	}
	if (if_configured && !overlay_configured(cli, overlay ? overlay : "")) {
		/* a sync of any other repository: nothing to do */
		rc = 0;
		goto out;
	}
	rc = 1;
	if (source && !(abs_source = directory("kernel source", source)))
		goto out;
	if (location &&
	    !(abs_location = directory("overlay location", location)))
		goto out;
	if (image) {
		abs_image = elp_abspath(image);
		if (!abs_image || !elp_is_file(abs_image)) {
			cli_error("kernel image '%s': %s", image,
				  strerror(abs_image ? EISDIR : errno));
			goto out;
		}
	}
	req.origin = origin ? origin : "command line";
	req.source = abs_source;
	req.release = release;
	req.image = abs_image;
	req.overlay = overlay;
	req.location = abs_location;
	req.kernel = kernel;
	req.patch = patch;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	err = elp_job_add(cat, &req, &id);
	elp_catalogue_close(cat);
	if (err == -EINVAL) {
		rc = EXIT_USAGE;
	} else if (err >= 0) {
		rc = 0;
		if (cli->json) {
			struct elp_json js = { 0 }, *j = &js;

			elp_json_object(j, NULL);
			elp_json_int(j, "id", id);
			elp_json_bool(j, "queued", !err);
			elp_json_end(j);
			cli_json_done(j);
		} else if (err)
			printf("job %lld is already queued\n", (long long)id);
		else
			printf("queued job %lld\n", (long long)id);
	}
out:
	poptFreeContext(pc);
out_opts:
	free(abs_source);
	free(abs_location);
	free(abs_image);
	free(source);
	free(release);
	free(image);
	free(overlay);
	free(location);
	free(kernel);
	free(patch);
	free(origin);
	return rc;
}

static void print_job_json(struct elp_json *j, const struct elp_job *job)
{
	char *subject = elp_job_subject(job);

	elp_json_object(j, NULL);
	elp_json_int(j, "id", job->id);
	elp_json_str(j, "kind", job->kind);
	elp_json_str(j, "state", job->state);
	elp_json_str(j, "subject", subject);
	elp_json_str(j, "origin", job->origin);
	/* a well-formed row's arguments are a JSON object: kept as is */
	elp_json_raw(j, "arguments", job->arguments);
	elp_json_str(j, "error", job->error);
	elp_json_int(j, "created", job->created_at);
	elp_json_id(j, "started", job->started_at);
	elp_json_id(j, "finished", job->finished_at);
	elp_json_end(j);
	free(subject);
}

static int list_one(const struct elp_job *job, void *data)
{
	struct cli_list *list = data;
	char id[24], created[32], *subject;

	if (cli_list_json(list)) {
		print_job_json(cli_list_json(list), job);
		return 0;
	}
	subject = elp_job_subject(job);
	snprintf(id, sizeof(id), "%lld", (long long)job->id);
	format_time(job->created_at, created, sizeof(created));
	{
		const char *cells[] = { id,
					job->state,
					job->kind,
					subject ? subject : "-",
					job->origin ? job->origin : "-",
					created,
					job->error ? job->error : "" };

		cli_list_row(list, cells);
	}
	free(subject);
	return 0;
}

static int queue_list(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "ID",	  "STATE",  "KIND",
					       "SUBJECT", "ORIGIN", "QUEUED",
					       "ERROR" };
	struct elp_catalogue *cat;
	struct cli_list list;
	int json = 0, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = { { "json", 0, POPT_ARG_NONE, &json, 0,
					  "print a JSON array", NULL },
					POPT_TABLEEND };

	rc = cli_parse_none("[--json]", options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	poptFreeContext(pc);
	if (json)
		cli->json = true;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		return 1;
	cli_list_begin(&list, cli, headers, 7);
	rc = elp_job_foreach(cat, list_one, &list) < 0 ? 1 : 0;
	cli_list_end(&list);
	elp_catalogue_close(cat);
	return rc;
}

static int queue_clear(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	int finished = 0, all = 0, removed = 0, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "done", 0, POPT_ARG_NONE, &finished, 0,
		  "remove finished jobs, done and failed (the default)", NULL },
		{ "all", 0, POPT_ARG_NONE, &all, 0,
		  "remove every job that is not running, queued ones too",
		  NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_none("[--done|--all]", options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	if (finished && all) {
		rc = cli_usage_error(pc, "--done and --all exclude each other");
		poptFreeContext(pc);
		return rc;
	}
	poptFreeContext(pc);
	if (cli_open_catalogue(cli, 0, &cat))
		return 1;
	rc = elp_job_clear(cat, all, &removed) ? 1 : 0;
	elp_catalogue_close(cat);
	if (!rc && !cli->json)
		printf("removed %d job%s\n", removed, removed == 1 ? "" : "s");
	return rc;
}

static void report_job(const struct elp_job *job)
{
	char *subject = elp_job_subject(job);

	if (strcmp(job->state, "done") == 0)
		printf("job %lld done: %s\n", (long long)job->id,
		       subject ? subject : job->kind);
	else if (strcmp(job->state, "refused") == 0)
		cli_error("job %lld refused: %s: %s", (long long)job->id,
			  subject ? subject : job->kind,
			  job->error ? job->error : "-");
	else
		cli_error("job %lld failed: %s: %s", (long long)job->id,
			  subject ? subject : job->kind,
			  job->error ? job->error : "-");
	fflush(stdout);
	free(subject);
}

static int run_jobs(struct elp_catalogue *cat,
		    const struct elp_job_run_options *opts)
{
	struct elp_job *job;
	int err, failed = 0, refused = 0;

	err = elp_jobs_recover(cat);
	while (err >= 0) {
		err = elp_job_run_next(cat, opts, &job);
		if (err || !job)
			break;
		if (strcmp(job->state, "refused") == 0)
			refused++;
		else if (strcmp(job->state, "done") != 0)
			failed++;
		report_job(job);
		elp_job_free(job);
	}
	if (err == -EINTR) {
		cli_error("interrupted: the running job is queued again");
		return 1;
	}
	/* as build: 1 a failure (ours), else 2 a refusal (the patch's) */
	return err < 0 || failed ? 1 : refused ? 2 : 0;
}

/* One pass over the queue under the lock; 0 also when another runner has it. */
static int run_round(struct cli *cli, struct elp_catalogue *cat, bool wait,
		     const struct elp_job_run_options *opts)
{
	int err, fd, rc;

	err = elp_jobs_lock(cat, wait, &fd);
	if (err == -EAGAIN) {
		fprintf(stderr,
			"another 'elivepatch queue run' is running for '%s'; leaving the queue to it (--wait waits)\n",
			cli->db_path);
		return 0;
	}
	if (err == -EINTR && queue_cancel)
		return 0;
	if (err)
		return 1;
	rc = run_jobs(cat, opts);
	elp_jobs_unlock(fd);
	return rc;
}

/* auto-apply: --[no-]auto-apply, else $ELIVEPATCH_AUTO_APPLY (set from
 * elivepatch.conf when the environment does not), else no */
static int auto_apply_setting(int on, int off, bool *apply)
{
	const char *env = getenv("ELIVEPATCH_AUTO_APPLY");

	*apply = false;
	if (on || off) {
		*apply = on;
		return 0;
	}
	if (!env || !*env || strcmp(env, "no") == 0)
		return 0;
	if (strcmp(env, "yes") == 0) {
		*apply = true;
		return 0;
	}
	cli_error("invalid ELIVEPATCH_AUTO_APPLY '%s': expected yes or no",
		  env);
	return 1;
}

static int queue_run(struct cli *cli, int argc, const char **argv)
{
	struct sigaction sa = { 0 }, old_int, old_term;
	struct elp_job_run_options opts = { .cancel = &queue_cancel };
	struct elp_catalogue *cat;
	int wait = 0, jobs = 0, every = 0, apply = 0, no_apply = 0, rc, i;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "wait", 0, POPT_ARG_NONE, &wait, 0,
		  "wait for another runner to finish instead of leaving",
		  NULL },
		{ "jobs", 'j', POPT_ARG_INT, &jobs, 0,
		  "parallel make jobs for builds (default: CPUs)", "N" },
		{ "every", 0, POPT_ARG_INT, &every, 0,
		  "keep running: look at the queue again every SECONDS until SIGTERM",
		  "SECONDS" },
		{ "auto-apply", 0, POPT_ARG_NONE, &apply, 0,
		  "apply what is built for the running kernel (default: auto-apply in elivepatch.conf, else no)",
		  NULL },
		{ "no-auto-apply", 0, POPT_ARG_NONE, &no_apply, 0,
		  "only build, whatever elivepatch.conf says", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_none(
		"[--wait] [-j N] [--every SECONDS] [--[no-]auto-apply]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	if (jobs < 0 || every < 0) {
		rc = cli_usage_error(pc, "--%s must be positive",
				     jobs < 0 ? "jobs" : "every");
		poptFreeContext(pc);
		return rc;
	}
	if (apply && no_apply) {
		rc = cli_usage_error(
			pc,
			"--auto-apply and --no-auto-apply exclude each other");
		poptFreeContext(pc);
		return rc;
	}
	poptFreeContext(pc);
	if (auto_apply_setting(apply, no_apply, &opts.auto_apply))
		return 1;
	opts.jobs = (unsigned int)jobs;
	opts.sandbox = elp_conf_yes(cli->conf->sandbox);
	if (cli_open_catalogue(cli, 0, &cat))
		return 1;
	/* no SA_RESTART: a signal also ends a wait for the lock */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (;;) {
		rc = run_round(cli, cat, wait || every, &opts);
		if (!every || queue_cancel)
			break;
		/* the lock is free meanwhile: a runner by hand may go */
		for (i = 0; i < every && !queue_cancel; i++)
			sleep(1);
		if (queue_cancel)
			break;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	elp_catalogue_close(cat);
	/* a service told to stop stopped cleanly: a job it was running is
	 * queued again */
	return every && queue_cancel ? 0 : rc;
}

static const struct command subcommands[] = {
	{ "add", queue_add, "queue a job (what the hooks call)" },
	{ "list", queue_list, "list queued, running and finished jobs" },
	{ "clear", queue_clear, "remove finished (or all idle) jobs" },
	{ "run", queue_run, "run the queued jobs, one at a time" },
	{ NULL, NULL, NULL },
};

static int run_queue(struct cli *cli, int argc, const char **argv)
{
	return cli_dispatch(cli, "queue", subcommands, argc, argv);
}

const struct command cmd_queue = {
	"queue",
	run_queue,
	"queue kernel registrations and builds; run them",
};
