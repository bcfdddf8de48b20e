// SPDX-License-Identifier: GPL-2.0-or-later
/* elivepatch kernel: the kernels livepatches are built for. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/kernel-add.h"
#include "lib/kernel.h"
#include "lib/patch.h"
#include "lib/util.h"

/* The snapshot once stored, the file it is read from before. */
static const char *symbols_shown(const struct elp_kernel *k)
{
	return k->symbols_path ? k->symbols_path
			       : k->inputs[ELP_KERNEL_SYMBOLS].path;
}

static void print_inputs_json(struct elp_json *j, const struct elp_kernel *k)
{
	size_t i;

	elp_json_object(j, "inputs");
	for (i = 0; i < ELP_KERNEL_NR_INPUTS; i++) {
		const struct elp_kernel_origin *o = &k->inputs[i];

		if (!o->origin)
			continue;
		elp_json_object(j, elp_kernel_input_names[i]);
		elp_json_str(j, "path", o->path);
		elp_json_str(j, "origin", o->origin);
		elp_json_str(j, "sha256", o->sha256);
		elp_json_end(j);
	}
	elp_json_end(j);
}

static void print_kernel_json(struct elp_json *j, const struct elp_kernel *k,
			      const char *const *patches, size_t nr_patches)
{
	size_t i;

	elp_json_object(j, NULL);
	if (k->id)
		elp_json_int(j, "id", k->id);
	elp_json_str(j, "name", k->name);
	elp_json_str(j, "release", k->release);
	elp_json_str(j, "version", k->version_text);
	elp_json_str(j, "arch", k->arch);
	elp_json_str(j, "source", k->source);
	elp_json_str(j, "source_kind", k->source_kind);
	elp_json_str(j, "build_dir", k->build_dir);
	elp_json_str(j, "config", k->config_path);
	elp_json_str(j, "config_sha256", k->config_sha256);
	elp_json_str(j, "compiler", k->cc_version_text);
	elp_json_str(j, "build_id", k->build_id);
	elp_json_str(j, "symbols", symbols_shown(k));
	elp_json_str(j, "symbols_sha256", k->inputs[ELP_KERNEL_SYMBOLS].sha256);
	elp_json_str(j, "image", k->image_path);
	elp_json_str(j, "modules", k->modules_dir);
	elp_json_bool(j, "livepatch", k->livepatch);
	print_inputs_json(j, k);
	if (patches) {
		elp_json_array(j, "patches");
		for (i = 0; i < nr_patches; i++)
			elp_json_str(j, NULL, patches[i]);
		elp_json_end(j);
	}
	elp_json_end(j);
}

/* k alone: with --json, the show commands' output. */
static void print_kernel_json_alone(const struct elp_kernel *k,
				    const char *const *patches,
				    size_t nr_patches)
{
	struct elp_json j = { 0 };

	print_kernel_json(&j, k, patches, nr_patches);
	cli_json_done(&j);
}

static void print_field(const char *label, const char *value)
{
	printf("%-14s %s\n", label, value ? value : "-");
}

/* Each input with where it came from: "  symbols  PATH (ORIGIN)". */
static void print_inputs_text(const struct elp_kernel *k)
{
	size_t i;

	printf("inputs:\n");
	for (i = 0; i < ELP_KERNEL_NR_INPUTS; i++) {
		const struct elp_kernel_origin *o = &k->inputs[i];

		if (!o->origin)
			continue;
		printf("  %-8s %s (%s)\n", elp_kernel_input_names[i],
		       o->path ? o->path : "-", o->origin);
		if (o->sha256)
			printf("  %-8s sha256 %s\n", "", o->sha256);
	}
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
	print_field("symbols:", symbols_shown(k));
	print_field("image:", k->image_path);
	print_field("modules:", k->modules_dir);
	print_field("livepatch:", k->livepatch ? "yes (CONFIG_LIVEPATCH=y)"
					       : "NO (CONFIG_LIVEPATCH unset)");
	print_inputs_text(k);
	if (patches) {
		printf("%-14s %zu\n", "patches:", nr_patches);
		for (i = 0; i < nr_patches; i++)
			printf("  %zu. %s\n", i + 1, patches[i]);
	}
}

/* Refuse (or, forced, warn about) a kernel livepatches cannot load into. */
/* --force: why a kernel without CONFIG_LIVEPATCH is refused, or said */
static int report_no_livepatch(const struct elp_kernel *k, const char *what,
			       bool force)
{
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

static int add_kernel(struct cli *cli, struct elp_kernel *k, const char *what,
		      bool force)
{
	struct elp_catalogue *cat;
	int err;

	if (!k->livepatch && report_no_livepatch(k, what, force))
		return 1;
	if (cli_open_catalogue(cli, 0, &cat))
		return 1;
	err = elp_kernel_add(cat, k, NULL, force);
	elp_catalogue_close(cat);
	if (err)
		return 1;
	if (!cli->json) {
		printf("added kernel '%s' (release %s, id %lld)\n", k->name,
		       k->release, (long long)k->id);
		print_inputs_text(k);
		if (!k->symbols_path)
			cli_warn(
				"no symbol table for %s: builds for kernel '%s' need one (kernel add --symbols FILE or --image VMLINUZ)",
				k->release, k->name);
	} else {
		print_kernel_json_alone(k, NULL, 0);
	}
	return 0;
}

/*
 * Seconds elapsed on stderr while a long step runs, when stderr is a
 * terminal: "booting the image: 12 s", erased when done.
 */
struct ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done, running;
	const char *what;
};

static void *ticker_run(void *data)
{
	struct ticker *t = data;
	struct timespec until;
	long seconds = 0;

	pthread_mutex_lock(&t->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	while (!t->done) {
		until.tv_sec++;
		if (pthread_cond_timedwait(&t->done_cond, &t->lock, &until) ==
			    ETIMEDOUT &&
		    !t->done)
			fprintf(stderr, "\r%s: %ld s", t->what, ++seconds);
	}
	if (seconds)
		fputs("\r\033[K", stderr);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void ticker_start(struct ticker *t, const char *what)
{
	memset(t, 0, sizeof(*t));
	t->what = what;
	if (!isatty(STDERR_FILENO))
		return;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->done_cond, NULL);
	t->running = pthread_create(&t->thread, NULL, ticker_run, t) == 0;
}

static void ticker_stop(struct ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->done = true;
	pthread_cond_signal(&t->done_cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->done_cond);
	pthread_mutex_destroy(&t->lock);
}

/* the library's long steps, shown by the ticker */
static void long_step(void *data, const char *what, bool begin)
{
	if (begin)
		ticker_start(data, what);
	else
		ticker_stop(data);
}

/* The string options of 'kernel add' and 'kernel detect' (popt strdups). */
struct kernel_args {
	char *release, *source, *config, *name, *build, *symbols, *image,
		*modules;
};

static void given_of(const struct kernel_args *a, struct ticker *ticker,
		     struct elp_kernel_given *g)
{
	*g = (struct elp_kernel_given){
		.release = a->release,
		.source = a->source,
		.config = a->config,
		.build = a->build,
		.symbols = a->symbols,
		.image = a->image,
		.modules = a->modules,
		.name = a->name,
		.long_step = long_step,
		.data = ticker,
	};
}

static void kernel_args_free(struct kernel_args *a)
{
	free(a->release);
	free(a->source);
	free(a->config);
	free(a->name);
	free(a->build);
	free(a->symbols);
	free(a->image);
	free(a->modules);
}

static int kernel_detect(struct cli *cli, int argc, const char **argv)
{
	int add = 0, force = 0, rc;
	struct kernel_args a = { 0 };
	struct elp_kernel_given g;
	struct elp_kernel *k;
	struct ticker ticker;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "add", 0, POPT_ARG_NONE, &add, 0,
		  "record the running kernel in the catalogue", NULL },
		{ "name", 0, POPT_ARG_STRING, &a.name, 0,
		  "catalogue name (default: the release)", "NAME" },
		{ "source", 0, POPT_ARG_STRING, &a.source, 0,
		  "kernel source directory or tarball", "DIR|TARBALL" },
		{ "build", 0, POPT_ARG_STRING, &a.build, 0,
		  "kbuild directory to link modules against", "DIR" },
		{ "symbols", 0, POPT_ARG_STRING, &a.symbols, 0,
		  "the kernel's symbol table (default: found, /proc/kallsyms last)",
		  "FILE" },
		{ "modules", 0, POPT_ARG_STRING, &a.modules, 0,
		  "the kernel's modules tree (default: /lib/modules/RELEASE)",
		  "DIR" },
		{ "force", 0, POPT_ARG_NONE, &force, 0,
		  "add even without CONFIG_LIVEPATCH", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse(
		"[--add [--name NAME] [--source DIR|TARBALL] [--build DIR] [--symbols FILE] [--modules DIR] [--force]]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	if (poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	given_of(&a, &ticker, &g);
	if (elp_kernel_describe_running(cli->ctx, &g, &k)) {
		rc = 1;
		goto out;
	}
	if (add) {
		rc = add_kernel(cli, k, "the running kernel", force);
	} else {
		if (!k->livepatch)
			cli_warn(
				"the running kernel has no CONFIG_LIVEPATCH=y: livepatches cannot load into it");
		if (cli->json)
			print_kernel_json_alone(k, NULL, 0);
		else
			print_kernel_text(k, NULL, 0);
	}
	elp_kernel_free(k);
out:
	poptFreeContext(pc);
	kernel_args_free(&a);
	return rc;
}

static int kernel_add(struct cli *cli, int argc, const char **argv)
{
	struct kernel_args a = { 0 };
	const char *release_origin = NULL;
	struct elp_kernel_given g;
	enum elp_kernel_missing missing;
	struct elp_kernel *k = NULL;
	struct ticker ticker;
	int force = 0, rc;
	poptContext pc;
	bool done;
	struct poptOption options[] = {
		{ "release", 0, POPT_ARG_STRING, &a.release, 0,
		  "kernel release, as uname -r prints it (default: from the source dir or the image)",
		  "RELEASE" },
		{ "source", 0, POPT_ARG_STRING, &a.source, 0,
		  "kernel source directory or tarball", "DIR|TARBALL" },
		{ "config", 0, POPT_ARG_STRING, &a.config, 0,
		  "the kernel's .config, plain or compressed (default: the source dir's)",
		  "FILE" },
		{ "name", 0, POPT_ARG_STRING, &a.name, 0,
		  "catalogue name (default: the release)", "NAME" },
		{ "build", 0, POPT_ARG_STRING, &a.build, 0,
		  "kbuild directory modules link against (headers)", "DIR" },
		{ "symbols", 0, POPT_ARG_STRING, &a.symbols, 0,
		  "the kernel's symbol table, kallsyms or System.map (default: found)",
		  "FILE" },
		{ "image", 0, POPT_ARG_STRING, &a.image, 0,
		  "the kernel image (vmlinuz), for 'elivepatch verify'",
		  "FILE" },
		{ "modules", 0, POPT_ARG_STRING, &a.modules, 0,
		  "the kernel's modules tree, lib/modules/RELEASE or a root that has it",
		  "DIR" },
		{ "force", 0, POPT_ARG_NONE, &force, 0,
		  "add even without CONFIG_LIVEPATCH", NULL },
		POPT_TABLEEND
	};

	rc = cli_parse(
		"--source DIR|TARBALL [--release R] [--config FILE] [<options>]",
		options, argc, argv, &pc, &done);
	if (rc || done)
		return rc;
	if (poptPeekArg(pc)) {
		rc = cli_usage_error(pc, "unexpected argument '%s'",
				     poptPeekArg(pc));
		goto out;
	}
	if (!a.source) {
		rc = cli_usage_error(pc, "--source is required");
		goto out;
	}
	given_of(&a, &ticker, &g);
	rc = 1;
	if (elp_kernel_describe(cli->ctx, &g, &k, &release_origin, &missing))
		goto out;
	if (missing == ELP_KERNEL_MISSING_RELEASE) {
		rc = cli_usage_error(
			pc,
			"--release is required: '%s' is not a built kernel tree and no --image was given",
			a.source);
		goto out;
	}
	if (missing == ELP_KERNEL_MISSING_CONFIG) {
		rc = cli_usage_error(
			pc,
			"--config is required: '%s' has no .config and no config-%s is beside the image",
			a.source, k->release);
		goto out;
	}
	if (release_origin && !cli->json)
		printf("release %s (from %s)\n", k->release, release_origin);
	rc = add_kernel(cli, k, k->config_path, force);
out:
	elp_kernel_free(k);
	poptFreeContext(pc);
	kernel_args_free(&a);
	return rc;
}

static int list_one(const struct elp_kernel *k, void *data)
{
	struct cli_list *list = data;
	char id[24], created[32];

	if (cli_list_json(list)) {
		/* a newline after each, as listings always had */
		print_kernel_json(cli_list_json(list), k, NULL, 0);
		elp_json_newline(cli_list_json(list));
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

static int find_kernel(struct elp_catalogue *cat, const char *spec,
		       struct elp_kernel **k)
{
	int err = elp_kernel_find(cat, spec, k);

	if (err == -ENOENT)
		cli_error(
			"no kernel '%s' in the catalogue; see 'elivepatch kernel list'",
			spec);
	return err ? 1 : 0;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* A stored table that builds would refuse, said where it is looked at. */
static void warn_symbols(const struct elp_kernel *k)
{
	switch (k->symbols_path ? elp_kernel_symbols_extract(NULL, k, NULL)
				: 0) {
	case 0:
		break;
	case -ENOENT:
		cli_warn(
			"the symbol table of kernel '%s' is missing from the store ('%s'): builds for it are refused",
			k->name, k->symbols_path);
		break;
	case -EBADMSG:
		cli_warn(
			"the symbol table of kernel '%s' was altered ('%s'): builds for it are refused",
			k->name, k->symbols_path);
		break;
	case -ESTALE:
		cli_warn(
			"kernel '%s' records its symbol table as a path, not a snapshot: builds for it are refused; remove and add it again",
			k->name);
		break;
	default:
		cli_warn("cannot read the symbol table of kernel '%s' ('%s')",
			 k->name, k->symbols_path);
	}
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
	if (find_kernel(cat, spec, &k) == 0) {
		warn_symbols(k);
		if (elp_kernel_patch_names(cat, k->id, &patches, &nr) == 0) {
			if (cli->json)
				print_kernel_json_alone(
					k, (const char *const *)patches, nr);
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
	struct elp_catalogue *cat;
	struct elp_kernel *k = NULL;
	const char *spec;
	int force = 0, rc, err, builds;
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
	if (find_kernel(cat, spec, &k))
		goto close;
	err = elp_kernel_delete(cat, k, force, &builds);
	if (err == -EBUSY)
		cli_error(
			"kernel '%s' is referenced by %d build%s; use --force to remove it anyway",
			k->name, builds, builds == 1 ? "" : "s");
	else if (!err && !cli->json)
		printf("removed kernel '%s'\n", k->name);
	rc = err ? 1 : 0;
close:
	elp_kernel_free(k);
	elp_catalogue_close(cat);
out:
	poptFreeContext(pc);
	return rc;
}

static int kernel_patch_add(struct cli *cli, int argc, const char **argv)
{
	struct elp_catalogue *cat;
	struct elp_kernel *k = NULL;
	const char **files;
	const char *spec;
	poptContext pc;
	size_t n = 0;
	bool done;
	int rc, err;

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
	while (files[n])
		n++;
	rc = 1;
	if (cli_open_catalogue(cli, 0, &cat))
		goto out;
	if (find_kernel(cat, spec, &k))
		goto close;
	err = elp_kernel_patch_add(cli->ctx, cat, k, files, n);
	if (!err && !cli->json)
		printf("kernel '%s': recorded %zu out-of-tree patch%s\n",
		       k->name, n, n == 1 ? "" : "es");
	rc = err ? 1 : 0;
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
