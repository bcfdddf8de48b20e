// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Post-link check of the livepatch module's unwind data: on a kernel whose
 * unwinder is ORC, a function with no ORC entry cannot be unwound through,
 * so stack traces stop there and the livepatch transition, which waits for
 * reliable stacks, never completes for a task inside it.  objtool writes an
 * entry at the first instruction of every code section it processes (and
 * where the frame changes), so a function is covered when its section has
 * an entry at or before its start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The lowest .orc_unwind_ip offset in each section, or -1. */
static long *first_entries(const struct elp_obj *obj)
{
	const struct elp_sec *ip = NULL;
	long *first = malloc(obj->nr_secs * sizeof(*first));
	size_t i;

	if (!first)
		return NULL;
	for (i = 0; i < obj->nr_secs; i++) {
		first[i] = -1;
		if (!strcmp(obj->secs[i]->name, ".orc_unwind_ip"))
			ip = obj->secs[i];
	}
	for (i = 0; ip && ip->rela && i < ip->rela->nr_relas; i++) {
		const struct elp_rela *r = &ip->rela->relas[i];
		long off = elp_rela_target_offset(ip, r);
		size_t s;

		if (!r->sym->sec || off < 0)
			continue;
		s = r->sym->sec->index;
		if (first[s] < 0 || off < first[s])
			first[s] = off;
	}
	return first;
}

int elp_module_check_orc(struct elp_ctx *ctx, const char *ko_path)
{
	struct elp_obj *obj = NULL;
	size_t i, missing = 0;
	long *first;
	int ret;

	ret = elp_obj_read(ctx, ko_path, &obj);
	if (ret)
		return ret;
	first = first_entries(obj);
	if (!first) {
		elp_obj_free(obj);
		return -ENOMEM;
	}
	for (i = 1; i < obj->nr_syms; i++) {
		const struct elp_sym *f = obj->syms[i];
		long start;

		if (f->type != STT_FUNC || !f->sec || !f->s.st_size ||
		    !elp_sec_is_text(f->sec))
			continue;
		start = (long)f->s.st_value;
		if (first[f->sec->index] >= 0 && first[f->sec->index] <= start)
			continue;
		if (missing++ < 8)
			elp_err(ctx,
				"%s: %s (%s) has no ORC unwind entry: the kernel's unwinder (CONFIG_UNWINDER_ORC) cannot walk through it, so stack traces stop there and the livepatch transition, which needs reliable ones, would not complete; objtool did not process that code",
				ko_path, f->name, f->sec->name);
	}
	if (missing > 8)
		elp_err(ctx, "%s: %zu more functions have no ORC unwind entry",
			ko_path, missing - 8);
	free(first);
	elp_obj_free(obj);
	return missing ? -ENOTSUP : 0;
}
