// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch: global options and the command table; nothing else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/config.h"
#include "lib/util.h"

static const struct command *const commands[] = {
	&cmd_kernel, &cmd_toolchain, &cmd_patch,   &cmd_build,	&cmd_history,
	&cmd_apply,  &cmd_revert,    &cmd_status,  &cmd_verify, &cmd_sign,
	&cmd_queue,  &cmd_builder,   &cmd_overlay, &cmd_cve,
};

#define NR_COMMANDS ARRAY_SIZE(commands)

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	size_t i;

	fputs("usage: elivepatch [--config FILE] [--db PATH] [--json] [-v] [-q] <command> [<args>]\n"
	      "\n"
	      "Build Linux kernel livepatch modules from source fixes and keep a\n"
	      "catalogue of kernels, patches, builds and what was applied where.\n"
	      "\n"
	      "commands:\n",
	      out);
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name,
			commands[i]->help);
	fputs("  help       show help for a command\n"
	      "\n"
	      "options:\n"
	      "  --config FILE  configuration (default: $ELIVEPATCH_CONFIG, else\n"
	      "              /etc/elivepatch.conf when it exists)\n"
	      "  --db PATH   catalogue file (default: $ELIVEPATCH_DB, else\n"
	      "              /var/lib/elivepatch/catalogue.db for root,\n"
	      "              $XDG_STATE_HOME/elivepatch/catalogue.db otherwise)\n"
	      "  --json      machine-readable output\n"
	      "  -v          more messages (repeat for debug)\n"
	      "  -q          no progress messages\n"
	      "  --version   print the version (with -v: the data directory)\n"
	      "\n"
	      "exit status: 0 success, 1 failure, 2 a build refused (the patch\n"
	      "cannot be livepatched safely), 129 usage error.\n"
	      "\n"
	      "'elivepatch help <command>' shows a command's options.\n",
	      out);
}

static void log_to_cli(void *data, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	struct cli *cli = data;

	(void)file;
	(void)line;
	if (priority <= ELP_LOG_ERR && cli->hold_errors) {
		char **held = realloc(cli->held_errors, (cli->nr_held_errors +
							 1) * sizeof(*held));
		char *msg = NULL;
		va_list copy;
		int n;

		if (held) {
			cli->held_errors = held;
			va_copy(copy, args);
			n = vasprintf(&msg, format, copy);
			va_end(copy);
			if (n >= 0) {
				held[cli->nr_held_errors++] = msg;
				return;
			}
		}
		/* out of memory: print it now rather than lose it */
	}
	if (priority <= ELP_LOG_ERR)
		fputs("error: ", stderr);
	else if (priority == ELP_LOG_WARNING)
		fputs("warning: ", stderr);
	else if (priority >= ELP_LOG_DEBUG)
		fprintf(stderr, "debug: %s: ", fn);
	else if (cli->quiet)
		return;
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

static char *default_db_path(void)
{
	const char *env = getenv("ELIVEPATCH_DB");
	const char *state, *home;
	char *path;

	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/lib/elivepatch/catalogue.db");
	state = getenv("XDG_STATE_HOME");
	if (state && *state) {
		if (asprintf(&path, "%s/elivepatch/catalogue.db", state) < 0)
			return NULL;
		return path;
	}
	home = getenv("HOME");
	if (asprintf(&path, "%s/.local/state/elivepatch/catalogue.db",
		     home ? home : "") < 0)
		return NULL;
	return path;
}

/*
 * The library never reads the environment: the settings of its context
 * come from here, once (after the configuration file filled the variables
 * the environment leaves unset).
 */
static int settings_from_env(struct elp_ctx *ctx)
{
	static const struct {
		const char *var;
		enum elp_setting setting;
	} vars[] = {
		{ "ELIVEPATCH_ROOT", ELP_SET_ROOT },
		{ "ELIVEPATCH_DATADIR", ELP_SET_DATADIR },
		{ "ELIVEPATCH_CACHE", ELP_SET_CACHE_DIR },
		{ "ELIVEPATCH_SIGN_KEY", ELP_SET_SIGN_KEY },
		{ "ELIVEPATCH_SIGN_CERT", ELP_SET_SIGN_CERT },
		{ "ELIVEPATCH_SSH", ELP_SET_SSH },
		{ "ELIVEPATCH_BWRAP", ELP_SET_BWRAP },
		{ "ELIVEPATCH_FAULT", ELP_SET_FAULT },
	};
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *cache = NULL;
	size_t i;
	int err = 0;

	for (i = 0; i < ARRAY_SIZE(vars) && !err; i++)
		err = elp_set(ctx, vars[i].setting, getenv(vars[i].var));
	/* a user's cache: $XDG_CACHE_HOME/elivepatch, ~/.cache/elivepatch */
	if (!err && !elp_get(ctx, ELP_SET_CACHE_DIR) && geteuid() != 0) {
		if (xdg && *xdg ? asprintf(&cache, "%s/elivepatch", xdg) < 0
				: asprintf(&cache, "%s/.cache/elivepatch",
					   home ? home : "/tmp") < 0)
			cache = NULL;
		err = cache ? elp_set(ctx, ELP_SET_CACHE_DIR, cache) : -ENOMEM;
		free(cache);
	}
	if (err)
		cli_error("out of memory");
	return err ? 1 : 0;
}

/*
 * The configuration file fills the ELIVEPATCH_* variables the environment
 * leaves unset, so: command line > environment > file > defaults.
 */
static int load_config(struct cli *cli, const char *arg, struct elp_conf **conf)
{
	const char *env = getenv("ELIVEPATCH_CONFIG");
	bool chosen = arg || (env && *env);
	const char *path = arg ? arg : chosen ? env : ELP_CONF_DEFAULT_PATH;
	static const char *const vars[] = {
		"ELIVEPATCH_DB",	"ELIVEPATCH_CACHE",
		"ELIVEPATCH_DATADIR",	"ELIVEPATCH_SIGN_KEY",
		"ELIVEPATCH_SIGN_CERT", "ELIVEPATCH_AUTO_APPLY"
	};
	const char *values[ARRAY_SIZE(vars)];
	size_t i;

	if (elp_conf_load(cli->ctx, path, !chosen, conf))
		return 1;
	values[0] = (*conf)->catalogue;
	values[1] = (*conf)->cache_dir;
	values[2] = (*conf)->datadir;
	values[3] = (*conf)->signing_key;
	values[4] = (*conf)->signing_cert;
	values[5] = (*conf)->auto_apply;
	for (i = 0; i < ARRAY_SIZE(vars); i++) {
		const char *cur = getenv(vars[i]);

		if (values[i] && !(cur && *cur) &&
		    setenv(vars[i], values[i], 1) < 0) {
			cli_error("cannot set %s: %s", vars[i],
				  strerror(errno));
			return 1;
		}
	}
	cli->conf = *conf;
	return 0;
}

static int run_help(struct cli *cli, int argc, const char **argv)
{
	const struct command *cmd;
	const char **sub_argv;
	int i, rc;

	if (argc < 2) {
		print_usage(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		cli_error("unknown command '%s'; see 'elivepatch --help'",
			  argv[1]);
		return EXIT_USAGE;
	}
	/* "help kernel patch add" -> "kernel patch add --help" */
	sub_argv = calloc((size_t)argc + 1, sizeof(*sub_argv));
	if (!sub_argv) {
		cli_error("out of memory");
		return 1;
	}
	for (i = 1; i < argc; i++)
		sub_argv[i - 1] = argv[i];
	sub_argv[0] = cmd->name;
	sub_argv[argc - 1] = "--help";
	rc = cmd->fn(cli, argc, sub_argv);
	free(sub_argv);
	return rc;
}

static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "error: cannot write to standard output: %s\n",
			strerror(errno));
		return status ? status : 1;
	}
	return status;
}

int main(int argc, const char **argv)
{
	struct cli cli = { 0 };
	char *db_arg = NULL, *config_arg = NULL;
	struct elp_conf *conf = NULL;
	int version = 0, faults = 0, status, rc;
	const struct command *cmd;
	const char **rest;
	char *db_path;
	poptContext pc;
	int nrest = 0;
	struct poptOption options[] = {
		{ "db", 0, POPT_ARG_STRING, &db_arg, 0, NULL, NULL },
		{ "config", 0, POPT_ARG_STRING, &config_arg, 0, NULL, NULL },
		{ "json", 0, POPT_ARG_NONE, &cli.json, 0, NULL, NULL },
		{ "verbose", 'v', POPT_ARG_NONE, NULL, 'v', NULL, NULL },
		{ "quiet", 'q', POPT_ARG_NONE, &cli.quiet, 0, NULL, NULL },
		{ "version", 0, POPT_ARG_NONE, &version, 0, NULL, NULL },
		{ "help", 'h', POPT_ARG_NONE, NULL, 'h', NULL, NULL },
		/* crash tests: honour $ELIVEPATCH_FAULT (not in --help) */
		{ "fault-injection", 0, POPT_ARG_NONE, &faults, 0, NULL, NULL },
		POPT_TABLEEND
	};

	/* global options end at the first non-option: the command */
	pc = poptGetContext("elivepatch", argc, argv, options,
			    POPT_CONTEXT_POSIXMEHARDER);
	while ((rc = poptGetNextOpt(pc)) > 0) {
		if (rc == 'v') {
			cli.verbose++;
		} else if (rc == 'h') {
			print_usage(stdout);
			poptFreeContext(pc);
			return finish_stdout(0);
		}
	}
	if (rc < -1) {
		cli_error("%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			  poptStrerror(rc));
		print_usage(stderr);
		poptFreeContext(pc);
		free(db_arg);
		free(config_arg);
		return EXIT_USAGE;
	}
	if (version) {
		printf("elivepatch %s\n", ELP_VERSION);
		if (cli.verbose) {
			struct elp_ctx *ctx = elp_ctx_new();

			if (ctx && !settings_from_env(ctx))
				printf("data directory: %s\n",
				       elp_get_datadir(ctx));
			elp_ctx_free(ctx);
		}
		poptFreeContext(pc);
		free(db_arg);
		free(config_arg);
		return finish_stdout(0);
	}
	rest = poptGetArgs(pc);
	while (rest && rest[nrest])
		nrest++;
	if (nrest == 0) {
		print_usage(stderr);
		poptFreeContext(pc);
		free(db_arg);
		free(config_arg);
		return EXIT_USAGE;
	}

	cli.tty = isatty(STDOUT_FILENO);
	cli.ctx = elp_ctx_new();
	if (!cli.ctx) {
		cli_error("out of memory");
		free(db_arg);
		free(config_arg);
		poptFreeContext(pc);
		return 1;
	}
	elp_set_log_fn(cli.ctx, log_to_cli, &cli);
	elp_set_fault_injection(cli.ctx, faults);
	elp_set_log_priority(cli.ctx, cli.verbose >= 2	 ? ELP_LOG_DEBUG
				      : cli.verbose == 1 ? ELP_LOG_INFO
							 : ELP_LOG_NOTICE);
	if (load_config(&cli, config_arg, &conf) ||
	    settings_from_env(cli.ctx)) {
		status = 1;
		db_path = NULL;
		goto out;
	}
	db_path = db_arg ? strdup(db_arg) : default_db_path();
	cli.db_path = db_path;
	if (!db_path) {
		cli_error("out of memory");
		status = 1;
		goto out;
	}

	if (strcmp(rest[0], "help") == 0) {
		status = run_help(&cli, nrest, rest);
	} else if ((cmd = find_command(rest[0])) != NULL) {
		status = cmd->fn(&cli, nrest, rest);
	} else {
		cli_error(
			"'%s' is not an elivepatch command; see 'elivepatch --help'",
			rest[0]);
		status = EXIT_USAGE;
	}

out:
	elp_conf_free(conf);
	elp_ctx_free(cli.ctx);
	free(db_path);
	free(db_arg);
	free(config_arg);
	poptFreeContext(pc);
	return finish_stdout(status);
}
