// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The passes after resolving, toward the klp structures: relocations into
 * another module that the module loader would apply before klp can
 * (late-relocs, refused), then the klp_func list, the callbacks and the
 * output's symbols made private (klp-funcs).
 *
 * Apart from include.c because they read what inclusion decided and
 * decide nothing about what goes into the output.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include-internal.h"

static int add_func(struct elp_diff_state *st, struct elp_sym *s)
{
	struct elp_diff_result *res = st->result;
	struct elp_patched_func *f = &res->funcs[res->nr_funcs];
	const char *old = s->twin->name;
	unsigned long pos = 0;
	struct elp_sym *alias;
	char *p;
	int ret;

	if (st->req->symtab) {
		ret = elp_symtab_sympos(st->req->symtab, elp_inc_target(st),
					old, s->twin->bind != STB_LOCAL,
					st->neighbours, st->nr_neighbours,
					&pos);
		if (ret == -ENOENT) {
			elp_err(st->ctx,
				"%s: %s: changed function does not exist in the symbol table of %s; it may be inlined or named differently there, patch its callers or check that the build matches the target kernel",
				elp_inc_unit(st), old, elp_inc_target(st));
			return -ENOTSUP;
		}
		if (ret)
			return elp_inc_sympos_error(st, old, elp_inc_target(st),
						    ret);
	}
	f->old_name = strdup(old);
	if (asprintf(&f->new_symbol, ELP_NEW_PREFIX "%u_%s",
		     st->req->unit_index, s->name) < 0)
		f->new_symbol = NULL;
	if (!f->old_name || !f->new_symbol) {
		free(f->old_name);
		free(f->new_symbol);
		return -ENOMEM;
	}
	for (p = f->new_symbol; *p; p++)
		if (*p == '.')
			*p = '_';
	f->sympos = pos;
	alias = elp_obj_add_sym(st->patched, f->new_symbol, STT_FUNC,
				STB_GLOBAL, s->sec, s->s.st_value,
				s->s.st_size);
	if (!alias) {
		free(f->old_name);
		free(f->new_symbol);
		return -ENOMEM;
	}
	alias->include = true;
	res->nr_funcs++;
	return 0;
}

struct late_table {
	const char *name;
	/* where struct elp_special_layout holds the entry size, or 0: the
	 * table is code, cut into pieces rather than entries */
	size_t layout_field;
};

/*
 * The module loader processes these tables when the livepatch module
 * loads (jump_label_add_module(), static_call_add_module(),
 * apply_alternatives(), apply_paravirt()), but relocations into another
 * module are applied later, when klp patches that module.
 */
static const struct late_table late_tables[] = {
	{ "__jump_table", offsetof(struct elp_special_layout, jump_entry) },
	{ ".static_call_sites",
	  offsetof(struct elp_special_layout, static_call_site) },
	{ ".parainstructions",
	  offsetof(struct elp_special_layout, paravirt_patch_site) },
	{ ".altinstr_replacement", 0 },
	{ NULL, 0 },
};

/* The entry size of table t in the target kernel (its probed layout). */
static size_t late_entsize(const struct elp_diff_state *st,
			   const struct late_table *t)
{
	const struct elp_special_layout *l = st->req->layout;

	if (!t->layout_field || !l)
		return 0;
	return *(const size_t *)((const char *)l + t->layout_field);
}

static const char *site_func(const struct elp_sec *rs, unsigned long start)
{
	size_t i;

	for (i = 0; i < rs->nr_relas; i++)
		if (rs->relas[i].offset == start &&
		    rs->relas[i].sym->type == STT_FUNC)
			return rs->relas[i].sym->name;
	return "(code)";
}

static int late_reloc_error(struct elp_diff_state *st, const char *table,
			    const char *func, const char *name, const char *obj,
			    size_t objlen)
{
	if (!strcmp(table, "__jump_table") &&
	    elp_starts_with(name, "__tracepoint_"))
		elp_err(st->ctx,
			"%s: %s: calls tracepoint %s of module %.*s, which %.*s does not export; its jump label would be set up before the livepatch can be relocated against %.*s; leave the trace call in a function the fix does not change",
			elp_inc_unit(st), func, name + strlen("__tracepoint_"),
			(int)objlen, obj, (int)objlen, obj, (int)objlen, obj);
	else if (!strcmp(table, "__jump_table"))
		elp_err(st->ctx,
			"%s: %s: uses static key %s of module %.*s in a jump label, and %.*s does not export it; jump labels are set up when the livepatch loads, before it can be relocated against %.*s; use static_key_enabled(&%s) instead of static_branch_*()",
			elp_inc_unit(st), func, name, (int)objlen, obj,
			(int)objlen, obj, (int)objlen, obj, name);
	else if (!strcmp(table, ".static_call_sites"))
		elp_err(st->ctx,
			"%s: %s: uses static call key %s of module %.*s, which it does not export; static calls are set up when the livepatch loads, before it can be relocated against %.*s; call the target through static_call_query() or directly",
			elp_inc_unit(st), func, name, (int)objlen, obj,
			(int)objlen, obj);
	else
		elp_err(st->ctx,
			"%s: %s: %s refers to %s of module %.*s, which is applied when the livepatch loads, before it can be relocated against %.*s; move that code out of the patched function",
			elp_inc_unit(st), func, table, name, (int)objlen, obj,
			(int)objlen, obj);
	return -ENOTSUP;
}

int elp_check_late_relocs(struct elp_diff_state *st)
{
	size_t t, i;
	int ret = 0;

	if (!strcmp(elp_inc_target(st), "vmlinux"))
		return 0; /* vmlinux klp relocations are applied at load */
	for (t = 0; late_tables[t].name; t++) {
		struct elp_sec *sec =
			elp_find_sec(st->patched, late_tables[t].name);
		struct elp_sec *rs = sec ? sec->rela : NULL;
		size_t entsize = late_entsize(st, &late_tables[t]);

		if (!sec || !sec->include || !rs)
			continue;
		for (i = 0; i < rs->nr_relas; i++) {
			const struct elp_rela *r = &rs->relas[i];
			const char *obj, *name, *func = "(alternative)";
			size_t len;

			if (!elp_inc_parse_marker(r->sym->name, &obj, &len,
						  &name) ||
			    (len == 7 && !strncmp(obj, "vmlinux", 7)))
				continue;
			if (late_tables[t].layout_field)
				func = entsize ? site_func(
							 rs,
							 r->offset -
								 r->offset %
									 entsize)
					       : "(code)";
			ret = late_reloc_error(st, late_tables[t].name, func,
					       name, obj, len);
		}
	}
	return ret;
}

static int add_callback(struct elp_diff_state *st, int kind)
{
	struct elp_sym *fn = st->callbacks[kind], *alias;
	char *name;

	if (asprintf(&name, "__elp_cb_%u_%s", st->req->unit_index,
		     elp_callback_names[kind]) < 0)
		return -ENOMEM;
	alias = elp_obj_add_sym(st->patched, name, STT_FUNC, STB_GLOBAL,
				fn->sec, fn->s.st_value, fn->s.st_size);
	if (!alias) {
		free(name);
		return -ENOMEM;
	}
	alias->include = true;
	st->result->callbacks[kind] = name;
	return 0;
}

int elp_make_funcs(struct elp_diff_state *st)
{
	size_t i, n = st->patched->nr_syms;
	int ret, err = 0;

	st->result->funcs = calloc(st->nr_changed ? st->nr_changed : 1,
				   sizeof(*st->result->funcs));
	if (!st->result->funcs)
		return -ENOMEM;
	for (i = 1; i < n; i++) {
		struct elp_sym *s = st->patched->syms[i];

		if (s->include && s->type == STT_FUNC && s->sec &&
		    s->status == ELP_NEW && !elp_is_cold(s->name))
			st->result->nr_new_funcs++;
		if (s->include && s->via_callers)
			st->result->nr_new_funcs++;
		if (!elp_inc_is_changed_func(s) || elp_is_cold(s->name) ||
		    s->via_callers)
			continue;
		ret = add_func(st, s);
		if (ret == -ENOMEM)
			return ret;
		if (ret)
			err = ret;
	}
	if (err)
		return err;
	for (i = 0; i < ELP_CB_KINDS; i++) {
		if (!st->callbacks[i])
			continue;
		ret = add_callback(st, (int)i);
		if (ret)
			return ret;
	}
	/* everything defined in the output is private to the module */
	for (i = 1; i < st->patched->nr_syms; i++) {
		struct elp_sym *s = st->patched->syms[i];

		if (s->include && elp_inc_is_new_global(s)) {
			ret = elp_strv_add_unique(&st->result->new_globals,
						  &st->result->nr_new_globals,
						  s->name);
			if (ret)
				return ret;
			continue;
		}
		if (s->include && s->sec && !s->created && s->bind != STB_LOCAL)
			s->bind = STB_LOCAL;
	}
	return 0;
}
