// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The scope pass, run on the pristine prepared tree before anything is
 * compiled:
 *
 *  - every unit must be built with the kernel's config.  kbuild compiles
 *    any "make dir/x.o" it is asked for, so the answer comes from the
 *    directory's Makefile (or Kbuild): "obj-$(CONFIG_X) += x.o", composite
 *    objects ("foo-y += x.o", foo.o built) and the directory itself in its
 *    parent's Makefile.  Lines that cannot be evaluated (conditionals,
 *    computed names) count as built.
 *
 *  - a changed header: the identifiers whose definitions the patch changes
 *    (macros, inline functions, types; comment and whitespace changes do
 *    not count) and the .c files built with this config that include the
 *    header (transitively, from an index of the tree's #include lines made
 *    once per prepared tree) and use one of them.  Those files change too:
 *    unless the patch or --extra-files already compiles them, the build is
 *    refused with their names.
 *
 * The pass and its decisions are here; it asks build-scope-kbuild.c
 * (is an object built), build-scope-idents.c (what a header change
 * changes, who uses it) and build-scope-includes.c (who includes a
 * header).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-scope-internal.h"

#define SCOPE_MAX_NAMED 5 /* files named in a refusal */

/* A file of another architecture, never built for this (x86_64) kernel. */
static bool foreign_arch(const char *f)
{
	return !strncmp(f, "arch/", 5) && strncmp(f, "arch/x86/", 9) != 0;
}

static bool is_unit(const struct elp_bstate *b, const char *src)
{
	size_t i;

	for (i = 0; i < b->nr_units; i++)
		if (strcmp(b->units[i].src, src) == 0)
			return true;
	return false;
}

static void list_names(struct elp_buf *out, char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < SCOPE_MAX_NAMED; i++)
		elp_buf_printf(out, "%s%s", i ? ", " : "", names[i]);
	if (n > SCOPE_MAX_NAMED)
		elp_buf_printf(out, " and %zu more", n - SCOPE_MAX_NAMED);
}

static int scope_headers(struct elp_bstate *b)
{
	struct elp_strset idents = { 0 }, closure = { 0 }, users = { 0 };
	struct elp_buf hdrs = { 0 }, msg = { 0 };
	char **affected = NULL, *index = NULL;
	struct elp_buf cfiles = { 0 };
	const char *line;
	size_t i, j, nr_affected = 0, nr_includers = 0;
	bool unknown = false;
	int err = 0;

	for (i = 0; i < b->nr_headers; i++)
		elp_buf_printf(&hdrs, "%s%s", i ? ", " : "", b->headers[i]);
	for (i = 0; !err && i < b->nr_patches; i++)
		for (j = 0; !err && j < b->nr_headers; j++)
			err = elp_scope_header_idents(b->patches[i],
						      b->headers[j], &idents,
						      &unknown);
	if (err)
		goto out;
	if (idents.n == 0 && !unknown) {
		elp_info(b->ctx,
			 "[scope] %s: only comments or whitespace change",
			 hdrs.data);
		if (b->nr_units == 0)
			err = elp_bstate_refuse(
				b,
				"the patch changes only %s, which alters no function body (only comments or whitespace change); nothing to patch",
				hdrs.data);
		goto out;
	}
	for (i = 0; i < idents.cap; i++)
		if (idents.slot[i])
			elp_buf_printf(&msg, "%s%s", msg.len ? ", " : "",
				       idents.slot[i]);
	elp_info(b->ctx, "[scope] %s changes %s", hdrs.data,
		 unknown ? "code it cannot name" : msg.data);
	/* every .c file that may include it */
	err = elp_btree_need_all(b);
	if (!err)
		err = elp_scope_include_index(b, &index);
	for (i = 0; !err && i < b->nr_headers; i++)
		err = elp_strset_add(&closure, b->headers[i]) < 0 ? -ENOMEM : 0;
	if (!err)
		err = elp_scope_includers(index, &closure);
	if (!err)
		err = elp_scope_included_c_files(index, &cfiles);
	if (!err && !unknown) {
		size_t before = idents.n;

		err = elp_scope_derive_idents(b, &closure, &idents);
		if (!err && idents.n > before)
			elp_info(
				b->ctx,
				"[scope] %zu macros and inline functions of the headers that include %s use it",
				idents.n - before, hdrs.data);
	}
	if (err)
		goto out;
	/* the .c files using the identifiers, and the .c files that
	 * #include those (kernel/sched/build_utility.c includes psi.c) */
	for (i = 0; !err && i < closure.cap; i++) {
		const char *f = closure.slot[i];
		char *text = NULL, *src = NULL;
		size_t l;

		if (!f || (l = strlen(f)) < 3 || strcmp(f + l - 2, ".c") != 0 ||
		    foreign_arch(f))
			continue;
		nr_includers++;
		if (asprintf(&src, "%s/%s", b->tree, f) < 0) {
			err = -ENOMEM;
			break;
		}
		if (unknown || (elp_read_file(NULL, src, &text, NULL) == 0 &&
				elp_scope_uses(text, &idents)))
			err = elp_strset_add(&users, f) < 0 ? -ENOMEM : 0;
		free(text);
		free(src);
		/* the .c files it includes are part of its unit */
		for (line = cfiles.data; !err && line && *line;) {
			const char *end = strchrnul(line, '\n');
			const char *tab =
				memchr(line, '\t', (size_t)(end - line));

			if (tab && (size_t)(tab - line) == l &&
			    strncmp(line, f, l) == 0 &&
			    asprintf(&src, "%s/%.*s", b->tree,
				     (int)(end - tab - 1), tab + 1) > 0) {
				text = NULL;
				if (elp_read_file(NULL, src, &text, NULL) ==
					    0 &&
				    elp_scope_uses(text, &idents))
					err = elp_strset_add(&users, f) < 0
						      ? -ENOMEM
						      : 0;
				free(text);
				free(src);
			}
			line = *end ? end + 1 : NULL;
		}
	}
	if (!err)
		err = elp_scope_includers(index, &users);
	if (err)
		goto out;
	affected = calloc(users.n + 1, sizeof(char *));
	if (!affected) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < users.cap; i++) {
		const char *f = users.slot[i];
		char *obj, *why = NULL;
		size_t l;

		if (!f || (l = strlen(f)) < 3 || strcmp(f + l - 2, ".c") != 0 ||
		    is_unit(b, f) || foreign_arch(f))
			continue;
		obj = strdup(f);
		if (!obj) {
			err = -ENOMEM;
			break;
		}
		obj[l - 1] = 'o';
		if (elp_scope_obj_built(b, obj, &why) != ELP_SCOPE_NOT_BUILT)
			affected[nr_affected++] = strdup(f);
		free(why);
		free(obj);
	}
	if (!err)
		err = elp_scope_compiler_includers(b, affected, &nr_affected);
	if (err)
		goto out;
	qsort(affected, nr_affected, sizeof(char *), elp_cmp_str);
	elp_info(
		b->ctx,
		"[scope] %zu .c files include %s by their #include lines; %zu built ones not in the build include it for the compiler and use %s",
		nr_includers, hdrs.data, nr_affected,
		unknown ? "it" : msg.data);
	if (nr_affected) {
		struct elp_buf names = { 0 };

		list_names(&names, affected, nr_affected);
		err = elp_bstate_refuse(
			b,
			"the patch changes %s (%s), which is also used by %zu file%s the patch does not change: %s; add them with --extra-files FILE.c... to patch them too",
			hdrs.data, unknown ? "code in it" : msg.data,
			nr_affected, nr_affected == 1 ? "" : "s", names.data);
		elp_buf_free(&names);
	} else if (b->nr_units == 0) {
		err = elp_bstate_refuse(
			b,
			"the patch changes only %s, which alters no function body in the %zu .c files built with this config that include it; nothing to patch",
			hdrs.data, nr_includers);
	}
out:
	for (i = 0; i < nr_affected; i++)
		free(affected[i]);
	free(affected);
	elp_strset_free(&idents);
	elp_strset_free(&closure);
	elp_strset_free(&users);
	free(index);
	elp_buf_free(&cfiles);
	elp_buf_free(&hdrs);
	elp_buf_free(&msg);
	return err;
}

/*
 * A .c file that kbuild does not build by itself may be #included by one
 * that it builds (kernel/sched/build_utility.c includes debug.c): that
 * object is the unit.  Sets *obj to it when exactly one built object
 * includes src; refuses when several do.
 */
static int included_by(struct elp_bstate *b, const char *src, char **obj)
{
	struct elp_buf cfiles = { 0 }, names = { 0 };
	char *index = NULL, *found = NULL;
	const char *line;
	size_t n = 0, l = strlen(src);
	int err;

	*obj = NULL;
	err = elp_btree_need_all(b);
	if (!err)
		err = elp_scope_include_index(b, &index);
	if (!err)
		err = elp_scope_included_c_files(index, &cfiles);
	for (line = cfiles.data; !err && line && *line;) {
		const char *end = strchrnul(line, '\n');
		const char *tab = memchr(line, '\t', (size_t)(end - line));
		char *o, *why = NULL;

		if (!tab || (size_t)(end - tab - 1) != l ||
		    strncmp(tab + 1, src, l) != 0 || foreign_arch(line))
			goto next;
		if (asprintf(&o, "%.*s", (int)(tab - line), line) < 0) {
			err = -ENOMEM;
			break;
		}
		o[strlen(o) - 1] = 'o';
		if (elp_scope_obj_built(b, o, &why) != ELP_SCOPE_NOT_BUILT) {
			elp_buf_printf(&names, "%s%s", n ? ", " : "", o);
			if (!n++)
				found = o;
			else
				free(o);
		} else {
			free(o);
		}
		free(why);
	next:
		line = *end ? end + 1 : NULL;
	}
	if (!err && n > 1)
		err = elp_bstate_refuse(
			b,
			"%s is not built by itself but #included by %zu built files (%s); patch the one file whose code must change, or copy the fix into a file of its own",
			src, n, names.data);
	if (!err && n == 1) {
		elp_info(b->ctx, "[scope] %s is built as part of %s (#include)",
			 src, found);
		*obj = found;
		found = NULL;
	}
	free(found);
	free(index);
	elp_buf_free(&cfiles);
	elp_buf_free(&names);
	return err;
}

/* Two units that are one object (two files of one #include unit): one. */
static bool merge_unit(struct elp_bstate *b, size_t i)
{
	size_t k;

	for (k = 0; k < b->nr_units; k++) {
		if (k == i || strcmp(b->units[k].obj, b->units[i].obj) != 0)
			continue;
		elp_info(b->ctx, "[scope] %s is compiled with %s",
			 b->units[i].src, b->units[k].src);
		free(b->units[i].src);
		free(b->units[i].obj);
		memmove(&b->units[i], &b->units[i + 1],
			(b->nr_units - i - 1) * sizeof(b->units[i]));
		b->nr_units--;
		return true;
	}
	return false;
}

int elp_bscope(struct elp_bstate *b)
{
	char *path = NULL;
	size_t i;
	int err;

	err = elp_btree_need_inputs(b);
	if (err)
		return err;
	if (asprintf(&path, "%s/.config", b->tree) < 0)
		return -ENOMEM;
	err = elp_read_file(b->ctx, path, &b->config, NULL);
	free(path);
	if (err)
		return err;
	for (i = 0; i < b->nr_units; i++) {
		struct elp_bunit *u = &b->units[i];
		char *why = NULL, *src, *inc = NULL;
		enum elp_scope_built built;

		if (asprintf(&src, "%s/%s", b->tree, u->src) < 0)
			return -ENOMEM;
		if (!elp_is_file(src)) {
			free(src);
			return elp_bstate_refuse(
				b, "'%s' is not in the kernel source of '%s'",
				u->src, b->kernel->name);
		}
		free(src);
		built = elp_scope_obj_built(b, u->obj, &why);
		if (built == ELP_SCOPE_NOT_BUILT) {
			err = included_by(b, u->src, &inc);
			if (err) {
				free(why);
				return err;
			}
		}
		if (inc) {
			free(why);
			free(u->obj);
			u->obj = inc;
			/* i-- wraps at 0 and the loop's i++ brings it back */
			if (merge_unit(b, i))
				i--;
			continue;
		}
		if (built == ELP_SCOPE_NOT_BUILT) {
			err = elp_bstate_refuse(
				b, "%s is not built with this config (%s)",
				u->src, why ? why : "not in its Makefile");
			free(why);
			return err;
		}
		free(why);
	}
	if (b->nr_headers)
		return scope_headers(b);
	return 0;
}

void elp_bscope_free(struct elp_bstate *b)
{
	size_t i;

	for (i = 0; i < b->nr_mkfiles; i++) {
		free(b->mkfiles[i].dir);
		free(b->mkfiles[i].text);
	}
	free(b->mkfiles);
	b->mkfiles = NULL;
	b->nr_mkfiles = 0;
	b->cap_mkfiles = 0;
	free(b->config);
	b->config = NULL;
}
