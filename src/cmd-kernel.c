// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch kernel: the kernels livepatches are built for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/kernel.h"
#include "lib/patch.h"
#include "lib/util.h"

static void print_kernel_json(FILE *out, const struct elp_kernel *k,
			      const char *const *patches, size_t nr_patches)
{
	bool first = true;
	size_t i;

	fputc('{', out);
	if (k->id)
		json_kv_int(out, &first, "id", k->id);
	json_kv_str(out, &first, "name", k->name);
	json_kv_str(out, &first, "release", k->release);
	json_kv_str(out, &first, "version", k->version_text);
	json_kv_str(out, &first, "arch", k->arch);
	json_kv_str(out, &first, "source", k->source);
	json_kv_str(out, &first, "source_kind", k->source_kind);
	json_kv_str(out, &first, "build_dir", k->build_dir);
	json_kv_str(out, &first, "config", k->config_path);
	json_kv_str(out, &first, "config_sha256", k->config_sha256);
	json_kv_str(out, &first, "compiler", k->cc_version_text);
	json_kv_str(out, &first, "build_id", k->build_id);
	json_kv_str(out, &first, "symbols", k->symbols_path);
	json_kv_str(out, &first, "image", k->image_path);
	json_kv_bool(out, &first, "livepatch", k->livepatch);
	if (patches) {
		json_key(out, &first, "patches");
		fputc('[', out);
		for (i = 0; i < nr_patches; i++) {
			if (i)
				fputc(',', out);
			json_string(out, patches[i]);
		}
		fputc(']', out);
	}
	fputs("}\n", out);
}

static void print_field(const char *label, const char *value)
{
	printf("%-14s %s\n", label, value ? value : "-");
}

static void print_kernel_text(const struct elp_kernel *k,
			      const char *const *patches, size_t nr_patches)
{
	size_t i;

	print_field("name:", k->name);
	print_field("release:", k->release);
	print_field("version:", k->version_text);
	print_field("arch:", k->arch);
	print_field("source:", k->source);
	print_field("build dir:", k->build_dir);
	print_field("config:", k->config_path);
	print_field("config sha256:", k->config_sha256);
	print_field("compiler:", k->cc_version_text);
	print_field("build-id:", k->build_id);
	print_field("symbols:", k->symbols_path);
	print_field("image:", k->image_path);
	print_field("livepatch:", k->livepatch ? "yes (CONFIG_LIVEPATCH=y)"
					       : "NO (CONFIG_LIVEPATCH unset)");
	if (patches) {
		printf("%-14s %zu\n", "patches:", nr_patches);
		for (i = 0; i < nr_patches; i++)
			printf("  %zu. %s\n", i + 1, patches[i]);
	}
}

/* Refuse (or, forced, warn about) a kernel livepatches cannot load into. */
static int check_livepatch(const struct elp_kernel *k, const char *what,
			   bool force)
{
	if (k->livepatch)
		return 0;
	if (force) {
		cli_warn(
			"%s has no CONFIG_LIVEPATCH=y: livepatches cannot load into kernel '%s'",
			what, k->release);
		return 0;
	}
	cli_error(
		"%s has no CONFIG_LIVEPATCH=y: livepatches cannot load into kernel '%s' (use --force to add it anyway)",
		what, k->release);
	return 1;
}

static int store_kernel(struct cli *cli, struct elp_kernel *k)
{
	struct elp_catalogue *cat;
	struct elp_event ev = { .kind = "kernel-add" };
	int err;

	if (cli_open_catalogue(cli, 0, &cat))
		return 1;
	err = elp_catalogue_begin(cat);
	if (!err)
		err = elp_kernel_store(cat, k);
	if (!err) {
		ev.kernel_id = k->id;
		ev.kernel_release = k->release;
		ev.detail = k->name;
		err = elp_event_add(cat, &ev);
	}
	if (!err)
		err = elp_catalogue_commit(cat);
	if (err)
		elp_catalogue_rollback(cat);
	elp_catalogue_close(cat);
	if (err)
		return 1;
	if (!cli->json)
		printf("added kernel '%s' (release %s, id %lld)\n", k->name,
		       k->release, (long long)k->id);
	else
		print_kernel_json(stdout, k, NULL, 0);
	return 0;
}

/* A symbol table must look like /proc/kallsyms: "ADDR TYPE NAME". */
static int check_symbols(const char *path)
{
	char line[512], type, name[256];
	unsigned long long addr;
	FILE *f = fopen(path, "r");
	int ok;

	if (!f) {
		cli_error("cannot open symbols '%s': %s", path,
			  strerror(errno));
		return 1;
	}
	ok = fgets(line, sizeof(line), f) &&
	     sscanf(line, "%llx %c %255s", &addr, &type, name) == 3;
	fclose(f);
	if (!ok) {
		cli_error(
			"'%s' is not a kallsyms symbol table (expected lines of 'ADDRESS TYPE NAME')",
			path);
		return 1;
	}
	return 0;
}

static int kernel_detect(struct cli *cli, int argc, const char **argv)
{
	int add = 0, force = 0, rc;
	char *name = NULL, *build = NULL, *source = NULL;
	struct elp_kernel *k;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "add", 0, POPT_ARG_NONE, &add, 0,
		  "record the running kernel in the catalogue", NULL },
		{ "name", 0, POPT_ARG_STRING, &name, 0,
		  "catalogue name (default: the release)", "NAME" },
		{ "source", 0, POPT_ARG_STRING, &source, 0,
		  "kernel source directory or tarball", "DIR|TARBALL" },
		{ "build", 0, POPT_ARG_STRING, &build, 0,
		  "kbuild directory to link modules against", "DIR" },
		{ "force", 0, POPT_ARG_NONE, &force, 0,
		  "add even without CONFIG_LIVEPATCH", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse(
		"[--add [--name NAME] [--source DIR|TARBALL] [--build DIR] [--force]]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	if (poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	if (elp_kernel_detect(cli->ctx, &k)) {
		rc = 1;
		goto out;
	}
	if (name) {
		free(k->name);
		k->name = strdup(name);
	}
	if (source) {
		const char *kind;

		if (elp_kernel_check_source(cli->ctx, source, &kind)) {
			rc = 1;
			goto free_kernel;
		}
		free(k->source);
		free(k->source_kind);
		k->source = elp_abspath(source);
		k->source_kind = strdup(kind);
	}
	if (build) {
		free(k->build_dir);
		k->build_dir = elp_abspath(build);
		if (!k->build_dir || !elp_is_dir(k->build_dir)) {
			cli_error("cannot use build dir '%s': not a directory",
				  build);
			rc = 1;
			goto free_kernel;
		}
	}
	if (add) {
		rc = check_livepatch(k, "the running kernel", force);
		if (!rc)
			rc = store_kernel(cli, k);
	} else {
		if (!k->livepatch)
			cli_warn(
				"the running kernel has no CONFIG_LIVEPATCH=y: livepatches cannot load into it");
		if (cli->json)
			print_kernel_json(stdout, k, NULL, 0);
		else
			print_kernel_text(k, NULL, 0);
	}
free_kernel:
	elp_kernel_free(k);
out:
	poptFreeContext(pc);
	free(name);
	free(build);
	free(source);
	return rc;
}

static int kernel_add(struct cli *cli, int argc, const char **argv)
{
	char *release = NULL, *source = NULL, *config_path = NULL;
	char *name = NULL, *build = NULL, *symbols = NULL, *image = NULL;
	struct elp_kernel *k = NULL;
	const char *kind;
	char *config = NULL;
	int force = 0, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "release", 0, POPT_ARG_STRING, &release, 0,
		  "kernel release, as uname -r prints it", "RELEASE" },
		{ "source", 0, POPT_ARG_STRING, &source, 0,
		  "kernel source directory or tarball", "DIR|TARBALL" },
		{ "config", 0, POPT_ARG_STRING, &config_path, 0,
		  "the kernel's .config (plain or compressed)", "FILE" },
		{ "name", 0, POPT_ARG_STRING, &name, 0,
		  "catalogue name (default: the release)", "NAME" },
		{ "build", 0, POPT_ARG_STRING, &build, 0,
		  "kbuild directory modules link against (headers)", "DIR" },
		{ "symbols", 0, POPT_ARG_STRING, &symbols, 0,
		  "the kernel's symbol table, /proc/kallsyms format", "FILE" },
		{ "image", 0, POPT_ARG_STRING, &image, 0,
		  "the kernel image (vmlinuz), for 'elivepatch verify'",
		  "FILE" },
		{ "force", 0, POPT_ARG_NONE, &force, 0,
		  "add even without CONFIG_LIVEPATCH", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse(
		"--release R --source DIR|TARBALL --config FILE [<options>]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	if (poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	if (!release || !source || !config_path) {
		rc = cli_usage_error(
			pc, "--release, --source and --config are required");
		goto out;
	}
	rc = 1;
	if (elp_kernel_check_source(cli->ctx, source, &kind) ||
	    elp_config_read(cli->ctx, config_path, &config))
		goto out;
	if (build && !elp_is_dir(build)) {
		cli_error("cannot use build dir '%s': not a directory", build);
		goto out;
	}
	if (symbols && check_symbols(symbols))
		goto out;
	if (image && !elp_is_file(image)) {
		cli_error("cannot use kernel image '%s': %s", image,
			  strerror(errno ? errno : ENOENT));
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (!k || elp_kernel_set_config(k, config))
		goto out;
	k->name = strdup(name ? name : release);
	k->release = strdup(release);
	k->source = elp_abspath(source);
	k->source_kind = strdup(kind);
	k->config_path = elp_abspath(config_path);
	k->build_dir = build ? elp_abspath(build) : NULL;
	k->symbols_path = symbols ? elp_abspath(symbols) : NULL;
	k->image_path = image ? elp_abspath(image) : NULL;
	if (check_livepatch(k, config_path, force))
		goto out;
	rc = store_kernel(cli, k);
out:
	elp_kernel_free(k);
	free(config);
	poptFreeContext(pc);
	free(release);
	free(source);
	free(config_path);
	free(name);
	free(build);
	free(symbols);
	free(image);
	return rc;
}

static int list_one(const struct elp_kernel *k, void *data)
{
	struct cli_list *list = data;
	char id[24], created[32];

	if (cli_list_json_item(list)) {
		print_kernel_json(stdout, k, NULL, 0);
		return 0;
	}
	snprintf(id, sizeof(id), "%lld", (long long)k->id);
	format_time(k->created_at, created, sizeof(created));
	{
		const char *cells[] = { id,
					k->name,
					k->release,
					k->livepatch ? "yes" : "no",
					k->source ? k->source : "-",
					created };

		cli_list_row(list, cells);
	}
	return 0;
}

static int kernel_list(struct cli *cli, int argc, const char **argv)
{
	static const char *const headers[] = { "ID",	    "NAME",   "RELEASE",
					       "LIVEPATCH", "SOURCE", "ADDED" };
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
	rc = elp_kernel_foreach(cat, list_one, &list) ? 1 : 0;
	cli_list_end(&list);
	elp_catalogue_close(cat);
	return rc;
}

static int find_kernel(struct cli *cli, struct elp_catalogue *cat,
		       const char *spec, struct elp_kernel **k)
{
	int err = elp_kernel_find(cat, spec, k);

	if (err == -ENOENT)
		cli_error(
			"no kernel '%s' in the catalogue; see 'elivepatch kernel list'",
			spec);
	(void)cli;
	return err ? 1 : 0;
}

static int kernel_patch_names(struct elp_catalogue *cat, int64_t kernel_id,
			      char ***names, size_t *nr)
{
	int64_t *ids = NULL;
	size_t n = 0, i;
	char **list;
	int err;

	err = elp_kernel_patch_ids(cat, kernel_id, &ids, &n);
	if (err)
		return err;
	list = calloc(n + 1, sizeof(*list));
	for (i = 0; list && i < n; i++) {
		struct elp_patch *p;
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long)ids[i]);
		if (elp_patch_find(cat, id, &p) == 0) {
			list[i] = strdup(p->name);
			elp_patch_free(p);
		} else {
			list[i] = strdup(id);
		}
	}
	free(ids);
	if (!list)
		return -ENOMEM;
	*names = list;
	*nr = n;
	return 0;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static int kernel_show(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_kernel *k;
	char **patches = NULL;
	size_t nr = 0;
	const char *spec;
	poptContext pc;
	bool done;
	int rc;

	rc = cli_parse_one("KERNEL", NULL, argc, argv, &pc, &spec, &done);
	if (rc || done)
		return rc;
	rc = 1;
	if (cli_open_catalogue(cli, ELP_CATALOGUE_READ, &cat))
		goto out;
	if (find_kernel(cli, cat, spec, &k) == 0) {
		if (kernel_patch_names(cat, k->id, &patches, &nr) == 0) {
			if (cli->json)
				print_kernel_json(stdout, k,
						  (const char *const *)patches,
						  nr);
			else
				print_kernel_text(
					k, (const char *const *)patches, nr);
			rc = 0;
		}
		free_names(patches, nr);
		elp_kernel_free(k);
	}
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static int kernel_remove(struct cli *cli, int argc, const char **argv)
{
	struct elp_event ev = { .kind = "kernel-remove" };
	struct elp_catalogue *cat;
	struct elp_kernel *k = NULL;
	const char *spec;
	int force = 0, rc, builds;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "force", 0, POPT_ARG_NONE, &force, 0,
		  "remove even when builds reference it (they are kept, detached)",
		  NULL },
		POPT_TABLEEND
	};

	rc = cli_parse_one("[--force] KERNEL", options, argc, argv, &pc, &spec,
			   &done);
	if (rc || done)
		return rc;
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	if (elp_catalogue_begin(cat))
		goto close;
	if (find_kernel(cli, cat, spec, &k))
		goto rollback;
	builds = elp_kernel_count_builds(cat, k->id);
	if (builds < 0)
		goto rollback;
	if (builds > 0 && !force) {
		cli_error(
			"kernel '%s' is referenced by %d build%s; use --force to remove it anyway",
			k->name, builds, builds == 1 ? "" : "s");
		goto rollback;
	}
	ev.kernel_release = k->release;
	ev.detail = k->name;
	if (elp_kernel_remove(cat, k) || elp_event_add(cat, &ev) ||
	    elp_catalogue_commit(cat))
		goto rollback;
	if (!cli->json)
		printf("removed kernel '%s'\n", k->name);
	rc = 0;
	goto close;
rollback:
	elp_catalogue_rollback(cat);
close:
	elp_kernel_free(k);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

/* Import each file as a 'kernel' patch (or reuse identical content). */
static int import_kernel_patch(struct cli *cli, struct elp_catalogue *cat,
			       const struct elp_kernel *k, const char *file)
{
	struct elp_patch *p = NULL, *existing = NULL;
	int err;

	err = elp_patch_load(cli->ctx, file, &p);
	if (err)
		return err;
	p->kind = ELP_PATCH_KERNEL;
	err = elp_patch_find_by_sha(cat, ELP_PATCH_KERNEL, p->sha256,
				    &existing);
	if (err < 0)
		goto out;
	if (err == 1) {
		p->id = existing->id;
		err = 0;
	} else {
		/* names are unique across kinds: qualify with the kernel */
		char *name;

		if (asprintf(&name, "%s:%s", k->name, p->name) < 0) {
			err = -ENOMEM;
			goto out;
		}
		free(p->name);
		p->name = name;
		err = elp_patch_store(cat, p);
	}
	if (!err)
		err = elp_kernel_append_patch(cat, k->id, p->id);
	if (err == -EEXIST)
		cli_error("patch '%s' is already recorded for kernel '%s'",
			  file, k->name);
out:
	elp_patch_free(existing);
	elp_patch_free(p);
	return err;
}

static int kernel_patch_add(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_kernel *k = NULL;
	const char *spec, *file;
	const char **files;
	poptContext pc;
	bool done;
	int rc, n = 0;

	rc = cli_parse("KERNEL PATCHFILE...", NULL, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	spec = poptGetArg(pc);
	files = poptGetArgs(pc);
	if (!spec || !files || !files[0]) {
		rc = cli_usage_error(pc,
				     "missing argument: KERNEL PATCHFILE...");
		poptFreeContext(pc);
		return rc;
	}
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	if (elp_catalogue_begin(cat))
		goto close;
	if (find_kernel(cli, cat, spec, &k))
		goto rollback;
	for (; (file = files[n]) != NULL; n++)
		if (import_kernel_patch(cli, cat, k, file))
			goto rollback;
	{
		struct elp_event ev = { .kind = "kernel-patch-add",
					.kernel_id = k->id,
					.kernel_release = k->release };
		char detail[64];

		snprintf(detail, sizeof(detail), "%d out-of-tree patch%s", n,
			 n == 1 ? "" : "es");
		ev.detail = detail;
		if (elp_event_add(cat, &ev) || elp_catalogue_commit(cat))
			goto rollback;
	}
	if (!cli->json)
		printf("kernel '%s': recorded %d out-of-tree patch%s\n",
		       k->name, n, n == 1 ? "" : "es");
	rc = 0;
	goto close;
rollback:
	elp_catalogue_rollback(cat);
close:
	elp_kernel_free(k);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static const struct command patch_subcommands[] = {
	{ "add", kernel_patch_add,
	  "record the out-of-tree patches a kernel was built with, in order" },
	{ NULL, NULL, NULL },
};

static int kernel_patch(struct cli *cli, int argc, const char **argv)
{
	return cli_dispatch(cli, "kernel patch", patch_subcommands, argc, argv);
}

static const struct command subcommands[] = {
	{ "detect", kernel_detect,
	  "describe the running kernel (--add records it)" },
	{ "add", kernel_add, "add a kernel: release, source, config" },
	{ "list", kernel_list, "list catalogued kernels" },
	{ "show", kernel_show, "show a kernel and its out-of-tree patches" },
	{ "remove", kernel_remove, "remove a kernel from the catalogue" },
	{ "patch", kernel_patch,
	  "out-of-tree patches a kernel was built with" },
	{ NULL, NULL, NULL },
};

static int run_kernel(struct cli *cli, int argc, const char **argv)
{
	return cli_dispatch(cli, "kernel", subcommands, argc, argv);
}

const struct command cmd_kernel = {
	"kernel",
	run_kernel,
	"manage the kernels livepatches are built for",
};
