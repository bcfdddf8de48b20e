// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers shared by the cmd-*.c files: option parsing, output, errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void vreport(const char *prefix, const char *fmt, va_list args)
{
	fflush(stdout);
	fputs(prefix, stderr);
	/* every caller va_starts args; clang-tidy 14 loses track of it */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vreport("error: ", fmt, args);
	va_end(args);
}

void cli_warn(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vreport("warning: ", fmt, args);
	va_end(args);
}

void cli_hold_errors(struct cli *cli)
{
	cli->hold_errors = true;
}

void cli_release_errors(struct cli *cli, const char *skip)
{
	size_t i;

	cli->hold_errors = false;
	for (i = 0; i < cli->nr_held_errors; i++) {
		if (!skip || strcmp(cli->held_errors[i], skip) != 0)
			cli_error("%s", cli->held_errors[i]);
		free(cli->held_errors[i]);
	}
	free(cli->held_errors);
	cli->held_errors = NULL;
	cli->nr_held_errors = 0;
}

/*
 * The command path ("kernel list") is argv[0] of a subcommand: cli_dispatch()
 * puts it there, so a usage line names the whole command, like git's.
 */
static void print_usage_line(FILE *out, const char *path, const char *usage)
{
	fprintf(out, "usage: elivepatch %s%s%s\n", path, *usage ? " " : "",
		usage);
}

/* The last usage line printed by cli_parse(), for cli_usage_error(). */
static const char *usage_path;
static const char *usage_text;

int cli_usage_error(poptContext pc, const char *fmt, ...)
{
	va_list args;

	(void)pc;
	va_start(args, fmt);
	vreport("error: ", fmt, args);
	va_end(args);
	if (usage_path)
		print_usage_line(stderr, usage_path, usage_text);
	return EXIT_USAGE;
}

static const struct poptOption help_options[] = {
	{ "help", 'h', POPT_ARG_NONE, NULL, 'h', "show this help", NULL },
	POPT_TABLEEND
};

/* "-k, --kernel KERNEL" (or "    --rebuild") into buf, truncated to len. */
static void option_name(const struct poptOption *o, char *buf, size_t len)
{
	int n = 0;

	if (o->shortName)
		n = snprintf(buf, len, "-%c%s", o->shortName,
			     o->longName ? ", " : "");
	else
		n = snprintf(buf, len, "    ");
	if (n < 0 || (size_t)n >= len)
		return;
	if (o->longName)
		n += snprintf(buf + n, len - (size_t)n, "--%s", o->longName);
	if ((size_t)n < len && (o->argInfo & POPT_ARG_MASK) != POPT_ARG_NONE)
		snprintf(buf + n, len - (size_t)n, " %s",
			 o->argDescrip ? o->argDescrip : "ARG");
}

/* text from column 28, words wrapped before column 80 */
static void print_wrapped(FILE *out, const char *text)
{
	const int indent = 28, width = 80;
	int col = indent;

	while (*text) {
		size_t n = strcspn(text, " ");

		if (col > indent && col + 1 + (int)n > width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, n, out);
		col += (int)n;
		text += n;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

static void print_options(FILE *out, const struct poptOption *options)
{
	const struct poptOption *o;
	char name[64];

	for (o = options; o && (o->longName || o->shortName || o->arg); o++) {
		if ((o->argInfo & POPT_ARG_MASK) == POPT_ARG_INCLUDE_TABLE) {
			print_options(out, o->arg);
			continue;
		}
		if (o->argInfo & POPT_ARGFLAG_DOC_HIDDEN)
			continue;
		option_name(o, name, sizeof(name));
		if (strlen(name) > 24)
			fprintf(out, "  %s\n%28s", name, "");
		else
			fprintf(out, "  %-24s  ", name);
		print_wrapped(out, o->descrip ? o->descrip : "");
	}
}

int cli_parse(const char *usage, const struct poptOption *options, int argc,
	      const char **argv, poptContext *pc_out, bool *done)
{
	/* popt keeps pointing at the table: it must outlive this frame */
	static struct poptOption table[3];
	poptContext pc;
	size_t n = 0;
	int rc;

	if (options)
		table[n++] = (struct poptOption){
			NULL, '\0', POPT_ARG_INCLUDE_TABLE, (void *)options, 0,
			NULL, NULL
		};
	table[n++] = (struct poptOption){
		NULL, '\0', POPT_ARG_INCLUDE_TABLE, (void *)help_options, 0,
		NULL, NULL
	};
	table[n] = (struct poptOption)POPT_TABLEEND;

	*done = false;
	usage_path = argv[0];
	usage_text = usage;
	pc = poptGetContext(argv[0], argc, argv, table, 0);
	while ((rc = poptGetNextOpt(pc)) > 0) {
		if (rc == 'h') {
			print_usage_line(stdout, argv[0], usage);
			fputs("\noptions:\n", stdout);
			print_options(stdout, table);
			poptFreeContext(pc);
			*done = true;
			return 0;
		}
	}
	if (rc < -1) {
		rc = cli_usage_error(pc, "%s: %s",
				     poptBadOption(pc, POPT_BADOPTION_NOALIAS),
				     poptStrerror(rc));
		poptFreeContext(pc);
		return rc;
	}
	*pc_out = pc;
	return 0;
}

int cli_parse_none(const char *usage, const struct poptOption *options,
		   int argc, const char **argv, poptContext *pc, bool *done)
{
	int rc = cli_parse(usage, options, argc, argv, pc, done);

	if (rc || *done)
		return rc;
	if (poptPeekArg(*pc)) {
		rc = cli_usage_error(*pc, "unexpected argument '%s'",
				     poptPeekArg(*pc));
		poptFreeContext(*pc);
	}
	return rc;
}

int cli_parse_one(const char *usage, const struct poptOption *options, int argc,
		  const char **argv, poptContext *pc, const char **arg,
		  bool *done)
{
	int rc = cli_parse(usage, options, argc, argv, pc, done);

	if (rc || *done)
		return rc;
	*arg = poptGetArg(*pc);
	if (!*arg)
		/* the positional is the usage line's last word */
		rc = cli_usage_error(
			*pc, "missing argument: %s",
			strrchr(usage, ' ') ? strrchr(usage, ' ') + 1 : usage);
	else if (poptPeekArg(*pc))
		rc = cli_usage_error(*pc, "unexpected argument '%s'",
				     poptPeekArg(*pc));
	if (rc)
		poptFreeContext(*pc);
	return rc;
}

int cli_open_catalogue(struct cli *cli, unsigned int flags,
		       struct elp_catalogue **cat)
{
	int err = elp_catalogue_open(cli->ctx, cli->db_path, flags, cat);

	return err ? 1 : 0;
}

int cli_dispatch(struct cli *cli, const char *group, const struct command *subs,
		 int argc, const char **argv)
{
	const struct command *c;
	const char *word;
	char *path;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		FILE *out = argc < 2 ? stderr : stdout;

		fprintf(out, "usage: elivepatch %s <subcommand> [<args>]\n\n",
			group);
		for (c = subs; c->name; c++)
			fprintf(out, "  %-8s %s\n", c->name, c->help);
		fprintf(out,
			"\n'elivepatch %s <subcommand> --help' shows its options.\n",
			group);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (c = subs; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			break;
	if (!c->name) {
		cli_error(
			"'%s' is not an 'elivepatch %s' subcommand; see 'elivepatch %s --help'",
			argv[1], group, group);
		return EXIT_USAGE;
	}
	if (asprintf(&path, "%s %s", group, c->name) < 0) {
		cli_error("out of memory");
		return 1;
	}
	/* the subcommand sees its whole path as argv[0] */
	word = argv[1];
	argv[1] = path;
	rc = c->fn(cli, argc - 1, argv + 1);
	argv[1] = word;
	usage_path = NULL;
	free(path);
	return rc;
}

struct table {
	int err; /* a row could not be added: the table is incomplete */
	int ncols;
	size_t nrows, cap;
	char **cells; /* nrows * ncols, row 0 is the header */
};

struct table *table_new(const char *const *headers, int ncols)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	if (table_add(t, headers)) {
		table_free(t);
		return NULL;
	}
	return t;
}

int table_add(struct table *t, const char *const *cells)
{
	char **row;
	int i;

	if (t->err)
		return t->err;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **p =
			realloc(t->cells, cap * (size_t)t->ncols * sizeof(*p));

		if (!p) {
			t->err = -ENOMEM;
			return t->err;
		}
		t->cells = p;
		t->cap = cap;
	}
	row = t->cells + t->nrows * (size_t)t->ncols;
	for (i = 0; i < t->ncols; i++) {
		row[i] = strdup(cells[i] ? cells[i] : "");
		if (!row[i]) {
			/* a row is whole or not there */
			while (i)
				free(row[--i]);
			t->err = -ENOMEM;
			return t->err;
		}
	}
	t->nrows++;
	return 0;
}

int table_print(struct table *t, FILE *out, bool tty)
{
	size_t width[32] = { 0 };
	size_t r;
	int c;

	if (t->err) {
		cli_error("out of memory: the table is incomplete");
		return t->err;
	}
	if (!tty) {
		/* for scripts: no header, tab-separated */
		for (r = 1; r < t->nrows; r++)
			for (c = 0; c < t->ncols; c++)
				fprintf(out, "%s%c",
					t->cells[r * (size_t)t->ncols +
						 (size_t)c],
					c + 1 == t->ncols ? '\n' : '\t');
		return 0;
	}
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols && c < 32; c++) {
			size_t w = strlen(
				t->cells[r * (size_t)t->ncols + (size_t)c]);

			if (w > width[c])
				width[c] = w;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s =
				t->cells[r * (size_t)t->ncols + (size_t)c];

			if (c + 1 == t->ncols)
				fprintf(out, "%s\n", s);
			else
				fprintf(out, "%-*s  ", (int)width[c], s);
		}
	}
	return 0;
}

void table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void cli_list_begin(struct cli_list *list, struct cli *cli,
		    const char *const *headers, int ncols)
{
	memset(&list->json, 0, sizeof(list->json));
	list->cli = cli;
	list->table = cli->json ? NULL : table_new(headers, ncols);
	if (cli->json)
		elp_json_lines(&list->json, NULL);
}

struct elp_json *cli_list_json(struct cli_list *list)
{
	return list->cli->json ? &list->json : NULL;
}

void cli_list_row(struct cli_list *list, const char *const *cells)
{
	if (list->table)
		table_add(list->table, cells);
}

void cli_list_end(struct cli_list *list)
{
	if (list->cli->json) {
		elp_json_end(&list->json);
		cli_json_print(&list->json);
		elp_json_release(&list->json);
	} else if (list->table) {
		table_print(list->table, stdout, list->cli->tty);
	} else {
		cli_error("out of memory");
	}
	table_free(list->table);
	list->table = NULL;
}

void cli_json_print(struct elp_json *j)
{
	if (j->buf.err)
		cli_error("cannot write JSON: %s", strerror(-j->buf.err));
	else
		printf("%s\n", elp_json_text(j));
	elp_json_reset(j);
}

void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

void cli_json_done(struct elp_json *j)
{
	cli_json_print(j);
	elp_json_release(j);
}
