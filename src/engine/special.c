// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Special sections: tables with one fixed-size entry per site in the code
 * (x86_64, Linux 6.1).  Only the entries whose first field points into an
 * included function are kept; .orc_unwind follows .orc_unwind_ip by index.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct special {
	const char *name;
	size_t entsize;
};

static const struct special specials[] = {
	{ "__bug_table", 12 },
	{ "__ex_table", 12 },
	{ ".altinstructions", 12 },
	{ ".parainstructions", 16 },
	{ ".smp_locks", 4 },
	{ "__jump_table", 16 },
	{ ".static_call_sites", 8 },
	{ ".retpoline_sites", 4 },
	{ ".return_sites", 4 },
	{ ".ibt_endbr_seal", 4 },
	{ ".orc_unwind_ip", 4 },
	{ "__mcount_loc", 8 },
	{ "__patchable_function_entries", 8 },
	{ NULL, 0 },
};

#define ORC_ENTRY_SIZE 6

bool elp_is_special_section(const char *name)
{
	size_t i;

	if (!strcmp(name, ".orc_unwind"))
		return true;
	for (i = 0; specials[i].name; i++)
		if (!strcmp(name, specials[i].name))
			return true;
	return false;
}

static bool entry_kept(const struct elp_rela *relas, size_t nr, size_t start)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		const struct elp_sec *t = relas[i].sym->sec;

		if (relas[i].offset != start)
			continue;
		return t && t->include && elp_sec_is_text(t);
	}
	return false;
}

static int regenerate(struct elp_obj *obj, struct elp_sec *sec, size_t entsize,
		      struct elp_sec *pair, size_t pair_entsize)
{
	struct elp_sec *rs = sec->rela;
	size_t n = sec->size / entsize, kept = 0, nr = 0, i, j;
	unsigned char *data = NULL, *pdata = NULL;
	struct elp_rela *relas = NULL;

	if (sec->size % entsize || !sec->data) {
		elp_err(obj->ctx, "%s: %s: size %zu is not a multiple of %zu",
			obj->path, sec->name, sec->size, entsize);
		return -EINVAL;
	}
	if (pair && (!pair->data || pair->size != n * pair_entsize)) {
		elp_err(obj->ctx, "%s: %s does not match %s", obj->path,
			pair->name, sec->name);
		return -EINVAL;
	}
	data = malloc(sec->size ? sec->size : 1);
	relas = calloc(rs->nr_relas ? rs->nr_relas : 1, sizeof(*relas));
	if (pair)
		pdata = malloc(pair->size ? pair->size : 1);
	if (!data || !relas || (pair && !pdata)) {
		free(data);
		free(relas);
		free(pdata);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		size_t start = i * entsize;

		if (!entry_kept(rs->relas, rs->nr_relas, start))
			continue;
		memcpy(data + kept * entsize,
		       (unsigned char *)sec->data + start, entsize);
		if (pair)
			memcpy(pdata + kept * pair_entsize,
			       (unsigned char *)pair->data + i * pair_entsize,
			       pair_entsize);
		for (j = 0; j < rs->nr_relas; j++) {
			if (rs->relas[j].offset < start ||
			    rs->relas[j].offset >= start + entsize)
				continue;
			relas[nr] = rs->relas[j];
			relas[nr].offset =
				rs->relas[j].offset - start + kept * entsize;
			nr++;
		}
		kept++;
	}
	elp_dbg(obj->ctx, "%s: kept %zu of %zu entries", sec->name, kept, n);
	if (sec->own_data)
		free(sec->data);
	sec->data = data;
	sec->own_data = true;
	sec->size = kept * entsize;
	if (rs->own_relas)
		free(rs->relas);
	rs->relas = relas;
	rs->own_relas = true;
	rs->nr_relas = nr;
	sec->include = kept > 0;
	rs->include = kept > 0;
	sec->special = true;
	if (pair) {
		if (pair->own_data)
			free(pair->data);
		pair->data = pdata;
		pair->own_data = true;
		pair->size = kept * pair_entsize;
		pair->include = kept > 0;
		pair->special = true;
	}
	return 0;
}

int elp_regenerate_special(struct elp_obj *obj)
{
	size_t i, k;
	int ret;

	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i], *pair = NULL;

		if (elp_sec_is_rela(sec))
			continue;
		/* regenerated together with .orc_unwind_ip */
		if (!strcmp(sec->name, ".orc_unwind"))
			continue;
		for (k = 0; specials[k].name; k++)
			if (!strcmp(sec->name, specials[k].name))
				break;
		if (!specials[k].name)
			continue;
		sec->special = true;
		sec->include = false;
		if (!sec->rela)
			continue;
		if (!strcmp(sec->name, ".orc_unwind_ip")) {
			pair = elp_find_sec(obj, ".orc_unwind");
			if (!pair)
				continue;
		}
		ret = regenerate(obj, sec, specials[k].entsize, pair,
				 ORC_ENTRY_SIZE);
		if (ret)
			return ret;
	}
	return 0;
}
