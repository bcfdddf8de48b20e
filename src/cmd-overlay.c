// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch overlay: git repositories of fixes (elivepatch-overlay(5)). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/overlay.h"

/* "overlay 'x' at 1234567890ab: 2 added, 1 updated, 0 removed" */
static void print_report(struct cli *cli, const char *verb, const char *name,
			 const struct elp_overlay_report *rep)
{
	size_t i;

	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_str(j, "overlay", name);
		elp_json_str(j, "old_commit", rep->old_commit);
		elp_json_str(j, "commit", rep->new_commit);
		elp_json_int(j, "added", (int64_t)rep->added);
		elp_json_int(j, "updated", (int64_t)rep->updated);
		elp_json_int(j, "removed", (int64_t)rep->removed);
		elp_json_int(j, "unchanged", (int64_t)rep->unchanged);
		elp_json_strv(j, "patches", rep->changed, rep->nr_changed);
		elp_json_strv(j, "skipped", rep->skipped, rep->nr_skipped);
		elp_json_end(j);
		cli_json_done(j);
		return;
	}
	if (rep->old_commit && rep->new_commit &&
	    strcmp(rep->old_commit, rep->new_commit) == 0) {
		if (!cli->quiet)
			printf("overlay '%s' is up to date (%.12s)\n", name,
			       rep->new_commit);
		return;
	}
	printf("%s overlay '%s'%s%.12s: %zu fix%s added, %zu updated, %zu removed\n",
	       verb, name, rep->new_commit ? " at " : "",
	       rep->new_commit ? rep->new_commit : "", rep->added,
	       rep->added == 1 ? "" : "es", rep->updated, rep->removed);
	for (i = 0; i < rep->nr_changed; i++)
		printf("  patch %s\n", rep->changed[i]);
	for (i = 0; i < rep->nr_skipped; i++)
		printf("  skipped %s\n", rep->skipped[i]);
}

static int overlay_add(struct cli *cli, int argc, const char **argv)
{
	struct elp_overlay_report rep = { 0 };
	struct elp_catalogue *cat;
	char *key = NULL;
	const char *name, *url;
	poptContext pc;
	bool done;
	int rc;
	struct poptOption options[] = {
		{ "signing-key", 0, POPT_ARG_STRING, &key, 0,
		  "accept only commits signed by a key of this OpenPGP keyring (gpg --export KEYID > FILE)",
		  "FILE" },
		POPT_TABLEEND
	};

	rc = cli_parse("[--signing-key FILE] NAME PATH|URL", options, argc,
		       argv, &pc, &done);
	if (rc || done)
		goto out_opts;
	name = poptGetArg(pc);
	url = poptGetArg(pc);
	if (!name || !url) {
		rc = cli_usage_error(pc, "missing argument: %s",
				     name ? "PATH|URL" : "NAME");
		goto out;
	}
	if (poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	if (!elp_overlay_name_is_valid(name)) {
		rc = cli_usage_error(
			pc,
			"invalid overlay name '%s' (expected [a-z0-9][a-z0-9._-]*)",
			name);
		goto out;
	}
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	if (elp_overlay_add(cat, name, url, key, &rep) == 0) {
		print_report(cli, "added", name, &rep);
		rc = 0;
	}
	elp_catalogue_close(cat);
	elp_overlay_report_release(&rep);
out:
	poptFreeContext(pc);
out_opts:
	free(key);
	return rc;
}

struct sync_all {
	struct elp_catalogue *cat;
	struct cli *cli;
	bool force;
	int failed;
};

static int sync_one(struct sync_all *s, const char *name)
{
	struct elp_overlay_report rep = { 0 };
	int err = elp_overlay_sync(s->cat, name, s->force, &rep);

	if (err)
		s->failed++;
	else
		print_report(s->cli, "synced", name, &rep);
	elp_overlay_report_release(&rep);
	return 0;
}

static int sync_each(const struct elp_overlay *o, void *data)
{
	return o->managed ? sync_one(data, o->name) : 0;
}

static int overlay_sync(struct cli *cli, int argc, const char **argv)
{
	struct sync_all s = { .cli = cli };
	const char *name;
	int force = 0, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "accept an update that is not a fast-forward (a rewritten history)",
		  NULL },
		POPT_TABLEEND
	};

	rc = cli_parse("[--force] [NAME]", options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	name = poptGetArg(pc);
	if (name && poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	rc = 1;
	if (cli_open_catalogue(cli, 0, &s.cat))
		goto out;
	s.force = force;
	if (name)
		sync_one(&s, name);
	else if (elp_overlay_foreach(s.cat, false, sync_each, &s))
		s.failed++;
	elp_catalogue_close(s.cat);
	rc = s.failed ? 1 : 0;
out:
	poptFreeContext(pc);
	return rc;
}

static int list_one(const struct elp_overlay *o, void *data)
{
	struct cli_list *list = data;
	char fixes[24], commit[13] = "-", synced[32] = "-", name[80];

	if (cli_list_json(list)) {
		struct elp_json *j = cli_list_json(list);

		elp_json_object(j, NULL);
		elp_json_str(j, "name", o->name);
		elp_json_str(j, "url", o->url);
		elp_json_str(j, "path", o->path);
		elp_json_bool(j, "managed", o->managed);
		elp_json_str(j, "commit", o->commit_id);
		elp_json_int(j, "fixes", (int64_t)o->nr_fixes);
		elp_json_bool(j, "signed", o->signing_key != NULL);
		elp_json_int(j, "synced_at", o->synced_at);
		elp_json_id(j, "removed_at", o->removed_at);
		elp_json_end(j);
		return 0;
	}
	snprintf(name, sizeof(name), "%s%s", o->name,
		 o->removed_at ? " (removed)" : "");
	snprintf(fixes, sizeof(fixes), "%zu", o->nr_fixes);
	if (o->commit_id)
		snprintf(commit, sizeof(commit), "%.12s", o->commit_id);
	if (o->synced_at)
		format_time(o->synced_at, synced, sizeof(synced));
	{
		const char *cells[] = {
			name,
			o->url,
			commit,
			fixes,
			o->signing_key ? "yes" : "no",
			o->managed ? "elivepatch" : "portage",
			synced,
		};

		cli_list_row(list, cells);
	}
	return 0;
}

static int overlay_list(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "NAME",	"URL",	  "COMMIT",
					       "FIXES", "SIGNED", "SYNCED BY",
					       "SYNCED" };
	struct elp_catalogue *cat;
	struct cli_list list;
	int json = 0, all = 0, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "all", 'a', POPT_ARG_NONE, &all, 0,
		  "also the overlays removed (their patches stay catalogued)",
		  NULL },
		{ "json", 0, POPT_ARG_NONE, &json, 0, "print a JSON array",
		  NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_none("[--all] [--json]", options, argc, argv, &pc,
			    &done);
	if (rc || done)
		return rc;
	cli->json = cli->json || json;
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	cli_list_begin(&list, cli, headers, 7);
	if (elp_overlay_foreach(cat, all, list_one, &list) == 0)
		rc = 0;
	cli_list_end(&list);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static void fix_json(struct elp_json *j, const struct elp_fix *f)
{
	size_t i;

	elp_json_object(j, NULL);
	elp_json_str(j, "name", f->name);
	elp_json_str(j, "summary", f->summary);
	elp_json_strv(j, "cves", f->cves, f->nr_cves);
	elp_json_str(j, "upstream", f->upstream);
	elp_json_str(j, "versions", f->versions);
	elp_json_strv(j, "requires", f->requires, f->nr_requires);
	elp_json_bool(j, "cumulative_only", f->cumulative_only);
	elp_json_str(j, "state", f->state);
	elp_json_str(j, "commit", f->commit_id);
	elp_json_int(j, "updated_at", f->updated_at);
	elp_json_array(j, "patches");
	for (i = 0; i < f->nr_patches; i++) {
		elp_json_object(j, NULL);
		elp_json_str(j, "name", f->patches[i].name);
		elp_json_str(j, "path", f->patches[i].path);
		elp_json_str(j, "commit", f->patches[i].commit_id);
		elp_json_str(j, "sha256", f->patches[i].sha256);
		elp_json_end(j);
	}
	elp_json_end(j);
	elp_json_end(j);
}

struct show {
	bool json;
	struct elp_json writer; /* with json: the overlay and its fixes */
};

static int show_fix(struct elp_fix *f, void *data)
{
	struct show *s = data;
	size_t i;

	if (s->json) {
		fix_json(&s->writer, f);
		return 0;
	}
	printf("\n%s%s: %s\n", f->name,
	       strcmp(f->state, "present") ? " (removed)" : "", f->summary);
	if (f->nr_cves) {
		fputs("  cves:      ", stdout);
		for (i = 0; i < f->nr_cves; i++)
			printf("%s%s", i ? " " : "", f->cves[i]);
		fputc('\n', stdout);
	}
	if (f->upstream)
		printf("  upstream:  %s\n", f->upstream);
	printf("  versions:  %s\n", f->versions ? f->versions : "all");
	if (f->nr_requires) {
		fputs("  requires:  ", stdout);
		for (i = 0; i < f->nr_requires; i++)
			printf("%s%s", i ? " " : "", f->requires[i]);
		fputc('\n', stdout);
	}
	if (f->cumulative_only)
		puts("  cumulative-only");
	for (i = 0; i < f->nr_patches; i++)
		printf("  patch:     %s  %s  commit %.12s\n",
		       f->patches[i].name, f->patches[i].path,
		       f->patches[i].commit_id ? f->patches[i].commit_id : "-");
	return 0;
}

static int overlay_show(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_overlay *o = NULL;
	struct show s = { 0 };
	const char *name;
	int json = 0, all = 0, rc;
	char when[32] = "-";
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "all", 'a', POPT_ARG_NONE, &all, 0,
		  "also the fixes the overlay no longer has", NULL },
		{ "json", 0, POPT_ARG_NONE, &json, 0, "print a JSON object",
		  NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_one("[--all] [--json] NAME", options, argc, argv, &pc,
			   &name, &done);
	if (rc || done)
		return rc;
	s.json = json || cli->json;
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	if (elp_overlay_find(cat, name, &o))
		goto out_close;
	if (s.json) {
		struct elp_json *j = &s.writer;

		elp_json_object(j, NULL);
		elp_json_str(j, "name", o->name);
		elp_json_str(j, "url", o->url);
		elp_json_str(j, "path", o->path);
		elp_json_bool(j, "managed", o->managed);
		elp_json_str(j, "signing_key", o->signing_key);
		elp_json_str(j, "commit", o->commit_id);
		elp_json_int(j, "synced_at", o->synced_at);
		elp_json_id(j, "removed_at", o->removed_at);
		elp_json_array(j, "fixes");
	} else {
		if (o->synced_at)
			format_time(o->synced_at, when, sizeof(when));
		printf("overlay     %s\n", o->name);
		printf("url         %s\n", o->url);
		printf("checkout    %s\n", o->path);
		printf("synced by   %s\n",
		       o->managed ? "elivepatch (overlay sync)" : "Portage");
		printf("signing key %s\n",
		       o->signing_key ? o->signing_key : "- (not checked)");
		printf("commit      %s\n", o->commit_id ? o->commit_id : "-");
		printf("synced      %s\n", when);
		if (o->removed_at) {
			format_time(o->removed_at, when, sizeof(when));
			printf("removed     %s (its patches stay catalogued; add it again to take it up)\n",
			       when);
		}
		printf("fixes       %zu\n", o->nr_fixes);
	}
	if (elp_overlay_fixes(cat, name, all, show_fix, &s) == 0)
		rc = 0;
	if (s.json) {
		elp_json_end(&s.writer);
		elp_json_end(&s.writer);
		cli_json_print(&s.writer);
	}
out_close:
	elp_overlay_free(o);
	elp_catalogue_close(cat);
out:
	elp_json_release(&s.writer);
	poptFreeContext(pc);
	return rc;
}

static int overlay_remove(struct cli *cli, int argc, const char **argv)
{
	struct elp_overlay_removal rm = { 0 };
	struct elp_catalogue *cat;
	const char *name;
	int force = 0, rc;
	poptContext pc;
	bool done;
	size_t i;
	struct poptOption options[] = {
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "also when queued jobs need it: they are cancelled", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_one("[--force] NAME", options, argc, argv, &pc, &name,
			   &done);
	if (rc || done)
		return rc;
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	if (elp_overlay_remove(cat, name, force, &rm) == 0) {
		rc = 0;
		if (cli->json) {
			struct elp_json js = { 0 }, *j = &js;

			elp_json_object(j, NULL);
			elp_json_str(j, "overlay", name);
			elp_json_int(j, "fixes", (int64_t)rm.fixes);
			elp_json_int(j, "patches", (int64_t)rm.patches);
			elp_json_str(j, "deleted", rm.deleted);
			elp_json_str(j, "kept", rm.kept);
			elp_json_array(j, "cancelled_jobs");
			for (i = 0; i < rm.nr_jobs; i++)
				elp_json_int(j, NULL, rm.jobs[i]);
			elp_json_end(j);
			elp_json_end(j);
			cli_json_done(j);
		} else {
			printf("removed overlay '%s': %zu fix%s marked removed; its %zu patch%s stay%s catalogued, with their history\n",
			       name, rm.fixes, rm.fixes == 1 ? "" : "es",
			       rm.patches, rm.patches == 1 ? "" : "es",
			       rm.patches == 1 ? "s" : "");
			if (rm.deleted)
				printf("  deleted its clone %s\n", rm.deleted);
			if (rm.kept)
				printf("  left %s in place: Portage syncs it (take it out of patch-overlay in elivepatch.conf, or its next sync imports it again)\n",
				       rm.kept);
			for (i = 0; i < rm.nr_jobs; i++)
				printf("  cancelled queued job %lld (%s)\n",
				       (long long)rm.jobs[i],
				       rm.job_subjects[i]);
		}
	}
	elp_overlay_removal_release(&rm);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static const struct command subcommands[] = {
	{ "add", overlay_add,
	  "clone an overlay (a path, file:// or git URL) and catalogue its fixes" },
	{ "sync", overlay_sync,
	  "fetch and fast-forward overlays, catalogue what changed" },
	{ "list", overlay_list, "the overlays: url, commit, fixes" },
	{ "remove", overlay_remove,
	  "remove an overlay: its fixes no longer selected, its patches kept with their history" },
	{ "show", overlay_show,
	  "one overlay and its fixes: CVEs, versions, patches" },
	{ NULL, NULL, NULL },
};

static int run_overlay(struct cli *cli, int argc, const char **argv)
{
	return cli_dispatch(cli, "overlay", subcommands, argc, argv);
}

const struct command cmd_overlay = {
	"overlay",
	run_overlay,
	"git repositories of fixes (elivepatch-overlay(5)): add, sync, list, show, remove",
};
