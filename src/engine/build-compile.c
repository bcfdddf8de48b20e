// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Compiling the changed translation units with kbuild's single-object
 * targets ("make fs/proc/cmdline.o"), original and patched, and diffing them.
 *
 * Original objects are cached next to the prepared tree, keyed by the
 * sha256 of the unpatched .c file, so a warm build only compiles the
 * patched side:  <tree_root>/objs/<sha>-<obj path with / as _>{.o,.target}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build-internal.h"
#include "internal.h"

static char *tree_path(const struct elp_bstate *b, const char *rel)
{
	char *p;

	return asprintf(&p, "%s/%s", b->tree, rel) < 0 ? NULL : p;
}

/* "fs/proc/cmdline.o" -> "<tree>/fs/proc/.cmdline.o.cmd" */
static char *cmd_file(const struct elp_bstate *b, const char *obj)
{
	const char *slash = strrchr(obj, '/');
	char *p;
	int n;

	if (slash)
		n = asprintf(&p, "%s/%.*s/.%s.cmd", b->tree, (int)(slash - obj),
			     obj, slash + 1);
	else
		n = asprintf(&p, "%s/.%s.cmd", b->tree, obj);
	return n < 0 ? NULL : p;
}

/*
 * Which object of the running kernel the unit belongs to, decided by kbuild
 * itself: objects that are part of a module are compiled with -DMODULE and
 * KBUILD_MODNAME names the module; everything else is in vmlinux.
 */
static int unit_target(struct elp_bstate *b, const char *obj, char **target)
{
	char *path = cmd_file(b, obj), *data = NULL, *line_end, *m;
	bool module;
	int err;

	if (!path)
		return -ENOMEM;
	err = elp_read_file(b->ctx, path, &data, NULL);
	free(path);
	if (err)
		return err;
	line_end = strchr(data, '\n');
	if (line_end)
		*line_end = '\0';
	module = strstr(data, " -DMODULE ") != NULL;
	m = strstr(data, "-DKBUILD_MODNAME='\"");
	if (module && m) {
		char *end;

		m += strlen("-DKBUILD_MODNAME='\"");
		end = strchr(m, '"');
		*target = end ? strndup(m, (size_t)(end - m)) : NULL;
	} else {
		*target = strdup("vmlinux");
	}
	free(data);
	return *target ? 0 : -ENOMEM;
}

static char *cache_name(const struct elp_bstate *b, const struct elp_bunit *u,
			const char *ext)
{
	char *p, *s;

	if (asprintf(&p, "%s/objs/%.16s-%.*s%s", b->tree_root, u->pristine_sha,
		     (int)strlen(u->obj) - 2, u->obj, ext) < 0)
		return NULL;
	/* flatten the object's path */
	for (s = p + strlen(b->tree_root) + strlen("/objs/"); *s; s++)
		if (*s == '/')
			*s = '_';
	return p;
}

static int remove_tree_object(struct elp_bstate *b, const char *obj)
{
	char *o = tree_path(b, obj), *c = cmd_file(b, obj);
	int err = 0;

	if (!o || !c)
		err = -ENOMEM;
	else if ((unlink(o) < 0 && errno != ENOENT) ||
		 (unlink(c) < 0 && errno != ENOENT))
		err = -errno;
	free(o);
	free(c);
	return err;
}

static int compile_units(struct elp_bstate *b, struct elp_bunit **units,
			 size_t n, const char *side)
{
	const char **targets;
	size_t i;
	int err = 0;

	if (n == 0)
		return 0;
	targets = calloc(n, sizeof(*targets));
	if (!targets)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		elp_notice(b->ctx, "[compile] %s (%s)", units[i]->src, side);
		err = remove_tree_object(b, units[i]->obj);
		if (err)
			goto out;
		targets[i] = units[i]->obj;
	}
	{
		char what[512];

		snprintf(what, sizeof(what), "compiling %s%s (%s)",
			 units[0]->src, n > 1 ? " ..." : "", side);
		/* in a partial tree a failure may be a file not extracted */
		err = -EIO;
		if (elp_btree_partial(b)) {
			err = elp_bmake_try(b, b->tree, targets, n, true);
			if (err == -EIO)
				err = elp_btree_need_all(b) ?: -EIO;
		}
		if (err == -EIO)
			err = elp_bmake(b, b->tree, targets, n, true, what);
		if (err)
			goto out;
	}
	for (i = 0; i < n; i++) {
		char *o = tree_path(b, units[i]->obj);

		if (!o || !elp_is_file(o)) {
			elp_err(b->ctx, "kbuild did not produce '%s'",
				units[i]->obj);
			free(o);
			err = -EIO;
			goto out;
		}
		free(o);
	}
out:
	free(targets);
	return err;
}

int elp_bcompile_original(struct elp_bstate *b)
{
	struct elp_bunit **todo;
	char *objs = NULL;
	size_t i, n = 0;
	int err = 0;

	/* a missing or altered symbol table refuses before any compiling */
	err = elp_kernel_symbols_extract(b->ctx, b->kernel, NULL);
	if (err)
		return err;
	todo = calloc(b->nr_units ? b->nr_units : 1, sizeof(void *));
	if (!todo || asprintf(&objs, "%s/objs", b->tree_root) < 0) {
		free(todo);
		return -ENOMEM;
	}
	err = elp_mkdir_p(b->ctx, objs, 0755);
	if (err)
		goto out;
	for (i = 0; i < b->nr_units; i++) {
		struct elp_bunit *u = &b->units[i];
		char sha[ELP_SHA256_HEX_LEN + 1];
		char *src = tree_path(b, u->src), *co = NULL, *ct = NULL;

		if (!src) {
			err = -ENOMEM;
			goto out;
		}
		if (!elp_is_file(src)) {
			elp_bstate_refuse(
				b, "'%s' is not in the kernel source of '%s'",
				u->src, b->kernel->name);
			free(src);
			err = -ENOTSUP;
			goto out;
		}
		err = elp_sha256_file(b->ctx, src, sha);
		free(src);
		if (err)
			goto out;
		u->pristine_sha = strdup(sha);
		co = cache_name(b, u, ".o");
		ct = cache_name(b, u, ".target");
		if (!u->pristine_sha || !co || !ct) {
			free(co);
			free(ct);
			err = -ENOMEM;
			goto out;
		}
		if (elp_is_file(co) && elp_is_file(ct) &&
		    elp_read_file(b->ctx, ct, &u->target, NULL) == 0 &&
		    elp_bcopy_file(b->ctx, co, u->orig_o) == 0) {
			elp_rstrip(u->target);
			elp_info(b->ctx, "[compile] %s (original, cached)",
				 u->src);
		} else {
			free(u->target);
			u->target = NULL;
			todo[n++] = u;
		}
		free(co);
		free(ct);
	}
	err = compile_units(b, todo, n, "original");
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		struct elp_bunit *u = todo[i];
		char *o = tree_path(b, u->obj), *co = cache_name(b, u, ".o");
		char *ct = cache_name(b, u, ".target");

		if (!o || !co || !ct)
			err = -ENOMEM;
		if (!err)
			err = unit_target(b, u->obj, &u->target);
		if (!err)
			err = elp_bcopy_file(b->ctx, o, u->orig_o);
		/* cache: object first, the target file makes it valid */
		if (!err && elp_bcopy_file(b->ctx, o, co) == 0)
			elp_write_file_atomic(b->ctx, ct, u->target,
					      strlen(u->target), 0644);
		free(o);
		free(co);
		free(ct);
		if (err)
			goto out;
	}
out:
	free(objs);
	free(todo);
	return err;
}

int elp_bcompile_patched(struct elp_bstate *b)
{
	struct elp_bunit **all;
	size_t i;
	int err;

	all = calloc(b->nr_units ? b->nr_units : 1, sizeof(void *));
	if (!all)
		return -ENOMEM;
	for (i = 0; i < b->nr_units; i++)
		all[i] = &b->units[i];
	/*
	 * <datadir>/include (elivepatch.h) for the patched side only, through
	 * CPATH (searched like -I, also with -nostdinc): in KCFLAGS it would
	 * change the command line of kbuild's prepare steps, which then
	 * rebuild bounds.s and asm-offsets.s on every change of side.
	 */
	{
		const char *old = getenv("CPATH");
		char *saved = old ? strdup(old) : NULL, *cpath = NULL;

		if (asprintf(&cpath, "%s%s%s", b->include_dir,
			     old && *old ? ":" : "", old ? old : "") < 0) {
			free(saved);
			free(all);
			return -ENOMEM;
		}
		setenv("CPATH", cpath, 1);
		if (b->log_fd >= 0)
			dprintf(b->log_fd, "$ export CPATH=%s\n", cpath);
		err = compile_units(b, all, b->nr_units, "patched");
		if (saved)
			setenv("CPATH", saved, 1);
		else
			unsetenv("CPATH");
		free(saved);
		free(cpath);
	}
	for (i = 0; !err && i < b->nr_units; i++) {
		struct elp_bunit *u = &b->units[i];
		char *o = tree_path(b, u->obj), *target = NULL;

		err = o ? elp_bcopy_file(b->ctx, o, u->patched_o) : -ENOMEM;
		if (!err)
			err = unit_target(b, u->obj, &target);
		if (!err && strcmp(target, u->target) != 0) {
			elp_bstate_refuse(
				b,
				"%s: the patch moves the object from '%s' to '%s'",
				u->src, u->target, target);
			err = -ENOTSUP;
		}
		free(target);
		free(o);
		/* never leave a patched object in the shared tree */
		remove_tree_object(b, u->obj);
	}
	free(all);
	return err;
}

/*
 * The symbols of module target modname, from its .ko in the kernel's modules
 * tree.  Not when the symbol table has them already: a kallsyms dump of a
 * host where the module is loaded lists them, and adding the .ko's again
 * would count every symbol twice.
 */
static int add_module_symbols(struct elp_bstate *b, struct elp_symtab *symtab,
			      const char *modname)
{
	char *ko = NULL, *plain = NULL;
	int err;

	if (elp_symtab_has_obj(symtab, modname)) {
		elp_info(b->ctx, "[diff] %s: symbols from the kernel's table",
			 modname);
		return 0;
	}
	err = elp_kernel_module_path(b->ctx, b->kernel, modname, &ko);
	if (err)
		return err;
	/* .ko.xz and friends: the ELF reader needs the plain module */
	if (strcmp(ko + strlen(ko) - 3, ".ko") != 0) {
		char *data = NULL;
		size_t len = 0;

		err = elp_read_any(b->ctx, ko, "module", &data, &len);
		if (!err &&
		    asprintf(&plain, "%s/%s.ko", b->workdir, modname) < 0)
			err = -ENOMEM;
		if (!err)
			err = elp_write_file_atomic(b->ctx, plain, data, len,
						    0644);
		free(data);
	}
	if (!err) {
		elp_info(b->ctx, "[diff] %s: symbols from '%s'", modname, ko);
		err = elp_symtab_add_module(b->ctx, symtab, modname,
					    plain ? plain : ko);
	}
	free(plain);
	free(ko);
	return err;
}

/* The kernel's stored symbol table, checked, with Module.symvers' exports. */
static int load_symbols(struct elp_bstate *b, struct elp_symtab **symtab)
{
	const struct elp_kernel *k = b->kernel;
	char *table = NULL, *symvers = NULL;
	int err;

	if (asprintf(&table, "%s/symbols", b->workdir) < 0)
		return -ENOMEM;
	err = elp_kernel_symbols_extract(b->ctx, k, table);
	if (!err)
		err = elp_symtab_load(b->ctx, table, symtab);
	free(table);
	if (err)
		return err;
	if (k->build_dir &&
	    asprintf(&symvers, "%s/Module.symvers", k->build_dir) > 0 &&
	    elp_is_file(symvers))
		err = elp_symtab_load_exports(b->ctx, *symtab, symvers);
	free(symvers);
	return err;
}

/* Is name a new global function or variable of one of the patch's files? */
static bool patch_defines(const struct elp_bstate *b, const char *name)
{
	size_t i, j;

	for (i = 0; i < b->nr_units; i++) {
		const struct elp_diff_result *d = b->units[i].diff;

		for (j = 0; d && j < d->nr_new_globals; j++)
			if (!strcmp(d->new_globals[j], name))
				return true;
	}
	return false;
}

/*
 * References the diffs left to the module loader: fine when another file of
 * the patch adds that global, otherwise the kernel may not have it.
 */
static void warn_loader_syms(struct elp_bstate *b)
{
	size_t i, j;

	for (i = 0; i < b->nr_units; i++) {
		const struct elp_bunit *u = &b->units[i];
		const struct elp_diff_result *d = u->diff;

		for (j = 0; d && j < d->nr_loader_syms; j++)
			if (!patch_defines(b, d->loader_syms[j]))
				elp_warn(
					b->ctx,
					"%s: %s: neither exported nor in the symbol table of %s; leaving it to the module loader",
					u->src, d->loader_syms[j], u->target);
	}
}

int elp_bdiff(struct elp_bstate *b)
{
	struct elp_symtab *symtab = NULL;
	size_t i, kind, total = 0, callbacks = 0;
	int err;

	err = load_symbols(b, &symtab);
	if (err)
		goto out;
	for (i = 0; i < b->nr_units; i++) {
		const char *target = b->units[i].target;
		size_t j;

		if (!strcmp(target, "vmlinux"))
			continue;
		/* once per module, however many of its files the patch has */
		for (j = 0; j < i && strcmp(b->units[j].target, target) != 0;
		     j++)
			;
		if (j == i) {
			err = add_module_symbols(b, symtab, target);
			if (err)
				goto out;
		}
	}
	for (i = 0; i < b->nr_units; i++) {
		struct elp_bunit *u = &b->units[i];
		struct elp_diff_request req = {
			.orig_obj = u->orig_o,
			.patched_obj = u->patched_o,
			.output_obj = u->diff_o,
			.source_file = u->src,
			.target = u->target,
			.unit_index = (unsigned int)i,
			.symtab = symtab,
			.layout = &b->layout,
			.ibt = elp_bconfig_on(b, "CONFIG_X86_KERNEL_IBT"),
		};

		elp_notice(b->ctx, "[diff] %s (%s)", u->src, u->target);
		err = elp_diff_objects(b->ctx, &req, &u->diff);
		if (err == -ENOTSUP) {
			/* the diff already printed its reasons: keep the first
			 * as the refusal without printing it a second time */
			if (b->first_error && !b->refusal)
				b->refusal = strdup(b->first_error);
			if (!b->refusal)
				elp_bstate_refuse(
					b, "%s",
					b->first_error
						? b->first_error
						: "the change cannot be livepatched");
			goto out;
		}
		if (err)
			goto out;
		total += u->diff->nr_funcs;
		for (kind = 0; kind < ELP_CB_KINDS; kind++)
			if (u->diff->callbacks[kind])
				callbacks++;
		if (u->diff->nr_funcs == 0)
			elp_info(b->ctx, "[diff] %s: no function changed",
				 u->src);
	}
	warn_loader_syms(b);
	if (total == 0 && callbacks == 0 && b->nr_headers) {
		struct elp_buf hdrs = { 0 }, srcs = { 0 };

		for (i = 0; i < b->nr_headers; i++)
			elp_buf_printf(&hdrs, "%s%s", i ? ", " : "",
				       b->headers[i]);
		for (i = 0; i < b->nr_units; i++)
			elp_buf_printf(&srcs, "%s%s", i ? ", " : "",
				       b->units[i].src);
		err = elp_bstate_refuse(
			b,
			"the patch changes only %s, which alters no function body in %s; nothing to patch",
			hdrs.data, srcs.data);
		elp_buf_free(&hdrs);
		elp_buf_free(&srcs);
	} else if (total == 0 && callbacks == 0) {
		err = elp_bstate_refuse(b, "the patch changes no object code");
	}
out:
	elp_symtab_free(symtab);
	return err;
}
