// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Correlation: pair every section and symbol of the patched object with its
 * counterpart ("twin") in the original object.  Names are compared after
 * normalisation so that GCC's numbered clones and static locals
 * (foo.isra.0, foo.constprop.3, bar.12, ...) match across builds.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "internal.h"

/*
 * Drop the purely numeric dot-separated components of a name:
 * "foo.isra.0" -> "foo.isra", "bar.12" -> "bar",
 * "f.constprop.0.isra.0" -> "f.constprop.isra", "f.lto_priv.0" ->
 * "f.lto_priv".  The first component is always kept.
 */
char *elp_normalize_name(const char *name)
{
	size_t len = strlen(name), o = 0;
	const char *p = name, *dot;
	char *out = malloc(len + 1);
	bool first = true;

	if (!out)
		return NULL;
	while (*p || first) {
		size_t n;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (first || !elp_all_digits(p, n)) {
			if (!first)
				out[o++] = '.';
			memcpy(out + o, p, n);
			o += n;
		}
		first = false;
		if (!dot)
			break;
		p = dot + 1;
	}
	out[o] = '\0';
	return out;
}

bool elp_is_cold(const char *name)
{
	const char *p = strstr(name, ".cold");

	return p && (p[5] == '\0' || p[5] == '.');
}

static int cmp_sym_value(const void *a, const void *b)
{
	const struct elp_sym *x = *(struct elp_sym *const *)a;
	const struct elp_sym *y = *(struct elp_sym *const *)b;

	if (x->s.st_value != y->s.st_value)
		return x->s.st_value < y->s.st_value ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static struct elp_sym *sym_at(struct elp_sec *sec, long off)
{
	size_t i;

	for (i = 0; i < sec->nr_syms; i++) {
		struct elp_sym *s = sec->syms[i];
		long start = (long)s->s.st_value;
		long end = start + (long)(s->s.st_size ? s->s.st_size : 1);

		if (off >= start && off < end)
			return s;
	}
	return NULL;
}

/*
 * The function or object a section-symbol relocation targets, at the exact
 * offset it refers to (elp_rela_target_offset()); NULL when that offset is
 * not known or holds no symbol.
 */
static struct elp_sym *rela_target(const struct elp_sec *from,
				   struct elp_rela *rela)
{
	long off = elp_rela_target_offset(from, rela);

	if (off == ELP_OFF_UNKNOWN)
		return NULL;
	return sym_at(rela->sym->sec, off);
}

int elp_bundle_syms(struct elp_obj *obj)
{
	size_t i, j;

	for (i = 1; i < obj->nr_syms; i++) {
		struct elp_sym *sym = obj->syms[i];
		struct elp_sec *sec = sym->sec;
		struct elp_sym **p;

		if (!sec || (sym->type != STT_FUNC && sym->type != STT_OBJECT))
			continue;
		p = elp_grow(sec->syms, &sec->cap_syms, sec->nr_syms + 1,
			     sizeof(*p));
		if (!p)
			return -ENOMEM;
		sec->syms = p;
		sec->syms[sec->nr_syms++] = sym;
	}
	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];

		if (sec->nr_syms > 1)
			qsort(sec->syms, sec->nr_syms, sizeof(struct elp_sym *),
			      cmp_sym_value);
		if (sec->nr_syms == 1 && sec->syms[0]->s.st_value == 0)
			sec->bundled = sec->syms[0];
	}
	for (i = 1; i < obj->nr_syms; i++) {
		struct elp_sym *sym = obj->syms[i];

		sym->norm = elp_normalize_name(sym->name);
		if (!sym->norm)
			return -ENOMEM;
	}
	/* section-symbol relocations -> relocations against the symbol */
	for (i = 1; i < obj->nr_secs; i++) {
		struct elp_sec *sec = obj->secs[i];

		if (!elp_sec_is_rela(sec) || elp_sec_is_debug(sec))
			continue;
		for (j = 0; j < sec->nr_relas; j++) {
			struct elp_rela *rela = &sec->relas[j];
			struct elp_sym *target;

			if (rela->sym->type != STT_SECTION || !rela->sym->sec ||
			    rela->string)
				continue;
			if (elp_sec_is_string(rela->sym->sec))
				continue;
			target = rela->sym->sec->bundled;
			if (!target)
				target = rela_target(sec->base, rela);
			if (!target)
				continue;
			rela->addend -= (long)target->s.st_value;
			rela->sym = target;
		}
		/* remember the first function that references each symbol */
		if (sec->base && elp_sec_is_text(sec->base) &&
		    sec->base->bundled) {
			for (j = 0; j < sec->nr_relas; j++) {
				struct elp_sym *t = sec->relas[j].sym;

				if (!t->owner && t != sec->base->bundled)
					t->owner = sec->base->bundled;
			}
		}
	}
	return 0;
}

static bool corr_candidate(struct elp_sym *a, struct elp_sym *b)
{
	if (a->twin || b->twin || a->type != b->type)
		return false;
	if ((a->sec == NULL) != (b->sec == NULL))
		return false;
	return !strcmp(a->norm, b->norm);
}

static bool same_owner(struct elp_sym *a, struct elp_sym *b)
{
	if (!a->owner || !b->owner)
		return !a->owner && !b->owner;
	return !strcmp(a->owner->norm, b->owner->norm);
}

static void twin(struct elp_sym *a, struct elp_sym *b)
{
	a->twin = b;
	b->twin = a;
}

enum corr_rule {
	CORR_UNIQUE,
	CORR_OWNER,
	CORR_ORDER,
	CORR_EXACT,
};

bool elp_is_static_local(const struct elp_sym *sym)
{
	/* gcc numbers function-scope statics: "count.3", "__key.12" */
	return sym->type == STT_OBJECT && sym->bind == STB_LOCAL && sym->sec &&
	       sym->norm && strcmp(sym->name, sym->norm) != 0;
}

bool elp_static_may_stay_new(const struct elp_sym *sym)
{
	static const char *const names[] = {
		"__already_done", "__warned", "__warned_once",
		"__print_once",	  "_rs",      "__key",
		"__func__",	  "CSWTCH",   NULL,
	};
	size_t i;

	for (i = 0; names[i]; i++)
		if (!strcmp(sym->norm, names[i]))
			return true;
	return !strncmp(sym->name, "__UNIQUE_ID_ddebug", 18);
}

/* Static locals are correlated by the functions using them, not here. */
static bool sym_correlatable(struct elp_sym *sym)
{
	return sym->index && sym->type != STT_SECTION &&
	       sym->type != STT_FILE && !elp_is_static_local(sym);
}

static void correlate_syms(struct elp_obj *orig, struct elp_obj *patched,
			   enum corr_rule rule)
{
	size_t i, j;

	for (i = 1; i < patched->nr_syms; i++) {
		struct elp_sym *p = patched->syms[i], *match = NULL;
		size_t np = 0, no = 0, rank_p = 0;

		if (!sym_correlatable(p) || p->twin)
			continue;
		for (j = 1; j < patched->nr_syms; j++) {
			struct elp_sym *q = patched->syms[j];

			if (!sym_correlatable(q) || q->twin ||
			    q->type != p->type || strcmp(q->norm, p->norm) != 0)
				continue;
			if (rule >= CORR_OWNER && !same_owner(p, q))
				continue;
			if (j < i)
				rank_p++;
			np++;
		}
		for (j = 1; j < orig->nr_syms; j++) {
			struct elp_sym *o = orig->syms[j];

			if (!sym_correlatable(o) || !corr_candidate(o, p))
				continue;
			if (rule >= CORR_OWNER && rule != CORR_EXACT &&
			    !same_owner(p, o))
				continue;
			if (rule == CORR_EXACT) {
				if (!strcmp(o->name, p->name))
					match = o;
				continue;
			}
			if (rule == CORR_ORDER && no == rank_p)
				match = o;
			no++;
		}
		switch (rule) {
		case CORR_UNIQUE:
		case CORR_OWNER:
			if (np == 1 && no == 1)
				break;
			match = NULL;
			break;
		case CORR_ORDER:
			if (np != no)
				match = NULL;
			break;
		case CORR_EXACT:
			break;
		}
		if (match)
			twin(p, match);
	}
}

static bool sec_correlatable(struct elp_sec *sec)
{
	return sec->index && !elp_sec_is_rela(sec) &&
	       sec->sh.sh_type != SHT_SYMTAB && sec->sh.sh_type != SHT_STRTAB &&
	       sec->sh.sh_type != SHT_GROUP;
}

static int correlate_secs(struct elp_obj *orig, struct elp_obj *patched)
{
	size_t i, j;
	int pass;

	/* sections that carry one symbol follow that symbol */
	for (i = 1; i < patched->nr_secs; i++) {
		struct elp_sec *p = patched->secs[i];
		struct elp_sym *t;

		if (!sec_correlatable(p) || !p->bundled)
			continue;
		t = p->bundled->twin;
		if (t && t->sec && t->sec->bundled == t && !t->sec->twin) {
			p->twin = t->sec;
			t->sec->twin = p;
		}
	}
	/* then exact names, then normalised names when unique */
	for (pass = 0; pass < 2; pass++) {
		for (i = 1; i < patched->nr_secs; i++) {
			struct elp_sec *p = patched->secs[i], *match = NULL;
			char *pn = NULL;
			size_t n = 0;

			if (!sec_correlatable(p) || p->twin)
				continue;
			if (p->bundled && p->bundled->twin)
				continue;
			if (pass == 1) {
				pn = elp_normalize_name(p->name);
				if (!pn)
					return -ENOMEM;
			}
			for (j = 1; j < orig->nr_secs; j++) {
				struct elp_sec *o = orig->secs[j];
				char *on;

				if (!sec_correlatable(o) || o->twin)
					continue;
				if (o->bundled && o->bundled->twin)
					continue;
				if (pass == 0) {
					if (!strcmp(o->name, p->name)) {
						match = o;
						n++;
					}
					continue;
				}
				on = elp_normalize_name(o->name);
				if (!on) {
					free(pn);
					return -ENOMEM;
				}
				if (!strcmp(on, pn)) {
					match = o;
					n++;
				}
				free(on);
			}
			free(pn);
			if (n == 1) {
				p->twin = match;
				match->twin = p;
			}
		}
	}
	for (i = 1; i < patched->nr_secs; i++) {
		struct elp_sec *p = patched->secs[i];

		if (p->twin && p->rela && p->twin->rela) {
			p->rela->twin = p->twin->rela;
			p->twin->rela->twin = p->rela;
		}
		if (p->twin && p->secsym && p->twin->secsym) {
			p->secsym->twin = p->twin->secsym;
			p->twin->secsym->twin = p->secsym;
		}
	}
	return 0;
}

#define MAX_STATIC_REFS 64

static size_t add_static_refs(const struct elp_sym *fn, const char *norm,
			      struct elp_sym **out, size_t n, size_t max,
			      bool callees)
{
	const struct elp_sec *rs = fn->sec ? fn->sec->rela : NULL;
	unsigned long start = fn->s.st_value, end = start + fn->s.st_size;
	size_t i, j;

	if (!rs)
		return n;
	if (fn->sec->bundled == fn)
		end = fn->sec->size;
	for (i = 0; i < rs->nr_relas && n != SIZE_MAX; i++) {
		struct elp_sym *t = rs->relas[i].sym;

		if (rs->relas[i].offset < start || rs->relas[i].offset >= end)
			continue;
		if (callees && t->type == STT_FUNC && t->sec && !t->twin &&
		    t != fn) {
			n = add_static_refs(t, norm, out, n, max, false);
			continue;
		}
		if (!elp_is_static_local(t) || strcmp(t->norm, norm) != 0)
			continue;
		for (j = 0; j < n && out[j] != t; j++)
			;
		if (j < n)
			continue;
		if (n == max)
			return SIZE_MAX;
		out[n++] = t;
	}
	return n;
}

/*
 * The static locals named like norm (normalised) that fn uses, in the
 * order of their first reference; with callees, also those of the
 * functions it calls that have no twin (inlined away by the patch).
 * Returns how many, or SIZE_MAX when more than max.
 */
size_t elp_static_refs(const struct elp_sym *fn, const char *norm,
		       struct elp_sym **out, size_t max, bool callees)
{
	return add_static_refs(fn, norm, out, 0, max, callees);
}

/* Functions of obj whose code refers to sym. */
static size_t referrers(struct elp_obj *obj, const struct elp_sym *sym,
			struct elp_sym **out, size_t max)
{
	size_t i, j, k, n = 0;

	for (i = 1; i < obj->nr_secs; i++) {
		const struct elp_sec *rs = obj->secs[i];

		if (!elp_sec_is_rela(rs) || !rs->base ||
		    !elp_sec_is_text(rs->base))
			continue;
		for (j = 0; j < rs->nr_relas; j++) {
			struct elp_sym *fn;

			if (rs->relas[j].sym != sym)
				continue;
			fn = sym_at(rs->base, (long)rs->relas[j].offset);
			if (!fn || fn->type != STT_FUNC)
				continue;
			for (k = 0; k < n && out[k] != fn; k++)
				;
			if (k == n && n < max)
				out[n++] = fn;
		}
	}
	return n;
}

/* Drop the statics already paired (and, from theirs, those taken). */
static size_t unpaired(struct elp_sym **v, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (!v[i]->twin)
			v[k++] = v[i];
	return k;
}

static struct elp_sym conflict_marker;
#define CONFLICT (&conflict_marker)

/*
 * Which static local of orig is p?  Each function using p that existed
 * before votes: of the same-named statics not yet paired, the one at p's
 * rank among those its original used (itself or through a function the
 * patch inlined into it), when both use as many.  Returns NULL when
 * nobody could vote, CONFLICT when votes disagree.
 */
static struct elp_sym *static_twin(struct elp_obj *patched, struct elp_sym *p)
{
	struct elp_sym *fns[MAX_STATIC_REFS], *mine[MAX_STATIC_REFS];
	struct elp_sym *theirs[MAX_STATIC_REFS], *vote = NULL;
	size_t nf = referrers(patched, p, fns, MAX_STATIC_REFS), i, k;

	for (i = 0; i < nf; i++) {
		size_t nm, nt, direct;

		if (!fns[i]->twin)
			continue;
		nm = elp_static_refs(fns[i], p->norm, mine, MAX_STATIC_REFS,
				     false);
		direct = elp_static_refs(fns[i]->twin, p->norm, theirs,
					 MAX_STATIC_REFS, false);
		nt = elp_static_refs(fns[i]->twin, p->norm, theirs,
				     MAX_STATIC_REFS, true);
		if (nm == SIZE_MAX || nt == SIZE_MAX)
			continue;
		nm = unpaired(mine, nm);
		nt = unpaired(theirs, nt);
		/* ranks mean nothing once inlined code is mixed in */
		if (nm != nt || (nm > 1 && nt != direct))
			continue;
		for (k = 0; k < nm && mine[k] != p; k++)
			;
		if (k == nm)
			continue;
		if (vote && vote != theirs[k])
			return CONFLICT;
		vote = theirs[k];
	}
	return vote;
}

/* Pair what the functions' votes tell, until nothing more is learnt. */
static int vote_static_locals(struct elp_obj *patched, const char *unit)
{
	bool progress = true;
	size_t i;
	int ret = 0;

	while (progress && !ret) {
		progress = false;
		for (i = 1; i < patched->nr_syms; i++) {
			struct elp_sym *p = patched->syms[i], *o;

			if (!elp_is_static_local(p) || p->twin)
				continue;
			o = static_twin(patched, p);
			if (!o)
				continue;
			if (o != CONFLICT) {
				twin(p, o);
				progress = true;
				continue;
			}
			if (elp_static_may_stay_new(p))
				continue;
			elp_err(patched->ctx,
				"%s: %s: the functions using this static variable do not agree which variable of the running kernel it is; give it a name of its own in the patch",
				unit, p->name);
			ret = -ENOTSUP;
		}
	}
	return ret;
}

static int correlate_static_locals(struct elp_obj *orig,
				   struct elp_obj *patched, const char *unit)
{
	struct elp_sym *fns[1];
	size_t i, j;
	int ret = vote_static_locals(patched, unit);

	if (ret)
		return ret;
	/* used by no function on either side: a unique name will do */
	for (i = 1; i < patched->nr_syms; i++) {
		struct elp_sym *p = patched->syms[i], *o = NULL;

		if (!elp_is_static_local(p) || p->twin ||
		    referrers(patched, p, fns, 1))
			continue;
		for (j = 1; j < orig->nr_syms; j++) {
			struct elp_sym *c = orig->syms[j];

			if (!elp_is_static_local(c) ||
			    strcmp(c->norm, p->norm) != 0)
				continue;
			o = o ? CONFLICT : c;
		}
		if (o && o != CONFLICT && !o->twin &&
		    !referrers(orig, o, fns, 1))
			twin(p, o);
	}
	return 0;
}

/*
 * Names the kernel's macros number with __COUNTER__ and __LINE__
 * (BTF_ID(): "__BTF_ID__struct__kallsym_iter__493952", counter 493 and
 * line 952): lines added above them renumber them without changing them.
 */
static bool macro_numbered(const char *name)
{
	return elp_starts_with(name, "__BTF_ID__");
}

static size_t strip_number(const char *name)
{
	size_t n = strlen(name);

	while (n && isdigit((unsigned char)name[n - 1]))
		n--;
	return n;
}

/*
 * Pair the macro-numbered symbols left without a twin: the one at the same
 * place of the twin section, of the same size and the same name but for its
 * number.
 */
static void correlate_numbered(struct elp_obj *orig, struct elp_obj *patched)
{
	size_t i, j;

	for (i = 1; i < patched->nr_syms; i++) {
		struct elp_sym *p = patched->syms[i];
		size_t n = strip_number(p->name);

		if (p->twin || !p->sec || !p->sec->twin ||
		    !macro_numbered(p->name))
			continue;
		for (j = 1; j < orig->nr_syms; j++) {
			struct elp_sym *o = orig->syms[j];

			if (o->twin || o->sec != p->sec->twin ||
			    o->type != p->type ||
			    o->s.st_value != p->s.st_value ||
			    o->s.st_size != p->s.st_size ||
			    strip_number(o->name) != n ||
			    strncmp(o->name, p->name, n) != 0)
				continue;
			twin(p, o);
			break;
		}
	}
}

int elp_correlate(struct elp_obj *orig, struct elp_obj *patched,
		  const char *unit)
{
	int ret;

	correlate_syms(orig, patched, CORR_UNIQUE);
	correlate_syms(orig, patched, CORR_OWNER);
	correlate_syms(orig, patched, CORR_ORDER);
	correlate_syms(orig, patched, CORR_EXACT);
	ret = correlate_static_locals(orig, patched, unit);
	if (ret)
		return ret;
	ret = correlate_secs(orig, patched);
	if (ret)
		return ret;
	correlate_numbered(orig, patched);
	return 0;
}
