// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch builder serve: build what a client sends over ssh. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/config.h"
#include "lib/remote.h"

/*
 * Under a restricted key (command="elivepatch builder serve",restrict)
 * sshd runs that command whatever the client asked; the one thing a client
 * may add is --status, which it asks for as the command it sends.
 */
static bool ssh_asks_status(void)
{
	const char *orig = getenv("SSH_ORIGINAL_COMMAND");
	size_t n;

	if (!orig)
		return false;
	n = strlen(orig);
	return n >= 8 && strcmp(orig + n - 8, "--status") == 0 &&
	       strstr(orig, "builder serve");
}

#define NOT_GIVEN INT_MIN

/* DAYS of --keep-sources or --older-than, else (NOT_GIVEN) the
 * configuration's builder-keep-sources */
static int keep_days(struct cli *cli, poptContext pc, const char *option,
		     int days, unsigned int *out)
{
	if (days != NOT_GIVEN && (days < 0 || days > 99999))
		return cli_usage_error(
			pc, "invalid %s %d: expected 0 to 99999 days", option,
			days);
	*out = days != NOT_GIVEN
		       ? (unsigned int)days
		       : elp_conf_days(cli->conf->builder_keep_sources,
				       ELP_BUILDER_KEEP_SOURCES_DAYS);
	return 0;
}

static int builder_serve(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	char *cache = NULL, *text = NULL;
	int status = 0, sandbox = 0, keep = NOT_GIVEN, rc, err;
	unsigned int days = 0;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "status", 0, POPT_ARG_NONE, &status, 0,
		  "print how busy this builder is (running builds, load) and exit",
		  NULL },
		{ "cache", 0, POPT_ARG_STRING, &cache, 0,
		  "cache directory (default: $ELIVEPATCH_CACHE)", "DIR" },
		{ "sandbox", 0, POPT_ARG_NONE, &sandbox, 0,
		  "build every request in a bubblewrap sandbox (default: 'sandbox' of elivepatch.conf)",
		  NULL },
		{ "keep-sources", 0, POPT_ARG_INT, &keep, 0,
		  "after each request, remove the kernel sources clients sent that no request used for DAYS days, 0: never (default: 'builder-keep-sources' of elivepatch.conf, else 30)",
		  "DAYS" },
		POPT_TABLEEND
	};

	rc = cli_parse_none(
		"[--status] [--cache DIR] [--sandbox] [--keep-sources DAYS]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		goto out_args;
	rc = keep_days(cli, pc, "--keep-sources", keep, &days);
	if (rc)
		goto out;
	rc = 1;
	/* stdout carries the result bundle: messages go to stderr only */
	if (!cli->quiet && elp_get_log_priority(cli->ctx) < ELP_LOG_INFO)
		elp_set_log_priority(cli->ctx, ELP_LOG_INFO);
	if (!status && isatty(STDIN_FILENO)) {
		cli_error(
			"'builder serve' reads a build bundle on its stdin; it is run by 'elivepatch build --builder ssh://HOST' over ssh");
		rc = EXIT_USAGE;
		goto out;
	}
	if (cli_open_catalogue(cli, status ? ELP_CATALOGUE_READ : 0, &cat))
		goto out;
	if (status || ssh_asks_status()) {
		err = elp_builder_status(cat, &text);
		if (!err)
			fputs(text, stdout);
	} else {
		err = elp_builder_serve(
			cat, STDIN_FILENO, STDOUT_FILENO, cache,
			sandbox || elp_conf_yes(cli->conf->sandbox)
				? ELP_BUILDER_SANDBOX
				: 0,
			days);
	}
	elp_catalogue_close(cat);
	rc = !err	       ? 0
	     : err == -ENOENT  ? ELP_BUILDER_UNAVAILABLE
	     : err == -ENODATA ? ELP_BUILDER_NEEDS_SOURCE
			       : 1;
out:
	poptFreeContext(pc);
out_args:
	free(cache);
	free(text);
	return rc;
}

static int builder_prune(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	char *cache = NULL;
	int older = NOT_GIVEN, rc;
	unsigned int days = 0, removed = 0;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "older-than", 0, POPT_ARG_INT, &older, 0,
		  "remove the kernel sources clients sent that no request used for DAYS days, 0: every one not in use (default: 'builder-keep-sources' of elivepatch.conf, else 30)",
		  "DAYS" },
		{ "cache", 0, POPT_ARG_STRING, &cache, 0,
		  "cache directory (default: $ELIVEPATCH_CACHE)", "DIR" },
		POPT_TABLEEND
	};

	rc = cli_parse_none("[--older-than DAYS] [--cache DIR]", options, argc,
			    argv, &pc, &done);
	if (rc || done)
		goto out_args;
	rc = keep_days(cli, pc, "--older-than", older, &days);
	if (rc)
		goto out;
	if (older == NOT_GIVEN && !days) {
		printf("kept every kernel source: builder-keep-sources is 0 in '%s'\n",
		       cli->conf->path);
		goto out;
	}
	if (!cli->quiet && elp_get_log_priority(cli->ctx) < ELP_LOG_INFO)
		elp_set_log_priority(cli->ctx, ELP_LOG_INFO);
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	if (!elp_builder_prune(cat, cache, days, &removed)) {
		rc = 0;
		printf("removed %u kernel source%s unused for %u day%s\n",
		       removed, removed == 1 ? "" : "s", days,
		       days == 1 ? "" : "s");
	}
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
out_args:
	free(cache);
	return rc;
}

static const struct command builder_subcommands[] = {
	{ "serve", builder_serve,
	  "build the bundle read on stdin, write the result bundle to stdout (run over ssh)" },
	{ "prune", builder_prune,
	  "remove the kernel sources clients sent that no request used lately, with their kernels" },
	{ NULL, NULL, NULL },
};

static int run_builder(struct cli *cli, int argc, const char **argv)
{
	return cli_dispatch(cli, "builder", builder_subcommands, argc, argv);
}

const struct command cmd_builder = {
	"builder",
	run_builder,
	"serve builds for other hosts over ssh",
};
