// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The check-unsafe pass, before anything is included: changes a livepatch
 * cannot carry are refused with the reason (__init/__exit code, the
 * livepatch/ftrace core, functions without an ftrace entry that cannot be
 * patched through their callers, existing data and ops tables).
 *
 * Apart from include.c because it decides whether there is an output at
 * all, where the other passes decide what goes into it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "include-internal.h"

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

/*
 * Functions on some tasks' stacks for as long as those tasks live or sleep:
 * the consistency model switches a task only when no patched function is on
 * its stack, so a livepatch changing one of these never finishes its
 * transition (kpatch leaves it to the author; we refuse before the build).
 */
static const char *always_on_stack(const char *target, const char *name)
{
	static const struct {
		const char *name, *whose;
	} funcs[] = {
		{ "__schedule", "every sleeping task" },
		{ "schedule", "every sleeping task" },
		{ "schedule_idle", "each CPU's idle task" },
		{ "schedule_preempt_disabled", "kernel threads not yet woken" },
		{ "do_idle", "each CPU's idle task" },
		{ "cpu_startup_entry", "each CPU's idle task" },
		{ "start_secondary", "each secondary CPU's idle task" },
		{ "kthread", "every kernel thread" },
		{ "kthreadd", "kthreadd" },
		{ "worker_thread", "every workqueue worker" },
		{ "rescuer_thread", "every workqueue rescuer" },
		{ "smpboot_thread_fn", "every per-CPU kernel thread" },
	};
	size_t i, len = strcspn(name, ".");

	if (!target || strcmp(target, "vmlinux") != 0)
		return NULL;
	for (i = 0; i < ARRAY_SIZE(funcs); i++)
		if (strlen(funcs[i].name) == len &&
		    !strncmp(funcs[i].name, name, len))
			return funcs[i].whose;
	return NULL;
}

/* Can the livepatch core redirect this (changed, existing) function? */
static int check_traceable(struct elp_diff_state *st, const struct elp_sym *s)
{
	const char *core = ftrace_core(st->req->source_file), *whose;

	if (core) {
		elp_err(st->ctx,
			"%s: %s: belongs to the livepatch/ftrace core (%s), which livepatching relies on and which is built without ftrace; it cannot be livepatched, fix it with a kernel update",
			elp_inc_unit(st), s->name, core);
		return -ENOTSUP;
	}
	whose = always_on_stack(st->req->target, s->name);
	if (whose) {
		elp_err(st->ctx,
			"%s: %s: is on the stack of %s for as long as it lives or sleeps, so the livepatch's transition would never complete; patch the functions it calls instead",
			elp_inc_unit(st), s->name, whose);
		return -ENOTSUP;
	}
	if (s->twin && s->twin->sec && !s->via_callers &&
	    !has_fentry(st->orig, s->twin)) {
		elp_err(st->ctx,
			"%s: %s: has no ftrace entry (no call to __fentry__ at its start): it is notrace, or its file is built without ftrace, so the livepatch core cannot redirect it; patch a traceable caller instead",
			elp_inc_unit(st), s->twin->name);
		return -ENOTSUP;
	}
	return 0;
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

		if (!elp_sec_is_rela(rs) || !base ||
		    elp_inc_is_metadata_section(base))
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
			    !elp_inc_is_branch_site(base, r->offset, r->type))
				goto taken;
			c = elp_inc_func_at(base, r->offset);
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
		if (!elp_inc_is_init_section(callers[i]->sec->name) &&
		    (!callers[i]->twin || !callers[i]->twin->sec))
			goto out;
	for (i = 0; callers[i]; i++) {
		struct elp_sym *c = callers[i]->twin;

		/* __init callers ran at boot and are gone */
		if (elp_inc_is_init_section(callers[i]->sec->name) ||
		    c->status != ELP_SAME)
			continue;
		elp_dbg(st->ctx, "%s: patch %s, the caller of notrace %s",
			elp_inc_unit(st), c->name, s->name);
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
			    elp_inc_is_init_section(s->sec->name) || !s->twin ||
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
		if (elp_inc_is_init_section(sec)) {
			/* one line per function: init_module/cleanup_module are aliases */
			if (!is_alias_of_earlier(st->patched, i))
				elp_err(st->ctx,
					"%s: %s: changes %s code or data, %s; move the fix out of __init/__exit code",
					elp_inc_unit(st), s->name, sec,
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
		    elp_inc_is_ignored_data(sec))
			continue;
		if (s->bind == STB_LOCAL &&
		    !(s->sec->sh.sh_flags & SHF_WRITE) &&
		    s->sec->sh.sh_type != SHT_NOBITS) {
			/* read-only local data is copied, but not ops tables */
			if (s->twin && holds_code_pointers(s)) {
				elp_err(st->ctx,
					"%s: %s: a changed table of function pointers (an ops table) would be the livepatch's own copy: the kernel's code keeps using the old one, and structures given its address would point into the livepatch after it is unloaded; change the functions it points at instead",
					elp_inc_unit(st), s->name);
				ret = -ENOTSUP;
			}
			continue;
		}
		if (s->twin && s->twin->s.st_size != s->s.st_size)
			elp_err(st->ctx,
				"%s: %s: size of existing data changed from %llu to %llu bytes; a live patch cannot change data layout, use a shadow variable (klp_shadow_*) instead",
				elp_inc_unit(st), s->name,
				(unsigned long long)s->twin->s.st_size,
				(unsigned long long)s->s.st_size);
		else
			elp_err(st->ctx,
				"%s: %s: initial value of existing data changed; a live patch cannot re-initialise data that is already in use, change it from code or use a shadow variable",
				elp_inc_unit(st), s->name);
		ret = -ENOTSUP;
	}
	return ret;
}
