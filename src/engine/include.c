// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Inclusion: decide what goes into the output object.  Changed functions
 * are included with what only the patch provides (new functions, new data,
 * strings, changed constants); everything else they reference is the
 * running kernel's, existing variables and constants included (their
 * address is their identity), and so are the changed functions whose
 * address they take.  A kernel reference becomes either a plain undefined
 * symbol (exports of vmlinux, resolved by the module loader) or a klp
 * marker "__elp_klp.<obj>.<sympos>.<name>" (undefined, weak so that modpost
 * does not complain) that elp_klp_finalize() turns into a livepatch
 * relocation.  Each decision is logged with the rule that made it.
 *
 * The passes of inclusion are one file each, in the order diff.c runs
 * them: include-unsafe.c (what cannot be livepatched at all), this file
 * (include-changed: the output starts with the changed functions, the new
 * globals and the callbacks), include-resolve.c (every reference: copied
 * or the kernel's) and include-klp.c (relocations klp applies too late,
 * the klp_func list).  This file also holds what they share: what a
 * section or symbol is, adding a section to the output, and the klp
 * markers' names (include-internal.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include-internal.h"

/* Sections whose data is not runtime state the patch could change. */
bool elp_inc_is_ignored_data(const char *name)
{
	static const char *const prefixes[] = {
		".discard",
		".debug",
		".note",
		".comment",
		"__ksymtab",
		"___ksymtab",
		"__kcrctab",
		".modinfo",
		"__param",
		"_ftrace_events",
		"__syscalls_metadata",
		"_ftrace_eval_map",
		".initcall",
		".con_initcall",
		"__dyndbg",
		"__tracepoint_str",
		".BTF",
		NULL,
	};
	size_t i;

	for (i = 0; prefixes[i]; i++)
		if (elp_starts_with(name, prefixes[i]))
			return true;
	return elp_is_special_section(name);
}

/* Sections whose references to a function do not make it callable. */
bool elp_inc_is_metadata_section(const struct elp_sec *sec)
{
	static const char *const prefixes[] = {
		".orc_unwind",
		".return_sites",
		".retpoline_sites",
		".ibt_endbr_seal",
		"__mcount_loc",
		".discard",
		".eh_frame",
		"__patchable_function_entries",
		".note",
		NULL,
	};
	size_t i;

	if (elp_sec_is_debug(sec) || elp_is_special_section(sec->name) ||
	    elp_is_alt_code_section(sec->name))
		return true;
	for (i = 0; prefixes[i]; i++)
		if (elp_starts_with(sec->name, prefixes[i]))
			return true;
	return false;
}

/* Is the rel32 at off the operand of a direct call, jmp or jcc? */
bool elp_inc_is_branch_site(const struct elp_sec *text, unsigned long off,
			    unsigned int type)
{
	const unsigned char *d = text->data;

	if (type != R_X86_64_PLT32 && type != R_X86_64_PC32)
		return false;
	if (!d || off < 1 || off + 4 > text->size)
		return false;
	if (d[off - 1] == 0xe8 || d[off - 1] == 0xe9)
		return true;
	return off >= 2 && d[off - 2] == 0x0f && (d[off - 1] & 0xf0) == 0x80;
}

struct elp_sym *elp_inc_func_at(const struct elp_sec *sec, unsigned long off)
{
	size_t i;

	for (i = 0; i < sec->nr_syms; i++) {
		struct elp_sym *f = sec->syms[i];

		if (f->type == STT_FUNC && off >= f->s.st_value &&
		    off < f->s.st_value + (f->s.st_size ? f->s.st_size : 1))
			return f;
	}
	return NULL;
}

int elp_inc_push_work(struct elp_diff_state *st, struct elp_sec *sec)
{
	struct elp_sec **w = elp_grow(st->work, &st->cap_work, st->nr_work + 1,
				      sizeof(struct elp_sec *));

	if (!w)
		return -ENOMEM;
	st->work = w;
	st->work[st->nr_work++] = sec;
	return 0;
}

int elp_inc_include_sec(struct elp_diff_state *st, struct elp_sec *sec)
{
	size_t i;

	if (sec->include)
		return 0;
	sec->include = true;
	if (sec->secsym)
		sec->secsym->include = true;
	for (i = 0; i < sec->nr_syms; i++)
		sec->syms[i]->include = true;
	if (sec->rela)
		sec->rela->include = true;
	elp_dbg(st->ctx, "include %s (%s)", sec->name,
		sec->status == ELP_NEW	     ? "new"
		: sec->status == ELP_CHANGED ? "changed"
					     : "copy");
	return elp_inc_push_work(st, sec);
}

const char *const elp_callback_names[ELP_CB_KINDS] = {
	[ELP_CB_PRE_PATCH] = "pre_patch",
	[ELP_CB_POST_PATCH] = "post_patch",
	[ELP_CB_PRE_UNPATCH] = "pre_unpatch",
	[ELP_CB_POST_UNPATCH] = "post_unpatch",
};

/*
 * A callback section holds pointers to the callback functions: include
 * those functions (not the section, the driver puts them in the klp_object).
 */
static int include_callbacks(struct elp_diff_state *st, struct elp_sec *sec)
{
	const char *kind = sec->name + strlen(ELP_CALLBACK_SECTION);
	struct elp_sym *fn;
	int k;

	for (k = 0; k < ELP_CB_KINDS; k++)
		if (!strcmp(kind, elp_callback_names[k]))
			break;
	if (k == ELP_CB_KINDS) {
		elp_err(st->ctx,
			"%s: %s: unknown callback kind '%s'; use the ELIVEPATCH_*_CALLBACK macros of <elivepatch.h>",
			elp_inc_unit(st), sec->name, kind);
		return -ENOTSUP;
	}
	if (!sec->rela || !sec->rela->nr_relas)
		return 0;
	if (sec->rela->nr_relas > 1 || st->callbacks[k]) {
		elp_err(st->ctx,
			"%s: more than one %s callback; declare at most one callback of each kind per patched object",
			elp_inc_unit(st), kind);
		return -ENOTSUP;
	}
	fn = sec->rela->relas[0].sym;
	if (fn->type == STT_SECTION && fn->sec && fn->sec->bundled)
		fn = fn->sec->bundled;
	if (fn->type != STT_FUNC || !fn->sec || !elp_sec_is_text(fn->sec) ||
	    sec->rela->relas[0].addend) {
		elp_err(st->ctx,
			"%s: %s callback: does not point at a function defined in this file",
			elp_inc_unit(st), kind);
		return -ENOTSUP;
	}
	st->callbacks[k] = fn;
	return elp_inc_include_sec(st, fn->sec);
}

/*
 * A global function or variable the patch adds: it goes into the output
 * and stays global there, so that the other files of the patch, diffed on
 * their own, link against it.
 */
bool elp_inc_is_new_global(const struct elp_sym *s)
{
	return s->status == ELP_NEW && s->bind == STB_GLOBAL && s->sec &&
	       !s->created && (s->type == STT_FUNC || s->type == STT_OBJECT) &&
	       !elp_inc_is_init_section(s->sec->name) &&
	       !elp_inc_is_ignored_data(s->sec->name) && !elp_is_cold(s->name);
}

int elp_include_changed(struct elp_diff_state *st)
{
	size_t i;
	int ret;

	for (i = 1; i < st->patched->nr_secs; i++) {
		struct elp_sec *sec = st->patched->secs[i];

		if (elp_sec_is_rela(sec) ||
		    !elp_starts_with(sec->name, ELP_CALLBACK_SECTION))
			continue;
		ret = include_callbacks(st, sec);
		if (ret)
			return ret;
	}

	for (i = 1; i < st->patched->nr_syms; i++) {
		struct elp_sym *s = st->patched->syms[i];

		if (elp_inc_is_new_global(s)) {
			/* another file of the patch may call it (gcc may
			 * have inlined it into every caller of this one) */
			ret = elp_inc_include_sec(st, s->sec);
			if (ret)
				return ret;
			continue;
		}
		if (!elp_inc_is_changed_func(s))
			continue;
		if (!elp_is_cold(s->name))
			st->nr_changed++;
		ret = elp_inc_include_sec(st, s->sec);
		if (ret)
			return ret;
	}
	return 0;
}

int elp_inc_sympos_error(struct elp_diff_state *st, const char *name,
			 const char *obj, int err)
{
	if (err == -ENOENT)
		elp_err(st->ctx,
			"%s: %s: not found in the symbol table of %s; the build does not match the target kernel, or the symbol was inlined or renamed there",
			elp_inc_unit(st), name, obj);
	else
		elp_err(st->ctx,
			"%s: %s: %zu symbols of that name in %s and none is provably the one of this file; rename or un-static the symbol in the patch, or patch its callers instead",
			elp_inc_unit(st), name,
			elp_symtab_count(st->req->symtab, obj, name), obj);
	return -ENOTSUP;
}

/* "__elp_klp.<obj>.<pos>.<name>": obj (not terminated) and name */
bool elp_inc_parse_marker(const char *marker, const char **obj, size_t *len,
			  const char **name)
{
	const char *p, *dot;

	if (!elp_starts_with(marker, ELP_KLP_MARKER))
		return false;
	p = marker + strlen(ELP_KLP_MARKER);
	dot = strchr(p, '.');
	if (!dot)
		return false;
	*obj = p;
	*len = dot - p;
	*name = strchr(dot + 1, '.');
	if (!*name)
		return false;
	(*name)++;
	return true;
}
