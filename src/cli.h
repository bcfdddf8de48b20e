/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The command-line half: shared by src/elivepatch.c and src/cmd-*.c. */
#ifndef ELP_CLI_H
#define ELP_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <popt.h>

#include "lib/catalogue.h"
#include "lib/elp.h"
#include "lib/json.h"

#define EXIT_USAGE 129
/* a build refused: the patch cannot be livepatched safely (not a failure) */
#define EXIT_REFUSED 2

struct elp_conf;

struct cli {
	struct elp_ctx *ctx;
	const char *db_path; /* resolved catalogue path */
	bool json;
	int verbose;
	bool quiet;
	bool tty; /* stdout is a terminal: tables and progress */
	/* errors the library logs are kept, not printed: see cli_hold_errors */
	bool hold_errors;
	char **held_errors;
	size_t nr_held_errors;
	const struct elp_conf *conf; /* elivepatch.conf, never NULL in commands */
};

struct command {
	const char *name;
	int (*fn)(struct cli *cli, int argc, const char **argv);
	const char *help;
};

/* One entry per src/cmd-*.c */
extern const struct command cmd_kernel;
extern const struct command cmd_toolchain;
extern const struct command cmd_patch;
extern const struct command cmd_history;
extern const struct command cmd_build;
extern const struct command cmd_apply;
extern const struct command cmd_revert;
extern const struct command cmd_status;
extern const struct command cmd_verify;
extern const struct command cmd_sign;
extern const struct command cmd_queue;
extern const struct command cmd_builder;
extern const struct command cmd_overlay;
extern const struct command cmd_cve;

/* "error: ..." on stderr; never for data */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse a subcommand's options with popt.  On --help prints usage and
 * returns 0 with *done set; on a usage error prints it and returns
 * EXIT_USAGE.  Otherwise leaves the context for poptGetArg().
 */
int cli_parse(const char *usage, const struct poptOption *options, int argc,
	      const char **argv, poptContext *pc, bool *done);
/* cli_parse, then exactly no / one positional argument (usage error else). */
int cli_parse_none(const char *usage, const struct poptOption *options,
		   int argc, const char **argv, poptContext *pc, bool *done);
int cli_parse_one(const char *usage, const struct poptOption *options, int argc,
		  const char **argv, poptContext *pc, const char **arg,
		  bool *done);
/*
 * Keep the library's error messages until cli_release_errors(), which
 * prints them except the one equal to skip (NULL: none): a command that
 * ends with a summary line naming the cause prints that cause once, last.
 */
void cli_hold_errors(struct cli *cli);
void cli_release_errors(struct cli *cli, const char *skip);
int cli_usage_error(poptContext pc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Open the catalogue named by --db / ELIVEPATCH_DB / the default. */
int cli_open_catalogue(struct cli *cli, unsigned int flags,
		       struct elp_catalogue **cat);

/* Dispatch "<group> <sub>" to a table of subcommands. */
int cli_dispatch(struct cli *cli, const char *group, const struct command *subs,
		 int argc, const char **argv);

/* Output helpers: tables on a TTY, tab-separated otherwise. */
struct table;
struct table *table_new(const char *const *headers, int ncols);
/* 0, or -ENOMEM: the row is not added, and table_print() says so. */
int table_add(struct table *t, const char *const *cells);
int table_print(struct table *t, FILE *out, bool tty);
void table_free(struct table *t);

/*
 * A listing: a table (see above) or, with --json, one array of objects,
 * one a line.
 */
struct cli_list {
	struct cli *cli;
	struct table *table;
	struct elp_json json;
};
void cli_list_begin(struct cli_list *list, struct cli *cli,
		    const char *const *headers, int ncols);
/* With --json: the writer to add the next element to; else NULL. */
struct elp_json *cli_list_json(struct cli_list *list);
void cli_list_row(struct cli_list *list, const char *const *cells);
void cli_list_end(struct cli_list *list);

/* Print what j holds and a newline ("out of memory" when writing it
 * failed), then empty it for the next value. */
void cli_json_print(struct elp_json *j);
/* The same for the last value: j is released. */
void cli_json_done(struct elp_json *j);

/* "2026-11-30 03:41:44" in UTC */
void format_time(int64_t t, char *buf, size_t len);

#endif
