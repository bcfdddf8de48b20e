// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Special sections: tables with one fixed-size entry per site in the code
 * (x86_64).  The size of the entries that are kernel structures comes from
 * the target kernel's own headers (struct elp_special_layout); a table
 * whose layout is unknown, or whose entries do not each start with a
 * relocation at that size, is refused rather than cut into garbage.  Only
 * the entries whose first field points into an included function are
 * kept; .orc_unwind follows .orc_unwind_ip by index.
 *
 * The code of alternatives lives in sections shared by the whole unit:
 * .altinstr_replacement (copied over the original instructions by
 * apply_alternatives()) and .altinstr_aux (static_cpu_has() slow paths,
 * run in place).  They are cut into chunks at every place something refers
 * to, and only the chunks that included code or kept .altinstructions
 * entries refer to are written; every reference into them is moved.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct special {
	const char *name;
	/* arrays of s32 or long offsets: the same on every x86_64 kernel */
	size_t fixed;
	/* else where struct elp_special_layout holds its size */
	size_t layout_field;
};

#define LAYOUT(field) 0, offsetof(struct elp_special_layout, field)

static const struct special specials[] = {
	{ "__bug_table", LAYOUT(bug_entry) },
	{ "__ex_table", LAYOUT(exception_table_entry) },
	{ ".altinstructions", LAYOUT(alt_instr) },
	{ ".parainstructions", LAYOUT(paravirt_patch_site) },
	{ "__jump_table", LAYOUT(jump_entry) },
	{ ".static_call_sites", LAYOUT(static_call_site) },
	{ ".smp_locks", 4, 0 },
	{ ".retpoline_sites", 4, 0 },
	{ ".return_sites", 4, 0 },
	{ ".ibt_endbr_seal", 4, 0 },
	{ ".orc_unwind_ip", 4, 0 },
	{ "__mcount_loc", 8, 0 },
	{ "__patchable_function_entries", 8, 0 },
	{ NULL, 0, 0 },
};

static size_t entry_size(const struct special *sp,
			 const struct elp_special_layout *layout)
{
	if (sp->fixed)
		return sp->fixed;
	if (!layout)
		return 0;
	return *(const size_t *)((const char *)layout + sp->layout_field);
}

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

/* Does every entry start with a relocation (its site)? */
static bool entries_aligned(const struct elp_sec *sec, size_t entsize)
{
	const struct elp_sec *rs = sec->rela;
	size_t n = sec->size / entsize, i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < rs->nr_relas; j++)
			if (rs->relas[j].offset == i * entsize)
				break;
		if (j == rs->nr_relas)
			return false;
	}
	return true;
}

static int regenerate(struct elp_obj *obj, const char *unit,
		      struct elp_sec *sec, size_t entsize, struct elp_sec *pair,
		      size_t pair_entsize)
{
	struct elp_sec *rs = sec->rela;
	size_t n = sec->size / entsize, kept = 0, nr = 0, i, j;
	unsigned char *data = NULL, *pdata = NULL;
	struct elp_rela *relas = NULL;

	if (sec->size % entsize || !sec->data ||
	    !entries_aligned(sec, entsize)) {
		elp_err(obj->ctx,
			"%s: %s: the table does not match the target kernel's %zu-byte entries; check that the prepared tree matches the kernel",
			unit, sec->name, entsize);
		return -ENOTSUP;
	}
	if (pair && (!pair->data || pair->size != n * pair_entsize)) {
		elp_err(obj->ctx, "%s: %s does not match %s (%zu-byte entries)",
			unit, pair->name, sec->name, pair_entsize);
		return -ENOTSUP;
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
static int make_chunks(struct elp_obj *obj, struct elp_sec *alt,
		       const char *unit)
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
			long off;

			if (rs->relas[j].sym->sec != alt)
				continue;
			off = elp_rela_target_offset(rs->base, &rs->relas[j]);
			c = chunk_at(alt, off);
			if (c) {
				c->keep = true;
				continue;
			}
			if (off != ELP_OFF_UNKNOWN)
				continue;
			elp_err(obj->ctx,
				"%s: %s+%lu: the instruction that refers to %s is not understood, so the piece of alternative code it uses is not known; it cannot be carried into the patch",
				unit, rs->base->name, rs->relas[j].offset,
				alt->name);
			return -ENOTSUP;
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

static int unknown_layout(struct elp_obj *obj, const char *unit,
			  const char *name)
{
	elp_err(obj->ctx,
		"%s: %s: the entry layout of this table is not known for the target kernel, so its entries cannot be carried into the patch; the probe of the prepared tree's headers did not provide it",
		unit, name);
	return -ENOTSUP;
}

static int regenerate_one(struct elp_obj *obj, struct elp_sec *sec,
			  const struct elp_special_layout *layout,
			  const char *unit)
{
	const struct special *sp = find_special(sec->name);
	struct elp_sec *pair = NULL;
	size_t entsize, pair_entsize = 0;

	if (!sp)
		return 0;
	sec->special = true;
	sec->include = false;
	if (!sec->rela)
		return 0;
	entsize = entry_size(sp, layout);
	if (!entsize)
		return unknown_layout(obj, unit, sec->name);
	if (!strcmp(sec->name, ".orc_unwind_ip")) {
		pair = elp_find_sec(obj, ".orc_unwind");
		if (!pair)
			return 0;
		pair_entsize = layout ? layout->orc_entry : 0;
		if (!pair_entsize)
			return unknown_layout(obj, unit, pair->name);
	}
	return regenerate(obj, unit, sec, entsize, pair, pair_entsize);
}

int elp_regenerate_special(struct elp_obj *obj,
			   const struct elp_special_layout *layout,
			   const char *unit)
{
	struct elp_sec *alts[2] = { NULL, NULL };
	size_t i, a;
	int ret;

	/* 1. the alternatives table: which replacements are needed */
	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];

		if (!elp_sec_is_rela(sec) &&
		    !strcmp(sec->name, ".altinstructions")) {
			ret = regenerate_one(obj, sec, layout, unit);
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
		ret = make_chunks(obj, alts[a], unit);
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
		ret = regenerate_one(obj, sec, layout, unit);
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

/*
 * Compiled as an external kbuild object against the prepared tree, this
 * records the layouts as constants "elp_layout_<field>" in .rodata; it is
 * never linked or run, so it works for any target.  A structure the
 * kernel's config or version does not have is left out (unknown).
 */
static const char probe_source[] =
	"/* generated by elivepatch: special section layouts */\n"
	"#include <linux/types.h>\n"
	"#include <linux/stddef.h>\n"
	"#include <linux/version.h>\n"
	"#include <linux/bug.h>\n"
	"#include <linux/jump_label.h>\n"
	"#include <linux/static_call_types.h>\n"
	"#include <asm/alternative.h>\n"
	"#include <asm/extable.h>\n"
	"#include <asm/orc_types.h>\n"
	"#ifdef CONFIG_PARAVIRT\n"
	"#include <asm/paravirt_types.h>\n"
	"#endif\n"
	"#define ELP_VALUE(name, value) const unsigned long "
	"elp_layout_##name __attribute__((used)) = (value)\n"
	"#ifdef CONFIG_GENERIC_BUG\n"
	"ELP_VALUE(bug_entry, sizeof(struct bug_entry));\n"
	"ELP_VALUE(bug_entry_flags, offsetof(struct bug_entry, flags));\n"
	"#endif\n"
	"ELP_VALUE(alt_instr, sizeof(struct alt_instr));\n"
	"ELP_VALUE(exception_table_entry, "
	"sizeof(struct exception_table_entry));\n"
	"#ifdef CONFIG_JUMP_LABEL\n"
	"ELP_VALUE(jump_entry, sizeof(struct jump_entry));\n"
	"#endif\n"
	"#ifdef CONFIG_HAVE_STATIC_CALL_INLINE\n"
	"ELP_VALUE(static_call_site, sizeof(struct static_call_site));\n"
	"#endif\n"
	"ELP_VALUE(orc_entry, sizeof(struct orc_entry));\n"
	"#if defined(CONFIG_PARAVIRT) && "
	"LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)\n"
	"ELP_VALUE(paravirt_patch_site, sizeof(struct paravirt_patch_site));\n"
	"#endif\n";

const char *elp_special_probe_source(void)
{
	return probe_source;
}

static const struct {
	const char *name;
	size_t field;
} probe_values[] = {
	{ "bug_entry", offsetof(struct elp_special_layout, bug_entry) },
	{ "bug_entry_flags",
	  offsetof(struct elp_special_layout, bug_entry_flags) },
	{ "alt_instr", offsetof(struct elp_special_layout, alt_instr) },
	{ "paravirt_patch_site",
	  offsetof(struct elp_special_layout, paravirt_patch_site) },
	{ "exception_table_entry",
	  offsetof(struct elp_special_layout, exception_table_entry) },
	{ "jump_entry", offsetof(struct elp_special_layout, jump_entry) },
	{ "static_call_site",
	  offsetof(struct elp_special_layout, static_call_site) },
	{ "orc_entry", offsetof(struct elp_special_layout, orc_entry) },
	{ NULL, 0 },
};

int elp_special_probe_read(struct elp_ctx *ctx, const char *probe_obj,
			   struct elp_special_layout *out)
{
	struct elp_obj *obj = NULL;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = elp_obj_read(ctx, probe_obj, &obj);
	if (ret)
		return ret;
	for (i = 0; probe_values[i].name; i++) {
		char name[64];
		const struct elp_sym *s;
		uint64_t v;

		snprintf(name, sizeof(name), "elp_layout_%s",
			 probe_values[i].name);
		s = elp_find_sym(obj, name);
		if (!s || !s->sec || !s->sec->data || s->s.st_size != 8 ||
		    s->s.st_value + 8 > s->sec->size)
			continue;
		memcpy(&v, (const unsigned char *)s->sec->data + s->s.st_value,
		       8);
		/* a structure of a special table is small; anything else is
		 * not what the probe wrote */
		if (v == 0 || v > 256)
			continue;
		*(size_t *)((char *)out + probe_values[i].field) = (size_t)v;
	}
	elp_obj_free(obj);
	return 0;
}
