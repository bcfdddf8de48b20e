// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch toolchain: the compilers livepatches are built with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/kernel.h"
#include "lib/toolchain.h"
#include "lib/util.h"

static void print_tc_json(struct elp_json *j, const struct elp_toolchain *tc)
{
	elp_json_str(j, "cc_path", tc->cc_path);
	elp_json_str(j, "version_text", tc->version_text);
	elp_json_str(j, "target", tc->target);
}

static int toolchain_detect(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "ROLE", "PATH", "VERSION",
					       "TARGET", "CATALOGUED" };
	struct elp_toolchain **all = NULL, **installed = NULL, *def = NULL;
	struct elp_catalogue *cat = NULL;
	size_t n_inst = 0, n, i;
	int64_t *ids = NULL;
	bool *added = NULL;
	struct table *t;
	poptContext pc;
	int add = 0, rc;
	bool done;
	struct poptOption options[] = {
		{ "add", 0, POPT_ARG_NONE, &add, 0,
		  "record every compiler found in the catalogue", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_none("[--add]", options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	poptFreeContext(pc);

	if (elp_toolchain_probe(cli->ctx, "cc", &def))
		cli_warn("no default compiler 'cc'");
	if (elp_toolchain_installed(cli->ctx, true, &installed, &n_inst))
		return 1;
	n = n_inst + (def ? 1 : 0);
	all = calloc(n + 1, sizeof(*all));
	ids = calloc(n + 1, sizeof(*ids));
	added = calloc(n + 1, sizeof(*added));
	if (!all || !ids || !added) {
		cli_error("out of memory");
		rc = 1;
		goto out;
	}
	i = 0;
	if (def)
		all[i++] = def;
	memcpy(all + i, installed, n_inst * sizeof(*all));
	if (n == 0) {
		cli_error(
			"no compiler found (looked for cc, gcc, gcc-N, clang, clang-N, x86_64-linux-gnu-gcc-N in PATH)");
		rc = 1;
		goto out;
	}

	if (cli_open_catalogue(cli, add ? 0 : ELP_CATALOGUE_READ, &cat)) {
		rc = 1;
		goto out;
	}
	if (elp_toolchain_catalogue(cat, all, n, add, ids, added)) {
		rc = 1;
		goto out;
	}

	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_array(j, NULL);
		for (i = 0; i < n; i++) {
			elp_json_object(j, NULL);
			elp_json_str(j, "role",
				     def && i == 0 ? "default" : "installed");
			print_tc_json(j, all[i]);
			elp_json_id(j, "id", ids[i]);
			elp_json_bool(j, "added", added[i]);
			elp_json_end(j);
		}
		elp_json_end(j);
		cli_json_done(j);
		goto out;
	}
	t = table_new(headers, 5);
	if (!t) {
		cli_error("out of memory");
		rc = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char state[48];
		const char *cells[5];

		if (!ids[i])
			snprintf(state, sizeof(state), "no");
		else
			snprintf(state, sizeof(state), "%sid %lld",
				 added[i] ? "added, " : "", (long long)ids[i]);
		cells[0] = def && i == 0 ? "default" : "installed";
		cells[1] = all[i]->cc_path;
		cells[2] = all[i]->version_text;
		cells[3] = all[i]->target;
		cells[4] = state;
		table_add(t, cells);
	}
	if (table_print(t, stdout, cli->tty))
		rc = 1;
	table_free(t);
out:
	elp_catalogue_close(cat);
	elp_toolchain_list_free(installed, n_inst);
	elp_toolchain_free(def);
	free(all);
	free(ids);
	free(added);
	return rc;
}

static int toolchain_add(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_toolchain *tc = NULL;
	char *cc = NULL;
	poptContext pc;
	bool done;
	int rc, err;
	struct poptOption options[] = {
		{ "cc", 0, POPT_ARG_STRING, &cc, 0,
		  "the compiler: a path or a name in PATH", "PATH" },
		POPT_TABLEEND
	};

	rc = cli_parse_none("--cc PATH", options, argc, argv, &pc, &done);
	if (rc || done)
		goto out_free;
	if (!cc) {
		rc = cli_usage_error(pc, "missing option: --cc PATH");
		poptFreeContext(pc);
		goto out_free;
	}
	poptFreeContext(pc);
	rc = 1;
	if (elp_toolchain_probe(cli->ctx, cc, &tc))
		goto out_free;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out_free;
	err = elp_toolchain_add(cat, tc);
	elp_catalogue_close(cat);
	if (err)
		goto out_free;
	rc = 0;
	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_int(j, "id", tc->id);
		print_tc_json(j, tc);
		elp_json_end(j);
		cli_json_done(j);
	} else {
		printf("added toolchain '%s' (id %lld): %s, %s\n", tc->cc_path,
		       (long long)tc->id, tc->version_text, tc->target);
	}
out_free:
	elp_toolchain_free(tc);
	free(cc);
	return rc;
}

static int list_one(const struct elp_toolchain *tc, void *data)
{
	struct cli_list *list = data;
	char id[24], created[32];

	if (cli_list_json(list)) {
		struct elp_json *j = cli_list_json(list);

		elp_json_object(j, NULL);
		elp_json_int(j, "id", tc->id);
		print_tc_json(j, tc);
		elp_json_int(j, "created_at", tc->created_at);
		elp_json_end(j);
		return 0;
	}
	snprintf(id, sizeof(id), "%lld", (long long)tc->id);
	format_time(tc->created_at, created, sizeof(created));
	{
		const char *cells[] = { id, tc->cc_path, tc->version_text,
					tc->target, created };

		cli_list_row(list, cells);
	}
	return 0;
}

static int toolchain_list(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "ID", "PATH", "VERSION",
					       "TARGET", "ADDED" };
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
	cli_list_begin(&list, cli, headers, 5);
	rc = elp_toolchain_foreach(cat, list_one, &list) ? 1 : 0;
	cli_list_end(&list);
	elp_catalogue_close(cat);
	return rc;
}

static int toolchain_check(struct cli *cli, int argc, const char **argv)
{
	struct elp_toolchain_choice v = { 0 };
	struct elp_catalogue *cat = NULL;
	struct elp_kernel *k = NULL;
	const struct elp_toolchain *inst;
	const char *spec, *want;
	char *cc = NULL;
	poptContext pc;
	bool done;
	int rc;
	struct poptOption options[] = {
		{ "cc", 0, POPT_ARG_STRING, &cc, 0,
		  "check this compiler instead of every known one", "PATH" },
		POPT_TABLEEND
	};

	rc = cli_parse("[--cc PATH] KERNEL", options, argc, argv, &pc, &done);
	if (rc || done)
		goto out_cc;
	spec = poptGetArg(pc);
	if (!spec || poptPeekArg(pc)) {
		rc = spec ? cli_usage_error(pc, "unexpected argument '%s'",
					    poptPeekArg(pc))
			  : cli_usage_error(pc, "missing argument: KERNEL");
		poptFreeContext(pc);
		goto out_cc;
	}
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	rc = elp_kernel_find(cat, spec, &k);
	if (rc == -ENOENT)
		cli_error(
			"no kernel '%s' in the catalogue; see 'elivepatch kernel list'",
			spec);
	rc = 1;
	if (!k)
		goto out;
	want = k->cc_version_text;
	if (!want || !*want) {
		cli_error(
			"kernel '%s' does not record its compiler (no CONFIG_CC_VERSION_TEXT in its config)",
			k->name);
		goto out;
	}
	if (elp_toolchain_choose(cat, want, cc, &v))
		goto out;
	inst = v.installed;

	if (cli->json) {
		struct elp_json js = { 0 }, *j = &js;

		elp_json_object(j, NULL);
		elp_json_str(j, "kernel", k->name);
		elp_json_str(j, "cc_version_text", want);
		elp_json_str(j, "result", elp_cc_match_name(v.match));
		elp_json_str(j, "cc_path", v.tc ? v.tc->cc_path : NULL);
		elp_json_str(j, "version_text",
			     v.tc ? v.tc->version_text : NULL);
		elp_json_str(j, "installed_match",
			     inst && v.installed_match == ELP_CC_MATCH
				     ? inst->cc_path
				     : NULL);
		elp_json_end(j);
		cli_json_done(j);
	} else {
		printf("kernel:     %s\n", k->name);
		printf("built with: %s\n", want);
		printf("result:     %s\n", elp_cc_match_name(v.match));
		if (v.tc)
			printf("compiler:   %s (%s)\n", v.tc->cc_path,
			       v.tc->version_text);
		if (inst && v.installed_match == ELP_CC_MATCH)
			printf("installed:  %s matches exactly\n",
			       inst->cc_path);
		else if (inst && v.installed_match == ELP_CC_COMPATIBLE)
			printf("installed:  %s is compatible (same compiler, another name)\n",
			       inst->cc_path);
		else
			printf("installed:  no installed compiler matches\n");
	}
	rc = v.tc && v.match != ELP_CC_MISMATCH ? 0 : 1;
out:
	poptFreeContext(pc);
	elp_toolchain_choice_release(&v);
	elp_kernel_free(k);
	elp_catalogue_close(cat);
out_cc:
	free(cc);
	return rc;
}

static const struct command subcommands[] = {
	{ "detect", toolchain_detect,
	  "show the default and installed compilers (--add records them)" },
	{ "add", toolchain_add, "record a compiler: --cc PATH" },
	{ "list", toolchain_list, "list catalogued compilers" },
	{ "check", toolchain_check,
	  "does a compiler match the one a kernel was built with?" },
	{ NULL, NULL, NULL },
};

static int run_toolchain(struct cli *cli, int argc, const char **argv)
{
	return cli_dispatch(cli, "toolchain", subcommands, argc, argv);
}

const struct command cmd_toolchain = {
	"toolchain",
	run_toolchain,
	"manage the compilers livepatches are built with",
};
