// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Comparison: give every correlated section and symbol of the patched object
 * a status (SAME, CHANGED or NEW).  Relocations are compared by what they
 * point at (symbol twin or string contents) and addend, never by index.
 * Functions whose only differences are __LINE__ immediates passed to the
 * might_sleep()-style helpers are not changed, nor are functions whose
 * __bug_table entries (WARN/BUG sites) differ only in their line field.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Functions taking a line number as an immediate argument. */
static const char *const line_funcs[] = {
	"__might_sleep",
	"__might_resched",
	"__might_fault",
	"lockdep_rcu_suspicious",
	"__cant_sleep",
	"__cant_migrate",
	"__kunit_abort",
	"__warn_printk",
	"rcu_read_lock_held_common",
	NULL,
};

static bool is_line_func(const char *name)
{
	size_t i;

	for (i = 0; line_funcs[i]; i++)
		if (!strcmp(name, line_funcs[i]))
			return true;
	return false;
}

static bool target_changed(const struct elp_sym *sym)
{
	const struct elp_sec *sec = sym->sec;

	/* copies of local read-only data go with the function */
	if (!sec || elp_sec_is_text(sec) || (sec->sh.sh_flags & SHF_WRITE))
		return false;
	if (sym->type == STT_SECTION)
		return sec->status != ELP_SAME;
	return sym->bind == STB_LOCAL && sym->status != ELP_SAME;
}

static bool rela_equal(const struct elp_rela *a, const struct elp_rela *b)
{
	const struct elp_sym *sa = a->sym, *sb = b->sym;

	if (a->type != b->type)
		return false;
	if (a->string || b->string)
		return a->string && b->string && !strcmp(a->string, b->string);
	if (a->addend != b->addend)
		return false;
	if (sb->twin != sa) {
		if (sa->type == STT_SECTION && sb->type == STT_SECTION) {
			if (!sb->sec || sb->sec->twin != sa->sec)
				return false;
		} else if (sa->sec || sb->sec ||
			   strcmp(sa->name, sb->name) != 0) {
			return false;
		}
	}
	return !target_changed(sb);
}

/* relocations of sec with offset in [off, off + len) */
static void rela_range(const struct elp_sec *sec, unsigned long off,
		       unsigned long len, size_t *first, size_t *n)
{
	const struct elp_sec *rs = sec->rela;
	size_t i;

	*first = 0;
	*n = 0;
	if (!rs)
		return;
	for (i = 0; i < rs->nr_relas; i++) {
		if (rs->relas[i].offset < off ||
		    rs->relas[i].offset >= off + len)
			continue;
		if (!*n)
			*first = i;
		(*n)++;
	}
}

static bool relas_equal(const struct elp_sec *a, unsigned long aoff,
			const struct elp_sec *b, unsigned long boff,
			unsigned long len)
{
	size_t fa, na, fb, nb, i;

	rela_range(a, aoff, len, &fa, &na);
	rela_range(b, boff, len, &fb, &nb);
	if (na != nb)
		return false;
	for (i = 0; i < na; i++) {
		const struct elp_rela *ra = &a->rela->relas[fa + i];
		const struct elp_rela *rb = &b->rela->relas[fb + i];

		/* relocations are sorted by offset in GCC output */
		if (ra->offset - aoff != rb->offset - boff ||
		    !rela_equal(ra, rb))
			return false;
	}
	return true;
}

/* Is the byte at pos part of the imm32 of a "mov $imm, %reg" (b8+r)? */
static bool in_mov_imm(const unsigned char *d, size_t size, size_t pos,
		       size_t *insn_end)
{
	size_t k;

	for (k = 1; k <= 4 && k <= pos; k++) {
		size_t q = pos - k;

		if (d[q] >= 0xb8 && d[q] <= 0xbf && q + 5 <= size) {
			*insn_end = q + 5;
			return true;
		}
	}
	return false;
}

static bool call_to_line_func_after(const struct elp_sec *sec, size_t from)
{
	size_t i;

	if (!sec->rela)
		return false;
	for (i = 0; i < sec->rela->nr_relas; i++) {
		const struct elp_rela *r = &sec->rela->relas[i];

		if (r->offset >= from && r->offset < from + 48 &&
		    is_line_func(r->sym->name))
			return true;
	}
	return false;
}

bool elp_line_only_change(const struct elp_sec *a, const struct elp_sec *b)
{
	const unsigned char *da = a->data, *db = b->data;
	size_t i, end;

	if (!da || !db || a->size != b->size || !elp_sec_is_text(b))
		return false;
	for (i = 0; i < b->size; i++) {
		if (da[i] == db[i])
			continue;
		if (!in_mov_imm(db, b->size, i, &end) ||
		    da[end - 5] != db[end - 5])
			return false;
		if (!call_to_line_func_after(b, end))
			return false;
	}
	return true;
}

static enum elp_status compare_range(struct elp_sec *a, unsigned long aoff,
				     struct elp_sec *b, unsigned long boff,
				     unsigned long len, bool whole)
{
	const unsigned char *da = a->data, *db = b->data;

	if (a->sh.sh_type != b->sh.sh_type)
		return ELP_CHANGED;
	if (whole && (a->size != b->size ||
		      (a->sh.sh_flags & ~(GElf_Xword)SHF_GROUP) !=
			      (b->sh.sh_flags & ~(GElf_Xword)SHF_GROUP)))
		return ELP_CHANGED;
	if (aoff + len > a->size || boff + len > b->size)
		return ELP_CHANGED;
	if (!relas_equal(a, aoff, b, boff, len))
		return ELP_CHANGED;
	if (a->sh.sh_type == SHT_NOBITS)
		return ELP_SAME;
	if (!da || !db)
		return da == db ? ELP_SAME : ELP_CHANGED;
	if (!memcmp(da + aoff, db + boff, len))
		return ELP_SAME;
	if (whole && elp_line_only_change(a, b)) {
		b->line_only = true;
		return ELP_SAME;
	}
	return ELP_CHANGED;
}

static bool skip_compare(const struct elp_sec *sec)
{
	return !sec->index || elp_sec_is_rela(sec) || elp_sec_is_debug(sec) ||
	       sec->sh.sh_type == SHT_SYMTAB || sec->sh.sh_type == SHT_STRTAB ||
	       sec->sh.sh_type == SHT_GROUP;
}

static void compare_secs(struct elp_obj *patched, bool text)
{
	size_t i;

	for (i = 1; i < patched->nr_secs; i++) {
		struct elp_sec *b = patched->secs[i];

		if (skip_compare(b) || elp_sec_is_text(b) != text)
			continue;
		if (!b->twin) {
			b->status = ELP_NEW;
			continue;
		}
		b->status = compare_range(b->twin, 0, b, 0, b->size, true);
		b->twin->status = b->status;
	}
}

static void compare_syms(struct elp_obj *patched, bool text)
{
	size_t i;

	for (i = 1; i < patched->nr_syms; i++) {
		struct elp_sym *s = patched->syms[i], *o = s->twin;

		if (!s->sec || s->type == STT_SECTION || s->type == STT_FILE ||
		    elp_sec_is_text(s->sec) != text)
			continue;
		if (!o) {
			s->status = ELP_NEW;
			continue;
		}
		if (s->sec->bundled == s && o->sec && o->sec->bundled == o &&
		    s->sec->twin == o->sec)
			s->status = s->sec->status;
		else if (!o->sec || s->s.st_size != o->s.st_size)
			s->status = ELP_CHANGED;
		else
			s->status = compare_range(o->sec, o->s.st_value, s->sec,
						  s->s.st_value, s->s.st_size,
						  false);
		o->status = s->status;
	}
}

/*
 * struct bug_entry (x86_64, GENERIC_BUG_RELATIVE_POINTERS): bug_addr_disp,
 * file_disp, line, flags.  WARN()/BUG() keep the line number in the table,
 * not in the code: compare a function's entries with the line left out.
 */
#define BUG_ENTRY_SIZE 12
#define BUG_LINE_OFF 8
#define BUG_FLAGS_OFF 10

struct bug_site {
	unsigned long offset; /* of the trapping insn in its section */
	const char *file;
	uint16_t flags;
};

static size_t bug_sites(struct elp_obj *obj, const struct elp_sec *text,
			struct bug_site *out, size_t max)
{
	struct elp_sec *bt = elp_find_sec(obj, "__bug_table");
	const unsigned char *d;
	size_t i, n = 0;

	if (!bt || !bt->rela || !bt->data || bt->size % BUG_ENTRY_SIZE)
		return 0;
	d = bt->data;
	for (i = 0; i < bt->rela->nr_relas; i++) {
		const struct elp_rela *r = &bt->rela->relas[i], *f = NULL;
		unsigned long e = r->offset;
		size_t j;

		if (e % BUG_ENTRY_SIZE || !r->sym->sec || r->sym->sec != text)
			continue;
		for (j = 0; j < bt->rela->nr_relas; j++)
			if (bt->rela->relas[j].offset == e + 4)
				f = &bt->rela->relas[j];
		if (n < max) {
			out[n].offset = r->sym->s.st_value + r->addend;
			out[n].file = f ? f->string : NULL;
			memcpy(&out[n].flags, d + e + BUG_FLAGS_OFF, 2);
		}
		n++;
	}
	return n;
}

#define MAX_BUG_SITES 64

/* Do two functions' __bug_table entries differ in more than the line? */
bool elp_bug_sites_differ(struct elp_obj *orig, const struct elp_sec *a,
			  struct elp_obj *patched, const struct elp_sec *b)
{
	struct bug_site sa[MAX_BUG_SITES], sb[MAX_BUG_SITES];
	size_t na = bug_sites(orig, a, sa, MAX_BUG_SITES);
	size_t nb = bug_sites(patched, b, sb, MAX_BUG_SITES);
	size_t i;

	if (na != nb || na > MAX_BUG_SITES)
		return na != nb;
	for (i = 0; i < na; i++) {
		if (sa[i].offset != sb[i].offset || sa[i].flags != sb[i].flags)
			return true;
		if (!sa[i].file != !sb[i].file ||
		    (sa[i].file && strcmp(sa[i].file, sb[i].file) != 0))
			return true;
	}
	return false;
}

static void compare_bug_sites(struct elp_obj *orig, struct elp_obj *patched)
{
	size_t i;

	for (i = 1; i < patched->nr_secs; i++) {
		struct elp_sec *b = patched->secs[i];

		if (skip_compare(b) || !elp_sec_is_text(b) || !b->twin ||
		    b->status != ELP_SAME)
			continue;
		if (elp_bug_sites_differ(orig, b->twin, patched, b)) {
			b->status = ELP_CHANGED;
			b->twin->status = ELP_CHANGED;
		}
	}
}

/* A changed .cold part changes its parent function. */
static void propagate_cold(struct elp_obj *patched)
{
	size_t i;

	for (i = 1; i < patched->nr_syms; i++) {
		struct elp_sym *s = patched->syms[i], *parent;
		char *name, *p;

		if (s->type != STT_FUNC || s->status == ELP_SAME ||
		    !elp_is_cold(s->name))
			continue;
		name = strdup(s->name);
		if (!name)
			continue;
		p = strstr(name, ".cold");
		*p = '\0';
		parent = elp_find_sym(patched, name);
		free(name);
		if (parent && parent->status == ELP_SAME && parent->sec) {
			parent->status = ELP_CHANGED;
			parent->sec->status = ELP_CHANGED;
		}
	}
}

int elp_compare(struct elp_obj *orig, struct elp_obj *patched)
{
	/* data first: functions referencing changed local rodata change */
	compare_secs(patched, false);
	compare_syms(patched, false);
	compare_secs(patched, true);
	compare_bug_sites(orig, patched);
	compare_syms(patched, true);
	propagate_cold(patched);
	return 0;
}
