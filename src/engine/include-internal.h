/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to src/engine/include*.c: what the passes of inclusion share
 * (include.c defines the functions).
 */
#ifndef ELP_INCLUDE_INTERNAL_H
#define ELP_INCLUDE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/util.h"
#include "internal.h"

/* The unit and the object it is part of, for messages. */
static inline const char *elp_inc_unit(const struct elp_diff_state *st)
{
	return st->req->source_file ? st->req->source_file : st->req->orig_obj;
}

static inline const char *elp_inc_target(const struct elp_diff_state *st)
{
	return st->req->target ? st->req->target : "vmlinux";
}

static inline bool elp_inc_is_init_section(const char *name)
{
	return elp_starts_with(name, ".init.") ||
	       elp_starts_with(name, ".exit.");
}

static inline bool elp_inc_is_changed_func(const struct elp_sym *s)
{
	return s->type == STT_FUNC && s->sec && elp_sec_is_text(s->sec) &&
	       s->status == ELP_CHANGED &&
	       !elp_inc_is_init_section(s->sec->name);
}

/* Sections whose data is not runtime state the patch could change. */
bool elp_inc_is_ignored_data(const char *name);
/* Sections whose references to a function do not make it callable. */
bool elp_inc_is_metadata_section(const struct elp_sec *sec);
/* Is the rel32 at off the operand of a direct call, jmp or jcc? */
bool elp_inc_is_branch_site(const struct elp_sec *text, unsigned long off,
			    unsigned int type);
/* The function of sec that holds off, or NULL. */
struct elp_sym *elp_inc_func_at(const struct elp_sec *sec, unsigned long off);
/* A global function or variable the patch adds (stays global). */
bool elp_inc_is_new_global(const struct elp_sym *s);

/* Queues an included section for resolve (include-resolve.c). */
int elp_inc_push_work(struct elp_diff_state *st, struct elp_sec *sec);
/* Puts sec, its symbols and its relocations into the output; queues it. */
int elp_inc_include_sec(struct elp_diff_state *st, struct elp_sec *sec);

/* Logs why name has no unique sympos in obj (err from the symbol table);
 * returns -ENOTSUP. */
int elp_inc_sympos_error(struct elp_diff_state *st, const char *name,
			 const char *obj, int err);
/* "__elp_klp.<obj>.<pos>.<name>": obj (not terminated) and name */
bool elp_inc_parse_marker(const char *marker, const char **obj, size_t *len,
			  const char **name);

#endif
