// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Comparison: give every correlated section and symbol of the patched object
 * a status (SAME, CHANGED or NEW).  Relocations are compared by what they
 * point at (symbol twin or string contents) and addend, never by index.
 * Functions whose only differences are __LINE__ immediates passed to the
 * might_sleep()-style helpers are not changed (the code is decoded: only a
 * "mov $imm" into the register that carries the line to such a call may
 * differ), nor are functions whose __bug_table entries (WARN/BUG sites)
 * differ only in their line field.  Changed code that ends up in no
 * included function, and unmatched static locals of changed functions,
 * are refused by the checks at the end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Argument registers of the x86-64 calling convention, as a bit mask. */
#define ARG2 (1u << 6) /* esi */
#define ARG3 (1u << 2) /* edx */
#define ARG4 (1u << 1) /* ecx */
#define ARG5 (1u << 8) /* r8d */
#define ARG6 (1u << 9) /* r9d */
#define VARARGS (ARG2 | ARG3 | ARG4 | ARG5 | ARG6)

/* Functions taking __LINE__ as an argument, and which registers carry it. */
static const struct {
	const char *name;
	unsigned int regs;
} line_funcs[] = {
	{ "__might_sleep", ARG2 },
	{ "__might_resched", ARG2 },
	{ "__might_fault", ARG2 },
	{ "__cant_sleep", ARG2 },
	{ "__cant_migrate", ARG2 },
	{ "lockdep_rcu_suspicious", ARG2 },
	{ "__btrfs_handle_fs_error", ARG3 },
	{ "__btrfs_abort_transaction", ARG3 },
	/* printf-style: __LINE__ may be any of the variadic arguments */
	{ "_printk", VARARGS },
	{ "printk", VARARGS },
	{ "__warn_printk", VARARGS },
	{ NULL, 0 },
};

static unsigned int line_func_regs(const char *name)
{
	size_t i;

	for (i = 0; line_funcs[i].name; i++)
		if (!strcmp(name, line_funcs[i].name))
			return line_funcs[i].regs;
	return 0;
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
	if (a->konst || b->konst)
		return a->konst && b->konst && a->konst_len == b->konst_len &&
		       !memcmp(a->konst, b->konst, a->konst_len);
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

/* Argument register (ARG*) loaded by "mov $imm32, %reg", or 0. */
static unsigned int line_arg_load(const struct elp_insn *in)
{
	unsigned int reg;

	if (in->prefixed || in->opcode < 0xb8 || in->opcode > 0xbf ||
	    in->imm_len != 4 || (in->rex && in->rex != 0x41))
		return 0;
	reg = (in->opcode - 0xb8) + (in->rex ? 8 : 0);
	return (1u << reg) & VARARGS;
}

static bool is_branch(const struct elp_insn *in)
{
	unsigned int op = in->opcode;

	return (op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) ||
	       op == 0xe8 || op == 0xe9 || op == 0xeb || op == 0xc2 ||
	       op == 0xc3 || op == 0xca || op == 0xcb || op == 0xcf ||
	       op == 0xcc || op == 0xcd || op == 0xff ||
	       (op >= 0x0f80 && op <= 0x0f8f) || op == 0x0f0b;
}

/* Relocations that say nothing about where a line number goes. */
static bool is_passive_rela(const struct elp_rela *r)
{
	static const char *const prefixes[] = { "__func__.", "__already_done.",
						"__warned.", NULL };
	size_t i;

	if (r->string || r->sym->type == STT_SECTION)
		return true;
	for (i = 0; prefixes[i]; i++)
		if (!strncmp(r->sym->name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/*
 * Does the register loaded by the instruction ending at from reach a line
 * function as its line argument?  The first relocation after it (strings
 * and __func__ aside) must be the target of a call or tail jump to such a
 * function taking the line in that register, and the instructions in
 * between must not branch.
 */
static bool feeds_line_func(const struct elp_sec *sec, size_t from,
			    unsigned int reg)
{
	const unsigned char *d = sec->data;
	const struct elp_rela *call = NULL;
	struct elp_insn in;
	size_t i, o;

	if (!sec->rela)
		return false;
	for (i = 0; i < sec->rela->nr_relas; i++) {
		const struct elp_rela *r = &sec->rela->relas[i];

		if (r->offset < from || is_passive_rela(r))
			continue;
		if (!call || r->offset < call->offset)
			call = r;
	}
	if (!call || call->offset < from + 1 ||
	    !(line_func_regs(call->sym->name) & reg))
		return false;
	for (o = from; o < sec->size; o += in.len) {
		if (!elp_insn_decode(d + o, sec->size - o, &in))
			return false;
		if (o + in.opcode_off + 1 == call->offset)
			return in.opcode == 0xe8 || in.opcode == 0xe9;
		if (is_branch(&in) || o + in.len > call->offset)
			return false;
	}
	return false;
}

/*
 * Are a and b the same code but for __LINE__ immediates passed to the
 * functions of line_funcs[]?  Both are decoded instruction by instruction;
 * any other difference, or code the decoder does not understand, is a
 * real change.
 */
bool elp_line_only_change(const struct elp_sec *a, const struct elp_sec *b)
{
	const unsigned char *da = a->data, *db = b->data;
	struct elp_insn ia, ib;
	bool found = false;
	size_t o;

	if (!da || !db || a->size != b->size || !elp_sec_is_text(b))
		return false;
	for (o = 0; o < b->size; o += ib.len) {
		unsigned int reg;

		if (!elp_insn_decode(da + o, a->size - o, &ia) ||
		    !elp_insn_decode(db + o, b->size - o, &ib) ||
		    ia.len != ib.len)
			return false;
		if (!memcmp(da + o, db + o, ib.len))
			continue;
		reg = line_arg_load(&ib);
		/* same instruction and register, another immediate */
		if (!reg || memcmp(da + o, db + o, ib.len - ib.imm_len) != 0 ||
		    !feeds_line_func(b, o + ib.len, reg))
			return false;
		found = true;
	}
	return found;
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
 * then with DEBUG_BUGVERBOSE file_disp and line, then flags; its size and
 * the offset of flags come from the kernel's headers.  WARN()/BUG() keep
 * the line number in the table, not in the code: compare a function's
 * entries with the line left out.
 */
struct bug_site {
	unsigned long offset; /* of the trapping insn in its section */
	const char *file;
	uint16_t flags;
};

static size_t bug_sites(struct elp_obj *obj, const struct elp_sec *text,
			const struct elp_special_layout *layout,
			struct bug_site *out, size_t max)
{
	struct elp_sec *bt = elp_find_sec(obj, "__bug_table");
	size_t size = layout ? layout->bug_entry : 0;
	size_t flags = layout ? layout->bug_entry_flags : 0;
	const unsigned char *d;
	size_t i, n = 0;

	if (!bt || !bt->rela || !bt->data || !size || flags + 2 > size ||
	    bt->size % size)
		return 0;
	d = bt->data;
	for (i = 0; i < bt->rela->nr_relas; i++) {
		const struct elp_rela *r = &bt->rela->relas[i], *f = NULL;
		unsigned long e = r->offset;
		size_t j;

		if (e % size || !r->sym->sec || r->sym->sec != text)
			continue;
		for (j = 0; j < bt->rela->nr_relas; j++)
			if (bt->rela->relas[j].offset == e + 4)
				f = &bt->rela->relas[j];
		if (n < max) {
			out[n].offset = r->sym->s.st_value + r->addend;
			out[n].file = f ? f->string : NULL;
			memcpy(&out[n].flags, d + e + flags, 2);
		}
		n++;
	}
	return n;
}

#define MAX_BUG_SITES 64

/* Do two functions' __bug_table entries differ in more than the line? */
bool elp_bug_sites_differ(struct elp_obj *orig, const struct elp_sec *a,
			  struct elp_obj *patched, const struct elp_sec *b,
			  const struct elp_special_layout *layout)
{
	struct bug_site sa[MAX_BUG_SITES], sb[MAX_BUG_SITES];
	size_t na = bug_sites(orig, a, layout, sa, MAX_BUG_SITES);
	size_t nb = bug_sites(patched, b, layout, sb, MAX_BUG_SITES);
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

static void compare_bug_sites(struct elp_obj *orig, struct elp_obj *patched,
			      const struct elp_special_layout *layout)
{
	size_t i;

	for (i = 1; i < patched->nr_secs; i++) {
		struct elp_sec *b = patched->secs[i];

		if (skip_compare(b) || !elp_sec_is_text(b) || !b->twin ||
		    b->status != ELP_SAME)
			continue;
		if (elp_bug_sites_differ(orig, b->twin, patched, b, layout)) {
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

/*
 * An alternative (.altinstructions entry): the function and offset it
 * patches, and the replacement apply_alternatives() copies there.  Its
 * first two fields are the relocated site and replacement, its last byte
 * the replacement's length (struct alt_instr, every x86_64 kernel).
 */
struct alt_entry {
	struct elp_sym *fn;
	long site;
	const struct elp_sec *repl_sec;
	long repl;
	size_t len;
	const unsigned char *rest; /* the fields after the two offsets */
};

static const struct elp_rela *rela_at(const struct elp_sec *rs,
				      unsigned long off)
{
	size_t i;

	for (i = 0; i < rs->nr_relas; i++)
		if (rs->relas[i].offset == off)
			return &rs->relas[i];
	return NULL;
}

static struct elp_sym *func_at(struct elp_sym *sym, long *off)
{
	const struct elp_sec *sec = sym->sec;
	size_t i;

	if (sym->type == STT_FUNC)
		return sym;
	for (i = 0; sec && i < sec->nr_syms; i++) {
		struct elp_sym *f = sec->syms[i];
		long start = (long)f->s.st_value;

		if (f->type == STT_FUNC && *off >= start &&
		    *off < start + (long)f->s.st_size) {
			*off -= start;
			return f;
		}
	}
	return NULL;
}

/* The object's alternatives, or SIZE_MAX when they cannot be read. */
static size_t alt_entries(struct elp_obj *obj, size_t size,
			  struct alt_entry **out)
{
	struct elp_sec *alt = elp_find_sec(obj, ".altinstructions");
	const unsigned char *d;
	size_t n, i;

	*out = NULL;
	if (!alt || !alt->rela)
		return 0;
	if (!size || size < 10 || !alt->data || alt->size % size)
		return SIZE_MAX;
	n = alt->size / size;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return SIZE_MAX;
	d = alt->data;
	for (i = 0; i < n; i++) {
		struct alt_entry *e = &(*out)[i];
		const struct elp_rela *site = rela_at(alt->rela, i * size);
		const struct elp_rela *repl = rela_at(alt->rela, i * size + 4);

		if (!site || !repl || !site->sym->sec || !repl->sym->sec)
			goto bad;
		e->site = (long)site->sym->s.st_value + site->addend;
		if (site->sym->type == STT_FUNC)
			e->site = site->addend;
		e->fn = func_at(site->sym, &e->site);
		e->repl_sec = repl->sym->sec;
		e->repl = (long)repl->sym->s.st_value + repl->addend;
		e->len = d[i * size + size - 1];
		e->rest = d + i * size + 8;
		if (!e->fn || e->repl < 0 ||
		    (size_t)e->repl + e->len > e->repl_sec->size)
			goto bad;
	}
	return n;
bad:
	free(*out);
	*out = NULL;
	return SIZE_MAX;
}

static bool alt_same(const struct alt_entry *a, const struct alt_entry *b,
		     size_t size)
{
	const unsigned char *da = a->repl_sec->data, *db = b->repl_sec->data;

	if (a->len != b->len || memcmp(a->rest, b->rest, size - 8) != 0)
		return false;
	if (a->len &&
	    (!da || !db || memcmp(da + a->repl, db + b->repl, a->len) != 0))
		return false;
	return relas_equal(a->repl_sec, a->repl, b->repl_sec, b->repl, a->len);
}

static void mark_changed(struct elp_sym *fn)
{
	fn->status = ELP_CHANGED;
	if (fn->twin)
		fn->twin->status = ELP_CHANGED;
	if (fn->sec && fn->sec->bundled == fn) {
		fn->sec->status = ELP_CHANGED;
		if (fn->sec->twin)
			fn->sec->twin->status = ELP_CHANGED;
	}
}

/*
 * A function whose code is the same but whose alternatives changed (the
 * replacement, its feature or lengths) runs other code once the kernel
 * applies them: it changed.  Each alternative is matched with the one of
 * the original function at the same offset, in order.
 */
static int compare_alternatives(struct elp_obj *orig, struct elp_obj *patched,
				const struct elp_special_layout *layout)
{
	size_t size = layout ? layout->alt_instr : 0;
	struct alt_entry *ea = NULL, *eb = NULL;
	size_t na = alt_entries(orig, size, &ea);
	size_t nb = alt_entries(patched, size, &eb);
	size_t i, j;

	/* unreadable: the special pass refuses the table if it is used */
	if (na == SIZE_MAX || nb == SIZE_MAX)
		goto out;
	for (i = 0; i < nb; i++) {
		struct elp_sym *fn = eb[i].fn;
		size_t rank = 0, k = 0;
		const struct alt_entry *match = NULL;

		if (fn->status != ELP_SAME || !fn->twin)
			continue;
		for (j = 0; j < i; j++)
			if (eb[j].fn == fn && eb[j].site == eb[i].site)
				rank++;
		for (j = 0; j < na && !match; j++)
			if (ea[j].fn == fn->twin && ea[j].site == eb[i].site &&
			    k++ == rank)
				match = &ea[j];
		if (!match || !alt_same(match, &eb[i], size))
			mark_changed(fn);
	}
out:
	free(ea);
	free(eb);
	return 0;
}

int elp_compare(struct elp_obj *orig, struct elp_obj *patched,
		const struct elp_special_layout *layout)
{
	/* data first: functions referencing changed local rodata change */
	compare_secs(patched, false);
	compare_syms(patched, false);
	compare_secs(patched, true);
	/* without the layout the special pass refuses the table anyway */
	compare_bug_sites(orig, patched, layout);
	compare_syms(patched, true);
	compare_alternatives(orig, patched, layout);
	propagate_cold(patched);
	return 0;
}

/*
 * kpatch's global check: code that changed must be in the module.  A
 * changed text section nothing selected (code without a function symbol,
 * a change the passes do not attribute to a function) would otherwise be
 * silently left out.  The alternative code sections are trimmed to the
 * pieces the included code uses, so they are not judged as a whole.
 */
int elp_check_unselected(struct elp_diff_state *st)
{
	const char *unit =
		st->req->source_file ? st->req->source_file : st->patched->path;
	size_t i;
	int ret = 0;

	for (i = 1; i < st->patched->nr_secs; i++) {
		const struct elp_sec *sec = st->patched->secs[i];

		if (skip_compare(sec) || !elp_sec_is_text(sec) ||
		    sec->status != ELP_CHANGED || sec->include ||
		    elp_is_alt_code_section(sec->name))
			continue;
		elp_err(st->ctx,
			"%s: %s: code changed but no changed function covers it, so the module would leave the change out; keep changed code inside C functions",
			unit, sec->name);
		ret = -ENOTSUP;
	}
	return ret;
}

static bool is_state(const struct elp_sym *sym)
{
	const struct elp_sec *sec = sym->sec;

	return (sec->sh.sh_flags & SHF_WRITE) || sec->sh.sh_type == SHT_NOBITS;
}

/* The static locals fn uses, each once. */
static size_t statics_used(const struct elp_sym *fn, const struct elp_sym **out,
			   size_t max)
{
	const struct elp_sec *rs = fn->sec->rela;
	unsigned long end = fn->sec->bundled == fn
				    ? fn->sec->size
				    : fn->s.st_value + fn->s.st_size;
	size_t i, k, n = 0;

	for (i = 0; i < rs->nr_relas && n < max; i++) {
		const struct elp_sym *x = rs->relas[i].sym;

		if (rs->relas[i].offset < fn->s.st_value ||
		    rs->relas[i].offset >= end || !elp_is_static_local(x))
			continue;
		for (k = 0; k < n && out[k] != x; k++)
			;
		if (k == n)
			out[n++] = x;
	}
	return n;
}

/*
 * A static local of a changed function that did not correlate would be
 * a new variable in the module, starting from its initial value while
 * the running kernel's copy holds the state.  New ones (the original
 * function had none of that name) and the once-flags and the like that
 * may start afresh are fine.
 */
int elp_check_static_locals(struct elp_diff_state *st)
{
	struct elp_obj *patched = st->patched;
	const char *unit =
		st->req->source_file ? st->req->source_file : patched->path;
	const struct elp_sym *refs[64];
	struct elp_sym *theirs[1];
	size_t i, j, n;
	int ret = 0;

	for (i = 1; i < patched->nr_syms; i++) {
		const struct elp_sym *fn = patched->syms[i];

		if (fn->type != STT_FUNC || fn->status != ELP_CHANGED ||
		    !fn->twin || !fn->sec || !fn->sec->rela)
			continue;
		n = statics_used(fn, refs, 64);
		for (j = 0; j < n; j++) {
			const struct elp_sym *x = refs[j];

			if (x->twin || elp_static_may_stay_new(x) ||
			    !is_state(x) ||
			    !elp_static_refs(fn->twin, x->norm, theirs, 1,
					     true))
				continue;
			elp_err(st->ctx,
				"%s: %s: static variable %s of the changed function cannot be matched with the running kernel's, so the patch would start it from its initial value; keep the function's static variables as they are, or move the state to a shadow variable",
				unit, fn->name, x->name);
			ret = -ENOTSUP;
		}
	}
	return ret;
}
