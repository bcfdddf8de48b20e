// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch patch: the source fixes livepatches are built from. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/patch.h"
#include "lib/util.h"

static void print_patch_json(struct elp_json *j, const struct elp_patch *p,
			     bool content)
{
	size_t i;

	elp_json_object(j, NULL);
	elp_json_int(j, "id", p->id);
	elp_json_str(j, "name", p->name);
	elp_json_str(j, "kind", elp_patch_kind_name(p->kind));
	elp_json_str(j, "sha256", p->sha256);
	elp_json_str(j, "origin", p->origin);
	elp_json_str(j, "subject", p->subject);
	elp_json_int(j, "created_at", p->created_at);
	elp_json_strv(j, "cves", p->cves, p->nr_cves);
	elp_json_array(j, "files");
	for (i = 0; i < p->nr_files; i++) {
		const struct elp_patch_file *f = &p->files[i];

		elp_json_object(j, NULL);
		elp_json_str(j, "path", f->path);
		elp_json_str(j, "status", f->status);
		elp_json_int(j, "hunks", f->hunks);
		elp_json_int(j, "additions", f->additions);
		elp_json_int(j, "deletions", f->deletions);
		elp_json_strv(j, "functions", f->functions, f->nr_functions);
		elp_json_end(j);
	}
	elp_json_end(j);
	if (content)
		elp_json_str(j, "content", p->content);
	elp_json_end(j);
}

static char *join_cves(const struct elp_patch *p)
{
	struct elp_buf b = { 0 };
	size_t i;

	for (i = 0; i < p->nr_cves; i++)
		if (elp_buf_printf(&b, "%s%s", i ? "," : "", p->cves[i]))
			break;
	return b.data ? b.data : strdup("");
}

/* --cve values: repeatable, each may be a comma-separated list. */
static int add_cves(struct elp_patch *p, char **cves)
{
	size_t i;

	for (i = 0; cves && cves[i]; i++) {
		char *copy = strdup(cves[i]), *tok, *save = NULL;

		if (!copy)
			return 1;
		for (tok = strtok_r(copy, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			int err = elp_patch_add_cve(p, tok);

			if (err == -EINVAL) {
				cli_error(
					"invalid CVE id '%s' (expected CVE-YYYY-NNNN)",
					tok);
				free(copy);
				return EXIT_USAGE;
			}
			if (err) {
				free(copy);
				return 1;
			}
		}
		free(copy);
	}
	return 0;
}

static void free_argv(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int patch_add(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_patch *p = NULL;
	char **cves = NULL, *name = NULL;
	const char *file;
	poptContext pc;
	bool done;
	int rc, err;
	struct poptOption options[] = {
		{ "cve", 0, POPT_ARG_ARGV, &cves, 0,
		  "a CVE id the patch fixes (repeatable)", "CVE-YYYY-NNNN" },
		{ "name", 0, POPT_ARG_STRING, &name, 0,
		  "catalogue name (default: the file name without .patch/.diff)",
		  "NAME" },
		POPT_TABLEEND
	};

	rc = cli_parse("[--cve ID]... [--name NAME] FILE", options, argc, argv,
		       &pc, &done);
	if (rc || done)
		goto out_opts;
	file = poptGetArg(pc);
	if (!file || poptPeekArg(pc)) {
		rc = file ? cli_usage_error(pc, "unexpected argument '%s'",
					    poptPeekArg(pc))
			  : cli_usage_error(pc, "missing argument: FILE");
		goto out;
	}
	rc = 1;
	if (elp_patch_load(cli->ctx, file, &p))
		goto out;
	if (name) {
		free(p->name);
		p->name = strdup(name);
	}
	if (!p->name || !*p->name) {
		cli_error("cannot name a patch after '%s'; use --name", file);
		goto out;
	}
	p->kind = ELP_PATCH_LIVEPATCH;
	rc = add_cves(p, cves);
	if (rc)
		goto out;
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	err = elp_patch_add(cat, p);
	elp_catalogue_close(cat);
	if (err)
		goto out;
	rc = 0;
	if (cli->json) {
		struct elp_json j = { 0 };

		print_patch_json(&j, p, false);
		cli_json_done(&j);
	} else {
		char *c = join_cves(p);

		printf("added patch '%s' (id %lld): %zu file%s%s%s\n", p->name,
		       (long long)p->id, p->nr_files,
		       p->nr_files == 1 ? "" : "s", c && *c ? ", " : "",
		       c ? c : "");
		free(c);
	}
out:
	poptFreeContext(pc);
out_opts:
	elp_patch_free(p);
	free_argv(cves);
	free(name);
	return rc;
}

static int list_one(const struct elp_patch *p, void *data)
{
	struct cli_list *list = data;
	char id[24], files[24], *cves;

	if (cli_list_json(list)) {
		print_patch_json(cli_list_json(list), p, false);
		return 0;
	}
	snprintf(id, sizeof(id), "%lld", (long long)p->id);
	snprintf(files, sizeof(files), "%zu", p->nr_files);
	cves = join_cves(p);
	{
		const char *cells[] = { id,
					p->name,
					elp_patch_kind_name(p->kind),
					files,
					cves && *cves ? cves : "-",
					p->subject ? p->subject : "-" };

		cli_list_row(list, cells);
	}
	free(cves);
	return 0;
}

static int patch_list(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "ID",	"NAME", "KIND",
					       "FILES", "CVES", "SUBJECT" };
	struct elp_catalogue *cat;
	struct cli_list list;
	poptContext pc;
	bool done;
	int rc;

	rc = cli_parse_none("", NULL, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	poptFreeContext(pc);
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		return 1;
	cli_list_begin(&list, cli, headers, 6);
	rc = elp_patch_foreach(cat, list_one, &list) ? 1 : 0;
	cli_list_end(&list);
	elp_catalogue_close(cat);
	return rc;
}

static void print_patch_text(const struct elp_patch *p)
{
	char created[32], *cves = join_cves(p);
	size_t i, j;

	format_time(p->created_at, created, sizeof(created));
	printf("%-9s %s\n", "name:", p->name);
	printf("%-9s %lld\n", "id:", (long long)p->id);
	printf("%-9s %s\n", "kind:", elp_patch_kind_name(p->kind));
	printf("%-9s %s\n", "sha256:", p->sha256);
	printf("%-9s %s\n", "origin:", p->origin ? p->origin : "-");
	printf("%-9s %s\n", "subject:", p->subject ? p->subject : "-");
	printf("%-9s %s\n", "added:", created);
	printf("%-9s %s\n", "cves:", cves && *cves ? cves : "-");
	printf("%-9s %zu\n", "files:", p->nr_files);
	for (i = 0; i < p->nr_files; i++) {
		const struct elp_patch_file *f = &p->files[i];

		printf("  %-8s %s (+%d -%d, %d hunk%s)\n", f->status, f->path,
		       f->additions, f->deletions, f->hunks,
		       f->hunks == 1 ? "" : "s");
		if (!f->nr_functions)
			continue;
		printf("           functions:");
		for (j = 0; j < f->nr_functions; j++)
			printf("%s %s", j ? "," : "", f->functions[j]);
		putchar('\n');
	}
	free(cves);
}

static int patch_show(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_patch *p = NULL;
	const char *spec;
	poptContext pc;
	int diff = 0, rc;
	bool done;
	struct poptOption options[] = {
		{ "diff", 0, POPT_ARG_NONE, &diff, 0,
		  "print the patch itself, as it was added", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_one("[--diff] PATCH", options, argc, argv, &pc, &spec,
			   &done);
	if (rc || done)
		return rc;
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	if (elp_patch_find(cat, spec, &p) == 0) {
		rc = 0;
		if (diff)
			fputs(p->content, stdout);
		else if (cli->json) {
			struct elp_json j = { 0 };

			print_patch_json(&j, p, false);
			cli_json_done(&j);
		} else
			print_patch_text(p);
	}
	elp_patch_free(p);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static int patch_remove(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_patch *p = NULL;
	const char *spec;
	poptContext pc;
	bool done;
	int rc, err;

	rc = cli_parse_one("PATCH", NULL, argc, argv, &pc, &spec, &done);
	if (rc || done)
		return rc;
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	err = elp_patch_remove(cat, spec, &p);
	if (!err) {
		rc = 0;
		if (cli->json) {
			struct elp_json js = { 0 }, *j = &js;

			elp_json_object(j, NULL);
			elp_json_int(j, "id", p->id);
			elp_json_str(j, "name", p->name);
			elp_json_bool(j, "removed", true);
			elp_json_end(j);
			cli_json_done(j);
		} else {
			printf("removed patch '%s' (id %lld)\n", p->name,
			       (long long)p->id);
		}
	}
	elp_patch_free(p);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static const struct command subcommands[] = {
	{ "add", patch_add, "catalogue a fix: a format-patch mail or a diff" },
	{ "list", patch_list, "list catalogued patches" },
	{ "show", patch_show, "show a patch: files, functions, CVEs" },
	{ "remove", patch_remove, "remove a patch no build or kernel uses" },
	{ NULL, NULL, NULL },
};

static int run_patch(struct cli *cli, int argc, const char **argv)
{
	return cli_dispatch(cli, "patch", subcommands, argc, argv);
}

const struct command cmd_patch = {
	"patch",
	run_patch,
	"manage the fixes livepatches are built from",
};
