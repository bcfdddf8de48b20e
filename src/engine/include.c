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
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "internal.h"

static const char *unit(const struct elp_diff_state *st)
{
	return st->req->source_file ? st->req->source_file : st->req->orig_obj;
}

static const char *target(const struct elp_diff_state *st)
{
	return st->req->target ? st->req->target : "vmlinux";
}

static bool is_init_section(const char *name)
{
	return elp_starts_with(name, ".init.") ||
	       elp_starts_with(name, ".exit.");
}

/* Sections whose data is not runtime state the patch could change. */
static bool is_ignored_data(const char *name)
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

/* Statics that are fine (or required) to duplicate in the patch module. */
static bool is_special_static(const struct elp_sym *sym)
{
	static const char *const names[] = {
		"__warned", "__already_done", "__print_once", "__func__",
		"_rs",	    "CSWTCH",	      "__key",	      "__warned_once",
		NULL,
	};
	size_t i;

	if (sym->bind != STB_LOCAL || sym->type == STT_FUNC)
		return false;
	for (i = 0; names[i]; i++)
		if (!strcmp(sym->norm, names[i]))
			return true;
	return elp_starts_with(sym->name, "__UNIQUE_ID_ddebug");
}

/* Files the kernel builds without ftrace, or that ftrace/livepatch use. */
static const char *ftrace_core(const char *file)
{
	static const char *const core[] = {
		"kernel/livepatch/",
		"kernel/trace/ftrace.c",
		"kernel/trace/fgraph.c",
		"kernel/trace/ring_buffer.c",
		"kernel/trace/trace_functions.c",
		"arch/x86/kernel/ftrace.c",
		"arch/x86/kernel/ftrace_64.S",
		NULL,
	};
	size_t i;

	if (!file)
		return NULL;
	for (i = 0; core[i]; i++)
		if (elp_starts_with(file, core[i]))
			return core[i];
	return NULL;
}

#define FENTRY_WINDOW 16 /* endbr64 and friends may come first */

/* Does the function start with "call __fentry__" (or have a mcount site)? */
static bool has_fentry(struct elp_obj *obj, const struct elp_sym *fn)
{
	const struct elp_sec *rs = fn->sec ? fn->sec->rela : NULL;
	const struct elp_sec *mc;
	size_t i;

	for (i = 0; rs && i < rs->nr_relas; i++) {
		const struct elp_rela *r = &rs->relas[i];

		if (r->offset >= fn->s.st_value &&
		    r->offset < fn->s.st_value + FENTRY_WINDOW &&
		    (!strcmp(r->sym->name, "__fentry__") ||
		     !strcmp(r->sym->name, "mcount")))
			return true;
	}
	mc = elp_find_sec(obj, "__mcount_loc");
	for (i = 0; mc && mc->rela && i < mc->rela->nr_relas; i++) {
		const struct elp_rela *r = &mc->rela->relas[i];
		long off = (long)r->sym->s.st_value + r->addend;

		if (r->sym->sec == fn->sec && off >= (long)fn->s.st_value &&
		    off < (long)(fn->s.st_value + FENTRY_WINDOW))
			return true;
	}
	return false;
}

/* Can the livepatch core redirect this (changed, existing) function? */
static int check_traceable(struct elp_diff_state *st, const struct elp_sym *s)
{
	const char *core = ftrace_core(st->req->source_file);

	if (core) {
		elp_err(st->ctx,
			"%s: %s: belongs to the livepatch/ftrace core (%s), which livepatching relies on and which is built without ftrace; it cannot be livepatched, fix it with a kernel update",
			unit(st), s->name, core);
		return -ENOTSUP;
	}
	if (s->twin && s->twin->sec && !s->via_callers &&
	    !has_fentry(st->orig, s->twin)) {
		elp_err(st->ctx,
			"%s: %s: has no ftrace entry (no call to __fentry__ at its start): it is notrace, or its file is built without ftrace, so the livepatch core cannot redirect it; patch a traceable caller instead",
			unit(st), s->twin->name);
		return -ENOTSUP;
	}
	return 0;
}

/* Sections whose references to a function do not make it callable. */
static bool is_metadata_section(const struct elp_sec *sec)
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
static bool is_branch_site(const struct elp_sec *text, unsigned long off,
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

static struct elp_sym *func_at(const struct elp_sec *sec, unsigned long off)
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

/* "f.cold" (or "f.part.0.cold") -> the function f it belongs to */
static struct elp_sym *cold_parent(struct elp_obj *obj, struct elp_sym *f)
{
	const char *c = strstr(f->name, ".cold");
	struct elp_sym *p;
	char *name;

	if (!c || !elp_is_cold(f->name))
		return f;
	name = strndup(f->name, (size_t)(c - f->name));
	if (!name)
		return NULL;
	p = elp_find_sym(obj, name);
	free(name);
	return p && p->type == STT_FUNC ? p : NULL;
}

/*
 * The functions of obj that call fn directly, into *callers (ends with
 * NULL).  -EPERM when fn's address is taken (a reference to its entry that
 * is not a call or jump), so that calls through a pointer reach it.
 */
static int direct_callers(struct elp_obj *obj, struct elp_sym *fn,
			  struct elp_sym ***callers)
{
	struct elp_sym **list = NULL;
	size_t i, j, n = 0, cap = 0;

	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *rs = obj->secs[i], *base = rs->base;

		if (!elp_sec_is_rela(rs) || !base || is_metadata_section(base))
			continue;
		for (j = 0; j < rs->nr_relas; j++) {
			struct elp_rela *r = &rs->relas[j];
			struct elp_sym *c, **l;
			long off;

			if (r->sym != fn && !(r->sym->type == STT_SECTION &&
					      r->sym->sec == fn->sec))
				continue;
			off = elp_rela_target_offset(base, r);
			if (off == ELP_OFF_UNKNOWN)
				goto taken; /* cannot tell: not a known call */
			if (r->sym->type == STT_SECTION)
				off -= (long)fn->s.st_value;
			if (off != 0)
				continue; /* into its body: its own code */
			if (!elp_sec_is_text(base) ||
			    !is_branch_site(base, r->offset, r->type))
				goto taken;
			c = func_at(base, r->offset);
			c = c ? cold_parent(obj, c) : NULL;
			if (!c)
				goto taken;
			if (c == fn)
				continue;
			l = elp_grow(list, &cap, n + 2, sizeof(*list));
			if (!l) {
				free(list);
				return -ENOMEM;
			}
			list = l;
			list[n++] = c;
			list[n] = NULL;
		}
	}
	*callers = list;
	return 0;
taken:
	free(list);
	return -EPERM;
}

/*
 * A changed local function without an ftrace entry (a notrace static
 * function, such as the "static inline" __do_sys_<name> body of a
 * SYSCALL_DEFINE that gcc kept out of line) cannot be redirected, but it
 * does not need to be when nothing takes its address: its callers in the
 * unit are patched instead and call the new copy in the livepatch.
 */
static int patch_via_callers(struct elp_diff_state *st, struct elp_sym *s)
{
	struct elp_sym **callers = NULL, **mine = NULL;
	size_t i;
	int ret;

	if (s->bind != STB_LOCAL || s->twin->bind != STB_LOCAL)
		return -EPERM;
	ret = direct_callers(st->orig, s->twin, &callers);
	if (!ret)
		ret = direct_callers(st->patched, s, &mine);
	free(mine);
	if (ret)
		goto out;
	ret = -EPERM;
	if (!callers)
		goto out; /* nothing calls it: dead code, or called from asm */
	for (i = 0; callers[i]; i++)
		if (!is_init_section(callers[i]->sec->name) &&
		    (!callers[i]->twin || !callers[i]->twin->sec))
			goto out;
	for (i = 0; callers[i]; i++) {
		struct elp_sym *c = callers[i]->twin;

		/* __init callers ran at boot and are gone */
		if (is_init_section(callers[i]->sec->name) ||
		    c->status != ELP_SAME)
			continue;
		elp_dbg(st->ctx, "%s: patch %s, the caller of notrace %s",
			unit(st), c->name, s->name);
		c->status = ELP_CHANGED;
		if (c->sec->status == ELP_SAME)
			c->sec->status = ELP_CHANGED;
	}
	s->via_callers = true;
	ret = 0;
out:
	free(callers);
	return ret;
}

static int promote_notrace(struct elp_diff_state *st)
{
	bool more = true;
	size_t i;
	int ret;

	if (ftrace_core(st->req->source_file))
		return 0;
	while (more) {
		more = false;
		for (i = 1; i < st->patched->nr_syms; i++) {
			struct elp_sym *s = st->patched->syms[i];

			if (s->type != STT_FUNC || !s->sec ||
			    s->status != ELP_CHANGED || s->via_callers ||
			    !elp_sec_is_text(s->sec) || elp_is_cold(s->name) ||
			    is_init_section(s->sec->name) || !s->twin ||
			    !s->twin->sec || has_fentry(st->orig, s->twin))
				continue;
			ret = patch_via_callers(st, s);
			if (ret == -ENOMEM)
				return ret;
			if (!ret)
				more = true;
		}
	}
	return 0;
}

/* Another changed symbol before syms[i] sits at the same place (an alias). */
static bool is_alias_of_earlier(const struct elp_obj *obj, size_t i)
{
	const struct elp_sym *s = obj->syms[i];
	size_t j;

	for (j = 1; j < i; j++) {
		const struct elp_sym *o = obj->syms[j];

		if (o->sec == s->sec && o->s.st_value == s->s.st_value &&
		    o->type == s->type && o->status == ELP_CHANGED)
			return true;
	}
	return false;
}

/*
 * Does the object hold the address of code (an ops table)?  Undefined
 * symbols count as code unless typed as data.
 */
static bool holds_code_pointers(const struct elp_sym *obj)
{
	const struct elp_sec *rs = obj->sec->rela;
	size_t i;

	for (i = 0; rs && i < rs->nr_relas; i++) {
		const struct elp_rela *r = &rs->relas[i];

		if (r->offset < obj->s.st_value ||
		    r->offset >= obj->s.st_value + obj->s.st_size)
			continue;
		if (r->sym->sec ? elp_sec_is_text(r->sym->sec)
				: r->sym->type != STT_OBJECT)
			return true;
	}
	return false;
}

int elp_check_unsafe(struct elp_diff_state *st)
{
	size_t i;
	int ret;

	ret = promote_notrace(st);
	if (ret)
		return ret;

	for (i = 1; i < st->patched->nr_syms; i++) {
		struct elp_sym *s = st->patched->syms[i];
		const char *sec;

		if (!s->sec || s->status != ELP_CHANGED ||
		    (s->type != STT_FUNC && s->type != STT_OBJECT))
			continue;
		sec = s->sec->name;
		if (is_init_section(sec)) {
			/* one line per function: init_module/cleanup_module are aliases */
			if (!is_alias_of_earlier(st->patched, i))
				elp_err(st->ctx,
					"%s: %s: changes %s code or data, %s; move the fix out of __init/__exit code",
					unit(st), s->name, sec,
					elp_starts_with(sec, ".exit.")
						? "which runs only when its module is unloaded (built in, it is discarded), so a livepatch cannot replace it"
						: "which ran at boot and was freed");
			ret = -ENOTSUP;
			continue;
		}
		if (s->type == STT_FUNC && elp_sec_is_text(s->sec) &&
		    !elp_is_cold(s->name) && check_traceable(st, s))
			ret = -ENOTSUP;
		if (s->type != STT_OBJECT || elp_sec_is_text(s->sec) ||
		    is_ignored_data(sec))
			continue;
		if (s->bind == STB_LOCAL &&
		    !(s->sec->sh.sh_flags & SHF_WRITE) &&
		    s->sec->sh.sh_type != SHT_NOBITS) {
			/* read-only local data is copied, but not ops tables */
			if (s->twin && holds_code_pointers(s)) {
				elp_err(st->ctx,
					"%s: %s: a changed table of function pointers (an ops table) would be the livepatch's own copy: the kernel's code keeps using the old one, and structures given its address would point into the livepatch after it is unloaded; change the functions it points at instead",
					unit(st), s->name);
				ret = -ENOTSUP;
			}
			continue;
		}
		if (s->twin && s->twin->s.st_size != s->s.st_size)
			elp_err(st->ctx,
				"%s: %s: size of existing data changed from %llu to %llu bytes; a live patch cannot change data layout, use a shadow variable (klp_shadow_*) instead",
				unit(st), s->name,
				(unsigned long long)s->twin->s.st_size,
				(unsigned long long)s->s.st_size);
		else
			elp_err(st->ctx,
				"%s: %s: initial value of existing data changed; a live patch cannot re-initialise data that is already in use, change it from code or use a shadow variable",
				unit(st), s->name);
		ret = -ENOTSUP;
	}
	return ret;
}

static int push_work(struct elp_diff_state *st, struct elp_sec *sec)
{
	struct elp_sec **w = elp_grow(st->work, &st->cap_work, st->nr_work + 1,
				      sizeof(struct elp_sec *));

	if (!w)
		return -ENOMEM;
	st->work = w;
	st->work[st->nr_work++] = sec;
	return 0;
}

static int include_sec(struct elp_diff_state *st, struct elp_sec *sec)
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
	return push_work(st, sec);
}

static bool is_changed_func(const struct elp_sym *s)
{
	return s->type == STT_FUNC && s->sec && elp_sec_is_text(s->sec) &&
	       s->status == ELP_CHANGED && !is_init_section(s->sec->name);
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
			unit(st), sec->name, kind);
		return -ENOTSUP;
	}
	if (!sec->rela || !sec->rela->nr_relas)
		return 0;
	if (sec->rela->nr_relas > 1 || st->callbacks[k]) {
		elp_err(st->ctx,
			"%s: more than one %s callback; declare at most one callback of each kind per patched object",
			unit(st), kind);
		return -ENOTSUP;
	}
	fn = sec->rela->relas[0].sym;
	if (fn->type == STT_SECTION && fn->sec && fn->sec->bundled)
		fn = fn->sec->bundled;
	if (fn->type != STT_FUNC || !fn->sec || !elp_sec_is_text(fn->sec) ||
	    sec->rela->relas[0].addend) {
		elp_err(st->ctx,
			"%s: %s callback: does not point at a function defined in this file",
			unit(st), kind);
		return -ENOTSUP;
	}
	st->callbacks[k] = fn;
	return include_sec(st, fn->sec);
}

/*
 * A global function or variable the patch adds: it goes into the output
 * and stays global there, so that the other files of the patch, diffed on
 * their own, link against it.
 */
static bool is_new_global(const struct elp_sym *s)
{
	return s->status == ELP_NEW && s->bind == STB_GLOBAL && s->sec &&
	       !s->created && (s->type == STT_FUNC || s->type == STT_OBJECT) &&
	       !is_init_section(s->sec->name) &&
	       !is_ignored_data(s->sec->name) && !elp_is_cold(s->name);
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

		if (is_new_global(s)) {
			/* another file of the patch may call it (gcc may
			 * have inlined it into every caller of this one) */
			ret = include_sec(st, s->sec);
			if (ret)
				return ret;
			continue;
		}
		if (!is_changed_func(s))
			continue;
		if (!elp_is_cold(s->name))
			st->nr_changed++;
		ret = include_sec(st, s->sec);
		if (ret)
			return ret;
	}
	return 0;
}

static bool is_writable(const struct elp_sec *sec)
{
	return (sec->sh.sh_flags & SHF_WRITE) || sec->sh.sh_type == SHT_NOBITS;
}

static bool is_data_object(const struct elp_sym *t)
{
	return t->type == STT_OBJECT && t->sec && !elp_sec_is_text(t->sec);
}

/*
 * Should the referenced symbol be copied into the output object?  *why
 * names the rule that decided, for the log.
 */
static bool want_copy(const struct elp_sym *t, const char **why)
{
	const struct elp_sec *sec = t->sec;

	if (t->type == STT_SECTION) {
		*why = "strings, anonymous constants or code without a symbol";
		return true;
	}
	if (is_init_section(sec->name)) {
		*why = "__init/__exit: the kernel's";
		return false;
	}
	/*
	 * An existing variable or constant keeps its address: an ops table
	 * compared with f->f_op, an array walked up to its end pointer, a
	 * string used as a key are the running kernel's, whether or not the
	 * section that holds them is copied for a new neighbour.
	 */
	if (is_data_object(t) && t->twin && t->status == ELP_SAME &&
	    !is_special_static(t)) {
		*why = "existing data: the kernel's instance";
		return false;
	}
	if (sec->include) {
		*why = "in a section the output has";
		return true;
	}
	if (t->status == ELP_NEW || sec->status == ELP_NEW) {
		*why = "new in the patch";
		return true;
	}
	if (is_changed_func(t) || elp_is_cold(t->name)) {
		*why = "changed code";
		return true;
	}
	if (is_special_static(t)) {
		*why = "once flag, ratelimit state or similar: the livepatch's own";
		return true;
	}
	if (t->bind == STB_LOCAL && !elp_sec_is_text(sec) &&
	    !is_writable(sec)) {
		*why = "changed constant data";
		return true;
	}
	*why = "existing symbol: the kernel's";
	return false;
}

static struct elp_sym *undefined_sym(struct elp_diff_state *st,
				     const char *name, unsigned char bind)
{
	size_t i;

	for (i = 1; i < st->patched->nr_syms; i++) {
		struct elp_sym *s = st->patched->syms[i];

		if (!s->sec && s->type != STT_SECTION &&
		    s->s.st_shndx == SHN_UNDEF && !strcmp(s->name, name)) {
			if (bind == STB_WEAK || s->bind == STB_WEAK) {
				if (s->bind != bind)
					continue;
			}
			return s;
		}
	}
	return elp_obj_add_sym(st->patched, name, STT_NOTYPE, bind, NULL, 0, 0);
}

static int sympos_error(struct elp_diff_state *st, const char *name,
			const char *obj, int err)
{
	if (err == -ENOENT)
		elp_err(st->ctx,
			"%s: %s: not found in the symbol table of %s; the build does not match the target kernel, or the symbol was inlined or renamed there",
			unit(st), name, obj);
	else
		elp_err(st->ctx,
			"%s: %s: %zu symbols of that name in %s and none is provably the one of this file; rename or un-static the symbol in the patch, or patch its callers instead",
			unit(st), name,
			elp_symtab_count(st->req->symtab, obj, name), obj);
	return -ENOTSUP;
}

static int klp_marker(struct elp_diff_state *st, const char *obj,
		      const char *name, bool global, struct elp_sym **out)
{
	unsigned long pos = 0;
	char *marker;
	int ret;

	if (st->req->symtab) {
		ret = elp_symtab_sympos(st->req->symtab, obj, name, global,
					st->neighbours, st->nr_neighbours,
					&pos);
		if (ret)
			return sympos_error(st, name, obj, ret);
	}
	if (asprintf(&marker, ELP_KLP_MARKER "%s.%lu.%s", obj, pos, name) < 0)
		return -ENOMEM;
	*out = undefined_sym(st, marker, STB_WEAK);
	free(marker);
	return *out ? 0 : -ENOMEM;
}

/* Record the namespace of an export the output references plainly. */
static int note_namespace(struct elp_diff_state *st, const char *ns)
{
	if (!ns || !*ns)
		return 0;
	return elp_strv_add_unique(&st->result->namespaces,
				   &st->result->nr_namespaces, ns);
}

/*
 * The replacement for a reference to t, which stays in the kernel.  Only
 * exports of vmlinux (and, from a module, of the other modules it links
 * against) are left to the module loader: a symbol of the target module,
 * exported or not, gets a klp relocation so that the livepatch loads
 * before that module does.
 */
static int kernel_ref(struct elp_diff_state *st, struct elp_sym *t,
		      struct elp_sym **out)
{
	const struct elp_symtab *symtab = st->req->symtab;
	const char *name = t->twin ? t->twin->name : t->name;
	bool in_vmlinux = !strcmp(target(st), "vmlinux");
	const char *eobj = NULL, *ns = NULL;

	if (t->sec) {
		bool global = t->bind != STB_LOCAL;

		if (global && in_vmlinux &&
		    elp_symtab_export_of(symtab, "vmlinux", name, &ns)) {
			*out = undefined_sym(st, name, STB_GLOBAL);
			return *out ? note_namespace(st, ns) : -ENOMEM;
		}
		return klp_marker(st, target(st), name, global, out);
	}
	/* undefined in the unit: lives elsewhere in the target or vmlinux */
	if (!symtab) {
		*out = t;
		return 0;
	}
	if (elp_symtab_export_of(symtab, "vmlinux", name, &ns)) {
		*out = t;
		return note_namespace(st, ns);
	}
	if (!in_vmlinux) {
		if (elp_symtab_count(symtab, target(st), name) ||
		    elp_symtab_export_of(symtab, target(st), name, NULL))
			return klp_marker(st, target(st), name, true, out);
		/* a module the target links against (loaded before it) */
		if (elp_symtab_is_exported(symtab, name, &eobj) &&
		    elp_symtab_export_of(symtab, eobj, name, &ns)) {
			elp_dbg(st->ctx, "%s: %s: export of %s", unit(st), name,
				eobj);
			*out = t;
			return note_namespace(st, ns);
		}
	}
	if (elp_symtab_count(symtab, "vmlinux", name))
		return klp_marker(st, "vmlinux", name, true, out);
	/* maybe a new global of another file of the patch: the caller warns */
	elp_dbg(st->ctx, "%s: %s: left to the module loader", unit(st), name);
	*out = t;
	return elp_strv_add_unique(&st->result->loader_syms,
				   &st->result->nr_loader_syms, name);
}

/* Name of what holds a relocation, for messages. */
static const char *site_name(const struct elp_sec *from,
			     const struct elp_rela *r)
{
	const struct elp_sym *f = elp_sec_is_text(from)
					  ? func_at(from, r->offset)
					  : from->bundled;

	return f ? f->name : from->name;
}

/*
 * A reference to the entry of a changed function that is not a direct
 * call or jump: its address is taken (w.fn = work_fn, ops tables,
 * single_open(file, show, ...)).  Kernel structures may keep it after the
 * livepatch is disabled and unloaded.
 */
static bool is_func_pointer(const struct elp_sec *from,
			    const struct elp_rela *r)
{
	const struct elp_sym *fn = r->sym;

	if (!is_changed_func(fn) || elp_is_cold(fn->name) || fn->via_callers ||
	    !fn->twin || !fn->twin->sec || is_metadata_section(from))
		return false;
	if (elp_rela_target_offset(from, r) != (long)fn->s.st_value)
		return false;
	return !elp_sec_is_text(from) ||
	       !is_branch_site(from, r->offset, r->type);
}

/*
 * The original function, which ftrace redirects to the new one while the
 * patch is enabled, as kpatch does for function pointers: a pointer to the
 * livepatch's copy would dangle once the module is unloaded.
 */
static int func_pointer_ref(struct elp_diff_state *st,
			    const struct elp_sec *from, struct elp_rela *r)
{
	struct elp_sym *fn = r->sym, *repl = NULL;
	int ret;

	ret = klp_marker(st, target(st), fn->twin->name,
			 fn->twin->bind != STB_LOCAL, &repl);
	if (ret)
		return ret;
	if (!repl)
		return -ENOMEM;
	elp_dbg(st->ctx,
		"%s: %s: address of changed %s: the kernel's original (redirected while patched)",
		unit(st), site_name(from, r), fn->name);
	repl->include = true;
	r->sym = repl;
	return 0;
}

/* The object of sec that holds off, or else the one that ends there. */
static struct elp_sym *object_at(const struct elp_sec *sec, long off)
{
	struct elp_sym *end = NULL;
	size_t i;

	for (i = 0; i < sec->nr_syms; i++) {
		struct elp_sym *o = sec->syms[i];
		long start = (long)o->s.st_value;

		if (o->type != STT_OBJECT)
			continue;
		if (off >= start && off < start + (long)o->s.st_size)
			return o;
		if (off == start + (long)o->s.st_size)
			end = o;
	}
	return end;
}

/*
 * A relocation against the section symbol of existing data that
 * correlation could not pin to an object: an end pointer (a + N past the
 * last object of the section), as kpatch resolves it, to the object it
 * ends.  Writable data that cannot be pinned is refused: a copy would be
 * the livepatch's own, not the state the kernel uses.
 */
static int pin_section_ref(struct elp_diff_state *st,
			   const struct elp_sec *from, struct elp_rela *r)
{
	struct elp_sec *sec = r->sym->sec;
	long off = elp_rela_target_offset(from, r);
	struct elp_sym *o = NULL;

	/* constants with no name have no identity: a copy will do */
	if (off == ELP_OFF_UNKNOWN) {
		if (!is_writable(sec) && !sec->nr_syms)
			return 0;
		elp_err(st->ctx,
			"%s: %s: the instruction at %s+%lu that refers to %s is not understood, so the variable or constant it uses is not known; a copy of the section would be the livepatch's own, not the data the kernel uses",
			unit(st), site_name(from, r), from->name, r->offset,
			sec->name);
		return -ENOTSUP;
	}
	o = object_at(sec, off);
	if (o) {
		elp_dbg(st->ctx, "%s: %s: %s+%ld is %s%s", unit(st),
			site_name(from, r), sec->name, off, o->name,
			off == (long)(o->s.st_value + o->s.st_size)
				? " (its end)"
				: "");
		r->addend -= (long)o->s.st_value - (long)r->sym->s.st_value;
		r->sym = o;
		return 0;
	}
	if (!is_writable(sec))
		return 0;
	elp_err(st->ctx,
		"%s: %s: refers to %s+%ld, which is inside no variable of that section; a copy of the section would be the livepatch's own, not the data the kernel uses, so it cannot be resolved; access the variable by its name in the patch",
		unit(st), site_name(from, r), sec->name, off);
	return -ENOTSUP;
}

/* Does the kernel's symbol table resolve t (uniquely)? */
static bool kernel_has(struct elp_diff_state *st, const struct elp_sym *t)
{
	unsigned long pos;

	return !st->req->symtab ||
	       !elp_symtab_sympos(st->req->symtab, target(st), t->twin->name,
				  t->twin->bind != STB_LOCAL, st->neighbours,
				  st->nr_neighbours, &pos);
}

/*
 * Is the 32-bit field at off in code the displacement of a memory operand
 * (the data is read or written in place), rather than an address that is
 * computed (lea) or used as an immediate?
 */
static bool is_memory_operand(const struct elp_sec *text, unsigned long off,
			      unsigned int type)
{
	const unsigned char *d = text->data;
	struct elp_insn in;
	size_t start, modrm, oplen;

	if (!elp_insn_at(text, off, &in, &start) || in.opcode == 0x8d)
		return false; /* not understood, or lea */
	oplen = in.opcode > 0xffff ? 3 : in.opcode > 0xff ? 2 : 1;
	modrm = start + in.opcode_off + oplen;
	if (modrm + 1 >= start + in.len)
		return false;
	/* disp32(%rip): ModRM mod 00 r/m 101 */
	if (type == R_X86_64_PC32)
		return (d[modrm] & 0xc7) == 0x05 && off == modrm + 1;
	/* disp32(,%index,scale): ModRM mod 00 r/m 100, SIB without base */
	if (type == R_X86_64_32S || type == R_X86_64_32)
		return (d[modrm] & 0xc7) == 0x04 && (d[modrm + 1] & 7) == 5 &&
		       off == modrm + 2;
	return false;
}

/*
 * Existing constant data the kernel's symbol table does not list (or not
 * uniquely) may still be copied when it is pure constant data nobody
 * compares by address: it holds no pointers, and the unit only reads it in
 * place (its address is never taken, stored or compared).
 */
static bool is_pure_constant(struct elp_obj *obj, const struct elp_sym *t)
{
	const struct elp_sec *rs = t->sec->rela;
	size_t i, j;

	if (!is_data_object(t) || is_writable(t->sec) || !t->twin)
		return false;
	for (i = 0; rs && i < rs->nr_relas; i++)
		if (rs->relas[i].offset >= t->s.st_value &&
		    rs->relas[i].offset < t->s.st_value + t->s.st_size)
			return false;
	for (i = 1; i < obj->nr_secs; i++) {
		const struct elp_sec *r = obj->secs[i], *base = r->base;

		if (!elp_sec_is_rela(r) || !base || is_metadata_section(base))
			continue;
		for (j = 0; j < r->nr_relas; j++) {
			const struct elp_rela *x = &r->relas[j];

			if (x->sym != t && !(x->sym->type == STT_SECTION &&
					     x->sym->sec == t->sec))
				continue;
			if (!elp_sec_is_text(base) ||
			    !is_memory_operand(base, x->offset, x->type))
				return false;
		}
	}
	return true;
}

/* "__elp_klp.<obj>.<pos>.<name>": obj (not terminated) and name */
static bool parse_marker(const char *marker, const char **obj, size_t *len,
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

/* The klp shadow calls that run a constructor or destructor before they
 * return, and the argument register that carries it (SysV: rdi rsi rdx rcx
 * r8 r9 are 7 6 2 1 8 9). */
static const struct {
	const char *name;
	int reg;
} shadow_calls[] = {
	{ "klp_shadow_alloc", 8 },
	{ "klp_shadow_get_or_alloc", 8 },
	{ "klp_shadow_free", 2 },
	{ "klp_shadow_free_all", 6 },
	{ NULL, 0 },
};

/*
 * The register an instruction loads an address into: mov $imm32, %reg
 * (b8+r, c7 /0 on a register) or lea disp32(%rip), %reg; -1 otherwise.
 */
static int address_load_reg(const unsigned char *d, size_t start,
			    const struct elp_insn *in)
{
	size_t o = start + in->opcode_off + 1;
	int b = in->rex & 1 ? 8 : 0, r = in->rex & 4 ? 8 : 0;

	if (in->prefixed)
		return -1;
	if (in->opcode >= 0xb8 && in->opcode <= 0xbf)
		return (int)(in->opcode & 7) + b;
	if (in->opcode == 0xc7 && (d[o] & 0xf8) == 0xc0)
		return (d[o] & 7) + b;
	if (in->opcode == 0x8d && (d[o] & 0xc7) == 0x05)
		return ((d[o] >> 3) & 7) + r;
	return -1;
}

/*
 * May an instruction between the load of reg and the call stand there:
 * it neither reads nor writes reg (so the address is not copied or stored
 * anywhere) and it is a plain move, ALU or nop that cannot branch?
 */
static bool leaves_reg(const unsigned char *d, size_t start,
		       const struct elp_insn *in, int reg)
{
	size_t o = start + in->opcode_off + (in->opcode > 0xff ? 2 : 1);
	int b = in->rex & 1 ? 8 : 0, r = in->rex & 4 ? 8 : 0,
	    x = in->rex & 2 ? 8 : 0;
	unsigned char m, mod;

	if (in->opcode >= 0xb8 && in->opcode <= 0xbf)
		return (int)(in->opcode & 7) + b != reg;
	if (in->opcode == 0x90)
		return !(in->rex & 1); /* with REX.B: xchg %r8, %rax */
	switch (in->opcode) {
	case 0x01:
	case 0x03:
	case 0x09:
	case 0x0b:
	case 0x21:
	case 0x23:
	case 0x29:
	case 0x2b:
	case 0x31:
	case 0x33:
	case 0x39:
	case 0x3b:
	case 0x63:
	case 0x85:
	case 0x88:
	case 0x89:
	case 0x8a:
	case 0x8b:
	case 0x8d:
	case 0xc6:
	case 0xc7:
	case 0x80:
	case 0x81:
	case 0x83:
	case 0x0fb6:
	case 0x0fb7:
	case 0x0fbe:
	case 0x0fbf:
	case 0x0f1f:
		break;
	default:
		return false;
	}
	m = d[o];
	mod = m >> 6;
	if (((m >> 3) & 7) + r == reg)
		return false;
	if (mod == 3)
		return (m & 7) + b != reg;
	/* a memory operand: its base and index registers */
	if ((m & 7) == 4) {
		unsigned char sib = d[o + 1];

		if (((sib >> 3) & 7) + x == reg)
			return false;
		return (sib & 7) + b != reg;
	}
	return (mod == 0 && (m & 7) == 5) || (m & 7) + b != reg;
}

/* The name a call's relocation refers to, without the klp marker. */
static const char *called_name(const struct elp_sec *text, size_t field)
{
	const struct elp_sec *rs = text->rela;
	const char *obj, *name;
	size_t i, len;

	for (i = 0; rs && i < rs->nr_relas; i++) {
		const struct elp_sym *t = rs->relas[i].sym;

		if (rs->relas[i].offset != field)
			continue;
		return parse_marker(t->name, &obj, &len, &name) ? name
								: t->name;
	}
	return NULL;
}

/*
 * Is the address loaded by the instruction that holds off only the
 * constructor or destructor argument of the klp shadow call that follows
 * (samples/livepatch/livepatch-shadow-fix*.c)?  Those callbacks run before
 * the call returns, so no pointer to them outlives the livepatch.
 */
static bool is_shadow_callback(const struct elp_sec *text, unsigned long off)
{
	const unsigned char *d = text->data;
	struct elp_insn in;
	size_t start, n;
	const char *name;
	int reg, k;

	if (!elp_insn_at(text, off, &in, &start))
		return false;
	reg = address_load_reg(d, start, &in);
	if (reg < 0)
		return false;
	for (n = 0; n < 32; n++) {
		start += in.len;
		if (!elp_insn_at(text, start, &in, &start))
			return false;
		if (in.opcode == 0xe8 || in.opcode == 0xe9)
			break;
		if (!leaves_reg(d, start, &in, reg))
			return false;
	}
	if (n == 32 || in.prefixed)
		return false;
	name = called_name(text, start + in.opcode_off + 1);
	for (k = 0; name && shadow_calls[k].name; k++)
		if (!strcmp(name, shadow_calls[k].name))
			return shadow_calls[k].reg == reg;
	return false;
}

/*
 * A function the patch adds lives only as long as the livepatch module:
 * a direct call or jump to it is fine, its address must not escape into
 * kernel data (ops tables, work items, callbacks kept by the kernel),
 * which would point into freed memory once the livepatch is disabled and
 * unloaded.  The klp shadow constructor and destructor are the exception.
 */
static int check_new_func_ref(struct elp_diff_state *st,
			      const struct elp_sec *from,
			      const struct elp_rela *r)
{
	const struct elp_sym *fn = r->sym;
	long off;

	if (fn->type != STT_FUNC || !fn->sec || fn->status != ELP_NEW ||
	    elp_is_cold(fn->name) || is_metadata_section(from))
		return 0;
	off = elp_rela_target_offset(from, r);
	if (off != ELP_OFF_UNKNOWN && off != (long)fn->s.st_value)
		return 0; /* into its body */
	if (elp_sec_is_text(from) && is_branch_site(from, r->offset, r->type))
		return 0;
	if (elp_sec_is_text(from) && is_shadow_callback(from, r->offset)) {
		elp_dbg(st->ctx,
			"%s: %s: %s is a klp shadow constructor or destructor (run before the call returns)",
			unit(st), site_name(from, r), fn->name);
		return 0;
	}
	elp_err(st->ctx,
		"%s: %s: takes the address of %s, a function the patch adds; the kernel may keep that pointer after the livepatch is disabled and unloaded, when it points into freed memory; call it directly, or pass it only as the constructor of klp_shadow_alloc()/klp_shadow_get_or_alloc() or the destructor of klp_shadow_free()/klp_shadow_free_all()",
		unit(st), site_name(from, r), fn->name);
	return -ENOTSUP;
}

/* Does the original unit take the address of the function named name? */
static bool orig_takes_address(struct elp_obj *orig, const char *name)
{
	size_t i, j;

	for (i = 1; i < orig->nr_secs; i++) {
		const struct elp_sec *rs = orig->secs[i], *base = rs->base;

		if (!elp_sec_is_rela(rs) || !base || is_metadata_section(base))
			continue;
		for (j = 0; j < rs->nr_relas; j++) {
			const struct elp_rela *x = &rs->relas[j];

			if (strcmp(x->sym->name, name) != 0)
				continue;
			if (!elp_sec_is_text(base) ||
			    !is_branch_site(base, x->offset, x->type))
				return true;
		}
	}
	return false;
}

/*
 * With CONFIG_X86_KERNEL_IBT the kernel replaces at boot the ENDBR of every
 * function whose address nothing in it takes (objtool's seal list): an
 * indirect call to such a function faults (kpatch issue #1320).  A patch
 * that newly takes the address of a kernel function is safe only when the
 * kernel took it too: the function is exported, or the original unit
 * takes it as well.
 */
static int check_sealed_target(struct elp_diff_state *st,
			       const struct elp_sec *from,
			       const struct elp_rela *r)
{
	const struct elp_sym *t = r->sym;
	const char *name = t->twin ? t->twin->name : t->name;
	const char *obj = target(st);
	long off;

	if (!st->req->ibt || is_metadata_section(from) ||
	    (elp_sec_is_text(from) && is_branch_site(from, r->offset, r->type)))
		return 0;
	if (t->sec) {
		/* the kernel's copy: existing, not the livepatch's own */
		if (t->type != STT_FUNC || !t->twin || t->status == ELP_NEW ||
		    t->via_callers || elp_is_cold(t->name))
			return 0;
		off = elp_rela_target_offset(from, r);
		if (off != ELP_OFF_UNKNOWN && off != (long)t->s.st_value)
			return 0;
	} else {
		if (t->type == STT_SECTION || !st->req->symtab)
			return 0;
		if (!elp_symtab_is_text(st->req->symtab, obj, name) &&
		    !elp_symtab_is_text(st->req->symtab, "vmlinux", name))
			return 0;
		if (!elp_symtab_is_text(st->req->symtab, obj, name))
			obj = "vmlinux";
	}
	if (elp_symtab_is_exported(st->req->symtab, name, NULL) ||
	    orig_takes_address(st->orig, name))
		return 0;
	elp_err(st->ctx,
		"%s: %s: takes the address of %s, which %s may have sealed at boot (CONFIG_X86_KERNEL_IBT: the ENDBR of a function whose address the kernel never takes is removed), so an indirect call through that pointer would fault; call it directly, or use a function whose address the kernel already takes",
		unit(st), site_name(from, r), name, obj);
	return -ENOTSUP;
}

static int resolve_rela(struct elp_diff_state *st, const struct elp_sec *from,
			struct elp_rela *r)
{
	struct elp_sym *t = r->sym, *repl = NULL;
	const char *why = NULL;
	bool copy;
	int ret;

	/* every reference, also to a symbol an earlier one resolved */
	ret = check_sealed_target(st, from, r);
	if (!ret)
		ret = check_new_func_ref(st, from, r);
	if (ret)
		return ret;
	if (t->ref) {
		r->sym = t->ref;
		return 0;
	}
	/* alternative code is trimmed to what is used, then resolved */
	if (t->sec && elp_is_alt_code_section(t->sec->name) &&
	    !t->sec->include) {
		t->include = true;
		return 0;
	}
	if (t->sec && is_func_pointer(from, r))
		return func_pointer_ref(st, from, r);
	if (t->sec && t->type == STT_SECTION && t->sec->twin &&
	    !elp_sec_is_text(t->sec) && !elp_sec_is_string(t->sec) &&
	    !elp_is_special_section(t->sec->name)) {
		ret = pin_section_ref(st, from, r);
		if (ret)
			return ret;
		t = r->sym;
		if (t->ref) {
			r->sym = t->ref;
			return 0;
		}
	}
	copy = t->sec && want_copy(t, &why);
	if (t->sec && !copy && is_data_object(t) && t->twin &&
	    !kernel_has(st, t) && is_pure_constant(st->patched, t)) {
		copy = true;
		why = "constant data without pointers, only read in place, that the kernel's symbol table does not resolve";
	}
	if (copy) {
		if (!t->sec->include)
			elp_dbg(st->ctx, "%s: %s: copied (%s)", unit(st),
				t->type == STT_SECTION ? t->sec->name : t->name,
				why);
		ret = include_sec(st, t->sec);
		if (ret)
			return ret;
		t->include = true;
		return 0;
	}
	if (t->sec && t->type == STT_SECTION) {
		t->include = true;
		return 0;
	}
	ret = kernel_ref(st, t, &repl);
	if (ret)
		return ret;
	if (!repl)
		return -ENOMEM;
	if (t->sec)
		elp_dbg(st->ctx, "%s: %s: %s (%s)", unit(st), t->name,
			repl->name, why);
	repl->include = true;
	t->ref = repl;
	r->sym = repl;
	return 0;
}

static int drain(struct elp_diff_state *st)
{
	size_t i = 0, j;
	int ret, err = 0;

	/* st->work grows while we walk it */
	for (i = 0; i < st->nr_work; i++) {
		struct elp_sec *sec = st->work[i];

		if (!sec->rela)
			continue;
		for (j = 0; j < sec->rela->nr_relas; j++) {
			ret = resolve_rela(st, sec, &sec->rela->relas[j]);
			if (ret == -ENOMEM)
				return ret;
			if (ret)
				err = ret;
		}
	}
	st->nr_work = 0;
	return err;
}

int elp_resolve_refs(struct elp_diff_state *st)
{
	size_t i;
	int ret;

	ret = drain(st);
	if (ret)
		return ret;
	/* special sections were regenerated: resolve what their entries use */
	for (i = 1; i < st->patched->nr_secs; i++) {
		struct elp_sec *sec = st->patched->secs[i];

		if (sec->special && sec->include && !elp_sec_is_rela(sec)) {
			ret = push_work(st, sec);
			if (ret)
				return ret;
		}
	}
	return drain(st);
}

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
		ret = elp_symtab_sympos(st->req->symtab, target(st), old,
					s->twin->bind != STB_LOCAL,
					st->neighbours, st->nr_neighbours,
					&pos);
		if (ret == -ENOENT) {
			elp_err(st->ctx,
				"%s: %s: changed function does not exist in the symbol table of %s; it may be inlined or named differently there, patch its callers or check that the build matches the target kernel",
				unit(st), old, target(st));
			return -ENOTSUP;
		}
		if (ret)
			return sympos_error(st, old, target(st), ret);
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
			unit(st), func, name + strlen("__tracepoint_"),
			(int)objlen, obj, (int)objlen, obj, (int)objlen, obj);
	else if (!strcmp(table, "__jump_table"))
		elp_err(st->ctx,
			"%s: %s: uses static key %s of module %.*s in a jump label, and %.*s does not export it; jump labels are set up when the livepatch loads, before it can be relocated against %.*s; use static_key_enabled(&%s) instead of static_branch_*()",
			unit(st), func, name, (int)objlen, obj, (int)objlen,
			obj, (int)objlen, obj, name);
	else if (!strcmp(table, ".static_call_sites"))
		elp_err(st->ctx,
			"%s: %s: uses static call key %s of module %.*s, which it does not export; static calls are set up when the livepatch loads, before it can be relocated against %.*s; call the target through static_call_query() or directly",
			unit(st), func, name, (int)objlen, obj, (int)objlen,
			obj);
	else
		elp_err(st->ctx,
			"%s: %s: %s refers to %s of module %.*s, which is applied when the livepatch loads, before it can be relocated against %.*s; move that code out of the patched function",
			unit(st), func, table, name, (int)objlen, obj,
			(int)objlen, obj);
	return -ENOTSUP;
}

int elp_check_late_relocs(struct elp_diff_state *st)
{
	size_t t, i;
	int ret = 0;

	if (!strcmp(target(st), "vmlinux"))
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

			if (!parse_marker(r->sym->name, &obj, &len, &name) ||
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
		if (!is_changed_func(s) || elp_is_cold(s->name) ||
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

		if (s->include && is_new_global(s)) {
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
