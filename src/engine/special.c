// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Special sections: tables with one fixed-size entry per site in the code
 * (x86_64, Linux 6.1).  Only the entries whose first field points into an
 * included function are kept; .orc_unwind follows .orc_unwind_ip by index.
 *
 * The code of alternatives lives in sections shared by the whole unit:
 * .altinstr_replacement (copied over the original instructions by
 * apply_alternatives()) and .altinstr_aux (static_cpu_has() slow paths,
 * run in place).  They are cut into chunks at every place something refers
 * to, and only the chunks that included code or kept .altinstructions
 * entries refer to are written; every reference into them is moved.
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

bool elp_is_alt_code_section(const char *name)
{
	return !strcmp(name, ".altinstr_replacement") ||
	       !strcmp(name, ".altinstr_aux");
}

long elp_rela_target_offset(const struct elp_sec *from,
			    const struct elp_rela *rela)
{
	long off = (long)rela->sym->s.st_value + rela->addend;

	/* a rel32 in code is the last field of its jmp/call/jcc */
	if (elp_sym_is_pcrel(rela->type) && elp_sec_is_text(from))
		off += 4;
	return off;
}

static struct elp_chunk *chunk_at(const struct elp_sec *sec, long off)
{
	size_t i;

	for (i = 0; i < sec->nr_chunks; i++)
		if (off >= (long)sec->chunks[i].start &&
		    off < (long)sec->chunks[i].end)
			return &sec->chunks[i];
	return NULL;
}

static bool target_kept(const struct elp_sec *from, const struct elp_rela *r)
{
	const struct elp_sec *t = r->sym->sec;
	const struct elp_chunk *c;

	if (!t || !elp_sec_is_text(t))
		return false;
	if (!elp_is_alt_code_section(t->name))
		return t->include;
	c = chunk_at(t, elp_rela_target_offset(from, r));
	return c && c->keep;
}

static bool entry_kept(const struct elp_sec *sec, size_t start)
{
	const struct elp_sec *rs = sec->rela;
	size_t i;

	for (i = 0; i < rs->nr_relas; i++)
		if (rs->relas[i].offset == start)
			return target_kept(sec, &rs->relas[i]);
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

		if (!entry_kept(sec, start))
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

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static bool counts_as_ref(const struct elp_sec *rs, const struct elp_sec *alt)
{
	return rs->base && rs->base != alt && !elp_sec_is_debug(rs) &&
	       !elp_sec_is_rela(rs->base);
}

/* Cut alt at every offset referred to; keep what included code uses. */
static int make_chunks(struct elp_obj *obj, struct elp_sec *alt)
{
	unsigned long *cuts;
	size_t nr = 0, cap = 2, i, j, n;

	for (i = 1; i < obj->nr_secs; i++) {
		const struct elp_sec *rs = obj->secs[i];

		if (elp_sec_is_rela(rs) && counts_as_ref(rs, alt))
			cap += rs->nr_relas;
	}
	cuts = malloc(cap * sizeof(*cuts));
	if (!cuts)
		return -ENOMEM;
	cuts[nr++] = 0;
	cuts[nr++] = alt->size;
	for (i = 1; i < obj->nr_secs; i++) {
		const struct elp_sec *rs = obj->secs[i];

		if (!elp_sec_is_rela(rs) || !counts_as_ref(rs, alt))
			continue;
		for (j = 0; j < rs->nr_relas; j++) {
			long off;

			if (rs->relas[j].sym->sec != alt)
				continue;
			off = elp_rela_target_offset(rs->base, &rs->relas[j]);
			if (off > 0 && (unsigned long)off < alt->size)
				cuts[nr++] = off;
		}
	}
	qsort(cuts, nr, sizeof(*cuts), cmp_ulong);
	free(alt->chunks);
	alt->chunks = calloc(nr, sizeof(*alt->chunks));
	if (!alt->chunks) {
		free(cuts);
		return -ENOMEM;
	}
	for (i = 0, n = 0; i + 1 < nr; i++) {
		if (cuts[i] == cuts[i + 1])
			continue;
		alt->chunks[n].start = cuts[i];
		alt->chunks[n].end = cuts[i + 1];
		n++;
	}
	alt->nr_chunks = n;
	free(cuts);
	/* used by included code (aux) or by kept .altinstructions entries */
	for (i = 1; i < obj->nr_secs; i++) {
		const struct elp_sec *rs = obj->secs[i];

		if (!elp_sec_is_rela(rs) || !counts_as_ref(rs, alt) ||
		    !rs->base->include ||
		    (rs->base->special &&
		     strcmp(rs->base->name, ".altinstructions") != 0))
			continue;
		for (j = 0; j < rs->nr_relas; j++) {
			struct elp_chunk *c;

			if (rs->relas[j].sym->sec != alt)
				continue;
			c = chunk_at(alt, elp_rela_target_offset(
						  rs->base, &rs->relas[j]));
			if (c)
				c->keep = true;
		}
	}
	return 0;
}

/* Write the kept chunks of alt and move every reference into them. */
static int trim_alt(struct elp_obj *obj, struct elp_sec *alt)
{
	struct elp_sec *rs = alt->rela;
	unsigned char *data = NULL;
	size_t i, j, size = 0, kept = 0;

	for (i = 0; i < alt->nr_chunks; i++) {
		struct elp_chunk *c = &alt->chunks[i];

		if (!c->keep)
			continue;
		c->new_start = size;
		size += c->end - c->start;
		kept++;
	}
	if (alt->sh.sh_type != SHT_NOBITS) {
		data = malloc(size ? size : 1);
		if (!data)
			return -ENOMEM;
		for (i = 0; i < alt->nr_chunks; i++) {
			const struct elp_chunk *c = &alt->chunks[i];

			if (c->keep && alt->data)
				memcpy(data + c->new_start,
				       (unsigned char *)alt->data + c->start,
				       c->end - c->start);
		}
	}
	/* references into alt, from anywhere that is written */
	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *r = obj->secs[i];

		if (!elp_sec_is_rela(r) || !counts_as_ref(r, alt))
			continue;
		for (j = 0; j < r->nr_relas; j++) {
			const struct elp_chunk *c;

			if (r->relas[j].sym->sec != alt)
				continue;
			c = chunk_at(alt, elp_rela_target_offset(r->base,
								 &r->relas[j]));
			if (c && c->keep)
				r->relas[j].addend +=
					(long)c->new_start - (long)c->start;
		}
	}
	/* alt's own relocations */
	if (rs) {
		size_t n = 0;

		for (j = 0; j < rs->nr_relas; j++) {
			const struct elp_chunk *c =
				chunk_at(alt, (long)rs->relas[j].offset);

			if (!c || !c->keep)
				continue;
			rs->relas[n] = rs->relas[j];
			rs->relas[n].offset =
				rs->relas[j].offset - c->start + c->new_start;
			n++;
		}
		rs->nr_relas = n;
		rs->include = n > 0;
	}
	elp_dbg(obj->ctx, "%s: kept %zu of %zu chunks, %zu of %zu bytes",
		alt->name, kept, alt->nr_chunks, size, alt->size);
	if (alt->own_data)
		free(alt->data);
	alt->data = data;
	alt->own_data = data != NULL;
	alt->size = size;
	alt->sh.sh_size = size;
	alt->include = kept > 0;
	alt->special = true;
	if (alt->secsym)
		alt->secsym->include = kept > 0;
	return 0;
}

static const struct special *find_special(const char *name)
{
	size_t k;

	for (k = 0; specials[k].name; k++)
		if (!strcmp(name, specials[k].name))
			return &specials[k];
	return NULL;
}

static int regenerate_one(struct elp_obj *obj, struct elp_sec *sec)
{
	const struct special *sp = find_special(sec->name);
	struct elp_sec *pair = NULL;

	if (!sp)
		return 0;
	sec->special = true;
	sec->include = false;
	if (!sec->rela)
		return 0;
	if (!strcmp(sec->name, ".orc_unwind_ip")) {
		pair = elp_find_sec(obj, ".orc_unwind");
		if (!pair)
			return 0;
	}
	return regenerate(obj, sec, sp->entsize, pair, ORC_ENTRY_SIZE);
}

int elp_regenerate_special(struct elp_obj *obj)
{
	struct elp_sec *alts[2] = { NULL, NULL };
	size_t i, a;
	int ret;

	/* 1. the alternatives table: which replacements are needed */
	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];

		if (!elp_sec_is_rela(sec) &&
		    !strcmp(sec->name, ".altinstructions")) {
			ret = regenerate_one(obj, sec);
			if (ret)
				return ret;
		}
	}
	/* 2. which pieces of alternative code are used */
	alts[0] = elp_find_sec(obj, ".altinstr_replacement");
	alts[1] = elp_find_sec(obj, ".altinstr_aux");
	for (a = 0; a < 2; a++) {
		if (!alts[a])
			continue;
		ret = make_chunks(obj, alts[a]);
		if (ret)
			return ret;
	}
	/* 3. the other tables, whose entries may point into those pieces */
	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];

		if (elp_sec_is_rela(sec) ||
		    !strcmp(sec->name, ".altinstructions") ||
		    !strcmp(sec->name, ".orc_unwind"))
			continue;
		ret = regenerate_one(obj, sec);
		if (ret)
			return ret;
	}
	/* 4. write the pieces and move the references */
	for (a = 0; a < 2; a++) {
		if (!alts[a])
			continue;
		ret = trim_alt(obj, alts[a]);
		if (ret)
			return ret;
	}
	return 0;
}
